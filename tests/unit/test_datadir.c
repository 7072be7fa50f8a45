/* datadir.c: docs/design.md's "The data-directory state table", row by row, and
 * what a replica does in each state under each POSTGRES_RESEED. */
#include "check.h"
#include "datadir.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static struct datadir_facts dir(void)
{
    struct datadir_facts f;
    memset(&f, 0, sizeof(f));
    f.exists = f.is_dir = true;
    f.control = PG_CONTROL_MISSING;
    return f;
}

static struct datadir_facts cluster(bool standby)
{
    struct datadir_facts f = dir();
    f.has_other_entries = f.has_pg_version = true;
    f.control = PG_CONTROL_OK;
    f.pg_control.system_identifier = 42;
    f.has_standby_signal = standby;
    return f;
}

static void test_classify(void)
{
    struct datadir_facts f;

    memset(&f, 0, sizeof(f));
    CHECK(datadir_classify(&f) == DATADIR_EMPTY); /* missing: created empty */
    f = dir();
    CHECK(datadir_classify(&f) == DATADIR_EMPTY); /* only dotfiles / lost+found */
    f.has_marker = true;
    f.has_other_entries = true;
    CHECK(datadir_classify(&f) == DATADIR_CLONE_INTERRUPTED);
    f = cluster(true);
    CHECK(datadir_classify(&f) == DATADIR_STANDBY);
    f = cluster(false);
    CHECK(datadir_classify(&f) == DATADIR_CLUSTER);
    f.control = PG_CONTROL_CORRUPT;
    CHECK(datadir_classify(&f) == DATADIR_CONTROL_BROKEN);
    f = dir();
    f.has_other_entries = true;
    CHECK(datadir_classify(&f) == DATADIR_NOT_A_CLUSTER);
    f.is_dir = false;
    CHECK(datadir_classify(&f) == DATADIR_NOT_A_DIRECTORY);
    f = cluster(true);
    f.has_marker = true; /* a clone killed after pg_basebackup, before the marker went */
    CHECK(datadir_classify(&f) == DATADIR_CLONE_INTERRUPTED);
}

/* The rejoin's states (issue 13): the rewind marker wins over anything
 * pg_rewind left half done; a finished rewind (pg_control in archive
 * recovery, no signal file) is not a primary's data; a cluster failover
 * found diverged is rewound, unless POSTGRES_RESEED=force. */
static void test_rejoin_states(void)
{
    struct datadir_facts f;

    f = cluster(false);
    f.has_rewind_marker = true;
    CHECK(datadir_classify(&f) == DATADIR_REWIND_INTERRUPTED);
    f.control = PG_CONTROL_CORRUPT; /* pg_rewind stopped while writing anything */
    CHECK(datadir_classify(&f) == DATADIR_REWIND_INTERRUPTED);
    CHECK(datadir_replica_action(DATADIR_REWIND_INTERRUPTED, 0, 0, RESEED_AUTO) == REPLICA_RECLONE);
    CHECK(datadir_replica_action(DATADIR_REWIND_INTERRUPTED, 0, 0, RESEED_NEVER) == REPLICA_REFUSE);
    f = cluster(false);
    f.pg_control.state = DATADIR_DB_IN_ARCHIVE_RECOVERY;
    CHECK(datadir_classify(&f) == DATADIR_REWOUND);
    CHECK(datadir_replica_action(DATADIR_REWOUND, 42, 42, RESEED_NEVER) == REPLICA_START);
    f.has_recovery_signal = true; /* an archive recovery the user set up */
    CHECK(datadir_classify(&f) == DATADIR_CLUSTER);
    f = cluster(true);
    f.pg_control.state = DATADIR_DB_IN_ARCHIVE_RECOVERY; /* a standby that was killed */
    CHECK(datadir_classify(&f) == DATADIR_STANDBY);

    f = cluster(false);
    CHECK(datadir_rejoin_action(&f, DATADIR_CLUSTER, 0, RESEED_AUTO) == REPLICA_REFUSE);
    f.diverged = true;
    CHECK(datadir_rejoin_action(&f, DATADIR_CLUSTER, 0, RESEED_AUTO) == REPLICA_REWIND);
    CHECK(datadir_rejoin_action(&f, DATADIR_CLUSTER, 0, RESEED_NEVER) == REPLICA_REWIND);
    CHECK(datadir_rejoin_action(&f, DATADIR_CLUSTER, 0, RESEED_FORCE) == REPLICA_RECLONE);
    f = cluster(true);
    f.diverged = true;
    CHECK(datadir_rejoin_action(&f, DATADIR_STANDBY, 42, RESEED_AUTO) == REPLICA_REWIND);
    f.diverged = false;
    CHECK(datadir_rejoin_action(&f, DATADIR_STANDBY, 42, RESEED_AUTO) == REPLICA_START);
}

/* An unfinished init: initdb done, the marker written right after it still
 * there (settings, roles or an init script did not finish). */
static void test_classify_init_incomplete(void)
{
    struct datadir_facts f;

    f = cluster(false);
    f.has_init_marker = true; /* stopped during the init scripts */
    CHECK(datadir_classify(&f) == DATADIR_INIT_INCOMPLETE);
    f.control = PG_CONTROL_MISSING; /* ... or before initdb's files were all there */
    CHECK(datadir_classify(&f) == DATADIR_INIT_INCOMPLETE);
    f.control = PG_CONTROL_CORRUPT;
    CHECK(datadir_classify(&f) == DATADIR_INIT_INCOMPLETE);
    f = cluster(true);
    f.has_init_marker = true; /* a script refilled PGDATA with a standby, and the marker stayed */
    CHECK(datadir_classify(&f) == DATADIR_INIT_INCOMPLETE);
    f.has_marker = true; /* the clone marker comes first */
    CHECK(datadir_classify(&f) == DATADIR_CLONE_INTERRUPTED);
}

/* Each name of the init marker (today's, and the dotted one of earlier
 * versions), read from disk: PG_VERSION without pg_control is a broken
 * cluster, and the same with the marker an unfinished init. */
static void test_inspect_init_marker(const char *name)
{
    char dir[] = "/tmp/pgep-datadir-XXXXXX", path[256];
    struct datadir_facts f;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/PG_VERSION", dir);
    FILE *pv = fopen(path, "w");
    CHECK(pv && fputs("15\n", pv) >= 0 && fclose(pv) == 0);
    CHECK(datadir_inspect(dir, &f) == 0 && datadir_classify(&f) == DATADIR_CONTROL_BROKEN);
    char marker[256];
    snprintf(marker, sizeof(marker), "%s/%s", dir, name);
    FILE *m = fopen(marker, "w");
    CHECK(m && fclose(m) == 0);
    CHECK(datadir_inspect(dir, &f) == 0 && f.has_init_marker);
    CHECK_STR(datadir_state_name(datadir_classify(&f)),
              datadir_state_name(DATADIR_INIT_INCOMPLETE));
    unlink(marker);
    unlink(path);
    CHECK(rmdir(dir) == 0);
}

static void test_replica_actions(void)
{
    CHECK(datadir_replica_action(DATADIR_EMPTY, 0, 0, RESEED_AUTO) == REPLICA_CLONE);
    CHECK(datadir_replica_action(DATADIR_EMPTY, 0, 0, RESEED_FORCE) == REPLICA_CLONE);
    CHECK(datadir_replica_action(DATADIR_CLONE_INTERRUPTED, 0, 0, RESEED_AUTO) == REPLICA_RECLONE);
    /* same system, or the primary could not be asked: start as is */
    CHECK(datadir_replica_action(DATADIR_STANDBY, 42, 42, RESEED_AUTO) == REPLICA_START);
    CHECK(datadir_replica_action(DATADIR_STANDBY, 42, 0, RESEED_AUTO) == REPLICA_START);
    CHECK(datadir_replica_action(DATADIR_STANDBY, 42, 42, RESEED_NEVER) == REPLICA_START);
    /* a copy of a cluster that no longer exists */
    CHECK(datadir_replica_action(DATADIR_STANDBY, 42, 7, RESEED_AUTO) == REPLICA_RECLONE);
    CHECK(datadir_replica_action(DATADIR_STANDBY, 42, 7, RESEED_NEVER) == REPLICA_REFUSE);
    CHECK(datadir_replica_action(DATADIR_STANDBY, 42, 42, RESEED_FORCE) == REPLICA_RECLONE);
    /* a primary's data is never wiped unless asked for */
    CHECK(datadir_replica_action(DATADIR_CLUSTER, 42, 42, RESEED_AUTO) == REPLICA_REFUSE);
    CHECK(datadir_replica_action(DATADIR_CLUSTER, 42, 42, RESEED_NEVER) == REPLICA_REFUSE);
    CHECK(datadir_replica_action(DATADIR_CLUSTER, 42, 42, RESEED_FORCE) == REPLICA_RECLONE);
    CHECK(datadir_replica_action(DATADIR_NOT_A_CLUSTER, 0, 0, RESEED_AUTO) == REPLICA_REFUSE);
    CHECK(datadir_replica_action(DATADIR_NOT_A_CLUSTER, 0, 0, RESEED_FORCE) == REPLICA_RECLONE);
    CHECK(datadir_replica_action(DATADIR_CONTROL_BROKEN, 0, 0, RESEED_AUTO) == REPLICA_REFUSE);
    /* a primary's half-made cluster: refused, as a cluster is, unless asked to */
    CHECK(datadir_replica_action(DATADIR_INIT_INCOMPLETE, 0, 0, RESEED_AUTO) == REPLICA_REFUSE);
    CHECK(datadir_replica_action(DATADIR_INIT_INCOMPLETE, 0, 0, RESEED_NEVER) == REPLICA_REFUSE);
    CHECK(datadir_replica_action(DATADIR_INIT_INCOMPLETE, 0, 0, RESEED_FORCE) == REPLICA_RECLONE);
    CHECK(datadir_replica_action(DATADIR_NOT_A_DIRECTORY, 0, 0, RESEED_FORCE) == REPLICA_REFUSE);
}

int main(void)
{
    test_classify();
    test_classify_init_incomplete();
    test_rejoin_states();
    test_inspect_init_marker(DATADIR_INIT_MARKER);
    test_inspect_init_marker(DATADIR_INIT_MARKER_OLD);
    test_replica_actions();
    return check_done("test_datadir");
}
