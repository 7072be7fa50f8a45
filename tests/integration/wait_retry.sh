#!/bin/bash
# wait_retry: a replica waiting for its primary tries again at least every
# 0.25 s once its backoff has grown (20, 40, 80, 160, then 250 ms), so that
# it clones soon after the primary comes up. A listener that accepts each
# connection and closes it at once stands in for a primary that is not
# ready; it records when each attempt came. Counted over the 4 s that follow
# the first 2 s (the backoff is capped by then): at least 8 attempts. A cap
# of 0.25 s gives ~16; the former 1 s cap gave 4. The replica keeps waiting
# through it and stops on SIGTERM.
source "$(dirname "$0")/lib.sh"
it_setup 90
net_single
PORT=55480
times="$WORK/attempts"

ip netns exec "$NS_1" /usr/bin/python3 - "$PORT" "$times" <<'PY' &
import socket, sys, time
port, out = int(sys.argv[1]), sys.argv[2]
s = socket.socket()
s.bind(("127.0.0.1", port))
s.listen(64)
s.settimeout(15)
open(out + ".listening", "w").close()
first, seen = None, []
try:
    while first is None or time.monotonic() - first < 6.5:
        c, _ = s.accept()
        now = time.monotonic()
        first = first if first is not None else now
        seen.append(now - first)
        c.close()
except socket.timeout:
    pass
with open(out, "w") as f:
    f.write("".join(f"{t:.3f}\n" for t in seen))
PY
listener=$!
poll 10 "the listener is up" test -e "$times.listening"

id=r
IADDR[$id]=127.0.0.1
launch "$id" "$NS_1" PGDATA="$WORK/r" POSTGRES_PRIMARY_HOST=127.0.0.1 POSTGRES_PRIMARY_PORT="$PORT" \
    POSTGRES_REPLICATION_PASSWORD="$REPLPW" HOSTNAME=replica-wait -- \
    postgres -p 55481 -k "$WORK" -c listen_addresses=127.0.0.1
wait "$listener" || fail "the listener failed"
[ -s "$times" ] || fail "no connection attempt reached the listener"
running "$id" || { wait_exit "$id" 1 || true; fail "$id exited ($EXIT_RC) while it should wait for the primary"; }
assert_log_has "${ILOG[$id]}" "$(step_re wait)waiting for the primary at 127.0.0.1:$PORT" "$id does not say that it waits"
total=$(wc -l <"$times")
late=$(awk '$1 >= 2 && $1 < 6' "$times" | wc -l)
log "$total attempts in 6.5 s; $late between 2 s and 6 s after the first: $(tr '\n' ' ' <"$times")"
[ "$late" -ge 8 ] || fail "only $late attempts between 2 s and 6 s: the wait does not retry at least every 0.25 s"
stop "$id" TERM
[ "$EXIT_RC" = 143 ] || fail "exit status $EXIT_RC after SIGTERM, want 143"
log "PASS"
