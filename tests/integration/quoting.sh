#!/bin/bash
# quoting: names and passwords that need quoting work exactly, or are refused
# with a clear error; never SQL or shell injection.
#  - Primary A: POSTGRES_USER, POSTGRES_DB, POSTGRES_REPLICATION_USER and both
#    passwords hold spaces ; -- `...` and non-ASCII text (the superuser's
#    name: - instead of --), all but the superuser's name ' \ $ and $(...) too, and the database name and the
#    passwords " as well. The
#    roles and the database exist with exactly those names; the superuser and
#    the replication user log in over TCP with SCRAM from the other network
#    namespace with exactly those passwords (and not with a near miss); the
#    pg_hba line names the replication user and the server parsed it.
#  - A replica clones A and streams from it with that replication user and
#    password (primary_conninfo and its .pgpass file carry them).
#  - Primary C: the default superuser postgres, with a database name and a
#    replication user built to inject SQL (x"; DROP ROLE postgres; --): the
#    role postgres and the database postgres still exist, and the names are
#    created literally.
#  - No $(...) or `...` in any value ran: the instances' working directory
#    stays empty.
#  - A replication user holding " (pg_hba.conf cannot quote it) and a
#    superuser holding " (initdb writes it into ALTER USER "%s" unescaped) or
#    ' (PostgreSQL 15 refuses any of " $ ' \ in the bootstrap superuser's
#    name, and 15.19 on also -- /* */) are refused: exit 78, the message names the variable and has a
#    hint, PGDATA is not created.
source "$(dirname "$0")/lib.sh"
it_setup 300
net_pair
P_PORT=55910
C_PORT=55911
R_PORT=55912
mkdir "$WORK/cwd" && cd "$WORK/cwd" || fail "cannot enter $WORK/cwd"   # a $(touch ...) that ran would leave a file here

SU=$'o r;su-per `touch su` - (x) \xc3\xbc'
DB=$'d\'b "x"; DROP DATABASE postgres; -- \xc3\xa9 $(touch db)'
RUSER=$'rep\'l \\ $u; -- `touch ru` \xc3\xbc'
SUPERPW=$'p\xc3\xa4ssw\xc3\xb6rd \xe2\x82\xac \'" \\ $HOME; -- `touch pw` x'
REPLPW=$'r\'e"p\\l $(touch rpw); -- p\xc3\xa4ssw\xc3\xb6rd \xe2\x82\xac :*'
for v in "$SU" "$DB" "$RUSER"; do
    [ "$(printf '%s' "$v" | wc -c)" -le 63 ] || fail "internal: \"$v\" is longer than 63 bytes"
done

# as NS USER PASSWORD PORT DB SQL: one statement over TCP from NS; names and
# the password travel in the environment.
as()
{
    PGUSER=$2 PGPASSWORD=$3 PGDATABASE=$5 PGCONNECT_TIMEOUT=5 ip netns exec "$1" \
        psql -X -q -At -v ON_ERROR_STOP=1 -h "$P_ADDR" -p "$4" -c "$6"
}
# sql_lit VALUE: VALUE as an SQL literal, for the test's own queries.
sql_lit() { printf "'%s'" "${1//\'/\'\'}"; }

launch_primary a "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/a" POSTGRES_USER="$SU" POSTGRES_DB="$DB" \
    POSTGRES_REPLICATION_USER="$RUSER"
launch_primary c "$NS_P" "$P_ADDR" "$C_PORT" "$WORK/c" POSTGRES_DB='x"; DROP ROLE postgres; --' \
    POSTGRES_REPLICATION_USER="x'; DROP ROLE postgres; --"
wait_ready a
wait_ready c

# A: the superuser, from the other host, with SCRAM, exactly this password.
got=$(as "$NS_R" "$SU" "$SUPERPW" "$P_PORT" postgres 'select current_user') ||
    fail "the superuser \"$SU\" cannot log in over TCP with its password"
[ "$got" = "$SU" ] || fail "logged in as \"$got\", want \"$SU\""
poll 5 "A logs a SCRAM authentication of the superuser" \
    grep -qF "connection authenticated: identity=\"$SU\" method=scram-sha-256" "${ILOG[a]}"
if as "$NS_R" "$SU" "${SUPERPW% x}" "$P_PORT" postgres 'select 1' >/dev/null 2>"$WORK/near.err"; then
    fail "the superuser logged in with a password missing its last two characters"
fi
grep -q 'password authentication failed' "$WORK/near.err" || fail "a near-miss password failed for another reason: $(cat "$WORK/near.err")"

# A: the database and the replication role, with exactly these names.
[ "$(as "$NS_R" "$SU" "$SUPERPW" "$P_PORT" "$DB" 'select current_database()')" = "$DB" ] ||
    fail "cannot connect to database \"$DB\""
[ "$(as "$NS_R" "$SU" "$SUPERPW" "$P_PORT" postgres \
    'select datname from pg_database order by datname' | tr '\n' '|')" = "$(printf '%s\n' "$DB" postgres template0 template1 | LC_ALL=C sort | tr '\n' '|')" ] ||
    fail "A's databases are: $(as "$NS_R" "$SU" "$SUPERPW" "$P_PORT" postgres 'select datname from pg_database' | tr '\n' '|')"
[ "$(as "$NS_R" "$SU" "$SUPERPW" "$P_PORT" postgres \
    "select string_agg(rolname, '|' order by rolname) from pg_roles where rolname !~ '^pg_'")" = "$(printf '%s\n' "$SU" "$RUSER" | LC_ALL=C sort | paste -sd'|')" ] ||
    fail "A's roles are: $(as "$NS_R" "$SU" "$SUPERPW" "$P_PORT" postgres "select string_agg(rolname, '|') from pg_roles where rolname !~ '^pg_'")"
[ "$(as "$NS_R" "$SU" "$SUPERPW" "$P_PORT" postgres \
    "select rolreplication and rolcanlogin and rolpassword like 'SCRAM-SHA-256\$%' from pg_authid where rolname = $(sql_lit "$RUSER")")" = t ] ||
    fail "the replication role \"$RUSER\" lacks REPLICATION, LOGIN or a SCRAM secret"
# pg_hba: the line names that user (quoted), and the server parsed it.
grep -qF "host replication \"$RUSER\" all scram-sha-256" "$WORK/a/pg_hba.conf" ||
    fail "pg_hba.conf has no replication line for \"$RUSER\": $(grep replication "$WORK/a/pg_hba.conf")"
[ "$(as "$NS_R" "$SU" "$SUPERPW" "$P_PORT" postgres \
    "select count(*) from pg_hba_file_rules where error is not null")" = 0 ] ||
    fail "the server could not parse pg_hba.conf: $(as "$NS_R" "$SU" "$SUPERPW" "$P_PORT" postgres 'select line_number, error from pg_hba_file_rules where error is not null')"
[ "$(as "$NS_R" "$SU" "$SUPERPW" "$P_PORT" postgres \
    "select count(*) from pg_hba_file_rules where database = '{replication}' and user_name = array[$(sql_lit "$RUSER")]")" = 1 ] ||
    fail "the server did not load a replication line for \"$RUSER\""
# The replication user logs in for replication with exactly its password.
sysid=$(PGUSER=$RUSER PGPASSWORD=$REPLPW PGCONNECT_TIMEOUT=5 ip netns exec "$NS_R" psql -X -At \
    "host=$P_ADDR port=$P_PORT dbname=replication replication=true" -c IDENTIFY_SYSTEM | cut -d'|' -f1) ||
    fail "\"$RUSER\" cannot open a replication connection with its password"
[ -n "$sysid" ] || fail "IDENTIFY_SYSTEM as \"$RUSER\" gave nothing"
poll 5 "A logs a SCRAM authentication of the replication user" \
    grep -qF "connection authenticated: identity=\"$RUSER\" method=scram-sha-256" "${ILOG[a]}"

# A replica of A with these credentials clones and streams.
as "$NS_R" "$SU" "$SUPERPW" "$P_PORT" postgres "create table t (v text); insert into t values ('before')"
launch_replica r "$NS_R" "$R_ADDR" "$R_PORT" "$WORK/r" POSTGRES_REPLICATION_USER="$RUSER" \
    POSTGRES_REPLICATION_PASSWORD="$REPLPW"
wait_ready r
assert_log_has "${ILOG[r]}" "$(step_re clone)done in" "the replica cloned A"
as "$NS_R" "$SU" "$SUPERPW" "$P_PORT" postgres "insert into t values ('streamed')"
rq() { PGUSER=$SU PGPASSWORD=$SUPERPW PGDATABASE=postgres ip netns exec "$NS_R" psql -X -At -h "$R_ADDR" -p "$R_PORT" -c "$1"; }
rq_is() { [ "$(rq "$1" 2>/dev/null)" = "$2" ]; }
poll 20 "the row written on A reaches the replica" rq_is "select count(*) from t where v = 'streamed'" 1
poll 20 "the replica streams" rq_is "select status from pg_stat_wal_receiver" streaming
[ "$(as "$NS_R" "$SU" "$SUPERPW" "$P_PORT" postgres \
    "select usename from pg_stat_replication where state = 'streaming'")" = "$RUSER" ] ||
    fail "A does not see \"$RUSER\" streaming"

# C: injection attempts in the database and replication user names.
[ "$(PGPASSWORD=$SUPERPW ip netns exec "$NS_R" psql -X -At -h "$P_ADDR" -p "$C_PORT" -U postgres -d postgres \
    -c "select (select count(*) from pg_roles where rolname = 'postgres') || ',' ||
               (select count(*) from pg_database where datname = 'postgres') || ',' ||
               (select count(*) from pg_database where datname = 'x\"; DROP ROLE postgres; --') || ',' ||
               (select count(*) from pg_roles where rolname = 'x''; DROP ROLE postgres; --' and rolreplication)")" = 1,1,1,1 ] ||
    fail "C: the role postgres, the database postgres, or the literal names are missing"

# Nothing ran the $(...) and `...` in the values.
[ -z "$(ls -A "$WORK/cwd")" ] || fail "a value was run by a shell: $(ls -A "$WORK/cwd")"
assert_no_secret "${ILOG[a]}" "${ILOG[c]}" "${ILOG[r]}"

# Names that cannot be used: refused before anything is made.
refused()
{
    local id=$1 var=$2 value=$3
    launch "$id" "$NS_P" PGDATA="$WORK/$id" POSTGRES_PASSWORD="$SUPERPW" \
        POSTGRES_REPLICATION_PASSWORD="$REPLPW" "$var=$value" -- postgres -p 55913
    wait_exit "$id" 15 || fail "$var=$value was not refused within 15 s"
    [ "$EXIT_RC" = 78 ] || fail "$var=$value: exit $EXIT_RC, want 78; $(grep -m1 ERROR "${ILOG[$id]}")"
    assert_log_has "${ILOG[$id]}" "ERROR +config: $var.*hint" "the refusal of $var=$value names it and has a hint"
    [ ! -e "$WORK/$id" ] || fail "$var=$value: PGDATA was created"
}
refused bad_repl POSTGRES_REPLICATION_USER 'rep"; DROP ROLE postgres; --'
refused bad_super POSTGRES_USER 'su" WITH SUPERUSER; --'
refused bad_super2 POSTGRES_USER "o'neil"
# PostgreSQL 15.19 and later refuse these in the extension owner's name
refused bad_super3 POSTGRES_USER 'su -- per'
refused bad_super4 POSTGRES_USER 'su /* per'

log "PASS"
