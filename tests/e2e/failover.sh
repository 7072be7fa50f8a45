#!/usr/bin/env bash
# Failover with the quick-start compose file, the three steps of issue 13 as
# a user takes them, with one row the old primary alone committed:
#   0. a row on the primary, streamed; then, with the replica paused and its
#      walsender gone, a row on the primary only ('divergent'); stop primary;
#   1. `docker compose exec -u postgres replica pg-entrypoint promote`: exit
#      0, "promoted: now a primary on timeline N", a write works, `health`
#      calls it a promoted primary;
#   2. `docker compose restart replica`: still the primary (its log says
#      why), healthy for Docker;
#   3. `docker compose start primary`: it never accepts writes, rejoins as
#      the standby of `replica` (by pg_rewind, not a clone) streaming through
#      its slot "primary", has every row written after the promotion, has
#      lost 'divergent', and its log reports the discarded range;
#      `pg-entrypoint health` and Docker call both healthy; restarted once
#      more, it is still a standby.
# At every step at most one server accepts writes. Runs per major (PG_MAJOR).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init failover "${PGEP_E2E_PORT_FAILOVER:-47551}"
e2e_require_images

up_streaming_pair before
assert_writable "up" "$primary"

# --- the old primary commits a row the replica never receives -----------------
diverge_and_stop_primary divergent
assert_writable "primary stopped" # none

# --- 1. promote ---------------------------------------------------------------
promote_ok replica
tli=$PROMOTED_TLI
[ "$tli" -ge 2 ] || fail "promote reports timeline $tli, not a new one"
got=$(psql_sock "$replica" "SELECT timeline_id FROM pg_control_checkpoint()")
log "timeline after promote: $tli (pg_control_checkpoint says $got)"
assert_writable "after promote" "$replica"
health_ok "$replica" || fail "pg-entrypoint health on the promoted replica failed: $HEALTH_OUT"
grep -qF 'promoted by pg-entrypoint promote' <<<"$HEALTH_OUT" ||
    fail "health on the promoted node does not say it was promoted: $HEALTH_OUT"
insert_row "$replica" after-promote
# no slot that holds WAL for nobody: the promoted node made none for itself
# (it would, taking itself for a standby, if its own name were in its
# POSTGRES_PEERS)
own=$(psql_sock "$replica" "SELECT slot_name FROM pg_replication_slots WHERE slot_name = current_setting('primary_slot_name')")
[ -z "$own" ] || fail "the promoted node holds a slot named after itself ('$own'): promote took itself for a standby"
has_row "$replica" before || fail "the row written before the failover is missing on the new primary"

# --- 2. restart the promoted replica ------------------------------------------
since=$(date +%s.%N)
compose restart replica || fail "compose restart replica failed"
[ "$(cid replica)" = "$replica" ] || fail "the replica container was replaced, not restarted"
wait_for 60 "restarted replica accepts connections" psql_sock "$replica" "SELECT 1" ||
    fail "the promoted replica did not accept connections within 60 s of its restart"
second=$(entrypoint_log "$replica" "$since")
printf '%s\n' "$second" | sed 's/^/    restart: /' >&3
grep -qF 'the role is primary' <<<"$second" ||
    fail "the promoted replica's start does not log why it is a primary ('the role is primary ...')"
assert_writable "after the restart of the promoted replica" "$replica"
wait_docker_healthy "$replica" 60
insert_row "$replica" after-restart

# --- 3. start the old primary: it rejoins -------------------------------------
start_rejoining "$replica"
rejoin=$REJOIN_LOG
in_recovery "$primary" || fail "the old primary is not in recovery"
grep -qi 'rewind' <<<"$rejoin" || fail "the old primary's log shows no rewind"
if grep -F 'pg_basebackup' <<<"$rejoin" >&3; then
    fail "the old primary was re-cloned (pg_basebackup, lines above), not rewound"
fi
discarded=$(grep -E 'discarded .*WAL of timeline [0-9]+ from [0-9A-F]+/[0-9A-F]+ .*diverged.* to [0-9A-F]+/[0-9A-F]+' <<<"$rejoin") ||
    fail "the old primary's log does not report the discarded range ('discarded ... WAL of timeline N from X (where the servers diverged) to Y')"
log "reported: ${discarded#*\] }"
for row in before after-promote after-restart; do
    has_row "$primary" "$row" || fail "row '$row' is missing on the rejoined old primary"
done
no_row "$primary" divergent || fail "the rejoined old primary still has its divergent row"
slot=$(psql_sock "$primary" "SELECT slot_name FROM pg_stat_wal_receiver")
[ "$slot" = primary ] || fail "the rejoined old primary streams through slot '$slot', not 'primary' (its host name)"
[ "$(psql_sock "$primary" "SELECT received_tli FROM pg_stat_wal_receiver")" = "$tli" ] ||
    fail "the rejoined old primary does not stream timeline $tli"

rejoined "$replica"
assert_pid1_postgres "$primary"

# --- a later restart of the old primary keeps it a standby ---------------------
compose restart primary || fail "compose restart primary failed"
wait_for 120 "the restarted old primary streams again" rejoining "$primary" "$replica" ||
    fail "the old primary does not stream again within 120 s of its restart"
insert_row "$replica" after-second-restart
wait_row "$primary" after-second-restart 60
assert_writable "after the old primary's second restart" "$replica"
