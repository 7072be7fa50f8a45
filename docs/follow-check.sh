#!/bin/bash
# follow-check BINDIR [RETRY]: three clusters on 127.0.0.1 (A primary, B and C
# standbys of A). C's primary_conninfo lists A then B with
# target_session_attrs=read-write; C's slot "c" is made on A (reserved, for
# its clone) and, unreserved, on the standby B. A is stopped cleanly, B is
# promoted with pg_promote(); prints the seconds from pg_promote() to C's WAL
# receiver streaming from B, and B's slot "c" afterwards.
# RETRY: wal_retrieve_retry_interval for C (default: the server's, 5s).
set -euo pipefail
BIN=$1
RETRY=${2:-}
ATTRS=${3:-read-write} # "any": no target_session_attrs (the control)
W=$(mktemp -d /tmp/follow.XXXXXX)
cd "$W"
PA=56101 PB=56102 PC=56103
now() { date +%s%N; }
sql() { "$BIN/psql" -X -At -h "$W" -p "$1" -U postgres -d postgres -c "$2"; }
cleanup()
{
    for n in a b c; do
        [ -f "$n/postmaster.pid" ] && "$BIN/pg_ctl" -D "$n" -m immediate -w stop >/dev/null 2>&1
    done
    cd /
    rm -rf "$W"
}
trap cleanup EXIT
# poll SECONDS CMD...: until CMD succeeds, every 20 ms
poll()
{
    local limit=$(($(now) + $1 * 1000000000))
    shift
    until "$@"; do
        [ "$(now)" -lt "$limit" ] || { echo "TIMEOUT: $*" >&2; tail -20 c.log >&2; exit 1; }
        sleep 0.02
    done
}
"$BIN/initdb" -D a -U postgres -A trust >/dev/null
cat >>a/postgresql.conf <<EOF
listen_addresses = '127.0.0.1'
port = $PA
unix_socket_directories = '$W'
wal_level = replica
max_wal_senders = 10
max_replication_slots = 10
hot_standby = on
EOF
"$BIN/pg_ctl" -D a -l a.log -w start >/dev/null
sql $PA "select pg_create_physical_replication_slot('b', true), pg_create_physical_replication_slot('c', true)" >/dev/null
for n in b c; do
    "$BIN/pg_basebackup" -h 127.0.0.1 -p $PA -U postgres -D $n -X stream -S $n --checkpoint=fast
    touch $n/standby.signal
done
cat >>b/postgresql.auto.conf <<EOF
port = $PB
primary_conninfo = 'host=127.0.0.1 port=$PA user=postgres application_name=b'
primary_slot_name = 'b'
EOF
cat >>c/postgresql.auto.conf <<EOF
port = $PC
primary_conninfo = 'host=127.0.0.1,127.0.0.1 port=$PA,$PB user=postgres application_name=c target_session_attrs=$ATTRS'
primary_slot_name = 'c'
EOF
[ -z "$RETRY" ] || echo "wal_retrieve_retry_interval = '$RETRY'" >>c/postgresql.auto.conf
"$BIN/pg_ctl" -D b -l b.log -w start >/dev/null
"$BIN/pg_ctl" -D c -l c.log -w start >/dev/null
sql $PB "select lsn is null from pg_create_physical_replication_slot('c')" >/dev/null
# C's receiver says "streaming" as soon as it starts; the sender's walsender
# only once START_REPLICATION succeeded.
receiver()
{
    [ "$(sql $PC "select sender_port || ' ' || status from pg_stat_wal_receiver")" = "$1 streaming" ] &&
        [ "$(sql "$1" "select state from pg_stat_replication where application_name = 'c'")" = streaming ]
}
poll 30 receiver $PA
sql $PA "create table t (x int); insert into t values (1)" >/dev/null
has_rows() { [ "$(sql "$1" "select count(*) from t" 2>/dev/null)" = "$2" ]; }
poll 30 has_rows $PB 1
poll 30 has_rows $PC 1
"$BIN/pg_ctl" -D a -m fast -w stop >/dev/null
# B still a standby: a receiver that honours read-write does not stream from it
sleep "$(sql $PC "select extract(epoch from current_setting('wal_retrieve_retry_interval')::interval) + 1")"
echo "A stopped, B a standby; C receiver: [$(sql $PC "select sender_port || ' ' || status from pg_stat_wal_receiver")]; B sends to C: [$(sql $PB "select state from pg_stat_replication where application_name = 'c'")]"
t0=$(now)
sql $PB "select pg_promote(true, 60)" >/dev/null
t1=$(now)
poll 60 receiver $PB
t2=$(now)
sql $PB "insert into t values (2)" >/dev/null
poll 30 has_rows $PC 2
echo "version: $("$BIN/postgres" --version)"
echo "pg_promote: $(((t1 - t0) / 1000000)) ms; promotion to C streaming from B: $(((t2 - t0) / 1000000)) ms; retry interval: $(sql $PC 'show wal_retrieve_retry_interval')"
echo "C receiver: $(sql $PC "select sender_host, sender_port, status, received_tli from pg_stat_wal_receiver")"
echo "B slot c: $(sql $PB "select slot_name, active, restart_lsn from pg_replication_slots where slot_name = 'c'")"
echo "C restarted: no (postmaster pid $(head -1 c/postmaster.pid), started $(sql $PC "select pg_postmaster_start_time() < now() - interval '1 second'"))"
