#!/usr/bin/env bash
# The one run of the README quick start under Compose v1 (`docker-compose`
# 1.x, what Debian bookworm ships; the rest of the tier runs under v2):
# `docker-compose up -d --no-build`, a row written on the primary is read on
# the replica, and `docker-compose down -v` removes the containers, the
# network and the volumes. Skipped (CTest skip, exit 77) when v1 is absent.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
E2E_COMPOSE=v1
if ! compose_v1_version >/dev/null; then
    echo "SKIPPED: Compose v1 ('docker-compose' 1.x) is not installed (apt-get install docker-compose)" >&2
    exit 77
fi
e2e_init compose-v1 "${PGEP_E2E_PORT_COMPOSE_V1:-47620}"
e2e_require_images
log "docker-compose $(compose_v1_version)"

t0=$(now)
start_stack
primary=$(cid primary)
replica=$(cid replica)
insert_row "$primary" first 120
wait_row "$replica" first 120
log "compose_v1_quickstart: up -> row on replica: $(elapsed "$t0") s"
wait_streaming "$replica" 60

# the named volume of the primary and the replica's anonymous one (the image's VOLUME)
mapfile -t volumes < <(docker inspect -f '{{range .Mounts}}{{if eq .Type "volume"}}{{println .Name}}{{end}}{{end}}' \
    "$primary" "$replica" | grep .)
[ ${#volumes[@]} -ge 2 ] || fail "expected a volume for each of primary and replica, found: ${volumes[*]}"
compose down -v || fail "docker-compose down -v failed"
left=$(project_containers)
[ -z "$left" ] || fail "containers left after docker-compose down -v: $left"
for v in "${volumes[@]}"; do
    if docker volume inspect "$v" >/dev/null 2>&1; then
        fail "volume $v is left after docker-compose down -v"
    fi
done
left=$(docker network ls -q --filter "label=com.docker.compose.project=$PROJECT")
[ -z "$left" ] || fail "networks left after docker-compose down -v: $left"
log "docker-compose down -v removed the containers, the network and the volumes"
