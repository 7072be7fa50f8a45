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

# Write the way a user does: TCP to 127.0.0.1:PRIMARY_PORT with the password
# (host psql when present, else the psql inside the primary's container).
write_published() {
    PGPASSWORD=$DEFAULT_POSTGRES_PASSWORD PGCONNECT_TIMEOUT=5 \
        psql -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PRIMARY_PORT" -U postgres -d postgres \
        -Atqc "$(insert_sql first)" | grep -qx 1
}
if command -v psql >/dev/null 2>&1; then
    wait_for 60 "row 'first' written through 127.0.0.1:$PRIMARY_PORT" write_published ||
        fail "could not write on the primary through 127.0.0.1:$PRIMARY_PORT within 60 s"
else
    log "no psql on this host (apt-get install postgresql-client-15); writing inside the container"
    insert_row "$primary" first
fi
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
if command -v psql >/dev/null 2>&1; then
    addr=$(compose port replica 5432)
    [[ $addr =~ ^127\.0\.0\.1:[0-9]+$ ]] || fail "compose port replica 5432 says '$addr', not 127.0.0.1:PORT"
    got=$(PGPASSWORD=$DEFAULT_POSTGRES_PASSWORD PGCONNECT_TIMEOUT=5 psql -X -h 127.0.0.1 -p "${addr#*:}" \
        -U postgres -d postgres -Atqc "SELECT count(*) FROM e2e WHERE x IN ('first', 'second')") ||
        fail "could not read the replica through its published port $addr"
    [ "$got" = 2 ] || fail "the replica's published port $addr shows $got of the 2 rows"
    log "read both rows on the replica through $addr"
fi

in_recovery "$replica" || fail "the replica is not in recovery"
[ "$(psql_tcp "$primary" "SELECT pg_is_in_recovery()")" = f ] || fail "the primary is in recovery"
n=$(psql_tcp "$primary" "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
[ "$n" = 1 ] || fail "the primary's pg_stat_replication shows $n streaming standbys, not 1"

assert_pid1_postgres "$replica"
assert_pid1_postgres "$primary"
