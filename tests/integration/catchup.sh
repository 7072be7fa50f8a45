#!/bin/bash
# catchup: a standby decides at start whether it can still catch up
# (entrypoint/catchup.c). The primary keeps at most 64 MB of WAL for slots
# (POSTGRES_MAX_SLOT_WAL_KEEP_SIZE) and 16 MB besides (POSTGRES_WAL_KEEP_SIZE):
#  (1) a replica down briefly (two segments written and a checkpoint) is
#      started as is: the log says the primary still has its WAL, nothing is
#      cloned, a file dropped into its PGDATA survives, and it streams;
#  (2) two replicas stopped while the primary writes eight segments and
#      checkpoints: their slots are invalidated ("lost") and their WAL goes;
#      `plan` names the LSN the start then reports (with --ask-primary, the
#      primary's answer, and the slot stays lost); under
#      POSTGRES_RESEED=never the first refuses with exit 1, both LSNs and the
#      fix, and its PGDATA is untouched;
#  (3) under POSTGRES_RESEED=auto the second logs ONE warning with both LSNs,
#      drops and re-creates its lost slot (logged), re-seeds, has every row
#      and streams; its slot reserves WAL again.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"
it_setup 85
net_pair
P_PORT=55860
KEEP=(POSTGRES_MAX_SLOT_WAL_KEEP_SIZE=64MB POSTGRES_WAL_KEEP_SIZE=16MB)

launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p" "${KEEP[@]}"
wait_ready p
q p "create table t (id int primary key, v text); insert into t values (1, 'first')"
launch_replica r1 "$NS_R" "$R_ADDR" 55861 "$WORK/r1"
launch_replica r2 "$NS_R" "$R_ADDR" 55862 "$WORK/r2" POSTGRES_RESEED=never
launch_replica r3 "$NS_R" "$R_ADDR" 55863 "$WORK/r3"
for r in r1 r2 r3; do
    wait_ready "$r" 60
    poll 30 "the first row reaches $r" q_is "$r" "select v from t where id = 1" first
done

# WAL segments: a row, then a switch to the next segment; a checkpoint then
# removes what neither a slot nor wal_keep_size holds.
segments()
{
    local i
    for i in $(seq 1 "$1"); do
        q p "insert into t select g, 'bulk' from generate_series($2 + $i * 1000, $2 + $i * 1000 + 999) g" &&
            q p "select pg_switch_wal()" >/dev/null
    done
    q p "checkpoint"
}

# ---- (1) a brief outage ---------------------------------------------------------------
stop r3 INT
echo "left by the user" >"$WORK/r3/itest-brief-marker"
segments 2 100000
launch_replica r3 "$NS_R" "$R_ADDR" 55863 "$WORK/r3"
wait_ready r3 60
assert_log_has "${ILOG[r3]}" "the primary at $P_ADDR:$P_PORT still has the WAL this standby needs \(from [0-9A-F]+/[0-9A-F]+ on timeline 1; the primary is at [0-9A-F]+/[0-9A-F]+\)" \
    "(1) the start did not ask the primary about its WAL"
assert_log_lacks "${ILOG[r3]}" "$(step_re '(clone|wipe)')" "(1) the briefly stopped replica was cloned again"
[ -f "$WORK/r3/itest-brief-marker" ] || fail "(1) the file left in PGDATA is gone"
rows=$(q p "select count(*) from t")
poll 30 "(1) every row reaches r3" q_is r3 "select count(*) from t" "$rows"
poll 30 "(1) r3 streams" q_is r3 'select status from pg_stat_wal_receiver' streaming
stop r3 INT

# ---- (2) and (3): a long outage -------------------------------------------------------
stop r1 INT
stop r2 INT
echo "from the old copy" >"$WORK/r1/itest-old-copy"
segments 8 200000
poll 20 "the stopped replicas' slots are invalidated" \
    q_is p "select string_agg(wal_status, ',' order by slot_name) from pg_replication_slots where slot_name in ('r1', 'r2')" 'lost,lost'
rows=$(q p "select count(*) from t")

# plan names the LSN the start then reports, and what it would do.
run_bin "$NS_R" PGDATA="$WORK/r2" POSTGRES_PRIMARY_HOST="$P_ADDR" POSTGRES_PRIMARY_PORT="$P_PORT" \
    POSTGRES_REPLICATION_PASSWORD="$REPLPW" HOSTNAME=r2 POSTGRES_RESEED=never -- plan
expect_rc 0 "(2) plan"
out_has '^  [0-9]+\. if the primary invalidated that slot \(wal_status lost\): drop it and create it again$' "(2) plan: the slot"
out_has '^  [0-9]+\. ask whether the primary still has the WAL from [0-9A-F]+/[0-9A-F]+ on timeline 1 .*if it is gone: refuse, exit 1 \(POSTGRES_RESEED=never\)$' "(2) plan: the WAL"
plan_lsn=$(sed -nE 's/.*still has the WAL from ([0-9A-F]+\/[0-9A-F]+) .*/\1/p' <<<"$RUN_OUT")
# --ask-primary: the primary's answer, read only (the slot stays lost).
run_bin "$NS_R" PGDATA="$WORK/r2" POSTGRES_PRIMARY_HOST="$P_ADDR" POSTGRES_PRIMARY_PORT="$P_PORT" \
    POSTGRES_REPLICATION_PASSWORD="$REPLPW" HOSTNAME=r2 POSTGRES_RESEED=never -- plan --ask-primary
expect_rc 0 "(2) plan --ask-primary"
out_has "^  [0-9]+\. \(the primary at $P_ADDR:$P_PORT, asked now: it is at [0-9A-F]+/[0-9A-F]+, the slot is lost \(invalidated\), the WAL from $plan_lsn is gone: a start would refuse\)$" \
    "(2) plan --ask-primary"
q_is p "select wal_status from pg_replication_slots where slot_name = 'r2'" lost || fail "(2) plan --ask-primary changed r2's slot"

before=$(snapshot "$WORK/r2")
launch_replica r2 "$NS_R" "$R_ADDR" 55862 "$WORK/r2" POSTGRES_RESEED=never
expect_exit r2 30 1 "(2) a refusal under POSTGRES_RESEED=never"
assert_log_has "${ILOG[r2]}" "ERROR.*is a standby that can no longer catch up: it needs the primary's WAL from [0-9A-F]+/[0-9A-F]+ \(timeline 1\), which the primary at $P_ADDR:$P_PORT has removed \(\"requested WAL segment [0-9A-F]{24} has already been removed\"; the primary is at [0-9A-F]+/[0-9A-F]+.*POSTGRES_RESEED=never; hint: set POSTGRES_RESEED=auto" \
    "(2) the refusal does not give the facts and the fix"
assert_log_has "${ILOG[r2]}" "it needs the primary's WAL from $plan_lsn " "(2) the start's LSN is not the plan's ($plan_lsn)"
assert_log_lacks "${ILOG[r2]}" "$(step_re '(clone|wipe)')" "(2) r2 cloned under POSTGRES_RESEED=never"
[ "$(snapshot "$WORK/r2")" = "$before" ] || fail "(2) r2's PGDATA changed"

launch_replica r1 "$NS_R" "$R_ADDR" 55861 "$WORK/r1"
wait_ready r1 60
assert_log_has "${ILOG[r1]}" "replication slot \"r1\" on the primary was invalidated \(wal_status lost.*dropped it and created it again" \
    "(3) the lost slot was not renewed, or not logged"
assert_log_has "${ILOG[r1]}" "WARNING.*is a standby that can no longer catch up: it needs the primary's WAL from [0-9A-F]+/[0-9A-F]+ \(timeline 1\), which the primary at $P_ADDR:$P_PORT has removed .*the primary is at [0-9A-F]+/[0-9A-F]+.*discarding this copy and cloning again" \
    "(3) no warning with both LSNs and the reason"
n=$(grep -Ec "\\[pg-entrypoint\\] WARNING +data: .*can no longer catch up" "${ILOG[r1]}" || true)
[ "$n" = 1 ] || fail "(3) $n warnings that it cannot catch up, want one"
assert_log_has "${ILOG[r1]}" "$(step_re clone)done in" "(3) r1 did not clone again"
[ ! -e "$WORK/r1/itest-old-copy" ] || fail "(3) a file of the old copy survived the re-seed"
poll 30 "(3) every row reaches r1" q_is r1 "select count(*) from t" "$rows"
q p "insert into t values (2, 'after the re-seed')"
poll 30 "(3) a row written after the re-seed reaches r1" q_is r1 "select v from t where id = 2" 'after the re-seed'
poll 30 "(3) r1 streams" q_is r1 'select status from pg_stat_wal_receiver' streaming
[ "$(q p "select wal_status from pg_replication_slots where slot_name = 'r1'")" != lost ] ||
    fail "(3) r1's slot is still lost"
stop r1 INT
assert_no_secret "$WORK"/*.log
log "PASS"
