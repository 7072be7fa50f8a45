/* /docker-entrypoint-initdb.d, as the official image runs it: once, at
 * initialisation, in sorted order, against a temporary server that listens
 * on the unix socket only. *.sh is executed when executable, else sourced
 * (what it exports reaches the later scripts); *.sql, *.sql.gz, *.sql.xz and
 * *.sql.zst go through psql -v ON_ERROR_STOP=1; anything else is ignored,
 * and said so. */
#ifndef PGEP_INITDB_D_H
#define PGEP_INITDB_D_H

#include "config.h"

#include <stdbool.h>

#define INITDB_D_DIR "/docker-entrypoint-initdb.d"

/* 1 when dir holds anything to look at (so a temporary server is worth
 * starting), 0 when it holds nothing or does not exist, -1 with errno set
 * when it cannot be read; that failure is the caller's to log. */
int initdb_d_pending(const char *dir);

/* server_args: the postgres command line the container was given (its -c
 * options apply to the temporary server too); server_env: the server's
 * environment, without secrets. scripts_env: the environment of the scripts, with
 * POSTGRES_PASSWORD and PGPASSWORD in it as the official image has them. */
int initdb_d_run(const struct config *cfg, const char *dir, const char *const *server_args,
                 char *const server_env[], char *const scripts_env[]);

#endif
