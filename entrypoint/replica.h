/* The replica flow: decide from the data directory whether to start as is
 * or to clone; to clone, wait for the primary, prove the credentials,
 * create the slot, mark, wipe, pg_basebackup, write the recovery settings. */
#ifndef PGEP_REPLICA_H
#define PGEP_REPLICA_H

#include "config.h"
#include "datadir.h"

int replica_check(const struct config *cfg, enum datadir_state state);
int replica_run(const struct config *cfg, const struct datadir_facts *facts, char *const env[]);

#endif
