#!/usr/bin/env bash
# How fast pg-entrypoint stops in each phase before it execs postgres:
# runs tests/integration/signals_phases.sh N times (real PostgreSQL 15, the
# binary as PID 1 of its own PID namespace) and prints, per phase, the median
# milliseconds from the signal to the exit. The target is under 1 s in every
# phase; Docker's grace period is 10 s. There is no floor to divide by: a
# shell entrypoint in a wait loop does not stop at all (PID 1 drops the signal).
#
# usage: bench/stop-phases.sh [RUNS] [BINARY]    (as root; default 5, build/pg-entrypoint)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
bin=${2:-$top/build/pg-entrypoint}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for i in $(seq 1 "$runs"); do
    bash "$top/tests/integration/signals_phases.sh" "$bin" 2>&1 |
        sed -nE 's/.*signals_phases: (.*): (SIG[A-Z]+) -> exit status ([0-9]+) after ([0-9]+) ms.*/\1|\2|\3|\4/p' >>"$out"
    echo "run $i of $runs done" >&2
done
printf '| phase | signal | exit | median ms | max ms | runs |\n| --- | --- | --- | --- | --- | --- |\n'
# sorted by phase, signal, then milliseconds: the median is the middle line
sort -t'|' -k1,1 -k2,2 -k4,4n "$out" | awk -F'|' '
    function flush() { if (n) printf "| %s | %s | %s | %d | %d | %d |\n", ph, sg, ex, ms[int((n + 1) / 2)], ms[n], n }
    $1 != ph || $2 != sg { flush(); n = 0; ph = $1; sg = $2; ex = $3 }
    { ms[++n] = $4 }
    END { flush() }'
