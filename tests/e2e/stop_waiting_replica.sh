#!/usr/bin/env bash
# A replica waiting for a primary that is not running (only the replica is
# started, with a fresh volume) stops on `docker stop` by itself, with exit
# code 130 (the image's STOPSIGNAL is SIGINT) or 143 (SIGTERM),
# not 137 (killed after docker's 10 s grace period).
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init stop-waiting-replica "${PGEP_E2E_PORT_STOP_WAITING_REPLICA:-47544}"
e2e_require_images

start_stack --no-deps replica
replica=$(cid replica)
[ -z "$(compose ps -a -q primary)" ] || fail "a primary container exists; the test needs none"

waiting() { docker logs "$replica" 2>&1 | grep -qF 'waiting for the primary'; }
wait_for 30 "the replica logs 'waiting for the primary'" waiting ||
    fail "the replica did not log 'waiting for the primary' within 30 s"
[ "$(docker inspect -f '{{.State.Running}}' "$replica")" = true ] ||
    fail "the replica is not running while it should be waiting"
# let the backoff grow to its cap (0.25 s), so the stop lands in a sleep
sleep 2
running "$replica"
docker logs "$replica" 2>&1 | grep -F 'waiting for the primary' | head -n 2 | sed 's/^/    /' >&2
log "stop signal of the container: $(docker inspect -f '{{.Config.StopSignal}}' "$replica")"

t=$(now)
docker stop "$replica" >/dev/null || fail "docker stop failed"
secs=$(elapsed "$t")
code=$(docker inspect -f '{{.State.ExitCode}}' "$replica")
log "docker stop of the waiting replica: $secs s, exit code $code"
docker logs --tail 5 "$replica" 2>&1 | sed 's/^/    last log lines: /' >&2
case $code in
130 | 143) ;;
*) fail "the stopped replica exited with $code, not 130 (SIGINT) or 143 (SIGTERM)" ;;
esac
# (no assertion on $secs: timings are never asserted; 130/143 rather than
# 137 already says it acted on the signal before docker's 10 s grace ran out)
if docker exec "$replica" true 2>/dev/null; then fail "the replica still runs"; fi
