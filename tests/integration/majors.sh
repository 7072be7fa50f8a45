#!/bin/bash
# majors: the refusals of a server that does not fit the data or the primary,
# each before anything is touched (PGDATA byte for byte as it was, no slot).
# The host has only PostgreSQL 15; another server major is played by a PATH
# without postgres and the official images' PG_MAJOR (server.h).
# - A data directory of another major (real 17 pg_control, PG_VERSION 17)
#   under the 15 server: a primary, a replica and `plan` exit 1 naming both
#   majors and the way out.
# - A 15 data directory under an 18 server: the same, although the old
#   binary would adopt it.
# - A replica whose server is 18 against a 15 primary: exit 1 naming both,
#   after IDENTIFY_SYSTEM and before the clone marker, wipe or slot.
# - 18's layout: a volume mounted at /var/lib/postgresql/data (a tmpfs in the
#   instance's own mount namespace) while PGDATA defaults to
#   /var/lib/postgresql/18/docker is an error with the fix, and nothing is
#   created beside it; with PGDATA=/var/lib/postgresql/data it is used.
source "$(dirname "$0")/lib.sh"
it_setup 70
net_pair
P_PORT=55470
R_PORT=55471
FIXTURES=$(cd "$(dirname "$0")/../unit/fixtures" && pwd)
AS_18=(PATH=/nonexistent:/usr/sbin:/usr/bin:/sbin:/bin PG_MAJOR=18)

# cluster_of DIR MAJOR: what datadir_inspect sees of a cluster of MAJOR (its
# real pg_control from tests/unit/fixtures), owned by postgres, mode 0700.
cluster_of()
{
    mkdir -p "$1/global" "$1/base/1"
    echo "$2" >"$1/PG_VERSION"
    cp "$FIXTURES/pg_control-$2" "$1/global/pg_control"
    echo "precious $RANDOM" >"$1/base/1/1259"
    echo "# settings $RANDOM" >"$1/postgresql.conf"
    chown -R postgres: "$1"
    chmod 700 "$1"
}

# refused ID DATA REGEX... -- VAR=VALUE... -- ARGS...: runs the entrypoint
# in the replica's namespace; exit 1, an ERROR line matching every REGEX,
# PGDATA unchanged (DATA may be empty: no PGDATA to compare).
refused()
{
    local id=$1 data=$2 res=() before="" after=""
    shift 2
    while [ "$1" != -- ]; do res+=("$1"); shift; done
    shift
    [ -z "$data" ] || before=$(snapshot "$data")
    launch "$id" "$NS_R" "$@"
    wait_exit "$id" 20 || fail "$id: still running after 20 s (want exit 1)"
    [ "$EXIT_RC" = 1 ] || fail "$id: exit status $EXIT_RC, want 1; stderr: $(cat "${ILOG[$id]}")"
    for re in "${res[@]}"; do
        assert_log_has "${ILOG[$id]}" "ERROR +[a-z]+: .*$re" "$id"
    done
    [ -z "$data" ] || after=$(snapshot "$data")
    [ "$before" = "$after" ] || fail "$id: PGDATA changed: $(diff <(echo "$before") <(echo "$after") | head -20)"
    assert_no_secret "${ILOG[$id]}" "$WORK/$id".*.out
    log "$id: exit 1: $(grep -m1 ERROR "${ILOG[$id]}" | sed 's/.*ERROR *//' | cut -c1-160)"
}

SERVER=(postgres -p "$R_PORT" -k "$WORK" -c listen_addresses="$R_ADDR")
REPLICA=(POSTGRES_PRIMARY_HOST="$P_ADDR" POSTGRES_PRIMARY_PORT="$P_PORT"
    POSTGRES_REPLICATION_PASSWORD="$REPLPW" POSTGRES_REPLICATION_SLOT=r18 POSTGRES_PRIMARY_WAIT_TIMEOUT=10)

# --- a 17 data directory under the 15 server ---------------------------------
cluster_of "$WORK/d17" 17
W17=('holds a PostgreSQL 17 cluster .*this server is PostgreSQL 15' 'hint: .*postgres:17.*pg_upgrade')
refused p17 "$WORK/d17" "${W17[@]}" -- PGDATA="$WORK/d17" POSTGRES_PASSWORD="$SUPERPW" -- "${SERVER[@]}"
refused r17 "$WORK/d17" "${W17[@]}" 'POSTGRES_RESEED=force' -- PGDATA="$WORK/d17" "${REPLICA[@]}" -- "${SERVER[@]}"
refused plan17 "$WORK/d17" "${W17[@]}" -- PGDATA="$WORK/d17" POSTGRES_PASSWORD="$SUPERPW" -- plan

# --- a 15 data directory under an 18 server ----------------------------------
cluster_of "$WORK/d15" 15
W15=('holds a PostgreSQL 15 cluster .*this server is PostgreSQL 18' 'hint: .*postgres:15.*pg_upgrade')
refused p15 "$WORK/d15" "${W15[@]}" -- "${AS_18[@]}" PGDATA="$WORK/d15" POSTGRES_PASSWORD="$SUPERPW" -- "${SERVER[@]}"
refused plan15 "$WORK/d15" "${W15[@]}" -- "${AS_18[@]}" PGDATA="$WORK/d15" POSTGRES_PASSWORD="$SUPERPW" -- plan

# --- a replica whose server is 18, against a 15 primary ----------------------
launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p"
wait_ready p
mkdir "$WORK/r18" && echo "dotfile $RANDOM" >"$WORK/r18/.keep-me"
chown -R postgres: "$WORK/r18" && chmod 700 "$WORK/r18"
refused r18 "$WORK/r18" 'the primary at 192\.0\.2\.1:[0-9]+ runs PostgreSQL 15, but this replica.s server is PostgreSQL 18' \
    -- "${AS_18[@]}" PGDATA="$WORK/r18" "${REPLICA[@]}" -- "${SERVER[@]}"
assert_log_lacks "${ILOG[r18]}" "$(step_re '(wipe)')|pg_basebackup from" "r18 started to clone"
[ "$(q p "select count(*) from pg_replication_slots")" = 0 ] || fail "r18: a slot was created on the primary"

# --- 18's layout: a volume still mounted at /var/lib/postgresql/data ---------
# The instance's mount namespace (unshare --mount-proc makes one, private)
# gets a tmpfs at /var/lib/postgresql and another at .../data; after the
# entrypoint exits, what /var/lib/postgresql holds is listed.
# shellcheck disable=SC2016  # expanded by that sh, not this one
LAUNCH_EXEC=(sh -c 'mount -t tmpfs pgep /var/lib/postgresql && mkdir /var/lib/postgresql/data &&
    mount -t tmpfs pgep /var/lib/postgresql/data && echo "precious" >/var/lib/postgresql/data/old.txt &&
    chown -R postgres: /var/lib/postgresql || exit 9
    "$0" "$@"; rc=$?
    ls -A /var/lib/postgresql /var/lib/postgresql/data >"$PGEP_LS" 2>&1
    exit $rc' "$BIN")
WOLD=('a volume is mounted at /var/lib/postgresql/data' 'PGDATA "/var/lib/postgresql/18/docker"'
    'hint: mount the volume at /var/lib/postgresql instead .*PGDATA=/var/lib/postgresql/data')
refused old18 "" "${WOLD[@]}" -- "${AS_18[@]}" PGEP_LS="$WORK/ls-old18" POSTGRES_PASSWORD="$SUPERPW" -- "${SERVER[@]}"
[ "$(tr '\n' ' ' <"$WORK/ls-old18")" = "/var/lib/postgresql: data  /var/lib/postgresql/data: old.txt " ] ||
    fail "old18: /var/lib/postgresql changed: $(cat "$WORK/ls-old18")"
refused oldplan18 "" "${WOLD[@]}" -- "${AS_18[@]}" PGEP_LS="$WORK/ls-oldplan18" POSTGRES_PASSWORD="$SUPERPW" -- plan
# PGDATA set to the mounted volume uses it (plan: an existing non-cluster directory)
launch ok18 "$NS_R" "${AS_18[@]}" PGEP_LS="$WORK/ls-ok18" PGDATA=/var/lib/postgresql/data POSTGRES_PASSWORD="$SUPERPW" -- plan
wait_exit ok18 20 || fail "ok18: still running"
assert_log_lacks "${ILOG[ok18]}" 'a volume is mounted at' "ok18 (PGDATA=/var/lib/postgresql/data)"
grep -q '^PGDATA: /var/lib/postgresql/data ' "$WORK/ok18.1.out" || fail "ok18: plan printed: $(cat "$WORK/ok18.1.out")"
LAUNCH_EXEC=()
log "PASS"
