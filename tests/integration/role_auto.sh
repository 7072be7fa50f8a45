#!/bin/bash
# role_auto: a StatefulSet-like deployment, as on Kubernetes with a
# non-root securityContext and an fsGroup volume:
#  - the ordinal in the host name decides the role (pg-0, db-cluster-0:
#    primary; pg-1, pg-10, pg-01: replica; pg, pg-, pg-x, pg-1a: exit 78), as
#    `plan` reports it;
#  - every pod runs the same environment with POSTGRES_ROLE=auto (including
#    POSTGRES_PRIMARY_HOST, which alone would mean a replica); pg-0 comes
#    up as the primary, pg-1 (POSTGRES_PRIMARY_HOST pointing at pg-0) as a
#    replica that clones, streams through slot "pg_1" and receives a row;
#  - both run as uid/gid 999 from the first instruction (setpriv, no root at
#    all), with PGDATA a subdirectory of a volume owned by root:999, mode
#    2775; uid 999 without a passwd entry initialises through nss_wrapper;
#    both postmasters run as 999, PGDATA is theirs with mode 0700;
#  - POSTGRES_ROLE=auto on a host name without an ordinal exits 78 naming
#    POSTGRES_ROLE, before touching anything.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"
it_setup 350
net_pair
P_PORT=55640
R_PORT=55641
RUN_UID=999
command -v setpriv >/dev/null || fail "setpriv not found (Debian package util-linux)"
LAUNCH_EXEC=(setpriv --reuid="$RUN_UID" --regid="$RUN_UID" --clear-groups "$BIN")
no_passwd=0
awk -F: -v u="$RUN_UID" '$3 == u { found = 1 } END { exit !found }' /etc/passwd || no_passwd=1

# fsGroup-like volumes: root:999, setgid, group-writable; PGDATA inside.
for v in vol-p vol-r; do
    mkdir "$WORK/$v"
    chown "0:$RUN_UID" "$WORK/$v"
    chmod 2775 "$WORK/$v"
done
# One environment for every pod, as a StatefulSet's template gives it: also
# pg-0 has POSTGRES_PRIMARY_HOST (which alone would make it a replica).
AUTO=(POSTGRES_ROLE=auto POSTGRES_PASSWORD="$SUPERPW" POSTGRES_REPLICATION_PASSWORD="$REPLPW"
    POSTGRES_PRIMARY_HOST="$P_ADDR" POSTGRES_PRIMARY_PORT="$P_PORT")

# The ordinal decides, as `plan` shows without starting anything.
for case in pg-0:primary db-cluster-0:primary pg-1:replica pg-10:replica pg-01:replica; do
    run_bin "" PGDATA="$WORK/plan-data" "${AUTO[@]}" HOSTNAME="${case%%:*}" -- plan
    expect_rc 0 "plan with POSTGRES_ROLE=auto and HOSTNAME=${case%%:*}"
    out_has "^role: ${case##*:}\$" "plan with POSTGRES_ROLE=auto and HOSTNAME=${case%%:*}"
done
for h in pg pg- pg-x pg-1a; do
    run_bin "" PGDATA="$WORK/plan-data" "${AUTO[@]}" HOSTNAME="$h" -- plan
    expect_rc 78 "plan with POSTGRES_ROLE=auto and HOSTNAME=$h"
    err_has "ERROR +config: POSTGRES_ROLE=auto needs a host name ending in -ORDINAL .*"$h"" "plan with POSTGRES_ROLE=auto and HOSTNAME=$h"
done
[ ! -e "$WORK/plan-data" ] || fail "plan created PGDATA"

# pg-0: the primary.
launch_primary p "$NS_P" "$P_ADDR" "$P_PORT" "$WORK/vol-p/pgdata" "${AUTO[@]}" HOSTNAME=pg-0
wait_ready p
plog=${ILOG[p]}
assert_log_has "$plog" "$(step_re start)pg-entrypoint .*, role primary," "pg-0 started as the primary"
assert_log_has "$plog" "$(step_re initdb)done in" "pg-0 ran initdb"
if [ "$no_passwd" = 1 ]; then
    assert_log_has "$plog" "uid $RUN_UID has no passwd entry: initdb runs with nss_wrapper" "initdb through nss_wrapper"
fi
[ "$(q p 'select pg_is_in_recovery()')" = f ] || fail "pg-0 is in recovery"
is_postmaster p || fail "pg-0's PID 1 is not postgres"
[ "$(pm_ids p)" = "$RUN_UID $RUN_UID" ] || fail "pg-0's postmaster runs as uid/gid $(pm_ids p), want $RUN_UID"
[ "$(stat -c '%u %a' "$WORK/vol-p/pgdata")" = "$RUN_UID 700" ] ||
    fail "pg-0's PGDATA is uid/mode $(stat -c '%u %a' "$WORK/vol-p/pgdata"), want $RUN_UID 700"
[ -z "$(find "$WORK/vol-p/pgdata" ! -uid "$RUN_UID" -print -quit)" ] ||
    fail "pg-0's PGDATA holds files not owned by $RUN_UID: $(find "$WORK/vol-p/pgdata" ! -uid "$RUN_UID" | head -3)"
[ "$(q p "select count(*) from pg_roles where rolname = 'replicator' and rolreplication")" = 1 ] ||
    fail "pg-0 has no replication role"
q p "create table t (id int primary key, v text); insert into t values (1, 'from pg-0')"

# pg-1: a replica of pg-0.
launch_replica r "$NS_R" "$R_ADDR" "$R_PORT" "$WORK/vol-r/pgdata" "${AUTO[@]}" HOSTNAME=pg-1
wait_ready r
rlog=${ILOG[r]}
assert_log_has "$rlog" "$(step_re start)pg-entrypoint .*, role replica," "pg-1 started as a replica"
assert_log_has "$rlog" "$(step_re clone)done in" "pg-1 cloned pg-0"
poll 20 "pg-1 streams" q_is r 'select status from pg_stat_wal_receiver' streaming
[ "$(q r 'select pg_is_in_recovery()')" = t ] || fail "pg-1 is not in recovery"
[ "$(q p "select active from pg_replication_slots where slot_name = 'pg_1'")" = t ] ||
    fail "no active slot pg_1 on pg-0: $(q p 'select slot_name, active from pg_replication_slots')"
[ "$(q p "select application_name from pg_stat_replication where client_addr = '$R_ADDR'")" = pg_1 ] ||
    fail "pg-1 does not stream as pg_1: $(q p 'select application_name, client_addr from pg_stat_replication')"
is_postmaster r || fail "pg-1's PID 1 is not postgres"
[ "$(pm_ids r)" = "$RUN_UID $RUN_UID" ] || fail "pg-1's postmaster runs as uid/gid $(pm_ids r), want $RUN_UID"
[ "$(stat -c '%u %a' "$WORK/vol-r/pgdata")" = "$RUN_UID 700" ] ||
    fail "pg-1's PGDATA is uid/mode $(stat -c '%u %a' "$WORK/vol-r/pgdata"), want $RUN_UID 700"
[ "$(q r 'select v from t where id = 1')" = 'from pg-0' ] || fail "the row written before the clone is not on pg-1"
q p "insert into t values (2, 'streamed')"
poll 20 "a row written on pg-0 reaches pg-1" q_is r 'select v from t where id = 2' streamed
# Every process of both pods (their PID namespaces) runs as 999: nothing
# kept root.
for id in p r; do
    pidns=$(readlink "/proc/${CPID[$id]}/ns/pid")
    n=0
    for pid in $(ip netns pids "${INS[$id]}"); do
        [ "$(readlink "/proc/$pid/ns/pid" 2>/dev/null)" = "$pidns" ] || continue
        n=$((n + 1))
        u=$(awk '/^Uid:/ { print $2 $3 $4 $5 }' "/proc/$pid/status" 2>/dev/null) || continue
        [ -z "$u" ] || [ "$u" = "$RUN_UID$RUN_UID$RUN_UID$RUN_UID" ] ||
            fail "process $pid ($(cat "/proc/$pid/comm")) in $id's namespace runs with uids $u"
    done
    [ "$n" -ge 5 ] || fail "found only $n processes in $id's PID namespace; the uid check proved nothing"
done
assert_no_secret "$plog" "$rlog"

# A host name without an ordinal.
launch standalone "$NS_R" PGDATA="$WORK/vol-r/other" "${AUTO[@]}" HOSTNAME=standalone -- \
    postgres -p 55642 -k "$WORK/sock-r" -c listen_addresses=127.0.0.1
wait_exit standalone 15 || fail "POSTGRES_ROLE=auto with HOSTNAME=standalone still runs after 15 s"
[ "$EXIT_RC" = 78 ] || fail "POSTGRES_ROLE=auto with HOSTNAME=standalone exited $EXIT_RC, want 78: $(cat "${ILOG[standalone]}")"
assert_log_has "${ILOG[standalone]}" 'ERROR +config: .*POSTGRES_ROLE.*"standalone"' "the error names POSTGRES_ROLE and the host name"
[ ! -e "$WORK/vol-r/other" ] || fail "PGDATA was created despite the configuration error"
log "standalone: $(grep -m1 ERROR "${ILOG[standalone]}" | sed 's/.*ERROR *//')"
log "PASS"
