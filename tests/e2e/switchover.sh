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
promote_ok replica
assert_writable "after promote" "$replica"
for row in before last-before-stop; do
    has_row "$replica" "$row" || fail "row '$row' was lost in the switchover"
done
insert_row "$replica" after-promote

start_rejoining "$replica"
rejoin=$REJOIN_LOG
if grep -qi 'rewind' <<<"$rejoin" && ! grep -qF 'no rewind required' <<<"$rejoin"; then
    fail "the old primary was rewound after a clean switchover (no 'no rewind required' in its log)"
fi
if grep -F 'pg_basebackup' <<<"$rejoin" >&3; then
    fail "the old primary was re-cloned (pg_basebackup, lines above) after a clean switchover"
fi
for row in before last-before-stop after-promote; do
    has_row "$primary" "$row" || fail "row '$row' is missing on the rejoined old primary"
done
rejoined "$replica"
