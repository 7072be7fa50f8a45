/* `pg-entrypoint plan`: the role, the data directory's state and the steps
 * a real start would take, including whether it would wipe. Reads the
 * environment and the disk; changes nothing and connects nowhere, except
 * with --ask-primary, where a standby asks the primary (read only) whether
 * it still has the WAL the standby needs. */
#ifndef PGEP_PLAN_H
#define PGEP_PLAN_H

#include <stdbool.h>

int plan_main(char **envp, bool ask_primary);

#endif
