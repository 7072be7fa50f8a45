#!/bin/bash
# rewind_prereq: what pg_rewind needs is in place on a primary from initdb
# on, after the upgrade of a cluster made by an earlier pg-entrypoint, and
# after the adoption of another entrypoint's cluster:
#  - fresh: SHOW wal_log_hints is on (from pg-entrypoint.conf); the
#    replication role is no superuser, is a member of no role, and may
#    execute exactly pg_ls_dir(text,boolean,boolean), pg_stat_file(text,
#    boolean), pg_read_binary_file(text) and pg_read_binary_file(text,bigint,
#    bigint,boolean); pg_hba.conf has `host postgres "replicator" all
#    scram-sha-256` before `host all all all`, and the server loaded it; a
#    non-replication connection as replicator from another host to database
#    postgres works with POSTGRES_REPLICATION_PASSWORD and fails with a
#    wrong one or none;
#  - fresh, end to end: the replica is promoted while the stopped primary
#    holds a row it never sent; `pg_rewind --source-server='... user=replicator
#    dbname=postgres'` against a stopped copy of the old primary succeeds as
#    that role, first with --dry-run, then for real;
#  - upgrade: a cluster made by pg-entrypoint b4ee7f2 (PGEP_OLD_BIN, that
#    binary, when set; otherwise the cluster this binary makes, taken back to
#    b4ee7f2's files: its pg-entrypoint.conf, its pg_hba lines, no grants)
#    gets the three at its next start, with the pg_hba lines once each; a
#    second start changes none of its configuration files and runs no step;
#    `plan` lists the upgrade before it and the reuse after it; an upgrade
#    that failed half way is done again in full, without duplicates;
#  - adopt: a cluster made by plain initdb gets the three.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"
it_setup 800
net_pair
P_PORT=55980
R_PORT=55981

REWIND_FUNCS="pg_ls_dir(text,boolean,boolean); pg_read_binary_file(text); pg_read_binary_file(text,bigint,bigint,boolean); pg_stat_file(text,boolean)"
PG_LINE='^host[[:space:]]+postgres[[:space:]]+"replicator"[[:space:]]+all[[:space:]]+scram-sha-256[[:space:]]*$'
REPL_LINE='^host[[:space:]]+replication[[:space:]]+"replicator"[[:space:]]+all[[:space:]]+scram-sha-256[[:space:]]*$'

count_lines() { grep -Ec -- "$1" "$2" || true; }

# as_repl ID PASSWORD SQL: a non-replication connection as replicator from
# the other namespace, to database postgres; an empty PASSWORD sends none.
as_repl()
{
    local ns=$NS_R
    [ "${INS[$1]}" = "$NS_R" ] && ns=$NS_P
    PGPASSWORD="$2" PGPASSFILE=/dev/null PGCONNECT_TIMEOUT=5 ip netns exec "$ns" psql -X -At -w \
        "host=${IADDR[$1]} port=${IPORT[$1]} user=replicator dbname=postgres" -c "$3"
}

# prereqs ID PGDATA WHAT: the three things, as the server sees them.
prereqs()
{
    local id=$1 data=$2 what=$3 v
    v=$(q "$id" 'show wal_log_hints')
    [ "$v" = on ] || fail "$what: wal_log_hints is $v, want on"
    v=$(q "$id" "select sourcefile from pg_settings where name = 'wal_log_hints'")
    [ "$v" = "$data/pg-entrypoint.conf" ] || fail "$what: wal_log_hints comes from \"$v\", not pg-entrypoint.conf"
    v=$(q "$id" "select rolsuper::text || ' ' || rolreplication::text || ' ' ||
                        (select count(*) from pg_auth_members where member = r.oid)
                 from pg_roles r where rolname = 'replicator'")
    [ "$v" = "false true 0" ] || fail "$what: replicator (superuser, replication, memberships) is \"$v\", want \"false true 0\""
    v=$(q "$id" "select string_agg(p.oid::regprocedure::text, '; ' order by p.oid::regprocedure::text)
                 from pg_proc p, aclexplode(p.proacl) a
                 where a.grantee = 'replicator'::regrole and a.privilege_type = 'EXECUTE'")
    [ "$v" = "$REWIND_FUNCS" ] || fail "$what: replicator may execute \"$v\", want exactly \"$REWIND_FUNCS\""
    v=$(q "$id" "select bool_and(has_function_privilege('replicator', f, 'EXECUTE')) from unnest(array[
                 'pg_catalog.pg_ls_dir(text, boolean, boolean)', 'pg_catalog.pg_stat_file(text, boolean)',
                 'pg_catalog.pg_read_binary_file(text)',
                 'pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)']) f")
    [ "$v" = t ] || fail "$what: has_function_privilege says replicator cannot execute one of the four"
    [ "$(count_lines "$PG_LINE" "$data/pg_hba.conf")" = 1 ] ||
        fail "$what: pg_hba.conf has $(count_lines "$PG_LINE" "$data/pg_hba.conf") 'host postgres \"replicator\" all scram-sha-256' lines, want 1"
    [ "$(count_lines "$REPL_LINE" "$data/pg_hba.conf")" = 1 ] ||
        fail "$what: pg_hba.conf has $(count_lines "$REPL_LINE" "$data/pg_hba.conf") replication lines for replicator, want 1"
    v=$(q "$id" "select count(*) from pg_hba_file_rules r where type = 'host' and database = '{postgres}'
                 and user_name = '{replicator}' and address = 'all' and auth_method = 'scram-sha-256'
                 and error is null and line_number < (select min(line_number) from pg_hba_file_rules
                     where type = 'host' and database = '{all}' and user_name = '{all}'
                     and address = 'all')")
    [ "$v" = 1 ] || fail "$what: the server has no 'host postgres \"replicator\"' rule before 'host all all all': $(q "$id" 'select line_number, type, database, user_name, address, auth_method, error from pg_hba_file_rules')"
    v=$(as_repl "$id" "$REPLPW" 'select current_user, current_database()') ||
        fail "$what: replicator cannot connect to database postgres with POSTGRES_REPLICATION_PASSWORD"
    [ "$v" = "replicator|postgres" ] || fail "$what: the connection as replicator answered \"$v\""
    if as_repl "$id" "not-$REPLPW" 'select 1' >/dev/null 2>"$WORK/wrong.err"; then
        fail "$what: replicator connected to database postgres with a wrong password"
    fi
    grep -q 'password authentication failed for user "replicator"' "$WORK/wrong.err" ||
        fail "$what: the wrong password failed for another reason: $(cat "$WORK/wrong.err")"
    if as_repl "$id" "" 'select 1' >/dev/null 2>"$WORK/none.err"; then
        fail "$what: replicator connected to database postgres without a password"
    fi
    log "$what: wal_log_hints on, grants exactly the four, pg_hba line once, password required"
}

# config_files DIR: the configuration files with mode, size, mtime and hash.
config_files()
{
    local f
    for f in postgresql.conf postgresql.auto.conf pg-entrypoint.conf pg_hba.conf; do
        printf '%s ' "$f"
        stat -c '%a %U %s %Y' "$1/$f"
        sha256sum <"$1/$f"
    done
}

# ---------------------------------------------------------------- fresh
launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p"
wait_ready p
prereqs p "$WORK/p" fresh
q p "create table t (id int primary key, v text); insert into t values (1, 'both')"
launch_replica r "$NS_R" "$R_ADDR" "$R_PORT" "$WORK/r"
wait_ready r
poll 60 "the first row reaches the replica" q_is r 'select v from t where id = 1' both
stop r INT
[ "$EXIT_RC" = 0 ] || fail "the replica exited $EXIT_RC on SIGINT"
# A row the replica never receives, then the old primary stops cleanly.
q p "insert into t values (2, 'old primary only')"
stop p INT
[ "$EXIT_RC" = 0 ] || fail "the primary exited $EXIT_RC on SIGINT"
cp -a "$WORK/p" "$WORK/target"
# The replica starts without its primary and is promoted: timeline 2.
launch_replica r "$NS_R" "$R_ADDR" "$R_PORT" "$WORK/r"
wait_ready r
q r 'select pg_promote(true, 60)' >/dev/null
poll 60 "the promoted replica accepts writes" q r "insert into t values (3, 'new primary')"

# pg_rewind as replicator, from the other host, password in the environment.
rewind()
{
    PGPASSWORD="$REPLPW" ip netns exec "$NS_P" runuser -u postgres -- "$PG_BINDIR/pg_rewind" "$@" \
        --target-pgdata="$WORK/target" \
        --source-server="host=$R_ADDR port=$R_PORT user=replicator dbname=postgres connect_timeout=10"
}
rewind --dry-run >"$WORK/dry.out" 2>&1 || fail "pg_rewind --dry-run as replicator failed: $(cat "$WORK/dry.out")"
grep -q 'servers diverged at WAL location' "$WORK/dry.out" ||
    fail "pg_rewind --dry-run found no divergence (the test did not make one): $(cat "$WORK/dry.out")"
grep -q 'Done!' "$WORK/dry.out" || fail "pg_rewind --dry-run did not finish: $(cat "$WORK/dry.out")"
rewind --no-sync >"$WORK/rewind.out" 2>&1 || fail "pg_rewind as replicator failed: $(cat "$WORK/rewind.out")"
grep -q 'Done!' "$WORK/rewind.out" || fail "pg_rewind did not finish: $(cat "$WORK/rewind.out")"
log "pg_rewind as replicator: $(grep 'diverged' "$WORK/rewind.out")"
assert_no_secret "${ILOG[p]}" "${ILOG[r]}" "$WORK/dry.out" "$WORK/rewind.out"
stop r INT

# ---------------------------------------------------------------- upgrade
# b4ee7f2's settings file, as it wrote it with the default environment.
old_settings()
{
    cat <<'EOF'
# Written by pg-entrypoint when this cluster was initialised. Settings in
# postgresql.auto.conf (ALTER SYSTEM) and on the command line win over these.
listen_addresses = '*'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
wal_keep_size = '64MB'
max_slot_wal_keep_size = '1GB'
hot_standby = on
EOF
}

if [ -n "${PGEP_OLD_BIN:-}" ]; then
    log "upgrade: the cluster is made by PGEP_OLD_BIN=$PGEP_OLD_BIN"
    LAUNCH_EXEC=("$(readlink -f "$PGEP_OLD_BIN")")
    launch_primary old "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/old"
    wait_ready old
    stop old INT
    # shellcheck disable=SC2034  # read by launch (lib.sh)
    LAUNCH_EXEC=()
else
    log "upgrade: the cluster is made by this binary and taken back to b4ee7f2's files (set PGEP_OLD_BIN to use that binary)"
    launch_primary old "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/old"
    wait_ready old
    stop old INT
    old_settings >"$WORK/old/pg-entrypoint.conf"
    sed -i -e '/^host postgres /d' \
        -e 's/^# pg-entrypoint: replication connections from the replicas.*/# pg-entrypoint: replication connections from the replicas/' \
        "$WORK/old/pg_hba.conf"
    echo "REVOKE EXECUTE ON FUNCTION pg_catalog.pg_ls_dir(text, boolean, boolean), pg_catalog.pg_stat_file(text, boolean), pg_catalog.pg_read_binary_file(text), pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean) FROM replicator;" |
        runuser -u postgres -- "$PG_BINDIR/postgres" --single -D "$WORK/old" postgres >"$WORK/revoke.out" 2>&1 ||
        fail "could not revoke the grants: $(cat "$WORK/revoke.out")"
fi
[ "$EXIT_RC" = 0 ] || fail "the start that made the old cluster exited $EXIT_RC"
[ "$(cat "$WORK/old/pg-entrypoint.conf")" = "$(old_settings)" ] ||
    fail "the old cluster's pg-entrypoint.conf is not b4ee7f2's: $(diff <(old_settings) "$WORK/old/pg-entrypoint.conf")"
[ "$(count_lines "$PG_LINE" "$WORK/old/pg_hba.conf")" = 0 ] || fail "the old cluster's pg_hba.conf already has the postgres line"
hba_before=$(grep -Ec '^[^#[:space:]]' "$WORK/old/pg_hba.conf")

# plan_old WHAT: `plan` for the old cluster, which must not change it.
# shellcheck disable=SC2034  # read by run_bin (lib_ops.sh)
RUN_TIMEOUT=60
plan_old()
{
    local before
    before=$(snapshot "$WORK/old")
    run_bin "$NS_P" PGDATA="$WORK/old" POSTGRES_PASSWORD="$SUPERPW" \
        POSTGRES_REPLICATION_PASSWORD="$REPLPW" HOSTNAME=old -- plan
    expect_rc 0 "$1"
    [ "$(snapshot "$WORK/old")" = "$before" ] || fail "$1: plan changed PGDATA"
}
plan_old "plan before the upgrade"
out_has '^  [0-9]+\. upgrade the cluster made by an earlier pg-entrypoint for pg_rewind: no initdb, but rewrite the settings file \(wal_log_hints = on\) and pg_hba "host postgres" lines for all$' "plan: the upgrade step"
out_has '^  [0-9]+\. create replication role "replicator" if it does not exist, and grant it EXECUTE on pg_ls_dir, pg_stat_file and pg_read_binary_file$' "plan: the grants"
out_lacks 'reuse the existing cluster' "plan before the upgrade"

# An upgrade that fails before its last write (here the settings file cannot
# be written: a directory holds its temporary name) is done again at the
# next start, in full, and adds no pg_hba line twice.
install -d -o postgres -m 0700 "$WORK/old/pg-entrypoint.conf.tmp/x"
launch_primary old "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/old"
expect_exit old 60 1 "an upgrade that cannot write pg-entrypoint.conf"
assert_log_has "${ILOG[old]}" "$(step_re upgrade)failed in" "the upgrade that cannot write pg-entrypoint.conf failed"
[ "$(count_lines "$PG_LINE" "$WORK/old/pg_hba.conf")" = 1 ] ||
    fail "the failed upgrade did not add the pg_hba line before writing the settings file"
[ "$(cat "$WORK/old/pg-entrypoint.conf")" = "$(old_settings)" ] || fail "the failed upgrade changed pg-entrypoint.conf"
rm -r "$WORK/old/pg-entrypoint.conf.tmp"

launch_primary old "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/old"
wait_ready old
assert_log_has "${ILOG[old]}" "$(step_re upgrade)done in" "the start after the old version upgraded the cluster"
assert_log_lacks "${ILOG[old]}" "$(step_re initdb)" "the upgrade ran initdb"
prereqs old "$WORK/old" upgrade
[ "$(grep -Ec '^[^#[:space:]]' "$WORK/old/pg_hba.conf")" = $((hba_before + 1)) ] ||
    fail "upgrade: pg_hba.conf has $(grep -Ec '^[^#[:space:]]' "$WORK/old/pg_hba.conf") records, want $((hba_before + 1)) (one added): $(cat "$WORK/old/pg_hba.conf")"
grep -B1 -E "$PG_LINE" "$WORK/old/pg_hba.conf" | head -n1 | grep -Eq "$REPL_LINE" ||
    fail "upgrade: the postgres line is not next to the replication line: $(cat "$WORK/old/pg_hba.conf")"
[ "$(grep -c "^include_if_exists = 'pg-entrypoint.conf'" "$WORK/old/postgresql.conf")" = 1 ] ||
    fail "upgrade: postgresql.conf includes pg-entrypoint.conf $(grep -c "^include_if_exists" "$WORK/old/postgresql.conf") times"
stop old INT

plan_old "plan after the upgrade"
out_has '^  [0-9]+\. reuse the existing cluster: no initdb, no changes to its files$' "plan after the upgrade: reuse"
out_lacks 'upgrade' "plan after the upgrade"
before=$(config_files "$WORK/old")
launch_primary old "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/old"
wait_ready old
assert_log_has "${ILOG[old]}" 'holds a cluster; reusing it without initialisation' "the second start reused the cluster"
assert_log_lacks "${ILOG[old]}" "$(step_re '(upgrade|adopt|bootstrap|configure)')" "the second start changed the cluster"
prereqs old "$WORK/old" "upgrade, second start"
stop old INT
[ "$(config_files "$WORK/old")" = "$before" ] ||
    fail "the second start changed configuration files: $(diff <(echo "$before") <(config_files "$WORK/old"))"
assert_no_secret "$WORK"/old.*.log

# ---------------------------------------------------------------- adopt
install -d -o postgres -m 0700 "$WORK/plain"
install -o postgres -m 0600 /dev/null "$WORK/pw"
printf '%s\n' "$SUPERPW" >"$WORK/pw"
runuser -u postgres -- "$PG_BINDIR/initdb" -N -A scram-sha-256 -U postgres --pwfile="$WORK/pw" \
    -D "$WORK/plain" >"$WORK/initdb.out" 2>&1 || fail "plain initdb failed: $(tail -5 "$WORK/initdb.out")"
rm -f "$WORK/pw"
launch_primary plain "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/plain"
wait_ready plain
assert_log_has "${ILOG[plain]}" "$(step_re adopt)done in" "the plain cluster was adopted"
prereqs plain "$WORK/plain" adopt
assert_no_secret "${ILOG[plain]}"
log "PASS"
