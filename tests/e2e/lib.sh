# shellcheck shell=bash
# Shared helpers of the e2e tier: the real images under a real Docker engine.
#
# A test sources this file, then calls `e2e_init NAME PORT`, which
#   - picks the compose tool: Compose v2 (`docker compose`), which the tier
#     requires (tests/e2e/install-compose-v2.sh installs it); a test that sets
#     E2E_COMPOSE=v1 first gets Compose v1 (`docker-compose`) instead,
#   - sets PROJECT=pgep-e2e-NAME-$$ (its own compose project: containers,
#     network and volumes of its own) and exports PRIMARY_PORT=PORT (read by
#     docker-compose.yml for the primary's published port on 127.0.0.1),
#   - makes a temp dir E2E_TMP,
#   - installs an EXIT trap that, when the test fails, prints the state and
#     the logs of every container of the project, and then always removes the
#     project (`down -v --remove-orphans`, then anything still labelled with
#     the project) and the temp dir.
# Every wait is bounded. Only containers on networks the test made, and
# 127.0.0.1, are ever contacted.

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(cd "$E2E_DIR/../.." && pwd)
COMPOSE_YML=$REPO_DIR/docker-compose.yml

# What the compose file's defaults are (README quick start). Tests that want
# other passwords export POSTGRES_PASSWORD / POSTGRES_REPLICATION_PASSWORD
# after e2e_init and set PRIMARY_PASSWORD accordingly.
DEFAULT_POSTGRES_PASSWORD=local-only-postgres
PRIMARY_PASSWORD=$DEFAULT_POSTGRES_PASSWORD

# The caller's environment must not change what the compose file does.
unset POSTGRES_PASSWORD POSTGRES_REPLICATION_PASSWORD COMPOSE_PROJECT_NAME COMPOSE_FILE \
    COMPOSE_PROFILES PGPASSWORD PGHOST PGPORT PGUSER PGDATABASE
# The classic builder (the Dockerfiles need no BuildKit, and Debian has no buildx).
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0
# No ANSI colours in CTest logs.
export NO_COLOR=1

PROJECT=""
E2E_TMP=""
E2E_NAME=""
E2E_CLEANUP_HOOKS=()

# fds 3 and 4 are the test's stderr and stdout, also inside wait_for (which
# silences its command, and may be where `fail` exits)
exec 3>&2 4>&1
log() { printf '%s [e2e %s] %s\n' "$(date -u +%H:%M:%S.%3N)" "${E2E_NAME:-?}" "$*" >&3; }
fail() {
    printf '\nFAIL [%s]: %s\n\n' "${E2E_NAME:-?}" "$*" >&3
    exit 1
}

now() { date +%s.%N; }
# elapsed START -> seconds since START with two decimals
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# pick_compose: the e2e tier runs under Compose v2 (`docker compose`), and
# requires it. A test that sets E2E_COMPOSE=v1 before e2e_init gets Compose v1
# (`docker-compose` 1.x) instead (compose_v1_quickstart.sh, the one v1 run).
compose_v2_version() { # prints the version when `docker compose` is v2
    local out
    out=$(docker compose version 2>/dev/null) || return 1
    [[ $out =~ [Vv]ersion[[:space:]]+v?(2\.[^[:space:],]*) ]] || return 1
    printf '%s\n' "${BASH_REMATCH[1]}"
}
compose_v1_version() { # prints the version when `docker-compose` is v1
    local out
    command -v docker-compose >/dev/null 2>&1 || return 1
    out=$(docker-compose version --short 2>/dev/null) || return 1
    [[ $out =~ ^v?(1\.[^[:space:]]*) ]] || return 1
    printf '%s\n' "${BASH_REMATCH[1]}"
}
pick_compose() {
    if [ "${E2E_COMPOSE:-v2}" = v1 ]; then
        if ! compose_v1_version >/dev/null; then
            echo "Compose v1 ('docker-compose' 1.x) is not installed; apt-get install docker-compose" >&2
            return 1
        fi
        COMPOSE=(docker-compose)
    else
        if ! compose_v2_version >/dev/null; then
            echo "the e2e tier requires Compose v2 ('docker compose'), and 'docker compose version' does not report v2" \
                "($(docker compose version 2>&1 | head -n 1)); install it as root with tests/e2e/install-compose-v2.sh" >&2
            return 1
        fi
        COMPOSE=(docker compose)
    fi
}

compose() { "${COMPOSE[@]}" --ansi never -f "$COMPOSE_YML" -p "$PROJECT" "$@"; }

e2e_preflight() {
    command -v docker >/dev/null 2>&1 || fail "docker is not installed (apt-get install docker.io)"
    docker info >/dev/null 2>&1 || fail "cannot talk to the Docker engine (is dockerd running?)"
    pick_compose || fail "no usable compose tool (see the line above)"
}

# The PostgreSQL major under test: PG_MAJOR in the environment (CTest sets
# it for the per-major runs), read by docker-compose.yml as the build
# argument and the image tag pg-entrypoint-ROLE:localPG_MAJOR; unset means
# the compose file's default, 15, as pg-entrypoint-ROLE:local.
E2E_MAJOR=${PG_MAJOR:-15}
E2E_TAG=local${PG_MAJOR:-}

e2e_require_images() {
    local img
    for img in "pg-entrypoint-primary:$E2E_TAG" "pg-entrypoint-replica:$E2E_TAG"; do
        docker image inspect "$img" >/dev/null 2>&1 ||
            fail "image $img is missing; the e2e_images fixture (tests/e2e/setup.sh${PG_MAJOR:+, PG_MAJOR=$PG_MAJOR}) builds it"
    done
}

# pgdata CONTAINER -> its PGDATA (the image's: /var/lib/postgresql/data up
# to 17, /var/lib/postgresql/18/docker under 18, unless the compose file sets it)
pgdata() { docker exec "$1" printenv PGDATA; }

# e2e_init NAME [PORT]
e2e_init() {
    E2E_NAME=$1
    PROJECT="pgep-e2e-$1-$$"
    if [ -n "${2:-}" ]; then
        export PRIMARY_PORT=$2
    else
        unset PRIMARY_PORT
    fi
    set -Eeuo pipefail
    trap 'log "command failed (status $?) at line $LINENO: $BASH_COMMAND"' ERR
    trap e2e_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    e2e_preflight
    E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/$PROJECT.XXXXXX")
    log "project $PROJECT${PRIMARY_PORT:+, primary published on 127.0.0.1:$PRIMARY_PORT}, compose: ${COMPOSE[*]}, PostgreSQL $E2E_MAJOR (images :$E2E_TAG)"
}

e2e_exit() {
    local status=$?
    trap - ERR
    set +e
    exec 1>&4 2>&3
    if [ "$status" -ne 0 ]; then
        e2e_diagnostics
    fi
    local h
    for h in "${E2E_CLEANUP_HOOKS[@]}"; do
        $h
    done
    [ -n "$PROJECT" ] && remove_project "$PROJECT"
    [ -n "$E2E_TMP" ] && rm -rf -- "$E2E_TMP"
    if [ "$status" -eq 0 ]; then
        log "PASS"
    else
        log "FAILED (exit $status)"
    fi
    exit "$status"
}

# the test's containers: its compose project's, and those it ran itself with
# the label org.pgep.e2e=$PROJECT
project_containers() {
    docker ps -aq --filter "label=com.docker.compose.project=$PROJECT" 2>/dev/null
    docker ps -aq --filter "label=org.pgep.e2e=$PROJECT" 2>/dev/null
}

e2e_diagnostics() {
    local c
    echo "==================== diagnostics for $PROJECT ====================" >&2
    compose ps >&2 2>&1
    for c in $(project_containers); do
        echo "------ container $(docker inspect -f '{{.Name}} ({{.Config.Image}}) state={{.State.Status}} exit={{.State.ExitCode}} restarts={{.RestartCount}} started={{.State.StartedAt}} finished={{.State.FinishedAt}}' "$c" 2>&1)" >&2
        echo "------ docker logs --timestamps $(docker inspect -f '{{.Name}}' "$c" 2>/dev/null):" >&2
        docker logs --timestamps "$c" 2>&1 | tail -n 300 >&2
    done
    echo "==================== end of diagnostics ====================" >&2
}

# remove_project NAME: everything compose made for project NAME.
remove_project() {
    local p=$1 saved=$PROJECT ids
    PROJECT=$p
    compose down -v --remove-orphans -t 10 >/dev/null 2>&1 ||
        log "compose down failed for $p; removing by label"
    mapfile -t ids < <(docker ps -aq --filter "label=com.docker.compose.project=$p")
    [ ${#ids[@]} -eq 0 ] || docker rm -fv "${ids[@]}" >/dev/null 2>&1
    mapfile -t ids < <(docker volume ls -q --filter "label=com.docker.compose.project=$p")
    [ ${#ids[@]} -eq 0 ] || docker volume rm -f "${ids[@]}" >/dev/null 2>&1
    mapfile -t ids < <(docker network ls -q --filter "label=com.docker.compose.project=$p"
        docker network ls -q --filter "name=^${p}_default\$")
    [ ${#ids[@]} -eq 0 ] || docker network rm "${ids[@]}" >/dev/null 2>&1
    PROJECT=$saved
    return 0
}

# cid SERVICE -> the id of the service's (only) container
cid() {
    local ids n
    ids=$(compose ps -a -q "$1" 2>/dev/null)
    n=$(printf '%s\n' "$ids" | grep -c . || true)
    [ "$n" -eq 1 ] || fail "expected one container of service $1, found $n: $ids"
    printf '%s\n' "$ids"
}

cname() { docker inspect -f '{{.Name}}' "$1" | sed 's,^/,,'; }

# wait_for TIMEOUT_S WHAT CMD...: run CMD until it succeeds, at most TIMEOUT_S;
# on timeout, shows what CMD printed the last time.
wait_for() {
    local timeout=$1 what=$2 start out=${E2E_TMP:-/tmp}/wait_for.$$
    shift 2
    start=$(now)
    while true; do
        if "$@" >"$out" 2>&1; then
            rm -f "$out"
            log "$what: after $(elapsed "$start") s"
            return 0
        fi
        if awk -v a="$start" -v b="$(now)" -v t="$timeout" 'BEGIN { exit !(b - a >= t) }'; then
            log "gave up after ${timeout} s waiting for: $what; the last attempt said:"
            sed 's/^/    /' "$out" >&3
            rm -f "$out"
            return 1
        fi
        sleep 0.5
    done
}

# running CONTAINER: fails the test at once when the container has exited, so
# that a wait on it does not run into its timeout.
running() {
    local state
    state=$(docker inspect -f '{{.State.Running}} {{.State.ExitCode}}' "$1" 2>/dev/null) ||
        fail "container $1 does not exist"
    [ "${state% *}" = true ] ||
        fail "$(cname "$1") is not running (exit code ${state#* }); its log is below"
}

# The role and database the psql helpers use: postgres/postgres unless a test
# (a recipe with its own POSTGRES_USER / POSTGRES_DB) sets them.
E2E_DB_USER=postgres
E2E_DB_NAME=postgres

# psql_sock CONTAINER SQL: psql on the container's unix socket, as the OS
# user postgres, connecting as E2E_DB_USER to E2E_DB_NAME.
psql_sock() {
    docker exec -u postgres "$1" psql -X -v ON_ERROR_STOP=1 -U "$E2E_DB_USER" -d "$E2E_DB_NAME" -Atqc "$2"
}

# psql_tcp CONTAINER SQL: psql over TCP inside the container (never the
# socket-only temporary server), with the superuser's password.
psql_tcp() {
    docker exec -u postgres -e PGPASSWORD="$PRIMARY_PASSWORD" -e PGCONNECT_TIMEOUT=5 "$1" \
        psql -X -v ON_ERROR_STOP=1 -h 127.0.0.1 -U "$E2E_DB_USER" -d "$E2E_DB_NAME" -Atqc "$2"
}

# insert_row PRIMARY_CONTAINER VALUE: idempotent, so a retry after a
# connection lost around a commit is harmless.
insert_sql() {
    printf "CREATE TABLE IF NOT EXISTS e2e (x text PRIMARY KEY, at timestamptz DEFAULT now()); INSERT INTO e2e (x) VALUES ('%s') ON CONFLICT DO NOTHING; SELECT count(*) FROM e2e WHERE x = '%s';" "$1" "$1"
}
try_insert() { running "$1" && [ "$(psql_tcp "$1" "$(insert_sql "$2")")" = 1 ]; }
insert_row() {
    wait_for "${3:-60}" "row '$2' written on the primary $(cname "$1")" try_insert "$1" "$2" ||
        fail "could not write row '$2' on the primary within ${3:-60} s"
}

has_row() { running "$1" && [ "$(psql_sock "$1" "SELECT count(*) FROM e2e WHERE x = '$2'")" = 1 ]; }
wait_row() {
    wait_for "${3:-60}" "row '$2' read on $(cname "$1")" has_row "$1" "$2" ||
        fail "row '$2' did not arrive on $(cname "$1") within ${3:-60} s"
}

is_streaming() { running "$1" && [ "$(psql_sock "$1" "SELECT status FROM pg_stat_wal_receiver")" = streaming ]; }
wait_streaming() {
    wait_for "${2:-60}" "$(cname "$1") streaming" is_streaming "$1" ||
        fail "$(cname "$1"): pg_stat_wal_receiver.status is '$(psql_sock "$1" "SELECT status FROM pg_stat_wal_receiver" 2>&1 || true)', not 'streaming', after ${2:-60} s"
}

in_recovery() { [ "$(psql_sock "$1" "SELECT pg_is_in_recovery()")" = t ]; }

# pid1_is_postgres CONTAINER: initialisation is over, postgres runs as PID 1.
pid1_is_postgres() { running "$1" && [ "$(docker exec "$1" cat /proc/1/comm)" = postgres ]; }

# assert_pid1_postgres CONTAINER: PID 1 is the postmaster, as uid 999.
assert_pid1_postgres() {
    local comm uids
    comm=$(docker exec "$1" cat /proc/1/comm)
    uids=$(docker exec "$1" awk '/^Uid:/ { print $2, $3, $4, $5 }' /proc/1/status)
    log "$(cname "$1"): PID 1 is '$comm', uids (real effective saved fs) $uids"
    [ "$comm" = postgres ] || fail "$(cname "$1"): PID 1 is '$comm', not postgres"
    [ "$uids" = "999 999 999 999" ] || fail "$(cname "$1"): PID 1 runs with uids '$uids', not 999"
}

# start_stack [ARGS...]: `compose up -d --no-build ARGS`, failing clearly.
# shellcheck disable=SC2120
start_stack() {
    compose up -d --no-build "$@" || fail "compose up -d --no-build $* failed"
}

# up_streaming_pair ROW: start_stack, set $primary and $replica to the two
# containers, write ROW on the primary, and wait until it is read on the
# replica and the replica streams.
up_streaming_pair() {
    start_stack
    primary=$(cid primary)
    replica=$(cid replica)
    insert_row "$primary" "$1"
    wait_row "$replica" "$1" 60
    wait_streaming "$replica" 30
}

# The replica's slot on the primary, active (the replica streams through it)
active_slots() {
    psql_tcp "$1" "SELECT slot_name FROM pg_replication_slots WHERE active ORDER BY 1"
}

# --- recipes (tests/e2e/seeds/): compose files kept verbatim ------------------

# use_seed_compose DIR SERVICE...: compose() runs DIR/docker-compose.yml,
# untouched, plus an override in E2E_TMP that drops the ports the recipe
# publishes on all host addresses (`ports: !reset []`, Compose v2): tests
# reach the servers only inside their containers. Call after e2e_init.
use_seed_compose() {
    local dir=$1 svc
    shift
    SEED_OVERRIDE=$E2E_TMP/no-published-ports.yml
    {
        echo "services:"
        for svc in "$@"; do
            printf '  %s:\n    ports: !reset []\n' "$svc"
        done
    } >"$SEED_OVERRIDE"
    SEED_COMPOSE_FILES=(-f "$dir/docker-compose.yml" -f "$SEED_OVERRIDE")
    compose() { "${COMPOSE[@]}" --ansi never "${SEED_COMPOSE_FILES[@]}" -p "$PROJECT" "$@"; }
    compose config -q || fail "compose config of $dir/docker-compose.yml with the override failed"
    local config
    config=$(compose config) || fail "compose config failed"
    if grep -qE '^[[:space:]]+published:' <<<"$config"; then
        printf '%s\n' "$config" >&3
        fail "the override did not remove the published ports (compose config above)"
    fi
}

# logs_clean CONTAINER...: pg-entrypoint's own log lines ("TIME [pg-entrypoint]
# LEVEL step: message") hold no ERROR or FATAL level and no refusal.
logs_clean() {
    local c bad
    for c in "$@"; do
        # ("Connection refused" is libpq's, quoted at INFO level while a
        # replica waits for its primary; any other refusal is pg-entrypoint's)
        bad=$(docker logs "$c" 2>&1 | grep -F '[pg-entrypoint]' |
            grep -E '\[pg-entrypoint\] +(ERROR|FATAL)|[Rr]efus' | grep -vE '\[pg-entrypoint\] +INFO +wait: .*Connection refused' || true)
        [ -z "$bad" ] || fail "$(cname "$c")'s log has pg-entrypoint lines with an error or a refusal:
$bad"
    done
}

# show_entrypoint_lines CONTAINER...: pg-entrypoint's own log lines, to the
# test's stderr (what a passing run did, for the CTest log).
show_entrypoint_lines() {
    local c
    for c in "$@"; do
        docker logs "$c" 2>&1 | grep -F '[pg-entrypoint]' | sed "s/^/    $(cname "$c"): /" >&3 || true
    done
}

# exits_clean SINCE CONTAINER...: every time one of the containers stopped
# since SINCE (a `date +%s.%N` timestamp), it exited with code 0.
exits_clean() {
    local since=$1 c codes
    shift
    for c in "$@"; do
        codes=$(docker events --since "$since" --until "$(date +%s.%N)" --filter "container=$c" \
            --filter event=die --format '{{index .Actor.Attributes "exitCode"}}') ||
            fail "docker events failed"
        [ -z "$codes" ] || log "$(cname "$c") stopped since $since with exit code(s): $(tr "\n" " " <<<"$codes")"
        if [ -n "$codes" ] && grep -qvx 0 <<<"$codes"; then
            fail "$(cname "$c") exited with a non-zero code since $since: $(tr "\n" " " <<<"$codes")"
        fi
    done
}

# pair_restarted NAME SINCE PRIMARY_SERVICE REPLICA_SERVICE: what a seed
# recipe's pair must show after a restart: the test's $primary and $replica
# containers are the services' (not replaced) and run, the replica streams,
# row NAME written on the primary arrives, the replica is still in
# recovery, and logs and exit codes since SINCE are clean.
pair_restarted() {
    local name=$1 since=$2
    [ "$(cid "$3")" = "$primary" ] || fail "$name: the primary container was replaced"
    [ "$(cid "$4")" = "$replica" ] || fail "$name: the replica container was replaced"
    running "$primary"
    running "$replica"
    wait_streaming "$replica" 120
    insert_row "$primary" "$name" 120
    wait_row "$replica" "$name" 120
    in_recovery "$replica" || fail "$name: the replica is not in recovery"
    logs_clean "$primary" "$replica"
    exits_clean "$since" "$primary" "$replica"
}

# --- failover (failover.sh, switchover.sh) -------------------------------------

# writable CONTAINER: it runs and its server accepts writes (not in recovery).
writable() {
    [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ] &&
        [ "$(psql_sock "$1" "SELECT pg_is_in_recovery()" 2>/dev/null)" = f ]
}

# assert_writable STEP CONTAINER...: of the project's containers, exactly the
# ones given (none when none is given) accept writes: never two writable
# primaries, checked at every step of a failover.
assert_writable() {
    local step=$1 c want got
    shift
    got=$(for c in $(compose ps -a -q); do
        if writable "$c"; then cname "$c"; fi
    done | sort | tr '\n' ' ')
    want=$(for c in "$@"; do cname "$c"; done | sort | tr '\n' ' ')
    [ "$got" = "$want" ] || fail "$step: the writable servers are '${got% }', expected '${want% }'"
    [ -n "${ASSERT_QUIET:-}" ] || log "$step: writable: ${got:-none}"
}

# promote SERVICE [ARGS...]: `pg-entrypoint promote` as the README has it
# (`docker compose exec -u postgres SERVICE pg-entrypoint promote`); sets
# PROMOTE_OUT (what it printed, stdout and stderr) and PROMOTE_RC.
promote() {
    local svc=$1
    shift
    PROMOTE_RC=0
    PROMOTE_OUT=$(compose exec -T -u postgres "$svc" pg-entrypoint promote "$@" 2>&1) || PROMOTE_RC=$?
    printf '%s\n' "$PROMOTE_OUT" | sed "s/^/    promote $svc: /" >&3
    log "promote $svc $*: exit $PROMOTE_RC"
}

# health_ok CONTAINER: `pg-entrypoint health` in it exits 0 (its line is
# left in HEALTH_OUT).
# shellcheck disable=SC2034 # read by the tests
health_ok() { HEALTH_OUT=$(docker exec -u postgres "$1" pg-entrypoint health 2>&1); }

# docker_healthy CONTAINER: Docker's own health status (the images'
# HEALTHCHECK runs `pg-entrypoint health` every second) is "healthy".
docker_healthy() { [ "$(docker inspect -f '{{.State.Health.Status}}' "$1")" = healthy ]; }
wait_docker_healthy() {
    wait_for "${2:-60}" "$(cname "$1") healthy for Docker" docker_healthy "$1" ||
        fail "$(cname "$1") is '$(docker inspect -f '{{.State.Health.Status}}' "$1")' for Docker after ${2:-60} s; its last check said: $(docker inspect -f '{{with .State.Health}}{{range .Log}}{{.Output}}{{end}}{{end}}' "$1" | tail -n 1)"
}

# no_row CONTAINER VALUE: the row is not there (and the table is).
no_row() { [ "$(psql_sock "$1" "SELECT count(*) FROM e2e WHERE x = '$2'")" = 0 ]; }

# rejoining CONTAINER WRITABLE...: one poll of a rejoin: fails the test at
# once when a server other than WRITABLE accepts writes, and succeeds when
# CONTAINER streams.
rejoining() {
    local c=$1
    shift
    ASSERT_QUIET=1 assert_writable "while $(cname "$c") rejoins" "$@"
    is_streaming "$c"
}

# entrypoint_log CONTAINER SINCE: pg-entrypoint's own lines since SINCE.
entrypoint_log() { docker logs --since "$2" "$1" 2>&1 | grep -F '[pg-entrypoint]' || true; }

# diverge_and_stop_primary ROW: the old primary ($primary) commits ROW that
# the replica ($replica) never receives (the replica paused, the primary's
# walsender ended first), then stops cleanly; the replica runs again.
no_walsender() { [ "$(psql_tcp "$1" "SELECT count(*) FROM pg_stat_replication")" = 0 ]; }
diverge_and_stop_primary() {
    docker pause "$replica" >/dev/null || fail "docker pause of the replica failed"
    E2E_CLEANUP_HOOKS+=("docker unpause $replica")
    psql_tcp "$primary" "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_replication" >/dev/null
    wait_for 30 "the primary's walsender gone" no_walsender "$primary" ||
        fail "the primary still has a walsender 30 s after pg_terminate_backend"
    insert_row "$primary" "$1"
    log "the old primary's WAL ends near $(psql_tcp "$primary" "SELECT pg_current_wal_lsn()") after row '$1'"
    compose stop primary || fail "compose stop primary failed"
    docker unpause "$replica" >/dev/null || fail "docker unpause of the replica failed"
    E2E_CLEANUP_HOOKS=()
    if has_row "$replica" "$1"; then fail "the replica received row '$1': the test made no divergence"; fi
}

# promote_ok SERVICE: `promote` succeeds and prints its line; PROMOTED_TLI
# is the timeline it names.
# shellcheck disable=SC2034 # read by the tests
promote_ok() {
    promote "$1"
    [ "$PROMOTE_RC" -eq 0 ] || fail "pg-entrypoint promote on $1 exited $PROMOTE_RC"
    [[ $PROMOTE_OUT =~ promoted:\ now\ a\ primary\ on\ timeline\ ([0-9]+) ]] ||
        fail "promote on $1 did not print 'promoted: now a primary on timeline N'"
    PROMOTED_TLI=${BASH_REMATCH[1]}
}

# start_rejoining NEW_PRIMARY: `compose start primary`; the old primary
# ($primary) must stream from NEW_PRIMARY within 180 s and never accept
# writes meanwhile; REJOIN_LOG holds its entrypoint lines of that start.
start_rejoining() {
    local since
    since=$(date +%s.%N)
    compose start primary || fail "compose start primary failed"
    [ "$(cid primary)" = "$primary" ] || fail "the primary container was replaced"
    wait_for 180 "the old primary rejoined and streams" rejoining "$primary" "$1" ||
        fail "the old primary does not stream from $(cname "$1") within 180 s"
    REJOIN_LOG=$(entrypoint_log "$primary" "$since")
    printf '%s\n' "$REJOIN_LOG" | sed 's/^/    rejoin: /' >&3
}

# rejoined NEW_PRIMARY: a row written on NEW_PRIMARY reaches the old
# primary, only NEW_PRIMARY accepts writes, `health` and Docker call both
# healthy.
rejoined() {
    insert_row "$1" after-rejoin
    wait_row "$primary" after-rejoin 60
    assert_writable "after the rejoin" "$1"
    health_ok "$primary" || fail "pg-entrypoint health on the rejoined old primary failed: $HEALTH_OUT"
    health_ok "$1" || fail "pg-entrypoint health on the new primary failed: $HEALTH_OUT"
    wait_docker_healthy "$primary" 60
    wait_docker_healthy "$1" 30
}
