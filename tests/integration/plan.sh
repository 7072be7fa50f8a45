#!/bin/bash
# plan: `pg-entrypoint plan` tells what a start would do, and does nothing:
#  - primary, PGDATA missing: initdb, the replication settings, the
#    replication role (and the database when POSTGRES_DB is set);
#  - primary, a cluster of an earlier start: reuse, no initdb;
#  - primary, a cluster made by plain initdb (another entrypoint): the
#    plan names the adoption (settings, pg_hba lines, role) a start does;
#  - replica, empty PGDATA: wait for the primary, IDENTIFY_SYSTEM, the slot
#    named after the host, pg_basebackup; no wipe;
#  - replica, a standby: start as is (with the system identifier that
#    pg_controldata reports), no clone;
#  - replica, a cluster that is not a standby: exit 1, refuses and points at
#    POSTGRES_RESEED=force; with POSTGRES_RESEED=force: WIPE, then clone;
#  - configuration errors: exit 78 naming the variable; `plan ARG`: exit 64.
# Every time the data directory is unchanged (type, mode, owner, size, mtime,
# SHA-256 of every file; a missing PGDATA stays missing) and no server is
# contacted: POSTGRES_PRIMARY_HOST points at a TCP listener that records
# every connection, and none may arrive (it is proven to record one at the
# end). The plans of the main states are printed on stdout.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"
it_setup 340
net_single
LPORT=55610
RUN_TIMEOUT=15  # a hang guard: plan must not wait for anything

# The recording listener: one line per accepted connection; never answers.
cat >"$WORK/listener.py" <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
open(sys.argv[2] + ".ready", "w").close()
held = []
while True:
    c, a = s.accept()
    held.append(c)
    with open(sys.argv[2], "a") as f:
        f.write("connection from %s:%d\n" % a)
EOF
: >"$WORK/listener.hits"
ip netns exec "$NS_1" /usr/bin/python3 "$WORK/listener.py" "$LPORT" "$WORK/listener.hits" &
BG_PIDS+=("$!")
poll 10 "the recording listener is ready" test -e "$WORK/listener.hits.ready"

# Data directories in the states a plan reads: a cluster made by a real
# first start of the entrypoint (then stopped), a standby (its copy with
# standby.signal), a cluster made by plain initdb (another entrypoint's), an
# empty directory.
mkdir -p "$WORK/d"
launch_primary maker "$NS_1" 127.0.0.1 55611 "$WORK/d/cluster"
wait_ready maker
stop maker INT
[ "$EXIT_RC" = 0 ] || fail "the first start that made the test cluster exited $EXIT_RC"
cp -a "$WORK/d/cluster" "$WORK/d/standby"
runuser -u postgres -- touch "$WORK/d/standby/standby.signal"
chown postgres: "$WORK/d"
runuser -u postgres -- "$PG_BINDIR/initdb" -N -A trust -U postgres -D "$WORK/d/foreign" >"$WORK/initdb.out" 2>&1 ||
    fail "initdb for the foreign cluster failed: $(tail -5 "$WORK/initdb.out")"
mkdir "$WORK/d/empty"
chown postgres: "$WORK/d/empty"
chmod 0750 "$WORK/d/empty"
touch "$WORK/d/empty/.keep"  # a dotfile: still empty
sysid=$("$PG_BINDIR/pg_controldata" "$WORK/d/standby" | awk -F': *' '/^Database system identifier/ { print $2 }')
[ -n "$sysid" ] || fail "could not read the test standby's system identifier"

PRIMARY=(POSTGRES_PASSWORD="$SUPERPW" POSTGRES_REPLICATION_PASSWORD="$REPLPW")
REPLICA=(POSTGRES_PRIMARY_HOST=127.0.0.1 POSTGRES_PRIMARY_PORT="$LPORT" POSTGRES_REPLICATION_PASSWORD="$REPLPW")

# plan_case NAME PGDATA WANT_RC [VAR=VALUE...]: runs `plan` in the namespace
# and checks the exit status and that PGDATA did not change.
plan_case()
{
    local name=$1 data=$2 want=$3 before after
    shift 3
    before=$(snapshot "$data")
    run_bin "$NS_1" PGDATA="$data" "$@" -- plan
    [ "$RUN_RC" != 124 ] || fail "$name: plan did not return within $RUN_TIMEOUT s"
    expect_rc "$want" "$name"
    after=$(snapshot "$data")
    if [ "$before" != "$after" ]; then
        fail "$name: plan changed PGDATA: $(diff <(echo "$before") <(echo "$after") | head -20)"
    fi
    [ -s "$WORK/listener.hits" ] && fail "$name: plan connected to the primary's address: $(cat "$WORK/listener.hits")"
    log "$name: exit $RUN_RC in $RUN_MS ms"
    return 0
}

show()
{
    printf '\n===== plan: %s (exit %s) =====\n%s\n' "$1" "$RUN_RC" "$RUN_OUT"
    [ -z "$RUN_ERR" ] || printf -- '--- stderr:\n%s\n' "$RUN_ERR"
}

# Primary, PGDATA missing.
plan_case primary-new "$WORK/d/new" 0 "${PRIMARY[@]}" HOSTNAME=db POSTGRES_DB=appdb
show "primary, PGDATA missing"
[ "$(snapshot "$WORK/d/new")" = absent ] || fail "primary-new: PGDATA was created"
out_has '^role: primary$' primary-new
out_has "^PGDATA: $WORK/d/new \\(empty\\)$" primary-new
out_has '^steps:$' primary-new
out_has '^  [0-9]+\. initdb as superuser "postgres" \(password through a pipe\)' "primary-new: initdb"
out_has '^  [0-9]+\. write replication settings \(max_wal_senders 10, wal_keep_size 64MB, max_slot_wal_keep_size 1GB\) and pg_hba "host replication" lines for all$' "primary-new: settings"
out_has '^  [0-9]+\. create replication role "replicator"' "primary-new: replication role"
out_has '^  [0-9]+\. create database "appdb"$' "primary-new: database"
out_has '^  [0-9]+\. exec postgres$' "primary-new: exec"
out_lacks '(reuse|pg_basebackup|WIPE)' primary-new

# The same, with other settings: the plan follows the environment.
plan_case primary-settings "$WORK/d/new" 0 POSTGRES_PASSWORD="$SUPERPW" HOSTNAME=db \
    POSTGRES_MAX_WAL_SENDERS=4 POSTGRES_WAL_KEEP_SIZE=128MB POSTGRES_SYNCHRONOUS_REPLICAS=1 \
    POSTGRES_REPLICATION_ALLOW=10.0.0.0/8
out_has 'write replication settings \(max_wal_senders 4, wal_keep_size 128MB, max_slot_wal_keep_size 1GB, synchronous standbys\) and pg_hba "host replication" lines for 10.0.0.0/8$' "primary-settings"
out_has 'create no replication role: POSTGRES_REPLICATION_PASSWORD is not set' "primary-settings"
out_lacks 'create database' "primary-settings (POSTGRES_DB unset)"

# Primary, existing cluster.
plan_case primary-existing "$WORK/d/cluster" 0 "${PRIMARY[@]}" HOSTNAME=db
show "primary, existing cluster"
out_has '^role: primary$' primary-existing
out_has "^PGDATA: $WORK/d/cluster \\(a cluster that is not a standby\\)$" primary-existing
out_has '^  [0-9]+\. reuse the existing cluster: no initdb' primary-existing
out_lacks 'initdb as|replication settings|replication role' primary-existing

# Replica, empty PGDATA (only a dotfile in it).
plan_case replica-empty "$WORK/d/empty" 0 "${REPLICA[@]}" HOSTNAME=db-replica-1
show "replica, empty PGDATA"
out_has '^role: replica$' replica-empty
out_has "^PGDATA: $WORK/d/empty \\(empty\\)$" replica-empty
out_has "^  [0-9]+\\. wait for the primary at 127\\.0\\.0\\.1:$LPORT$" "replica-empty: wait"
out_has '^  [0-9]+\. verify the credentials of "replicator" with IDENTIFY_SYSTEM$' "replica-empty: IDENTIFY_SYSTEM"
out_has '^  [0-9]+\. create replication slot "db_replica_1" on the primary' "replica-empty: slot"
out_has '^  [0-9]+\. pg_basebackup -X stream --checkpoint=fast -S db_replica_1$' "replica-empty: pg_basebackup"
out_has '^  [0-9]+\. write standby.signal and primary_conninfo' "replica-empty: standby.signal"
out_lacks '(WIPE|initdb)' replica-empty
# the order: wait, identify, slot, clone
order=$(grep -Eo '(wait for the primary|IDENTIFY_SYSTEM|create replication slot|pg_basebackup)' <<<"$RUN_OUT" | tr '\n' ,)
[ "$order" = "wait for the primary,IDENTIFY_SYSTEM,create replication slot,pg_basebackup," ] ||
    fail "replica-empty: steps in the order $order"
plan_case replica-empty-timeout "$WORK/d/empty" 0 "${REPLICA[@]}" HOSTNAME=db-replica-1 \
    POSTGRES_PRIMARY_WAIT_TIMEOUT=30 POSTGRES_REPLICATION_SLOT=none
out_has "wait for the primary at 127\\.0\\.0\\.1:$LPORT, for at most 30 s$" "replica-empty-timeout"
out_has '^  [0-9]+\. pg_basebackup -X stream --checkpoint=fast$' "replica-empty-timeout: no slot"
out_lacks 'create replication slot' "replica-empty-timeout"

# Replica, a standby.
plan_case replica-standby "$WORK/d/standby" 0 "${REPLICA[@]}" HOSTNAME=db-replica-1
show "replica, a standby"
out_has "^PGDATA: $WORK/d/standby \\(a standby\\)$" replica-standby
out_has "^  [0-9]+\\. if it is $sysid or the primary does not answer: start the standby as is; otherwise wipe PGDATA and clone again$" replica-standby
out_lacks '(pg_basebackup|WIPE|IDENTIFY_SYSTEM)' replica-standby
plan_case replica-standby-never "$WORK/d/standby" 0 "${REPLICA[@]}" HOSTNAME=db-replica-1 POSTGRES_RESEED=never
out_has "if it is $sysid or the primary does not answer: start the standby as is; otherwise refuse \\(POSTGRES_RESEED=never\\)" replica-standby-never

# Replica, a cluster that is not a standby: refused.
plan_case replica-cluster "$WORK/d/cluster" 1 "${REPLICA[@]}" HOSTNAME=db-replica-1
show "replica, a cluster that is not a standby"
out_has "^PGDATA: $WORK/d/cluster \\(a cluster that is not a standby\\)$" replica-cluster
grep -Eqi 'refus' <<<"$RUN_OUT$RUN_ERR" || fail "replica-cluster: the plan does not say it refuses: $(run_desc)"
grep -q 'POSTGRES_RESEED=force' <<<"$RUN_OUT$RUN_ERR" || fail "replica-cluster: no mention of POSTGRES_RESEED=force: $(run_desc)"
out_lacks '(pg_basebackup|WIPE|exec postgres)' replica-cluster

# ... with POSTGRES_RESEED=force: wiped, then cloned.
plan_case replica-force "$WORK/d/cluster" 0 "${REPLICA[@]}" HOSTNAME=db-replica-1 POSTGRES_RESEED=force
show "replica, a cluster that is not a standby, POSTGRES_RESEED=force"
out_has '^  [0-9]+\. WIPE the contents of PGDATA' replica-force
out_has '^  [0-9]+\. pg_basebackup -X stream --checkpoint=fast -S db_replica_1$' replica-force
order=$(grep -Eo '(IDENTIFY_SYSTEM|clone marker|WIPE|pg_basebackup)' <<<"$RUN_OUT" | tr '\n' ,)
[ "$order" = "IDENTIFY_SYSTEM,clone marker,WIPE,pg_basebackup," ] ||
    fail "replica-force: steps in the order $order (the wipe must come after the primary answered)"

# Configuration errors: 78, naming the variable.
plan_case config-role "$WORK/d/cluster" 78 "${PRIMARY[@]}" POSTGRES_ROLE=leader
show "configuration error"
err_has 'ERROR +config: .*POSTGRES_ROLE="leader"' config-role
[ -z "$RUN_OUT" ] || fail "config-role: plan printed a plan: $(run_desc)"
plan_case config-replpw "$WORK/d/empty" 78 POSTGRES_PRIMARY_HOST=127.0.0.1 POSTGRES_PRIMARY_PORT="$LPORT" HOSTNAME=db-replica-1
err_has 'ERROR +config: POSTGRES_REPLICATION_PASSWORD is not set' config-replpw
plan_case config-nopw "$WORK/d/new" 78 HOSTNAME=db
err_has 'ERROR +config: .*POSTGRES_PASSWORD is not set' config-nopw
[ "$(snapshot "$WORK/d/new")" = absent ] || fail "config-nopw: PGDATA was created"
run_bin "$NS_1" PGDATA="$WORK/d/cluster" "${PRIMARY[@]}" -- plan extra
expect_rc 64 "plan with an argument"

# (Last, so that a failure here leaves every other case checked.)
# Primary, a cluster another entrypoint made: a start adds the replication
# settings, pg_hba lines and role to it, so the plan must say so, not that
# nothing changes.
plan_case primary-foreign "$WORK/d/foreign" 0 "${PRIMARY[@]}" HOSTNAME=db
show "primary, a cluster made by another entrypoint (plain initdb)"
out_has "^PGDATA: $WORK/d/foreign \\(a cluster that is not a standby\\)$" primary-foreign
out_lacks 'initdb as' primary-foreign
out_lacks 'no changes to its files' "primary-foreign: a start would change its files (the adopt step)"
out_has '(adopt|replication settings|pg_hba|replication role)' "primary-foreign: the adopt step"

# The listener does record a connection (else "no connection" proved nothing).
[ ! -s "$WORK/listener.hits" ] || fail "connections reached the listener: $(cat "$WORK/listener.hits")"
ip netns exec "$NS_1" "$PG_BINDIR/pg_isready" -q -t 1 -h 127.0.0.1 -p "$LPORT" || true
poll 5 "the listener records a probe connection" test -s "$WORK/listener.hits"
log "PASS"
