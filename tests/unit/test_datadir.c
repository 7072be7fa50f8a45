/* datadir.c: docs/design.md's "The data-directory state table", row by row, and
 * what a replica does in each state under each POSTGRES_RESEED. */
#include "check.h"
#include "datadir.h"

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
    CHECK(datadir_replica_action(DATADIR_NOT_A_DIRECTORY, 0, 0, RESEED_FORCE) == REPLICA_REFUSE);
}

int main(void)
{
    test_classify();
    test_replica_actions();
    return check_done("test_datadir");
}
