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
#  - one_image_both_roles: the image's default role
#    (PG_ENTRYPOINT_DEFAULT_ROLE) yields to POSTGRES_PRIMARY_HOST,
#    POSTGRESQL_REPLICATION_MODE and POSTGRES_ROLE, and plan names the
#    setting that decided; two user settings that disagree exit 78;
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"
source "$(dirname "$0")/lib_compat.sh"
compat_setup 490
net_pair
CLIENT_NS=$NS_R
P_PORT=55950 # p: the seed-001-like primary
K_PORT=55951 # k: the seed-000-like replica (role primary, init script clones p)
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
wait_ready p

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

checks_done
