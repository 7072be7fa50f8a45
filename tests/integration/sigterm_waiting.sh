#!/bin/bash
# sigterm_waiting: a replica waiting for a primary that is not there yet
# (nothing listens on its port) stops promptly when asked to, as `docker stop`
# (SIGTERM) and Ctrl-C (SIGINT) would: exit status 143 resp. 130, with the
# entrypoint running as PID 1 (which the kernel shields from default-action
# signals, so this only works when it handles them). The 5 s bound is a hang
# guard, not a benchmark; the measured time is printed.
source "$(dirname "$0")/lib.sh"
it_setup 50
net_single
PORT=55440  # nothing listens here: the namespace is new and empty

for case in TERM:143 INT:130; do
    sig=${case%%:*}
    want=${case##*:}
    id=wait-$sig
    data="$WORK/$id"
    IADDR[$id]=127.0.0.1
    launch "$id" "$NS_1" PGDATA="$data" POSTGRES_PRIMARY_HOST=127.0.0.1 POSTGRES_PRIMARY_PORT="$PORT" \
        POSTGRES_REPLICATION_PASSWORD="$REPLPW" HOSTNAME=replica-wait -- \
        postgres -p 55441 -k "$WORK" -c listen_addresses=127.0.0.1
    poll 10 "$id logs that it waits for the primary" grep -Eq "$(step_re wait)waiting for the primary at 127.0.0.1:$PORT" "${ILOG[$id]}"
    # In the wait once a refused attempt is logged (a condition, not a pause).
    poll 60 "$id logs a refused connection" grep -q 'Connection refused' "${ILOG[$id]}"
    sleep 1 # not a condition: a second in which it must keep waiting
    running "$id" || { wait_exit "$id" 1 || true; fail "$id exited ($EXIT_RC) while it should wait for the primary"; }
    grep -q 'Connection refused' "${ILOG[$id]}" || fail "$id does not wait on a refused connection"
    t0=$(date +%s%N)
    kill "-$sig" "${CPID[$id]}"
    if ! wait_exit "$id" 5; then
        fail "SIG$sig: the waiting replica (PID 1) did not exit within 5 s"
    fi
    ms=$((($(date +%s%N) - t0) / 1000000))
    log "SIG$sig: exited with status $EXIT_RC after $ms ms"
    [ "$EXIT_RC" = "$want" ] || fail "SIG$sig: exit status $EXIT_RC, want $want (128+SIG$sig)"
    if [ -n "$(ip netns pids "$NS_1")" ]; then
        fail "SIG$sig: processes remain after the entrypoint exited: $(ip netns pids "$NS_1" | tr '\n' ' ')"
    fi
    assert_log_lacks "${ILOG[$id]}" "$(step_re clone)pg_basebackup" "$id started a clone"
done
log "PASS"
