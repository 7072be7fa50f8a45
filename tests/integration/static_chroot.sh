#!/bin/bash
# static_chroot: the static binary needs nothing from the image it runs in.
# In an otherwise empty root (no libc, no loader, no NSS modules, no
# nsswitch.conf; only /etc/passwd, /etc/group, /etc/hosts, /tmp and a data
# directory) a replica resolves the primary's name through /etc/hosts, looks
# up the postgres user, drops to it, opens a real replication connection with
# libpq (SCRAM, IDENTIFY_SYSTEM) and creates its slot on the primary. It then
# fails to execute pg_basebackup, which that root does not have; that failure
# is expected and checked too. Skipped (exit 77) for a dynamically linked build.
source "$(dirname "$0")/lib.sh"
command -v file >/dev/null || fail "the file command is missing (apt-get install file)"
[ -n "$BIN" ] && [ -e "$BIN" ] || fail "usage: $0 /path/to/pg-entrypoint"
case $(file -bL "$BIN") in
*"statically linked"* | *"static-pie linked"*) ;;
*) skip "not a static binary: $(file -bL "$BIN" | cut -d, -f1-4)" ;;
esac
it_setup 150
net_pair
P_PORT=55470
HOSTNAME_IN_ROOT=chroot-replica
SLOT=chroot_replica

launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p"
wait_ready p
sysid=$(q p 'select system_identifier from pg_control_system()')

root="$WORK/root"
mkdir -p "$root/etc" "$root/tmp" "$root/data"
chmod 755 "$root" "$root/etc" "$root/data"
chmod 1777 "$root/tmp"
cp "$BIN" "$root/pg-entrypoint"
chmod 755 "$root/pg-entrypoint"
uid=$(id -u postgres)
gid=$(id -g postgres)
printf 'root:x:0:0:root:/root:/bin/false\npostgres:x:%s:%s:PostgreSQL:/var/lib/postgresql:/bin/false\n' \
    "$uid" "$gid" >"$root/etc/passwd"
printf 'root:x:0:\npostgres:x:%s:\n' "$gid" >"$root/etc/group"
printf '127.0.0.1 localhost\n%s pg-primary-test\n' "$P_ADDR" >"$root/etc/hosts"
found=$(find "$root" -name '*.so*' -o -name 'ld-linux*' -o -name nsswitch.conf -o -name resolv.conf)
[ -z "$found" ] || fail "the test root is not empty enough: $found"

LAUNCH_EXEC=(chroot "$root" /pg-entrypoint)
IADDR[r]=$R_ADDR
launch r "$NS_R" PGDATA=/data/replica POSTGRES_PRIMARY_HOST=pg-primary-test \
    POSTGRES_PRIMARY_PORT="$P_PORT" POSTGRES_REPLICATION_PASSWORD="$REPLPW" \
    HOSTNAME="$HOSTNAME_IN_ROOT" -- postgres -p 55471 -c listen_addresses="$R_ADDR"
LAUNCH_EXEC=()
wait_exit r 30 || fail "the replica in the chroot still runs after 30 s"
rlog=${ILOG[r]}
log "the replica in the chroot exited with status $EXIT_RC"

assert_log_has "$rlog" "$(step_re privileges)running as postgres \\(uid $uid, gid $gid\\)" \
    "the postgres user was found in the root's /etc/passwd"
assert_log_has "$rlog" "$(step_re clone)the primary at pg-primary-test:$P_PORT runs system $sysid and accepts \"replicator\"" \
    "pg-primary-test resolved and a replication connection was made"
assert_log_has "$rlog" "$(step_re slot)created physical replication slot \"$SLOT\"" "the slot was created"
[ "$(q p "select count(*) from pg_replication_slots where slot_name = '$SLOT' and slot_type = 'physical'")" = 1 ] ||
    fail "slot $SLOT does not exist on the primary"
# The expected end: no pg_basebackup in this root.
assert_log_has "$rlog" 'could not execute "pg_basebackup"' "the clone failed for the expected reason"
[ "$EXIT_RC" = 1 ] || fail "exit status $EXIT_RC after the failed pg_basebackup, want 1"
poll 5 "the primary logs the SCRAM login of replicator" \
    grep -q 'connection authenticated: identity="replicator" method=scram-sha-256' "${ILOG[p]}"
assert_no_secret "$rlog"
log "PASS: $(grep -m1 'runs system' "$rlog" | sed 's/.*INFO *//')"
