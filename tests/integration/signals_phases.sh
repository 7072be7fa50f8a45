#!/bin/bash
# signals_phases: a stop signal in each phase before postgres runs ends the
# entrypoint (PID 1 of its namespace) promptly with 128+signal, and leaves a
# data directory that the next start handles:
#  - waiting for a primary that is not there yet (SIGTERM): the next start,
#    with the primary up, clones and streams;
#  - wiping (SIGTERM as soon as the log says `wipe:`): a cluster that is not
#    a standby, with 100k small files, re-seeded with POSTGRES_RESEED=force;
#    the wipe stops half way (so does the clone it overlaps), the clone
#    marker stays, and the next start,
#    without POSTGRES_RESEED, wipes and clones;
#  - cloning (SIGTERM, then SIGINT on the next start's clone): the marker
#    stays; the next start wipes and clones;
#  - a primary's initdb (SIGTERM as soon as the log says `initdb:`): the next
#    start initialises normally;
#  - a primary's init script (a /docker-entrypoint-initdb.d script that sleeps
#    30 s): the script and the temporary server are stopped, and the next
#    start refuses the half-made cluster with the message about an
#    initialisation that did not finish.
# The time to exit is printed; the 10 s bound is only a hang guard (ten times
# the longest measured, 0.8 s; see lib.sh).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_faults.sh"
it_setup 1000
fx_trap
net_pair
P_PORT=55720
R_PORT=55721
fx_tmpfs fast 1g
FAST=$WORK/fast
TIMES=()

# signal_phase ID SIGNAL WANT PHASE: sends SIGNAL to the instance's PID 1 and
# checks that it exits with WANT within 5 s, with nothing left behind.
signal_phase()
{
    local id=$1 sig=$2 want=$3 phase=$4 t0 ms ns
    ns=${INS[$id]}
    running "$id" || { wait_exit "$id" 1 || true; fail "$phase: $id exited ($EXIT_RC) before SIG$sig"; }
    t0=$(date +%s%N)
    kill "-$sig" "${CPID[$id]}"
    wait_exit "$id" 10 || fail "$phase: $id (PID 1) did not exit within 10 s of SIG$sig"
    ms=$(fx_ms_since "$t0")
    log "$phase: SIG$sig -> exit status $EXIT_RC after $ms ms"
    TIMES+=("$(printf '%-28s SIG%-4s exit %s after %5d ms' "$phase" "$sig" "$EXIT_RC" "$ms")")
    [ "$EXIT_RC" = "$want" ] || fail "$phase: exit status $EXIT_RC after SIG$sig, want $want"
    assert_log_has "${ILOG[$id]}" "$(step_re stop)stopped by signal" "$phase: the log says it was stopped"
    assert_log_lacks "${ILOG[$id]}" "$(step_re exec)starting postgres" "$phase: it started postgres"
}

# replica_converges ID DATA WHAT [VAR=VALUE...]: starts the replica on DATA
# and waits for a streaming copy of the primary.
replica_converges()
{
    local id=$1 data=$2 what=$3 n
    shift 3
    launch_replica "$id" "$NS_R" "$R_ADDR" "$R_PORT" "$data" "$@"
    wait_ready "$id"
    poll 30 "$what: $id streams" q_is "$id" 'select status from pg_stat_wal_receiver' streaming
    n=$(q p "insert into marks (note) values ('$what') returning id")
    poll 20 "$what: a new row reaches $id" q_is "$id" "select note from marks where id = $n" "$what"
    [ "$(q "$id" "select count(*) from big")" = "$BIG_ROWS" ] || fail "$what: $id lacks rows of big"
    [ ! -e "$data/.pg-entrypoint-clone-in-progress" ] || fail "$what: the clone marker is still there"
}

# ---- waiting: the primary is not there yet ---------------------------------------------
launch_replica rw "$NS_R" "$R_ADDR" "$R_PORT" "$FAST/rw"
fx_wait_log rw "$(step_re wait)waiting for the primary at $P_ADDR:$P_PORT" 10 || fail "rw does not wait for the primary"
sleep 0.3
signal_phase rw TERM 143 waiting
left=$(find "$FAST/rw" -mindepth 1 -maxdepth 1 -printf '%f ')
[ -z "$left" ] || fail "waiting: PGDATA is not empty: $left"

launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p"
wait_ready p
q p "create table big (id int primary key, pad text)"
q p "insert into big select g, repeat(md5(g::text), 30) from generate_series(1, 30000) g"
q p "create table marks (id serial primary key, note text)"
BIG_ROWS=30000
replica_converges rw "$FAST/rw" "after SIGTERM while waiting"
assert_log_has "${ILOG[rw]}" "PGDATA \"$FAST/rw\" is empty" "waiting: the next start found an empty PGDATA"
stop rw INT

# ---- wiping: a forced re-seed of a non-standby cluster with many files ---------------
rm "$FAST/rw/standby.signal"
mkdir "$FAST/rw/base/99999"
( cd "$FAST/rw/base/99999" && for d in $(seq 1 100); do mkdir "$d" && (cd "$d" && seq 1 1000 | xargs touch); done )
chown -R postgres: "$FAST/rw/base/99999"
files_before=$(find "$FAST/rw" -type f | wc -l)
launch_replica rw "$NS_R" "$R_ADDR" "$R_PORT" "$FAST/rw" POSTGRES_RESEED=force
fx_wait_log rw "$(step_re wipe)removing the old contents" 20 || fail "wiping: the log never said wipe:"
signal_phase rw TERM 143 wiping
# (the old copy is set aside and deleted while the clone starts: the stop
# ends both, and the wipe says where it stopped)
assert_log_has "${ILOG[rw]}" "$(step_re wipe)stopped before \"$FAST/rw(/\.pg-entrypoint-trash)?\" was empty" \
    "wiping: the signal did not arrive while the wipe ran (the wipe was too fast?)"
assert_log_lacks "${ILOG[rw]}" "$(step_re clone)done in" "wiping: it went on to finish the clone"
files_after=$(find "$FAST/rw" -type f | wc -l)
log "wiping: $files_before files before, $files_after after the stopped wipe"
[ "$files_after" -gt 1 ] || fail "wiping: the wipe had finished; nothing was interrupted"
[ -f "$FAST/rw/.pg-entrypoint-clone-in-progress" ] || fail "wiping: no clone marker after a stopped wipe"
replica_converges rw "$FAST/rw" "after SIGTERM while wiping"
assert_log_has "${ILOG[rw]}" "is an interrupted clone; nothing in it is usable: wiping it and cloning again" \
    "wiping: the next start (without POSTGRES_RESEED) saw an interrupted clone"
[ ! -e "$FAST/rw/base/99999" ] || fail "wiping: the files of the old cluster survived"
stop rw INT

# ---- cloning: SIGTERM, then SIGINT on the next start ----------------------------------------
fx_throttle "$NS_P" 40mbit
for case in TERM:143 INT:130; do
    sig=${case%%:*}
    launch_replica rcl "$NS_R" "$R_ADDR" "$R_PORT" "$FAST/rcl"
    # (the second start first wipes what the first left in the staging directory)
    fx_wait_log rcl "$(step_re clone)pg_basebackup from" 20 || fail "cloning: pg_basebackup did not start"
    fx_wait_kb rcl "$FAST/rcl/.pg-entrypoint-clone/base" 2048 30 || fail "cloning: the copy did not start"
    signal_phase rcl "$sig" "${case##*:}" "cloning"
    assert_log_has "${ILOG[rcl]}" "$(step_re clone)pg_basebackup was terminated by signal" "cloning: pg_basebackup got the signal"
    [ -f "$FAST/rcl/.pg-entrypoint-clone-in-progress" ] || fail "cloning: no clone marker after SIG$sig"
    log "cloning: left behind: $(fx_dirstate "$FAST/rcl")"
done
fx_unthrottle "$NS_P"
replica_converges rcl "$FAST/rcl" "after SIGTERM and SIGINT while cloning"
assert_log_has "${ILOG[rcl]}" "is an interrupted clone; nothing in it is usable: wiping it and cloning again" \
    "cloning: the next start saw an interrupted clone"
stop rcl INT

# ---- a primary's initdb --------------------------------------------------------------------
launch_primary pi "$NS_P" "$P_ADDR" 55724 "$WORK/pi"
fx_wait_log pi "$(step_re initdb)initialising the cluster" 20 || fail "initdb: the log never said initdb:"
signal_phase pi TERM 143 initdb
assert_log_lacks "${ILOG[pi]}" "$(step_re initdb)done in" "initdb: the signal came after initdb had finished"
log "initdb: left behind: $(find "$WORK/pi" -mindepth 1 | wc -l) entries"
launch_primary pi "$NS_P" "$P_ADDR" 55724 "$WORK/pi"
wait_ready pi
assert_log_has "${ILOG[pi]}" "$(step_re initdb)done in" "initdb: the next start ran initdb"
[ "$(q pi 'select 1')" = 1 ] || fail "initdb: the superuser cannot log in after the next start"
[ "$(q pi "select count(*) from pg_roles where rolname = 'replicator' and rolreplication")" = 1 ] ||
    fail "initdb: the next start did not create the replication role"
[ ! -e "$WORK/pi/pg-entrypoint-init-incomplete" ] || fail "initdb: the init marker is still there"
stop pi INT

# ---- a primary's initdb half way: it has begun to write the cluster ----------------------
launch_primary pi2 "$NS_P" "$P_ADDR" 55726 "$WORK/pi2"
fx_wait_log pi2 "$(step_re initdb)initialising the cluster" 20 || fail "initdb half way: the log never said initdb:"
for _ in $(seq 1 500); do
    [ -d "$WORK/pi2/base" ] && break
    sleep 0.01
done
[ -d "$WORK/pi2/base" ] || fail "initdb half way: initdb did not create base/ within 5 s"
signal_phase pi2 TERM 143 "initdb (half way)"
assert_log_lacks "${ILOG[pi2]}" "$(step_re initdb)done in" "initdb half way: the signal came after initdb had finished"
log "initdb half way: left behind: $(find "$WORK/pi2" -mindepth 1 -maxdepth 1 -printf '%f ')"
launch_primary pi2 "$NS_P" "$P_ADDR" 55726 "$WORK/pi2"
wait_ready pi2
assert_log_has "${ILOG[pi2]}" "$(step_re initdb)done in" "initdb half way: the next start ran initdb"
[ "$(q pi2 'select 1')" = 1 ] || fail "initdb half way: the superuser cannot log in after the next start"
stop pi2 INT

# ---- a primary's init script ---------------------------------------------------------------
mkdir -m 755 "$WORK/initdb.d"
cat >"$WORK/initdb.d/10-sleep.sh" <<'EOF'
#!/bin/sh
echo "10-sleep.sh: sleeping 30 s"
sleep 30
echo "10-sleep.sh: done"
EOF
chmod 755 "$WORK/initdb.d/10-sleep.sh"
# Only this instance sees the directory at the fixed path, in a private root
# (lib.sh's private_root): nothing is made on the host.
private_root
mkdir "$WORK/root-ps"
LAUNCH_EXEC=("$WORK/private-root" "$WORK/root-ps" "$WORK/initdb.d" "$BIN")
# The temporary server listens where PGPORT and PGHOST say (as in the
# official image; defaults 5432 and /var/run/postgresql): both point into
# this test's own directory, so that its socket cannot meet another server's.
launch_primary ps "$NS_P" "$P_ADDR" 55725 "$WORK/ps" PGPORT=55725 PGHOST="$WORK/sock-ps"
fx_wait_log ps "$(step_re initdb.d)running /docker-entrypoint-initdb.d/10-sleep.sh" 300 ||
    fail "init scripts: 10-sleep.sh never ran"
# The script is in its sleep once it has said so (a condition, not a pause).
out=${ILOG[ps]%.log}.out
poll 60 "init script: 10-sleep.sh says it sleeps" grep -q '10-sleep.sh: sleeping' "$out"
signal_phase ps TERM 143 "init script"
grep -q '10-sleep.sh: sleeping' "$out" || fail "init script: the script did not run (nothing in $(basename "$out"))"
assert_log_lacks "$out" "10-sleep.sh: done" "init script: the script ran to its end"
[ ! -e "$WORK/ps/postmaster.pid" ] || fail "init script: the temporary server was not stopped (postmaster.pid remains)"
[ -f "$WORK/ps/pg-entrypoint-init-incomplete" ] || fail "init script: no init marker after a stopped init"
launch_primary ps "$NS_P" "$P_ADDR" 55725 "$WORK/ps" PGPORT=55725 PGHOST="$WORK/sock-ps"
wait_exit ps 20 || fail "init script: the next start still runs after 20 s, want a refusal"
[ "$EXIT_RC" = 1 ] || fail "init script: the next start exited with status $EXIT_RC, want 1"
assert_log_has "${ILOG[ps]}" "the initialisation of PGDATA \"$WORK/ps\" did not finish" \
    "init script: the next start names the unfinished initialisation"
assert_log_lacks "${ILOG[ps]}" "running /docker-entrypoint-initdb.d" "init script: the next start ran the scripts again"
LAUNCH_EXEC=()

printf '\n'
printf '%s\n' "${TIMES[@]}"
log "PASS"
