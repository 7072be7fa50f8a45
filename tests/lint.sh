#!/bin/bash
# tests/lint.sh: static analysis of entrypoint/ and cmd/ with cppcheck and
# clang-tidy (.clang-tidy at the top of the tree); exits non-zero on any
# finding. A justified exception lives next to the code it excuses
# (`// cppcheck-suppress ID` with the reason, `// NOLINT(check): reason`);
# the few global suppressions below say why.
#
# Needs cppcheck, clang-tidy and cmake (apt-get install cppcheck clang-tidy
# cmake libpq-dev). The compile database comes from a configure-only CMake
# build (dynamic, no tests) in $PGEP_LINT_BUILD (default build-lint).
set -euo pipefail

src=$(cd "$(dirname "$0")/.." && pwd)
build=${PGEP_LINT_BUILD:-$src/build-lint}
missing=()
for tool in cppcheck clang-tidy cmake; do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "lint: ${missing[*]} not found; apt-get install cppcheck clang-tidy cmake libpq-dev" >&2
    exit 2
fi
cd "$src"
mapfile -t files < <(ls entrypoint/*.c cmd/*/*.c)

# clang-tidy reads the flags of each file from a compile database; clang
# makes one whose flags clang-tidy understands.
cc=()
command -v clang >/dev/null && cc=(-DCMAKE_C_COMPILER=clang)
cmake -S "$src" -B "$build" -DPG_ENTRYPOINT_STATIC=OFF -DPG_ENTRYPOINT_TESTS=OFF \
    -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "${cc[@]}" >/dev/null

rc=0
echo "== cppcheck $(cppcheck --version | cut -d' ' -f2)" >&2
# Global suppressions, each for a rule that does not apply to this program:
# - readdirCalled, fgetpwentCalled, fgetgrentCalled: the reentrant variants
#   matter when threads share a stream. pg-entrypoint has a second thread only
#   while a clone deletes the old copy (discard.c): it walks directory streams
#   of its own (readdir is safe on distinct streams; readdir_r is deprecated
#   by glibc itself), and fgetpwent/fgetgrent run in the main thread only
#   (privs.c, before the flow starts).
# - missingIncludeSystem: system headers are not analysed, by design.
cppcheck --enable=warning,style,performance,portability --error-exitcode=1 --inline-suppr \
    --std=c11 --library=posix --platform=unix64 -I entrypoint \
    -D_GNU_SOURCE -DPG_ENTRYPOINT_VERSION='"lint"' -D__linux__ -D__x86_64__ \
    --suppress=missingIncludeSystem --suppress=readdirCalled \
    --suppress=fgetpwentCalled --suppress=fgetgrentCalled \
    --quiet --template='{file}:{line}: {severity} ({id}): {message}' "${files[@]}" || rc=1

echo "== $(clang-tidy --version | grep -m1 -o 'LLVM version [0-9.]*' | sed 's/LLVM/clang-tidy/')" >&2
# Two files at a time (two cores); WarningsAsErrors in .clang-tidy makes any
# finding a non-zero exit.
printf '%s\n' "${files[@]}" | xargs -P 2 -n 3 clang-tidy -p "$build" --quiet 2>/dev/null || rc=1

if [ "$rc" = 0 ]; then
    echo "lint: no findings in ${#files[@]} files" >&2
else
    echo "lint: findings above" >&2
fi
exit "$rc"
