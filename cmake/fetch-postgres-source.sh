#!/bin/sh
# Obtains the PostgreSQL source tarball for the static libpq build
# (cmake/StaticLibpq.cmake) from the distribution's own archive, so no other
# download site is needed: `apt-get source --download-only postgresql-MAJOR`.
# MAJOR: $PG_MAJOR when set (the official images and tests/images/ set it to
# the server's major: 15 on bookworm, 17 on trixie, 18 on forky), else the
# newest postgresql-NN this distribution's apt knows, else 15. Any major >= 15
# works against every server here.
# When apt has no deb-src entry, one is derived at run time from the existing
# deb entries and written to a separate file in sources.list.d. The .orig
# tarball is checked against the Checksums-Sha256 field of the .dsc (apt has
# already verified the .dsc against the signed index). Prints the tarball path.
#
# usage: fetch-postgres-source.sh OUTDIR
set -eu

SRC_FILE_BASENAME=pg-entrypoint-deb-src

die() { echo "fetch-postgres-source: $*" >&2; exit 1; }

major=${PG_MAJOR:-}
if [ -z "$major" ]; then
    major=$(apt-cache pkgnames postgresql- 2>/dev/null | sed -n 's/^postgresql-\([0-9][0-9]*\)$/\1/p' |
        sort -n | tail -n 1)
fi
major=${major:-15}
case $major in
    '' | *[!0-9]*) die "PG_MAJOR='$major' is not a PostgreSQL major number (15, 17, 18, ...)" ;;
esac
[ "$major" -ge 15 ] || die "PG_MAJOR=$major: libpq older than 15 is not supported; set PG_MAJOR to 15 or newer"
PKG=postgresql-$major

[ $# -eq 1 ] || die "usage: $0 OUTDIR"
command -v apt-get >/dev/null 2>&1 || die "apt-get not found; set PG_SOURCE to a postgresql source tarball (15 or newer) instead"
mkdir -p "$1"
OUTDIR=$(cd "$1" && pwd)

tmp_list='' tmp_sources='' work=''
cleanup() { rm -rf "$tmp_list" "$tmp_sources" ${work:+"$work" "$work.log" "$work.alt"}; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Prints the path of the .orig tarball in DIR when the .dsc there lists it
# with a matching SHA256; fails otherwise.
verified_tarball() {
    dir=$1
    for dsc in "$dir/${PKG}"_*.dsc; do
        [ -f "$dsc" ] || continue
        # Checksums-Sha256 lines: " <sha256> <size> <file>"
        awk '/^Checksums-Sha256:/ { on = 1; next }
             on && /^[ \t]/ { print $1, $3; next }
             { on = 0 }' "$dsc" |
        while read -r sum name; do
            case $name in
                *.orig.tar.gz|*.orig.tar.bz2|*.orig.tar.xz) ;;
                *) continue ;;
            esac
            [ -f "$dir/$name" ] || continue
            actual=$(sha256sum "$dir/$name" | cut -d' ' -f1)
            if [ "$actual" = "$sum" ]; then
                echo "$dir/$name"
            else
                echo "fetch-postgres-source: SHA256 mismatch for $dir/$name" >&2
            fi
        done
    done | head -n 1 | grep .
}

# Already fetched and intact: nothing to do (a rebuild does not re-download).
if tarball=$(verified_tarball "$OUTDIR" 2>/dev/null); then
    echo "$tarball"
    exit 0
fi

# (the single-quoted $(...) below are apt's format fields, not the shell's)
# shellcheck disable=SC2016
has_deb_src() {
    apt-get indextargets --format '$(IDENTIFIER)' 2>/dev/null | grep -qx Sources
}

# shellcheck disable=SC2016
sources_downloaded() {
    apt-get indextargets --format '$(FILENAME)' 'Identifier: Sources' 2>/dev/null |
    while read -r f; do
        # a list may be stored compressed; any variant counts
        ls "$f" "$f".* >/dev/null 2>&1 || exit 1
    done
}

need_update=no
if ! has_deb_src; then
    [ "$(id -u)" -eq 0 ] || die "apt has no deb-src entry and only root can add one; set PG_SOURCE to a postgresql source tarball (15 or newer) instead"
    eval "$(apt-config shell SOURCELIST Dir::Etc::sourcelist/f SOURCEPARTS Dir::Etc::sourceparts/d)"
    [ -n "${SOURCEPARTS:-}" ] || die "cannot determine apt's sources.list.d directory"

    # One-line format: every enabled "deb [options] uri suite comps" line.
    list_out="$SOURCEPARTS/$SRC_FILE_BASENAME.list"
    tmp_list=$(mktemp)
    tmp_sources=$(mktemp)
    for f in "$SOURCELIST" "$SOURCEPARTS"/*.list; do
        [ -f "$f" ] || continue
        [ "$f" = "$list_out" ] && continue
        sed -n 's/^[[:space:]]*deb\([[:space:]]\)/deb-src\1/p' "$f"
    done >"$tmp_list"

    # deb822 format: every enabled stanza whose Types include "deb", copied
    # with Types: deb-src (all other fields, Signed-By included, kept as is).
    sources_out="$SOURCEPARTS/$SRC_FILE_BASENAME.sources"
    for f in "$SOURCEPARTS"/*.sources; do
        [ -f "$f" ] || continue
        [ "$f" = "$sources_out" ] && continue
        awk '
            function flush() {
                if (n > 0 && isdeb && enabled) {
                    print "Types: deb-src"
                    for (i = 1; i <= n; i++) print buf[i]
                    print ""
                }
                n = 0; isdeb = 0; enabled = 1
            }
            BEGIN { n = 0; isdeb = 0; enabled = 1 }
            /^[ \t]*$/ { flush(); next }
            /^#/ { next }
            tolower($0) ~ /^types:/ {
                t = " " substr($0, 7) " "
                gsub(/\t/, " ", t)
                if (t ~ / deb /) isdeb = 1
                next
            }
            tolower($0) ~ /^enabled:[ \t]*(no|false)/ { enabled = 0 }
            { buf[++n] = $0 }
            END { flush() }
        ' "$f"
    done >"$tmp_sources"

    [ -s "$tmp_list" ] || [ -s "$tmp_sources" ] ||
        die "no deb entries found in apt's sources to derive a deb-src entry from"
    if [ -s "$tmp_list" ]; then
        { echo "# Added by pg-entrypoint's fetch-postgres-source.sh (apt-get source $PKG)."
          cat "$tmp_list"; } >"$list_out"
        chmod 0644 "$list_out"
    fi
    if [ -s "$tmp_sources" ]; then
        { echo "# Added by pg-entrypoint's fetch-postgres-source.sh (apt-get source $PKG)."
          cat "$tmp_sources"; } >"$sources_out"
        chmod 0644 "$sources_out"
    fi
    need_update=yes
elif ! sources_downloaded; then
    need_update=yes
fi

if [ "$need_update" = yes ]; then
    [ "$(id -u)" -eq 0 ] || die "apt's source indexes are missing and only root can run apt-get update"
    # A repository without sources must not stop us: apt-get source below
    # reports clearly if the package is really unavailable.
    apt-get update -qq >/dev/null || echo "fetch-postgres-source: apt-get update reported errors; trying anyway" >&2
fi

# Download into a fresh directory the unprivileged _apt user can write to,
# so apt keeps its download sandbox.
work=$(mktemp -d "$OUTDIR/apt-source.XXXXXX")
if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then
    chown _apt "$work"
fi
# The candidate first; then older versions, newest first, because a mirror
# may list a version in its index whose files it cannot serve.
versions=$(apt-cache showsrc --only-source "$PKG" 2>/dev/null | sed -n 's/^Version: //p' | sort -rV -u)
ok=no
for v in "" $versions; do
    if (cd "$work" && apt-get source --download-only -qq "$PKG${v:+=$v}") >"$work.log" 2>&1; then
        ok=yes
        [ -z "$v" ] || echo "fetch-postgres-source: the candidate version could not be downloaded; using $PKG $v" >&2
        break
    fi
    find "$work" -mindepth 1 -delete
done
# The distribution may list the source without its mirror serving the files
# (seen: trixie's postgresql-17 answers 404 where forky's postgresql-18 and
# bookworm's postgresql-15 are served). Any libpq >= 15 serves every server,
# so then take the newest source another Debian release on the same mirror
# offers, through an apt configuration of its own (its own sources list,
# lists and cache under OUTDIR): the machine's sources stay untouched.
if [ "$ok" != yes ]; then
    cat "$work.log" >&2
    echo "fetch-postgres-source: apt-get source --download-only $PKG failed; trying the other Debian releases on the same mirror" >&2
    # (single-quoted $(...) are apt's format fields, not the shell's)
    # shellcheck disable=SC2016
    mirror=$(apt-get indextargets --format '$(REPO_URI) $(RELEASE)' 'Target-Of: deb' 2>/dev/null |
        awk '$2 ~ /^(bookworm|trixie|forky|sid)$/ { sub("/+$", "", $1); print $1; exit }')
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    if [ -z "$mirror" ] || [ ! -f "$keyring" ]; then
        die "apt-get source --download-only $PKG failed, and no Debian mirror or keyring was found to try another release; set PG_SOURCE"
    fi
    alt=$work.alt
    for pair in forky:18 trixie:17 bookworm:15; do
        suite=${pair%:*} alt_pkg=postgresql-${pair#*:}
        [ "$alt_pkg" != "$PKG" ] || continue
        rm -rf "$alt"
        mkdir -p "$alt/parts" "$alt/lists/partial" "$alt/cache/archives/partial"
        printf 'deb-src [signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$suite" >"$alt/sources.list"
        if [ "$(id -u)" -eq 0 ] && id _apt >/dev/null 2>&1; then
            chown -R _apt "$alt/lists/partial" "$alt/cache/archives/partial"
        fi
        set -- -o "Dir::Etc::SourceList=$alt/sources.list" -o "Dir::Etc::SourceParts=$alt/parts" \
            -o "Dir::State::Lists=$alt/lists" -o "Dir::Cache=$alt/cache"
        if apt-get "$@" update -qq >"$work.log" 2>&1 &&
            (cd "$work" && apt-get "$@" source --download-only -qq "$alt_pkg") >>"$work.log" 2>&1; then
            echo "fetch-postgres-source: using $alt_pkg from $suite instead of $PKG" >&2
            PKG=$alt_pkg
            ok=yes
            break
        fi
        find "$work" -mindepth 1 -delete
    done
    rm -rf "$alt"
fi
if [ "$ok" != yes ]; then
    cat "$work.log" >&2
    die "apt-get source --download-only $PKG failed, and no other Debian release on the mirror offered a PostgreSQL source; set PG_SOURCE to a postgresql-N.x tarball (N >= 15)"
fi
tarball=$(verified_tarball "$work") || die "no $PKG .orig tarball matching the SHA256 in its .dsc was downloaded"

# Keep the .dsc next to the tarball so later runs can re-verify the cache.
mv -f "$work/${PKG}"_*.dsc "$OUTDIR"/
mv -f "$tarball" "$OUTDIR"/
verified_tarball "$OUTDIR" || die "verification of the cached tarball in $OUTDIR failed"
