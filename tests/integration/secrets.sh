#!/bin/bash
# shellcheck disable=SC2034 # LAUNCH_EXEC, IADDR and IPORT are read by lib.sh
# secrets: passwords never show where others can read them.
# A primary's first start (initdb, single-user bootstrap, an init script and
# an SQL file against the temporary server, log_statement=all), a second
# primary configured with Bitnami's names only, and a replica's clone of the
# first. At three moments the test holds the process in question still and
# looks (deterministic: stand-ins for initdb and pg_basebackup come first on
# the binary's PATH and wait at a gate, a fifo, until the test has looked,
# then exec the real program; the init script waits at one too); in
# between, a sampler reads every ~15 ms (bounded):
#  - /proc/*/cmdline of every process: no password, in any encoding;
#  - /proc/PID/environ of every initdb, postgres and pg_basebackup process in
#    this test's namespaces: no password (init scripts get one by design);
#  - the temporary files holding the replication password (pg_basebackup's
#    password file: under /tmp/pg-entrypoint*, or open in pg_basebackup
#    without a name): mode 0600, owned by postgres.
# Afterwards:
#  - the entrypoint's and postgres's output (one stream) holds no password;
#  - /proc/<postmaster>/environ has no POSTGRES_PASSWORD,
#    POSTGRES_REPLICATION_PASSWORD, POSTGRESQL_PASSWORD,
#    POSTGRESQL_REPLICATION_PASSWORD or PGPASSWORD, nor a password's value;
#  - the only file under any PGDATA that holds a password is the replica's
#    pg-entrypoint.pgpass (which primary_conninfo needs), 0600 and postgres's;
#    no temporary password file is left under a name;
#  - pg_hba: the lines pg-entrypoint wrote use trust only with
#    POSTGRES_HOST_AUTH_METHOD=trust, its replication lines name the
#    replication user, and no rule lets a non-loopback address in with trust
#    or lets any user but the replication user replicate from the network.
source "$(dirname "$0")/lib.sh"
it_setup 340
net_pair
P_PORT=55920
B_PORT=55921
R_PORT=55922
PG_UID=$(id -u postgres)

# Passwords with a long random part: whatever encoding a file uses (quotes
# doubled, \ and : escaped), that part shows.
TS=$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')
TR=$(od -An -N8 -tu8 /dev/urandom | tr -d ' ')
SUPERPW="Sup3r pw'\\\$:$TS"
REPLPW="r3pl:pw\\ 'x$TR"
printf '%s\n' "$SUPERPW" "$REPLPW" "$TS" "$TR" >"$WORK/secrets"
assert_secretless() { ! grep -a -q -F -f "$WORK/secrets" "$@"; }

# An init script (it waits at its gate, so that the test sees it) and an SQL
# file, at /docker-entrypoint-initdb.d for instance p only, without touching
# the host's / (lib.sh's private_root).
private_root
mkdir "$WORK/root-p"
mkdir -m 755 "$WORK/initdb.d"
# The gates: NAME.pid is written by the process that waits, NAME.go is the
# fifo it waits on. The stand-ins run as postgres.
GATE=$WORK/gate
mkdir -m 1777 "$GATE"
mkdir -m 755 "$GATE/bin"
for name in initdb pg_basebackup 10-table.sh; do
    mkfifo -m 666 "$GATE/$name.go"
done
for name in initdb pg_basebackup; do
    cat >"$GATE/bin/$name" <<EOF
#!/bin/sh
echo \$\$ >"$GATE/$name.pid"
read -r _ <"$GATE/$name.go"
exec "$PG_BINDIR/$name" "\$@"
EOF
    chmod 755 "$GATE/bin/$name"
done
GATED_PATH="$GATE/bin:$PG_BINDIR:/usr/sbin:/usr/bin:/sbin:/bin"
cat >"$WORK/initdb.d/10-table.sh" <<EOF
#!/bin/sh
set -e
echo \$\$ >"$GATE/10-table.sh.pid"
read -r _ <"$GATE/10-table.sh.go"
psql -v ON_ERROR_STOP=1 -q -c "create table from_script (x int)"
EOF
chmod 755 "$WORK/initdb.d/10-table.sh"
printf 'select pg_sleep(0.3);\ninsert into from_script values (2);\n' >"$WORK/initdb.d/20-rows.sql"

printf '%s\n' initdb --single pg_basebackup 10-table.sh >"$WORK/markers"

# What is looked at. Patterns come from files: the looker's own command
# lines hold neither a password nor what it looks for.
# cmdline_hits: one grep over every command line.
cmdline_hits()
{
    local f
    for f in $(grep -a -l -F -f "$WORK/secrets" /proc/[0-9]*/cmdline 2>/dev/null); do
        printf 'cmdline %s: %s\n' "$f" "$(tr '\0' ' ' <"$f" 2>/dev/null)" >>"$WORK/hits"
    done
    return 0
}
# passfiles DIR [FILE]: the files open in the process /proc/PID DIR that
# hold a password, added to FILE (default: tmpfiles) (pg_basebackup's password file may be one without a name, open
# as /proc/self/fd/N: its open files count as temporary files).
passfiles()
{
    local f st link out=${2:-$WORK/tmpfiles}
    for f in "$1"/fd/*; do
        # stat first: pg_basebackup may be gone by the time of a later look
        st=$(stat -L -c '%a %u' "$f" 2>/dev/null) && link=$(readlink "$f" 2>/dev/null) &&
            [ -f "$f" ] && grep -a -q -F -f "$WORK/secrets" "$f" 2>/dev/null &&
            printf '%s %s\n' "$st" "$link" >>"$out"
    done
    return 0
}

# host_pid NSPID NAME: the pid, as seen here, of the process of this test's
# network namespaces that is NSPID in its own PID namespace (the gates
# write $$ there) and runs NAME.
host_pid()
{
    local d nspid
    for d in /proc/[0-9]*; do
        [ "$d/ns/net" -ef "/run/netns/$NS_P" ] || [ "$d/ns/net" -ef "/run/netns/$NS_R" ] || continue
        nspid=$(awk '/^NSpid:/ { print $NF }' "$d/status" 2>/dev/null) || continue
        [ "$nspid" = "$1" ] && grep -a -q -F -- "$2" "$d/cmdline" 2>/dev/null && echo "${d#/proc/}" && return 0
    done
    return 1
}

# at_gate NAME [SECONDS]: waits (default: 300 s, the readiness guard of
# lib.sh) until NAME waits at its gate, looks at it
# (every command line, its environment unless it is the init script, the
# password files it holds open), then lets it go on.
at_gate()
{
    local name=$1 limit=${2:-300} pid d
    poll "$limit" "$name waits at its gate" test -s "$GATE/$name.pid"
    pid=$(host_pid "$(cat "$GATE/$name.pid")" "$name") ||
        fail "no process of this test runs $name as pid $(cat "$GATE/$name.pid") of its namespace"
    d=/proc/$pid
    echo "$name" >>"$WORK/seen"
    echo "$name" >>"$WORK/gated"
    cmdline_hits
    if [ "$name" != 10-table.sh ] && grep -a -q -F -f "$WORK/secrets" "$d/environ"; then
        printf 'environ %s: %s\n' "$d/environ" "$(tr '\0' ' ' <"$d/cmdline")" >>"$WORK/hits"
    fi
    if [ "$name" = pg_basebackup ]; then
        passfiles "$d" "$WORK/tmpfiles.gated"
        [ -s "$WORK/tmpfiles.gated" ] || fail "pg_basebackup holds no password file open (PGPASSFILE)"
        cat "$WORK/tmpfiles.gated" >>"$WORK/tmpfiles"
    fi
    log "looked at $name (pid $pid) at its gate"
    timeout "$limit" sh -c 'echo go >"$1"' sh "$GATE/$name.go" ||
        fail "$name did not take its go within $limit s"
}

# The sampler. Per round: the command lines; the processes of this test's
# network namespaces read with builtins, and one grep over the environments
# of those that are initdb, postgres or pg_basebackup; the
# /tmp/pg-entrypoint* files.
(
    trap 'exit 0' TERM
    exec {pause}<> <(:)
    n=0
    while [ ! -e "$WORK/sampler.stop" ] && [ "$n" -lt 4000 ]; do
        cmdline_hits
        envs=()
        for d in /proc/[0-9]*; do
            [ "$d/ns/net" -ef "/run/netns/$NS_P" ] || [ "$d/ns/net" -ef "/run/netns/$NS_R" ] || continue
            mapfile -d '' -t args 2>/dev/null <"$d/cmdline" || continue
            [ ${#args[@]} -gt 0 ] || continue
            cmd="${args[*]}"
            while read -r m; do
                [[ $cmd == *"$m"* ]] && echo "$m" >>"$WORK/seen"
            done <"$WORK/markers"
            case ${args[0]##*/} in
            initdb | postgres | postgres:* | pg_basebackup) envs+=("$d/environ") ;;
            esac
            if [ "${args[0]##*/}" = pg_basebackup ]; then passfiles "$d"; fi
        done
        if [ ${#envs[@]} -gt 0 ]; then
            for f in $(grep -a -l -F -f "$WORK/secrets" "${envs[@]}" 2>/dev/null); do
                printf 'environ %s: %s\n' "$f" "$(tr '\0' ' ' <"${f%/environ}/cmdline" 2>/dev/null)" >>"$WORK/hits"
            done
        fi
        for f in /tmp/pg-entrypoint*/*; do
            [ -f "$f" ] && grep -a -q -F -f "$WORK/secrets" "$f" 2>/dev/null &&
                stat -c '%a %u %n' "$f" >>"$WORK/tmpfiles" 2>/dev/null
        done
        n=$((n + 1))
        echo "$n" >"$WORK/sampler.count"
        read -r -t 0.015 -u "$pause" _ || true
    done
) &
BG_PIDS+=("$!")
sampler=$!
poll 5 "the sampler runs" test -s "$WORK/sampler.count"

# Primary p: every secret under both names, init scripts, every statement logged.
LAUNCH_EXEC=("$WORK/private-root" "$WORK/root-p" "$WORK/initdb.d" "$BIN")
IADDR["p"]=$P_ADDR IPORT["p"]=$P_PORT
mkdir -p "$WORK/sock-p" && chmod 1777 "$WORK/sock-p"
launch p "$NS_P" PATH="$GATED_PATH" PGDATA="$WORK/p" HOSTNAME=p POSTGRES_PASSWORD="$SUPERPW" POSTGRESQL_PASSWORD="$SUPERPW" \
    POSTGRES_REPLICATION_PASSWORD="$REPLPW" POSTGRESQL_REPLICATION_PASSWORD="$REPLPW" PGPASSWORD="$SUPERPW" \
    PGHOST="$WORK/sock-p" PGPORT="$P_PORT" -- \
    postgres -p "$P_PORT" -k "$WORK/sock-p" -c listen_addresses="$P_ADDR" -c log_statement=all -c log_connections=on
LAUNCH_EXEC=()
# Primary b: Bitnami's names only, and trust.
IADDR["b"]=$P_ADDR IPORT["b"]=$B_PORT
mkdir -p "$WORK/sock-b" && chmod 1777 "$WORK/sock-b"
launch b "$NS_P" PGDATA="$WORK/b" HOSTNAME=b POSTGRESQL_PASSWORD="$SUPERPW" \
    POSTGRESQL_REPLICATION_PASSWORD="$REPLPW" POSTGRES_HOST_AUTH_METHOD=trust -- \
    postgres -p "$B_PORT" -k "$WORK/sock-b" -c listen_addresses="$P_ADDR"
at_gate initdb
at_gate 10-table.sh
wait_ready p
wait_ready b
[ "$(q p 'select count(*) from from_script')" = 1 ] || fail "the init scripts did not run"
# Replica r: clones p with the replication password under both names.
launch_replica r "$NS_R" "$R_ADDR" "$R_PORT" "$WORK/r" PATH="$GATED_PATH" \
    POSTGRESQL_REPLICATION_PASSWORD="$REPLPW"
at_gate pg_basebackup
wait_ready r
assert_log_has "${ILOG[r]}" "$(step_re clone)done in" "the replica cloned p"
touch "$WORK/sampler.stop"
wait "$sampler" || true

# What the sampler saw.
samples=$(cat "$WORK/sampler.count")
seen=$(sort -u "$WORK/seen" 2>/dev/null | tr '\n' ' ')
log "sampled /proc $samples times; saw: $seen"
[ "$samples" -ge 10 ] || fail "the sampler ran only $samples times"
for m in initdb pg_basebackup 10-table.sh; do
    grep -qx -- "$m" "$WORK/seen" || fail "the sampler never saw $m run; the check proved nothing"
    grep -qx -- "$m" "$WORK/gated" || fail "the test never looked at $m at its gate"
done
[ ! -s "$WORK/hits" ] || fail "a password was readable in /proc: $(sort -u "$WORK/hits" | head -5)"
[ -s "$WORK/tmpfiles" ] || fail "the sampler never saw the clone's password file; the check proved nothing"
while read -r mode uid path; do
    [ "$mode" = 600 ] && [ "$uid" = "$PG_UID" ] ||
        fail "$path held a password with mode $mode, owner uid $uid (want 600, $PG_UID)"
    path=${path% (deleted)}
    [ ! -e "$path" ] || fail "$path (it held a password) is still there after the start"
done < <(sort -u "$WORK/tmpfiles")
log "temporary password files seen: $(cut -d' ' -f3 "$WORK/tmpfiles" | sort -u | tr '\n' ' ')"

# Logs (the entrypoint's lines and postgres's share the stream).
for f in "${ILOG[p]}" "${ILOG[b]}" "${ILOG[r]}" "$WORK"/*.out; do
    assert_secretless "$f" || fail "a password appears in $(basename "$f"): $(grep -a -F -f "$WORK/secrets" "$f" | head -2)"
done
assert_log_has "${ILOG[p]}" 'LOG: +statement: create table from_script' "log_statement=all logged the init script's statement"

# The postmasters' environments.
for id in p b r; do
    envf=/proc/${CPID[$id]}/environ
    # (stat -L: the same file, also seen from inside p's private root)
    [ "$(stat -L -c %d:%i "/proc/${CPID[$id]}/exe")" = "$(stat -L -c %d:%i "$PG_BINDIR/postgres")" ] ||
        fail "$id: PID 1 is not the postmaster"
    names=$(tr '\0' '\n' <"$envf" | grep -E -o '^(POSTGRES_PASSWORD|POSTGRES_REPLICATION_PASSWORD|POSTGRESQL_PASSWORD|POSTGRESQL_REPLICATION_PASSWORD|PGPASSWORD)=' | tr '\n' ' ' || true)
    [ -z "$names" ] || fail "the $id postmaster's environment holds $names"
    assert_secretless "$envf" || fail "a password's value is in the $id postmaster's environment"
done

# Files holding a password under the data directories: only the replica's
# password file, 0600, postgres's.
holders=$(grep -r -a -l -F -f "$WORK/secrets" "$WORK/p" "$WORK/b" "$WORK/r" 2>/dev/null || true)
[ "$holders" = "$WORK/r/pg-entrypoint.pgpass" ] ||
    fail "files under PGDATA holding a password: [$(echo "$holders" | tr '\n' ' ')], want only $WORK/r/pg-entrypoint.pgpass"
[ "$(stat -c '%a %u' "$WORK/r/pg-entrypoint.pgpass")" = "600 $PG_UID" ] ||
    fail "pg-entrypoint.pgpass is $(stat -c '%a %u' "$WORK/r/pg-entrypoint.pgpass"), want 600 $PG_UID"

# pg_hba. What pg-entrypoint wrote: after its marker line.
ours() { sed -n '/^# pg-entrypoint: replication connections/,$p' "$1" | grep -E '^(host|local)'; }
ours "$WORK/p/pg_hba.conf" >"$WORK/hba.p" || fail "p: pg_hba.conf has no lines of pg-entrypoint"
ours "$WORK/b/pg_hba.conf" >"$WORK/hba.b" || fail "b: pg_hba.conf has no lines of pg-entrypoint"
! grep -qw trust "$WORK/hba.p" || fail "p (scram) has trust in its lines: $(grep -w trust "$WORK/hba.p")"
[ "$(awk '{ print $NF }' "$WORK/hba.b" | sort -u)" = trust ] ||
    fail "b (POSTGRES_HOST_AUTH_METHOD=trust) wrote: $(tr '\n' '|' <"$WORK/hba.b")"
for id in p b; do
    [ "$(awk '$2 == "replication" { print $3 }' "$WORK/hba.$id" | sort -u)" = '"replicator"' ] ||
        fail "$id: the replication lines pg-entrypoint wrote name $(awk '$2 == "replication" { print $3 }' "$WORK/hba.$id" | sort -u | tr '\n' ' '), want \"replicator\""
done
# What the server uses (p, scram): trust only for the unix socket (initdb's
# loopback lines get the host method too), and replication from the network
# only for the replication user.
bad=$(q p "select line_number || ': ' || type || ' ' || array_to_string(database, ',') || ' ' ||
                  array_to_string(user_name, ',') || ' ' || coalesce(address, '') || ' ' || auth_method
             from pg_hba_file_rules
            where error is null and type <> 'local'
              and (auth_method = 'trust'
                   or ('replication' = any(database) and user_name <> '{replicator}'
                       and address not in ('127.0.0.1', '::1')))")
[ -z "$bad" ] || fail "p's pg_hba.conf lets the network in too widely: $bad"
[ "$(q p "select count(*) from pg_hba_file_rules where error is not null")" = 0 ] || fail "p's pg_hba.conf has errors"

log "PASS"
