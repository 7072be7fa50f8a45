/* The primary flow: initdb with the password through a pipe, replication
 * settings and pg_hba lines before the first start, the replication role and
 * the database in single-user mode, and /docker-entrypoint-initdb.d (the
 * only step that needs a temporary server, and only when it has scripts). */
#ifndef PGEP_PRIMARY_H
#define PGEP_PRIMARY_H

#include "config.h"
#include "datadir.h"
#include "flow.h"
#include "privs.h"

/* Checks what must hold before anything is touched. Returns 0, or the exit
 * code to stop with (the error is logged). */
int primary_check(const struct config *cfg, const struct datadir_facts *facts,
                  enum datadir_state state);

/* The steps of a primary's start: the standby or cluster as is, the
 * adoption of another entrypoint's cluster, or the initialisation of an
 * empty data directory (initdb, settings, role, database, init scripts). */
void primary_steps(struct flow *f, const struct flow_ctx *ctx);

#endif
