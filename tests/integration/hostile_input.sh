#!/bin/bash
# hostile_input: a table of bad inputs, each run as PID 1 of its own PID
# namespace (in a network namespace where nothing listens), each asserting:
#  - the exit status: 78 for a configuration error, 1 for what can only be
#    found at run time (a file as PGDATA, a read-only or foreign directory,
#    a primary that never answers);
#  - an ERROR line that names the variable (or file) involved and says how to
#    fix it ("hint"), and no password anywhere in the output;
#  - PGDATA byte-for-byte untouched: every entry's type, mode, owner, size,
#    mtime and SHA-256 before and after (a missing PGDATA stays missing).
# Rows do not stop at the first failure: every row runs, the table (input,
# exit status, first line of the message) is printed at the end, and the test
# fails if any row did.
source "$(dirname "$0")/lib.sh"
it_setup 390
net_single
mkdir -p "$WORK/sock" && chmod 1777 "$WORK/sock"
PG_UID=$(id -u postgres)
PG_GID=$(id -g postgres)
PORT=55900   # nothing listens here: the port the servers would use, and the primary's
# The instances' working directory: nothing may appear in it.
mkdir "$WORK/cwd" && cd "$WORK/cwd" || fail "cannot enter $WORK/cwd"

# Files for the _FILE variables.
printf '%s\n' "$SUPERPW" >"$WORK/pw-file"
: >"$WORK/pw-empty"
head -c 70000 /dev/zero | tr '\0' x >"$WORK/pw-big"
printf '%s\n' "$SUPERPW" >"$WORK/pw-rootonly" && chmod 600 "$WORK/pw-rootonly"
printf 'line one\nline two\n' >"$WORK/pw-two-lines"
chmod 644 "$WORK/pw-file" "$WORK/pw-empty" "$WORK/pw-big" "$WORK/pw-two-lines"

ROWS=()      # "input<TAB>exit<TAB>message" for the table
FAILED=()    # one line per failed row

# new_data KIND ID: prints a PGDATA path of the given kind.
#   absent   does not exist
#   files    a directory (0750) with a file and a dotfile
#   empty    an empty directory owned by postgres, 0700
#   rootdir  an empty directory owned by root, 0755
#   file     a regular file
new_data()
{
    local d="$WORK/data-$2"
    case $1 in
    absent) ;;
    files) mkdir "$d" && echo "precious $RANDOM" >"$d/precious.txt" && echo "h $RANDOM" >"$d/.dotfile" && chmod 750 "$d" ;;
    empty) mkdir -m 700 "$d" && chown postgres: "$d" ;;
    rootdir) mkdir -m 755 "$d" ;;
    file) echo "not a directory $RANDOM" >"$d" ;;
    esac
    printf '%s' "$d"
}

# row DESCRIPTION KIND WANT_RC NAME_REGEX [VAR=VALUE...]: one bad input. The
# entrypoint runs with PGDATA of KIND (see new_data) unless a VAR sets PGDATA.
# LAUNCH_EXEC, when set by the caller, wraps it (another user, a mount).
row()
{
    local what=$1 kind=$2 want=$3 name=$4 id data before after msg problems=() n=${#ROWS[@]}
    shift 4
    id=$(printf 'r%02d' "$n")
    data=$(new_data "$kind" "$id")
    local envs=(PGDATA="$data" "$@")
    for kv in "$@"; do [[ $kv == PGDATA=* ]] && data=${kv#PGDATA=}; done
    before=$(snapshot "$data")
    launch "$id" "$NS_1" "${envs[@]}" -- postgres -p "$PORT" -k "$WORK/sock" -c listen_addresses=127.0.0.1
    if ! wait_exit "$id" 10; then
        # It went on (to start postgres): end its namespace.
        if [ -n "${CPID[$id]:-}" ]; then kill -KILL "${CPID[$id]}" 2>/dev/null || true; fi
        if [ -n "${USH[$id]:-}" ]; then kill -KILL "${USH[$id]}" 2>/dev/null || true; fi
        wait_exit "$id" 5 || true
        EXIT_RC="none (it started postgres)"
    fi
    local log=${ILOG[$id]}
    msg=$(grep -m1 -E '\[pg-entrypoint\] ERROR' "$log" | sed -E 's/.*\[pg-entrypoint\] ERROR +//' || true)
    [ "$EXIT_RC" = "$want" ] || problems+=("exit $EXIT_RC, want $want")
    if [ -z "$msg" ]; then
        problems+=("no ERROR line")
    else
        grep -E '\[pg-entrypoint\] ERROR' "$log" | grep -Eq -- "$name" || problems+=("no ERROR line names /$name/")
        grep -E '\[pg-entrypoint\] ERROR' "$log" | grep -q 'hint' || problems+=("no ERROR line has a hint")
    fi
    if grep -a -q -F -e "$SUPERPW" -e "$REPLPW" "$log" "$WORK/$id".*.out; then
        problems+=("a password is in the output")
    fi
    if [ -n "$(ls -A "$WORK/cwd")" ]; then
        problems+=("it created $(cd "$WORK/cwd" && find . -mindepth 1 | head -3 | tr '\n' ' ')in its working directory")
        rm -rf "${WORK:?}/cwd/"* "${WORK:?}/cwd/".[!.]* 2>/dev/null || true
    fi
    after=$(snapshot "$data")
    if [ "$before" != "$after" ]; then
        problems+=("PGDATA changed: $(diff <(echo "$before") <(echo "$after") | grep '^[<>]' | head -4 | cut -c1-200 | tr '\n' ' ' || true)")
    fi
    [ ${#msg} -le 150 ] || msg="${msg:0:147}..."
    ROWS+=("$what	$EXIT_RC	${msg:-(none)}")
    if [ ${#problems[@]} -gt 0 ]; then
        FAILED+=("$what: $(printf '%s; ' "${problems[@]}")")
        log "FAIL $what: ${problems[*]}"
        log "     stderr: $(cut -c1-300 "$log" | head -n 12)"
    else
        log "ok   $what: exit $EXIT_RC"
    fi
}

PW=(POSTGRES_PASSWORD="$SUPERPW")
REPLICA=(POSTGRES_PRIMARY_HOST=127.0.0.1 POSTGRES_PRIMARY_PORT="$PORT" POSTGRES_REPLICATION_PASSWORD="$REPLPW")

# Configuration errors: 78, before anything is touched.
row "POSTGRES_ROLE=boss" files 78 POSTGRES_ROLE POSTGRES_ROLE=boss "${PW[@]}"
row "POSTGRES_PRIMARY_PORT=abc" files 78 POSTGRES_PRIMARY_PORT "${REPLICA[@]}" POSTGRES_PRIMARY_PORT=abc
row "POSTGRES_PRIMARY_PORT=0" absent 78 POSTGRES_PRIMARY_PORT "${REPLICA[@]}" POSTGRES_PRIMARY_PORT=0
row "POSTGRES_PRIMARY_PORT=70000" empty 78 POSTGRES_PRIMARY_PORT "${REPLICA[@]}" POSTGRES_PRIMARY_PORT=70000
row "POSTGRES_ROLE=replica, POSTGRES_PRIMARY_HOST= (empty)" files 78 POSTGRES_PRIMARY_HOST \
    POSTGRES_ROLE=replica POSTGRES_PRIMARY_HOST= POSTGRES_REPLICATION_PASSWORD="$REPLPW"
row "replica without POSTGRES_REPLICATION_PASSWORD" absent 78 POSTGRES_REPLICATION_PASSWORD \
    POSTGRES_PRIMARY_HOST=127.0.0.1
row "POSTGRES_PASSWORD and POSTGRES_PASSWORD_FILE" files 78 'POSTGRES_PASSWORD.*POSTGRES_PASSWORD_FILE' \
    "${PW[@]}" POSTGRES_PASSWORD_FILE="$WORK/pw-file"
row "POSTGRES_PASSWORD_FILE missing" absent 78 "POSTGRES_PASSWORD_FILE.*$WORK/no-such-file" \
    POSTGRES_PASSWORD_FILE="$WORK/no-such-file"
row "POSTGRES_PASSWORD_FILE empty" files 78 "POSTGRES_PASSWORD_FILE.*pw-empty" POSTGRES_PASSWORD_FILE="$WORK/pw-empty"
row "POSTGRES_PASSWORD_FILE of 70000 bytes" files 78 "POSTGRES_PASSWORD_FILE.*pw-big" POSTGRES_PASSWORD_FILE="$WORK/pw-big"
row "POSTGRES_USER_FILE names a directory" files 78 POSTGRES_USER_FILE POSTGRES_USER_FILE="$WORK" "${PW[@]}"
row "POSTGRES_REPLICATION_PASSWORD_FILE missing (replica)" files 78 POSTGRES_REPLICATION_PASSWORD_FILE \
    POSTGRES_PRIMARY_HOST=127.0.0.1 POSTGRES_REPLICATION_PASSWORD_FILE="$WORK/nothing-here"
row "POSTGRES_RESEED=sometimes" files 78 POSTGRES_RESEED "${REPLICA[@]}" POSTGRES_RESEED=sometimes
row "POSTGRES_REPLICATION_SLOT=Replica-1" files 78 POSTGRES_REPLICATION_SLOT "${REPLICA[@]}" POSTGRES_REPLICATION_SLOT=Replica-1
row "POSTGRES_REPLICATION_SLOT of 64 characters" absent 78 POSTGRES_REPLICATION_SLOT "${REPLICA[@]}" \
    POSTGRES_REPLICATION_SLOT="$(printf 's%.0s' $(seq 64))"
row "POSTGRES_WAL_KEEP_SIZE=64mb" files 78 POSTGRES_WAL_KEEP_SIZE "${PW[@]}" POSTGRES_WAL_KEEP_SIZE=64mb
row "POSTGRES_MAX_SLOT_WAL_KEEP_SIZE=1 GB" files 78 POSTGRES_MAX_SLOT_WAL_KEEP_SIZE "${PW[@]}" "POSTGRES_MAX_SLOT_WAL_KEEP_SIZE=1 GB"
row "POSTGRES_MAX_SLOT_WAL_KEEP_SIZE=-2" empty 78 POSTGRES_MAX_SLOT_WAL_KEEP_SIZE "${PW[@]}" POSTGRES_MAX_SLOT_WAL_KEEP_SIZE=-2
row "POSTGRES_INITDB_ARGS with an unbalanced quote" files 78 POSTGRES_INITDB_ARGS "${PW[@]}" \
    "POSTGRES_INITDB_ARGS=--data-checksums --locale='C.UTF-8"
row "POSTGRES_USER=a, POSTGRESQL_USERNAME=b" files 78 'POSTGRES_USER.*POSTGRESQL_USERNAME' "${PW[@]}" \
    POSTGRES_USER=a POSTGRESQL_USERNAME=b
row "POSTGRES_ROLE=primary, POSTGRESQL_REPLICATION_MODE=slave" files 78 'POSTGRES_ROLE.*POSTGRESQL_REPLICATION_MODE' \
    "${PW[@]}" POSTGRES_ROLE=primary POSTGRESQL_REPLICATION_MODE=slave
row "POSTGRES_REPLICATION_PASSWORD != POSTGRESQL_REPLICATION_PASSWORD" files 78 \
    'POSTGRES_REPLICATION_PASSWORD.*POSTGRESQL_REPLICATION_PASSWORD' "${REPLICA[@]}" POSTGRESQL_REPLICATION_PASSWORD="$SUPERPW"
row "POSTGRESQL_REPLICATION_MODE=standby" absent 78 POSTGRESQL_REPLICATION_MODE "${PW[@]}" POSTGRESQL_REPLICATION_MODE=standby
row "POSTGRES_LOG_FORMAT=xml" files 78 POSTGRES_LOG_FORMAT "${PW[@]}" POSTGRES_LOG_FORMAT=xml
row "PGDATA=relative/data" absent 78 PGDATA "${PW[@]}" PGDATA=relative/data
row "PGDATA of 5000 characters" absent 78 PGDATA "${PW[@]}" PGDATA="$WORK/$(printf 'd%.0s' $(seq 5000))"
row "POSTGRES_USER of 64 characters" files 78 POSTGRES_USER "${PW[@]}" POSTGRES_USER="$(printf 'u%.0s' $(seq 64))"
row "POSTGRES_USER=pg_admin (a reserved prefix)" absent 78 POSTGRES_USER "${PW[@]}" POSTGRES_USER=pg_admin
row "POSTGRES_REPLICATION_USER=pg_repl (a reserved prefix)" absent 78 POSTGRES_REPLICATION_USER "${PW[@]}" \
    POSTGRES_REPLICATION_USER=pg_repl POSTGRES_REPLICATION_PASSWORD="$REPLPW"
row "POSTGRES_DB with a line break" files 78 POSTGRES_DB "${PW[@]}" POSTGRES_DB=$'app\nDROP DATABASE postgres;'
row "POSTGRES_REPLICATION_USER with a double quote" files 78 POSTGRES_REPLICATION_USER "${PW[@]}" \
    POSTGRES_REPLICATION_USER='rep"lica'
row "POSTGRES_REPLICATION_ALLOW='10.0.0.0/8 trust'" files 78 POSTGRES_REPLICATION_ALLOW "${PW[@]}" \
    "POSTGRES_REPLICATION_ALLOW=10.0.0.0/8 trust"
row "POSTGRES_HOST_AUTH_METHOD=plaintext" files 78 POSTGRES_HOST_AUTH_METHOD "${PW[@]}" POSTGRES_HOST_AUTH_METHOD=plaintext
row "POSTGRES_SYNCHRONOUS_REPLICAS=11 (> max senders)" files 78 POSTGRES_SYNCHRONOUS_REPLICAS "${PW[@]}" POSTGRES_SYNCHRONOUS_REPLICAS=11
row "POSTGRES_PRIMARY_WAIT_TIMEOUT=-1" files 78 POSTGRES_PRIMARY_WAIT_TIMEOUT "${REPLICA[@]}" POSTGRES_PRIMARY_WAIT_TIMEOUT=-1
row "POSTGRES_ROLE=auto, HOSTNAME=db (no ordinal)" files 78 POSTGRES_ROLE "${PW[@]}" POSTGRES_ROLE=auto HOSTNAME=db
row "POSTGRES_INITDB_WALDIR=relative/wal" absent 78 POSTGRES_INITDB_WALDIR "${PW[@]}" POSTGRES_INITDB_WALDIR=relative/wal
row "POSTGRES_INITDB_ARGS of 65 words" absent 78 POSTGRES_INITDB_ARGS "${PW[@]}" \
    POSTGRES_INITDB_ARGS="$(printf -- '--no-sync %.0s' $(seq 65))"
row "POSTGRES_PASSWORD with a line break" absent 78 POSTGRES_PASSWORD POSTGRES_PASSWORD=$'first\nsecond'
row "POSTGRES_PASSWORD_FILE with two lines" empty 78 POSTGRES_PASSWORD POSTGRES_PASSWORD_FILE="$WORK/pw-two-lines"
row "replica: POSTGRES_REPLICATION_PASSWORD with a line break" empty 78 POSTGRES_REPLICATION_PASSWORD \
    "${REPLICA[@]}" POSTGRES_REPLICATION_PASSWORD=$'first\nsecond' POSTGRES_PRIMARY_WAIT_TIMEOUT=2
row "primary on an empty PGDATA without POSTGRES_PASSWORD" empty 78 POSTGRES_PASSWORD

# Another user: a file it cannot read, a directory it cannot write.
LAUNCH_EXEC=(setpriv --reuid="$PG_UID" --regid="$PG_GID" --clear-groups "$BIN")
row "POSTGRES_PASSWORD_FILE unreadable (uid postgres, file root 0600)" absent 78 "POSTGRES_PASSWORD_FILE.*pw-rootonly" \
    POSTGRES_PASSWORD_FILE="$WORK/pw-rootonly"
row "PGDATA root-owned 0755, started as uid postgres" rootdir 1 'PGDATA|data-r[0-9]+"' "${PW[@]}"
LAUNCH_EXEC=()

# Found only at run time: exit 1, still with the variable and a hint.
row "PGDATA is a regular file (primary)" file 1 PGDATA "${PW[@]}"
row "PGDATA is a regular file (replica)" file 1 PGDATA "${REPLICA[@]}"
# A read-only mount, in the instance's own mount namespace only.
LAUNCH_EXEC=(sh -c 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"')
ro=$(new_data rootdir ro)
LAUNCH_EXEC+=("$ro" "$BIN")
row "PGDATA on a read-only mount (root-owned, 0755)" absent 1 'PGDATA|data-ro"' "${PW[@]}" PGDATA="$ro"
LAUNCH_EXEC=()
# The primary never answers: the wait ends after POSTGRES_PRIMARY_WAIT_TIMEOUT
# with the reason. PGDATA is an empty directory of postgres's, mode 0700,
# that the replica could use: it stays as it is. (A missing PGDATA is made
# before the wait: only configuration errors and the refusals that do not
# depend on the primary come before the data directory is prepared.)
row "POSTGRES_PRIMARY_HOST=no-such-host.invalid, POSTGRES_PRIMARY_WAIT_TIMEOUT=2" empty 1 \
    'POSTGRES_PRIMARY_HOST|no-such-host.invalid' "${REPLICA[@]}" POSTGRES_PRIMARY_HOST=no-such-host.invalid \
    POSTGRES_PRIMARY_WAIT_TIMEOUT=2
row "nothing listens at POSTGRES_PRIMARY_HOST:PORT, POSTGRES_PRIMARY_WAIT_TIMEOUT=2" empty 1 \
    'POSTGRES_PRIMARY_(HOST|PORT)|127.0.0.1:'"$PORT" "${REPLICA[@]}" POSTGRES_PRIMARY_WAIT_TIMEOUT=2

# The table, for the report.
{
    printf '\n%-78s | %-4s | %s\n' "input" "exit" "first line of the message"
    printf '%s\n' "$(printf -- '-%.0s' $(seq 140))"
    for r in "${ROWS[@]}"; do
        IFS=$'\t' read -r what rc msg <<<"$r"
        printf '%-78s | %-4s | %s\n' "$what" "$rc" "$msg"
    done
    printf '\n%d inputs, %d failed\n' "${#ROWS[@]}" "${#FAILED[@]}"
} >&2
[ "${#ROWS[@]}" -ge 30 ] || fail "only ${#ROWS[@]} inputs in the table"
if [ ${#FAILED[@]} -gt 0 ]; then
    printf '  %s\n' "${FAILED[@]}" >&2
    fail "${#FAILED[@]} of ${#ROWS[@]} inputs were not handled as they should be"
fi
log "PASS: ${#ROWS[@]} inputs"
