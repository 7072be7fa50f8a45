#!/bin/bash
# faults.d/rejoin.sh: the rejoin's fault points (entrypoint/rewind.c), the
# second part of faults.sh's fault matrix, which runs this script and adds
# its FAULT lines to its table (not a test of its own: CMake lists only the
# *.sh directly in tests/integration). Two nodes, a and b, with POSTGRES_PEERS naming
# both; each point starts from "old primary, new primary": the old one
# wrote rows only it has (an update of every other row of a 20 MB table, and
# a marker row) while cut off, was killed, and the other was promoted and
# wrote a row. The old one is then started with its primary environment and
# the fault hits its rejoin:
#  - SIGKILL as soon as the rewind marker is there (before pg_rewind copies);
#  - SIGKILL while pg_rewind copies (after its "servers diverged" line);
#  - SIGTERM while pg_rewind copies: the start ends with 143; the time from
#    the signal to its end is printed (the issue asks for at most 1 s);
#  - SIGKILL to pg_rewind right after it removed the marker file (it removes
#    every file only the target has before it writes the data it fetched):
#    the start's marker on PGDATA itself (an extended attribute) is still
#    there (emulated: the marker set and pg_rewind run by hand, as the start
#    does);
#  - pg_rewind finished but the settings not written (emulated: pg_rewind
#    run by hand, as the start runs it): pg_control says "in archive
#    recovery", no standby.signal, and the new primary's promotion record
#    is there, copied.
# Each must converge on the next start (same environment): the old primary
# is the new one's standby, streams, has every row the new one has, and not
# its own. The roles then swap for the next point.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../lib_rejoin.sh"
it_setup 900
net_trio
declare -A NSOF=([a]=$NS_P [b]=$NS_R) ADDROF=([a]=$P_ADDR [b]=$R_ADDR) PORTOF=([a]=55948 [b]=55949)
PEERS="POSTGRES_PEERS=$P_ADDR:55948,$R_ADDR:55949"
BIG_SQL="select count(*) || ' rows, hash sum ' || sum(hashtext(pad)::bigint) from big"
MARKS_SQL="select string_agg(note, ',' order by id) from marks"

has_xattr() { python3 -c 'import os, sys; os.getxattr(sys.argv[1], "user.pg-entrypoint.rewind-in-progress")' "$1" 2>/dev/null; }

# rewind_by_hand [&]: pg_rewind as the start runs it (a killed postmaster's
# stale pid file removed first), as postgres, password from a file.
rewind_by_hand()
{
    ip netns exec "${NSOF[$OLD]}" runuser -u postgres -- env PGPASSFILE="$WORK/pgpass" \
        "$PG_BINDIR/pg_rewind" --target-pgdata="$WORK/$OLD" --no-sync \
        --source-server="host=${ADDROF[$NEW]} port=${PORTOF[$NEW]} user=replicator dbname=postgres"
}

start_node() { local id=$1; shift; launch_primary "$id" "${NSOF[$id]}" "${ADDROF[$id]}" "${PORTOF[$id]}" "$WORK/$id" "$PEERS" "$@"; }

# wait_log ID REGEX SECONDS: until the instance's log has a matching line.
wait_log()
{
    local i
    for i in $(seq 1 $(($3 * 50))); do
        grep -Eq -- "$2" "${ILOG[$1]}" && return 0
        running "$1" || fail "$1 ended before its log had /$2/"
        sleep 0.02
    done
    fail "$1's log has no /$2/ after $3 s"
}

start_node a
wait_ready a
rewind_prereqs a
stop a INT
start_node a
wait_ready a 60
q a "create table big (id int primary key, pad text)"
q a "insert into big select g, repeat(md5(g::text), 6) from generate_series(1, 80000) g"
q a "create table marks (id serial primary key, note text not null)"
q a "insert into marks (note) values ('setup')"
start_node b POSTGRES_PRIMARY_HOST="$P_ADDR" POSTGRES_PRIMARY_PORT=55948
wait_ready b 60
poll 60 "b has the setup" q_is b "$MARKS_SQL" setup
OLD=a
NEW=b
PROMOTE_CHECKPOINT=1 # as `pg-entrypoint promote` does (and the 20 MB make a spread one slow)

# diverge POINT: OLD writes alone and is killed; NEW is promoted and writes.
diverge()
{
    log "===== FAULT $1: $OLD is the old primary, $NEW the new one ====="
    net_cut "${NSOF[$NEW]}"
    q "$OLD" "update big set pad = pad || 'x' where id % 2 = 0"
    q "$OLD" "insert into marks (note) values ('only on $OLD before $1')"
    stop "$OLD" KILL
    promote_node "$NEW" "$WORK/$NEW"
    net_mend "${NSOF[$NEW]}"
    q "$NEW" "insert into marks (note) values ('on $NEW before $1')"
}

# converge POINT: the next start of OLD, without a fault; then swap.
converge()
{
    local t0=$(date +%s%N) ms
    start_node "$OLD"
    wait_ready "$OLD" 120
    poll 60 "$1: $OLD is in recovery" q_is "$OLD" "select pg_is_in_recovery()" t
    poll 60 "$1: $OLD has every row of $NEW" q_is "$OLD" "$MARKS_SQL" "$(q "$NEW" "$MARKS_SQL")"
    q_is "$OLD" "select count(*) from marks where note like 'only on%'" 0 || fail "$1: $OLD kept a divergent row"
    [ "$(q "$OLD" "$BIG_SQL")" = "$(q "$NEW" "$BIG_SQL")" ] || fail "$1: the big table differs"
    poll 30 "$1: $OLD streams" q_is "$OLD" "select status from pg_stat_wal_receiver" streaming
    writable "$NEW" || fail "$1: $NEW is not writable"
    [ ! -e "$WORK/$OLD/.pg-entrypoint-rewind-in-progress" ] || fail "$1: the rewind marker is still there"
    ! has_xattr "$WORK/$OLD" || fail "$1: PGDATA still has the rewind mark"
    [ ! -e "$WORK/$OLD/pg-entrypoint-promoted" ] || fail "$1: $OLD holds a promotion record"
    ms=$((($(date +%s%N) - t0) / 1000000))
    printf 'FAULT %s: pass, converged in %d.%d s\n' "$1" $((ms / 1000)) $((ms % 1000 / 100))
    local t=$OLD
    OLD=$NEW
    NEW=$t
}

# ---- SIGKILL at the marker ------------------------------------------------------------
diverge kill_at_marker
start_node "$OLD"
poll 60 "the rewind marker appears" test -e "$WORK/$OLD/.pg-entrypoint-rewind-in-progress"
kill -KILL "${CPID[$OLD]}"
wait_exit "$OLD" 20 || fail "kill_at_marker: $OLD did not end"
converge kill_at_marker
assert_log_has "${ILOG[$NEW]}" "is a cluster whose rewind \(pg_rewind\) was interrupted; nothing in it is usable: wiping it and cloning again" \
    "kill_at_marker: the next start did not re-seed the interrupted rewind"

# ---- SIGKILL while pg_rewind copies ----------------------------------------------------
diverge kill_during_rewind
start_node "$OLD"
wait_log "$OLD" "pg_rewind: servers diverged at" 60
kill -KILL "${CPID[$OLD]}"
wait_exit "$OLD" 20 || fail "kill_during_rewind: $OLD did not end"
[ -z "$(ip netns pids "${NSOF[$OLD]}")" ] || fail "kill_during_rewind: processes remain: $(ip netns pids "${NSOF[$OLD]}")"
converge kill_during_rewind
assert_log_has "${ILOG[$NEW]}" "rewind \(pg_rewind\) was interrupted; nothing in it is usable: wiping it" \
    "kill_during_rewind: the next start did not re-seed"

# ---- SIGTERM while pg_rewind copies ----------------------------------------------------
diverge sigterm_during_rewind
start_node "$OLD"
wait_log "$OLD" "pg_rewind: servers diverged at" 60
t0=$(date +%s%N)
kill -TERM "${CPID[$OLD]}"
wait_exit "$OLD" 30 || fail "sigterm_during_rewind: $OLD did not end within 30 s of SIGTERM"
ms=$((($(date +%s%N) - t0) / 1000000))
log "STOP during the rewind: exit $EXIT_RC $ms ms after SIGTERM"
printf 'STOP during the rewind: %d ms (SIGTERM to exit)\n' "$ms"
[ "$EXIT_RC" = 143 ] || fail "sigterm_during_rewind: exit $EXIT_RC, want 143"
[ -z "$(ip netns pids "${NSOF[$OLD]}")" ] || fail "sigterm_during_rewind: processes remain"
converge sigterm_during_rewind

# ---- SIGKILL to pg_rewind once it removed the marker file --------------------------
printf '*:*:*:replicator:%s\n' "$(sed 's/[\\:]/\\&/g' <<<"$REPLPW")" >"$WORK/pgpass"
chown postgres: "$WORK/pgpass" && chmod 600 "$WORK/pgpass"
diverge kill_after_marker_removal
rm -f "$WORK/$OLD/postmaster.pid"
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.pg-entrypoint.rewind-in-progress", b"1")' "$WORK/$OLD" ||
    fail "kill_after_marker_removal: cannot set the extended attribute"
echo "rewind in progress" >"$WORK/$OLD/.pg-entrypoint-rewind-in-progress"
rewind_by_hand >"$WORK/pg_rewind.out" 2>&1 &
RW=$!
BG_PIDS+=("$RW")
for _ in $(seq 1 3000); do
    [ -e "$WORK/$OLD/.pg-entrypoint-rewind-in-progress" ] || break
    sleep 0.01
done
rwpid=$(pgrep -x -P "$(pgrep -x -P "$RW" runuser || echo 0)" pg_rewind || true)
[ -n "$rwpid" ] && kill -KILL "$rwpid"
wait "$RW" 2>/dev/null || true
grep -q "Done!" "$WORK/pg_rewind.out" && fail "kill_after_marker_removal: pg_rewind finished before the kill"
[ ! -e "$WORK/$OLD/.pg-entrypoint-rewind-in-progress" ] || fail "kill_after_marker_removal: pg_rewind had not removed the marker file"
"$PG_BINDIR/pg_controldata" "$WORK/$OLD" | grep -q "^Database cluster state: *in archive recovery" &&
    fail "kill_after_marker_removal: pg_control was already written"
converge kill_after_marker_removal
assert_log_has "${ILOG[$NEW]}" "rewind \(pg_rewind\) was interrupted; nothing in it is usable: wiping it" \
    "kill_after_marker_removal: the next start did not re-seed"
# (without the mark on PGDATA, the copied record made it a primary first)
assert_log_lacks "${ILOG[$NEW]}" "the role is primary: PGDATA holds a promotion" \
    "kill_after_marker_removal: the promotion record copied by the interrupted pg_rewind counted"

# ---- pg_rewind done, settings not written ---------------------------------------------
diverge kill_after_rewind
rm -f "$WORK/$OLD/postmaster.pid"
rewind_by_hand >"$WORK/pg_rewind.out" 2>&1 || { cat "$WORK/pg_rewind.out" >&2; fail "kill_after_rewind: pg_rewind by hand failed"; }
"$PG_BINDIR/pg_controldata" "$WORK/$OLD" | grep -q "^Database cluster state: *in archive recovery" ||
    fail "kill_after_rewind: pg_control after pg_rewind: $("$PG_BINDIR/pg_controldata" "$WORK/$OLD" | grep state)"
[ -e "$WORK/$OLD/pg-entrypoint-promoted" ] || fail "kill_after_rewind: pg_rewind did not copy the promotion record (the case this point is about)"
[ ! -e "$WORK/$OLD/standby.signal" ] || fail "kill_after_rewind: standby.signal after pg_rewind"
converge kill_after_rewind
assert_log_has "${ILOG[$NEW]}" "PGDATA \"$WORK/$NEW\" is a rewound cluster whose standby settings are not written yet" \
    "kill_after_rewind: the next start did not see the finished rewind"
assert_log_lacks "${ILOG[$NEW]}" "the role is primary: PGDATA holds a promotion" \
    "kill_after_rewind: the copied promotion record made it a primary"
assert_log_lacks "${ILOG[$NEW]}" "$(step_re '(clone|rewind)')" "kill_after_rewind: cloned or rewound again"
rm -f "$WORK/pgpass"
assert_no_secret "$WORK"/*.log
log "PASS"
