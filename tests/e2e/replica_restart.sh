#!/usr/bin/env bash
# A restarted replica starts as is: a file dropped into its PGDATA survives,
# its second start logs "starting it as is" and no pg_basebackup clone step,
# and a row written on the primary after the restart arrives.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init replica-restart "${PGEP_E2E_PORT_REPLICA_RESTART:-47542}"
e2e_require_images

up_streaming_pair before
sysid_before=$(psql_sock "$replica" "SELECT system_identifier FROM pg_control_system()")
replica_pgdata=$(pgdata "$replica")

docker exec -u postgres "$replica" touch "$replica_pgdata"/e2e-marker ||
    fail "could not create a file in the replica's PGDATA"

since=$(date +%s.%N)
t=$(now)
compose restart replica || fail "compose restart replica failed"
log "compose restart replica: $(elapsed "$t") s"
[ "$(cid replica)" = "$replica" ] || fail "the replica container was replaced, not restarted"

wait_for 60 "replica accepts connections again" psql_sock "$replica" "SELECT 1" ||
    fail "the restarted replica did not accept connections within 60 s"
docker exec "$replica" test -f "$replica_pgdata"/e2e-marker ||
    fail "the file dropped into the replica's PGDATA is gone after the restart (wiped/re-cloned)"

second=$(docker logs --since "$since" "$replica" 2>&1)
printf '%s\n' "$second" | grep -F '[pg-entrypoint]' | sed 's/^/    second start: /' >&2
grep -qF 'starting it as is' <<<"$second" ||
    fail "the replica's second start does not log 'starting it as is'"
if grep -F 'pg_basebackup' <<<"$second" >&2; then
    fail "the replica's second start ran a pg_basebackup clone step (lines above)"
fi
[ "$(psql_sock "$replica" "SELECT system_identifier FROM pg_control_system()")" = "$sysid_before" ] ||
    fail "the replica's system identifier changed across the restart"

insert_row "$primary" after
wait_row "$replica" after 60
wait_streaming "$replica" 30
assert_pid1_postgres "$replica"
