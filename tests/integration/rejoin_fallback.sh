#!/bin/bash
# rejoin_fallback: a rewind that is impossible (entrypoint/replica.c's
# rejoin). a runs with wal_log_hints off (ALTER SYSTEM: postgresql.auto.conf
# wins over pg-entrypoint.conf; its pg_control says so), so pg_rewind
# refuses it. a is the primary, b its standby, both with POSTGRES_PEERS:
#  (1) b stops; a writes a row only it has and stops; b starts again and is
#      promoted, and writes a row;
#  (2) a under POSTGRES_RESEED=never: pg_rewind --dry-run fails, the start
#      refuses with exit 1, the reason and the fix, and PGDATA is unchanged;
#  (3) a under auto: the safe re-seed (wipe and clone from b): a is b's
#      standby, has b's row and not its own.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_rejoin.sh"
it_setup 300
net_trio
A_PORT=55944
B_PORT=55945
PEERS="POSTGRES_PEERS=$P_ADDR:$A_PORT,$R_ADDR:$B_PORT"
AS_B=("$PEERS" POSTGRES_PRIMARY_HOST="$P_ADDR" POSTGRES_PRIMARY_PORT="$A_PORT")

# ---- (1) -------------------------------------------------------------------------------
launch_primary a "$NS_P" "$P_ADDR" "$A_PORT" "$WORK/a" "$PEERS"
wait_ready a
rewind_prereqs a
q a "alter system set wal_log_hints = off" # all but wal_log_hints
stop a INT
launch_primary a "$NS_P" "$P_ADDR" "$A_PORT" "$WORK/a" "$PEERS"
wait_ready a 60
[ "$(q a 'show wal_log_hints')" = off ] || fail "wal_log_hints is not off on a"
q a "create table t (id int primary key, v text); insert into t values (1, 'first')"
launch_primary b "$NS_R" "$R_ADDR" "$B_PORT" "$WORK/b" "${AS_B[@]}"
wait_ready b 60
poll 30 "(1) the first row reaches b" q_is b "select v from t where id = 1" first
stop b INT
q a "insert into t values (2, 'only on a')"
stop a INT
launch_primary b "$NS_R" "$R_ADDR" "$B_PORT" "$WORK/b" "${AS_B[@]}"
wait_ready b 60
promote_node b "$WORK/b"
q b "insert into t values (3, 'on b')"

# ---- (2) -------------------------------------------------------------------------------
before=$(snapshot "$WORK/a")
launch_primary a "$NS_P" "$P_ADDR" "$A_PORT" "$WORK/a" "$PEERS" POSTGRES_RESEED=never
expect_exit a 120 1 "(2) an impossible rewind under POSTGRES_RESEED=never"
assert_log_has "${ILOG[a]}" "pg_rewind: .*wal_log_hints" "(2) pg_rewind's reason is not in the log"
assert_log_has "${ILOG[a]}" "ERROR.*cannot be rewound from the primary at $R_ADDR:$B_PORT .*POSTGRES_RESEED=never: refusing; PGDATA is unchanged; hint: set POSTGRES_RESEED=auto" \
    "(2) the refusal does not give the fix"
[ "$(snapshot "$WORK/a")" = "$before" ] || fail "(2) a's PGDATA changed"

# ---- (3) -------------------------------------------------------------------------------
launch_primary a "$NS_P" "$P_ADDR" "$A_PORT" "$WORK/a" "$PEERS"
wait_ready a 120
assert_log_has "${ILOG[a]}" "WARNING.*cannot be rewound from the primary at $R_ADDR:$B_PORT .*re-seeding instead" \
    "(3) no warning about the re-seed"
assert_log_has "${ILOG[a]}" "$(step_re clone)done in" "(3) a was not cloned"
poll 30 "(3) a is in recovery" q_is a "select pg_is_in_recovery()" t
poll 30 "(3) a has b's row" q_is a "select v from t where id = 3" 'on b'
q_is a "select count(*) from t where id = 2" 0 || fail "(3) a kept its divergent row"
[ ! -e "$WORK/a/pg-entrypoint-promoted" ] || fail "(3) the clone kept b's promotion record"
writable b || fail "(3) b is not writable"
log "PASS"
