#!/bin/bash
# rejoin_switchover: a planned switchover loses nothing and needs no rewind
# (entrypoint/failover.c). a is the primary, b streams from it, both with
# POSTGRES_PEERS naming both:
#  (1) a writes a row and is stopped cleanly; b is promoted and writes one;
#  (2) a, started with its primary environment, finds b writable on a newer
#      timeline, sees that it was shut down before b's timeline branched off,
#      and follows b without pg_rewind and without a clone: it has every
#      row, both its own last one and b's, and streams; b stays writable;
#  (3) b, restarted with POSTGRES_ROLE=auto and a replica's pod ordinal,
#      stays the primary (the promotion record), and a still follows it.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_rejoin.sh"
it_setup 300
net_trio
A_PORT=55946
B_PORT=55947
PEERS="POSTGRES_PEERS=$P_ADDR:$A_PORT,$R_ADDR:$B_PORT"

# ---- (1) -------------------------------------------------------------------------------
launch_primary a "$NS_P" "$P_ADDR" "$A_PORT" "$WORK/a" "$PEERS"
wait_ready a
q a "create table t (id int primary key, v text); insert into t values (1, 'first')"
launch_primary b "$NS_R" "$R_ADDR" "$B_PORT" "$WORK/b" "$PEERS" POSTGRES_PRIMARY_HOST="$P_ADDR" \
    POSTGRES_PRIMARY_PORT="$A_PORT"
wait_ready b 60
poll 30 "(1) the first row reaches b" q_is b "select v from t where id = 1" first
q a "insert into t values (2, 'the last on a')"
stop a INT
promote_node b "$WORK/b"
q b "insert into t values (3, 'the first on b')"

# ---- (2) -------------------------------------------------------------------------------
launch_primary a "$NS_P" "$P_ADDR" "$A_PORT" "$WORK/a" "$PEERS"
wait_ready a 120
assert_log_has "${ILOG[a]}" "peer $R_ADDR:$B_PORT is a writable primary of this system on timeline 2, newer than this node's 1" \
    "(2) a did not find b"
assert_log_has "${ILOG[a]}" "was shut down cleanly at [0-9A-F]+/[0-9A-F]+, before the primary's history left timeline 1 at [0-9A-F]+/[0-9A-F]+: it follows without a rewind" \
    "(2) a did not see that no rewind is needed"
assert_log_lacks "${ILOG[a]}" "pg_rewind:" "(2) pg_rewind ran"
assert_log_lacks "${ILOG[a]}" "$(step_re clone)" "(2) a was cloned"
assert_log_lacks "${ILOG[a]}" "discarded this node's WAL" "(2) something was discarded"
poll 30 "(2) a is in recovery" q_is a "select pg_is_in_recovery()" t
q_is b "select count(*) from t" 3 || fail "(2) b does not have every row: $(q b 'select id from t')"
poll 30 "(2) a has every row" q_is a "select count(*) from t" 3
q b "insert into t values (4, 'after the switchover')"
poll 30 "(2) a streams from b" q_is a "select v from t where id = 4" 'after the switchover'
writable b || fail "(2) b is not writable"

# ---- (3) -------------------------------------------------------------------------------
stop b INT
launch_primary b "$NS_R" "$R_ADDR" "$B_PORT" "$WORK/b" "$PEERS" POSTGRES_ROLE=auto HOSTNAME=pg-1 \
    POSTGRES_PRIMARY_HOST="$P_ADDR" POSTGRES_PRIMARY_PORT="$A_PORT"
wait_ready b 60
assert_log_has "${ILOG[b]}" "the role is primary: PGDATA holds a promotion by pg-entrypoint promote" \
    "(3) b with the auto role does not say why it is a primary"
writable b || fail "(3) b with POSTGRES_ROLE=auto and ordinal 1 is not a writable primary"
q b "insert into t values (5, 'after the auto restart')"
poll 60 "(3) a follows b again" q_is a "select v from t where id = 5" 'after the auto restart'
log "PASS"
