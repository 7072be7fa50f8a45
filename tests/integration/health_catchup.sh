#!/bin/bash
# health_catchup: a running standby that can no longer catch up. Its WAL
# receiver is cut off (its role may not log in, its walsender is ended)
# while the primary, which keeps at most 64 MB for slots, writes eight
# segments and checkpoints: the slot is lost and the WAL goes. Let in
# again, the standby retries for ever; `health` then says
# "cannot catch up: the WAL it needs is gone on the primary; restart the
# container to re-seed" in one line and exits 1, also with --live (what a
# liveness probe runs). Restarted (as an
# orchestrator would on that health check), it re-seeds and health is 0.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"
it_setup 85
net_pair
P_PORT=55870
R_PORT=55871

launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p" POSTGRES_MAX_SLOT_WAL_KEEP_SIZE=64MB \
    POSTGRES_WAL_KEEP_SIZE=16MB
wait_ready p
q p "create table t (id int primary key, v text); insert into t values (1, 'first')"
launch_replica r "$NS_R" "$R_ADDR" "$R_PORT" "$WORK/r"
wait_ready r 60
poll 30 "the first row reaches r" q_is r "select v from t where id = 1" first
poll 30 "r streams" q_is r 'select status from pg_stat_wal_receiver' streaming

R_ENV=(PGDATA="$WORK/r" POSTGRES_PRIMARY_HOST="$P_ADDR" POSTGRES_PRIMARY_PORT="$P_PORT"
    POSTGRES_REPLICATION_PASSWORD="$REPLPW" HOSTNAME=r PGHOST="$WORK/sock-r" PGPORT="$R_PORT")
run_bin "$NS_R" "${R_ENV[@]}" -- health
expect_rc 0 "health of the streaming replica"

# The replica loses its connection and cannot log in again while the
# primary writes past what its slot may keep (a frozen receiver would hold
# the checkpoint up: the slot's walsender must exit first).
q p "alter role replicator nologin"
q p "select pg_terminate_backend(pid) from pg_stat_replication" >/dev/null
poll 20 "the replica's slot is inactive" q_is p "select active from pg_replication_slots where slot_name = 'r'" f
for i in $(seq 1 8); do
    q p "insert into t select g, 'bulk' from generate_series($i * 1000, $i * 1000 + 999) g"
    q p "select pg_switch_wal()" >/dev/null
done
q p "checkpoint"
poll 20 "the replica's slot is lost" q_is p "select wal_status from pg_replication_slots where slot_name = 'r'" lost
q p "alter role replicator login"
poll 30 "the replica says the WAL was removed" grep -q "has already been removed" "${ILOG[r]}"

run_bin "$NS_R" "${R_ENV[@]}" -- health
expect_rc 1 "health of a replica that cannot catch up"
one_line "health of a replica that cannot catch up"
out_has '^unhealthy: cannot catch up: the WAL it needs is gone on the primary; restart the container to re-seed \(it needs WAL from [0-9A-F]+/[0-9A-F]+; the primary at .* says "requested WAL segment [0-9A-F]{24} has already been removed"\)$' \
    "health of a replica that cannot catch up"
run_bin "$NS_R" "${R_ENV[@]}" -- health --live
expect_rc 1 "health --live of a replica that cannot catch up (a liveness probe restarts it)"
out_has '^unhealthy: cannot catch up: the WAL it needs is gone on the primary; restart the container to re-seed' \
    "health --live of a replica that cannot catch up"

stop r INT
launch_replica r "$NS_R" "$R_ADDR" "$R_PORT" "$WORK/r"
wait_ready r 60
assert_log_has "${ILOG[r]}" "can no longer catch up.*discarding this copy and cloning again" "the restart did not re-seed"
rows=$(q p "select count(*) from t")
poll 30 "every row reaches the re-seeded replica" q_is r "select count(*) from t" "$rows"
poll 30 "the re-seeded replica streams" q_is r 'select status from pg_stat_wal_receiver' streaming
run_bin "$NS_R" "${R_ENV[@]}" -- health
expect_rc 0 "health of the re-seeded replica"
stop r INT
assert_no_secret "$WORK"/*.log
log "PASS"
