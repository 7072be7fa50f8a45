#!/usr/bin/env bash
# The one test command (README, .ci/run): installs what is missing on a
# Debian bookworm machine (as root), builds the static binary and a
# sanitizer build, and runs the three tiers:
#   unit         C tests of entrypoint/                 (static and ASan+UBSan builds)
#   integration  the binary against real PostgreSQL 15  (static and ASan+UBSan builds)
#   e2e          the images under a real Docker engine  (docker compose, v2)
# A tier is skipped only when asked: PGEP_SKIP_E2E=1, PGEP_SKIP_INTEGRATION=1,
# PGEP_SKIP_SANITIZERS=1; the last lines then say so.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc 2>/dev/null || echo 2)
summary=()
timings=()
skipped=()
failed=0
dockerd_pid=""

say() { printf '\n== %s\n' "$*"; }

install_packages() {
    local pkgs=(build-essential cmake pkg-config file libssl-dev libpq-dev dpkg-dev python3 python3-yaml libnss-wrapper zstd xz-utils gzip cppcheck clang clang-tidy
                postgresql-15 postgresql-client-15 iproute2 util-linux procps)
    [ "${PGEP_SKIP_E2E:-0}" = 1 ] || pkgs+=(docker.io docker-compose debootstrap)
    local missing=()
    for p in "${pkgs[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ]; then
        echo "missing packages: ${missing[*]}; run as root or: apt-get install ${missing[*]}" >&2
        exit 1
    fi
    say "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || { echo "apt-get install failed" >&2; exit 1; }
}

start_docker() {
    docker info >/dev/null 2>&1 && return 0
    say "starting dockerd"
    dockerd >/tmp/pgep-dockerd.log 2>&1 &
    dockerd_pid=$!
    for _ in $(seq 1 60); do
        docker info >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    echo "dockerd did not start; see /tmp/pgep-dockerd.log" >&2
    tail -20 /tmp/pgep-dockerd.log >&2
    return 1
}

stop_docker() {
    # (a base image build still running needs the engine until it ends)
    [ -z "${base_pid:-}" ] || wait "$base_pid" 2>/dev/null
    if [ -n "$dockerd_pid" ]; then
        kill "$dockerd_pid" 2>/dev/null
        wait "$dockerd_pid" 2>/dev/null
    fi
}
trap stop_docker EXIT

# Runs one CTest label in a build dir and records "name: N passed, N failed".
run_tier() {
    local name=$1 dir=$2 label=$3 log started=$SECONDS
    log=$(mktemp)
    say "$name"
    (cd "$dir" && ctest -L "^${label}\$" --output-on-failure --timeout 600 ${CTEST_PARALLEL:+-j "$CTEST_PARALLEL"}) 2>&1 | tee "$log"
    local line total nfail nskip
    line=$(grep -E 'tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
    total=$(sed -E 's/.*out of ([0-9]+).*/\1/' <<<"$line")
    nfail=$(sed -E 's/.*passed, ([0-9]+) tests? failed.*/\1/' <<<"$line")
    nskip=$(grep -c '(Skipped)' "$log")
    if [ -z "$line" ]; then
        total=0 nfail=1
    fi
    local npass=$((total - nfail - nskip))
    [ "$nfail" -eq 0 ] && [ "$total" -gt 0 ] || failed=1
    summary+=("$(printf '%s: %d passed, %d failed' "$name" "$npass" "$nfail")$([ "$nskip" -gt 0 ] && printf ', %d skipped' "$nskip")")
    timings+=("$(printf '%s took %d s' "$name" $((SECONDS - started)))")
    rm -f "$log"
}

configure_build() {
    local dir=$1 log; shift
    log=$(mktemp)
    say "building $dir"
    if ! { cmake -S . -B "$dir" "$@" && cmake --build "$dir" -j"$jobs"; } >"$log" 2>&1; then
        cat "$log"
        echo "build in $dir failed" >&2
        exit 1
    fi
    grep -iE 'warning' "$log" || true
    rm -f "$log"
}

# Compose v2: bookworm ships only v1 (docker-compose 1.29); the e2e tier
# requires `docker compose`, which this takes from trixie's archive.
install_compose_v2() {
    [ "${PGEP_SKIP_E2E:-0}" = 1 ] && return 0
    bash tests/e2e/install-compose-v2.sh || {
        echo "Compose v2 ('docker compose') is missing and could not be installed; run tests/e2e/install-compose-v2.sh as root" >&2
        exit 1
    }
}

# The e2e tier also runs on PostgreSQL 17 and 18, each FROM a stand-in base
# image that tests/images/build-base-image.sh makes from Debian packages
# (debootstrap + apt: about 2.5 min each here, mostly downloads and dpkg).
# They are built in the background while the unit, lint and integration
# tiers run (those use no Docker), one after the other, each followed by
# the project's images on it (`PG_MAJOR=N docker compose build`, about
# 3-5 min each: build tools, libpq 18, the binary), and waited for before
# the e2e tier; their fixtures (e2e_images_17, _18) then find them all
# built, or cached.
base_pid=""
base_log=/tmp/pgep-base-images.log
start_base_images() {
    [ "${PGEP_SKIP_E2E:-0}" = 1 ] && return 0
    start_docker || return 0
    say "building the base and project images of PostgreSQL 17 and 18 in the background (log: $base_log)"
    (
        for major in 17 18; do
            t=$SECONDS
            sh tests/images/build-base-image.sh "$major" || echo "postgres:$major: build-base-image.sh failed"
            echo "postgres:$major ready after $((SECONDS - t)) s"
            t=$SECONDS
            # (what tests/e2e/setup.sh builds; a failure here is its to report)
            PG_MAJOR=$major DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0 \
                docker compose --ansi never -f docker-compose.yml -p "pgep-ci-build-$major" build -q ||
                echo "PG_MAJOR=$major: docker compose build failed (the e2e_images_$major fixture will say why)"
            echo "pg-entrypoint images of $major built after $((SECONDS - t)) s"
        done
    ) >"$base_log" 2>&1 &
    base_pid=$!
    base_started=$SECONDS
}
wait_base_images() {
    [ -n "$base_pid" ] || return 0
    local t=$SECONDS
    wait "$base_pid"
    base_pid=""
    cat "$base_log"
    timings+=("$(printf 'images of 17 and 18 (background) took %d s; the e2e tier waited %d s for them' \
        $((SECONDS - base_started)) $((SECONDS - t)))")
}

install_packages
install_compose_v2
start_base_images
configure_build build -DCMAKE_BUILD_TYPE=Release
file build/pg-entrypoint | grep -q 'statically linked' || { echo "build/pg-entrypoint is not static" >&2; exit 1; }

run_tier unit build unit

# Static analysis: cppcheck and clang-tidy over entrypoint/ and cmd/.
say "lint"
if bash tests/lint.sh; then
    summary+=("lint: 1 passed, 0 failed")
else
    summary+=("lint: 0 passed, 1 failed")
    failed=1
fi
if [ "${PGEP_SKIP_INTEGRATION:-0}" = 1 ]; then
    skipped+=("integration (PGEP_SKIP_INTEGRATION=1)")
else
    # the tests use their own ports, namespaces and directories: two at a time
    CTEST_PARALLEL=2 run_tier integration build integration
fi

if [ "${PGEP_SKIP_SANITIZERS:-0}" = 1 ]; then
    skipped+=("sanitizer builds (PGEP_SKIP_SANITIZERS=1)")
else
    configure_build build-asan -DCMAKE_BUILD_TYPE=Debug -DPG_ENTRYPOINT_SANITIZE=ON
    run_tier unit-asan build-asan unit
    if [ "${PGEP_SKIP_INTEGRATION:-0}" != 1 ]; then
        CTEST_PARALLEL=2 run_tier integration-asan build-asan integration
    fi
fi

if [ "${PGEP_SKIP_E2E:-0}" = 1 ]; then
    skipped+=("e2e (PGEP_SKIP_E2E=1)")
elif start_docker; then
    wait_base_images
    run_tier e2e build e2e
else
    summary+=("e2e: 0 passed, 1 failed")
    failed=1
fi

echo
echo "== timings"
for s in "${timings[@]}"; do echo "$s"; done
echo "whole run took $SECONDS s"
echo
echo "== summary"
for s in "${summary[@]}"; do echo "$s"; done
for s in "${skipped[@]}"; do echo "SKIPPED: $s"; done
exit $failed
