#!/usr/bin/env bash
# The README's "Adding pg-entrypoint to your own image": build the `binary`
# target with the README's command, build the README's Dockerfile snippet
# (FROM postgres:15 + COPY --from=...) in an empty directory, run it as a
# primary on a network of our own, and check that it accepts connections and
# that /usr/local/bin/pg-entrypoint is the static binary.
# The image names are the test's own (pgep-e2e-custom-image-PID:binary and
# :custom) instead of the README's pg-entrypoint-binary, so that a user's
# image of that name is never replaced; everything else is the README's text.
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init custom-image
PRIMARY_PASSWORD=e2e-custom-$$
binary_tag=$PROJECT:binary
custom_tag=$PROJECT:custom
net=$PROJECT
ctr=$PROJECT-primary

cleanup_custom() {
    docker rm -fv "$ctr" >/dev/null 2>&1
    docker network rm "$net" >/dev/null 2>&1
    docker rmi -f "$custom_tag" "$binary_tag" >/dev/null 2>&1
    return 0
}
E2E_CLEANUP_HOOKS+=(cleanup_custom)

# --- the README's section ------------------------------------------------------
heading='## Adding pg-entrypoint to your own image'
section=$(awk -v h="$heading" '
    $0 == h { on = 1; next }
    on && /^## / { exit }
    on { print }' "$REPO_DIR/README.md")
[ -n "$section" ] || fail "README.md has no section '$heading'"

build_cmd=$(printf '%s\n' "$section" | awk '
    /^```/ { inblock = !inblock; next }
    inblock && /docker build/ && /--target binary/ { print; exit }')
[ -n "$build_cmd" ] ||
    fail "README.md section '$heading' has no 'docker build ... --target binary' command in a code block"
dockerfile=$(printf '%s\n' "$section" | awk '
    /^```dockerfile[[:space:]]*$/ && !done { on = 1; next }
    on && /^```/ { on = 0; done = 1; next }
    on { print }')
[ -n "$dockerfile" ] ||
    fail "README.md section '$heading' has no \`\`\`dockerfile block"
log "README command: $build_cmd"
printf '%s\n' "$dockerfile" | sed 's/^/    README Dockerfile: /' >&2

# The command, word by word (no shell evaluation of README text).
read -r -a words <<<"$build_cmd"
if [ "${words[0]}" != docker ] || [ "${words[1]}" != build ]; then
    fail "the README's build command does not start with 'docker build': $build_cmd"
fi
readme_tag=""
for ((i = 2; i < ${#words[@]}; i++)); do
    case ${words[i]} in
    -t | --tag) readme_tag=${words[i + 1]:-}; words[i + 1]=$binary_tag ;;
    -t=* | --tag=*) readme_tag=${words[i]#*=}; words[i]=--tag=$binary_tag ;;
    esac
done
[ -n "$readme_tag" ] || fail "the README's build command names no image (-t): $build_cmd"
# --force-rm: a failed step leaves no container (with an anonymous volume: the
# build stage is FROM postgres:15, which declares one) behind.
words=(docker build --force-rm "${words[@]:2}")
grep -qx 'FROM postgres:15' <<<"$dockerfile" || fail "the README's Dockerfile does not start FROM postgres:15"
grep -qE "^COPY --from=${readme_tag}[[:space:]]" <<<"$dockerfile" ||
    fail "the README's Dockerfile does not COPY --from=$readme_tag, the image its build command makes"

# --- build as the README says ----------------------------------------------------
t=$(now)
(cd "$REPO_DIR" && "${words[@]}") || fail "the README's command failed: ${words[*]}"
log "built the binary target as $binary_tag in $(elapsed "$t") s"
mkdir "$E2E_TMP/context"
printf '%s\n' "${dockerfile//--from=$readme_tag /--from=$binary_tag }" >"$E2E_TMP/context/Dockerfile"
t=$(now)
docker build --force-rm -t "$custom_tag" "$E2E_TMP/context" || fail "building the README's Dockerfile failed"
log "built the README's Dockerfile as $custom_tag in $(elapsed "$t") s"

# --- run it as a primary ---------------------------------------------------------------
docker network create --label "org.pgep.e2e=$PROJECT" "$net" >/dev/null
docker run -d --name "$ctr" --label "org.pgep.e2e=$PROJECT" --network "$net" \
    -e POSTGRES_PASSWORD="$PRIMARY_PASSWORD" "$custom_tag" >/dev/null ||
    fail "docker run of the custom image failed"
ready() { docker exec "$ctr" pg_isready -q -h 127.0.0.1 -U postgres && psql_tcp "$ctr" "SELECT 1"; }
wait_for 60 "the custom image's primary accepts connections" ready ||
    fail "the custom image's primary did not accept connections within 60 s"
[ "$(psql_tcp "$ctr" "SELECT pg_is_in_recovery()")" = f ] || fail "the custom image's server is in recovery"
try_insert "$ctr" custom || fail "could not write on the custom image's primary"
assert_pid1_postgres "$ctr"

# --- the binary in it is the static one ------------------------------------------------
docker cp "$ctr:/usr/local/bin/pg-entrypoint" "$E2E_TMP/pg-entrypoint" ||
    fail "the custom image has no /usr/local/bin/pg-entrypoint"
if command -v file >/dev/null 2>&1; then
    desc=$(file -b "$E2E_TMP/pg-entrypoint")
    log "/usr/local/bin/pg-entrypoint: $desc"
    grep -qE '^ELF .*(statically linked|static-pie linked)' <<<"$desc" ||
        fail "/usr/local/bin/pg-entrypoint is not a statically linked ELF binary: $desc"
else
    readelf -h "$E2E_TMP/pg-entrypoint" >/dev/null 2>&1 ||
        fail "/usr/local/bin/pg-entrypoint is not an ELF binary"
    if readelf -lW "$E2E_TMP/pg-entrypoint" | grep -q INTERP; then
        fail "/usr/local/bin/pg-entrypoint has a program interpreter: it is not static"
    fi
fi
docker exec "$ctr" /usr/local/bin/pg-entrypoint --version ||
    fail "pg-entrypoint --version failed in the custom image"
