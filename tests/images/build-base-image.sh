#!/bin/sh
# Why this exists: postgres:15 (17, 18) cannot be pulled on machines without
# a container registry, yet the Dockerfiles and the e2e tests build FROM it.
# When no postgres:MAJOR is present and none can be pulled, this builds a
# compatible one from Debian packages: debootstrap the Debian release that
# carries that major (15: bookworm, 17: trixie, 18: forky) from the mirror
# the host's apt already uses, import it as pg-entrypoint/debian:SUITE, then
# install postgresql-MAJOR and friends the way the official image does, and
# tag the result postgres:MAJOR.
#
# usage: tests/images/build-base-image.sh [MAJOR]     (MAJOR: 15, 17 or 18;
#        default $PG_MAJOR, else 15)
# env:   DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR  override the mirrors read
#        from the host's apt sources; PULL_TIMEOUT (seconds, default 60).
set -eu

die() { echo "build-base-image: $*" >&2; exit 1; }

PG_MAJOR=${1:-${PG_MAJOR:-15}}
# The official image's layout per major: up to 17 PGDATA is the volume
# itself; from 18 PGDATA is /var/lib/postgresql/MAJOR/docker (pg_ctlcluster's
# layout) and the VOLUME is its parent /var/lib/postgresql.
# DEBOOTSTRAP_SCRIPT: bookworm's debootstrap has no forky script; sid's works.
# In forky a system group already holds gid 999: it is moved aside (the next
# free id below) so that postgres gets the official images' 999:999.
case $PG_MAJOR in
    15) SUITE=bookworm DEBOOTSTRAP_SCRIPT= ;;
    17) SUITE=trixie DEBOOTSTRAP_SCRIPT= ;;
    18) SUITE=forky DEBOOTSTRAP_SCRIPT=sid ;;
    *) die "PG_MAJOR=$PG_MAJOR: no Debian release here carries that major; use 15 (bookworm), 17 (trixie) or 18 (forky)" ;;
esac
if [ "$PG_MAJOR" -ge 18 ]; then
    PGDATA_DIR=/var/lib/postgresql/$PG_MAJOR/docker
    VOLUME_DIR=/var/lib/postgresql
else
    PGDATA_DIR=/var/lib/postgresql/data
    VOLUME_DIR=/var/lib/postgresql/data
fi
IMAGE=postgres:$PG_MAJOR
DEBIAN_IMAGE=pg-entrypoint/debian:$SUITE

command -v docker >/dev/null 2>&1 || die "docker is not installed (apt-get install docker.io)"
docker info >/dev/null 2>&1 || die "cannot talk to the Docker engine (is dockerd running, may this user use it?)"

if docker image inspect "$IMAGE" >/dev/null 2>&1; then
    echo "$IMAGE already present"
    exit 0
fi
if timeout "${PULL_TIMEOUT:-60}" docker pull -q "$IMAGE" >/dev/null 2>&1; then
    echo "$IMAGE pulled"
    exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/var/tmp}/build-base-image.XXXXXX")
cleanup() {
    # debootstrap may leave /proc, /sys, ... mounted inside the root when it
    # fails; unmount them before removing anything, and never cross a mount.
    if command -v findmnt >/dev/null 2>&1; then
        findmnt -rn -o TARGET | grep -F "$tmp/" | sort -r | while read -r m; do
            umount -l "$m" 2>/dev/null || true
        done
    fi
    rm -rf --one-file-system "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
log=$tmp/log

# Runs "$@" with its output in the log; on failure shows the log's tail.
quietly() {
    if ! "$@" >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "failed: $*"
    fi
}

# --- the Debian mirrors, as the host's apt sees them ------------------------
# apt-get indextargets reads both sources.list and deb822 .sources files.
# Fields: repository URI, suite, label (the label only once lists exist).
# (single-quoted $(...) and $2 are apt's format fields and awk's, not the shell's)
# shellcheck disable=SC2016
targets=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE) $(LABEL)' \
    'Identifier: Packages' 'Target-Of: deb' 2>/dev/null || true)
pick() { # awk condition on $2 (suite) and $3 (label) -> first matching URI
    printf '%s\n' "$targets" | awk "$1"' { sub("/+$", "", $1); print $1; exit }'
}
# shellcheck disable=SC2016
{
    mirror=${DEBIAN_MIRROR:-$(pick '$2 == "'"$SUITE"'"')}
    [ -n "$mirror" ] || mirror=$(pick '$3 == "Debian" && $2 !~ /-/')
    [ -n "$mirror" ] || mirror=$(pick '$2 ~ /^(bookworm|trixie|forky|sid|stable|testing|unstable)$/')
    security=${DEBIAN_SECURITY_MIRROR:-$(pick '$2 == "'"$SUITE"'-security"')}
    [ -n "$security" ] || security=$(pick '$3 == "Debian-Security"')
    [ -n "$security" ] || security=$(pick '$2 ~ /-security$/')
}
# forky (testing) has no security suite worth the name; updates come through
# the suite itself.
[ "$SUITE" != forky ] || security=""
[ -n "$mirror" ] || die "no Debian mirror found in the host's apt sources; set DEBIAN_MIRROR"

# --- pg-entrypoint/debian:bookworm ----------------------------------------------
if ! docker image inspect "$DEBIAN_IMAGE" >/dev/null 2>&1; then
    command -v debootstrap >/dev/null 2>&1 || die "debootstrap is not installed (apt-get install debootstrap)"
    [ "$(id -u)" -eq 0 ] || die "debootstrap needs root"
    root=$tmp/root
    include=""
    case $mirror in https:*) include=--include=ca-certificates ;; esac
    script=""
    [ -z "$DEBOOTSTRAP_SCRIPT" ] || script=/usr/share/debootstrap/scripts/$DEBOOTSTRAP_SCRIPT
    quietly debootstrap --variant=minbase $include "$SUITE" "$root" "$mirror" $script

    # apt sources as the official debian image has them (deb822), with
    # the mirror URIs found above, so apt works inside docker build.
    rm -f "$root/etc/apt/sources.list"
    {
        printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$mirror" "$SUITE" "$SUITE"
        if [ -n "$security" ]; then
            printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
                "$security" "$SUITE"
        fi
    } >"$root/etc/apt/sources.list.d/debian.sources"
    # The host's mirror may be a frozen snapshot whose Release files expire;
    # apt in the image follows the host's own policy on that.
    if apt-config dump 2>/dev/null | grep -q '^Acquire::Check-Valid-Until "false"'; then
        printf 'Acquire::Check-Valid-Until "false";\n' \
            >"$root/etc/apt/apt.conf.d/99pg-entrypoint-valid-until"
    fi
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
        "$root"/var/cache/apt/archives/*.deb "$root"/var/log/* \
        "$root/etc/resolv.conf" "$root/etc/hostname" "$root/etc/hosts"
    find "$root/dev" "$root/tmp" "$root/run" \
        -mindepth 1 -maxdepth 1 -exec rm -rf --one-file-system {} + 2>/dev/null || true

    if ! tar -C "$root" --numeric-owner -cf - . 2>"$log" |
        docker import \
            --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
            --change 'CMD ["bash"]' \
            - "$DEBIAN_IMAGE" >>"$log" 2>&1; then
        tail -n 40 "$log" >&2
        die "docker import of the debootstrapped root failed"
    fi
    rm -rf --one-file-system "$root"
fi

# --- postgres:MAJOR -----------------------------------------------------------
# Mirrors the official image's Dockerfile (uid/gid 999 before the packages,
# no main cluster, listen_addresses='*' in the sample, the same directories,
# environment and signals), but without docker-entrypoint.sh: pg-entrypoint
# replaces it in the images built on top.
cat >"$tmp/Dockerfile" <<EOF
FROM $DEBIAN_IMAGE
ARG DEBIAN_FRONTEND=noninteractive
RUN set -eux; \\
    g=\$(getent group 999 | cut -d: -f1); \\
    if [ -n "\$g" ]; then free=998; while getent group "\$free" >/dev/null; do free=\$((free - 1)); done; groupmod -g "\$free" "\$g"; fi; \\
    u=\$(getent passwd 999 | cut -d: -f1); \\
    if [ -n "\$u" ]; then free=998; while getent passwd "\$free" >/dev/null; do free=\$((free - 1)); done; usermod -u "\$free" "\$u"; fi; \\
    groupadd -r postgres --gid=999; \\
    useradd -r -g postgres --uid=999 --home-dir=/var/lib/postgresql --shell=/bin/bash postgres; \\
    install --directory --owner postgres --group postgres --mode 1777 /var/lib/postgresql; \\
    apt-get update; \\
    apt-get install -y --no-install-recommends \\
        bash gzip gosu libnss-wrapper locales xz-utils zstd; \\
    alias=/usr/share/locale/locale.alias; \\
    if [ -f \$alias ]; then localedef -i en_US -c -f UTF-8 -A \$alias en_US.UTF-8; \\
    else localedef -i en_US -c -f UTF-8 en_US.UTF-8; fi; \\
    apt-get install -y --no-install-recommends postgresql-common; \\
    sed -ri 's/#(create_main_cluster) .*\$/\\1 = false/' /etc/postgresql-common/createcluster.conf; \\
    apt-get install -y --no-install-recommends postgresql-$PG_MAJOR postgresql-client-$PG_MAJOR; \\
    dpkg-divert --add --rename --divert /usr/share/postgresql/postgresql.conf.sample.dpkg \\
        /usr/share/postgresql/$PG_MAJOR/postgresql.conf.sample; \\
    cp /usr/share/postgresql/postgresql.conf.sample.dpkg /usr/share/postgresql/postgresql.conf.sample; \\
    ln -s ../postgresql.conf.sample /usr/share/postgresql/$PG_MAJOR/; \\
    sed -ri "s!^#?(listen_addresses)\\s*=\\s*\\S+.*!\\1 = '*'!" /usr/share/postgresql/postgresql.conf.sample; \\
    grep -qF "listen_addresses = '*'" /usr/share/postgresql/postgresql.conf.sample; \\
    install --directory --owner postgres --group postgres --mode 3777 /var/run/postgresql; \\
    install --directory --owner postgres --group postgres --mode 1777 $PGDATA_DIR; \\
    mkdir /docker-entrypoint-initdb.d; \\
    test "\$(id -u postgres):\$(id -g postgres)" = 999:999; \\
    gosu postgres true; \\
    apt-get clean; \\
    rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/log/apt /var/log/dpkg.log
ENV LANG=en_US.utf8 \\
    PG_MAJOR=$PG_MAJOR \\
    PATH=/usr/lib/postgresql/$PG_MAJOR/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    PGDATA=$PGDATA_DIR
LABEL org.opencontainers.image.description="postgres:$PG_MAJOR-compatible base built from Debian $SUITE packages by pg-entrypoint's tests/images/build-base-image.sh"
VOLUME $VOLUME_DIR
STOPSIGNAL SIGINT
EXPOSE 5432
CMD ["postgres"]
EOF

# Classic builder (no BuildKit here); the context is just the Dockerfile.
mkdir "$tmp/context"
cp "$tmp/Dockerfile" "$tmp/context/"
DOCKER_BUILDKIT=0
export DOCKER_BUILDKIT
quietly docker build --force-rm -t "$IMAGE" "$tmp/context"
echo "$IMAGE built from Debian packages"
