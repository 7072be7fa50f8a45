#!/usr/bin/env bash
# What another major's data must never get: a silent initdb beside it, or a
# wipe. Three refusals, each a container that exits non-zero, says why in
# its log (naming the versions or the path), and leaves the data as it was:
#  (1) PostgreSQL 18's old mount: a volume at /var/lib/postgresql/data
#      while PGDATA is 18's default /var/lib/postgresql/18/docker;
#  (2) a 15 data directory under the 18 image;
#  (3) a 17 replica of a 15 primary, with POSTGRES_RESEED=force over a
#      PGDATA holding a file: refused before any wipe (the file survives).
# Needs the images of 15, 17 and 18 (fixtures e2e_images, _17, _18). Every
# container, volume and network carries the project's compose label, so the
# exit trap removes them.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init major-refusals "${PGEP_E2E_PORT_MAJOR_REFUSALS:-47550}"
# the 15 side is the compose file's (PG_MAJOR unset, or 15: :local15)
[ "$E2E_MAJOR" = 15 ] || fail "run with PG_MAJOR unset (or 15): the 15 side is the compose file's"
for img in "pg-entrypoint-primary:$E2E_TAG" pg-entrypoint-primary:local18 pg-entrypoint-replica:local17; do
    docker image inspect "$img" >/dev/null 2>&1 ||
        fail "image $img is missing; the e2e_images fixtures (tests/e2e/setup.sh, PG_MAJOR=17/18) build it"
done
label=(--label "com.docker.compose.project=$PROJECT")

# run_refused NAME WHAT IMAGE DOCKER_RUN_ARGS...: the container must exit
# non-zero within 60 s; its log is left in $E2E_TMP/NAME.log.
run_refused() {
    local name=$1 what=$2 c code
    shift 2
    c=$(docker run -d "${label[@]}" --name "$PROJECT-$name" "$@") || fail "$what: docker run failed"
    exited() { [ "$(docker inspect -f '{{.State.Running}}' "$1")" = false ]; }
    wait_for 60 "$what: the container stopped" exited "$c" ||
        fail "$what: still running after 60 s; it should have refused"
    code=$(docker inspect -f '{{.State.ExitCode}}' "$c")
    docker logs "$c" >"$E2E_TMP/$name.log" 2>&1
    sed "s/^/    $name: /" "$E2E_TMP/$name.log" >&2
    [ "$code" != 0 ] || fail "$what: the container exited 0; it should have refused"
    log "$what: refused, exit code $code"
}
# in_volume VOLUME CMD: a shell command on the volume, mounted at /v
in_volume() { docker run --rm "${label[@]}" -v "$1:/v" --entrypoint sh postgres:15 -c "$2"; }

# --- (1) 18 with a volume at the old path -----------------------------------------
docker volume create "${label[@]}" "$PROJECT-old-mount" >/dev/null
run_refused old-mount "18 with a volume at /var/lib/postgresql/data" \
    -e POSTGRES_PASSWORD=local-only-postgres -v "$PROJECT-old-mount:/var/lib/postgresql/data" \
    pg-entrypoint-primary:local18
grep -qF /var/lib/postgresql/data "$E2E_TMP/old-mount.log" ||
    fail "(1) the refusal does not name /var/lib/postgresql/data"
grep -qF /var/lib/postgresql/18/docker "$E2E_TMP/old-mount.log" ||
    fail "(1) the refusal does not name 18's PGDATA /var/lib/postgresql/18/docker"
if in_volume "$PROJECT-old-mount" 'ls -A /v' | grep -q .; then
    fail "(1) something was written to the old-path volume"
fi

# --- (2) a 15 data directory under the 18 image ---------------------------------------
docker volume create "${label[@]}" "$PROJECT-pg15" >/dev/null
c=$(docker run -d "${label[@]}" --name "$PROJECT-init15" -e POSTGRES_PASSWORD=local-only-postgres \
    -v "$PROJECT-pg15:/var/lib/postgresql/data" "pg-entrypoint-primary:$E2E_TAG") || fail "(2) docker run of 15 failed"
wait_for 90 "(2) 15 initialised its volume" pid1_is_postgres "$c" || fail "(2) 15 did not start on its volume"
docker stop -t 30 "$c" >/dev/null
before=$(in_volume "$PROJECT-pg15" 'cat /v/PG_VERSION; ls -A /v | sort | md5sum')
run_refused pg15-under-18 "a 15 volume under the 18 image" \
    -e POSTGRES_PASSWORD=local-only-postgres -e PGDATA=/var/lib/postgresql/data \
    -v "$PROJECT-pg15:/var/lib/postgresql/data" pg-entrypoint-primary:local18
grep -q 'PostgreSQL 15.*PostgreSQL 18' "$E2E_TMP/pg15-under-18.log" ||
    fail "(2) the refusal does not name both majors, 15 and 18"
[ "$(in_volume "$PROJECT-pg15" 'cat /v/PG_VERSION; ls -A /v | sort | md5sum')" = "$before" ] ||
    fail "(2) the 15 volume changed under the 18 image"

# --- (3) a 17 replica of a 15 primary ---------------------------------------------------
start_stack primary
primary=$(cid primary)
insert_row "$primary" before 90
net=$(docker inspect -f '{{range $k, $v := .NetworkSettings.Networks}}{{$k}}{{end}}' "$primary")
docker volume create "${label[@]}" "$PROJECT-r17" >/dev/null
in_volume "$PROJECT-r17" 'echo keep >/v/e2e-survivor'
run_refused replica17-of-15 "a 17 replica of a 15 primary" --network "$net" \
    -e POSTGRES_PRIMARY_HOST=primary -e POSTGRES_REPLICATION_PASSWORD=local-only-replication -e POSTGRES_RESEED=force \
    -v "$PROJECT-r17:/var/lib/postgresql/data" pg-entrypoint-replica:local17
grep -q 'PostgreSQL 15.*PostgreSQL 17' "$E2E_TMP/replica17-of-15.log" ||
    fail "(3) the refusal does not name both majors, 15 and 17"
[ "$(in_volume "$PROJECT-r17" 'cat /v/e2e-survivor')" = keep ] ||
    fail "(3) the 17 replica wiped its PGDATA before refusing"
