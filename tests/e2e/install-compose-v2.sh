#!/usr/bin/env bash
# Installs Compose v2 (`docker compose`) on a Debian bookworm machine, whose
# archive ships only Compose v1 (`docker-compose` 1.29, Python). The e2e tier
# runs under v2.
#
# Nothing happens when `docker compose version` already reports v2.
# Otherwise trixie's `docker-compose` .deb (a static Go binary, 2.x, needing
# only libc6 >= 2.34; bookworm has 2.36) is fetched with `apt-get download`
# through an apt configuration of its own: a sources list naming suite
# trixie on the mirror the host's apt already uses (read at run time with
# `apt-get indextargets`), its own lists and cache in a temp dir. The
# machine's own apt sources, lists and cache stay untouched. The plugin
# binary from the .deb (usr/libexec/docker/cli-plugins/docker-compose) is
# installed as /usr/local/lib/docker/cli-plugins/docker-compose, one of the
# directories the docker CLI searches for plugins.
#
# usage: tests/e2e/install-compose-v2.sh        (as root)
# env:   DEBIAN_MIRROR  overrides the mirror read from the host's apt sources
#        COMPOSE_SUITE  the suite to take the package from (default trixie)
set -Eeuo pipefail

SUITE=${COMPOSE_SUITE:-trixie}
PLUGIN_DIR=/usr/local/lib/docker/cli-plugins
PLUGIN=$PLUGIN_DIR/docker-compose

die() { echo "install-compose-v2: $*" >&2; exit 1; }
say() { echo "install-compose-v2: $*"; }

# `docker compose version` -> "Docker Compose version v2.26.1" (upstream) or
# "Docker Compose version 2.26.1-4" (Debian's build)
is_v2() {
    local out
    out=$(docker compose version 2>/dev/null) || return 1
    [[ $out =~ [Vv]ersion[[:space:]]+v?2\. ]]
}

command -v docker >/dev/null 2>&1 || die "docker is not installed (apt-get install docker.io)"
if is_v2; then
    say "already present: $(docker compose version)"
    exit 0
fi
[ "$(id -u)" -eq 0 ] || die "needs root (it runs apt-get download and writes $PLUGIN)"
for tool in apt-get dpkg-deb install; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing"
done

# --- the mirror, as the host's apt sees it -----------------------------------
# Fields: repository URI, suite, label (the label only once lists exist).
# (single-quoted $(...) and $2 are apt's format fields and awk's, not the shell's)
# shellcheck disable=SC2016
targets=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(LABEL)' \
    'Identifier: Packages' 'Target-Of: deb' 2>/dev/null || true)
pick() { # awk condition on $2 (suite) and $3 (label) -> first matching URI
    printf '%s\n' "$targets" | awk "$1"' { sub("/+$", "", $1); print $1; exit }'
}
# the URI that serves the host's own Debian release (no -updates/-security)
# shellcheck disable=SC2016
mirror=${DEBIAN_MIRROR:-$(pick '$2 ~ /^(bookworm|trixie|forky|sid|stable|testing|unstable)$/')}
# shellcheck disable=SC2016
[ -n "$mirror" ] || mirror=$(pick '$3 == "Debian" && $2 !~ /-/')
[ -n "$mirror" ] || die "no Debian mirror found in the host's apt sources (apt-get indextargets); set DEBIAN_MIRROR"
mirror=${mirror%/}

# --- a private apt configuration ---------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/install-compose-v2.XXXXXX")
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# apt's download sandbox user (_apt) must be able to enter and write there
chmod 0755 "$tmp"
mkdir -p "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/deb" "$tmp/x"
if id _apt >/dev/null 2>&1; then
    chown _apt "$tmp/lists/partial" "$tmp/cache/archives/partial" "$tmp/deb"
fi
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
if [ -r "$keyring" ]; then
    echo "deb [signed-by=$keyring] $mirror $SUITE main" >"$tmp/sources.list"
else
    echo "deb $mirror $SUITE main" >"$tmp/sources.list"
fi
apt_opts=(
    -o "Dir::Etc::SourceList=$tmp/sources.list"
    -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$tmp/lists"
    -o "Dir::Cache=$tmp/cache"
    -o Dir::Etc::Preferences=/dev/null
    -o Dir::Etc::PreferencesParts=/dev/null
    -o APT::Get::List-Cleanup=false
)
log=$tmp/apt.log
quietly() {
    if ! "$@" >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "failed: $*"
    fi
}

say "fetching $SUITE's docker-compose through a private apt configuration (the host's sources stay untouched)"
quietly apt-get "${apt_opts[@]}" update
(cd "$tmp/deb" && quietly apt-get "${apt_opts[@]}" download docker-compose)
deb=$(find "$tmp/deb" -maxdepth 1 -name 'docker-compose_*.deb' -print -quit)
[ -n "$deb" ] || die "apt-get download left no docker-compose_*.deb"
version=$(dpkg-deb -f "$deb" Version)
say "got docker-compose $version ($(basename "$deb")), depends: $(dpkg-deb -f "$deb" Depends)"
[[ $version =~ ^([0-9]+:)?2\. ]] || die "$SUITE's docker-compose is $version, not 2.x"

dpkg-deb -x "$deb" "$tmp/x"
src=$tmp/x/usr/libexec/docker/cli-plugins/docker-compose
[ -f "$src" ] || die "the .deb has no usr/libexec/docker/cli-plugins/docker-compose"
mkdir -p "$PLUGIN_DIR"
install -m 0755 "$src" "$PLUGIN"
say "installed $PLUGIN"

if ! is_v2; then
    echo "install-compose-v2: 'docker compose version' does not report v2 after installing $PLUGIN:" >&2
    docker compose version >&2 || true
    die "Compose v2 is not usable"
fi
say "ok: $(docker compose version)"
