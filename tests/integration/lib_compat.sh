# Helpers for the compatibility tests (compat_*.sh): sourced after lib.sh and
# lib_ops.sh, never run.
#
# The binary reads fixed paths: /docker-entrypoint-initdb.d,
# /var/run/postgresql (the socket directory of the temporary server and of
# psql's defaults) and /bitnami/postgresql. Every instance these tests start
# runs in a private mount namespace (the one `unshare --mount-proc` makes;
# propagation private) under a private root: a tmpfs that holds a bind mount
# of each top-level entry of the host's / (same paths, same files), plus the
# fixed paths above, each a bind mount of a directory of $WORK. PID 1 chroots
# into it and execs the binary (which stays PID 1). So no test sees another
# test's scripts or sockets, and nothing is created on the host: a mount
# point made on the host (/docker-entrypoint-initdb.d) could be removed by
# another test that made it too, while an instance still needs it.
#
# Checks: `check NAME FUNCTION [ARGS...]` runs FUNCTION, which returns
# non-zero after `no "reason"` when the behaviour is wrong, prints
# `CHECK NAME: pass` (or `CHECK NAME: FAIL: reason`) on stdout and goes on
# with the next check; checks_done fails the test when any check failed.
# A broken test environment (a server that does not start where the check
# does not expect that) still ends the test at once through lib.sh's fail.

CHECKS_FAILED=()
CHECKS_PASSED=0
WHY=
CL_INITDB_D=   # for the next cl_launch: the directory to mount on /docker-entrypoint-initdb.d
CL_BITNAMI=    # ... on /bitnami/postgresql
CL_AS=         # ... the user (name, or UID:GID) the binary starts as; empty: root
CL_NO_PGPORT=  # ... set: no PGPORT in its environment (the port comes from ARGS)
CLIENT_NS=     # the namespace sqlc connects from

no() { WHY="$*"; return 1; }

check()
{
    local name=$1
    shift
    WHY=
    if "$@"; then
        printf 'CHECK %s: pass\n' "$name"
        CHECKS_PASSED=$((CHECKS_PASSED + 1))
    else
        printf 'CHECK %s: FAIL: %s\n' "$name" "${WHY:-(no reason given)}"
        log "CHECK $name failed: ${WHY:-(no reason given)}"
        CHECKS_FAILED+=("$name")
    fi
}

checks_done()
{
    [ ${#CHECKS_FAILED[@]} -eq 0 ] || fail "${#CHECKS_FAILED[@]} check(s) failed: ${CHECKS_FAILED[*]}"
    log "PASS: $CHECKS_PASSED checks"
}

# compat_setup SECONDS: it_setup, and the wrapper that makes the private root.
compat_setup()
{
    it_setup "$1"
    command -v setpriv >/dev/null || fail "setpriv not found (util-linux)"
    command -v chroot >/dev/null || fail "chroot not found (coreutils)"
    # bound over inside the private root, so it must exist (postgresql-common makes it)
    [ -d /var/run/postgresql ] || fail "/var/run/postgresql does not exist; install postgresql-15"
    mkdir -p "$WORK/empty-initdb.d"
    cat >"$WORK/ns-wrap" <<'EOF2'
#!/bin/bash
# ns-wrap ROOT [--bind SRC DST]... [--as USER|UID:GID] -- CMD...
# PID 1 of a fresh PID and mount namespace: makes ROOT a private root (a
# tmpfs with the host's top-level entries bound in, then the given binds;
# DST is a path inside the new root, created when missing), chroots into it
# and execs CMD (which stays PID 1), as USER when given.
set -e
root=$1
shift
mount --make-rprivate /
mount -t tmpfs -o mode=0755 pgep-root "$root"
for e in /* /.[!.]*; do
    [ -e "$e" ] || [ -L "$e" ] || continue
    # Never the host's: the paths the binds below provide. A mount on top of
    # a bind of a host directory goes away when another test removes that
    # directory on the host (rmdir detaches mounts in every namespace).
    case $e in /docker-entrypoint-initdb.d | /bitnami) continue ;; esac
    t=$root/${e#/}
    if [ -L "$e" ]; then
        ln -s "$(readlink "$e")" "$t"
    elif [ -d "$e" ]; then
        mkdir "$t"
        # /tmp holds ROOT itself: not recursive there
        if [ "$e" = /tmp ]; then mount --bind "$e" "$t"; else mount --rbind "$e" "$t"; fi
    else
        touch "$t"
        mount --bind "$e" "$t"
    fi
done
as=
while [ $# -gt 0 ] && [ "$1" != -- ]; do
    case $1 in
    --bind)
        d=$(readlink -m "$root/$3")  # /var/run -> /run inside the new root
        case $d in "$root"/*) ;; *) d=$root$(readlink -m "$3") ;; esac
        mkdir -p "$d"
        mount --bind "$2" "$d"
        shift 3 ;;
    --as) as=$2; shift 2 ;;
    *) echo "ns-wrap: unknown option $1" >&2; exit 2 ;;
    esac
done
shift
cd /
case $as in
"") exec chroot "$root" "$@" ;;
*:*) exec chroot "$root" setpriv --reuid="${as%%:*}" --regid="${as#*:}" --clear-groups -- "$@" ;;
*) exec chroot "$root" setpriv --reuid="$as" --regid="$(id -g "$as")" --init-groups -- "$@" ;;
esac
EOF2
    chmod 755 "$WORK/ns-wrap"
}

# cl_launch ID NETNS ADDR PORT [VAR=VALUE...] -- [ARGS...]
# Starts the binary (PID 1, private mounts; see above) with only the given
# variables plus PATH, LANG, HOSTNAME=ID and PGPORT=PORT. The port comes from
# PGPORT, not -p, as in a container where the default port is used. Without
# ARGS: postgres -c listen_addresses=ADDR -c log_connections=on.
# /var/run/postgresql is $WORK/run-ID (mode 3777 as in the official image);
# /docker-entrypoint-initdb.d is CL_INITDB_D or an empty directory.
cl_launch()
{
    local id=$1 ns=$2 addr=$3 port=$4
    shift 4
    local vars=() args=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do vars+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    args=("$@")
    [ ${#args[@]} -gt 0 ] || args=(postgres -c "listen_addresses=$addr" -c log_connections=on)
    IADDR[$id]=$addr
    IPORT[$id]=$port
    mkdir -p "$WORK/run-$id"
    chown root:root "$WORK/run-$id"
    chmod 3777 "$WORK/run-$id"
    mkdir -p "$WORK/root-$id"
    local w=("$WORK/ns-wrap" "$WORK/root-$id" --bind "$WORK/run-$id" /var/run/postgresql
        --bind "${CL_INITDB_D:-$WORK/empty-initdb.d}" /docker-entrypoint-initdb.d)
    [ -z "$CL_BITNAMI" ] || w+=(--bind "$CL_BITNAMI" /bitnami/postgresql)
    [ -z "$CL_AS" ] || w+=(--as "$CL_AS")
    LAUNCH_EXEC=("${w[@]}" -- "$BIN")
    local pgport=(PGPORT="$port")
    [ -z "$CL_NO_PGPORT" ] || pgport=()
    CL_INITDB_D=
    CL_BITNAMI=
    CL_AS=
    CL_NO_PGPORT=
    launch "$id" "$ns" HOSTNAME="$id" "${pgport[@]}" "${vars[@]}" -- "${args[@]}"
    LAUNCH_EXEC=()
}

# ready_within ID SECONDS: like wait_ready, but returns 1 instead of failing
# the test (for checks where not starting is the behaviour under test).
ready_within()
{
    local id=$1 limit=$2 i
    for i in $(seq 1 $((limit * 10))); do
        running "$id" || return 1
        in_ns "$id" "$PG_BINDIR/pg_isready" -q -t 1 -h "${IADDR[$id]}" -p "${IPORT[$id]}" && return 0
        sleep 0.1
    done
    return 1
}

# until_true SECONDS CMD...: runs CMD every 0.1 s until it succeeds (0) or
# SECONDS pass (1); unlike poll, it does not end the test.
until_true()
{
    local limit=$1 _
    shift
    for _ in $(seq 1 $((limit * 10))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    return 1
}

# sqlc ID USER PASSWORD DB SQL: psql over TCP from CLIENT_NS to the instance,
# without a password prompt (PASSWORD empty: none given); unaligned output.
sqlc()
{
    local id=$1 user=$2 pw=$3 db=$4 sql=$5
    local e=(env -u PGPASSWORD PGPASSFILE=/dev/null PGCONNECT_TIMEOUT=5)
    [ -z "$pw" ] || e+=(PGPASSWORD="$pw")
    "${e[@]}" ip netns exec "$CLIENT_NS" psql -X -q -At -w -v ON_ERROR_STOP=1 \
        -h "${IADDR[$id]}" -p "${IPORT[$id]}" -U "$user" -d "$db" -c "$sql"
}

# sqls ID USER DB SQL: psql on the instance's unix socket ($WORK/run-ID).
sqls()
{
    env -u PGPASSWORD PGPASSFILE=/dev/null PGCONNECT_TIMEOUT=5 psql -X -q -At -w -v ON_ERROR_STOP=1 \
        -h "$WORK/run-$1" -p "${IPORT[$1]}" -U "$2" -d "$3" -c "$4"
}

# log_has ID REGEX / log_line ID REGEX: a match in the instance's current log / the first matching line.
log_has() { grep -Eq -- "$2" "${ILOG[$1]}"; }
log_line() { grep -E -m1 -- "$2" "${ILOG[$1]}"; }

# stop_quiet ID: SIGINT and wait (the status in EXIT_RC); no fail.
stop_quiet()
{
    [ -n "${UPID[$1]:-}" ] || return 0
    running "$1" || { wait_exit "$1" 1 || true; return 0; }
    kill -INT "${CPID[$1]}" 2>/dev/null || true
    wait_exit "$1" 30 || fail "$1 did not exit within 30 s of SIGINT"
}

# plain_initdb DIR [INITDB ARGS...]: a cluster made by plain initdb as
# postgres (what another entrypoint leaves on a volume); DIR's parent must
# exist.
plain_initdb()
{
    local dir=$1
    shift
    install -d -o postgres -g postgres -m 0700 "$dir"
    runuser -u postgres -- "$PG_BINDIR/initdb" -D "$dir" "$@" >"$WORK/plain-initdb.out" 2>&1 ||
        fail "plain initdb in $dir failed: $(tail -5 "$WORK/plain-initdb.out")"
}

# foreign_cluster DIR PORT PWFILE TABLE VALUE WHAT: a cluster as another image
# leaves it (plain initdb with superuser postgres and the password in PWFILE,
# `host all all all scram-sha-256` appended), holding one row VALUE in TABLE,
# written by a server started and stopped here on the unix socket only.
# WHAT names it in failure messages.
foreign_cluster()
{
    local dir=$1 port=$2 pwfile=$3 table=$4 value=$5 what=$6
    plain_initdb "$dir" --username=postgres --pwfile="$pwfile"
    printf '\nhost all all all scram-sha-256\n' >>"$dir/pg_hba.conf"
    runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$dir" -o "-c listen_addresses='' -k $dir -p $port" -w start >"$WORK/pgctl.out" 2>&1 ||
        fail "could not start the $what: $(tail -3 "$WORK/pgctl.out")"
    runuser -u postgres -- psql -X -q -h "$dir" -p "$port" -U postgres -d postgres \
        -c "CREATE TABLE $table (x text); INSERT INTO $table VALUES ('$value')" >/dev/null ||
        fail "could not write into the $what"
    runuser -u postgres -- "$PG_BINDIR/pg_ctl" -D "$dir" -m fast -w stop >>"$WORK/pgctl.out" 2>&1 ||
        fail "could not stop the $what"
}
