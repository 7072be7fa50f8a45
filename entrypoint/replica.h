/* The replica flow: decide from the data directory whether to start as is
 * or to clone; to clone, wait for the primary, prove the credentials,
 * create the slot, mark, wipe, pg_basebackup, write the recovery settings. */
#ifndef PGEP_REPLICA_H
#define PGEP_REPLICA_H

#include "config.h"
#include "datadir.h"
#include "flow.h"

/* Checks what must hold before anything is touched. Returns 0, or the exit
 * code to stop with (the error is logged). */
int replica_check(const struct config *cfg, const struct datadir_facts *facts,
                  enum datadir_state state);
/* The steps of a replica's start: start a standby as is (after asking the
 * primary which cluster it runs), or clone, wiping first when the directory
 * holds something. */
void replica_steps(struct flow *f, const struct flow_ctx *ctx);

#endif
