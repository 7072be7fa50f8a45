# Shared helpers for the integration tests: sourced, never run.
#
# Each test is `bash TEST.sh /path/to/pg-entrypoint` (or PG_ENTRYPOINT_BIN in
# the environment), runs as root against Debian's PostgreSQL 15, and starts
# every pg-entrypoint as PID 1 of its own PID namespace
# (`unshare --pid --fork --mount-proc`), inside network namespaces the test
# creates. Everything a test starts is recorded here and removed by the EXIT
# trap, also when the test fails or is interrupted.
#
# Why network namespaces: initdb's default pg_hba.conf trusts every TCP
# connection from 127.0.0.1 (replication included), exactly as in the
# official image. A replica on the same loopback address would be let in
# without its password, so wrong passwords and SCRAM could not be tested.
# Here the primary and the replica are two "hosts" (192.0.2.1 and 192.0.2.2,
# TEST-NET-1, on a veth pair that exists only between the two namespaces),
# as in a real deployment.
#
# Hang guards, and why they are large. Every limit in these tests is a guard
# against a hang, never a guess at how long a step takes: it is at least ten
# times the longest run of that test or step measured on a busy machine (the
# whole tier at ctest -j2 while stress-ng --cpu 2 loads both cores), so that
# load alone can never trip it; a real hang still ends, only later. That is:
#  - it_setup SECONDS (the test's watchdog): 10x or more the test's longest
#    measured run (ctest's "Passed N sec");
#  - the CTest TIMEOUT (CMakeLists.txt): the watchdog plus time for cleanup;
#  - wait_ready's default (300 s): 10x the longest first start measured, launch
#    to accepting connections (initdb, bootstrap, init scripts: at most
#    20.2 s in four tier runs under stress-ng beside other sessions' builds;
#    wait_ready logs it as "after N s");
#  - stop's default (120 s): far above the longest fast shutdown measured
#    (0.2 s; stop logs it as "in N s"), which a checkpoint can lengthen.
# A limit that is part of what a test asserts (a stop signal ends the
# entrypoint within 5 s) is behaviour, not a guard, and stays as it is. A
# test waits for a condition (poll, wait_ready, wait_exit, fx_wait_log: a
# bounded loop), never for a fixed time that stands in for one.

set -euo pipefail

PG_BINDIR=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
BIN=${1:-${PG_ENTRYPOINT_BIN:-}}
TEST_NAME=$(basename "$0" .sh)
P_ADDR=192.0.2.1
R_ADDR=192.0.2.2
T_ADDR=192.0.2.3

declare -A UPID=()   # id -> pid of the subshell that runs unshare (our child)
declare -A USH=()    # id -> pid of the unshare process
declare -A CPID=()   # id -> pid of PID 1 in its namespace (entrypoint, then postmaster)
declare -A INS=()    # id -> network namespace
declare -A IADDR=()  # id -> listen address
declare -A IPORT=()  # id -> port
declare -A ILOG=()   # id -> stderr log of the current run
declare -A ISTART=() # id -> when the current run was launched (date +%s%N)
BG_PIDS=()           # helper loops (samplers, watchdog)
LAUNCH_EXEC=()       # what launch runs in the namespaces; empty: "$BIN"
NETNS=()
WORK=
EXIT_RC=
TEST_FAILED=0

log() { printf '%s %s: %s\n' "$(date +%H:%M:%S.%3N)" "$TEST_NAME" "$*" >&2; }

fail()
{
    TEST_FAILED=1
    printf '\nFAIL: %s: %s\n' "$TEST_NAME" "$*" >&2
    exit 1
}

skip()
{
    printf 'SKIP: %s\n' "$*" >&2
    exit 77
}

# Kills a helper process and its direct children (e.g. a `sleep` it waits on).
kill_tree()
{
    local pid=$1 sig=${2:-TERM} kids=""
    [ -r "/proc/$pid/task/$pid/children" ] && kids=$(cat "/proc/$pid/task/$pid/children" 2>/dev/null || true)
    kill "-$sig" "$pid" 2>/dev/null || true
    for k in $kids; do kill "-$sig" "$k" 2>/dev/null || true; done
}

# True while a process we started has not exited (a zombie counts as exited).
alive()
{
    local pid=$1 stat
    stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

# wait_exit ID SECONDS: waits for the instance to end and sets EXIT_RC.
# Returns 1 (EXIT_RC empty) when it is still running after SECONDS.
wait_exit()
{
    local id=$1 deadline pid=${UPID[$1]:-}
    EXIT_RC=
    [ -n "$pid" ] || fail "internal: no instance $id"
    deadline=$(($(date +%s%N) + ${2%.*} * 1000000000))
    while alive "$pid"; do
        [ "$(date +%s%N)" -lt "$deadline" ] || return 1
        sleep 0.02
    done
    EXIT_RC=0
    { wait "$pid"; } 2>/dev/null || EXIT_RC=$?
    if [ "$EXIT_RC" -gt 128 ] && [ "$EXIT_RC" -lt 160 ]; then
        log "$id ended with status $EXIT_RC (128+SIG$(kill -l $((EXIT_RC - 128))))"
    fi
    unset "UPID[$id]" "CPID[$id]" "USH[$id]"
    return 0
}

# stop_all_instances: stops every instance politely (SIGINT: fast
# shutdown), then kills whatever is left: SIGKILL to a namespace's PID 1
# ends every process in it. The instances are forgotten afterwards.
stop_all_instances()
{
    local id
    for id in "${!UPID[@]}"; do
        if [ -n "${CPID[$id]:-}" ]; then kill -INT "${CPID[$id]}" 2>/dev/null; fi
    done
    for id in "${!UPID[@]}"; do
        if ! wait_exit "$id" 15; then
            log "cleanup: $id did not stop on SIGINT; killing its namespace"
            if [ -n "${CPID[$id]:-}" ]; then kill -KILL "${CPID[$id]}" 2>/dev/null; fi
            if [ -n "${USH[$id]:-}" ]; then kill -KILL "${USH[$id]}" 2>/dev/null; fi
            kill -KILL "${UPID[$id]}" 2>/dev/null || true
            wait "${UPID[$id]}" 2>/dev/null || true
        fi
        unset "UPID[$id]" "CPID[$id]" "USH[$id]"
    done
}

cleanup()
{
    local rc=$? id
    trap - EXIT INT TERM PIPE
    trap '' PIPE  # a closed stdout/stderr must not stop the cleanup
    set +e
    [ "$TEST_FAILED" = 1 ] && rc=1
    for pid in "${BG_PIDS[@]}"; do kill_tree "$pid" TERM; done
    stop_all_instances
    for pid in "${BG_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    # Safety net: anything still running in a network namespace this test
    # made was started by this test.
    for ns in "${NETNS[@]}"; do
        for pid in $(ip netns pids "$ns" 2>/dev/null); do
            log "cleanup: killing leftover pid $pid in $ns"
            kill -KILL "$pid" 2>/dev/null || true
        done
    done
    for ns in "${NETNS[@]}"; do
        for i in 1 2 3 4 5 6 7 8 9 10; do
            [ -z "$(ip netns pids "$ns" 2>/dev/null)" ] && break
            sleep 0.1
        done
        ip netns del "$ns" 2>/dev/null || log "cleanup: could not delete network namespace $ns"
    done
    if [ "$rc" != 0 ] && [ "$rc" != 77 ] && [ -n "$WORK" ]; then
        # The logs of the last few runs, oldest first.
        for f in $(ls -t "$WORK"/*.log 2>/dev/null | head -n 4 | tac); do
            [ -s "$f" ] || continue
            printf '\n----- last lines of %s -----\n' "$(basename "$f")" >&2
            tail -n 40 "$f" >&2
        done
    fi
    if [ -n "$WORK" ] && [ -d "$WORK" ]; then
        if [ -n "${PGEP_IT_KEEP:-}" ]; then
            log "keeping $WORK (PGEP_IT_KEEP is set)"
        else
            rm -rf --one-file-system "$WORK"
        fi
    fi
    exit "$rc"
}

# it_setup SECONDS: checks the prerequisites, creates $WORK and installs the
# traps; a watchdog interrupts the test after SECONDS so that cleanup still
# runs before CTest's own (harder) timeout.
it_setup()
{
    local limit=${1:-50}
    [ "$(id -u)" = 0 ] || fail "must run as root (it starts postgres as PID 1 in PID and network namespaces)"
    [ -n "$BIN" ] || fail "usage: $0 /path/to/pg-entrypoint (or set PG_ENTRYPOINT_BIN)"
    BIN=$(readlink -f "$BIN")
    [ -x "$BIN" ] || fail "pg-entrypoint binary \"$BIN\" is not executable"
    [ -x "$PG_BINDIR/initdb" ] || fail "$PG_BINDIR/initdb not found; install postgresql-15 (apt-get install postgresql-15)"
    for tool in unshare ip psql sha256sum; do
        command -v "$tool" >/dev/null || fail "$tool not found"
    done
    id postgres >/dev/null 2>&1 || fail "no postgres user on this host; install postgresql-15"
    trap cleanup EXIT
    trap 'TEST_FAILED=1; log "interrupted"; exit 1' INT TERM PIPE
    WORK=$(mktemp -d "/tmp/pgep-it-$TEST_NAME.XXXXXX")
    chmod 755 "$WORK"
    local me=$$
    ( trap 'exit 0' TERM
      sleep "$limit" & wait $!
      printf '\nFAIL: %s: still running after %s s (watchdog)\n' "$TEST_NAME" "$limit" >&2
      kill -TERM "$me" ) &
    BG_PIDS+=("$!")
    SUPERPW="Sup3r pw'\\\$$RANDOM$RANDOM"
    REPLPW="r3pl:pw\\ 'x$RANDOM$RANDOM"
    log "binary $BIN; work dir $WORK"
}

# ns_up NS: loopback up, and the namespace's ephemeral ports kept clear of
# the tests' server ports (55xxx, inside the default 32768-60999 range): a
# client connection in the namespace (a pg_isready poll of one instance)
# could otherwise hold the port another instance is about to listen on.
ns_up()
{
    ip -n "$1" link set lo up
    ip netns exec "$1" sysctl -q -w net.ipv4.ip_local_port_range="61000 65000"
}

# net_pair: two namespaces joined by a veth pair, primary side $P_ADDR and
# replica side $R_ADDR; sets NS_P and NS_R.
net_pair()
{
    NS_P="pgep-$TEST_NAME-$$-p"
    NS_R="pgep-$TEST_NAME-$$-r"
    ip netns add "$NS_P" && NETNS+=("$NS_P")
    ip netns add "$NS_R" && NETNS+=("$NS_R")
    ip -n "$NS_P" link add eth0 type veth peer name eth0 netns "$NS_R"
    ip -n "$NS_P" addr add "$P_ADDR/24" dev eth0
    ip -n "$NS_R" addr add "$R_ADDR/24" dev eth0
    for ns in "$NS_P" "$NS_R"; do
        ns_up "$ns"
        ip -n "$ns" link set eth0 up
    done
}

# net_trio: three namespaces ($NS_P at $P_ADDR, $NS_R at $R_ADDR, $NS_T at
# $T_ADDR) on one bridge, which lives in a fourth ($NS_HUB). net_cut NS takes
# one off the bridge (a network partition), net_mend NS puts it back.
net_trio()
{
    NS_HUB="pgep-$TEST_NAME-$$-h"
    NS_P="pgep-$TEST_NAME-$$-p"
    NS_R="pgep-$TEST_NAME-$$-r"
    NS_T="pgep-$TEST_NAME-$$-t"
    ip netns add "$NS_HUB" && NETNS+=("$NS_HUB")
    ip -n "$NS_HUB" link add br0 type bridge
    ip -n "$NS_HUB" link set br0 up
    local ns addr i=0
    for ns in "$NS_P" "$NS_R" "$NS_T"; do
        addr=$([ $i = 0 ] && echo "$P_ADDR" || { [ $i = 1 ] && echo "$R_ADDR"; } || echo "$T_ADDR")
        ip netns add "$ns" && NETNS+=("$ns")
        ip -n "$NS_HUB" link add "v$i" type veth peer name eth0 netns "$ns"
        ip -n "$NS_HUB" link set "v$i" master br0 up
        ip -n "$ns" addr add "$addr/24" dev eth0
        ns_up "$ns"
        ip -n "$ns" link set eth0 up
        i=$((i + 1))
    done
}

# The bridge port of namespace NS (net_trio's).
net_port()
{
    case $1 in
    "$NS_P") echo v0 ;;
    "$NS_R") echo v1 ;;
    "$NS_T") echo v2 ;;
    *) fail "net_port: $1 is not one of net_trio's namespaces" ;;
    esac
}
net_cut() { ip -n "$NS_HUB" link set "$(net_port "$1")" down; }
net_mend() { ip -n "$NS_HUB" link set "$(net_port "$1")" up; }

# net_single: one namespace with only loopback; sets NS_1.
net_single()
{
    NS_1="pgep-$TEST_NAME-$$-1"
    ip netns add "$NS_1" && NETNS+=("$NS_1")
    ns_up "$NS_1"
}

# launch ID NETNS [VAR=VALUE...] -- [ARGS...]
# Starts `pg-entrypoint ARGS` as PID 1 of a new PID namespace, inside NETNS
# (empty: the host's), with only the given variables plus PATH and LANG.
# Secrets are passed in the environment, never on a command line. stderr goes
# to $WORK/ID.N.log (N counts the runs of ID); ILOG[ID] names it.
launch()
{
    local id=$1 ns=$2 n=1
    shift 2
    local envs=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    while [ -e "$WORK/$id.$n.log" ]; do n=$((n + 1)); done
    ILOG[$id]="$WORK/$id.$n.log"
    ISTART[$id]=$(date +%s%N)
    (
        for v in $(compgen -e); do
            case $v in
            ASAN_OPTIONS | UBSAN_OPTIONS | LSAN_OPTIONS) ;;  # for a sanitizer build
            *) export -n "${v?}" 2>/dev/null || true ;;
            esac
        done
        export PATH="$PG_BINDIR:/usr/sbin:/usr/bin:/sbin:/bin" LANG=C.UTF-8
        for kv in "${envs[@]}"; do export "${kv?}"; done
        [ ${#LAUNCH_EXEC[@]} -gt 0 ] || LAUNCH_EXEC=("$BIN")
        # Not exec'd: when PID 1 dies of a signal, this shell writes the
        # notice into the log rather than the test's output.
        if [ -n "$ns" ]; then
            ip netns exec "$ns" unshare --pid --fork --mount-proc "${LAUNCH_EXEC[@]}" "$@"
        else
            unshare --pid --fork --mount-proc "${LAUNCH_EXEC[@]}" "$@"
        fi
    ) >"$WORK/$id.$n.out" 2>"${ILOG[$id]}" </dev/null &
    UPID[$id]=$!
    INS[$id]=$ns
    # The subshell's child becomes unshare (ip netns exec execs it), whose
    # only child is PID 1 of the new namespace.
    local kids="" i k s=${UPID[$id]} u=""
    for i in $(seq 1 250); do
        if [ -z "$u" ]; then
            for k in $(cat "/proc/$s/task/$s/children" 2>/dev/null || true); do
                [ "$(cat "/proc/$k/comm" 2>/dev/null)" = unshare ] && u=$k
            done
        fi
        if [ -n "$u" ]; then
            kids=$(cat "/proc/$u/task/$u/children" 2>/dev/null || true)
            kids=${kids%% *}
            [ -n "$kids" ] && [ "$(awk '/^NSpid:/ { print $NF }' "/proc/$kids/status" 2>/dev/null)" = 1 ] && break
            kids=""
        fi
        alive "$s" || break
        sleep 0.02
    done
    USH[$id]=$u
    CPID[$id]=$kids
    # An entrypoint that exits at once (a configuration error) may be gone
    # before it could be seen; wait_exit reports its status.
    if [ -z "$kids" ] && alive "$s"; then
        fail "$id: the namespace's PID 1 did not appear within 5 s"
    fi
}

# launch_primary ID NETNS ADDR PORT PGDATA [VAR=VALUE...]
launch_primary()
{
    local id=$1 ns=$2 addr=$3 port=$4 data=$5
    shift 5
    IADDR[$id]=$addr
    IPORT[$id]=$port
    mkdir -p "$WORK/sock-$id" && chmod 1777 "$WORK/sock-$id"
    launch "$id" "$ns" PGDATA="$data" POSTGRES_PASSWORD="$SUPERPW" \
        POSTGRES_REPLICATION_PASSWORD="$REPLPW" HOSTNAME="$id" "$@" -- \
        postgres -p "$port" -k "$WORK/sock-$id" -c listen_addresses="$addr" -c log_connections=on
}

# launch_replica ID NETNS ADDR PORT PGDATA [VAR=VALUE...]: streams from the
# primary at $P_ADDR:$P_PORT.
launch_replica()
{
    local id=$1 ns=$2 addr=$3 port=$4 data=$5
    shift 5
    IADDR[$id]=$addr
    IPORT[$id]=$port
    mkdir -p "$WORK/sock-$id" && chmod 1777 "$WORK/sock-$id"
    launch "$id" "$ns" PGDATA="$data" POSTGRES_PRIMARY_HOST="$P_ADDR" \
        POSTGRES_PRIMARY_PORT="$P_PORT" POSTGRES_REPLICATION_PASSWORD="$REPLPW" \
        HOSTNAME="$id" "$@" -- \
        postgres -p "$port" -k "$WORK/sock-$id" -c listen_addresses="$addr"
}

# private_root: writes $WORK/private-root, a wrapper for LAUNCH_EXEC that
# gives one instance its own /docker-entrypoint-initdb.d without touching
# the host's /: `private-root ROOT SCRIPTS CMD...`, run as PID 1 of the
# instance's mount namespace (unshare's, propagation private), mounts a
# tmpfs at ROOT as a new root, binds every entry of / into it (but a
# /docker-entrypoint-initdb.d there) and SCRIPTS at
# /docker-entrypoint-initdb.d, chroots there and execs CMD (which stays
# PID 1). A mount point made on the host would be seen by every test running
# beside this one (secrets' private root once bound in the one signals_phases
# had made, then failed to make its own: "File exists").
private_root()
{
    cat >"$WORK/private-root" <<'EOF'
#!/bin/sh
set -e
root=$1 scripts=$2
shift 2
mount -t tmpfs -o mode=0755 pgep-root "$root"
for e in /* /.[!.]*; do
    [ -e "$e" ] || [ -L "$e" ] || continue
    # Never the host's own, should the host have one: the bind below
    # provides that path.
    [ "$e" != /docker-entrypoint-initdb.d ] || continue
    n=$root/${e#/}
    if [ -L "$e" ]; then cp -P "$e" "$n"
    elif [ -d "$e" ]; then mkdir "$n" && mount --rbind "$e" "$n"
    else touch "$n" && mount --bind "$e" "$n"
    fi
done
mkdir "$root/docker-entrypoint-initdb.d"
mount --bind "$scripts" "$root/docker-entrypoint-initdb.d"
cd /
exec chroot "$root" "$@"
EOF
    chmod 755 "$WORK/private-root"
}

running() { [ -n "${UPID[$1]:-}" ] && alive "${UPID[$1]}"; }

# in_ns ID CMD...: runs CMD in the instance's network namespace.
in_ns()
{
    local ns=${INS[$1]}
    shift
    if [ -n "$ns" ]; then ip netns exec "$ns" "$@"; else "$@"; fi
}

# wait_ready ID [SECONDS] [noreap]: until the server accepts TCP connections
# (default: 300 s, the hang guard above).
# noreap: for use in a subshell, which cannot wait for the test's children
# (the exit status is then not known).
wait_ready()
{
    local id=$1 limit=${2:-300} noreap=${3:-} i rc='?' ms
    for i in $(seq 1 $((limit * 10))); do
        if ! running "$id"; then
            [ -n "$noreap" ] || { wait_exit "$id" 5 || true; rc=${EXIT_RC:-?}; }
            fail "$id exited with status $rc before accepting connections (log: ${ILOG[$id]})"
        fi
        if in_ns "$id" "$PG_BINDIR/pg_isready" -q -t 1 -h "${IADDR[$id]}" -p "${IPORT[$id]}"; then
            ms=$((($(date +%s%N) - ${ISTART[$id]:-0}) / 1000000))
            log "$id accepts connections on ${IADDR[$id]}:${IPORT[$id]} after $((ms / 1000)).$((ms % 1000 / 100)) s"
            return 0
        fi
        sleep 0.1
    done
    fail "$id did not accept connections within $limit s"
}

# q ID SQL: one statement as the superuser over TCP (password in the
# environment); prints the unaligned result.
q()
{
    PGPASSWORD="$SUPERPW" PGCONNECT_TIMEOUT=5 in_ns "$1" psql -X -q -At -v ON_ERROR_STOP=1 \
        -h "${IADDR[$1]}" -p "${IPORT[$1]}" -U postgres -d postgres -c "$2"
}

# poll SECONDS DESCRIPTION CMD...: runs CMD every 0.1 s until it succeeds.
poll()
{
    local limit=$1 what=$2 _
    shift 2
    for _ in $(seq 1 $((limit * 10))); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    fail "$what: not true within $limit s"
}

# Equal to $2 (stdout of q).
q_is() { [ "$(q "$1" "$2" 2>/dev/null)" = "$3" ]; }

# stop ID [SIGNAL] [SECONDS]: signals the namespace's PID 1 and waits for it
# (default: 120 s, the hang guard above); sets EXIT_RC.
stop()
{
    local id=$1 sig=${2:-INT} limit=${3:-120} t0
    running "$id" || { wait_exit "$id" 1 || true; fail "$id already exited (status $EXIT_RC) before SIG$sig"; }
    t0=$(date +%s%N)
    kill "-$sig" "${CPID[$id]}"
    wait_exit "$id" "$limit" || fail "$id did not exit within $limit s of SIG$sig"
    t0=$((($(date +%s%N) - t0) / 1000000))
    log "$id exited with status $EXIT_RC after SIG$sig, in $((t0 / 1000)).$((t0 % 1000 / 100)) s"
}

# snapshot DIR: every entry with type, mode, owner, size, mtime and, for
# files, the SHA-256 of the contents; "absent" when DIR does not exist.
snapshot()
{
    local dir=$1
    if [ ! -e "$dir" ] && [ ! -L "$dir" ]; then
        echo absent
        return
    fi
    find "$dir" -printf '%y %#m %U:%G %s %T@ %P -> %l\n' | LC_ALL=C sort
    find "$dir" -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum
}

# assert_log_has FILE REGEX DESCRIPTION / assert_log_lacks ...
assert_log_has()
{
    grep -Eq -- "$2" "$1" || fail "$3: no line matching /$2/ in $(basename "$1")"
}
assert_log_lacks()
{
    local hit
    if hit=$(grep -E -m1 -- "$2" "$1"); then
        fail "$3: $(basename "$1") has: $hit"
    fi
}

# assert_no_secret FILE...: neither password appears in the files.
assert_no_secret()
{
    for f in "$@"; do
        if grep -a -q -F -e "$SUPERPW" -e "$REPLPW" "$f"; then
            fail "a password appears in $(basename "$f")"
        fi
    done
}

# A step line of the entrypoint's own log: `... [pg-entrypoint] LEVEL STEP: ...`.
step_re() { printf '\\[pg-entrypoint\\] [A-Z]+ +%s: ' "$1"; }

# expect_exit ID SECONDS RC WHAT: the instance stops by itself (a refusal)
# within SECONDS, with exit status RC.
expect_exit()
{
    wait_exit "$1" "$2" || fail "$4: $1 still runs after $2 s, want exit $3"
    [ "$EXIT_RC" = "$3" ] || fail "$4: exit status $EXIT_RC, want $3"
}
