#!/usr/bin/env bash
# Followers follow, with the quick-start compose file and a second replica
# service added as the README's "More replicas" shows (`replica2`, extending
# `replica`, every service naming the others in POSTGRES_PEERS): the
# primary stops, `docker compose exec -u postgres replica pg-entrypoint
# promote`, and replica2 streams from the promoted replica without a restart
# (a row written on it arrives, on the new timeline, through replica2's own
# slot, active there); then the old primary, started again, rejoins as a
# standby of the promoted replica, and replica2 still streams. At every
# step at most one server accepts writes.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init failover-follow "${PGEP_E2E_PORT_FAILOVER_FOLLOW:-47553}"
e2e_require_images

override=$E2E_TMP/more-replicas.yml
# (`extends` with `file:`: compose resolves it within one file; in
# docker-compose.yml itself, `service: replica` alone does)
cat >"$override" <<YAML
services:
  primary:
    environment:
      POSTGRES_PEERS: replica,replica2
  replica:
    environment:
      POSTGRES_PEERS: primary,replica2
  replica2:
    extends:
      file: $COMPOSE_YML
      service: replica
    environment:
      POSTGRES_PEERS: primary,replica
YAML
compose() { "${COMPOSE[@]}" --ansi never -f "$COMPOSE_YML" -f "$override" -p "$PROJECT" "$@"; }
compose config -q || fail "compose config with the more-replicas override failed"

start_stack
primary=$(cid primary)
r1=$(cid replica)
r2=$(cid replica2)
insert_row "$primary" one
for r in "$r1" "$r2"; do
    wait_row "$r" one 90
    wait_streaming "$r" 30
done
assert_writable "up" "$primary"
r2_started=$(docker inspect -f '{{.State.StartedAt}}' "$r2")

compose stop primary || fail "compose stop primary failed"
assert_writable "primary stopped" # none
promote_ok replica
tli=$PROMOTED_TLI
assert_writable "after promote" "$r1"

insert_row "$r1" after-promote
follows() {
    has_row "$r2" after-promote &&
        [ "$(psql_sock "$r2" "SELECT status || ' ' || received_tli FROM pg_stat_wal_receiver")" = "streaming $tli" ]
}
wait_for 60 "$(cname "$r2") streams timeline $tli from the promoted replica" follows ||
    fail "replica2 does not stream from the promoted one within 60 s ($(psql_sock "$r2" "SELECT status, received_tli, sender_host FROM pg_stat_wal_receiver" 2>&1))"
[ "$(docker inspect -f '{{.State.StartedAt}} {{.RestartCount}}' "$r2")" = "$r2_started 0" ] ||
    fail "replica2 was restarted to follow"
in_recovery "$r2" || fail "replica2 left recovery"
slot=$(psql_sock "$r2" "SELECT slot_name FROM pg_stat_wal_receiver")
[ -n "$slot" ] || fail "replica2 follows without a slot"
[ "$(psql_sock "$r1" "SELECT active FROM pg_replication_slots WHERE slot_name = '$slot'")" = t ] ||
    fail "replica2's slot '$slot' is not active on the promoted replica"
assert_writable "replica2 follows" "$r1"

compose start primary || fail "compose start primary failed"
wait_for 180 "the old primary rejoined and streams" rejoining "$primary" "$r1" ||
    fail "the old primary does not stream from the promoted replica within 180 s"
insert_row "$r1" after-rejoin
wait_row "$primary" after-rejoin 60
wait_row "$r2" after-rejoin 60
is_streaming "$r2" || fail "replica2 does not stream after the old primary rejoined"
assert_writable "after the rejoin" "$r1"
