#!/usr/bin/env bash
# `up -d` of the compose file as the README's quick start has it (default
# passwords): a row written on the primary through its published port is read
# on the replica, which streams, and in both containers PID 1 is postgres
# running as uid 999. The replica starts with the primary, not once it is
# healthy: it waits for it by itself (its log says so), which saves up to a
# health interval. Prints the seconds from `up` to the replayed row.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init compose-up "${PGEP_E2E_PORT_COMPOSE_UP:-47541}"
e2e_require_images

t0=$(now)
start_stack
primary=$(cid primary)
replica=$(cid replica)

# The client on the host's side of the published ports: the host's psql, or,
# when the host has none, psql in a throwaway container of the primary's
# image on the host's network (it reaches 127.0.0.1:PORT as the host does).
# Either way every check below runs; the password goes by environment (only
# the name PGPASSWORD is on docker's command line).
if command -v psql >/dev/null 2>&1; then
    HOST_PSQL=(psql)
    log "client for the published ports: the host's psql"
else
    image=$(docker inspect -f '{{.Config.Image}}' "$primary")
    HOST_PSQL=(docker run --rm --network host -e PGPASSWORD -e PGCONNECT_TIMEOUT --entrypoint psql "$image")
    log "no psql on this host (apt-get install postgresql-client-15): the published ports are read by psql in a container of $image on the host's network"
fi
# published_psql PORT SQL: over TCP to 127.0.0.1:PORT with the password.
published_psql() {
    PGPASSWORD=$DEFAULT_POSTGRES_PASSWORD PGCONNECT_TIMEOUT=5 \
        "${HOST_PSQL[@]}" -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$1" -U postgres -d postgres -Atqc "$2"
}

# Write the way a user does: TCP to 127.0.0.1:PRIMARY_PORT with the password.
write_published() { published_psql "$PRIMARY_PORT" "$(insert_sql first)" | grep -qx 1; }
wait_for 60 "row 'first' written through 127.0.0.1:$PRIMARY_PORT" write_published ||
    fail "could not write on the primary through 127.0.0.1:$PRIMARY_PORT within 60 s"
wait_row "$replica" first 60
log "up -> row replayed on the replica: $(elapsed "$t0") s"
# (grep the whole log, no early exit: with pipefail, `docker logs | grep -q`
# fails when grep -q closes the pipe before docker logs is done writing)
grep -qF 'waiting for the primary' <<<"$(docker logs "$replica" 2>&1)" ||
    fail "the replica never waited for the primary: compose started it only once the primary was up"

wait_streaming "$replica" 30
# Written after the replica streams: it can only arrive by streaming.
insert_row "$primary" second
wait_row "$replica" second 30
log "up -> second row streamed to the replica: $(elapsed "$t0") s"

# The README: each replica gets a free port on 127.0.0.1 (`compose port`).
addr=$(compose port replica 5432)
[[ $addr =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "compose port replica 5432 says '$addr', not 127.0.0.1:PORT"
got=$(published_psql "${addr#*:}" "SELECT count(*) FROM e2e WHERE x IN ('first', 'second')") ||
    fail "could not read the replica through its published port $addr"
[ "$got" = 2 ] || fail "the replica's published port $addr shows $got of the 2 rows"
log "read both rows on the replica through $addr"

in_recovery "$replica" || fail "the replica is not in recovery"
[ "$(psql_tcp "$primary" "SELECT pg_is_in_recovery()")" = f ] || fail "the primary is in recovery"
n=$(psql_tcp "$primary" "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
[ "$n" = 1 ] || fail "the primary's pg_stat_replication shows $n streaming standbys, not 1"

assert_pid1_postgres "$replica"
assert_pid1_postgres "$primary"
