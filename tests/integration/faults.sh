#!/bin/bash
# faults: replica data safety under faults, table-driven. One primary holds
# a 200 MB table (plus marker rows); for each fault point a replica starts on
# a fresh PGDATA, the fault hits it, and the same PGDATA is started again
# without the fault. It must converge: the WAL receiver streams, every row
# committed on the primary before the fault is there (counts and sums equal
# the primary's), the primary's data is untouched, and the second run's log
# says what it found (e.g. that it wipes an interrupted clone).
#
# Fault points: SIGKILL while waiting for the primary (refused, unreachable);
# SIGKILL at ~10 %, ~50 %, ~90 % of pg_basebackup (the size of the staging
# directory against the primary's, polled every 20 ms, with the link
# throttled); the state a SIGKILL between pg_basebackup's exit and the
# marker's removal leaves (emulated: a finished clone, stopped, with the
# marker put back; with its copy still in the staging directory; half moved
# out of it); SIGTERM while cloning (exit 143); the primary stopped while the
# replica clones (exit 1, pg_basebackup's error in the log); a full disk
# (PGDATA on a 120 MB tmpfs: exit 1, the log says so; then grown to 600 MB).
#
# The rejoin's fault points (SIGKILL at the rewind marker, while pg_rewind
# copies, right after it removed the marker file, after it finished but
# before the settings; SIGTERM while it copies) come last, from
# faults.d/rejoin.sh: each needs a pair that has just failed over, not a
# fresh replica of p, so that script sets its own two nodes up; its FAULT
# lines join the table (as rejoin-NAME).
#
# SIGKILL goes to PID 1 of the replica's PID namespace, as `docker kill` does:
# every process in it (pg_basebackup and its WAL streamer) dies with it.
# Replica data directories live on a tmpfs so that a 200 MB clone takes about
# a second. Prints `FAULT name: pass|fail, converged in N.N s` per fault
# point and a table at the end; exits 1 if any failed.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_faults.sh"
it_setup 1750
fx_trap
net_pair
P_PORT=55700
R_PORT=55701
ABSENT_PORT=55799  # nothing listens there
THROTTLE=800mbit   # the clone then takes a few seconds: time to hit 10 % and 90 %
fx_tmpfs fast 1g
FAST=$WORK/fast

# ---- the primary: 200 MB, and marker rows ----------------------------------
launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p"
wait_ready p
q p "create table big (id int primary key, pad text)"
q p "insert into big select g, repeat(md5(g::text), 30) from generate_series(1, 200000) g"
q p "create table marks (id serial primary key, note text not null)"
q p "insert into marks (note) values ('setup 1'), ('setup 2'), ('setup 3')"
q p "checkpoint"
DB_BYTES=$(q p "select pg_database_size('postgres')")
[ "$DB_BYTES" -ge $((200 * 1024 * 1024)) ] || fail "the primary holds only $DB_BYTES bytes, want at least 200 MB"
BIG_SQL="select count(*) || ' rows, sum ' || sum(id) || ', hash sum ' || sum(hashtext(pad)::bigint) from big"
BIG_SUM=$(q p "$BIG_SQL")
P_SYSID=$(q p "select system_identifier from pg_control_system()")
P_BASE_KB=$(fx_kb "$WORK/p/base")
log "primary: $((DB_BYTES / 1048576)) MB in database postgres, base/ $P_BASE_KB kB; big: $BIG_SUM"

# ---- per fault point ---------------------------------------------------------
FAULTS=()
declare -A RESULT=() CONV=() WHY=()
CUR=
RID=
RDATA=
MARKS_BEFORE=

# problem DESCRIPTION: records a failed expectation of the current fault
# point (the first one is reported) and goes on.
problem()
{
    log "FAULT $CUR: problem: $*"
    [ -n "${WHY[$CUR]:-}" ] || WHY[$CUR]=$*
    RESULT[$CUR]=fail
}

# expect_rc WANT WHAT
expect_rc()
{
    [ "$EXIT_RC" = "$1" ] || problem "$2: exit status ${EXIT_RC:-none}, want $1"
}

# expect_log REGEX WHAT / expect_no_log REGEX WHAT: on the current log of $RID.
expect_log() { grep -Eq -- "$1" "${ILOG[$RID]}" || problem "$2: no line matching /$1/ in $(basename "${ILOG[$RID]}")"; }
expect_no_log()
{
    local hit
    if hit=$(grep -E -m1 -- "$1" "${ILOG[$RID]}"); then problem "$2: $(basename "${ILOG[$RID]}") has: $hit"; fi
}

# fault_begin NAME: a fresh replica id, data directory and marker row.
fault_begin()
{
    CUR=$1
    RID=r-$1
    RDATA=$FAST/$1
    FAULTS+=("$CUR")
    RESULT[$CUR]=pass
    CONV[$CUR]=-
    log "===== FAULT $CUR ====="
    q p "insert into marks (note) values ('before fault $CUR')"
    MARKS_BEFORE=$(q p "select max(id) from marks")
}

start_replica() { launch_replica "$RID" "$NS_R" "$R_ADDR" "$R_PORT" "$RDATA" "$@"; }

# after_kill: the replica's namespace is gone, nothing of it runs.
after_kill()
{
    # No exit status to check: unshare 2.38 reports a child killed by a
    # signal as status 1 ("sigprocmask unblock failed").
    wait_exit "$RID" 20 || { problem "the replica did not end within 20 s of SIGKILL"; fx_halt "$RID"; }
    local left
    left=$(ip netns pids "$NS_R" | tr '\n' ' ')
    [ -z "$left" ] || problem "processes remain in the replica's namespace: $left"
    log "FAULT $CUR: left behind: $(fx_dirstate "$RDATA")"
}

# expect_interrupted_clone: what a clone stopped half way leaves.
expect_interrupted_clone()
{
    [ -f "$RDATA/.pg-entrypoint-clone-in-progress" ] || problem "no clone marker after an interrupted clone"
}

# The checks of convergence (in a subshell, see soft).
converged()
{
    local marks
    fx_ready "$RID" 30
    poll 20 "the WAL receiver streams" q_is "$RID" 'select status from pg_stat_wal_receiver' streaming
    marks=$(q p "select string_agg(id || ':' || note, ',' order by id) from marks where id <= $MARKS_BEFORE")
    poll 10 "every marker row committed before the fault is on the replica" \
        q_is "$RID" "select string_agg(id || ':' || note, ',' order by id) from marks where id <= $MARKS_BEFORE" "$marks"
    [ "$(q "$RID" "$BIG_SQL")" = "$BIG_SUM" ] || fail "the replica's big table differs: $(q "$RID" "$BIG_SQL")"
}

# The rest, once it has converged.
consistent()
{
    local slot=${RID//-/_} n
    [ "$(q "$RID" 'select system_identifier from pg_control_system()')" = "$P_SYSID" ] ||
        fail "the replica's system identifier is not the primary's"
    [ "$(q "$RID" 'select pg_is_in_recovery()')" = t ] || fail "the replica is not in recovery"
    n=$(q p "insert into marks (note) values ('after fault $CUR') returning id")
    poll 20 "a row written after convergence arrives" q_is "$RID" "select note from marks where id = $n" "after fault $CUR"
    [ "$(q p "select active from pg_replication_slots where slot_name = '$slot'")" = t ] ||
        fail "the replica does not stream through its slot $slot"
    [ "$(q p "$BIG_SQL")" = "$BIG_SUM" ] || fail "the primary's big table changed: $(q p "$BIG_SQL")"
    [ "$(q p "select count(*) from marks where id <= $MARKS_BEFORE")" = "$MARKS_BEFORE" ] ||
        fail "marker rows are missing on the primary"
    [ ! -e "$RDATA/.pg-entrypoint-clone-in-progress" ] || fail "the clone marker is still there"
    [ ! -e "$RDATA/.pg-entrypoint-clone" ] || fail "the staging directory is still there"
    [ -f "$RDATA/standby.signal" ] || fail "standby.signal is missing"
    [ "$(stat -c '%a %U' "$RDATA")" = "700 postgres" ] || fail "PGDATA is $(stat -c '%a %U' "$RDATA")"
}

# converge KIND: the second start, same PGDATA, no fault. KIND says what its
# log must show: "interrupted" (wipe, then clone) or "empty" (clone only).
converge()
{
    local kind=$1 t0 ms
    t0=$(date +%s%N)
    start_replica
    soft converged
    ms=$(fx_ms_since "$t0")
    if [ "$SOFT_RC" != 0 ]; then
        if [ -n "${UPID[$RID]:-}" ] && ! running "$RID"; then
            wait_exit "$RID" 1 || true
            SOFT_WHY="$SOFT_WHY; it exited with status $EXIT_RC: $(grep -E 'ERROR|FATAL' "${ILOG[$RID]}" | tail -n 1)"
        fi
        problem "did not converge: $SOFT_WHY"
    else
        CONV[$CUR]=$(fx_secs "$ms")
        soft consistent
        [ "$SOFT_RC" = 0 ] || problem "$SOFT_WHY"
    fi
    if [ "$kind" = interrupted ]; then
        expect_log "PGDATA \"$RDATA\" is an interrupted clone; nothing in it is usable: wiping it and cloning again" \
            "the second run says it found an interrupted clone"
        expect_log "$(step_re wipe)done in" "the second run wiped"
    else
        expect_log "PGDATA \"$RDATA\" is empty" "the second run found an empty PGDATA"
        expect_no_log "$(step_re wipe)" "the second run wiped an empty PGDATA"
    fi
    expect_log "$(step_re clone)done in" "the second run cloned"
    expect_log "$(step_re exec)starting postgres" "the second run started postgres"
}

fault_end()
{
    fx_halt "$RID"
    fx_drop_slot p "${RID//-/_}"
    # the next fault point needs the room on the tmpfs
    find "$RDATA" -mindepth 1 -delete
    printf 'FAULT %s: %s, converged in %s s\n' "$CUR" "${RESULT[$CUR]}" "${CONV[$CUR]}"
}

# A replica that has finished its clone and was stopped (SIGINT).
cloned_and_stopped()
{
    start_replica
    soft fx_ready "$RID" 30
    [ "$SOFT_RC" = 0 ] || problem "the first clone did not finish: $SOFT_WHY"
    fx_halt "$RID"
    expect_rc 0 "SIGINT to the replica after its clone"
}

put_marker()
{
    printf 'clone in progress\n' >"$RDATA/.pg-entrypoint-clone-in-progress"
    chown postgres: "$RDATA/.pg-entrypoint-clone-in-progress"
    chmod 600 "$RDATA/.pg-entrypoint-clone-in-progress"
}

# ---- the fault points: inject_* functions and the table ----------------------
# Each inject function starts the replica ($RID on $RDATA), hits it with its
# fault, checks what the fault run did and left, and returns with the fault
# removed; the table says what the second start's log must show.

# kill_waiting WHAT: SIGKILL while the replica waits for its primary.
kill_waiting()
{
    fx_wait_log "$RID" "$(step_re wait)waiting for the primary at $P_ADDR:" 10 ||
        problem "the replica did not wait for $1"
    sleep 0.3
    kill -KILL "${CPID[$RID]}" 2>/dev/null || true
}

# The primary is not listening (yet): connection refused.
inject_wait_refused()
{
    local left
    start_replica POSTGRES_PRIMARY_PORT="$ABSENT_PORT"
    kill_waiting "a primary on port $ABSENT_PORT"
    after_kill
    left=$(find "$RDATA" -mindepth 1 -maxdepth 1 -printf '%f ')
    [ -z "$left" ] || problem "waiting left something in PGDATA: $left"
}

# The network is down: no route to the primary.
inject_wait_unreachable()
{
    local left
    ip -n "$NS_R" link set eth0 down
    start_replica
    kill_waiting "an unreachable primary"
    ip -n "$NS_R" link set eth0 up
    after_kill
    left=$(find "$RDATA" -mindepth 1 -maxdepth 1 -printf '%f ')
    [ -z "$left" ] || problem "waiting left something in PGDATA: $left"
}

# clone_reaches PCT: waits (link throttled) until pg_basebackup has copied PCT
# percent of the primary's base/; 0 when it did.
clone_reaches()
{
    local want=$((P_BASE_KB * $1 / 100))
    fx_wait_kb "$RID" "$RDATA/.pg-entrypoint-clone/base" "$want" 40 && return 0
    problem "the copy never reached $1 % ($want kB of base/); it has $(fx_kb "$RDATA/.pg-entrypoint-clone/base") kB"
    return 1
}

# SIGKILL at PCT percent of pg_basebackup's copy.
inject_kill_clone()
{
    fx_throttle "$NS_P" "$THROTTLE"
    start_replica
    if clone_reaches "$1"; then
        kill -KILL "${CPID[$RID]}" 2>/dev/null || true
        log "FAULT $CUR: SIGKILL at $(fx_kb "$RDATA/.pg-entrypoint-clone/base") of $P_BASE_KB kB"
    else
        kill -KILL "${CPID[$RID]}" 2>/dev/null || true
    fi
    after_kill
    fx_unthrottle "$NS_P"
    expect_interrupted_clone
    [ -d "$RDATA/.pg-entrypoint-clone" ] || problem "no staging directory after a SIGKILL during pg_basebackup"
    expect_log "$(step_re clone)pg_basebackup from" "the first run was cloning"
    expect_no_log "$(step_re clone)done in" "the first run finished its clone"
}

# The states a SIGKILL after pg_basebackup's exit can leave (emulated on a
# finished clone): "marker" the copy in place, the marker not yet removed;
# "staging" the copy still in the staging directory, not yet moved; "half"
# half of it moved.
inject_after_clone()
{
    cloned_and_stopped
    if [ "$1" != marker ]; then
        mkdir "$RDATA/.pg-entrypoint-clone"
        find "$RDATA" -mindepth 1 -maxdepth 1 ! -name '.pg-entrypoint-clone' | LC_ALL=C sort |
            awk -v all="$([ "$1" = staging ] && echo 1)" 'all || NR % 2' | xargs -r mv -t "$RDATA/.pg-entrypoint-clone"
        chown postgres: "$RDATA/.pg-entrypoint-clone"
        chmod 700 "$RDATA/.pg-entrypoint-clone"
    fi
    put_marker
    log "FAULT $CUR: prepared: $(fx_dirstate "$RDATA")"
}

# SIGTERM (docker stop) half way through the clone.
inject_sigterm_clone()
{
    local t0
    fx_throttle "$NS_P" "$THROTTLE"
    start_replica
    clone_reaches 50 || true
    t0=$(date +%s%N)
    kill -TERM "${CPID[$RID]}" 2>/dev/null || true
    if wait_exit "$RID" 10; then
        log "FAULT $CUR: exit status $EXIT_RC $(fx_ms_since "$t0") ms after SIGTERM"
    else
        problem "the replica did not exit within 10 s of SIGTERM"
        fx_halt "$RID"
    fi
    fx_unthrottle "$NS_P"
    expect_rc 143 "SIGTERM while cloning"
    expect_log "$(step_re stop)stopped by signal 15" "the log says it was stopped"
    expect_interrupted_clone
    log "FAULT $CUR: left behind: $(fx_dirstate "$RDATA")"
}

# The primary stops (fast shutdown) while the replica clones; it is started
# again before the second run.
inject_primary_stops()
{
    fx_throttle "$NS_P" "$THROTTLE"
    start_replica
    clone_reaches 30 || true
    kill -INT "${CPID[p]}"
    wait_exit p 30 || fail "the primary did not stop within 30 s of SIGINT"
    log "FAULT $CUR: the primary stopped with status $EXIT_RC"
    if ! wait_exit "$RID" 30; then
        problem "the replica did not exit within 30 s of its primary's shutdown"
        fx_halt "$RID"
    fi
    fx_unthrottle "$NS_P"
    expect_rc 1 "the clone lost its primary"
    expect_log "ERROR +clone: pg_basebackup exited with status 1" "the log says pg_basebackup failed"
    # pg_basebackup and its WAL streamer (a child process) may both report the
    # lost connection, each in several writes: the two lines can interleave.
    expect_log 'ERROR +clone: pg_basebackup:.* error: ' "pg_basebackup's own error is in the log"
    expect_interrupted_clone
    log "FAULT $CUR: $(grep -m1 'clone: pg_basebackup:.* error: ' "${ILOG[$RID]}" | sed 's/.*clone: //')"
    launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p"
    wait_ready p
}

# A full disk: PGDATA is a 120 MB tmpfs; then it grows to 600 MB.
inject_disk_full()
{
    fx_tmpfs small 120m
    RDATA=$WORK/small
    AFTER="fx_umount $RDATA"
    start_replica
    if ! wait_exit "$RID" 60; then
        problem "the replica still runs 60 s into a clone onto a full disk"
        fx_halt "$RID"
    fi
    expect_rc 1 "a clone onto a full disk"
    expect_log 'No space left on device' "the log names the full disk"
    expect_log "ERROR +clone: pg_basebackup exited with status 1" "the log says pg_basebackup failed"
    expect_interrupted_clone
    log "FAULT $CUR: $(grep -m1 'No space left' "${ILOG[$RID]}" | sed 's/.*clone: //'); left behind: $(fx_dirstate "$RDATA")"
    mount -o remount,size=600m "$RDATA"
}

# name                          inject function and arguments    the second start finds
FAULT_TABLE=(
    "kill-wait-refused            inject_wait_refused              empty"
    "kill-wait-unreachable        inject_wait_unreachable          empty"
    "kill-clone-10                inject_kill_clone:10             interrupted"
    "kill-clone-50                inject_kill_clone:50             interrupted"
    "kill-clone-90                inject_kill_clone:90             interrupted"
    "kill-after-clone-marker      inject_after_clone:marker        interrupted"
    "kill-after-clone-staging     inject_after_clone:staging       interrupted"
    "kill-after-clone-half-moved  inject_after_clone:half          interrupted"
    "sigterm-clone                inject_sigterm_clone             interrupted"
    "primary-stops-mid-clone      inject_primary_stops             interrupted"
    "disk-full                    inject_disk_full                 interrupted"
)

for row in "${FAULT_TABLE[@]}"; do
    read -r name inject expect <<<"$row"
    # FAULTS_ONLY="name ..." runs only those (when debugging).
    [ -z "${FAULTS_ONLY:-}" ] || [[ " $FAULTS_ONLY " == *" $name "* ]] || continue
    AFTER=
    fault_begin "$name"
    IFS=: read -r -a call <<<"$inject"
    "${call[@]}"
    converge "$expect"
    fault_end
    eval "$AFTER"
done

# ---- the rejoin's fault points (faults.d/rejoin.sh) --------------------------
if [ -z "${FAULTS_ONLY:-}" ] || [[ " $FAULTS_ONLY " == *" rejoin "* ]]; then
    RJ_OUT=$WORK/rejoin-faults.out
    rj_rc=0
    bash "$(dirname "$0")/faults.d/rejoin.sh" "$BIN" >"$RJ_OUT" 2>&1 || rj_rc=$?
    grep -E '^FAULT |STOP during the rewind' "$RJ_OUT" >&2 || true
    while read -r name conv; do
        FAULTS+=("rejoin-$name")
        RESULT[rejoin-$name]=pass
        CONV[rejoin-$name]=$conv
    done < <(sed -nE 's/^FAULT ([a-z_]+): pass, converged in ([0-9.]+) s$/\1 \2/p' "$RJ_OUT")
    if [ "$rj_rc" != 0 ]; then
        FAULTS+=(rejoin)
        RESULT[rejoin]=fail
        CONV[rejoin]=-
        WHY[rejoin]="faults.d/rejoin.sh exited $rj_rc: $(grep -E 'FAIL' "$RJ_OUT" | tail -3)"
    fi
fi

# ---- the primary is untouched; the table ------------------------------------
[ "$(q p "$BIG_SQL")" = "$BIG_SUM" ] || fail "the primary's big table changed"
[ "$(q p "select system_identifier from pg_control_system()")" = "$P_SYSID" ] || fail "the primary's system identifier changed"

failed=0
printf '\n%-30s %-6s %s\n' "fault point" result "converged in (s)"
for f in "${FAULTS[@]}"; do
    printf '%-30s %-6s %s\n' "$f" "${RESULT[$f]}" "${CONV[$f]}"
    [ "${RESULT[$f]}" = pass ] || failed=$((failed + 1))
done
for f in "${FAULTS[@]}"; do
    [ "${RESULT[$f]}" = pass ] || printf '  %s: %s\n' "$f" "${WHY[$f]}"
done
[ "$failed" = 0 ] || fail "$failed of ${#FAULTS[@]} fault points failed"
log "PASS (${#FAULTS[@]} fault points)"
