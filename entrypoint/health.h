/* `pg-entrypoint health`: exit 0 only when the local server does its job
 * (primary: accepting connections, not in recovery; replica: in recovery
 * with the WAL receiver streaming), else one line of reason and exit 1. */
#ifndef PGEP_HEALTH_H
#define PGEP_HEALTH_H

int health_main(int argc, char **argv, char **envp);

#endif
