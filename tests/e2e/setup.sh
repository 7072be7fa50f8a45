#!/usr/bin/env bash
# The e2e_images fixture (CTest FIXTURES_SETUP): makes sure a postgres:MAJOR
# base image exists (MAJOR: $PG_MAJOR, default 15; tests/images/build-base-image.sh
# builds one from Debian packages when none can be pulled), then builds the
# project's images once with the compose file (pg-entrypoint-primary:local,
# pg-entrypoint-replica:local; :localMAJOR when PG_MAJOR is set), so the
# tests can run `up --no-build`. The per-major fixtures (e2e_images_17, ...)
# are this script with PG_MAJOR set.
#
# It also removes what an earlier e2e run left behind when it was killed
# before its trap ran (a CTest timeout kills with SIGKILL): compose projects
# and labelled objects named pgep-e2e-*-PID whose PID no longer runs.
set -Eeuo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
E2E_NAME=setup${PG_MAJOR:+-$PG_MAJOR}
e2e_preflight
start=$(now)

# --- leftovers of killed runs ------------------------------------------------
stale() { # NAME -> true when NAME is pgep-e2e-*-PID and PID is gone
    local pid
    [[ $1 =~ ^pgep-e2e-.+-([0-9]+)$ ]] || return 1
    pid=${BASH_REMATCH[1]}
    ! kill -0 "$pid" 2>/dev/null
}
projects=$(docker ps -a --filter label=com.docker.compose.project \
    --format '{{.Label "com.docker.compose.project"}}' | sort -u)
projects+=$'\n'$(docker volume ls --filter label=com.docker.compose.project \
    --format '{{.Label "com.docker.compose.project"}}' | sort -u)
projects+=$'\n'$(docker network ls --filter label=com.docker.compose.project \
    --format '{{.Label "com.docker.compose.project"}}' | sort -u)
for p in $(printf '%s\n' "$projects" | sort -u); do
    if stale "$p"; then
        log "removing the leftovers of an earlier run: compose project $p"
        remove_project "$p"
    fi
done
# containers and networks of the custom_image test (plain docker, labelled
# org.pgep.e2e=OWNER)
owners() { "$@" --filter label=org.pgep.e2e --format '{{.Label "org.pgep.e2e"}}' | sort -u; }
for owner in $(owners docker ps -a); do
    stale "$owner" || continue
    log "removing the leftover containers of an earlier run: $owner"
    mapfile -t ids < <(docker ps -aq --filter "label=org.pgep.e2e=$owner")
    [ ${#ids[@]} -eq 0 ] || docker rm -fv "${ids[@]}" >/dev/null || true
done
for owner in $(owners docker network ls); do
    stale "$owner" || continue
    log "removing the leftover networks of an earlier run: $owner"
    mapfile -t ids < <(docker network ls -q --filter "label=org.pgep.e2e=$owner")
    [ ${#ids[@]} -eq 0 ] || docker network rm "${ids[@]}" >/dev/null || true
done
# its images are named pgep-e2e-custom-image-PID:TAG
for repo in $(docker image ls --format '{{.Repository}}' | { grep '^pgep-e2e-' || true; } | sort -u); do
    stale "$repo" || continue
    log "removing the leftover images of an earlier run: $repo"
    mapfile -t ids < <(docker image ls -q "$repo" | sort -u)
    [ ${#ids[@]} -eq 0 ] || docker rmi -f "${ids[@]}" >/dev/null || true
done

# temp dirs of killed tests: ${TMPDIR:-/tmp}/pgep-e2e-NAME-PID.XXXXXX
for d in "${TMPDIR:-/tmp}"/pgep-e2e-*-*.??????; do
    [ -d "$d" ] || continue
    stale "$(basename "${d%.*}")" || continue
    log "removing the leftover temp dir of an earlier run: $d"
    rm -rf -- "$d"
done

# --- the base image ------------------------------------------------------------
t=$(now)
sh "$REPO_DIR/tests/images/build-base-image.sh" "$E2E_MAJOR" || fail "tests/images/build-base-image.sh $E2E_MAJOR failed"
docker image inspect "postgres:$E2E_MAJOR" >/dev/null 2>&1 ||
    fail "tests/images/build-base-image.sh succeeded but there is no postgres:$E2E_MAJOR image"
log "postgres:$E2E_MAJOR ready after $(elapsed "$t") s"

# --- the project's images ------------------------------------------------------
t=$(now)
PROJECT=pgep-e2e-setup-$$
compose build --force-rm || fail "compose build failed (Dockerfile.primary / Dockerfile.replica)"
e2e_require_images
log "images built after $(elapsed "$t") s"
for img in "pg-entrypoint-primary:$E2E_TAG" "pg-entrypoint-replica:$E2E_TAG"; do
    log "$img: $(docker image inspect -f '{{.Id}} entrypoint={{json .Config.Entrypoint}} cmd={{json .Config.Cmd}} stopsignal={{.Config.StopSignal}}' "$img")"
done
log "setup done in $(elapsed "$start") s"
