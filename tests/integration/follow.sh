#!/bin/bash
# follow: with POSTGRES_PEERS, a replica follows a promoted peer without a
# restart. Three hosts (net_trio): primary a, replicas b and c, each with
# POSTGRES_PEERS listing all three (each node's own entry is its HOSTNAME):
#  - c clones first (b does not run yet: no slot there), then b clones and,
#    after its clone, makes its slot on the standby c, unreserved (no
#    restart_lsn); c, restarted, makes its slot on the standby b at its
#    standby start;
#  - c's primary_conninfo lists a, then b (not itself), with
#    target_session_attrs=read-write and tcp_user_timeout, and c retries it
#    every second;
#  - a stopped cleanly, b promoted (pg_promote() as the superuser): c streams
#    from b within a bounded wait, with the same postmaster (no restart),
#    on its slot on b (active), and a row written on b reaches c.
# The seconds from pg_promote() to c streaming from b are printed, not
# asserted (beyond the hang guard).
source "$(dirname "$0")/lib.sh"
it_setup 300
net_trio
P_PORT=55990
R_PORT=55991
T_PORT=55992
PEERS="$P_ADDR:$P_PORT,$R_ADDR:$R_PORT,$T_ADDR:$T_PORT"

# unreserved_slot ID SLOT: SLOT is on ID, inactive, without a restart_lsn.
unreserved_slot()
{
    [ "$(q "$1" "select active, restart_lsn is null from pg_replication_slots where slot_name = '$2'")" = 'f|t' ] ||
        fail "slot $2 is not on $1 unreserved and inactive: $(q "$1" 'select * from pg_replication_slots')"
}

launch_primary a "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/a" HOSTNAME="$P_ADDR" POSTGRES_PEERS="$PEERS"
wait_ready a
c_env=(HOSTNAME="$T_ADDR" POSTGRES_PEERS="$PEERS" POSTGRES_REPLICATION_SLOT=node_c)
launch_replica c "$NS_T" "$T_ADDR" "$T_PORT" "$WORK/c" "${c_env[@]}"
wait_ready c
assert_log_has "${ILOG[c]}" "$(step_re slot)no replication slot \"node_c\" on the peer at $R_ADDR:$R_PORT: not reached" \
    "c's clone says b is not there"
launch_replica b "$NS_R" "$R_ADDR" "$R_PORT" "$WORK/b" HOSTNAME="$R_ADDR" POSTGRES_PEERS="$PEERS" \
    POSTGRES_REPLICATION_SLOT=node_b
wait_ready b
poll 30 "b streams from a" q_is b 'select sender_host, status from pg_stat_wal_receiver' "$P_ADDR|streaming"
assert_log_has "${ILOG[b]}" "$(step_re slot)created replication slot \"node_b\" \(unreserved\) on the standby at $T_ADDR:$T_PORT" \
    "b's clone made its slot on the standby c"
unreserved_slot c node_b

stop c INT
launch_replica c "$NS_T" "$T_ADDR" "$T_PORT" "$WORK/c" "${c_env[@]}"
wait_ready c
poll 30 "c streams from a" q_is c 'select sender_host, status from pg_stat_wal_receiver' "$P_ADDR|streaming"
assert_log_has "${ILOG[c]}" "$(step_re slot)created replication slot \"node_c\" \(unreserved\) on the standby at $R_ADDR:$R_PORT" \
    "c's standby start made its slot on the standby b"
unreserved_slot b node_c

conninfo=$(q c 'show primary_conninfo')
log "c: primary_conninfo = $conninfo"
grep -Fq "host='$P_ADDR,$R_ADDR' port=$P_PORT,$R_PORT target_session_attrs=read-write tcp_user_timeout=5000 " <<<"$conninfo" ||
    fail "c's primary_conninfo does not list a then b with target_session_attrs=read-write: $conninfo"
[ "$(q c 'show wal_retrieve_retry_interval')" = 1s ] ||
    fail "c retries its hosts every $(q c 'show wal_retrieve_retry_interval'), want 1s"
assert_no_secret "${ILOG[c]}"

q a "create table t (id int primary key, v text); insert into t values (1, 'before')"
poll 30 "the first row reaches b" q_is b 'select v from t where id = 1' before
poll 30 "the first row reaches c" q_is c 'select v from t where id = 1' before
c_pid=${CPID[c]}
c_started=$(q c 'select pg_postmaster_start_time()')

stop a INT
t0=$(date +%s%N)
[ "$(q b 'select pg_promote(true, 60)')" = t ] || fail "pg_promote() on b did not succeed"
# c retries its primary_conninfo every wal_retrieve_retry_interval (1 s
# here, 5 s by default); 60 s: 10x the slowest measured with 5 s.
# b's walsender is streaming only once START_REPLICATION succeeded (on its
# slot); c's receiver says "streaming" as soon as it starts, even for an
# attempt that b then refuses ("replication slot does not exist").
poll 60 "b streams to c" q_is b "select state from pg_stat_replication where application_name = 'node_c'" streaming
ms=$((($(date +%s%N) - t0) / 1000000))
log "c streams from b $((ms / 1000)).$(printf %03d $((ms % 1000))) s after pg_promote()"

[ "$(q c 'select sender_host, status from pg_stat_wal_receiver')" = "$R_ADDR|streaming" ] ||
    fail "c's WAL receiver does not stream from b: $(q c 'select * from pg_stat_wal_receiver')"
running c && [ "${CPID[c]}" = "$c_pid" ] || fail "c's postgres is not the one that ran before the promotion"
[ "$(q c 'select pg_postmaster_start_time()')" = "$c_started" ] || fail "c's postmaster was restarted"
[ "$(q c 'select pg_is_in_recovery()')" = t ] || fail "c is not a standby any more"
[ "$(q b "select active from pg_replication_slots where slot_name = 'node_c'")" = t ] ||
    fail "c does not stream on its slot node_c on b: $(q b 'select * from pg_replication_slots')"
q b "insert into t values (2, 'after')"
poll 30 "a row written on the promoted b reaches c" q_is c 'select v from t where id = 2' after
[ "$(q c 'select received_tli from pg_stat_wal_receiver')" = 2 ] ||
    fail "c does not receive b's new timeline 2"
log "PASS"
