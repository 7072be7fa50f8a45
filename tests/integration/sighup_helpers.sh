#!/bin/bash
# sighup_helpers: SIGHUP means "reload", never "stop". Sent to the
# entrypoint (PID 1) while initdb runs, it is not forwarded to initdb (which
# would remove its output and fail): initdb finishes, the log says once that
# SIGHUP is ignored until postgres runs, and the primary comes up.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_faults.sh"
it_setup 85
net_single
PORT=55970

launch_primary p "$NS_1" 127.0.0.1 "$PORT" "$WORK/p"
fx_wait_log p "$(step_re initdb)initialising the cluster" 20 || fail "the log never said initdb:"
# SIGHUP every 50 ms for as long as initdb runs: several land while it works.
sent=0
until grep -Eq "$(step_re initdb)done in" "${ILOG[p]}"; do
    running p || break
    kill -HUP "${CPID[p]}" 2>/dev/null || true
    sent=$((sent + 1))
    sleep 0.05
done
log "sent SIGHUP $sent times while initdb ran"
if ! running p; then
    wait_exit p 5 || true
    fail "the entrypoint exited with status $EXIT_RC after SIGHUP during initdb, want it to go on"
fi
# (a SIGHUP followed by a look at the log that still saw initdb running)
[ "$sent" -gt 1 ] || fail "initdb ended before a SIGHUP could be sent; the check proved nothing"
wait_ready p 60
assert_log_has "${ILOG[p]}" "$(step_re initdb)done in" "initdb did not finish"
assert_log_has "${ILOG[p]}" "SIGHUP ignored until postgres runs" "the log does not say SIGHUP was ignored"
n=$(grep -c "SIGHUP ignored" "${ILOG[p]}" || true)
[ "$n" = 1 ] || fail "the log says SIGHUP was ignored $n times, want once"
[ "$(q p 'select 1')" = 1 ] || fail "the superuser cannot log in"
stop p INT
log "PASS"
