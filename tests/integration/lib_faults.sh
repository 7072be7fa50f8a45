# Helpers for the "replica data safety" tests (faults, state_table,
# signals_phases): sourced after lib.sh, never run.
#
# What they add to lib.sh:
#  - fx_trap: a cleanup in front of lib.sh's, for what lies outside $WORK or
#    cannot be removed with it: tmpfs mounts (unmounted once the instances
#    on them are stopped) and directories made outside $WORK;
#  - soft: runs a check in a subshell where lib.sh's fail ends only that
#    subshell, so that a table-driven test records the failure and goes on;
#  - tmpfs data directories, a throttled link, size and log pollers.

FX_MOUNTS=()   # tmpfs mounts this test made in the host's mount namespace
FX_RMDIRS=()   # directories outside $WORK this test created (removed if empty)
SOFT_RC=0
SOFT_WHY=

# fx_trap: call right after it_setup.
fx_trap() { trap fx_cleanup EXIT; }

fx_cleanup()
{
    local rc=$? id m d
    trap - EXIT
    set +e
    if [ ${#FX_MOUNTS[@]} -gt 0 ] || [ ${#FX_RMDIRS[@]} -gt 0 ]; then
        # Nothing may run on a mount that goes away: stop the instances as
        # lib.sh's cleanup would (fast shutdown, then the namespace's death).
        stop_all_instances
    fi
    for m in "${FX_MOUNTS[@]}"; do
        umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "cleanup: could not unmount $m"
    done
    for d in "${FX_RMDIRS[@]}"; do
        rmdir "$d" 2>/dev/null || log "cleanup: could not remove $d (not empty?)"
    done
    (exit "$rc")
    cleanup
}

# soft FUNCTION ARGS...: runs FUNCTION with errexit in a subshell. lib.sh's
# fail (also from poll, wait_ready, ...) ends only the subshell. Sets
# SOFT_RC and SOFT_WHY (the failure's message); always returns 0, because a
# function called in a condition would run without errexit.
# shellcheck disable=SC2034 # SOFT_WHY is read by the tests that source this
soft()
{
    local why="$WORK/soft.why"
    rm -f "$why"
    set +e
    (
        set -e
        # shellcheck disable=SC2317 # called by lib.sh's helpers
        fail()
        {
            printf '%s\n' "$*" >"$why"
            printf '%s %s: check failed: %s\n' "$(date +%H:%M:%S.%3N)" "$TEST_NAME" "$*" >&2
            exit 1
        }
        "$@"
    )
    SOFT_RC=$?
    set -e
    SOFT_WHY=
    if [ "$SOFT_RC" != 0 ]; then
        SOFT_WHY=$(cat "$why" 2>/dev/null || echo "a check ended with status $SOFT_RC")
    fi
    rm -f "$why"
    return 0
}

# fx_tmpfs NAME SIZE: a tmpfs at $WORK/NAME, unmounted by the trap. (Not
# called in $(...): the trap must know the mount.)
fx_tmpfs()
{
    local dir="$WORK/$1"
    mkdir -p "$dir"
    mount -t tmpfs -o "size=$2,mode=0755" "pgep-it-$1" "$dir" || fail "could not mount a tmpfs on $dir"
    FX_MOUNTS+=("$dir")
}

# fx_umount DIR: unmounts a tmpfs made by fx_tmpfs (nothing may run on it).
fx_umount()
{
    local dir=$1 keep=() m
    umount "$dir" || fail "could not unmount $dir"
    for m in "${FX_MOUNTS[@]}"; do [ "$m" = "$dir" ] || keep+=("$m"); done
    FX_MOUNTS=("${keep[@]}")
}

# fx_throttle NETNS RATE: limits what leaves NETNS's eth0 (the primary's side
# carries the base backup); fx_unthrottle NETNS removes the limit.
fx_throttle()
{
    ip netns exec "$1" tc qdisc replace dev eth0 root tbf rate "$2" burst 256kb latency 100ms ||
        fail "could not throttle eth0 in $1 (tc)"
}
fx_unthrottle() { ip netns exec "$1" tc qdisc del dev eth0 root 2>/dev/null || true; }

# fx_kb PATH: size in kB of PATH (0 when it does not exist); files come and
# go under du while pg_basebackup or a wipe runs.
fx_kb()
{
    local s
    s=$(du -sk "$1" 2>/dev/null | cut -f1) || true
    echo "${s:-0}"
}

# fx_wait_kb ID PATH KB SECONDS: polls every 20 ms until PATH holds KB kB;
# returns 1 when the instance ends first or SECONDS pass. Call as a condition.
fx_wait_kb()
{
    local id=$1 path=$2 want=$3 deadline=$(($(date +%s%N) + $4 * 1000000000))
    while [ "$(fx_kb "$path")" -lt "$want" ]; do
        running "$id" || return 1
        [ "$(date +%s%N)" -lt "$deadline" ] || return 1
        sleep 0.02
    done
    return 0
}

# fx_ready ID [SECONDS]: lib.sh's wait_ready for use inside soft (it does not
# reap: a subshell cannot wait for the test's children).
fx_ready() { wait_ready "$1" "${2:-30}" noreap; }

# fx_wait_log ID REGEX SECONDS: polls the instance's current log every 10 ms
# until a line matches; returns 1 when it ends first or SECONDS pass.
fx_wait_log()
{
    local id=$1 re=$2 deadline=$(($(date +%s%N) + $3 * 1000000000))
    until grep -Eq -- "$re" "${ILOG[$id]}"; do
        running "$id" || { grep -Eq -- "$re" "${ILOG[$id]}"; return; }
        [ "$(date +%s%N)" -lt "$deadline" ] || return 1
        sleep 0.01
    done
    return 0
}

# fx_ms_since T0: milliseconds since T0 (from date +%s%N).
fx_ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

# fx_secs MS: "1.2".
fx_secs() { printf '%d.%d' $(($1 / 1000)) $((($1 % 1000) / 100)); }

# fx_dirstate DIR: one line on what an interrupted start left behind.
fx_dirstate()
{
    local d=$1 m=no s=none e
    [ -e "$d/.pg-entrypoint-clone-in-progress" ] && m=yes
    [ -d "$d/.pg-entrypoint-clone" ] && s="$(fx_kb "$d/.pg-entrypoint-clone") kB"
    e=$(find "$d" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    echo "clone marker: $m; staging: $s; top-level entries: $e; total $(fx_kb "$d") kB"
}

# fx_drop_slot PRIMARY_ID SLOT: drops the slot once no walsender uses it.
fx_drop_slot()
{
    local p=$1 slot=$2 _
    for _ in $(seq 1 100); do
        [ "$(q "$p" "select count(*) from pg_replication_slots where slot_name = '$slot'")" = 0 ] && return 0
        q "$p" "select pg_drop_replication_slot(slot_name) from pg_replication_slots
                 where slot_name = '$slot' and not active" >/dev/null 2>&1 || true
        sleep 0.1
    done
    fail "the slot $slot is still in use on $p after 10 s"
}

# fx_halt ID: stops the instance if it still runs (SIGINT, then SIGKILL),
# reaps it either way; sets EXIT_RC.
fx_halt()
{
    local id=$1
    [ -n "${UPID[$id]:-}" ] || return 0
    if running "$id" && [ -n "${CPID[$id]:-}" ]; then kill -INT "${CPID[$id]}" 2>/dev/null || true; fi
    if ! wait_exit "$id" 20; then
        kill -KILL "${CPID[$id]}" 2>/dev/null || true
        wait_exit "$id" 10 || fail "$id survived SIGKILL"
    fi
}
