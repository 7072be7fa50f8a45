/* datadir_classify and datadir_replica_action, the state table of the
 * README ("What a replica does with the data directory it finds"), on facts
 * decoded from the input: byte 0 holds the eight booleans, byte 1 the
 * pg_control status and POSTGRES_RESEED, then the local and the primary's
 * system identifiers (8 bytes each; missing bytes are 0, and a flag in byte
 * 1 makes them equal).
 *
 * Invariants: the table itself, written out independently here; every
 * state has a name; and the safety rules behind it: nothing that is not a
 * standby or an interrupted clone is ever wiped without
 * POSTGRES_RESEED=force, a file is never wiped, only a standby starts as
 * is, and a refusal decided before the primary is asked (replica_check) is
 * never overturned by the primary's answer. */
#include "datadir.h"
#include "fuzz.h"

#include <string.h>

static enum datadir_state expected_state(const struct datadir_facts *f)
{
    if (!f->exists)
        return DATADIR_EMPTY;
    if (!f->is_dir)
        return DATADIR_NOT_A_DIRECTORY;
    if (f->has_marker)
        return DATADIR_CLONE_INTERRUPTED;
    if (!f->has_other_entries)
        return DATADIR_EMPTY;
    if (!f->has_pg_version)
        return DATADIR_NOT_A_CLUSTER;
    if (f->has_init_marker)
        return DATADIR_INIT_INCOMPLETE;
    if (f->control != PG_CONTROL_OK)
        return DATADIR_CONTROL_BROKEN;
    return f->has_standby_signal ? DATADIR_STANDBY : DATADIR_CLUSTER;
}

static enum replica_action expected_action(enum datadir_state s, uint64_t local, uint64_t primary,
                                           enum reseed r)
{
    if (s == DATADIR_NOT_A_DIRECTORY)
        return REPLICA_REFUSE;
    if (r == RESEED_FORCE)
        return s == DATADIR_EMPTY ? REPLICA_CLONE : REPLICA_RECLONE;
    if (s == DATADIR_EMPTY)
        return REPLICA_CLONE;
    if (s == DATADIR_CLONE_INTERRUPTED)
        return REPLICA_RECLONE;
    if (s == DATADIR_STANDBY) {
        if (primary == 0 || primary == local)
            return REPLICA_START;
        return r == RESEED_NEVER ? REPLICA_REFUSE : REPLICA_RECLONE;
    }
    return REPLICA_REFUSE;
}

static uint64_t take_u64(const uint8_t *data, size_t size, size_t off)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8 && off + i < size; i++)
        v |= (uint64_t)data[off + i] << (8 * i);
    return v;
}

static void check_action(enum datadir_state state, uint64_t local, uint64_t primary,
                         enum reseed reseed)
{
    enum replica_action a = datadir_replica_action(state, local, primary, reseed);
    enum replica_action pre = datadir_replica_action(state, 0, 0, reseed);

    FUZZ_CHECK(a == expected_action(state, local, primary, reseed),
               "state %d, local %llu, primary %llu, reseed %d: action %d", (int)state,
               (unsigned long long)local, (unsigned long long)primary, (int)reseed, (int)a);
    FUZZ_CHECK(a >= REPLICA_START && a <= REPLICA_REFUSE, "action %d", (int)a);
    if (a == REPLICA_RECLONE && reseed != RESEED_FORCE)
        FUZZ_CHECK(state == DATADIR_STANDBY || state == DATADIR_CLONE_INTERRUPTED,
                   "state %d wiped without POSTGRES_RESEED=force", (int)state);
    if (a == REPLICA_START)
        FUZZ_CHECK(state == DATADIR_STANDBY, "state %d started as a standby", (int)state);
    if (state == DATADIR_NOT_A_DIRECTORY)
        FUZZ_CHECK(a == REPLICA_REFUSE, "a file is never wiped");
    if (pre == REPLICA_REFUSE)
        FUZZ_CHECK(a == REPLICA_REFUSE, "state %d: the primary's answer overturned a refusal",
                   (int)state);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct datadir_facts f;

    if (size < 2)
        return 0;
    memset(&f, 0, sizeof(f));
    f.exists = data[0] & 1;
    f.is_dir = data[0] & 2;
    f.has_marker = data[0] & 4;
    f.has_init_marker = data[0] & 8;
    f.has_pg_version = data[0] & 16;
    f.has_standby_signal = data[0] & 32;
    f.has_recovery_signal = data[0] & 64;
    f.has_other_entries = data[0] & 128;
    f.control = (enum pg_control_status)(data[1] % 3);
    enum reseed reseed = (enum reseed)((data[1] >> 2) % 3);
    uint64_t local = take_u64(data, size, 2);
    uint64_t primary = (data[1] & 0x80) ? local : take_u64(data, size, 10);
    f.pg_control.system_identifier = local;

    enum datadir_state state = datadir_classify(&f);
    FUZZ_CHECK(state == expected_state(&f), "facts 0x%02x/%d: state %d", data[0], (int)f.control,
               (int)state);
    const char *name = datadir_state_name(state);
    FUZZ_CHECK(name && *name && strcmp(name, "unknown") != 0, "state %d has no name", (int)state);
    check_action(state, local, primary, reseed);
    /* Every state, not only those reachable from consistent facts. */
    check_action((enum datadir_state)(data[1] % (DATADIR_NOT_A_DIRECTORY + 1)), local, primary,
                 reseed);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return 0;
}
