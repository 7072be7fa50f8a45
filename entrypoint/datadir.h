/* What is in a data directory, and what a replica should do about it
 * (docs/design.md, "The data-directory state table"). datadir_inspect reads
 * the disk; datadir_classify and datadir_replica_action are pure functions of
 * what it found. */
#ifndef PGEP_DATADIR_H
#define PGEP_DATADIR_H

#include "config.h"
#include "control.h"
#include "privs.h"

#include <stdbool.h>
#include <stdint.h>

/* Written before a clone wipes anything, removed once the clone is complete. */
#define DATADIR_CLONE_MARKER ".pg-entrypoint-clone-in-progress"
/* pg_basebackup's target: it must be empty, and PGDATA (a mount point with
 * lost+found and our marker) may not be. */
#define DATADIR_CLONE_STAGING ".pg-entrypoint-clone"

/* Written before pg_rewind runs (rewind.c), as a file and as an extended
 * attribute of the PGDATA directory itself. pg_rewind removes the file
 * (every file only the target has goes) before it writes the data it
 * fetched and pg_control (docs/design.md, "Facts checked here"); the
 * attribute it never touches. A start that finds either knows the rewind
 * was interrupted, and re-seeds. */
#define DATADIR_REWIND_MARKER ".pg-entrypoint-rewind-in-progress"
#define DATADIR_REWIND_XATTR "user.pg-entrypoint.rewind-in-progress"

/* pg_control's DBState after pg_rewind: DB_IN_ARCHIVE_RECOVERY. */
#define DATADIR_DB_IN_ARCHIVE_RECOVERY 5

/* Written right after initdb, removed once initialisation (settings, roles,
 * init scripts) is complete: a cluster that still has it was left half made.
 * Not a dotfile: init scripts empty PGDATA with `rm -rf "$PGDATA"/ *` and
 * refill it with pg_basebackup, which refuses a directory holding a dotfile;
 * the marker goes with the rest, and the start continues with what the
 * script put there. (Earlier versions used the dotted name; it still counts.) */
#define DATADIR_INIT_MARKER "pg-entrypoint-init-incomplete"
#define DATADIR_INIT_MARKER_OLD ".pg-entrypoint-init-incomplete"

struct datadir_facts {
    bool exists;
    bool is_dir;
    bool has_marker;
    bool has_rewind_marker;
    bool has_init_marker;
    bool has_pg_version;
    int pg_version_major; /* PG_VERSION's major (10 and later), 0 when none or unreadable */
    bool has_standby_signal;
    bool has_recovery_signal;
    bool has_other_entries; /* anything but dotfiles and lost+found */
    enum pg_control_status control;
    struct pg_control pg_control;
    /* Not read from disk: set by failover_resolve when a writable primary
     * of this system is on a newer timeline (this node must rewind). */
    bool diverged;
    /* Also set by failover_resolve: this node was shut down cleanly before
     * the primary's timeline branched off from its own, so it can follow
     * without pg_rewind (a clean switchover). */
    bool rewind_not_needed;
};

enum datadir_state {
    DATADIR_EMPTY,
    DATADIR_CLONE_INTERRUPTED,
    DATADIR_STANDBY,
    DATADIR_REWIND_INTERRUPTED, /* the rewind marker: pg_rewind did not finish */
    DATADIR_REWOUND,            /* pg_rewind finished, the standby settings were not written yet */
    DATADIR_CLUSTER,            /* a cluster without standby.signal: a primary's data */
    DATADIR_INIT_INCOMPLETE,    /* initialisation stopped half way (an init script failed) */
    DATADIR_CONTROL_BROKEN,     /* PG_VERSION present, pg_control missing or corrupt */
    DATADIR_NOT_A_CLUSTER,
    DATADIR_NOT_A_DIRECTORY,
};

enum replica_action {
    REPLICA_START,   /* start as is */
    REPLICA_CLONE,   /* nothing to wipe */
    REPLICA_RECLONE, /* wipe, then clone */
    REPLICA_REFUSE,
    REPLICA_REWIND, /* pg_rewind from the primary, then start as a standby */
};

int datadir_inspect(const char *pgdata, struct datadir_facts *facts);
enum datadir_state datadir_classify(const struct datadir_facts *facts);
const char *datadir_state_name(enum datadir_state state);

/* primary_sysid is 0 when the primary could not be asked. */
enum replica_action datadir_replica_action(enum datadir_state state, uint64_t local_sysid,
                                           uint64_t primary_sysid, enum reseed reseed);

/* datadir_replica_action, except that a cluster or standby failover_resolve
 * found diverged (facts->diverged) is rewound rather than refused or
 * started; POSTGRES_RESEED=force still wipes and clones. */
enum replica_action datadir_rejoin_action(const struct datadir_facts *facts,
                                          enum datadir_state state, uint64_t primary_sysid,
                                          enum reseed reseed);

/* The rewind marker, file and attribute, durable; unmark removes both
 * (none is no error). Logged on failure; mark fails with errno ENOTSUP
 * when the file system keeps no user attributes. */
int datadir_rewind_mark(const char *pgdata);
int datadir_rewind_unmark(const char *pgdata);

/* Creates PGDATA (and the WAL directory and socket directory) and makes them
 * the server user's, PGDATA with mode 0700. Started as root, a tree owned by
 * someone else is taken over; otherwise only PGDATA's mode is fixed. */
int datadir_prepare(const struct config *cfg, const struct runas *who);

/* Takes an exclusive flock on the PGDATA directory and returns its
 * descriptor, close-on-exec so that helpers do not inherit it; the final
 * exec keeps it open (proc_exec's keep_fd) so that postgres holds the lock
 * for as long as it runs: a second container started on the same volume by
 * mistake is refused instead of wiping or starting a second postmaster.
 * (A lock file inside PGDATA would make initdb refuse the directory.) */
int datadir_lock(const char *pgdata);

#endif
