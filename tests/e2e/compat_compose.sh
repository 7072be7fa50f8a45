#!/usr/bin/env bash
# Compose files written for other images run with ours by changing `image:`
# only (tests/e2e/compat/):
#  1. official/docker-compose.yml, as written for the official postgres
#     image: POSTGRES_USER/PASSWORD/DB, POSTGRES_HOST_AUTH_METHOD, an init
#     SQL in a bind-mounted /docker-entrypoint-initdb.d that creates a
#     replication role, `command: postgres -c max_connections=77 -c
#     wal_level=replica`, a pg_isready healthcheck. Asserted: the init SQL
#     ran, the -c flags are in effect (from the command line), the user and
#     database exist with the password over the published port, PID 1 is
#     postgres. Then official/replica.yml adds a replica service (our
#     replica image, POSTGRES_PRIMARY_HOST, POSTGRES_REPLICATION_USER=repl
#     and the password the init SQL gave it): it streams a row.
#  2. bitnami/docker-compose.yml, with Bitnami's variables
#     (POSTGRESQL_REPLICATION_MODE master/slave, POSTGRESQL_MASTER_HOST,
#     POSTGRESQL_REPLICATION_USER/PASSWORD, POSTGRESQL_USERNAME/PASSWORD/
#     DATABASE) and volumes at /bitnami/postgresql: a streaming pair, a row
#     replicates, and each cluster lives in its /bitnami/postgresql volume.
# Each part is its own compose project (pgep-e2e-compat-*-PID), removed with
# its volumes at the end (or on failure, by the EXIT trap). Every assertion
# is reported as `CHECK name: pass|FAIL`; the test fails when one failed.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
E2E_PORT_OFFICIAL=${PGEP_E2E_PORT_COMPAT_OFFICIAL:-47600}
E2E_PORT_BITNAMI=${PGEP_E2E_PORT_COMPAT_BITNAMI:-47601}
e2e_init compat-official "$E2E_PORT_OFFICIAL"
e2e_require_images
command -v psql >/dev/null 2>&1 || fail "psql is needed on the host (apt-get install postgresql-client-15)"

COMPAT_DIR=$E2E_DIR/compat
COMPOSE_FILES=(-f "$COMPAT_DIR/official/docker-compose.yml")
# lib.sh's compose (also used by its cleanup and diagnostics), with our files
compose() { "${COMPOSE[@]}" --ansi never "${COMPOSE_FILES[@]}" -p "$PROJECT" "$@"; }

FAILED=()
check() { # check NAME CMD...: CMD prints the reason on failure
    local name=$1 why
    shift
    if why=$("$@" 2>&1); then
        printf 'CHECK %s: pass\n' "$name" >&4
    else
        printf 'CHECK %s: FAIL: %s\n' "$name" "$why" >&4
        log "CHECK $name failed: $why"
        FAILED+=("$name")
    fi
}

# up CONTAINER: it runs (unlike lib.sh's running, never ends the test).
up() { [ "$(docker inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" = true ]; }
# why_down CONTAINER: its state and last log lines, for a failure message;
# the whole log tail goes to the test's stderr.
why_down() {
    docker logs --tail 40 "$1" 2>&1 | sed "s/^/    $(cname "$1"): /" >&3
    printf '%s (%s); last log lines: %s' "$(cname "$1")" \
        "$(docker inspect -f 'running={{.State.Running}} exit={{.State.ExitCode}}' "$1")" \
        "$(docker logs --tail 3 "$1" 2>&1 | tr '\n' ' ')"
}

# streams_within SECONDS CONTAINER USER DB: until pg_stat_wal_receiver says
# streaming; gives up at once when the container has exited.
streams_within() {
    local start
    start=$(now)
    while awk -v a="$start" -v b="$(now)" -v t="$1" 'BEGIN { exit !(b - a < t) }'; do
        up "$2" || return 1
        [ "$(sock_psql "$2" "$3" "$4" "select status from pg_stat_wal_receiver" 2>/dev/null)" = streaming ] && return 0
        sleep 0.5
    done
    return 1
}

# host_psql PORT USER PASSWORD DB SQL: through the published port.
host_psql() {
    PGPASSWORD=$3 PGPASSFILE=/dev/null PGCONNECT_TIMEOUT=5 psql -X -w -v ON_ERROR_STOP=1 \
        -h 127.0.0.1 -p "$1" -U "$2" -d "$4" -Atqc "$5"
}
# sock_psql CONTAINER USER DB SQL: on the container's unix socket.
sock_psql() { docker exec -u postgres "$1" psql -X -v ON_ERROR_STOP=1 -U "$2" -d "$3" -Atqc "$4"; }

# ==== 1. the official image's compose file ====================================
APP=(app app-secret appdb)
app_sql() { host_psql "$E2E_PORT_OFFICIAL" "${APP[@]}" "$1"; }
t0=$(now)
start_stack db
db=$(cid db)
db_up() { running "$db" && [ "$(app_sql 'select 1')" = 1 ]; }
wait_for 60 "db accepts app/appdb with the password on 127.0.0.1:$E2E_PORT_OFFICIAL" db_up ||
    fail "db did not accept app/appdb with POSTGRES_PASSWORD within 60 s"
log "official: up -> db ready: $(elapsed "$t0") s"

c_init_sql() {
    [ "$(app_sql "select note from made_by_init")" = 01-replication-role.sql ] || { echo "made_by_init is missing"; return 1; }
    [ "$(app_sql "select rolreplication and rolcanlogin from pg_roles where rolname = 'repl'")" = t ] ||
        { echo "role repl is missing or lacks REPLICATION/LOGIN"; return 1; }
    local logs
    logs=$(docker logs "$db" 2>&1)
    grep -q 'running /docker-entrypoint-initdb.d/01-replication-role.sql' <<<"$logs" ||
        { echo "the log does not show the init script"; return 1; }
}
check official_init_sql_ran c_init_sql

c_flags() {
    local got
    got=$(app_sql "select string_agg(name || '=' || setting || '/' || source, ' ' order by name) from pg_settings where name in ('max_connections', 'wal_level')")
    [ "$got" = "max_connections=77/command line wal_level=replica/command line" ] || { echo "settings: $got"; return 1; }
    local cmdline
    cmdline=$(docker exec "$db" cat /proc/1/cmdline | tr '\0' ' ')
    grep -q -- '-c max_connections=77 -c wal_level=replica' <<<"$cmdline" || { echo "PID 1's command line: $cmdline"; return 1; }
    [ "$(docker exec "$db" cat /proc/1/comm)" = postgres ] || { echo "PID 1 is $(docker exec "$db" cat /proc/1/comm)"; return 1; }
}
check official_command_flags c_flags

c_user_db() {
    [ "$(app_sql "select current_user || ' ' || current_database() || ' ' || (select rolsuper from pg_roles where rolname = current_user)")" = "app appdb true" ] ||
        { echo "not superuser app in appdb"; return 1; }
    if host_psql "$E2E_PORT_OFFICIAL" app wrong-password appdb 'select 1' >/dev/null 2>&1; then
        echo "a wrong password was accepted"; return 1
    fi
    [ "$(app_sql "select count(*) from pg_hba_file_rules where type = 'host' and database = '{all}' and user_name = '{all}' and address = 'all' and auth_method = 'scram-sha-256' and error is null")" -ge 1 ] ||
        { echo "no 'host all all all scram-sha-256' rule"; return 1; }
}
check official_user_db_password c_user_db

c_healthcheck() {
    healthy() { [ "$(docker inspect -f '{{.State.Health.Status}}' "$db")" = healthy ]; }
    wait_for 30 "db healthy (pg_isready from the compose file)" healthy ||
        { echo "db's healthcheck (pg_isready -U app -d appdb) says $(docker inspect -f '{{.State.Health.Status}}' "$db")"; return 1; }
}
check official_healthcheck c_healthcheck

# ---- the replica, added to the same project ----
COMPOSE_FILES+=(-f "$COMPAT_DIR/official/replica.yml")
t1=$(now)
start_stack replica
replica=$(cid replica)
c_replica_streams() {
    streams_within 60 "$replica" app appdb ||
        { echo "the replica is not streaming (within 60 s): $(why_down "$replica")"; return 1; }
    log "official: replica added -> streaming: $(elapsed "$t1") s"
    [ "$(app_sql "CREATE TABLE IF NOT EXISTS e2e (x text); INSERT INTO e2e VALUES ('official row'); SELECT count(*) FROM e2e")" = 1 ] ||
        { echo "could not write the row on db"; return 1; }
    arrived() { up "$replica" && [ "$(sock_psql "$replica" app appdb "select count(*) from e2e where x = 'official row'")" = 1 ]; }
    wait_for 30 "the row on the replica" arrived || { echo "the row did not arrive within 30 s"; return 1; }
    [ "$(sock_psql "$replica" app appdb "select pg_is_in_recovery()")" = t ] || { echo "the replica is not in recovery"; return 1; }
    [ "$(app_sql "select usename || ' ' || state from pg_stat_replication")" = "repl streaming" ] ||
        { echo "pg_stat_replication on db: $(app_sql "select usename, state from pg_stat_replication")"; return 1; }
}
check official_replica_streams c_replica_streams
# Not asserted, reported: the HEALTHCHECK of our image (`pg-entrypoint
# health`) logs in as POSTGRES_USER, which the added replica service does not
# set (the cluster's superuser is app).
report_health() {
    up "$1" || return 0
    sleep 3
    log "$(cname "$1"): docker health $(docker inspect -f '{{.State.Health.Status}}' "$1"); pg-entrypoint health: $({ docker exec "$1" pg-entrypoint health 2>&1 || true; } | tr '\n' ' ')"
}
report_health "$replica"

# ==== 2. Bitnami's compose file =================================================
remove_project "$PROJECT"
PROJECT="pgep-e2e-compat-bitnami-$$"
export PRIMARY_PORT=$E2E_PORT_BITNAMI
COMPOSE_FILES=(-f "$COMPAT_DIR/bitnami/docker-compose.yml")
log "project $PROJECT, master published on 127.0.0.1:$PRIMARY_PORT"
MY=(my_user my_password my_database)
my_sql() { host_psql "$E2E_PORT_BITNAMI" "${MY[@]}" "$1"; }
t2=$(now)
start_stack
master=$(cid postgresql-master)
slave=$(cid postgresql-slave)
master_up() { running "$master" && [ "$(my_sql 'select 1')" = 1 ]; }
wait_for 60 "the master accepts my_user/my_database on 127.0.0.1:$E2E_PORT_BITNAMI" master_up ||
    fail "the master did not accept my_user/my_database with POSTGRESQL_PASSWORD within 60 s"

c_bitnami_streams() {
    streams_within 60 "$slave" my_user my_database ||
        { echo "the slave is not streaming (within 60 s): $(why_down "$slave")"; return 1; }
    log "bitnami: up -> slave streaming: $(elapsed "$t2") s"
    [ "$(my_sql "CREATE TABLE IF NOT EXISTS e2e (x text); INSERT INTO e2e VALUES ('bitnami row'); SELECT count(*) FROM e2e")" = 1 ] ||
        { echo "could not write the row on the master"; return 1; }
    arrived() { up "$slave" && [ "$(sock_psql "$slave" my_user my_database "select count(*) from e2e where x = 'bitnami row'")" = 1 ]; }
    wait_for 30 "the row on the slave" arrived || { echo "the row did not arrive within 30 s"; return 1; }
    [ "$(my_sql "select usename || ' ' || state from pg_stat_replication")" = "repl_user streaming" ] ||
        { echo "pg_stat_replication on the master: $(my_sql "select usename, state from pg_stat_replication")"; return 1; }
}
check bitnami_pair_streams c_bitnami_streams

c_bitnami_volume() {
    local c dir bad=""
    for c in "$master" "$slave"; do
        dir=$(sock_psql "$c" my_user my_database 'show data_directory' 2>&1)
        if [ "$dir" != /bitnami/postgresql/data ] || ! docker exec "$c" test -s /bitnami/postgresql/data/PG_VERSION; then
            bad+="$(cname "$c"): data_directory is $dir, /bitnami/postgresql holds: $(docker exec "$c" ls -A /bitnami/postgresql | tr '\n' ' '); "
        fi
    done
    [ -z "$bad" ] || { echo "$bad"; return 1; }
}
check bitnami_data_in_volume c_bitnami_volume
report_health "$slave"

[ ${#FAILED[@]} -eq 0 ] || fail "${#FAILED[@]} check(s) failed: ${FAILED[*]}"
