#!/bin/bash
# fuzz/run.sh SECONDS [HARNESS...]: builds the libFuzzer harnesses with
# clang (ASan + UBSan, dynamic link) and runs each for SECONDS under
# nice -n 19, then prints one line per harness: seconds, executions, edges
# covered, corpus size and findings (crashes, leaks, timeouts, each saved as
# a reproducer under the run directory).
#
# The checked-in seeds in fuzz/corpus/<harness>/ are copied, never written:
# what a run discovers stays in its run directory. Runs keep going after a
# finding (libFuzzer's fork mode with -ignore_crashes), so one known bug
# does not hide the next.
#
# Environment: PGEP_FUZZ_BUILD (build directory, default build-fuzz in the
# source tree), PGEP_FUZZ_JOBS (harnesses at a time, 1 or 2; default 1),
# PGEP_FUZZ_OUT (run directory, default $PGEP_FUZZ_BUILD/fuzz-runs/<time>).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
secs=${1:-}
shift || true
[[ "$secs" =~ ^[0-9]+$ ]] && [ "$secs" -gt 0 ] || {
    echo "usage: $0 SECONDS [HARNESS...]" >&2
    exit 64
}
command -v clang >/dev/null || { echo "clang not found; apt-get install clang" >&2; exit 1; }
build=${PGEP_FUZZ_BUILD:-$src/build-fuzz}
jobs=${PGEP_FUZZ_JOBS:-1}
out=${PGEP_FUZZ_OUT:-$build/fuzz-runs/$(date +%Y%m%d-%H%M%S)}
harnesses=("$@")
if [ ${#harnesses[@]} -eq 0 ]; then
    for d in "$here"/corpus/*/; do harnesses+=("$(basename "$d")"); done
fi

CC=clang cmake -S "$src" -B "$build" -DPG_ENTRYPOINT_STATIC=OFF -DPG_ENTRYPOINT_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
targets=()
for h in "${harnesses[@]}"; do targets+=("$h-fuzzer"); done
nice -n 19 cmake --build "$build" -j2 --target "${targets[@]}" >/dev/null
mkdir -p "$out"

run_one()
{
    local h=$1 dir=$out/$1 dict=()
    mkdir -p "$dir/corpus" "$dir/findings"
    cp "$here/corpus/$h/"* "$dir/corpus/" 2>/dev/null || true
    [ -f "$here/${h#fuzz_}.dict" ] && dict=(-dict="$here/${h#fuzz_}.dict")
    # Fork mode: a finding is saved and the run goes on.
    (cd "$dir" && nice -n 19 "$build/fuzz/$h-fuzzer" -fork=1 -ignore_crashes=1 \
        -ignore_timeouts=1 -ignore_ooms=1 -timeout=10 -max_total_time="$secs" \
        -artifact_prefix="$dir/findings/" "${dict[@]}" "$dir/corpus" >"$dir/log" 2>&1) || true
}

summary()
{
    local h=$1 dir=$out/$1 last execs cov corp findings
    last=$(grep -E '^#[0-9]+: cov:' "$dir/log" | tail -n1)
    execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
    cov=$(sed -E 's/.* cov: ([0-9]+).*/\1/' <<<"$last")
    corp=$(ls "$dir/corpus" | wc -l)
    findings=$(ls "$dir/findings" | wc -l)
    printf '%-14s %6ss %12s execs %6s edges %6s inputs %3s findings\n' "$h" "$secs" \
        "${execs:-?}" "${cov:-?}" "$corp" "$findings"
    ls "$dir/findings" | head -n 3 | sed "s|^|    $dir/findings/|"
    [ "$findings" -le 3 ] || echo "    ..."
}

echo "fuzzing ${harnesses[*]} for $secs s each, $jobs at a time; output in $out" >&2
running=()
for h in "${harnesses[@]}"; do
    run_one "$h" &
    running+=("$!")
    if [ ${#running[@]} -ge "$jobs" ]; then
        wait "${running[0]}"
        running=("${running[@]:1}")
    fi
done
for p in "${running[@]}"; do wait "$p"; done

total=0
for h in "${harnesses[@]}"; do
    summary "$h"
    total=$((total + $(ls "$out/$h/findings" | wc -l)))
done
# Distinct findings: each reproducer replayed once, its first error line
# counted (sizes in it normalised, so that one bug counts once).
for h in "${harnesses[@]}"; do
    for f in $(ls "$out/$h/findings" | head -n 200); do
        "$build/fuzz/$h-fuzzer" "$out/$h/findings/$f" 2>&1 |
            grep -m1 -E 'invariant failed|ERROR: AddressSanitizer|runtime error|ERROR: LeakSanitizer|ERROR: libFuzzer' |
            sed -E 's/==[0-9]+==//; s/ on address 0x[0-9a-f]+.*//; s/\(([0-9]+) bytes\)/(N bytes)/g' || true
    done | sort | uniq -c | sed "s/^/    $h: /"
done
echo "$total finding(s)"
[ "$total" = 0 ]
