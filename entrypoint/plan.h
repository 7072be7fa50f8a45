/* `pg-entrypoint plan`: the role, the data directory's state and the steps
 * a real start would take, including whether it would wipe. Reads the
 * environment and the disk; changes nothing and connects nowhere. */
#ifndef PGEP_PLAN_H
#define PGEP_PLAN_H

int plan_main(char **envp);

#endif
