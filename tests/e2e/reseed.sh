#!/usr/bin/env bash
# Re-seed of a streaming replica: recreated with POSTGRES_RESEED=force (an
# override file next to the compose file; compose keeps the replica's volume
# across the recreate), it removes its old copy (a file dropped into its
# PGDATA is gone), clones again from the primary (a new pg_basebackup), and
# streams: a row written after the re-seed arrives. Runs per major (PG_MAJOR).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init reseed "${PGEP_E2E_PORT_RESEED:-47549}"
e2e_require_images

up_streaming_pair before
replica_pgdata=$(pgdata "$replica")
docker exec -u postgres "$replica" touch "$replica_pgdata"/e2e-old-copy ||
    fail "could not create a file in the replica's PGDATA"
volume_before=$(docker inspect -f '{{range .Mounts}}{{.Name}} {{end}}' "$replica")

override=$E2E_TMP/reseed-force.yml
printf 'services:\n  replica:\n    environment:\n      POSTGRES_RESEED: force\n' >"$override"
compose() { "${COMPOSE[@]}" --ansi never -f "$COMPOSE_YML" -f "$override" -p "$PROJECT" "$@"; }
since=$(date +%s.%N)
t=$(now)
compose up -d --no-build --force-recreate --no-deps replica || fail "compose up --force-recreate replica failed"
replica=$(cid replica)
[ "$(docker inspect -f '{{range .Mounts}}{{.Name}} {{end}}' "$replica")" = "$volume_before" ] ||
    fail "the recreated replica has another volume: compose did not keep the old copy, nothing to re-seed"

wait_streaming "$replica" 120
log "recreate with POSTGRES_RESEED=force -> streaming: $(elapsed "$t") s"
second=$(docker logs --since "$since" "$replica" 2>&1)
printf '%s\n' "$second" | grep -F '[pg-entrypoint]' | sed 's/^/    re-seed: /' >&2
grep -qF "removing the old contents of \"$replica_pgdata\"" <<<"$second" ||
    fail "the re-seeded replica's log does not say it removed its old copy in $replica_pgdata"
grep -qF 'pg_basebackup' <<<"$second" || fail "the re-seeded replica's log shows no pg_basebackup clone step"
if docker exec "$replica" test -e "$replica_pgdata"/e2e-old-copy; then
    fail "a file of the old copy survived the re-seed"
fi
has_row "$replica" before || fail "the row written before the re-seed is missing on the new copy"
insert_row "$primary" after
wait_row "$replica" after 60
in_recovery "$replica" || fail "the re-seeded replica is not in recovery"
assert_pid1_postgres "$replica"
