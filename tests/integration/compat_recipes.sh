#!/bin/bash
# compat_recipes: what recipes written for the official image do, and what
# ../shared/seeds/ relies on (one CHECK line per behaviour):
#  - hba_extra_lines: POSTGRES_HOST_AUTH_METHOD="scram-sha-256\nhost
#    replication all 0.0.0.0/0 md5" (seed 001): the first line is the method,
#    the later line is appended after `host all all all scram-sha-256`, the
#    log says how many lines were added, and the role its init SQL creates
#    opens a replication connection from the other host;
#  - hba_extra_refused: a later line that is not a pg_hba record exits 78,
#    names the variable, quotes the line, and creates no PGDATA;
#  - script_clones_primary: an init script that stops the temporary server,
#    empties PGDATA with `rm -rf "$PGDATA"/*`, refills it with
#    `pg_basebackup -R` and starts it with pg_ctl (seed 000's replica), in a
#    container whose role is primary: the start ends in postgres as PID 1,
#    a streaming standby with the primary's rows; the log says the scripts
#    replaced the cluster;
#  - script_clone_restart: restarted, it starts as the standby it is: no
#    script runs, nothing is refused, a file dropped into PGDATA survives (no
#    re-clone), it streams again and `health` calls it healthy;
#  - health_during_init: while an init script runs, `health` exits 1 with
#    "initialising: running /docker-entrypoint-initdb.d/01-schema.sh",
#    although the temporary server answers (`health --live` exits 0); once
#    postgres runs, it is healthy;
#  - health_while_waiting: a replica waiting for its primary is unhealthy
#    with "waiting for the primary at ..."; after SIGINT it exits 130 and
#    leaves no status file;
#  - one_image_both_roles: the image's default role
#    (PG_ENTRYPOINT_DEFAULT_ROLE) yields to POSTGRES_PRIMARY_HOST,
#    POSTGRESQL_REPLICATION_MODE and POSTGRES_ROLE, and plan names the
#    setting that decided; two user settings that disagree exit 78;
#  - adopt_killed: a start killed while it adopts a foreign cluster (during
#    single-user mode) is finished by the next start: one include line, one
#    replication line, the role exists and logs in for replication;
#  - adopt_failed: an adoption that fails after the role and the pg_hba
#    lines (its settings file cannot be written) is finished by the next
#    start without adding the pg_hba lines twice.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"
source "$(dirname "$0")/lib_compat.sh"
compat_setup 85
net_pair
CLIENT_NS=$NS_R
P_PORT=55950 # p: the seed-001-like primary
K_PORT=55951 # k: the seed-000-like replica (role primary, init script clones p)
H_PORT=55952 # h: a primary whose init script waits
W_PORT=55953 # w: a replica waiting for a primary that is not there
A_PORT=55954 # a, b: adopted foreign clusters
B_PORT=55955
REPL_PW=replicator_password

# --- p: a primary configured as seed 001 does it -----------------------------
mkdir -p "$WORK/initdb-p"
cat >"$WORK/initdb-p/00_init.sql" <<'EOF'
CREATE USER replicator WITH REPLICATION ENCRYPTED PASSWORD 'replicator_password';
SELECT pg_create_physical_replication_slot('replication_slot');
EOF
HAM=$'scram-sha-256\nhost replication all 0.0.0.0/0 md5'
CL_INITDB_D=$WORK/initdb-p
cl_launch p "$NS_P" "$P_ADDR" "$P_PORT" PGDATA="$WORK/p" POSTGRES_PASSWORD="$SUPERPW" \
    POSTGRES_HOST_AUTH_METHOD="$HAM" POSTGRES_INITDB_ARGS=--auth-host=scram-sha-256 --
wait_ready p 60

check_hba_extra_lines()
{
    local hba=$WORK/p/pg_hba.conf
    awk '/^host[ \t]+all[ \t]+all[ \t]+all[ \t]+scram-sha-256[ \t]*$/ { a = NR }
         /^host replication all 0\.0\.0\.0\/0 md5$/ { b = NR }
         END { exit !(a && b && b > a) }' "$hba" ||
        { no "pg_hba.conf lacks 'host replication all 0.0.0.0/0 md5' after 'host all all all scram-sha-256': $(grep -v '^#' "$hba" | grep .)"; return 1; }
    log_has p 'configure: POSTGRES_HOST_AUTH_METHOD: added 1 pg_hba line after' ||
        { no "no log line counts the added pg_hba lines"; return 1; }
    [ "$(sqlc p postgres "$SUPERPW" postgres "SHOW password_encryption")" = scram-sha-256 ] ||
        { no "the superuser cannot log in over TCP"; return 1; }
    PGPASSWORD=$REPL_PW PGCONNECT_TIMEOUT=5 ip netns exec "$NS_R" psql -X -At \
        "host=$P_ADDR port=$P_PORT user=replicator dbname=postgres replication=true" \
        -c IDENTIFY_SYSTEM >"$WORK/identify.out" 2>&1 ||
        { no "replicator cannot open a replication connection: $(cat "$WORK/identify.out")"; return 1; }
}
check hba_extra_lines check_hba_extra_lines

check_hba_extra_refused()
{
    cl_launch bad "$NS_P" "$P_ADDR" 55959 PGDATA="$WORK/bad" POSTGRES_PASSWORD="$SUPERPW" \
        POSTGRES_HOST_AUTH_METHOD=$'md5\nhost all all all md5\nhots replication all 0.0.0.0/0 md5' --
    wait_exit bad 15 || { no "not refused within 15 s"; return 1; }
    [ "$EXIT_RC" = 78 ] || { no "exit $EXIT_RC, want 78"; return 1; }
    log_has bad 'ERROR +config: POSTGRES_HOST_AUTH_METHOD: line 3, "hots replication all 0\.0\.0\.0/0 md5", is not a pg_hba record.*hint' ||
        { no "the error does not name the variable and quote the line: $(grep ERROR "${ILOG[bad]}")"; return 1; }
    [ ! -e "$WORK/bad" ] || { no "PGDATA was created"; return 1; }
}
check hba_extra_refused check_hba_extra_refused

# --- k: seed 000's replica: its init script clones p -------------------------
mkdir -p "$WORK/initdb-k"
cat >"$WORK/initdb-k/init.sh" <<'EOF'
#!/bin/bash
set -e
export PGPASSWORD="replicator_password"
until psql -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -U replicator -d postgres -c '\q'; do
  >&2 echo "Primary is unavailable - sleeping"
  sleep 1
done
pg_ctl -D "$PGDATA" -m fast -w stop
rm -rf "$PGDATA"/*
pg_basebackup -h "$PRIMARY_HOST" -p "$PRIMARY_PORT" -D "$PGDATA" -U replicator -Fp -Xs -P -R
pg_ctl -D "$PGDATA" -o "-c config_file=$PGDATA/postgresql.conf" -w start
EOF
chmod 755 "$WORK/initdb-k/init.sh"
sqlc p postgres "$SUPERPW" postgres "CREATE TABLE seed (x text); INSERT INTO seed VALUES ('before the clone')" ||
    fail "could not write on p"
K_ENV=(PGDATA="$WORK/k" POSTGRES_PASSWORD=madcoder PRIMARY_HOST="$P_ADDR" PRIMARY_PORT="$P_PORT")
CL_INITDB_D=$WORK/initdb-k
cl_launch k "$NS_R" "$R_ADDR" "$K_PORT" "${K_ENV[@]}" --
# the server the script starts with pg_ctl answers too: wait for PID 1's
pid1_serves() { [ "$(head -n1 "$WORK/$1/postmaster.pid" 2>/dev/null)" = 1 ] && ready_within "$1" 1; }
until_true 90 pid1_serves k || fail "k: postgres did not come up as PID 1 (log: ${ILOG[k]})"

streams() { [ "$(sqls "$1" postgres postgres "SELECT status FROM pg_stat_wal_receiver")" = streaming ]; }
has_seed_row() { [ "$(sqls k postgres postgres "SELECT count(*) FROM seed WHERE x = '$1'")" = 1 ]; }

check_script_clones_primary()
{
    [ "$(sqls k postgres postgres 'SELECT pg_is_in_recovery()')" = t ] || { no "k is not in recovery"; return 1; }
    until_true 30 streams k || { no "k does not stream"; return 1; }
    has_seed_row 'before the clone' || { no "the row written before the clone is missing"; return 1; }
    sqlc p postgres "$SUPERPW" postgres "INSERT INTO seed VALUES ('after the clone')" >/dev/null
    until_true 30 has_seed_row 'after the clone' || { no "a row written after the clone did not arrive"; return 1; }
    log_has k 'initdb.d: the init scripts replaced the contents of PGDATA .* it now holds a standby' ||
        { no "the log does not say the scripts replaced the cluster"; return 1; }
    [ ! -e "$WORK/k/pg-entrypoint-init-incomplete" ] || { no "an init marker is left"; return 1; }
}
check script_clones_primary check_script_clones_primary

check_script_clone_restart()
{
    local i
    touch "$WORK/k/survivor"
    for i in 1 2; do
        stop_quiet k
        CL_INITDB_D=$WORK/initdb-k
        cl_launch k "$NS_R" "$R_ADDR" "$K_PORT" "${K_ENV[@]}" --
        until_true 60 pid1_serves k || { no "restart $i: k did not come back: $(grep -E 'ERROR|FATAL' "${ILOG[k]}" | head -3)"; return 1; }
        log_has k 'data: PGDATA .* is a standby; starting it as is' || { no "restart $i: not started as the standby it is"; return 1; }
        log_has k 'running /docker-entrypoint-initdb.d' && { no "restart $i: an init script ran again"; return 1; }
        log_has k 'ERROR|refus' && { no "restart $i: $(grep -E 'ERROR|refus' "${ILOG[k]}" | head -2)"; return 1; }
        [ -e "$WORK/k/survivor" ] || { no "restart $i: PGDATA was re-cloned (the dropped file is gone)"; return 1; }
        until_true 30 streams k || { no "restart $i: k does not stream"; return 1; }
        sqlc p postgres "$SUPERPW" postgres "INSERT INTO seed VALUES ('restart $i')" >/dev/null
        until_true 30 has_seed_row "restart $i" || { no "restart $i: a new row did not arrive"; return 1; }
    done
    run_bin "" PGHOST="$WORK/run-k" PGPORT="$K_PORT" "${K_ENV[@]}" -- health
    [ "$RUN_RC" = 0 ] && grep -q '^healthy: standby streaming' <<<"$RUN_OUT" ||
        { no "health of the standby: $(run_desc)"; return 1; }
}
check script_clone_restart check_script_clone_restart

# --- health while a start is under way ---------------------------------------
mkdir -p "$WORK/initdb-h"
cat >"$WORK/initdb-h/01-schema.sh" <<EOF
#!/bin/bash
# waits for the test to release it (bounded), then makes the schema
for i in \$(seq 1 600); do [ -e "$WORK/release-h" ] && break; sleep 0.1; done
psql -v ON_ERROR_STOP=1 -U postgres -d postgres -c 'CREATE TABLE schema_ready (x int)'
EOF
chmod 755 "$WORK/initdb-h/01-schema.sh"
H_ENV=(PGDATA="$WORK/h" PGHOST="$WORK/run-h" PGPORT="$H_PORT" POSTGRES_PASSWORD="$SUPERPW")
health_h() { run_bin "$NS_P" "${H_ENV[@]}" -- health "$@"; }
initialising() { health_h; [ "$RUN_RC" = 1 ] && grep -q '^unhealthy: initialising: running /docker-entrypoint-initdb.d/01-schema.sh$' <<<"$RUN_OUT"; }
healthy_primary() { health_h; [ "$RUN_RC" = 0 ] && grep -q '^healthy: primary accepting connections$' <<<"$RUN_OUT"; }

check_health_during_init()
{
    CL_INITDB_D=$WORK/initdb-h
    cl_launch h "$NS_P" "$P_ADDR" "$H_PORT" PGDATA="$WORK/h" POSTGRES_PASSWORD="$SUPERPW" --
    until_true 60 initialising || { no "health during the init script: $(run_desc)"; return 1; }
    health_h --live
    [ "$RUN_RC" = 0 ] || { no "the temporary server did not answer, so the check proved nothing: $(run_desc)"; return 1; }
    initialising || { no "health turned healthy while the script still ran: $(run_desc)"; return 1; }
    touch "$WORK/release-h"
    ready_within h 60 || { no "h did not start after the script"; return 1; }
    until_true 30 healthy_primary || { no "health once postgres runs: $(run_desc)"; return 1; }
    [ ! -e "$WORK/run-h/pg-entrypoint.status" ] || { no "the status file is left after exec"; return 1; }
}
check health_during_init check_health_during_init

check_health_while_waiting()
{
    local env=(PGDATA="$WORK/w" PGHOST="$WORK/run-w" PGPORT="$W_PORT" POSTGRES_PRIMARY_HOST="$P_ADDR"
        POSTGRES_PRIMARY_PORT=55958 POSTGRES_REPLICATION_PASSWORD="$REPLPW")
    waiting() { run_bin "$NS_R" "${env[@]}" -- health; [ "$RUN_RC" = 1 ] && grep -q "^unhealthy: waiting for the primary at $P_ADDR:55958\$" <<<"$RUN_OUT"; }
    cl_launch w "$NS_R" "$R_ADDR" "$W_PORT" PGDATA="$WORK/w" POSTGRES_PRIMARY_HOST="$P_ADDR" \
        POSTGRES_PRIMARY_PORT=55958 POSTGRES_REPLICATION_PASSWORD="$REPLPW" --
    until_true 30 waiting || { no "health while waiting: $(run_desc)"; return 1; }
    kill -INT "${CPID[w]}"
    wait_exit w 15 || { no "w did not stop within 15 s of SIGINT"; return 1; }
    [ "$EXIT_RC" = 130 ] || { no "exit $EXIT_RC after SIGINT, want 130"; return 1; }
    [ ! -e "$WORK/run-w/pg-entrypoint.status" ] || { no "the status file is left after the stop"; return 1; }
}
check health_while_waiting check_health_while_waiting

# --- either image, either role -------------------------------------------------
check_one_image_both_roles()
{
    local img=PG_ENTRYPOINT_DEFAULT_ROLE
    run_bin "" PGDATA="$WORK/none" $img=primary POSTGRES_PRIMARY_HOST=db POSTGRES_REPLICATION_PASSWORD=x -- plan
    grep -q '^role: replica$' <<<"$RUN_OUT" && grep -q '^role decided by: POSTGRES_PRIMARY_HOST is set$' <<<"$RUN_OUT" ||
        { no "primary image + POSTGRES_PRIMARY_HOST: $(run_desc)"; return 1; }
    run_bin "" PGDATA="$WORK/none" $img=primary POSTGRESQL_REPLICATION_MODE=slave POSTGRESQL_MASTER_HOST=db \
        POSTGRESQL_REPLICATION_PASSWORD=x -- plan
    grep -q '^role: replica$' <<<"$RUN_OUT" && grep -q '^role decided by: POSTGRESQL_REPLICATION_MODE=slave$' <<<"$RUN_OUT" ||
        { no "primary image + Bitnami slave: $(run_desc)"; return 1; }
    run_bin "" PGDATA="$WORK/none" $img=replica POSTGRES_ROLE=primary POSTGRES_PASSWORD=x -- plan
    grep -q '^role: primary$' <<<"$RUN_OUT" || { no "replica image + POSTGRES_ROLE=primary: $(run_desc)"; return 1; }
    run_bin "" PGDATA="$WORK/none" $img=primary POSTGRES_PASSWORD=x -- plan
    grep -q "^role decided by: the image's default ($img=primary)\$" <<<"$RUN_OUT" ||
        { no "the image's default alone: $(run_desc)"; return 1; }
    run_bin "" PGDATA="$WORK/none" $img=primary POSTGRES_ROLE=primary POSTGRESQL_REPLICATION_MODE=slave -- plan
    [ "$RUN_RC" = 78 ] && grep -q 'POSTGRES_ROLE="primary" and POSTGRESQL_REPLICATION_MODE="slave" disagree' <<<"$RUN_ERR" ||
        { no "two user settings that disagree: $(run_desc)"; return 1; }
}
check one_image_both_roles check_one_image_both_roles

# --- adoption that is stopped or fails half way ------------------------------
include_count() { grep -c "^include_if_exists = 'pg-entrypoint.conf'" "$1/postgresql.conf" || true; }
repl_line_count() { grep -Ec '^host[[:space:]]+replication[[:space:]]+"replicator"[[:space:]]+all[[:space:]]+scram-sha-256' "$1/pg_hba.conf" || true; }
repl_login() { # ID PORT
    PGPASSWORD=$REPLPW PGCONNECT_TIMEOUT=5 ip netns exec "$NS_R" psql -X -At \
        "host=$P_ADDR port=$2 user=replicator dbname=postgres replication=true" -c IDENTIFY_SYSTEM
}
printf '%s\n' "$SUPERPW" >"$WORK/pw" && chown postgres "$WORK/pw"
A_ENV=(POSTGRES_PASSWORD="$SUPERPW" POSTGRES_REPLICATION_PASSWORD="$REPLPW")

# kill_in_single_user ID: SIGKILLs the instance's PID 1 (and so its whole
# PID namespace) while its child runs postgres --single. The loop reads
# /proc with shell builtins only, so it sees a run of a few ms.
kill_in_single_user()
{
    local id=$1 pid1=${CPID[$1]} kids kid cmd end=$((SECONDS + 30))
    while [ $SECONDS -lt $end ]; do
        kids=
        # (the file has no final newline: read fails at its end, kids is set)
        read -r kids <"/proc/$pid1/task/$pid1/children" 2>/dev/null || true
        for kid in $kids; do
            cmd=
            IFS= read -r -d '' cmd <"/proc/$kid/cmdline" 2>/dev/null || true
            [ "$cmd" = postgres ] || continue
            grep -qa -- '--single' "/proc/$kid/cmdline" 2>/dev/null || continue
            kill -STOP "$kid" 2>/dev/null
            kill -KILL "$pid1"
            wait_exit "$id" 15 || true
            return 0
        done
        running "$id" || return 1
    done
    return 1
}

check_adopt_killed()
{
    foreign_cluster "$WORK/a" "$A_PORT" "$WORK/pw" made_before "official image" "plain cluster"
    cl_launch a "$NS_P" "$P_ADDR" "$A_PORT" PGDATA="$WORK/a" "${A_ENV[@]}" --
    kill_in_single_user a || { no "could not catch the start in single-user mode"; return 1; }
    log "killed a during single-user mode; include lines now: $(include_count "$WORK/a")"
    cl_launch a "$NS_P" "$P_ADDR" "$A_PORT" PGDATA="$WORK/a" "${A_ENV[@]}" --
    ready_within a 60 || { no "the next start did not come up: $(grep ERROR "${ILOG[a]}" | head -2)"; return 1; }
    log_has a 'adopt: PGDATA .* was not made by pg-entrypoint' || { no "the next start did not adopt"; return 1; }
    [ "$(include_count "$WORK/a")" = 1 ] || { no "$(include_count "$WORK/a") include lines"; return 1; }
    [ "$(repl_line_count "$WORK/a")" = 1 ] || { no "$(repl_line_count "$WORK/a") replication lines"; return 1; }
    repl_login a "$A_PORT" >"$WORK/a.identify" 2>&1 || { no "replicator cannot log in: $(cat "$WORK/a.identify")"; return 1; }
    stop_quiet a
}
check adopt_killed check_adopt_killed

check_adopt_failed()
{
    foreign_cluster "$WORK/b" "$B_PORT" "$WORK/pw" made_before "official image" "plain cluster"
    install -d -o postgres -m 0700 "$WORK/b/pg-entrypoint.conf" # the settings file cannot be written
    cl_launch b "$NS_P" "$P_ADDR" "$B_PORT" PGDATA="$WORK/b" "${A_ENV[@]}" --
    wait_exit b 30 || { no "the failing adoption did not end"; return 1; }
    [ "$EXIT_RC" = 1 ] || { no "exit $EXIT_RC, want 1"; return 1; }
    [ "$(repl_line_count "$WORK/b")" = 1 ] && [ "$(include_count "$WORK/b")" = 0 ] ||
        { no "the failure did not happen between the pg_hba lines and the include line"; return 1; }
    rmdir "$WORK/b/pg-entrypoint.conf"
    cl_launch b "$NS_P" "$P_ADDR" "$B_PORT" PGDATA="$WORK/b" "${A_ENV[@]}" --
    ready_within b 60 || { no "the next start did not come up: $(grep ERROR "${ILOG[b]}" | head -2)"; return 1; }
    [ "$(include_count "$WORK/b")" = 1 ] || { no "$(include_count "$WORK/b") include lines"; return 1; }
    [ "$(repl_line_count "$WORK/b")" = 1 ] || { no "the pg_hba lines were added $(repl_line_count "$WORK/b") times"; return 1; }
    repl_login b "$B_PORT" >"$WORK/b.identify" 2>&1 || { no "replicator cannot log in: $(cat "$WORK/b.identify")"; return 1; }
    stop_quiet b
}
check adopt_failed check_adopt_failed

checks_done
