/* datadir_classify and datadir_replica_action against an oracle written by
 * hand from the replica's data-directory state table (DESIGN.md, "Replica
 * data directory states and what to do") and POSTGRES_RESEED
 * (ENVIRONMENT.md), not from the code.
 *
 * The oracle is the table `rows` below: each row is one state of the
 * documents, the facts that make it (a pattern, '.' = either way), and the
 * action for every POSTGRES_RESEED value and every answer of the primary.
 * The rows partition the facts: every combination matches exactly one.
 *
 * Once per process (LLVMFuzzerInitialize, so the CTest replay does it too):
 * every combination of the facts, pg_control statuses, POSTGRES_RESEED
 * values and primary answers (same system, another one, none) is checked
 * against the table, 2^10 * 3 * 3 * 3 cases. Per input: facts decoded from
 * the input (byte 0 holds the eight booleans, byte 1 the pg_control status
 * and POSTGRES_RESEED, then the local and the primary's system identifiers,
 * 8 bytes each; missing bytes are 0, and a flag in byte 1 makes them equal)
 * against the same table, every state has a name, and the safety rules
 * behind the table: nothing that is not a standby or an interrupted clone
 * is ever wiped without POSTGRES_RESEED=force, a file is never wiped, only
 * a standby starts as is, and a refusal decided before the primary is asked
 * (replica_check) is never overturned by the primary's answer. */
#include "datadir.h"
#include "fuzz.h"

#include <string.h>

/* The facts in the order of a row's pattern. */
enum {
    F_EXISTS,
    F_DIR,
    F_MARKER,
    F_INIT,
    F_VERSION,
    F_STANDBY,
    F_RECOVERY,
    F_OTHER,
    F_CONTROL,
    F_REWIND,
    F_ARCHREC
};

/* The primary's answer, as a column of a row's actions. */
enum { P_SAME, P_OTHER, P_NONE };

struct row {
    /* exists, is a directory, clone marker, init marker, PG_VERSION,
     * standby.signal, recovery.signal, other entries ('1', '0', '.'),
     * pg_control ('k' valid, 'b' missing or corrupt, '.'), the rewind
     * marker, and pg_control's state "in archive recovery" (what pg_rewind
     * leaves). */
    const char *facts;
    enum datadir_state state;
    /* Per POSTGRES_RESEED (auto, never, force), per primary answer (the
     * same system identifier, another one, not asked or not reachable):
     * S start as is, C clone, W wipe and clone, R refuse. */
    const char *actions[3];
};

static const struct row rows[] = {
    /* Nothing there: the clone creates it. ("empty -> clone"; force has
     * nothing to wipe.) */
    {"0..........", DATADIR_EMPTY, {"CCC", "CCC", "CCC"}},
    /* Something that is not a directory: "not a cluster and not empty ->
     * refuse". ENVIRONMENT.md says force wipes "whatever is there"; the code
     * never wipes a file, not even with force, and the oracle follows it. */
    {"10.........", DATADIR_NOT_A_DIRECTORY, {"RRR", "RRR", "RRR"}},
    /* "clone marker present -> wipe and clone". ENVIRONMENT.md: never
     * "refuse[s] instead of re-cloning"; the code still finishes an
     * interrupted clone under never (its copy is ours and incomplete), and
     * the oracle follows it. */
    {"111........", DATADIR_CLONE_INTERRUPTED, {"WWW", "WWW", "WWW"}},
    /* Issue 13: "a start that finds the rewind marker re-seeds" (half the
     * source's files, half its own); POSTGRES_RESEED=never refuses. */
    {"110......1.", DATADIR_REWIND_INTERRUPTED, {"WWW", "RRR", "WWW"}},
    /* "empty (dotfiles and lost+found aside) -> clone". */
    {"110....0.0.", DATADIR_EMPTY, {"CCC", "CCC", "CCC"}},
    /* "something that is not a cluster and not empty -> refuse"; force
     * wipes whatever is there. */
    {"110.0..1.0.", DATADIR_NOT_A_CLUSTER, {"RRR", "RRR", "WWW"}},
    /* Not in the documents' table (the code's addition): a cluster whose
     * initialisation did not finish, or whose pg_control is unreadable, is
     * a cluster that is not a standby: refuse; never wiped unless forced. */
    {"11011..1.0.", DATADIR_INIT_INCOMPLETE, {"RRR", "RRR", "WWW"}},
    {"11001..1b0.", DATADIR_CONTROL_BROKEN, {"RRR", "RRR", "WWW"}},
    /* "a standby of the same system identifier -> start as is"; "a standby
     * of another system identifier -> re-clone"; never: refuse instead.
     * The primary not asked (no answer): the documents do not say; the code
     * starts as is (the standby then waits for its primary itself). */
    {"110011.1k0.", DATADIR_STANDBY, {"SWS", "SRS", "WWW"}},
    /* "a cluster without standby.signal (a primary's data) -> refuse;
     * never wipe unless the user asked for it explicitly" (force). A
     * recovery.signal does not make it a standby. */
    {"11001011k0.", DATADIR_CLUSTER, {"RRR", "RRR", "WWW"}},
    {"11001001k00", DATADIR_CLUSTER, {"RRR", "RRR", "WWW"}},
    /* Issue 13: what pg_rewind leaves (pg_control in archive recovery, no
     * signal file) when the start ended before the standby settings were
     * written: it starts as a standby, the settings written then. */
    {"11001001k01", DATADIR_REWOUND, {"SSS", "SSS", "WWW"}},
};

#define NROWS (sizeof(rows) / sizeof(rows[0]))

static bool fact_matches(char want, bool have)
{
    return want == '.' || (want == '1') == have;
}

static bool row_matches(const struct row *r, const struct datadir_facts *f)
{
    const char *p = r->facts;
    char c = p[F_CONTROL];
    return fact_matches(p[F_EXISTS], f->exists) && fact_matches(p[F_DIR], f->is_dir) &&
           fact_matches(p[F_MARKER], f->has_marker) &&
           fact_matches(p[F_INIT], f->has_init_marker) &&
           fact_matches(p[F_VERSION], f->has_pg_version) &&
           fact_matches(p[F_STANDBY], f->has_standby_signal) &&
           fact_matches(p[F_RECOVERY], f->has_recovery_signal) &&
           fact_matches(p[F_OTHER], f->has_other_entries) &&
           (c == '.' || (c == 'k') == (f->control == PG_CONTROL_OK)) &&
           fact_matches(p[F_REWIND], f->has_rewind_marker) &&
           fact_matches(p[F_ARCHREC], f->pg_control.state == DATADIR_DB_IN_ARCHIVE_RECOVERY);
}

/* The one row the facts match (the table is checked to be a partition). */
static const struct row *row_of(const struct datadir_facts *f)
{
    const struct row *found = NULL;
    for (size_t i = 0; i < NROWS; i++) {
        if (!row_matches(&rows[i], f))
            continue;
        FUZZ_CHECK(!found, "the oracle's rows \"%s\" and \"%s\" overlap", found->facts,
                   rows[i].facts);
        found = &rows[i];
    }
    FUZZ_CHECK(found, "no row of the oracle matches these facts");
    return found;
}

/* The row of a state (all rows of one state say the same). */
static const struct row *row_of_state(enum datadir_state state)
{
    for (size_t i = 0; i < NROWS; i++)
        if (rows[i].state == state)
            return &rows[i];
    return NULL;
}

static enum replica_action action_of(char c)
{
    switch (c) {
    case 'S':
        return REPLICA_START;
    case 'C':
        return REPLICA_CLONE;
    case 'W':
        return REPLICA_RECLONE;
    default:
        return REPLICA_REFUSE;
    }
}

static int answer_of(uint64_t local, uint64_t primary)
{
    if (primary == 0)
        return P_NONE;
    return primary == local ? P_SAME : P_OTHER;
}

static enum replica_action expected_action(const struct row *r, uint64_t local, uint64_t primary,
                                           enum reseed reseed)
{
    return action_of(r->actions[reseed][answer_of(local, primary)]);
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
    const struct row *r = row_of_state(state);

    FUZZ_CHECK(r, "state %d is in no row of the oracle", (int)state);
    FUZZ_CHECK(a == expected_action(r, local, primary, reseed),
               "state %d, local %llu, primary %llu, reseed %d: action %d", (int)state,
               (unsigned long long)local, (unsigned long long)primary, (int)reseed, (int)a);
    FUZZ_CHECK(a >= REPLICA_START && a <= REPLICA_REFUSE, "action %d", (int)a);
    if (a == REPLICA_RECLONE && reseed != RESEED_FORCE)
        FUZZ_CHECK(state == DATADIR_STANDBY || state == DATADIR_CLONE_INTERRUPTED ||
                       state == DATADIR_REWIND_INTERRUPTED,
                   "state %d wiped without POSTGRES_RESEED=force", (int)state);
    if (a == REPLICA_START)
        FUZZ_CHECK(state == DATADIR_STANDBY || state == DATADIR_REWOUND,
                   "state %d started as a standby", (int)state);
    if (state == DATADIR_NOT_A_DIRECTORY)
        FUZZ_CHECK(a == REPLICA_REFUSE, "a file is never wiped");
    if (pre == REPLICA_REFUSE)
        FUZZ_CHECK(a == REPLICA_REFUSE, "state %d: the primary's answer overturned a refusal",
                   (int)state);
}

/* Facts, state and action against the oracle's row for them. */
static void check_facts(const struct datadir_facts *f, uint64_t primary, enum reseed reseed)
{
    const struct row *r = row_of(f);
    uint64_t local = f->pg_control.system_identifier;
    enum datadir_state state = datadir_classify(f);

    FUZZ_CHECK(state == r->state, "facts matching \"%s\": state %d, want %d", r->facts, (int)state,
               (int)r->state);
    const char *name = datadir_state_name(state);
    FUZZ_CHECK(name && *name && strcmp(name, "unknown") != 0, "state %d has no name", (int)state);
    enum replica_action a = datadir_replica_action(state, local, primary, reseed);
    FUZZ_CHECK(a == expected_action(r, local, primary, reseed),
               "facts matching \"%s\", local %llu, primary %llu, reseed %d: action %d", r->facts,
               (unsigned long long)local, (unsigned long long)primary, (int)reseed, (int)a);
    check_action(state, local, primary, reseed);
}

static void decode_facts(unsigned bits, enum pg_control_status control, struct datadir_facts *f)
{
    memset(f, 0, sizeof(*f));
    f->exists = bits & 1;
    f->is_dir = bits & 2;
    f->has_marker = bits & 4;
    f->has_init_marker = bits & 8;
    f->has_pg_version = bits & 16;
    f->has_standby_signal = bits & 32;
    f->has_recovery_signal = bits & 64;
    f->has_other_entries = bits & 128;
    f->control = control;
    f->has_rewind_marker = bits & 256;
    f->pg_control.state = (bits & 512) ? DATADIR_DB_IN_ARCHIVE_RECOVERY : 1;
}

/* Every combination of the inputs, against the table. */
static void check_exhaustively(void)
{
    static const uint64_t primaries[] = {7, 8, 0}; /* the local one is 7: same, other, none */

    for (unsigned bits = 0; bits < 1024; bits++)
        for (int c = PG_CONTROL_OK; c <= PG_CONTROL_CORRUPT; c++)
            for (int r = RESEED_AUTO; r <= RESEED_FORCE; r++)
                for (size_t p = 0; p < sizeof(primaries) / sizeof(primaries[0]); p++) {
                    struct datadir_facts f;
                    decode_facts(bits, (enum pg_control_status)c, &f);
                    f.pg_control.system_identifier = 7;
                    check_facts(&f, primaries[p], (enum reseed)r);
                }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct datadir_facts f;

    if (size < 2)
        return 0;
    /* the rewind marker and the archive-recovery state from byte 1's bits 5 and 6 */
    decode_facts(data[0] | ((data[1] & 0x60u) << 3), (enum pg_control_status)(data[1] % 3), &f);
    enum reseed reseed = (enum reseed)((data[1] >> 2) % 3);
    uint64_t local = take_u64(data, size, 2);
    uint64_t primary = (data[1] & 0x80) ? local : take_u64(data, size, 10);
    f.pg_control.system_identifier = local;

    check_facts(&f, primary, reseed);
    /* Every state, not only those reachable from consistent facts. */
    check_action((enum datadir_state)(data[1] % (DATADIR_NOT_A_DIRECTORY + 1)), local, primary,
                 reseed);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    check_exhaustively();
    return 0;
}
