#!/usr/bin/env bash
# `up --scale replica=2`, with passwords of our own in the environment (as
# the compose file's comment tells users to): both replicas stream, each
# through its own active slot on the primary.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init scale-two "${PGEP_E2E_PORT_SCALE_TWO:-47545}"
e2e_require_images
export POSTGRES_PASSWORD=e2e-scale-superuser-$$ POSTGRES_REPLICATION_PASSWORD=e2e-scale-repl-$$
PRIMARY_PASSWORD=$POSTGRES_PASSWORD

t0=$(now)
start_stack --scale replica=2
primary=$(cid primary)
mapfile -t replicas < <(compose ps -a -q replica)
[ "${#replicas[@]}" -eq 2 ] || fail "expected 2 replica containers, found ${#replicas[@]}"

insert_row "$primary" one
for r in "${replicas[@]}"; do
    wait_row "$r" one 90
    wait_streaming "$r" 30
done
insert_row "$primary" two
for r in "${replicas[@]}"; do
    wait_row "$r" two 30
done
log "up -> both replicas streamed: $(elapsed "$t0") s"

# each replica streams through its own slot, and the primary has both active
s1=$(psql_sock "${replicas[0]}" "SELECT slot_name FROM pg_stat_wal_receiver")
s2=$(psql_sock "${replicas[1]}" "SELECT slot_name FROM pg_stat_wal_receiver")
log "slots used by the replicas: '$s1' '$s2'"
if [ -z "$s1" ] || [ -z "$s2" ]; then fail "a replica streams without a slot ('$s1', '$s2')"; fi
[ "$s1" != "$s2" ] || fail "both replicas use the same slot '$s1'"
active=$(active_slots "$primary")
log "active slots on the primary: ${active//$'\n'/ }"
nactive=$(printf '%s\n' "$active" | grep -c . || true)
[ "$nactive" -eq 2 ] || fail "the primary has $nactive active slots, not 2: ${active//$'\n'/ }"
[ "$(printf '%s\n%s\n' "$s1" "$s2" | sort)" = "$active" ] ||
    fail "the primary's active slots (${active//$'\n'/ }) are not the replicas' ($s1, $s2)"
n=$(psql_tcp "$primary" "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
[ "$n" = 2 ] || fail "the primary's pg_stat_replication shows $n streaming standbys, not 2"
# each its own data directory: a file in one is not in the other
docker exec -u postgres "${replicas[0]}" touch /var/lib/postgresql/data/e2e-only-in-first
if docker exec "${replicas[1]}" test -e /var/lib/postgresql/data/e2e-only-in-first; then
    fail "the two replicas share one data directory"
fi
