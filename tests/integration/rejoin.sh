#!/bin/bash
# rejoin: the issue's three steps, and what must follow them
# (entrypoint/failover.c, entrypoint/rewind.c). Nodes a (at $P_ADDR) and b
# (at $R_ADDR), each with POSTGRES_PEERS naming both:
#  (1) a is the primary, b streams from it; b is cut off, a writes a row
#      only it will ever have, and a is killed (SIGKILL: a crash);
#  (2) b is promoted (the record, then pg_promote), writes a row; restarted
#      with its replica environment, it stays a primary (the record), and
#      says why;
#  (3) `plan` for a says what a start would ask (no server contacted), and
#      with --ask-primary what it would do (rewind from b); then a starts
#      with its primary environment: it asks its peers, finds b
#      writable on a newer timeline, rewinds from it (finishing its own crash
#      recovery first), and is b's standby: it has b's rows, has lost its
#      own divergent row, the log gives the discarded LSN range, the copied
#      promotion record is gone; at no point are both writable;
#  (4) the same rejoin with replica settings: b, cut off, writes a row and
#      is killed; a is promoted; b started with POSTGRES_PRIMARY_HOST naming
#      a rewinds and follows a;
#  (5) never two writable primaries: b is promoted while a is up and
#      writable; b's next start refuses (exit 1, PGDATA untouched).
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_rejoin.sh"
source "$(dirname "$0")/lib_ops.sh"
it_setup 350
net_trio
A_PORT=55940
B_PORT=55941
PEERS="POSTGRES_PEERS=$P_ADDR:$A_PORT,$R_ADDR:$B_PORT"
AS_PRIMARY=("$PEERS")
AS_REPLICA_OF_A=("$PEERS" POSTGRES_PRIMARY_HOST="$P_ADDR" POSTGRES_PRIMARY_PORT="$A_PORT")
AS_REPLICA_OF_B=("$PEERS" POSTGRES_PRIMARY_HOST="$R_ADDR" POSTGRES_PRIMARY_PORT="$B_PORT")

# both_writable: true when a and b both accept writes right now.
both_writable() { writable a 2>/dev/null && writable b 2>/dev/null; }

# ---- (1) -------------------------------------------------------------------------------
launch_primary a "$NS_P" "$P_ADDR" "$A_PORT" "$WORK/a" "${AS_PRIMARY[@]}"
wait_ready a
rewind_prereqs a
stop a INT
launch_primary a "$NS_P" "$P_ADDR" "$A_PORT" "$WORK/a" "${AS_PRIMARY[@]}"
wait_ready a 60
q a "create table t (id int primary key, v text); insert into t values (1, 'before')"
launch_primary b "$NS_R" "$R_ADDR" "$B_PORT" "$WORK/b" "${AS_REPLICA_OF_A[@]}"
wait_ready b 60
poll 30 "(1) the first row reaches b" q_is b "select v from t where id = 1" before
net_cut "$NS_R"
q a "insert into t values (2, 'only on a')"
stop a KILL

# ---- (2) -------------------------------------------------------------------------------
# Promoted while still cut off: the killed a's kernel still retransmits the
# WAL it had sent, which b's WAL receiver would take once the link is back.
promote_node b "$WORK/b"
net_mend "$NS_R"
q b "insert into t values (3, 'after the promotion')"
stop b INT
launch_primary b "$NS_R" "$R_ADDR" "$B_PORT" "$WORK/b" "${AS_REPLICA_OF_A[@]}"
wait_ready b 60
assert_log_has "${ILOG[b]}" "the role is primary: PGDATA holds a promotion by pg-entrypoint promote at [0-9T:-]+Z" \
    "(2) b's start does not say why it is a primary"
writable b || fail "(2) b, restarted with its replica environment, is not a writable primary"
[ "$(tli_of b)" = 2 ] || fail "(2) b is on timeline $(tli_of b), want 2"

# ---- (3) -------------------------------------------------------------------------------
A_ENV=(PGDATA="$WORK/a" POSTGRES_PASSWORD="$SUPERPW" POSTGRES_REPLICATION_PASSWORD="$REPLPW" HOSTNAME=a "${AS_PRIMARY[@]}")
run_bin "$NS_P" "${A_ENV[@]}" -- plan
expect_rc 0 "(3) plan"
out_has '^role: primary$' "(3) plan: the role before asking"
out_has "^  [0-9]+\. ask the 2 peer\(s\) in POSTGRES_PEERS .*a writable primary of this system on a newer timeline makes this node its standby" \
    "(3) plan: what a start asks"
out_lacks 'pg_rewind --no-sync' "(3) plan without --ask-primary decided a rewind"
run_bin "$NS_P" "${A_ENV[@]}" -- plan --ask-primary
expect_rc 0 "(3) plan --ask-primary"
out_has '^role: replica$' "(3) plan --ask-primary: the role"
out_has "^role decided by: the writable peer $R_ADDR:$B_PORT on timeline 2 \(newer\)$" "(3) plan --ask-primary: why"
out_has "^  [0-9]+\. pg_rewind --no-sync from $R_ADDR:$B_PORT as \"replicator\"" "(3) plan --ask-primary: the rewind"
launch_primary a "$NS_P" "$P_ADDR" "$A_PORT" "$WORK/a" "${AS_PRIMARY[@]}"
# a must never accept writes while b does, not even for a moment
( for _ in $(seq 1 600); do
      if both_writable; then echo "both writable at $(date +%T.%N)" >"$WORK/split-brain"; fi
      sleep 0.1
  done ) &
BG_PIDS+=("$!")
SAMPLER=$!
wait_ready a 120
assert_log_has "${ILOG[a]}" "peer $R_ADDR:$B_PORT is a writable primary of this system on timeline 2, newer than this node's 1 .*rejoins as its standby" \
    "(3) a did not say why it rejoins"
assert_log_has "${ILOG[a]}" "pg_rewind: servers diverged at WAL location [0-9A-F]+/[0-9A-F]+ on timeline 1" \
    "(3) no pg_rewind divergence line"
assert_log_has "${ILOG[a]}" "discarded this node's WAL of timeline 1 from [0-9A-F]+/[0-9A-F]+ \(where the servers diverged\) to its end \(it had not been shut down cleanly; its last checkpoint before the rewind was at [0-9A-F]+/[0-9A-F]+\)" \
    "(3) the discarded range is not in the log"
assert_log_lacks "${ILOG[a]}" "$(step_re clone)" "(3) a was cloned instead of rewound"
poll 30 "(3) a is in recovery" q_is a "select pg_is_in_recovery()" t
poll 30 "(3) a has b's row" q_is a "select v from t where id = 3" 'after the promotion'
q_is a "select count(*) from t where id = 2" 0 || fail "(3) a kept its divergent row"
q b "insert into t values (4, 'after the rejoin')"
poll 30 "(3) a streams from b" q_is a "select v from t where id = 4" 'after the rejoin'
poll 30 "(3) a's WAL receiver streams" q_is a "select status from pg_stat_wal_receiver" streaming
[ ! -e "$WORK/a/pg-entrypoint-promoted" ] || fail "(3) a holds the promotion record copied from b"
[ ! -e "$WORK/a/.pg-entrypoint-rewind-in-progress" ] || fail "(3) the rewind marker is still there"
[ "$(stat -c %a "$WORK/a/pg-entrypoint.pgpass")" = 600 ] || fail "(3) a's password file is not 0600"
kill_tree "$SAMPLER" TERM
wait "$SAMPLER" 2>/dev/null || true
[ ! -e "$WORK/split-brain" ] || fail "(3) $(cat "$WORK/split-brain")"

# ---- (4) -------------------------------------------------------------------------------
net_cut "$NS_P"
q b "insert into t values (5, 'only on b')"
stop b KILL
promote_node a "$WORK/a"
net_mend "$NS_P"
q a "insert into t values (6, 'a again')"
launch_primary b "$NS_R" "$R_ADDR" "$B_PORT" "$WORK/b" "${AS_REPLICA_OF_A[@]}"
wait_ready b 120
assert_log_has "${ILOG[b]}" "pg_rewind: servers diverged at WAL location" "(4) b did not rewind"
assert_log_has "${ILOG[b]}" "discarded this node's WAL of timeline 2 from" "(4) no discarded range"
poll 30 "(4) b is in recovery" q_is b "select pg_is_in_recovery()" t
poll 30 "(4) b has a's row" q_is b "select v from t where id = 6" 'a again'
q_is b "select count(*) from t where id = 5" 0 || fail "(4) b kept its divergent row"
writable a || fail "(4) a is not writable"

# ---- (5) -------------------------------------------------------------------------------
net_cut "$NS_R"
promote_node b "$WORK/b"
stop b INT
net_mend "$NS_R"
before=$(snapshot "$WORK/b")
launch_primary b "$NS_R" "$R_ADDR" "$B_PORT" "$WORK/b" "${AS_PRIMARY[@]}"
expect_exit b 60 1 "(5) a second writable primary"
assert_log_has "${ILOG[b]}" "ERROR.*the peer $P_ADDR:$A_PORT is a writable primary of this system \([0-9]+\) on timeline 3, and PGDATA .* is on timeline 4 \(not older\): refusing to start a second writable primary; hint:" \
    "(5) the refusal does not say why"
[ "$(snapshot "$WORK/b")" = "$before" ] || fail "(5) b's PGDATA changed"
writable a || fail "(5) a is not writable"
log "PASS"
