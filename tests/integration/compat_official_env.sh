#!/bin/bash
# compat_official_env: the official postgres image's variables, as a user of
# that image sees them (one CHECK line per behaviour):
#  - file_vars: POSTGRES_USER_FILE, POSTGRES_PASSWORD_FILE, POSTGRES_DB_FILE
#    give the superuser, its password and the database (logged in over TCP
#    from another host; a wrong password is refused);
#  - initdb_args_file: POSTGRES_INITDB_ARGS_FILE reaches initdb
#    (--data-checksums, the encoding);
#  - initdb_waldir: POSTGRES_INITDB_WALDIR makes pg_wal a symlink to it;
#  - both_value_and_file: X and X_FILE both set -> exit 78 naming both, for
#    the four variables with a _FILE form, before PGDATA is touched;
#  - host_auth_md5: pg_hba gets `host all all all md5`, the replication lines
#    use md5, and a login from another host goes through md5;
#  - initdb_args_split: POSTGRES_INITDB_ARGS with quotes, escapes and a
#    quoted value holding spaces is split like a shell (lc_collate,
#    encoding, checksums, text search config, auth-host, the WAL directory
#    with spaces);
#  - initdb_args_unbalanced: an unclosed quote -> exit 78, PGDATA untouched;
#  - host_auth_trust: a WARNING in the log, and a connection from another
#    host without a password works;
#  - no_password: an empty data directory without POSTGRES_PASSWORD -> exit
#    78, the message says to set POSTGRES_PASSWORD, PGDATA untouched.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"
source "$(dirname "$0")/lib_compat.sh"
compat_setup 340
net_pair
CLIENT_NS=$NS_R
PORT_A=55800
PORT_B=55801
PORT_C=55802
PORT_X=55803

mkdir -m 0700 "$WORK/secrets"
printf 'alice\n' >"$WORK/secrets/user"
printf '%s\n' "$SUPERPW" >"$WORK/secrets/password"
printf 'alicedb\n' >"$WORK/secrets/db"
printf -- '--data-checksums --encoding="LATIN1" --locale=C\n' >"$WORK/secrets/initdb_args"

# --- A: every _FILE form, and a WAL directory -------------------------------
cl_launch a "$NS_P" "$P_ADDR" "$PORT_A" PGDATA="$WORK/a" \
    POSTGRES_USER_FILE="$WORK/secrets/user" POSTGRES_PASSWORD_FILE="$WORK/secrets/password" \
    POSTGRES_DB_FILE="$WORK/secrets/db" POSTGRES_INITDB_ARGS_FILE="$WORK/secrets/initdb_args" \
    POSTGRES_INITDB_WALDIR="$WORK/a-wal" --

# --- quick refusals, while A initialises --------------------------------------
# refused ID WHAT [VAR=VALUE...]: a start on a PGDATA that does not exist
# must exit 78 and leave it missing; sets REF_LOG.
refused()
{
    local id=$1 what=$2
    shift 2
    cl_launch "$id" "$NS_P" "$P_ADDR" "$PORT_X" PGDATA="$WORK/$id" "$@" --
    wait_exit "$id" 20 || { stop_quiet "$id"; no "$what: still running after 20 s"; return 1; }
    REF_LOG=${ILOG[$id]}
    [ "$EXIT_RC" = 78 ] || { no "$what: exit $EXIT_RC, want 78; log: $(tail -n 3 "$REF_LOG")"; return 1; }
    [ ! -e "$WORK/$id" ] || { no "$what: PGDATA $WORK/$id was created"; return 1; }
}

check_both_value_and_file()
{
    local var
    for var in POSTGRES_PASSWORD POSTGRES_USER POSTGRES_DB POSTGRES_INITDB_ARGS; do
        refused "both-$var" "$var and ${var}_FILE" POSTGRES_PASSWORD="$SUPERPW" \
            "$var=value" "${var}_FILE=$WORK/secrets/user" || return 1
        grep -Eq -- "(^|[^A-Z_])$var([^A-Z_]|\$)" "$REF_LOG" && grep -q -- "${var}_FILE" "$REF_LOG" ||
            { no "$var + ${var}_FILE: the message does not name both: $(grep -m1 ERROR "$REF_LOG")"; return 1; }
    done
}
check both_value_and_file check_both_value_and_file

check_initdb_args_unbalanced()
{
    refused unbalanced "an unclosed quote" POSTGRES_PASSWORD="$SUPERPW" \
        "POSTGRES_INITDB_ARGS=--locale=C --auth-host='md5" || return 1
    grep -q POSTGRES_INITDB_ARGS "$REF_LOG" ||
        { no "the message does not name POSTGRES_INITDB_ARGS: $(grep -m1 ERROR "$REF_LOG")"; return 1; }
}
check initdb_args_unbalanced check_initdb_args_unbalanced

check_no_password()
{
    # an empty directory, as a fresh volume is
    install -d -o postgres -g postgres -m 0700 "$WORK/nopw"
    local before
    before=$(snapshot "$WORK/nopw")
    cl_launch nopw "$NS_P" "$P_ADDR" "$PORT_X" PGDATA="$WORK/nopw" --
    wait_exit nopw 20 || { stop_quiet nopw; no "still running after 20 s without a password"; return 1; }
    [ "$EXIT_RC" = 78 ] || { no "exit $EXIT_RC, want 78; log: $(tail -n 3 "${ILOG[nopw]}")"; return 1; }
    log_has nopw 'set POSTGRES_PASSWORD' ||
        { no "the message does not say to set POSTGRES_PASSWORD: $(grep -m1 ERROR "${ILOG[nopw]}")"; return 1; }
    [ "$(snapshot "$WORK/nopw")" = "$before" ] || { no "the data directory changed"; return 1; }
}
check no_password check_no_password

# --- A's checks ----------------------------------------------------------------
wait_ready a
check_file_vars()
{
    local got
    got=$(sqlc a alice "$SUPERPW" alicedb "select current_user || '|' || current_database() || '|' ||
        (select rolsuper from pg_roles where rolname = current_user)") ||
        { no "cannot log in as alice to alicedb with the password from POSTGRES_PASSWORD_FILE"; return 1; }
    [ "$got" = "alice|alicedb|true" ] || { no "logged in as user|db|superuser = $got"; return 1; }
    if sqlc a alice "wrong-$SUPERPW" alicedb 'select 1' >/dev/null 2>&1; then
        no "a wrong password was accepted (the password is not checked)"; return 1
    fi
    # The official image makes no role "postgres" when POSTGRES_USER is set.
    [ "$(sqlc a alice "$SUPERPW" alicedb "select count(*) from pg_roles where rolname = 'postgres'")" = 0 ] ||
        { no "a role postgres exists besides alice"; return 1; }
}
check file_vars check_file_vars

check_initdb_args_file()
{
    local got
    got=$(sqlc a alice "$SUPERPW" alicedb "select current_setting('data_checksums') || ' ' || current_setting('server_encoding') || ' ' || current_setting('lc_collate')")
    [ "$got" = "on LATIN1 C" ] || { no "data_checksums, server_encoding, lc_collate = $got, want on LATIN1 C"; return 1; }
}
check initdb_args_file check_initdb_args_file

check_initdb_waldir()
{
    [ -L "$WORK/a/pg_wal" ] || { no "pg_wal is not a symlink: $(ls -ld "$WORK/a/pg_wal")"; return 1; }
    [ "$(readlink "$WORK/a/pg_wal")" = "$WORK/a-wal" ] || { no "pg_wal points at $(readlink "$WORK/a/pg_wal")"; return 1; }
    [ -n "$(find "$WORK/a-wal" -maxdepth 1 -regextype posix-extended -regex '.*/[0-9A-F]{24}')" ] || { no "no WAL segment in $WORK/a-wal"; return 1; }
    [ "$(stat -c %U "$WORK/a-wal")" = postgres ] || { no "$WORK/a-wal is owned by $(stat -c %U "$WORK/a-wal")"; return 1; }
}
check initdb_waldir check_initdb_waldir
stop_quiet a

# --- B: md5, and initdb arguments split like a shell ----------------------------
# shellcheck disable=SC2016
ARGS_B='--locale=C  --encoding=UTF8 --auth-local='"'"'trust'"'"' --auth-host="md5" --data-checksums -X "'"$WORK"'/b wal dir" --text-search-config=sim\ple'
# initdb makes the -X directory as postgres: its parent ($WORK) is root's
install -d -o postgres -g postgres -m 0700 "$WORK/b wal dir"
cl_launch b "$NS_P" "$P_ADDR" "$PORT_B" PGDATA="$WORK/b" POSTGRES_PASSWORD="$SUPERPW" \
    POSTGRES_REPLICATION_PASSWORD="$REPLPW" POSTGRES_HOST_AUTH_METHOD=md5 "POSTGRES_INITDB_ARGS=$ARGS_B" --
wait_ready b

check_host_auth_md5()
{
    local hba=$WORK/b/pg_hba.conf
    grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+all[[:space:]]+md5[[:space:]]*$' "$hba" ||
        { no "pg_hba.conf has no 'host all all all md5' line"; return 1; }
    grep -Eq '^host[[:space:]]+replication[[:space:]]+"?replicator"?[[:space:]]+all[[:space:]]+md5[[:space:]]*$' "$hba" ||
        { no "pg_hba.conf's replication line does not use md5: $(grep -E '^host[[:space:]]+replication' "$hba" | tr '\n' ';')"; return 1; }
    grep -Eq '^host[[:space:]]+replication.*(scram|trust)' "$hba" &&
        { no "a replication line uses another method: $(grep -E '^host[[:space:]]+replication.*(scram|trust)' "$hba")"; return 1; }
    [ "$(sqlc b postgres "$SUPERPW" postgres 'select 1')" = 1 ] || { no "cannot log in with the password"; return 1; }
    poll 5 "the server logs the md5 login" \
        grep -q 'connection authenticated: identity="postgres" method=md5' "${ILOG[b]}"
    if sqlc b postgres "wrong" postgres 'select 1' >/dev/null 2>&1; then no "a wrong password was accepted"; return 1; fi
}
check host_auth_md5 check_host_auth_md5

check_initdb_args_split()
{
    local got
    got=$(sqlc b postgres "$SUPERPW" postgres "select concat_ws(' ', current_setting('lc_collate'),
        current_setting('server_encoding'), current_setting('data_checksums'),
        current_setting('default_text_search_config'))")
    [ "$got" = "C UTF8 on pg_catalog.simple" ] ||
        { no "lc_collate, encoding, checksums, text search config = '$got', want 'C UTF8 on pg_catalog.simple'"; return 1; }
    [ "$(readlink "$WORK/b/pg_wal")" = "$WORK/b wal dir" ] ||
        { no "-X \"...b wal dir\": pg_wal is $(ls -ld "$WORK/b/pg_wal")"; return 1; }
    grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+127\.0\.0\.1/32[[:space:]]+md5' "$WORK/b/pg_hba.conf" ||
        { no "--auth-host=\"md5\" did not reach initdb (no 'host all all 127.0.0.1/32 md5' line)"; return 1; }
}
check initdb_args_split check_initdb_args_split
stop_quiet b

# --- C: trust -------------------------------------------------------------------
cl_launch c "$NS_P" "$P_ADDR" "$PORT_C" PGDATA="$WORK/c" POSTGRES_HOST_AUTH_METHOD=trust --
wait_ready c
check_host_auth_trust()
{
    log_has c '\[pg-entrypoint\] WARNING .*POSTGRES_HOST_AUTH_METHOD=trust' ||
        { no "no WARNING about POSTGRES_HOST_AUTH_METHOD=trust in the log"; return 1; }
    grep -Eq '^host[[:space:]]+all[[:space:]]+all[[:space:]]+all[[:space:]]+trust[[:space:]]*$' "$WORK/c/pg_hba.conf" ||
        { no "pg_hba.conf has no 'host all all all trust' line"; return 1; }
    [ "$(sqlc c postgres "" postgres 'select current_user')" = postgres ] ||
        { no "a connection from another host without a password was refused"; return 1; }
}
check host_auth_trust check_host_auth_trust
stop_quiet c

checks_done
