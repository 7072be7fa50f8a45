#!/bin/bash
# wrong_password: a replica given a wrong POSTGRES_REPLICATION_PASSWORD, against
# a running primary on another host, fails fast instead of waiting for ever:
# exit 1 with a message that says authentication failed and hints at
# POSTGRES_REPLICATION_PASSWORD, without printing the password; it proves the
# credentials before touching data, so nothing in its PGDATA is wiped: neither
# in an "empty" PGDATA holding only a dotfile, nor in the PGDATA of an
# interrupted clone (which it would wipe and clone again with the right
# password). No slot is created on the primary.
source "$(dirname "$0")/lib.sh"
it_setup 150
net_pair
P_PORT=55460
R_PORT=55461

launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p"
wait_ready p

# prepare_pgdata DIR KIND: a data directory owned by postgres, mode 0700, as a
# replica would have left it.
prepare_pgdata()
{
    local dir=$1
    mkdir "$dir"
    echo "dotfile $RANDOM" >"$dir/.keep-me"
    if [ "$2" = interrupted ]; then
        echo "clone in progress" >"$dir/.pg-entrypoint-clone-in-progress"
        echo "precious $RANDOM" >"$dir/precious.txt"
        mkdir "$dir/base" && echo "old $RANDOM" >"$dir/base/old-relation"
    fi
    chown -R postgres: "$dir"
    chmod 700 "$dir"
}

for kind in dotfile-only interrupted; do
    id=r-$kind
    data="$WORK/$id"
    prepare_pgdata "$data" "$kind"
    before=$(snapshot "$data")
    t0=$(date +%s%N)
    launch_replica "$id" "$NS_R" "$R_ADDR" "$R_PORT" "$data" \
        POSTGRES_REPLICATION_PASSWORD="wrong-$REPLPW" POSTGRES_REPLICATION_SLOT=wrongpw
    wait_exit "$id" 20 || fail "$id: a replica with a wrong password still runs after 20 s"
    ms=$((($(date +%s%N) - t0) / 1000000))
    log "$id: exit status $EXIT_RC after $ms ms"
    rlog=${ILOG[$id]}
    [ "$EXIT_RC" = 1 ] || fail "$id: exit status $EXIT_RC, want 1"
    assert_log_has "$rlog" 'ERROR +[a-z]+: .*authentication failed' "$id says authentication failed"
    assert_log_has "$rlog" 'hint: .*POSTGRES_REPLICATION_PASSWORD' "$id hints at POSTGRES_REPLICATION_PASSWORD"
    assert_log_lacks "$rlog" "$(step_re '(clone|wipe)')" "$id started to clone or wipe"
    assert_no_secret "$rlog" "$WORK/$id".*.out
    after=$(snapshot "$data")
    [ "$before" = "$after" ] || fail "$id: PGDATA changed: $(diff <(echo "$before") <(echo "$after") | head -20)"
    log "$id: $(grep -m1 'authentication failed' "$rlog" | sed 's/.*ERROR *//' | cut -c1-140)"
done

assert_log_has "${ILOG[p]}" 'password authentication failed for user "replicator"' "the primary saw the wrong password"
[ "$(q p "select count(*) from pg_replication_slots")" = 0 ] || fail "a slot was created with a wrong password"
log "PASS"
