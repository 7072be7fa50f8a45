#!/usr/bin/env bash
# Followers follow, with the quick-start compose file scaled to two
# replicas: the primary stops, `docker compose exec --index 1 -u postgres
# replica pg-entrypoint promote`, and the second replica streams from the
# promoted one without a restart (a row written on it arrives, on the new
# timeline); then the old primary, started again, rejoins as a standby of
# the promoted replica. `replica` in POSTGRES_PEERS names both replica
# containers (compose's DNS answers with every one), which is what lets the
# second one find the first. At every step at most one server accepts writes.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init failover-follow "${PGEP_E2E_PORT_FAILOVER_FOLLOW:-47553}"
e2e_require_images

start_stack --scale replica=2
primary=$(cid primary)
# replica_number N: the id of replica container number N (what `exec --index N` runs in)
replica_number() {
    docker ps -q --filter "label=com.docker.compose.project=$PROJECT" \
        --filter label=com.docker.compose.service=replica --filter "label=com.docker.compose.container-number=$1"
}
r1=$(replica_number 1)
r2=$(replica_number 2)
if [ -z "$r1" ] || [ -z "$r2" ]; then fail "expected replica containers number 1 and 2 (got '$r1' '$r2')"; fi
insert_row "$primary" one
for r in "$r1" "$r2"; do
    wait_row "$r" one 90
    wait_streaming "$r" 30
done
assert_writable "up" "$primary"
r2_started=$(docker inspect -f '{{.State.StartedAt}}' "$r2")

compose stop primary || fail "compose stop primary failed"
assert_writable "primary stopped" # none
PROMOTE_RC=0
PROMOTE_OUT=$(compose exec -T --index 1 -u postgres replica pg-entrypoint promote 2>&1) || PROMOTE_RC=$?
printf '%s\n' "$PROMOTE_OUT" | sed 's/^/    promote replica 1: /' >&3
[ "$PROMOTE_RC" -eq 0 ] || fail "pg-entrypoint promote on replica 1 exited $PROMOTE_RC"
[[ $PROMOTE_OUT =~ promoted:\ now\ a\ primary\ on\ timeline\ ([0-9]+) ]] ||
    fail "promote did not print 'promoted: now a primary on timeline N'"
tli=${BASH_REMATCH[1]}
assert_writable "after promote" "$r1"

insert_row "$r1" after-promote
follows() {
    has_row "$r2" after-promote &&
        [ "$(psql_sock "$r2" "SELECT status || ' ' || received_tli FROM pg_stat_wal_receiver")" = "streaming $tli" ]
}
wait_for 60 "$(cname "$r2") streams timeline $tli from the promoted replica" follows ||
    fail "the second replica does not stream from the promoted one within 60 s ($(psql_sock "$r2" "SELECT status, received_tli, sender_host FROM pg_stat_wal_receiver" 2>&1))"
[ "$(docker inspect -f '{{.State.StartedAt}} {{.RestartCount}}' "$r2")" = "$r2_started 0" ] ||
    fail "the second replica was restarted to follow"
in_recovery "$r2" || fail "the second replica left recovery"
slot=$(psql_sock "$r2" "SELECT slot_name FROM pg_stat_wal_receiver")
[ -n "$slot" ] || fail "the second replica follows without a slot"
[ "$(psql_sock "$r1" "SELECT active FROM pg_replication_slots WHERE slot_name = '$slot'")" = t ] ||
    fail "the second replica's slot '$slot' is not active on the promoted replica"
assert_writable "the second replica follows" "$r1"

compose start primary || fail "compose start primary failed"
wait_for 180 "the old primary rejoined and streams" rejoining "$primary" "$r1" ||
    fail "the old primary does not stream from the promoted replica within 180 s"
insert_row "$r1" after-rejoin
wait_row "$primary" after-rejoin 60
wait_row "$r2" after-rejoin 60
assert_writable "after the rejoin" "$r1"
