#!/bin/bash
# promote: `pg-entrypoint promote`, run as a user would in the replica's
# container (inside its network namespace, over the local unix socket, with
# the replica's own environment; no password on a command line):
#  - a wrong command line exits 64 with the usage on stderr;
#  - on the primary: exit 1, "refusing: this node is a primary";
#  - on a replica while its primary (POSTGRES_PRIMARY_HOST) still accepts
#    writes: exit 1 naming it, also with --force; nothing changed;
#  - SIGTERM while it asks the members (addresses that never answer): it
#    ends within 5 s with 143, and the node stays a standby without record;
#  - after a clean stop of the primary: exit 0, "promoted: now a primary on
#    timeline 2" on stdout; the node takes a write and has every row; the
#    promotion record is in PGDATA, 0600 and postgres's; `health`, with the
#    replica's environment unchanged, says "healthy: primary accepting
#    connections (promoted by pg-entrypoint promote at T)"; promote again
#    refuses (a primary now);
#  - restarted with the replica's environment unchanged, it comes up as a
#    primary (the start-time decision, failover.c; checked only when the
#    binary's `plan` knows the promotion record, said in the log otherwise);
#  - a second replica promoted by hand (pg_promote(), as pg_ctl promote; no record): health
#    is unhealthy with the hint "promoted by hand? run `pg-entrypoint
#    promote` next time, or start it as a primary".
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"
it_setup 300
net_pair
P_PORT=55910
R_PORT=55911
H_PORT=55912

launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p"
wait_ready p
q p "create table t (id int primary key, v text); insert into t values (1, 'before')"
launch_replica r "$NS_R" "$R_ADDR" "$R_PORT" "$WORK/r"
launch_replica h "$NS_R" "$R_ADDR" "$H_PORT" "$WORK/h"
wait_ready r 60
wait_ready h 60
for id in r h; do
    poll 30 "$id streams" q_is "$id" 'select status from pg_stat_wal_receiver' streaming
done

P_ENV=(PGDATA="$WORK/p" POSTGRES_PASSWORD="$SUPERPW" POSTGRES_REPLICATION_PASSWORD="$REPLPW"
    HOSTNAME=p PGHOST="$WORK/sock-p" PGPORT="$P_PORT")
R_ENV=(PGDATA="$WORK/r" POSTGRES_PRIMARY_HOST="$P_ADDR" POSTGRES_PRIMARY_PORT="$P_PORT"
    POSTGRES_REPLICATION_PASSWORD="$REPLPW" HOSTNAME=r PGHOST="$WORK/sock-r" PGPORT="$R_PORT")
H_ENV=(PGDATA="$WORK/h" POSTGRES_PRIMARY_HOST="$P_ADDR" POSTGRES_PRIMARY_PORT="$P_PORT"
    POSTGRES_REPLICATION_PASSWORD="$REPLPW" HOSTNAME=h PGHOST="$WORK/sock-h" PGPORT="$H_PORT")
RUN_TIMEOUT=120 # a hang guard; promote waits 60 s at most by default

# A wrong command line.
for args in "--bogus" "--wait" "--wait abc" "--wait -1" "--wait 10x" "--force extra"; do
    # shellcheck disable=SC2086  # split on purpose
    run_bin "$NS_R" "${R_ENV[@]}" -- promote $args
    expect_rc 64 "promote $args"
    [ -z "$RUN_OUT" ] || fail "promote $args printed on stdout: $(run_desc)"
    err_has 'usage: pg-entrypoint promote \[--wait SECONDS\] \[--force\]' "promote $args"
done

# On the primary.
run_bin "$NS_P" "${P_ENV[@]}" -- promote
expect_rc 1 "promote on the primary"
err_has 'refusing: this node is a primary \(not in recovery\)' "promote on the primary"
[ -z "$RUN_OUT" ] || fail "promote on the primary printed on stdout: $(run_desc)"

# On a replica whose primary still accepts writes: never, not even forced.
for force in "" --force; do
    run_bin "$NS_R" "${R_ENV[@]}" -- promote $force
    expect_rc 1 "promote $force while the primary accepts writes"
    err_has "refusing: the primary at $P_ADDR:$P_PORT still accepts writes; stop it first" \
        "promote $force while the primary accepts writes"
done
[ "$(q r 'select pg_is_in_recovery()')" = t ] || fail "the refused promote promoted the replica"
[ ! -e "$WORK/r/pg-entrypoint-promoted" ] || fail "the refused promote left a promotion record"

# A stop signal while it asks the members (five addresses that never
# answer, 2 s each) ends it within 5 s, exit 143, and nothing is promoted.
BLACKHOLES=192.0.2.9:5432,192.0.2.8:5432,192.0.2.7:5432,192.0.2.6:5432,192.0.2.5:5432
(
    for v in $(compgen -e); do export -n "${v?}" 2>/dev/null || true; done
    export PATH="$PG_BINDIR:/usr/sbin:/usr/bin:/sbin:/bin" LANG=C.UTF-8
    for kv in "${R_ENV[@]}" POSTGRES_PRIMARY_HOST=192.0.2.10 POSTGRES_PEERS="$BLACKHOLES"; do export "${kv?}"; done
    exec ip netns exec "$NS_R" "$BIN" promote
) >"$WORK/stop.stdout" 2>"$WORK/stop.stderr" </dev/null &
spid=$!
BG_PIDS+=("$spid")
poll 30 "promote dropped to postgres (then it asks the members)" grep -q "running as postgres" "$WORK/stop.stderr"
t0=$(date +%s%N)
kill -TERM "$spid"
for _ in $(seq 1 50); do alive "$spid" || break; sleep 0.1; done
alive "$spid" && fail "promote still runs 5 s after SIGTERM: $(cat "$WORK/stop.stderr")"
src=0
wait "$spid" || src=$?
log "promote ended $((($(date +%s%N) - t0) / 1000000)) ms after SIGTERM, status $src"
[ "$src" = 143 ] || fail "promote stopped by SIGTERM exited $src, want 143: $(cat "$WORK/stop.stderr")"
[ "$(q r 'select pg_is_in_recovery()')" = t ] || fail "the stopped promote promoted the replica"
[ ! -e "$WORK/r/pg-entrypoint-promoted" ] || fail "the stopped promote left a promotion record"

# The primary stops cleanly (a planned switchover): r has every row.
q p "insert into t values (2, 'last on the old primary')"
stop p INT
run_bin "$NS_R" "${R_ENV[@]}" -- promote
expect_rc 0 "promote of the replica"
one_line "promote of the replica"
out_has '^promoted: now a primary on timeline 2$' "promote of the replica"
log "promote: $RUN_OUT in $RUN_MS ms"
PROMOTE_MS=$RUN_MS
[ "$(q r 'select pg_is_in_recovery()')" = f ] || fail "the replica is still in recovery after promote"
q r "insert into t values (3, 'on the new primary')"
[ "$(q r 'select string_agg(id::text, $$,$$ order by id) from t')" = 1,2,3 ] ||
    fail "the promoted node lacks rows: $(q r 'select * from t')"
rec="$WORK/r/pg-entrypoint-promoted"
[ -f "$rec" ] || fail "no promotion record $rec"
[ "$(stat -c '%a %U' "$rec")" = "600 postgres" ] || fail "the record is $(stat -c '%a %U' "$rec"), want 600 postgres"
sysid=$(q r 'select system_identifier from pg_control_system()')
grep -q "^system_identifier = $sysid\$" "$rec" || fail "the record does not name system $sysid: $(cat "$rec")"

run_bin "$NS_R" "${R_ENV[@]}" -- health
expect_rc 0 "health of the promoted replica (its environment says replica)"
one_line "health of the promoted replica"
out_has '^healthy: primary accepting connections \(promoted by pg-entrypoint promote at [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z\)$' \
    "health of the promoted replica"
# (in a subshell: the calls' numbers only; the run files are reused later)
ms=$(for _ in $(seq 10); do
    run_bin "" "${R_ENV[@]}" -- health
    [ "$RUN_RC" = 0 ] || exit 1
    echo "$RUN_MS"
done) || fail "a timed health call of the promoted node was not healthy"
# shellcheck disable=SC2086  # one number a word
log "figure: health of the promoted node: median wall time of 10 calls $(median $ms) ms (all: $(echo $ms))"
run_bin "$NS_R" "${R_ENV[@]}" -- promote
expect_rc 1 "promote of the promoted node"
err_has 'refusing: this node is a primary' "promote of the promoted node"

# Promoted by hand: no record, the replica's health says what to do.
# (pg_promote() as the superuser is what pg_ctl promote does: the promote
# file and a signal to the postmaster, which is PID 1 of h's namespace.)
t0=$(date +%s%N)
[ "$(q h 'select pg_promote(true, 60)')" = t ] || fail "pg_promote on h did not finish"
log "figure: pg_promote(true) on h through psql took $((($(date +%s%N) - t0) / 1000000)) ms (pg-entrypoint promote on r: $PROMOTE_MS ms)"
run_bin "$NS_R" "${H_ENV[@]}" -- health
expect_rc 1 "health of a replica promoted by pg_ctl"
one_line "health of a replica promoted by pg_ctl"
out_has '^unhealthy: the replica is not in recovery: promoted by hand\? run `pg-entrypoint promote` next time, or start it as a primary$' \
    "health of a replica promoted by pg_ctl"
[ ! -e "$WORK/h/pg-entrypoint-promoted" ] || fail "pg_ctl promote left a promotion record?"
stop h INT

# A restart with the replica's environment unchanged keeps it a primary.
stop r INT
run_bin "$NS_R" "${R_ENV[@]}" -- plan
if grep -qi 'promotion' <<<"$RUN_OUT$RUN_ERR"; then
    launch_replica r "$NS_R" "$R_ADDR" "$R_PORT" "$WORK/r"
    wait_ready r 60
    [ "$(q r 'select pg_is_in_recovery()')" = f ] || fail "the promoted node restarted as a standby"
    q r "insert into t values (4, 'after the restart')"
    assert_log_has "${ILOG[r]}" 'the role is primary: PGDATA holds a promotion by pg-entrypoint promote' \
        "the start does not say why it is a primary"
    run_bin "$NS_R" "${R_ENV[@]}" -- health
    expect_rc 0 "health of the restarted promoted node"
    out_has '^healthy: primary accepting connections \(promoted by pg-entrypoint promote' \
        "health of the restarted promoted node"
    stop r INT
else
    log "SKIPPED the restart check: this binary's plan does not know the promotion record (the start-time decision, failover.c, is not in it)"
fi
assert_no_secret "$WORK"/run.*.stdout "$WORK"/run.*.stderr "$WORK"/*.log
log "PASS"
