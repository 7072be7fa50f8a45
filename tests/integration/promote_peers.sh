#!/bin/bash
# promote_peers: `pg-entrypoint promote` among three members (net_trio: p
# the primary, replicas a and b; every one has POSTGRES_PEERS naming all
# three), and the standby that cannot follow:
#  - a writable primary among the peers makes promote refuse, even with
#    --force (a's POSTGRES_PRIMARY_HOST points nowhere here, so only the
#    peers can tell);
#  - a is cut off the network while p writes (b receives it), p stops
#    cleanly, a is back: promote on a is refused, naming b and both LSNs,
#    and a stays a standby without a record;
#  - promote --force --wait 0 on a (no wait for a write, only for the
#    promotion): exit 0, timeline 2, a takes a write; b's slot (its
#    primary_slot_name) exists on a afterwards, and a's log says so;
#  - b, which has WAL past a's switch point, is not streaming, and its
#    health says "cannot follow the new primary at a: this standby has WAL
#    up to X on timeline 1, past the switch to timeline 2 at Y; restart the
#    container to rewind it" (also with --live).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"
it_setup 300
net_trio
P_PORT=55920
A_PORT=55921
B_PORT=55922
PEERS="$P_ADDR:$P_PORT,$R_ADDR:$A_PORT,$T_ADDR:$B_PORT"

launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p" POSTGRES_PEERS="$PEERS"
wait_ready p
q p "create table t (id int primary key, v text); insert into t values (1, 'everyone')"
launch_replica a "$NS_R" "$R_ADDR" "$A_PORT" "$WORK/a" POSTGRES_PEERS="$PEERS"
launch_replica b "$NS_T" "$T_ADDR" "$B_PORT" "$WORK/b" POSTGRES_PEERS="$PEERS"
wait_ready a 60
wait_ready b 60
for id in a b; do
    poll 30 "$id streams" q_is "$id" 'select status from pg_stat_wal_receiver' streaming
    poll 30 "the first row reaches $id" q_is "$id" 'select v from t where id = 1' everyone
done

A_ENV=(PGDATA="$WORK/a" POSTGRES_PRIMARY_HOST="$P_ADDR" POSTGRES_PRIMARY_PORT="$P_PORT"
    POSTGRES_REPLICATION_PASSWORD="$REPLPW" HOSTNAME=a PGHOST="$WORK/sock-a" PGPORT="$A_PORT"
    POSTGRES_PEERS="$PEERS")
B_ENV=(PGDATA="$WORK/b" POSTGRES_PRIMARY_HOST="$P_ADDR" POSTGRES_PRIMARY_PORT="$P_PORT"
    POSTGRES_REPLICATION_PASSWORD="$REPLPW" HOSTNAME=b PGHOST="$WORK/sock-b" PGPORT="$B_PORT"
    POSTGRES_PEERS="$PEERS")
RUN_TIMEOUT=120 # a hang guard

# The writable primary, known only as a peer.
run_bin "$NS_R" "${A_ENV[@]}" POSTGRES_PRIMARY_HOST=127.0.0.1 POSTGRES_PRIMARY_PORT=9 -- promote --force
# (nothing listens there: only the peers can tell)
expect_rc 1 "promote --force while a peer accepts writes"
err_has "refusing: the primary at $P_ADDR:$P_PORT still accepts writes; stop it first" \
    "promote --force while a peer accepts writes"
[ "$(q a 'select pg_is_in_recovery()')" = t ] || fail "the refused promote promoted a"

# a falls behind b. (A walsender whose standby is cut off ends after
# wal_sender_timeout; a terminated one would hang sending its error.)
q p "alter system set wal_sender_timeout = '3s'"
q p "select pg_reload_conf()" >/dev/null
net_cut "$NS_R"
q p "insert into t select g, 'a misses it' from generate_series(2, 1000) g"
want=$(q p 'select pg_current_wal_lsn()')
poll 30 "b receives what a misses" q_is b "select pg_last_wal_receive_lsn() >= '$want'" t
# A shutdown waits for every walsender to send what is left, and a's cannot:
# it must have ended (wal_sender_timeout, 3 s here) first.
poll 60 "a's walsender is gone" q_is p "select count(*) from pg_stat_replication where client_addr = '$R_ADDR'" 0
stop p INT
net_mend "$NS_R"
a_lsn=$(q a 'select greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())')
b_lsn=$(q b 'select greatest(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())')
log "a has WAL up to $a_lsn, b up to $b_lsn"
[ "$(q a "select '$a_lsn'::pg_lsn < '$b_lsn'::pg_lsn")" = t ] || fail "a is not behind b ($a_lsn, $b_lsn)"

# (a's own position is read from the message: a follower may still fetch
# some WAL from elsewhere after the mend; b's cannot move, p is gone.)
LSN='[0-9A-F]+/[0-9A-F]+'
run_bin "$NS_R" "${A_ENV[@]}" -- promote
expect_rc 1 "promote of the replica that is behind"
err_has "refusing: the standby at $T_ADDR:$B_PORT has received more WAL \\(up to $b_lsn\\) than this node \\(up to $LSN\\)" \
    "promote of the replica that is behind"
a_said=$(grep -Eo "than this node \\(up to $LSN\\)" <<<"$RUN_ERR" | grep -Eo "$LSN")
[ "$(q a "select '$a_said'::pg_lsn >= '$a_lsn'::pg_lsn and '$a_said'::pg_lsn < '$b_lsn'::pg_lsn")" = t ] ||
    fail "promote named a's position $a_said (a had $a_lsn, b has $b_lsn)"
[ -z "$RUN_OUT" ] || fail "the refused promote printed on stdout: $(run_desc)"
[ "$(q a 'select pg_is_in_recovery()')" = t ] || fail "the refused promote promoted a"
[ ! -e "$WORK/a/pg-entrypoint-promoted" ] || fail "the refused promote left a promotion record"

# b's slot: a follower's start may have made it on a already (unreserved);
# then promote says it exists, else promote makes it.
had_slot=$(q a "select count(*) from pg_replication_slots where slot_name = 'b'")
run_bin "$NS_R" "${A_ENV[@]}" -- promote --force --wait 0
expect_rc 0 "promote --force of the replica that is behind"
out_has '^promoted: now a primary on timeline 2$' "promote --force"
err_has "--force: the standby at $T_ADDR:$B_PORT has received WAL up to $b_lsn, this node only up to $LSN" \
    "promote --force"
q a "insert into t values (5000, 'on a')"
[ "$(q a "select count(*) from pg_replication_slots where slot_name = 'b' and slot_type = 'physical'")" = 1 ] ||
    fail "b's slot is not on a after promote: $(q a 'select slot_name from pg_replication_slots')"
if [ "$had_slot" = 0 ]; then
    err_has "created physical replication slot \"b\" for the standby at $T_ADDR:$B_PORT" "promote's slot for b"
else
    log "b's slot was on a before the promote (a follower's start made it)"
    err_has "slot \"b\" of the standby at $T_ADDR:$B_PORT exists already" "promote's slot for b"
fi

# b received WAL past a's switch point: it cannot follow a.
B_CANNOT='^unhealthy: cannot follow the new primary at '"$R_ADDR:$A_PORT"': this standby has WAL up to '"$b_lsn"' on timeline 1, past the switch to timeline 2 at [0-9A-F]+/[0-9A-F]+; restart the container to rewind it$'
cannot_follow() { run_bin "$NS_T" "${B_ENV[@]}" -- health; grep -Eq -- "$B_CANNOT" <<<"$RUN_OUT"; }
poll 60 "b's health says it cannot follow a" cannot_follow
expect_rc 1 "health of b"
one_line "health of b"
log "b: $RUN_OUT"
run_bin "$NS_T" "${B_ENV[@]}" -- health --live
expect_rc 1 "health --live of b"
out_has "$B_CANNOT" "health --live of b"
assert_no_secret "$WORK"/run.*.stdout "$WORK"/run.*.stderr "$WORK"/*.log
log "PASS"
