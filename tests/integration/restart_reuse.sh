#!/bin/bash
# restart_reuse: stopping and restarting a primary and its replica keeps
# their data: the second start neither initialises nor clones (the log says
# the data was reused, and has no initdb or pg_basebackup step), a file the
# user left in the replica's PGDATA survives, and replication resumes: a row
# written after the restart reaches the replica.
source "$(dirname "$0")/lib.sh"
it_setup 310
net_pair
P_PORT=55430
R_PORT=55431

# First run: initialise and clone, as replica_clone checks in detail.
launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p"
wait_ready p
q p "create table t (id int primary key, v text); insert into t values (1, 'first run')"
launch_replica r "$NS_R" "$R_ADDR" "$R_PORT" "$WORK/r"
wait_ready r
assert_log_has "${ILOG[p]}" "$(step_re initdb)done in" "the first primary start ran initdb"
assert_log_has "${ILOG[r]}" "$(step_re clone)done in" "the first replica start cloned"
poll 20 "the first row reaches the replica" q_is r 'select v from t where id = 1' 'first run'
sysid=$(q r 'select system_identifier from pg_control_system()')

# Stop both (replica first, as an orchestrator would), politely.
stop r INT
[ "$EXIT_RC" = 0 ] || fail "the replica exited with status $EXIT_RC on SIGINT"
stop p INT
[ "$EXIT_RC" = 0 ] || fail "the primary exited with status $EXIT_RC on SIGINT"

marker="$WORK/r/itest-user-marker"
echo "left here by the user $RANDOM" >"$marker"
chown postgres: "$marker"
marker_before=$(sha256sum <"$marker")

# Second run.
launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p"
wait_ready p
launch_replica r "$NS_R" "$R_ADDR" "$R_PORT" "$WORK/r"
wait_ready r
plog=${ILOG[p]}
rlog=${ILOG[r]}
log "second run logs: $(basename "$plog"), $(basename "$rlog")"

assert_log_has "$plog" 'holds a cluster; reusing it without initialisation' "the primary reused its data"
assert_log_lacks "$plog" "$(step_re initdb)" "the restarted primary ran initdb"
assert_log_lacks "$plog" "$(step_re bootstrap)" "the restarted primary ran the bootstrap"
assert_log_has "$rlog" "is a standby of system $sysid; starting it as is, without a clone" "the replica reused its data"
assert_log_lacks "$rlog" "$(step_re '(clone|wipe)')" "the restarted replica cloned or wiped"
assert_log_lacks "$rlog" 'pg_basebackup' "the restarted replica ran pg_basebackup"

[ -f "$marker" ] || fail "the file left in the replica's PGDATA is gone"
[ "$(sha256sum <"$marker")" = "$marker_before" ] || fail "the file left in the replica's PGDATA changed"
[ "$(q r 'select system_identifier from pg_control_system()')" = "$sysid" ] || fail "the replica's system identifier changed"

[ "$(q r 'select v from t where id = 1')" = 'first run' ] || fail "the first row is gone from the replica"
q p "insert into t values (2, 'after restart')"
poll 20 "a row written after the restart reaches the replica" q_is r 'select v from t where id = 2' 'after restart'
poll 20 "the WAL receiver is streaming again" q_is r 'select status from pg_stat_wal_receiver' streaming
assert_no_secret "$plog" "$rlog"
log "PASS"
