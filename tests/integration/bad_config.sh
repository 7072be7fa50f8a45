#!/bin/bash
# bad_config: a wrong environment is refused before anything is touched.
# Each bad input exits 78 (EX_CONFIG) with an ERROR line on stderr that names
# the variable to fix (and never prints a password), and leaves PGDATA as it
# was: a non-existing path stays non-existing, an existing directory keeps
# every entry's type, mode, owner, size, mtime and contents.
# A replica pointed at data it must not overwrite (a cluster that is not a
# standby, or a directory of other files) exits 1, says how to proceed
# (POSTGRES_RESEED=force), and leaves that data as it was.
source "$(dirname "$0")/lib.sh"
it_setup 140
net_single   # nothing listens in it: no input here may reach a server
printf '%s\n' "$SUPERPW" >"$WORK/superpw-file"
mkdir -p "$WORK/sock" && chmod 1777 "$WORK/sock"

# run_bad ID PGDATA WANT_RC [VAR=VALUE...]: runs the entrypoint as PID 1 and
# checks the exit status and that PGDATA did not change.
run_bad()
{
    local id=$1 data=$2 want=$3 before after
    shift 3
    before=$(snapshot "$data")
    launch "$id" "$NS_1" PGDATA="$data" "$@" -- postgres -p 55450 -k "$WORK/sock" -c listen_addresses=127.0.0.1
    wait_exit "$id" 15 || fail "$id: still running after 15 s (want exit $want)"
    [ "$EXIT_RC" = "$want" ] || fail "$id: exit status $EXIT_RC, want $want; stderr: $(cat "${ILOG[$id]}")"
    after=$(snapshot "$data")
    if [ "$before" != "$after" ]; then
        fail "$id: PGDATA changed: $(diff <(echo "$before") <(echo "$after") | head -20)"
    fi
    assert_no_secret "${ILOG[$id]}" "$WORK/$id".*.out
}

# bad NAME PGDATA_KIND VARIABLE... -- VAR=VALUE...: one row of the table, run
# against a non-existing PGDATA and against an existing one (KIND files: a
# regular file and a dotfile in it; dotonly: only a dotfile, i.e. "empty").
bad()
{
    local name=$1 kind=$2 names=() id data
    shift 2
    while [ "$1" != -- ]; do names+=("$1"); shift; done
    shift
    for where in absent existing; do
        id="$name-$where"
        data="$WORK/data-$id"
        if [ "$where" = existing ]; then
            mkdir "$data"
            [ "$kind" = files ] && echo "precious $RANDOM" >"$data/precious.txt"
            echo "hidden $RANDOM" >"$data/.dotfile"
            chmod 750 "$data"
        fi
        run_bad "$id" "$data" 78 "$@"
        for n in "${names[@]}"; do
            grep -Eq "\\[pg-entrypoint\\] ERROR +[a-z]+: .*\\<$n\\>" "${ILOG[$id]}" ||
                fail "$id: stderr has no ERROR line naming $n: $(cat "${ILOG[$id]}")"
        done
        log "$id: exit 78: $(grep -m1 ERROR "${ILOG[$id]}" | sed 's/.*ERROR *//' | cut -c1-110)"
    done
}

REPLICA=(POSTGRES_PRIMARY_HOST=127.0.0.1 POSTGRES_REPLICATION_PASSWORD="$REPLPW")

bad unknown_role files POSTGRES_ROLE -- POSTGRES_ROLE=boss POSTGRES_PASSWORD="$SUPERPW"
bad port_abc files POSTGRES_PRIMARY_PORT -- "${REPLICA[@]}" POSTGRES_PRIMARY_PORT=abc
bad port_0 files POSTGRES_PRIMARY_PORT -- "${REPLICA[@]}" POSTGRES_PRIMARY_PORT=0
bad port_70000 files POSTGRES_PRIMARY_PORT -- "${REPLICA[@]}" POSTGRES_PRIMARY_PORT=70000
bad replica_without_host files POSTGRES_PRIMARY_HOST -- POSTGRES_ROLE=replica POSTGRES_REPLICATION_PASSWORD="$REPLPW"
bad replica_without_password files POSTGRES_REPLICATION_PASSWORD -- POSTGRES_PRIMARY_HOST=127.0.0.1
bad password_and_file files POSTGRES_PASSWORD POSTGRES_PASSWORD_FILE -- \
    POSTGRES_PASSWORD="$SUPERPW" POSTGRES_PASSWORD_FILE="$WORK/superpw-file"
bad password_file_missing files POSTGRES_PASSWORD_FILE -- POSTGRES_PASSWORD_FILE="$WORK/no-such-file"
bad bad_slot files POSTGRES_REPLICATION_SLOT -- "${REPLICA[@]}" POSTGRES_REPLICATION_SLOT=Replica-1
bad bad_wal_keep_size files POSTGRES_WAL_KEEP_SIZE -- POSTGRES_PASSWORD="$SUPERPW" POSTGRES_WAL_KEEP_SIZE=lots
bad initdb_args_quote files POSTGRES_INITDB_ARGS -- POSTGRES_PASSWORD="$SUPERPW" \
    POSTGRES_INITDB_ARGS="--data-checksums --locale='C.UTF-8"
bad primary_without_password dotonly POSTGRES_PASSWORD --

# A replica on a cluster that is not a standby (a primary's data, a promoted
# replica): refused, exit 1, data intact. No primary is needed to decide
# that; the wait timeout only bounds a wrong implementation.
cluster="$WORK/cluster"
mkdir "$cluster" && chown postgres: "$cluster"
(cd / && runuser -u postgres -- "$PG_BINDIR/initdb" -D "$cluster" -U postgres -A trust --no-sync >/dev/null) ||
    fail "initdb of the test cluster failed"
run_bad replica_on_primary_data "$cluster" 1 "${REPLICA[@]}" POSTGRES_PRIMARY_PORT=55451 \
    POSTGRES_PRIMARY_WAIT_TIMEOUT=3
grep -q 'POSTGRES_RESEED=force' "${ILOG[replica_on_primary_data]}" ||
    fail "the refusal does not mention POSTGRES_RESEED=force: $(cat "${ILOG[replica_on_primary_data]}")"
log "replica_on_primary_data: exit 1: $(grep -m1 ERROR "${ILOG[replica_on_primary_data]}" | sed 's/.*ERROR *//' | cut -c1-110)"

# A replica on a directory of someone else's files: refused the same way,
# and the files keep their owner and mode too.
other="$WORK/other-files"
mkdir "$other" && echo "not a database $RANDOM" >"$other/notes.txt" && chmod 755 "$other"
run_bad replica_on_other_files "$other" 1 "${REPLICA[@]}" POSTGRES_PRIMARY_PORT=55451 \
    POSTGRES_PRIMARY_WAIT_TIMEOUT=3
grep -q 'POSTGRES_RESEED=force' "${ILOG[replica_on_other_files]}" ||
    fail "the refusal does not mention POSTGRES_RESEED=force: $(cat "${ILOG[replica_on_other_files]}")"
log "PASS"
