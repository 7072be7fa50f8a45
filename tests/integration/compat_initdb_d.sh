#!/bin/bash
# compat_initdb_d: /docker-entrypoint-initdb.d as the official image runs it
# (one CHECK line per behaviour). The directory each instance sees is a
# directory of this test, mounted at the fixed path in the instance's private
# root (lib_compat.sh).
#  - initdb_d_sh_executed: an executable .sh is run;
#  - initdb_d_sh_sourced: a non-executable .sh is sourced, and what it
#    exports is seen by a later (executed) .sh;
#  - initdb_d_sql_kinds: .sql, .sql.gz, .sql.xz and .sql.zst are applied;
#  - initdb_d_sorted: in sorted order (the order of the rows they insert);
#  - initdb_d_ignored: README.txt is reported as ignored;
#  - initdb_d_env: the scripts see PGDATA, POSTGRES_USER, POSTGRES_DB,
#    POSTGRES_PASSWORD (also when it came from POSTGRES_PASSWORD_FILE) and
#    PGPASSWORD;
#  - initdb_d_socket_only: the temporary server has listen_addresses '' and
#    answers on no TCP port, and runs with the command line's -c options;
#  - initdb_d_pg_ctl_restart: a script that restarts the server with pg_ctl
#    (as replica recipes do): later scripts use the restarted server, and the
#    start ends in a normal postgres (PID 1) that serves the data over TCP;
#  - initdb_d_failure: a failing .sql -> non-zero exit, an error naming the
#    file, later scripts not run;
#  - initdb_d_failure_next_start: the next start refuses with "did not
#    finish" instead of starting the half-made cluster, runs no script and
#    changes nothing in PGDATA;
#  - initdb_d_replica_skips: a replica (same scripts mounted) runs none of
#    them, says so in its log, and streams;
#  - initdb_d_port_option: `postgres -p PORT` in the command, PGPORT unset
#    (a compose `command:` with -p): the scripts run and the server comes up
#    on PORT (the official image runs its temporary server on PGPORT, 5432 by
#    default, socket only).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"
source "$(dirname "$0")/lib_compat.sh"
compat_setup 390
net_pair
CLIENT_NS=$NS_R
P_PORT=55820   # d, the replica's primary
R_PORT=55821
F_PORT=55822
G_PORT=55823

OUT=$WORK/out
mkdir -m 0777 "$OUT"
mkdir -m 0700 "$WORK/secrets"
printf '%s\n' "$SUPERPW" >"$WORK/secrets/password"

# --- the scripts of d ---------------------------------------------------------------
I=$WORK/initdb-d
mkdir -m 0755 "$I"
# Created out of order on purpose; the rows show the order they ran in.
sql_step() { printf "INSERT INTO steps (name) VALUES ('%s');\n" "$1"; }
sql_step 70-zst.sql.zst | zstd -q -o "$I/70-zst.sql.zst"
sql_step 50-gz.sql.gz | gzip >"$I/50-gz.sql.gz"
sql_step 60-xz.sql.xz | xz >"$I/60-xz.sql.xz"
sql_step 40-plain.sql >"$I/40-plain.sql"
sql_step 90-after-restart.sql >"$I/90-after-restart.sql"
echo "CREATE TABLE steps (n serial PRIMARY KEY, name text NOT NULL, note text);" >"$I/00-schema.sql"
echo "not a script" >"$I/README.txt"
cat >"$I/10-exec.sh" <<EOF
#!/bin/bash
set -e
echo "\$\$" >>"$OUT/runs"
env >"$OUT/env-10"
psql -v ON_ERROR_STOP=1 -X -q -At --username "\$POSTGRES_USER" --dbname "\$POSTGRES_DB" \\
    -c "SHOW listen_addresses" >"$OUT/listen_addresses"
psql -v ON_ERROR_STOP=1 -X -q -At --username "\$POSTGRES_USER" --dbname "\$POSTGRES_DB" \\
    -c "SHOW work_mem" >"$OUT/work_mem"
for a in 127.0.0.1 $P_ADDR; do
    if pg_isready -q -t 2 -h \$a -p "\${PGPORT:-5432}"; then echo "tcp \$a" >>"$OUT/tcp"; fi
done
psql -v ON_ERROR_STOP=1 -X -q --username "\$POSTGRES_USER" --dbname "\$POSTGRES_DB" \\
    -c "INSERT INTO steps (name) VALUES ('10-exec.sh')"
EOF
cat >"$I/20-source.sh" <<'EOF'
# not executable: sourced
export COMPAT_SOURCED="exported by 20-source.sh"
psql -v ON_ERROR_STOP=1 -X -q --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -c "INSERT INTO steps (name) VALUES ('20-source.sh')"
EOF
cat >"$I/30-exec.sh" <<'EOF'
#!/bin/bash
set -e
psql -v ON_ERROR_STOP=1 -X -q --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    -v note="${COMPAT_SOURCED:-unset}" <<'SQL'
INSERT INTO steps (name, note) VALUES ('30-exec.sh', :'note');
SQL
EOF
cat >"$I/80-restart.sh" <<EOF
#!/bin/bash
set -e
head -n1 "\$PGDATA/postmaster.pid" >"$OUT/pid-before-restart"
pg_ctl -D "\$PGDATA" -m fast -w restart >"$OUT/pg_ctl.out" 2>&1
head -n1 "\$PGDATA/postmaster.pid" >"$OUT/pid-after-restart"
psql -v ON_ERROR_STOP=1 -X -q --username "\$POSTGRES_USER" --dbname "\$POSTGRES_DB" \\
    -c "INSERT INTO steps (name) VALUES ('80-restart.sh')"
EOF
chmod 0755 "$I/10-exec.sh" "$I/30-exec.sh" "$I/80-restart.sh"
chmod 0644 "$I/20-source.sh"

# --- f: a failing .sql ------------------------------------------------------------------
IF=$WORK/initdb-f
mkdir -m 0755 "$IF"
echo "CREATE TABLE before_failure (x int);" >"$IF/10-ok.sql"
echo "SELECT * FROM no_such_table;" >"$IF/20-bad.sql"
printf '#!/bin/sh\ntouch %s/f-30-ran\n' "$OUT" >"$IF/30-later.sh"
chmod 0755 "$IF/30-later.sh"

# --- g: -p on the command line ----------------------------------------------------------
IG=$WORK/initdb-g
mkdir -m 0755 "$IG"
printf '#!/bin/sh\ntouch %s/g-ran\n' "$OUT" >"$IG/10-mark.sh"
chmod 0755 "$IG/10-mark.sh"

# All three initialise at the same time (separate ports and socket dirs).
CL_INITDB_D=$I
cl_launch d "$NS_P" "$P_ADDR" "$P_PORT" PGDATA="$WORK/d" POSTGRES_USER=appuser POSTGRES_DB=appdb \
    POSTGRES_PASSWORD_FILE="$WORK/secrets/password" POSTGRES_REPLICATION_PASSWORD="$REPLPW" -- \
    postgres -c listen_addresses="$P_ADDR" -c work_mem=7MB
CL_INITDB_D=$IF
cl_launch f "$NS_P" "$P_ADDR" "$F_PORT" PGDATA="$WORK/f" POSTGRES_PASSWORD="$SUPERPW" --
CL_INITDB_D=$IG
CL_NO_PGPORT=1
cl_launch g "$NS_P" "$P_ADDR" "$G_PORT" PGDATA="$WORK/g" POSTGRES_PASSWORD="$SUPERPW" -- \
    postgres -p "$G_PORT" -c listen_addresses="$P_ADDR"
G_T0=$(date +%s)

wait_ready d
steps() { sqlc d appuser "$SUPERPW" appdb "SELECT string_agg(name, ',' ORDER BY n) FROM steps"; }
STEPS=$(steps) || fail "cannot read the steps table as appuser over TCP"
log "steps: $STEPS"

check_sh_executed()
{
    log_has d "$(step_re initdb.d)running /docker-entrypoint-initdb.d/10-exec.sh" ||
        { no "the log does not say it ran 10-exec.sh"; return 1; }
    [[ ,$STEPS, == *,10-exec.sh,* ]] || { no "10-exec.sh did not insert its row: $STEPS"; return 1; }
}
check initdb_d_sh_executed check_sh_executed

check_sh_sourced()
{
    log_has d "$(step_re initdb.d)sourcing /docker-entrypoint-initdb.d/20-source.sh" ||
        { no "the log does not say it sourced 20-source.sh"; return 1; }
    [[ ,$STEPS, == *,20-source.sh,* ]] || { no "20-source.sh did not insert its row: $STEPS"; return 1; }
    local note
    note=$(sqlc d appuser "$SUPERPW" appdb "SELECT note FROM steps WHERE name = '30-exec.sh'")
    [ "$note" = "exported by 20-source.sh" ] ||
        { no "30-exec.sh saw COMPAT_SOURCED='$note', want the value 20-source.sh exported"; return 1; }
}
check initdb_d_sh_sourced check_sh_sourced

check_sql_kinds()
{
    local f
    for f in 40-plain.sql 50-gz.sql.gz 60-xz.sql.xz 70-zst.sql.zst; do
        [[ ,$STEPS, == *,$f,* ]] || { no "$f was not applied: $STEPS"; return 1; }
    done
}
check initdb_d_sql_kinds check_sql_kinds

check_sorted()
{
    local want=10-exec.sh,20-source.sh,30-exec.sh,40-plain.sql,50-gz.sql.gz,60-xz.sql.xz,70-zst.sql.zst,80-restart.sh,90-after-restart.sql
    [ "$STEPS" = "$want" ] || { no "the scripts ran in the order $STEPS, want $want"; return 1; }
}
check initdb_d_sorted check_sorted

check_ignored()
{
    log_has d 'ignoring /docker-entrypoint-initdb.d/README.txt' ||
        { no "README.txt is not reported as ignored"; return 1; }
}
check initdb_d_ignored check_ignored

check_env()
{
    local e=$OUT/env-10 kv
    [ -s "$e" ] || { no "10-exec.sh wrote no environment"; return 1; }
    for kv in "PGDATA=$WORK/d" POSTGRES_USER=appuser POSTGRES_DB=appdb \
        "POSTGRES_PASSWORD=$SUPERPW" "PGPASSWORD=$SUPERPW"; do
        grep -qxF -- "$kv" "$e" || { no "the scripts do not see ${kv%%=*} (or not its value)"; return 1; }
    done
}
check initdb_d_env check_env

check_socket_only()
{
    [ -f "$OUT/listen_addresses" ] || { no "10-exec.sh could not ask the server for listen_addresses"; return 1; }
    [ -z "$(cat "$OUT/listen_addresses")" ] ||
        { no "the temporary server has listen_addresses '$(cat "$OUT/listen_addresses")'"; return 1; }
    [ ! -s "$OUT/tcp" ] || { no "the temporary server answered over TCP: $(cat "$OUT/tcp")"; return 1; }
    [ "$(cat "$OUT/work_mem")" = 7MB ] ||
        { no "the temporary server has work_mem $(cat "$OUT/work_mem"), not the command line's 7MB"; return 1; }
}
check initdb_d_socket_only check_socket_only

check_pg_ctl_restart()
{
    [ -s "$OUT/pid-after-restart" ] || { no "pg_ctl restart failed: $(tail -3 "$OUT/pg_ctl.out" 2>/dev/null)"; return 1; }
    [ "$(cat "$OUT/pid-before-restart")" != "$(cat "$OUT/pid-after-restart")" ] ||
        { no "the postmaster pid did not change across pg_ctl restart"; return 1; }
    [[ $STEPS == *,80-restart.sh,90-after-restart.sql ]] ||
        { no "the scripts after the restart did not run against the restarted server: $STEPS"; return 1; }
    [ "$(head -n1 "$WORK/d/postmaster.pid")" = 1 ] ||
        { no "the final server is not PID 1 (postmaster.pid says $(head -n1 "$WORK/d/postmaster.pid"))"; return 1; }
    [ "$(pm_ids d)" = "$(id -u postgres) $(id -g postgres)" ] || { no "the final server runs as $(pm_ids d)"; return 1; }
    [ "$(sqlc d appuser "$SUPERPW" appdb "SELECT current_setting('listen_addresses')")" = "$P_ADDR" ] ||
        { no "the final server does not listen on $P_ADDR"; return 1; }
    [ ! -e "$WORK/d/pg-entrypoint-init-incomplete" ] || { no "the init marker remains after a good start"; return 1; }
}
check initdb_d_pg_ctl_restart check_pg_ctl_restart

# --- the replica of d -------------------------------------------------------------------
runs_before=$(wc -l <"$OUT/runs")
CL_INITDB_D=$I
cl_launch r "$NS_R" "$R_ADDR" "$R_PORT" PGDATA="$WORK/r" POSTGRES_PRIMARY_HOST="$P_ADDR" \
    POSTGRES_PRIMARY_PORT="$P_PORT" POSTGRES_REPLICATION_PASSWORD="$REPLPW" \
    POSTGRES_USER=appuser POSTGRES_DB=appdb POSTGRES_PASSWORD="$SUPERPW" --

# --- f: the failure, and the next start ---------------------------------------------------
check_failure()
{
    wait_exit f 40 || { no "f still runs 40 s after its start, want a failed exit"; stop_quiet f; return 1; }
    [ "$EXIT_RC" != 0 ] || { no "a failing .sql ended with exit 0"; return 1; }
    grep -Eq '\[pg-entrypoint\] ERROR .*20-bad\.sql' "${ILOG[f]}" ||
        { no "no ERROR line names 20-bad.sql: $(grep -m2 ERROR "${ILOG[f]}")"; return 1; }
    [ ! -e "$OUT/f-30-ran" ] || { no "30-later.sh ran after the failure"; return 1; }
    log "f: exit $EXIT_RC: $(grep -m1 'ERROR.*20-bad.sql' "${ILOG[f]}")"
}
check initdb_d_failure check_failure

check_failure_next_start()
{
    local before
    [ -f "$WORK/f/PG_VERSION" ] || { no "no half-made cluster to start again"; return 1; }
    before=$(snapshot "$WORK/f")
    CL_INITDB_D=$IF
    cl_launch f "$NS_P" "$P_ADDR" "$F_PORT" PGDATA="$WORK/f" POSTGRES_PASSWORD="$SUPERPW" --
    wait_exit f 20 || { stop_quiet f; no "the next start is still running after 20 s (it started the half-made cluster?)"; return 1; }
    [ "$EXIT_RC" != 0 ] || { no "the next start exited 0"; return 1; }
    log_has f 'did not finish' || { no "the next start does not say the initialisation did not finish: $(grep -m1 ERROR "${ILOG[f]}")"; return 1; }
    log_has f 'running /docker-entrypoint-initdb.d' && { no "the next start ran the scripts again"; return 1; }
    log_has f 'database system is ready' && { no "the next start started postgres"; return 1; }
    [ "$(snapshot "$WORK/f")" = "$before" ] || { no "the next start changed PGDATA"; return 1; }
    log "f, next start: exit $EXIT_RC: $(grep -m1 'ERROR.*did not finish' "${ILOG[f]}" | cut -c1-200)"
}
check initdb_d_failure_next_start check_failure_next_start

# --- the replica --------------------------------------------------------------------------
wait_ready r
check_replica_skips()
{
    log_has r "not running the scripts in /docker-entrypoint-initdb.d" ||
        { no "the replica's log does not say it skips the scripts"; return 1; }
    log_has r 'running /docker-entrypoint-initdb.d|sourcing /docker-entrypoint-initdb.d' &&
        { no "the replica ran a script: $(log_line r 'running /docker-entrypoint-initdb.d|sourcing')"; return 1; }
    [ "$(wc -l <"$OUT/runs")" = "$runs_before" ] || { no "10-exec.sh ran again (on the replica)"; return 1; }
    sqlc d appuser "$SUPERPW" appdb "INSERT INTO steps (name) VALUES ('after-clone')" >/dev/null ||
        { no "cannot write on the primary"; return 1; }
    after_clone() { [ "$(sqlc r appuser "$SUPERPW" appdb "SELECT count(*) FROM steps WHERE name = 'after-clone'")" = 1 ]; }
    until_true 20 after_clone ||
        { no "the row written on the primary after the clone did not arrive within 20 s"; return 1; }
    [ "$(sqlc r appuser "$SUPERPW" appdb "SELECT status FROM pg_stat_wal_receiver")" = streaming ] ||
        { no "the replica is not streaming"; return 1; }
}
check initdb_d_replica_skips check_replica_skips

# --- g --------------------------------------------------------------------------------------
check_port_option()
{
    local left=$((30 - ($(date +%s) - G_T0)))
    [ "$left" -gt 5 ] || left=5
    if ! ready_within g "$left"; then
        local st=running
        running g || { wait_exit g 1 || true; st="exited with status $EXIT_RC"; }
        no "with 'postgres -p $G_PORT' and no PGPORT the server was not up within 30 s ($st; scripts ran: $([ -e "$OUT/g-ran" ] && echo yes || echo no); last log line: $(grep -v '^\s*$' "${ILOG[g]}" | tail -n1 | cut -c1-200))"
        stop_quiet g
        return 1
    fi
    [ -e "$OUT/g-ran" ] || { no "the server is up, but the init script did not run"; return 1; }
}
check initdb_d_port_option check_port_option

checks_done
