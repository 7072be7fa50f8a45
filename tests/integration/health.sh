#!/bin/bash
# health: `pg-entrypoint health`, run as a container health check would be
# (inside the instance's network namespace, over the local unix socket, with
# the instance's own POSTGRES_* environment; no password on a command line):
#  - a primary is healthy (exit 0, "healthy: ...");
#  - a wrong command line exits 64 with the usage on stderr;
#  - a streaming replica is healthy; the same server checked as a primary is
#    judged as the standby it is (healthy while streaming), the primary
#    checked as a replica is unhealthy (not in recovery);
#  - --max-lag: with replay paused on the replica and a write on the primary,
#    --max-lag 0 is unhealthy and says how many bytes replay lags, a generous
#    --max-lag and no --max-lag are healthy; after replay resumes, --max-lag 0
#    is healthy again;
#  - after the primary stops, the replica is unhealthy with one line naming
#    the WAL receiver, while --live still exits 0;
#  - with no server running, exit 1 with one line of reason.
# Prints the median wall time of 10 calls (a figure, not an assertion).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"
it_setup 290
net_pair
P_PORT=55600
R_PORT=55601

launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p"
wait_ready p

# The environments the instances were started with (see launch_primary and
# launch_replica), plus where their sockets are.
P_ENV=(PGDATA="$WORK/p" POSTGRES_PASSWORD="$SUPERPW" POSTGRES_REPLICATION_PASSWORD="$REPLPW"
    HOSTNAME=p PGHOST="$WORK/sock-p" PGPORT="$P_PORT")
R_ENV=(PGDATA="$WORK/r" POSTGRES_PRIMARY_HOST="$P_ADDR" POSTGRES_PRIMARY_PORT="$P_PORT"
    POSTGRES_REPLICATION_PASSWORD="$REPLPW" HOSTNAME=r PGHOST="$WORK/sock-r" PGPORT="$R_PORT")
health_p() { run_bin "$NS_P" "${P_ENV[@]}" "$@"; }
health_r() { run_bin "$NS_R" "${R_ENV[@]}" "$@"; }

# Primary.
health_p -- health
expect_rc 0 "health of a running primary"
one_line "health of a running primary"
out_has '^healthy: primary accepting connections$' "health of a running primary"

# A wrong command line.
for args in "--bogus" "--max-lag" "--max-lag abc" "--max-lag -1" "--max-lag 10x" "--live extra"; do
    # shellcheck disable=SC2086  # split on purpose
    health_p -- health $args
    expect_rc 64 "health $args"
    [ -z "$RUN_OUT" ] || fail "health $args printed on stdout: $(run_desc)"
    err_has '(usage: pg-entrypoint health|--max-lag takes a number)' "health $args"
done

# Replica, streaming.
launch_replica r "$NS_R" "$R_ADDR" "$R_PORT" "$WORK/r"
wait_ready r
poll 20 "the WAL receiver is streaming" q_is r 'select status from pg_stat_wal_receiver' streaming
health_r -- health
expect_rc 0 "health of a streaming replica"
one_line "health of a streaming replica"
out_has '^healthy: replica streaming$' "health of a streaming replica"
health_r -- health --live
expect_rc 0 "health --live of a streaming replica"
out_has '^alive: the server answers \(in recovery\)$' "health --live of a streaming replica"

# A standby under a primary's role (a recipe's init script cloned the
# primary): a start keeps it a standby, and health judges it as one.
health_r POSTGRES_ROLE=primary -- health
expect_rc 0 "a primary's health check against a streaming standby's server"
one_line "a primary's health check against a streaming standby's server"
out_has '^healthy: standby streaming \(the role is primary' "a primary's health check against a streaming standby's server"
health_p POSTGRES_ROLE=replica POSTGRES_PRIMARY_HOST=192.0.2.9 -- health
expect_rc 1 "a replica's health check against the primary's server"
out_has '^unhealthy: the replica is not in recovery' "a replica's health check against the primary's server"

# Lag: replay paused, WAL still received.
q r 'select pg_wal_replay_pause()' >/dev/null
poll 10 "replay is paused" q_is r 'select pg_get_wal_replay_pause_state()' paused
q p "create table t (id int primary key, v text); insert into t select g, repeat('x', 100) from generate_series(1, 1000) g"
lagging() { health_r -- health --max-lag 0; [ "$RUN_RC" = 1 ]; }
poll 15 "health --max-lag 0 turns unhealthy while replay is paused" lagging
one_line "health --max-lag 0 with replay paused"
out_has '^unhealthy: replay lags [1-9][0-9]* bytes behind the received WAL$' "health --max-lag 0 with replay paused"
log "paused replay: $RUN_OUT"
health_r -- health --max-lag 1000000000
expect_rc 0 "health --max-lag 1000000000 with replay paused"
out_has '^healthy: replica streaming$' "health --max-lag 1000000000 with replay paused"
health_r -- health
expect_rc 0 "health without --max-lag while replay is paused"
[ "$(q r 'select count(*) from t' 2>/dev/null || echo none)" != 1000 ] ||
    fail "the rows were replayed although replay is paused; the lag check proved nothing"
q r 'select pg_wal_replay_resume()' >/dev/null
poll 20 "the rows are replayed after resuming" q_is r 'select count(*) from t' 1000
caught_up() { health_r -- health --max-lag 0; [ "$RUN_RC" = 0 ]; }
poll 15 "health --max-lag 0 turns healthy once replay caught up" caught_up
out_has '^healthy: replica streaming$' "health --max-lag 0 after catching up"

# Timing: 10 calls against the streaming replica, from the host (the socket
# is a path; the namespaces only add `ip netns exec`'s own start-up).
times=()
for i in 1 2 3 4 5 6 7 8 9 10; do
    run_bin "" "${R_ENV[@]}" -- health
    expect_rc 0 "timed health call $i"
    times+=("$RUN_MS")
done
log "health: median wall time of 10 calls: $(median "${times[@]}") ms (all: ${times[*]})"

# The primary goes away: the replica is no longer streaming.
stop p INT
not_streaming() { health_r -- health; [ "$RUN_RC" != 0 ]; }
poll 20 "the replica's health turns unhealthy after its primary stopped" not_streaming
expect_rc 1 "health of a replica whose primary stopped"
one_line "health of a replica whose primary stopped"
out_has '^unhealthy: the WAL receiver is [a-z ]+, not streaming$' "health of a replica whose primary stopped"
log "primary stopped: $RUN_OUT"
health_r -- health --live
expect_rc 0 "health --live of a replica that is not streaming"
one_line "health --live of a replica that is not streaming"
out_has '^alive: the server answers \(in recovery\)$' "health --live of a replica that is not streaming"
[ "$(q r "select count(*) from pg_stat_wal_receiver where status = 'streaming'")" = 0 ] ||
    fail "the replica still reports a streaming WAL receiver"

# No server at all (the primary's socket directory, now empty).
health_p -- health
expect_rc 1 "health with no server running"
one_line "health with no server running"
out_has "^unhealthy: .*$WORK/sock-p/\\.s\\.PGSQL\\.$P_PORT.*(No such file|refused)" "health with no server running"
log "no server: $RUN_OUT"
health_p -- health --live
expect_rc 1 "health --live with no server running"
out_has '^unhealthy: ' "health --live with no server running"
assert_no_secret "$WORK"/run.*.stdout "$WORK"/run.*.stderr
log "PASS"
