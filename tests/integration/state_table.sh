#!/bin/bash
# state_table: the replica's data-directory state table (docs/design.md, "The
# data-directory state table"), on real
# clusters, for the states that are not a plain first clone or restart:
#  (c) a directory that is neither empty nor a cluster: a replica and a
#      primary both refuse (exit 1) and leave it exactly as it was;
#  (a) a promoted former replica started again as a replica: refused (exit 1)
#      with a hint at POSTGRES_RESEED=force, its data intact (listing and
#      hashes); with POSTGRES_RESEED=force it is wiped, cloned, and streams;
#  (d) a replica whose slot was dropped on the primary while it was stopped:
#      the restart says the slot was created again, and it streams through it;
#  (g) that replica, healthy, restarted with POSTGRES_RESEED=force: it says
#      so (not that the primary was re-created), discards the old copy
#      (nothing of it left, no trash directory) and streams;
#  (e) a second start on the PGDATA of a running replica, and of a running
#      primary: refused (exit 1, "in use"), the running servers unaffected;
#  (f) a replica keeps running while its primary restarts, and a row written
#      after the restart arrives;
#  (b) a standby whose primary was re-created (a new cluster, another system
#      identifier, at the same address): with POSTGRES_RESEED=never it refuses
#      and keeps its data; by default it says so, re-clones and streams from
#      the new primary.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_faults.sh"
it_setup 1000
fx_trap
net_pair
P_PORT=55710

# same_snapshot BEFORE DIR WHAT
same_snapshot()
{
    local after
    after=$(snapshot "$2")
    [ "$1" = "$after" ] || fail "$3: PGDATA changed: $(diff <(echo "$1") <(echo "$after") | head -20)"
}

# refused ID WHAT: the instance exits 1 without touching anything.
refused()
{
    local id=$1
    wait_exit "$id" 20 || fail "$2: $id still runs after 20 s, want a refusal"
    [ "$EXIT_RC" = 1 ] || fail "$2: exit status $EXIT_RC, want 1"
    assert_log_lacks "${ILOG[$id]}" "$(step_re '(wipe|clone|initdb)')" "$2: $id started to change the data"
    assert_log_lacks "${ILOG[$id]}" "$(step_re exec)starting postgres" "$2: $id started postgres"
    log "$2: refused: $(grep -m1 'ERROR' "${ILOG[$id]}" | sed 's/.*ERROR *//' | cut -c1-200)"
}

launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p"
wait_ready p
q p "create table t (id int primary key, v text); insert into t values (1, 'first')"
P_SYSID=$(q p "select system_identifier from pg_control_system()")
N=1
# row_arrives PRIMARY REPLICA WHAT: a new row on the primary reaches the replica.
row_arrives()
{
    N=$((N + 1))
    q "$1" "insert into t values ($N, '$3')"
    poll 30 "$3: the row written on $1 reaches $2" q_is "$2" "select v from t where id = $N" "$3"
    poll 20 "$3: $2's WAL receiver streams" q_is "$2" 'select status from pg_stat_wal_receiver' streaming
}

# ---- (c) not a cluster, not empty -----------------------------------------------
dir="$WORK/c-notcluster"
mkdir -p "$dir/sub"
echo "the user's notes $RANDOM" >"$dir/notes.txt"
echo "more $RANDOM" >"$dir/sub/file"
echo "hidden $RANDOM" >"$dir/.dotfile"
chmod 755 "$dir"
before=$(snapshot "$dir")
launch_replica rc "$NS_R" "$R_ADDR" 55712 "$dir"
refused rc "(c) replica on a non-cluster directory"
assert_log_has "${ILOG[rc]}" "PGDATA \"$dir\" is not empty and not a PostgreSQL cluster; refusing to touch it" \
    "(c) the replica names the state"
assert_log_has "${ILOG[rc]}" 'hint: .*POSTGRES_RESEED=force' "(c) the replica hints at POSTGRES_RESEED=force"
same_snapshot "$before" "$dir" "(c) replica"
launch_primary pc "$NS_P" "$P_ADDR" 55713 "$dir"
refused pc "(c) primary on a non-cluster directory"
assert_log_has "${ILOG[pc]}" "refusing to initialise a primary there" "(c) the primary refuses"
same_snapshot "$before" "$dir" "(c) primary"
[ "$(q p "select count(*) from pg_replication_slots where slot_name = 'rc'")" = 0 ] || fail "(c) a slot was created"

# ---- (a) a promoted former replica ---------------------------------------------------
launch_replica ra "$NS_R" "$R_ADDR" 55711 "$WORK/ra"
wait_ready ra
poll 20 "(a) the first row reaches ra" q_is ra 'select v from t where id = 1' first
[ "$(q ra 'select pg_promote()')" = t ] || fail "(a) pg_promote() failed"
poll 20 "(a) ra leaves recovery" q_is ra 'select pg_is_in_recovery()' f
q ra "create table written_after_promotion (x int); insert into written_after_promotion values (42)"
stop ra INT
[ "$EXIT_RC" = 0 ] || fail "(a) the promoted replica exited with status $EXIT_RC on SIGINT"
[ ! -e "$WORK/ra/standby.signal" ] || fail "(a) standby.signal survived the promotion"
before=$(snapshot "$WORK/ra")
launch_replica ra "$NS_R" "$R_ADDR" 55711 "$WORK/ra"
refused ra "(a) promoted replica restarted as a replica"
assert_log_has "${ILOG[ra]}" "PGDATA \"$WORK/ra\" holds a cluster that is not a standby .*refusing to overwrite it" \
    "(a) the refusal names the state"
assert_log_has "${ILOG[ra]}" 'hint: .*POSTGRES_RESEED=force' "(a) the refusal hints at POSTGRES_RESEED=force"
same_snapshot "$before" "$WORK/ra" "(a) refused"
launch_replica ra "$NS_R" "$R_ADDR" 55711 "$WORK/ra" POSTGRES_RESEED=force
wait_ready ra
assert_log_has "${ILOG[ra]}" "is a cluster that is not a standby; POSTGRES_RESEED=force: wiping it and cloning again" \
    "(a) the forced start says why it wipes"
assert_log_has "${ILOG[ra]}" "$(step_re wipe)done in" "(a) the forced start wiped"
assert_log_has "${ILOG[ra]}" "$(step_re clone)done in" "(a) the forced start cloned"
[ "$(q ra "select to_regclass('written_after_promotion') is null")" = t ] ||
    fail "(a) the table written after the promotion survived the re-clone"
[ "$(q ra 'select system_identifier from pg_control_system()')" = "$P_SYSID" ] || fail "(a) ra is not a copy of p"
row_arrives p ra "(a) after the forced re-clone"
stop ra INT

# ---- (d) the slot was dropped while the replica was stopped ----------------------
launch_replica r "$NS_R" "$R_ADDR" 55714 "$WORK/r"
wait_ready r
row_arrives p r "(d) first clone"
stop r INT
fx_drop_slot p r
row_arrives_later=$((N + 1))
q p "insert into t values ($row_arrives_later, '(d) written while r was stopped')"
N=$row_arrives_later
launch_replica r "$NS_R" "$R_ADDR" 55714 "$WORK/r"
wait_ready r
assert_log_has "${ILOG[r]}" "replication slot \"r\" was missing on the primary and has been created again" \
    "(d) the restart says it created the slot again"
assert_log_lacks "${ILOG[r]}" "$(step_re '(wipe|clone)')" "(d) the restart re-cloned"
poll 30 "(d) the row written while r was stopped arrives" q_is r "select v from t where id = $N" '(d) written while r was stopped'
row_arrives p r "(d) after the slot was created again"
[ "$(q p "select active from pg_replication_slots where slot_name = 'r'")" = t ] || fail "(d) r does not stream through its slot"

# ---- (g) a healthy standby re-seeded on request -----------------------------------
stop r INT
echo "from the old copy" >"$WORK/r/old-copy-file"
launch_replica r "$NS_R" "$R_ADDR" 55714 "$WORK/r" POSTGRES_RESEED=force
wait_ready r
assert_log_has "${ILOG[r]}" "is a standby; POSTGRES_RESEED=force: wiping it and cloning again" \
    "(g) the forced re-seed of a standby says why it wipes"
assert_log_lacks "${ILOG[r]}" "it was re-created" "(g) the forced re-seed claims the primary was re-created"
assert_log_has "${ILOG[r]}" "$(step_re wipe)done in" "(g) the forced re-seed wiped"
[ ! -e "$WORK/r/old-copy-file" ] || fail "(g) a file of the old copy survived the re-seed"
[ ! -e "$WORK/r/.pg-entrypoint-trash" ] || fail "(g) the old copy's trash directory is still there"
row_arrives p r "(g) after the forced re-seed"

# ---- (e) two instances on one PGDATA ------------------------------------------------
for target in r p; do
    if [ "$target" = r ]; then
        pidf_before=$(sha256sum <"$WORK/r/postmaster.pid")
        launch_replica r-dup "$NS_R" "$R_ADDR" 55715 "$WORK/r"
        dup="r-dup"
    else
        pidf_before=$(sha256sum <"$WORK/p/postmaster.pid")
        launch_primary p-dup "$NS_P" "$P_ADDR" 55716 "$WORK/p"
        dup="p-dup"
    fi
    refused "$dup" "(e) a second start on the PGDATA of the running $target"
    assert_log_has "${ILOG[$dup]}" "PGDATA \"$WORK/$target\" is in use by another pg-entrypoint or its postgres" \
        "(e) the second start on $target's PGDATA says it is in use"
    running "$target" || fail "(e) $target stopped"
    [ "$(sha256sum <"$WORK/$target/postmaster.pid")" = "$pidf_before" ] || fail "(e) $target's postmaster.pid changed"
done
[ "$(q p "select count(*) from pg_replication_slots where slot_name = 'r_dup'")" = 0 ] || fail "(e) r-dup created a slot"
row_arrives p r "(e) after the refused second starts"

# ---- (f) the primary restarts under a running replica ---------------------------
r_pid=${CPID[r]}
stop p INT
[ "$EXIT_RC" = 0 ] || fail "(f) the primary exited with status $EXIT_RC on SIGINT"
launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p"
wait_ready p
row_arrives p r "(f) after the primary restarted"
if ! running r || [ "${CPID[r]}" != "$r_pid" ]; then fail "(f) the replica did not keep running"; fi

# ---- (b) the primary was re-created -------------------------------------------------
stop r INT
stop p INT
launch_primary p2 "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p2"
wait_ready p2
q p2 "create table t (id int primary key, v text); insert into t values (1, 'new primary')"
P2_SYSID=$(q p2 "select system_identifier from pg_control_system()")
[ "$P2_SYSID" != "$P_SYSID" ] || fail "(b) the new primary has the old system identifier"
before=$(snapshot "$WORK/r")
launch_replica r "$NS_R" "$R_ADDR" 55714 "$WORK/r" POSTGRES_RESEED=never
refused r "(b) POSTGRES_RESEED=never against a re-created primary"
assert_log_has "${ILOG[r]}" "is a standby of system $P_SYSID, but the primary runs system $P2_SYSID and POSTGRES_RESEED=never" \
    "(b) the refusal names both system identifiers"
same_snapshot "$before" "$WORK/r" "(b) POSTGRES_RESEED=never"
launch_replica r "$NS_R" "$R_ADDR" 55714 "$WORK/r"
wait_ready r
assert_log_has "${ILOG[r]}" "is a standby of system $P_SYSID, but the primary now runs system $P2_SYSID \(it was re-created\): discarding this copy and cloning again" \
    "(b) the replica says the primary was re-created"
assert_log_has "${ILOG[r]}" "$(step_re wipe)done in" "(b) the replica wiped the old copy"
assert_log_has "${ILOG[r]}" "$(step_re clone)done in" "(b) the replica cloned the new primary"
[ "$(q r 'select system_identifier from pg_control_system()')" = "$P2_SYSID" ] || fail "(b) r is not a copy of the new primary"
[ "$(q r 'select v from t where id = 1')" = 'new primary' ] || fail "(b) the new primary's row is not on r"
N=1
row_arrives p2 r "(b) streamed from the new primary"
assert_no_secret "$WORK"/*.log
log "PASS"
