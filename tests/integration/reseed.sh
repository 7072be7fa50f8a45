#!/bin/bash
# reseed: how a replica that clones again discards its old copy
# (entrypoint/discard.c), on real clusters:
#  (1) a healthy standby restarted with POSTGRES_RESEED=force: the old copy is
#      set aside in PGDATA/.pg-entrypoint-trash and deleted while the clone
#      runs; nothing of it is left, no trash directory, and it streams. Its
#      pg_wal was a link to a directory that also holds a file that is not
#      WAL: only the link goes, with a warning, and that file survives;
#  (2) on a volume with less space free than in use (a 400 MB tmpfs with a
#      250 MB file next to PGDATA), the old contents go before the clone
#      starts, and the log says why, with the figures;
#  (3) with a tmpfs mounted below PGDATA, nothing is set aside and no clone
#      starts: the wipe refuses the mount up front (exit 1), and the file on
#      the mount is intact.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_faults.sh"
it_setup 310
fx_trap
net_pair
P_PORT=55760

launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p"
wait_ready p
q p "create table t (id int primary key, v text); insert into t values (1, 'first')"

# ---- (1) overlap; a pg_wal link to a directory that is not only WAL ------------------
launch_replica r1 "$NS_R" "$R_ADDR" 55761 "$WORK/r1"
wait_ready r1
poll 30 "(1) the first row reaches r1" q_is r1 "select v from t where id = 1" first
stop r1 INT
mv "$WORK/r1/pg_wal" "$WORK/r1-wal"
ln -s "$WORK/r1-wal" "$WORK/r1/pg_wal"
echo "not WAL" >"$WORK/r1-wal/notes.txt"
echo "from the old copy" >"$WORK/r1/old-copy-file"
launch_replica r1 "$NS_R" "$R_ADDR" 55761 "$WORK/r1" POSTGRES_RESEED=force
wait_ready r1
assert_log_has "${ILOG[r1]}" \
    "$(step_re wipe)removing the old contents of \"$WORK/r1\" \(set aside in \.pg-entrypoint-trash, while the clone runs\)" \
    "(1) the old copy was not set aside"
assert_log_has "${ILOG[r1]}" "$(step_re wipe)done in" "(1) the deletion did not finish"
assert_log_has "${ILOG[r1]}" "not emptying \"$WORK/r1-wal\", the target of the pg_wal link in \"$WORK/r1\"" \
    "(1) no warning about the pg_wal link's target"
[ -f "$WORK/r1-wal/notes.txt" ] || fail "(1) the file next to the old WAL was deleted"
[ ! -e "$WORK/r1/old-copy-file" ] || fail "(1) a file of the old copy survived the re-seed"
[ ! -e "$WORK/r1/.pg-entrypoint-trash" ] || fail "(1) the trash directory is still there"
[ -d "$WORK/r1/pg_wal" ] && [ ! -L "$WORK/r1/pg_wal" ] || fail "(1) the new copy's pg_wal is not its own directory"
q p "insert into t values (2, 'after the re-seed')"
poll 30 "(1) a row written after the re-seed reaches r1" q_is r1 "select v from t where id = 2" 'after the re-seed'
stop r1 INT

# ---- (2) not enough room for both copies ----------------------------------------------
fx_tmpfs small 400m
mkdir "$WORK/small/r2"
echo "not a cluster" >"$WORK/small/r2/junk"
head -c 250M /dev/zero >"$WORK/small/filler"
launch_replica r2 "$NS_R" "$R_ADDR" 55762 "$WORK/small/r2" POSTGRES_RESEED=force
wait_ready r2
assert_log_has "${ILOG[r2]}" "\"$WORK/small/r2\" has [0-9]+ MB free and [0-9]+ MB in use: the old copy goes before the clone starts" \
    "(2) the log does not say why the old copy goes first"
assert_log_has "${ILOG[r2]}" "$(step_re wipe)removing the old contents of \"$WORK/small/r2\"$" \
    "(2) the old copy was not wiped before the clone"
assert_log_lacks "${ILOG[r2]}" "set aside in" "(2) the old copy was set aside on a volume without room"
[ ! -e "$WORK/small/r2/junk" ] || fail "(2) the old contents survived"
poll 30 "(2) r2 streams" q_is r2 'select status from pg_stat_wal_receiver' streaming
stop r2 INT

# ---- (3) a mount below PGDATA ----------------------------------------------------------
mkdir -p "$WORK/r3/base"
echo "not a cluster" >"$WORK/r3/junk"
fx_tmpfs r3/base/sub 8m
echo "on another file system" >"$WORK/r3/base/sub/on-other-mount"
launch_replica r3 "$NS_R" "$R_ADDR" 55763 "$WORK/r3" POSTGRES_RESEED=force
wait_exit r3 30 || fail "(3) r3 still runs after 30 s, want a refusal"
[ "$EXIT_RC" = 1 ] || fail "(3) exit status $EXIT_RC, want 1"
assert_log_has "${ILOG[r3]}" "something is mounted below \"$WORK/r3\": not setting its contents aside" \
    "(3) the mount below PGDATA was not noticed before setting aside"
assert_log_has "${ILOG[r3]}" "is another mount; refusing to cross it" "(3) the wipe did not refuse the mount"
assert_log_lacks "${ILOG[r3]}" "$(step_re clone)pg_basebackup from" "(3) a clone started"
[ ! -e "$WORK/r3/.pg-entrypoint-trash" ] || fail "(3) something was set aside"
[ -f "$WORK/r3/base/sub/on-other-mount" ] || fail "(3) the file on the other mount is gone"

assert_no_secret "$WORK"/*.log
log "PASS"
