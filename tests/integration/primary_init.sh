#!/bin/bash
# primary_init: a primary started on an empty PGDATA comes up ready for
# replicas, as its user sees it:
#  - the superuser's password works over TCP, via SCRAM, and a wrong one fails;
#  - pg-entrypoint.conf is in effect (wal_level=replica, max_slot_wal_keep_size=1GB);
#  - pg_hba.conf has `host replication "replicator" all scram-sha-256`, and
#    the replicator role (REPLICATION, SCRAM secret) logs in for replication;
#  - the postmaster is PID 1 of its namespace, runs as the postgres uid/gid
#    and holds no supplementary group 0.
source "$(dirname "$0")/lib.sh"
it_setup 190
net_pair
P_PORT=55410

launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p"
wait_ready p
log=${ILOG[p]}
pgdata=$WORK/p

# Steps of a first start.
assert_log_has "$log" "$(step_re initdb)done in" "initdb ran"
assert_log_has "$log" "$(step_re bootstrap)done in" "the replication role was created"

# The superuser password works over TCP from another host, with SCRAM.
[ "$(q p 'select current_user')" = postgres ] || fail "cannot log in as postgres with POSTGRES_PASSWORD"
poll 5 "the primary logs a SCRAM authentication of postgres" \
    grep -q 'connection authenticated: identity="postgres" method=scram-sha-256' "$log"
if PGPASSWORD="not-$SUPERPW" PGCONNECT_TIMEOUT=5 ip netns exec "$NS_R" psql -X -At \
    -h "$P_ADDR" -p "$P_PORT" -U postgres -d postgres -c 'select 1' >/dev/null 2>"$WORK/wrongpw.err"; then
    fail "a wrong superuser password was accepted"
fi
grep -q 'password authentication failed for user "postgres"' "$WORK/wrongpw.err" ||
    fail "a wrong superuser password failed for another reason: $(cat "$WORK/wrongpw.err")"
# ... also from the replica's side of the network.
[ "$(PGPASSWORD="$SUPERPW" ip netns exec "$NS_R" psql -X -At -h "$P_ADDR" -p "$P_PORT" \
    -U postgres -d postgres -c 'select 1')" = 1 ] || fail "POSTGRES_PASSWORD does not work from another host"

# Replication settings, written before the first start.
[ "$(q p 'show wal_level')" = replica ] || fail "wal_level is $(q p 'show wal_level'), want replica"
[ "$(q p 'show max_slot_wal_keep_size')" = 1GB ] ||
    fail "max_slot_wal_keep_size is $(q p 'show max_slot_wal_keep_size'), want 1GB"
[ "$(q p "select sourcefile from pg_settings where name = 'wal_level'")" = "$pgdata/pg-entrypoint.conf" ] ||
    fail "wal_level does not come from pg-entrypoint.conf"
[ "$(q p 'select pg_is_in_recovery()')" = f ] || fail "the primary is in recovery"

# pg_hba: the replication line, in the file and as the server parsed it.
grep -Eq '^host[[:space:]]+replication[[:space:]]+"replicator"[[:space:]]+all[[:space:]]+scram-sha-256[[:space:]]*$' \
    "$pgdata/pg_hba.conf" || fail "pg_hba.conf has no 'host replication \"replicator\" all scram-sha-256' line"
[ "$(q p "select count(*) from pg_hba_file_rules where type = 'host' and database = '{replication}'
          and user_name = '{replicator}' and address = 'all' and auth_method = 'scram-sha-256'
          and error is null")" = 1 ] || fail "the server did not load the replication line of pg_hba.conf"

# The replication role.
[ "$(q p "select rolreplication and rolcanlogin and rolpassword like 'SCRAM-SHA-256\$%'
          from pg_authid where rolname = 'replicator'")" = t ] ||
    fail "role replicator is missing, cannot log in, lacks REPLICATION or has no SCRAM secret"
sysid=$(PGPASSWORD="$REPLPW" ip netns exec "$NS_R" psql -X -At \
    "host=$P_ADDR port=$P_PORT user=replicator dbname=replication replication=true" \
    -c IDENTIFY_SYSTEM | cut -d'|' -f1) || fail "replicator cannot open a replication connection with POSTGRES_REPLICATION_PASSWORD"
[ "$sysid" = "$(q p 'select system_identifier from pg_control_system()')" ] ||
    fail "IDENTIFY_SYSTEM as replicator answered \"$sysid\""
poll 5 "the primary logs a SCRAM authentication of replicator" \
    grep -q 'connection authenticated: identity="replicator" method=scram-sha-256' "$log"

# PID 1, user, groups.
pm=${CPID[p]}
status=/proc/$pm/status
[ "$(readlink "/proc/$pm/exe")" = "$(readlink -f "$PG_BINDIR/postgres")" ] ||
    fail "PID 1 of the namespace is $(readlink "/proc/$pm/exe"), not postgres"
nspid=$(awk '/^NSpid:/ { print $NF }' "$status")
[ "$nspid" = 1 ] || fail "the postmaster's NSpid is $(grep NSpid "$status"), want ... 1"
[ "$(head -n1 "$pgdata/postmaster.pid")" = 1 ] || fail "postmaster.pid does not say PID 1"
uid=$(id -u postgres)
gid=$(id -g postgres)
[ "$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "$status")" = "$uid $uid $uid $uid" ] ||
    fail "postmaster $(grep ^Uid: "$status"), want all $uid"
[ "$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "$status")" = "$gid $gid $gid $gid" ] ||
    fail "postmaster $(grep ^Gid: "$status"), want all $gid"
for g in $(awk '/^Groups:/ { $1 = ""; print }' "$status"); do
    [ "$g" != 0 ] || fail "postmaster keeps supplementary group 0: $(grep ^Groups: "$status")"
done
[ "$(stat -c '%a %U' "$pgdata")" = "700 postgres" ] || fail "PGDATA is $(stat -c '%a %U' "$pgdata")"

assert_no_secret "$log"
log "PASS: $(grep ^Uid: "$status" | tr '\t' ' '), $(grep ^Groups: "$status" | tr '\t' ' '), $(grep ^NSpid: "$status" | tr '\t' ' ')"
