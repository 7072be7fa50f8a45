/* The rejoin of a node that diverged from a newer primary: pg_rewind from
 * it (the replication user's non-replication connection to the database
 * postgres, password through an unlinked file), made durable with syncfs
 * instead of pg_rewind's per-file fsync, then the node's own standby
 * settings. The marker DATADIR_REWIND_MARKER is written before pg_rewind
 * runs; pg_rewind itself removes it last (datadir.h). */
#ifndef PGEP_REWIND_H
#define PGEP_REWIND_H

#include "config.h"
#include "control.h"

#include <stdbool.h>

/* What rewind_run did. */
enum rewind_result {
    REWIND_DONE = 0,       /* rewound (or nothing to rewind); the settings are written */
    REWIND_IMPOSSIBLE = 1, /* pg_rewind refused or failed: re-seed, or refuse under never */
    REWIND_FAILED = -1,    /* stopped by a signal, or an error after pg_rewind (logged) */
};

/* Rewinds PGDATA from cfg->primary_host:port. before is pg_control as the
 * start found it (the discarded range in the log ends at its checkpoint).
 * Under POSTGRES_RESEED=never a dry run comes first, so that a refusal
 * leaves PGDATA as it was. needed false (failover.c found a clean
 * switchover): no pg_rewind, only the settings. slot: the standby's primary_slot_name (may be
 * NULL). */
enum rewind_result rewind_run(const struct config *cfg, const struct pg_control *before,
                              bool needed, const char *slot, char *const env[]);

/* What a rewound node needs before postgres starts, also on a start after
 * a kill that came between pg_rewind's end and these: the promotion record
 * copied from the source removed, standby.signal, primary_conninfo, slot and
 * password file (pg_rewind copied the source's over them), the marker
 * removed, all durable. */
int rewind_finish(const struct config *cfg, const char *slot);

#endif
