#!/usr/bin/env bash
# Restarting the primary: the replica (not restarted) reconnects by itself,
# streams again, and a row written after the restart arrives.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init primary-restart "${PGEP_E2E_PORT_PRIMARY_RESTART:-47543}"
e2e_require_images

up_streaming_pair before
replica_started=$(docker inspect -f '{{.State.StartedAt}}' "$replica")

t=$(now)
compose restart primary || fail "compose restart primary failed"
log "compose restart primary: $(elapsed "$t") s"
[ "$(cid primary)" = "$primary" ] || fail "the primary container was replaced, not restarted"

insert_row "$primary" after 60
wait_row "$replica" after 60
wait_streaming "$replica" 30
[ "$(docker inspect -f '{{.State.StartedAt}} {{.RestartCount}} {{.State.Running}}' "$replica")" = "$replica_started 0 true" ] ||
    fail "the replica was restarted or stopped while the primary restarted"
has_row "$replica" before || fail "the row written before the primary's restart is gone on the replica"
n=$(psql_tcp "$primary" "SELECT count(*) FROM e2e")
[ "$n" = 2 ] || fail "the primary has $n rows after its restart, not 2"
