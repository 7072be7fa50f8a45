#!/bin/bash
# replica_clone: a replica started on an empty PGDATA clones the primary
# (on another "host") and streams from it:
#  - a row written on the primary is read on the replica;
#  - pg_stat_wal_receiver says streaming, standby.signal exists, PGDATA is 0700;
#  - no password (both contain ' \ : and spaces) ever appears on any process's
#    command line while the replica clones (sampled every 20 ms), in
#    pg_basebackup's environment, in either log, or in the postmasters'
#    environments; on disk it is only in files of mode 0600.
source "$(dirname "$0")/lib.sh"
it_setup 260
net_pair
P_PORT=55420
R_PORT=55421

launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/p"
wait_ready p
q p "create table t (id int primary key, v text); insert into t values (1, 'before clone')"

# The sampler: every 20 ms, every process's command line; for pg_basebackup
# also its environment. Patterns come from files so that the sampler's own
# command lines hold neither a password nor the name it looks for.
printf '%s\n%s\n' "$SUPERPW" "$REPLPW" >"$WORK/secrets"
echo pg_basebackup >"$WORK/bbname"
(
    n=0
    while [ ! -e "$WORK/sampler.stop" ]; do
        grep -a -l -F -f "$WORK/secrets" /proc/[0-9]*/cmdline 2>/dev/null | while read -r f; do
            printf '%s: %s\n' "$f" "$(tr '\0' ' ' <"$f" 2>/dev/null)"
        done >>"$WORK/sampler.hits" || true
        for f in $(grep -a -l -F -f "$WORK/bbname" /proc/[0-9]*/cmdline 2>/dev/null); do
            printf '%s %s\n' "${f%/cmdline}" "$(tr '\0' ' ' <"$f" 2>/dev/null)" >>"$WORK/sampler.bb"
            if grep -a -q -F -f "$WORK/secrets" "${f%/cmdline}/environ" 2>/dev/null; then
                echo "${f%/cmdline}/environ" >>"$WORK/sampler.hits"
            fi
        done
        n=$((n + 1))
        echo "$n" >"$WORK/sampler.count"
        sleep 0.02
    done
) &
BG_PIDS+=("$!")
sampler=$!
poll 5 "the sampler runs" test -s "$WORK/sampler.count"

# A Docker container's host name is its id, which often starts with a digit:
# the slot derived from it must still work (it needs quoting on the wire).
SLOT=0a1b2c3d4e5f
launch_replica r "$NS_R" "$R_ADDR" "$R_PORT" "$WORK/r" HOSTNAME=$SLOT
wait_ready r
touch "$WORK/sampler.stop"
wait "$sampler" || true
rlog=${ILOG[r]}
plog=${ILOG[p]}

assert_log_has "$rlog" "$(step_re clone)done in" "the replica cloned the primary"
assert_log_has "$rlog" "$(step_re slot)created physical replication slot \"$SLOT\"" "the slot was created"
[ ! -s "$WORK/sampler.hits" ] || fail "a password was visible in /proc while the replica cloned: $(cat "$WORK/sampler.hits")"
samples=$(cat "$WORK/sampler.count")
bb_samples=$(cut -d' ' -f1 "$WORK/sampler.bb" 2>/dev/null | sort -u | wc -l)
log "sampled /proc $samples times; pg_basebackup seen as $bb_samples process(es)"
[ "$samples" -ge 5 ] || fail "the sampler ran only $samples times"
[ "$bb_samples" -ge 1 ] || fail "the sampler never saw pg_basebackup running; the check proved nothing"

# The row arrives, then one written after the clone.
[ "$(q r 'select v from t where id = 1')" = "before clone" ] || fail "the row written before the clone is not on the replica"
q p "insert into t values (2, 'streamed')"
poll 20 "the row written on the primary reaches the replica" q_is r 'select v from t where id = 2' streamed
poll 20 "the WAL receiver is streaming" q_is r 'select status from pg_stat_wal_receiver' streaming
[ "$(q r 'select pg_is_in_recovery()')" = t ] || fail "the replica is not in recovery"
[ "$(q p "select active from pg_replication_slots where slot_name = '$SLOT'")" = t ] ||
    fail "the replica does not stream through its slot \"$SLOT\""
[ "$(q p "select count(*) from pg_stat_replication where state = 'streaming' and client_addr = '$R_ADDR'")" = 1 ] ||
    fail "the primary does not see the replica streaming from $R_ADDR"

[ "$(stat -c '%a %U' "$WORK/r")" = "700 postgres" ] || fail "the replica's PGDATA is $(stat -c '%a %U' "$WORK/r"), want 700 postgres"
[ -f "$WORK/r/standby.signal" ] || fail "standby.signal is missing"
[ ! -e "$WORK/r/.pg-entrypoint-clone-in-progress" ] || fail "the clone marker is still there"

# Secrets: logs, the postmasters' environments, files on disk.
assert_no_secret "$rlog" "$plog" "$WORK"/*.out
for id in p r; do
    envf=/proc/${CPID[$id]}/environ
    if tr '\0' '\n' <"$envf" | grep -E -q '^(POSTGRES_PASSWORD|POSTGRES_REPLICATION_PASSWORD|PGPASSWORD)='; then
        fail "the $id postmaster's environment holds: $(tr '\0' '\n' <"$envf" | grep -E -o '^[A-Z_]*PASSWORD[A-Z_]*=' | tr '\n' ' ')"
    fi
    grep -a -q -F -f "$WORK/secrets" "$envf" && fail "a password appears in the $id postmaster's environment"
done
while read -r f; do
    [ "$(stat -c %a "$f")" = 600 ] || fail "$f holds a password and has mode $(stat -c %a "$f")"
done < <(grep -r -l -F -f "$WORK/secrets" "$WORK/r" "$WORK/p" || true)
log "PASS"
