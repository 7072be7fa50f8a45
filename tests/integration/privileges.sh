#!/bin/bash
# privileges: after the drop nothing of root is left.
#  - A primary whose PGDATA (and POSTGRES_INITDB_WALDIR) "docker" made as
#    empty root-owned 0755 directories, and a replica whose PGDATA "docker"
#    made root-owned with root's files in it (a lost+found directory, a
#    dotfile, a file; POSTGRES_RESEED=force discards the files).
#  - /proc/<postmaster>/status: real, effective, saved and file-system uid
#    and gid are all postgres's; Groups are exactly postgres's groups from
#    /etc/group (never 0); no capability is left (CapPrm, CapEff, CapAmb).
#  - Nothing under either PGDATA or the WAL directory belongs to root (user
#    or group): find -uid 0 -o -gid 0 finds nothing; PGDATA is 0700.
source "$(dirname "$0")/lib.sh"
it_setup 170
net_pair
P_PORT=55930
R_PORT=55931
PG_UID=$(id -u postgres)
PG_GID=$(id -g postgres)
PG_GROUPS=$(id -G postgres | tr ' ' '\n' | sort -n | tr '\n' ' ')

# What "docker" made.
mkdir -m 755 "$WORK/p" "$WORK/p-wal"
mkdir -m 755 "$WORK/r"
mkdir -m 700 "$WORK/r/lost+found"
echo "made by docker" >"$WORK/r/.docker-init" && chmod 600 "$WORK/r/.docker-init"
echo "left over" >"$WORK/r/notes.txt"
mkdir "$WORK/r/old" && echo x >"$WORK/r/old/file"
[ -z "$(find "$WORK/p" "$WORK/p-wal" "$WORK/r" ! -uid 0)" ] || fail "internal: the prepared directories are not all root's"

check_dropped()
{
    local id=$1 st=/proc/${CPID[$1]}/status
    [ "$(stat -L -c %d:%i "/proc/${CPID[$id]}/exe")" = "$(stat -L -c %d:%i "$PG_BINDIR/postgres")" ] ||
        fail "$id: PID 1 is not the postmaster"
    [ "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "$st")" = "$PG_UID $PG_UID $PG_UID $PG_UID" ] ||
        fail "$id: postmaster $(grep ^Uid: "$st" | tr '\t' ' '), want $PG_UID for real, effective, saved and fs"
    [ "$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "$st")" = "$PG_GID $PG_GID $PG_GID $PG_GID" ] ||
        fail "$id: postmaster $(grep ^Gid: "$st" | tr '\t' ' '), want $PG_GID for real, effective, saved and fs"
    local groups
    groups=$(awk '/^Groups:/ { for (i = 2; i <= NF; i++) print $i }' "$st" | sort -n | tr '\n' ' ')
    [ "$groups" = "$PG_GROUPS" ] || fail "$id: postmaster Groups: [$groups], want postgres's [$PG_GROUPS]"
    for cap in CapPrm CapEff CapAmb; do
        [ "$(awk -v c="$cap:" '$1 == c { print $2 }' "$st")" = 0000000000000000 ] ||
            fail "$id: postmaster $(grep "^$cap:" "$st" | tr '\t' ' '), want none"
    done
    log "$id: $(grep -E '^(Uid|Gid|Groups|CapEff):' "$st" | tr '\t\n' '  ')"
}

no_root_files()
{
    local what=$1 dir=$2 found
    found=$(find "$dir" \( -uid 0 -o -gid 0 \) -printf '%p %u:%g %#m\n' | head -5)
    [ -z "$found" ] || fail "$what: root's files remain in $dir: $found"
}

launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p" POSTGRES_INITDB_WALDIR="$WORK/p-wal"
wait_ready p
check_dropped p
no_root_files "primary" "$WORK/p"
no_root_files "primary's WAL directory" "$WORK/p-wal"
[ -L "$WORK/p/pg_wal" ] && [ "$(readlink "$WORK/p/pg_wal")" = "$WORK/p-wal" ] || fail "pg_wal is not a link to POSTGRES_INITDB_WALDIR"
[ "$(stat -c '%a %U' "$WORK/p")" = "700 postgres" ] || fail "the primary's PGDATA is $(stat -c '%a %U' "$WORK/p")"

launch_replica r "$NS_R" "$R_ADDR" "$R_PORT" "$WORK/r" POSTGRES_RESEED=force
wait_ready r
assert_log_has "${ILOG[r]}" "$(step_re clone)done in" "the replica cloned the primary"
check_dropped r
no_root_files "replica" "$WORK/r"
[ "$(stat -c '%a %U' "$WORK/r")" = "700 postgres" ] || fail "the replica's PGDATA is $(stat -c '%a %U' "$WORK/r")"
[ -d "$WORK/r/lost+found" ] || fail "lost+found was removed"
[ ! -e "$WORK/r/notes.txt" ] && [ ! -e "$WORK/r/.docker-init" ] && [ ! -e "$WORK/r/old" ] ||
    fail "POSTGRES_RESEED=force left docker's files in PGDATA"
log "PASS"
