#!/usr/bin/env bash
# The old primary started right after the promotion, while the promoted
# replica has not yet written its first checkpoint on the new timeline
# (it has thousands of buffers dirtied by replay, and the checkpoint after a
# promotion is a spread one). pg_rewind reads the source's timeline from
# its pg_control, which names the old timeline until that checkpoint; a
# rewind run then says "source and target cluster are on the same timeline
# ... no rewind required" and leaves the old primary with its divergent row,
# a standby that cannot stream (found with this drill on 15). What must
# hold: the old primary never accepts writes, ends up streaming from the new
# primary without its divergent row, and its log reports the discarded range.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init failover-busy "${PGEP_E2E_PORT_FAILOVER_BUSY:-47554}"
e2e_require_images

up_streaming_pair before
# replayed on the replica: buffers that its checkpoint after the promotion
# writes at the spread pace (about 0.1 s each when on schedule)
psql_tcp "$primary" "CREATE TABLE ballast AS SELECT g, repeat(md5(g::text), 20) AS pad FROM generate_series(1, 3000) g" >/dev/null
insert_row "$primary" ballast-done
wait_row "$replica" ballast-done 60

diverge_and_stop_primary divergent
promote_ok replica
since=$(date +%s.%N)
compose start primary || fail "compose start primary failed"
log "the new primary's pg_control names timeline $(psql_sock "$replica" "SELECT timeline_id FROM pg_control_checkpoint()") when the old primary starts"
insert_row "$replica" after-promote
wait_for 420 "the old primary rejoined and streams" rejoining "$primary" "$replica" ||
    fail "the old primary does not stream from the new one within 420 s"
rejoin=$(entrypoint_log "$primary" "$since")
printf '%s\n' "$rejoin" | sed 's/^/    rejoin: /' >&3
no_row "$primary" divergent || fail "the rejoined old primary still has its divergent row"
has_row "$primary" after-promote || fail "the row written after the promotion is missing on the old primary"
grep -qE 'discarded .*WAL of timeline [0-9]+ from' <<<"$rejoin" ||
    fail "the old primary's log does not report the discarded range"
insert_row "$replica" after-rejoin
wait_row "$primary" after-rejoin 60
assert_writable "after the rejoin" "$replica"
