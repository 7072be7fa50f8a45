#!/bin/bash
# sync_replicas: POSTGRES_SYNCHRONOUS_REPLICAS=1 makes commits on the primary
# wait for a replica, as a user relying on it expects:
#  - the primary's first start completes although no standby exists yet
#    (a start that hangs in its bootstrap step is reported as such), and it
#    runs with synchronous_standby_names = 'ANY 1 (*)' and
#    synchronous_commit = on;
#  - a replica clones and streams; on the primary, its application_name is
#    its slot name (derived from its host name db-replica-1.db.svc) and its
#    sync_state is quorum (or sync);
#  - with the replica stopped, an INSERT on the primary does not return
#    (pg_stat_activity shows it waiting on SyncRep) for 3 s and more;
#  - once the replica is back (restarted as is, no clone), the INSERT
#    returns successfully and its row is on the replica.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"
it_setup 300
net_pair
P_PORT=55630
R_PORT=55631
SLOT=db_replica_1

launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p" POSTGRES_SYNCHRONOUS_REPLICAS=1
# The first start must not wait for a standby that cannot exist yet (no
# replica can clone before the primary runs): a start that hangs is named.
# (150 s: 10x a first start on a busy machine; see lib.sh.)
p_ready() { in_ns p "$PG_BINDIR/pg_isready" -q -t 1 -h "$P_ADDR" -p "$P_PORT"; }
for _ in $(seq 1 1500); do
    p_ready && break
    running p || break
    sleep 0.1
done
if ! p_ready; then
    if running p && grep -Eq "$(step_re bootstrap)creating" "${ILOG[p]}" &&
        ! grep -Eq "$(step_re bootstrap)(done|failed) in" "${ILOG[p]}"; then
        fail "the primary's first start with POSTGRES_SYNCHRONOUS_REPLICAS=1 hangs in the bootstrap step (single-user mode waits for a synchronous standby)"
    fi
    wait_ready p 5
fi
[ "$(q p 'show synchronous_standby_names')" = 'ANY 1 (*)' ] ||
    fail "synchronous_standby_names is \"$(q p 'show synchronous_standby_names')\", want \"ANY 1 (*)\""
[ "$(q p 'show synchronous_commit')" = on ] ||
    fail "synchronous_commit is \"$(q p 'show synchronous_commit')\", want on"

launch_replica r "$NS_R" "$R_ADDR" "$R_PORT" "$WORK/r" HOSTNAME=db-replica-1.db.svc
wait_ready r
assert_log_has "${ILOG[r]}" "$(step_re clone)done in" "the replica cloned the primary"
poll 20 "the WAL receiver is streaming" q_is r 'select status from pg_stat_wal_receiver' streaming
poll 20 "the primary sees the replica as a synchronous standby" \
    q_is p "select count(*) from pg_stat_replication where state = 'streaming' and sync_state in ('quorum', 'sync')" 1
row=$(q p "select application_name, sync_state, client_addr from pg_stat_replication")
log "pg_stat_replication: $row"
[ "$(cut -d'|' -f1 <<<"$row")" = "$SLOT" ] || fail "the replica's application_name is not its slot name $SLOT: $row"
[ "$(cut -d'|' -f3 <<<"$row")" = "$R_ADDR" ] || fail "the standby in pg_stat_replication is not the replica: $row"
[ "$(q p "select active from pg_replication_slots where slot_name = '$SLOT'")" = t ] ||
    fail "slot $SLOT is not active on the primary"

# A commit with the replica up returns, and the row is on the replica.
q p "create table t (id int primary key, v text); insert into t values (1, 'replica up')"
poll 20 "the first row reaches the replica" q_is r 'select v from t where id = 1' 'replica up'

# Replica stopped: the commit waits.
stop r INT
poll 10 "the primary sees no standby" q_is p 'select count(*) from pg_stat_replication' 0
PGPASSWORD="$SUPERPW" ip netns exec "$NS_P" psql -X -q -At -v ON_ERROR_STOP=1 -h "$P_ADDR" -p "$P_PORT" \
    -U postgres -d postgres -c "set application_name = 'itest-waiting-insert'; insert into t values (2, 'waited')" \
    >"$WORK/insert.out" 2>"$WORK/insert.err" &
insert=$!
BG_PIDS+=("$insert")
t0=$(date +%s%N)
poll 10 "the INSERT waits for the synchronous standby (wait_event SyncRep)" \
    q_is p "select wait_event from pg_stat_activity where application_name = 'itest-waiting-insert'" SyncRep
while [ $(($(date +%s%N) - t0)) -lt 3000000000 ]; do
    alive "$insert" || break
    sleep 0.1
done
if ! alive "$insert"; then
    rc=0
    wait "$insert" || rc=$?
    fail "the INSERT returned (status $rc) while no synchronous standby was connected: $(cat "$WORK/insert.out" "$WORK/insert.err")"
fi
[ "$(q p "select wait_event from pg_stat_activity where application_name = 'itest-waiting-insert'")" = SyncRep ] ||
    fail "after 3 s the INSERT is not waiting on SyncRep"
log "the INSERT still waits after $((($(date +%s%N) - t0) / 1000000)) ms"

# Replica back: the commit completes.
launch_replica r "$NS_R" "$R_ADDR" "$R_PORT" "$WORK/r" HOSTNAME=db-replica-1.db.svc
wait_ready r
assert_log_lacks "${ILOG[r]}" "$(step_re '(clone|wipe)')" "the restarted replica cloned or wiped"
t1=$(date +%s%N)
while alive "$insert"; do
    [ $(($(date +%s%N) - t1)) -lt 20000000000 ] || fail "the INSERT did not return within 20 s of the replica's return"
    sleep 0.05
done
rc=0
wait "$insert" || rc=$?
[ "$rc" = 0 ] || fail "the INSERT failed (status $rc): $(cat "$WORK/insert.err")"
log "the INSERT returned $((($(date +%s%N) - t1) / 1000000)) ms after the replica accepted connections again"
[ ! -s "$WORK/insert.err" ] || fail "the INSERT printed: $(cat "$WORK/insert.err")"
poll 20 "the row committed while the replica was away is on the replica" q_is r 'select v from t where id = 2' waited
[ "$(q p "select sync_state from pg_stat_replication where application_name = '$SLOT'")" = quorum ] ||
    [ "$(q p "select sync_state from pg_stat_replication where application_name = '$SLOT'")" = sync ] ||
    fail "the returned replica is not a synchronous standby again"
log "PASS"
