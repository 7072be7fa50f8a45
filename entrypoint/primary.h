/* The primary flow: initdb with the password through a pipe, replication
 * settings and pg_hba lines before the first start, the replication role and
 * the database in single-user mode, and /docker-entrypoint-initdb.d (the
 * only step that needs a temporary server, and only when it has scripts). */
#ifndef PGEP_PRIMARY_H
#define PGEP_PRIMARY_H

#include "config.h"
#include "datadir.h"
#include "privs.h"

/* Checks what must hold before anything is touched. Returns 0, or the exit
 * code to stop with (the error is logged). */
int primary_check(const struct config *cfg, enum datadir_state state);

/* Initialises an empty data directory; leaves an existing cluster alone.
 * server_args is the postgres command line (for init scripts' temporary
 * server); env the children's environment, without secrets. */
int primary_run(const struct config *cfg, const struct runas *who, enum datadir_state state,
                const char *const *server_args, char *const env[]);

#endif
