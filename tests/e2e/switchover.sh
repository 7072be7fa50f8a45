#!/usr/bin/env bash
# A planned switchover with the quick-start compose file, as the README
# gives it: `promote` refuses while the primary runs (on the primary itself
# too), then `docker compose stop primary` (clean), `docker compose exec -u
# postgres replica pg-entrypoint promote`, `docker compose start primary`.
# No row is lost (the last one was written just before the stop, without
# waiting for the replica), the old primary rejoins as a standby without a
# real rewind ("no rewind required", or none at all) and without a clone,
# and at every step at most one server accepts writes. Runs per major.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init switchover "${PGEP_E2E_PORT_SWITCHOVER:-47552}"
e2e_require_images

up_streaming_pair before
assert_writable "up" "$primary"

# promote refuses on a primary, and on a replica whose primary still runs
promote primary
[ "$PROMOTE_RC" -eq 1 ] || fail "promote on the primary exited $PROMOTE_RC, not 1"
grep -qF 'this node is a primary' <<<"$PROMOTE_OUT" || fail "promote on the primary does not say it is a primary"
promote replica
[ "$PROMOTE_RC" -eq 1 ] || fail "promote on the replica while the primary runs exited $PROMOTE_RC, not 1"
grep -qF 'still accepts writes' <<<"$PROMOTE_OUT" ||
    fail "promote while the primary runs does not say that the primary still accepts writes"
promote replica --force
[ "$PROMOTE_RC" -eq 1 ] || fail "promote --force while the primary runs exited $PROMOTE_RC, not 1"
assert_writable "after the refused promotions" "$primary"
in_recovery "$replica" || fail "the replica left recovery although promote refused"

# --- the switchover -------------------------------------------------------------
insert_row "$primary" last-before-stop
compose stop primary || fail "compose stop primary failed"
assert_writable "primary stopped" # none
promote replica
[ "$PROMOTE_RC" -eq 0 ] || fail "pg-entrypoint promote exited $PROMOTE_RC"
grep -qE 'promoted: now a primary on timeline [0-9]+' <<<"$PROMOTE_OUT" ||
    fail "promote did not print 'promoted: now a primary on timeline N'"
assert_writable "after promote" "$replica"
for row in before last-before-stop; do
    has_row "$replica" "$row" || fail "row '$row' was lost in the switchover"
done
insert_row "$replica" after-promote

since=$(date +%s.%N)
compose start primary || fail "compose start primary failed"
wait_for 180 "the old primary rejoined and streams" rejoining "$primary" "$replica" ||
    fail "the old primary does not stream from the new one within 180 s"
rejoin=$(entrypoint_log "$primary" "$since")
printf '%s\n' "$rejoin" | sed 's/^/    rejoin: /' >&3
if grep -qi 'rewind' <<<"$rejoin" && ! grep -qF 'no rewind required' <<<"$(docker logs --since "$since" "$primary" 2>&1)"; then
    fail "the old primary was rewound after a clean switchover (no 'no rewind required' in its log)"
fi
if grep -F 'pg_basebackup' <<<"$rejoin" >&3; then
    fail "the old primary was re-cloned (pg_basebackup, lines above) after a clean switchover"
fi
for row in before last-before-stop after-promote; do
    has_row "$primary" "$row" || fail "row '$row' is missing on the rejoined old primary"
done
insert_row "$replica" after-rejoin
wait_row "$primary" after-rejoin 60
assert_writable "after the rejoin" "$replica"
health_ok "$primary" || fail "pg-entrypoint health on the rejoined old primary failed: $HEALTH_OUT"
health_ok "$replica" || fail "pg-entrypoint health on the new primary failed: $HEALTH_OUT"
wait_docker_healthy "$primary" 60
