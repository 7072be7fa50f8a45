#!/bin/bash
# rejoin_standby: a standby that received WAL past the promoted node's
# switch point cannot follow it; its next start rewinds it
# (entrypoint/failover.c, replica side). Three nodes with POSTGRES_PEERS
# naming all: a the primary, b and c its standbys:
#  (1) b is cut off; a writes a row that only c receives; a is killed; b is
#      promoted (while still cut off) and writes a row;
#  (2) c, restarted with its replica environment (POSTGRES_PRIMARY_HOST
#      still naming a), finds b writable on a newer timeline than its data,
#      rewinds from it and streams from b: it has b's row and not the one
#      only a had written.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_rejoin.sh"
it_setup 300
net_trio
PEERS="POSTGRES_PEERS=$P_ADDR:55950,$R_ADDR:55951,$T_ADDR:55952"
OF_A=("$PEERS" POSTGRES_PRIMARY_HOST="$P_ADDR" POSTGRES_PRIMARY_PORT=55950)

# ---- (1) -------------------------------------------------------------------------------
launch_primary a "$NS_P" "$P_ADDR" 55950 "$WORK/a" "$PEERS"
wait_ready a
rewind_prereqs a
stop a INT
launch_primary a "$NS_P" "$P_ADDR" 55950 "$WORK/a" "$PEERS"
wait_ready a 60
q a "create table t (id int primary key, v text); insert into t values (1, 'first')"
launch_primary b "$NS_R" "$R_ADDR" 55951 "$WORK/b" "${OF_A[@]}"
launch_primary c "$NS_T" "$T_ADDR" 55952 "$WORK/c" "${OF_A[@]}"
wait_ready b 60
wait_ready c 60
poll 30 "(1) the first row reaches b" q_is b "select v from t where id = 1" first
poll 30 "(1) the first row reaches c" q_is c "select v from t where id = 1" first
net_cut "$NS_R"
q a "insert into t values (2, 'only a and c')"
poll 30 "(1) c has the row b has not" q_is c "select v from t where id = 2" 'only a and c'
stop a KILL
PROMOTE_CHECKPOINT=1 promote_node b "$WORK/b"
net_mend "$NS_R"
q b "insert into t values (3, 'on b')"

# ---- (2) -------------------------------------------------------------------------------
stop c INT
launch_primary c "$NS_T" "$T_ADDR" 55952 "$WORK/c" "${OF_A[@]}"
wait_ready c 120
assert_log_has "${ILOG[c]}" "the writable primary is the peer $R_ADDR:55951, not POSTGRES_PRIMARY_HOST $P_ADDR:55950" \
    "(2) c did not find the writable peer"
assert_log_has "${ILOG[c]}" "is a standby on timeline 1, and the primary $R_ADDR:55951 is on timeline 2: rewinding it" \
    "(2) c did not decide to rewind"
assert_log_has "${ILOG[c]}" "pg_rewind: servers diverged at WAL location" "(2) c was not rewound"
assert_log_lacks "${ILOG[c]}" "$(step_re clone)" "(2) c was cloned"
poll 30 "(2) c has b's row" q_is c "select v from t where id = 3" 'on b'
q_is c "select count(*) from t where id = 2" 0 || fail "(2) c kept the row only a had"
poll 30 "(2) c streams" q_is c "select status from pg_stat_wal_receiver" streaming
q_is c "select sender_host from pg_stat_wal_receiver" "$R_ADDR" || fail "(2) c does not stream from b"
log "PASS"
