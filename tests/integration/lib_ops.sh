# Helpers for the tests of the "operating it" features (health, plan, JSON
# logs, synchronous replicas, POSTGRES_ROLE=auto): sourced after lib.sh,
# never run, sources nothing.

RUN_N=0

# run_bin NETNS [VAR=VALUE...] -- ARGS...
# Runs `pg-entrypoint ARGS` as an ordinary process (not PID 1) inside NETNS
# (empty: the host's), with only the given variables plus PATH and LANG:
# secrets travel in the environment, never on a command line. Sets RUN_RC,
# RUN_OUT (stdout), RUN_ERR (stderr) and RUN_MS (wall time in ms). When
# RUN_TIMEOUT is set, the run is killed after that many seconds (RUN_RC 124).
run_bin()
{
    local ns=$1 t0 out err
    shift
    local envs=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do envs+=("$1"); shift; done
    [ $# -gt 0 ] && shift
    RUN_N=$((RUN_N + 1))
    out="$WORK/run.$RUN_N.stdout"
    err="$WORK/run.$RUN_N.stderr"
    local pre=()
    [ -n "${RUN_TIMEOUT:-}" ] && pre=(timeout -s KILL "$RUN_TIMEOUT")
    RUN_RC=0
    t0=$(date +%s%N)
    (
        for v in $(compgen -e); do
            case $v in
            ASAN_OPTIONS | UBSAN_OPTIONS | LSAN_OPTIONS) ;;
            *) export -n "${v?}" 2>/dev/null || true ;;
            esac
        done
        export PATH="$PG_BINDIR:/usr/sbin:/usr/bin:/sbin:/bin" LANG=C.UTF-8
        for kv in "${envs[@]}"; do export "${kv?}"; done
        if [ -n "$ns" ]; then
            exec ip netns exec "$ns" "${pre[@]}" "$BIN" "$@"
        else
            exec "${pre[@]}" "$BIN" "$@"
        fi
    ) >"$out" 2>"$err" </dev/null || RUN_RC=$?
    RUN_MS=$((($(date +%s%N) - t0) / 1000000))
    [ "${RUN_TIMEOUT:-}" ] && [ "$RUN_RC" = 137 ] && RUN_RC=124
    RUN_OUT=$(cat "$out")
    RUN_ERR=$(cat "$err")
    return 0
}

# Describes the last run_bin for a failure message.
run_desc() { printf 'exit %s; stdout: [%s]; stderr: [%s]' "$RUN_RC" "$RUN_OUT" "$RUN_ERR"; }

# expect_rc WANT WHAT: the last run_bin exited WANT.
expect_rc()
{
    [ "$RUN_RC" = "$1" ] || fail "$2: want exit $1, got $(run_desc)"
}

# out_has REGEX WHAT / out_lacks REGEX WHAT: on the last run's stdout.
out_has() { grep -Eq -- "$1" <<<"$RUN_OUT" || fail "$2: stdout has no line matching /$1/: $(run_desc)"; }
out_lacks()
{
    local hit
    if hit=$(grep -E -m1 -- "$1" <<<"$RUN_OUT"); then fail "$2: stdout has \"$hit\": $(run_desc)"; fi
}
err_has() { grep -Eq -- "$1" <<<"$RUN_ERR" || fail "$2: stderr has no line matching /$1/: $(run_desc)"; }

# one_line: the last run printed exactly one line on stdout.
one_line()
{
    [ -n "$RUN_OUT" ] && [ "$(wc -l <<<"$RUN_OUT")" = 1 ] || fail "$1: want exactly one line on stdout: $(run_desc)"
}

# pm_ids ID: "UID GID" of the instance's PID 1 (the postmaster once it execs).
pm_ids()
{
    local st=/proc/${CPID[$1]}/status
    printf '%s %s\n' "$(awk '/^Uid:/ { print $2 }' "$st")" "$(awk '/^Gid:/ { print $2 }' "$st")"
}

# is_postmaster ID: the namespace's PID 1 has exec'd postgres.
is_postmaster() { [ "$(readlink "/proc/${CPID[$1]}/exe" 2>/dev/null)" = "$(readlink -f "$PG_BINDIR/postgres")" ]; }

# median of integers given as arguments.
median()
{
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print int((v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}
