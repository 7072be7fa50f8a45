#!/bin/bash
# exec_hygiene: what a helper inherits. The entrypoint is started (as PID 1)
# with SIGUSR1 blocked and SIGHUP and SIGUSR2 ignored; an init script in
# /docker-entrypoint-initdb.d records its own /proc/self/status and open
# descriptors:
#  - its signal mask and ignored signals are the ones the entrypoint was
#    started with (SigBlk = USR1; SigIgn = HUP and USR2), not a reset mask
#    nor our handlers' defaults;
#  - it does not hold the PGDATA lock descriptor (nor any descriptor on
#    PGDATA), while postgres, after the final exec, does;
#  - after the drop from root it runs in postgres's home (or PGDATA when the
#    home is not reachable), not where it was started (/ here),
#    and HOME is that home, for postgres too.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/lib_ops.sh"
source "$(dirname "$0")/lib_compat.sh"
compat_setup 85
net_single
PORT=55972
PY=/usr/bin/python3
[ -x "$PY" ] || fail "$PY not found (Debian package python3)"

mkdir -m 755 "$WORK/initdb.d" "$WORK/out"
chmod 777 "$WORK/out"
# (python, not sh: dash clears the signal mask when it starts)
cat >"$WORK/initdb.d/10-record.sh" <<EOF2
#!$PY
import os, subprocess
out = "$WORK/out"
with open("/proc/self/status") as f, open(out + "/status", "w") as o:
    o.writelines(l for l in f if l.startswith(("SigBlk:", "SigIgn:")))
with open(out + "/fd", "w") as o:
    for fd in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            st = os.stat("/proc/self/fd/" + fd)
            o.write("%s %d:%d %s\\n" % (fd, st.st_dev, st.st_ino, os.readlink("/proc/self/fd/" + fd)))
        except OSError:
            pass
with open(out + "/cwd", "w") as o:
    o.write(os.getcwd() + "\\n" + os.environ.get("HOME", "(unset)") + "\\n")
with open(out + "/fd-ls", "w") as o:
    subprocess.run(["ls", "-l", "/proc/self/fd"], stdout=o)
EOF2
chmod 755 "$WORK/initdb.d/10-record.sh"
# The instance runs under lib_compat's private root, with this directory on
# /docker-entrypoint-initdb.d; a python wrapper sets the signal state and
# execs the entrypoint (with SIGPIPE and SIGXFSZ, which python ignores, back
# to their default).
cat >"$WORK/sigwrap" <<EOF2
#!$PY
import os, signal, sys
for s in (signal.SIGPIPE, signal.SIGXFSZ):
    signal.signal(s, signal.SIG_DFL)
signal.signal(signal.SIGHUP, signal.SIG_IGN)
signal.signal(signal.SIGUSR2, signal.SIG_IGN)
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
os.execv("$BIN", ["$BIN"] + sys.argv[1:])
EOF2
chmod 755 "$WORK/sigwrap"
real_bin=$BIN
BIN=$WORK/sigwrap
CL_INITDB_D=$WORK/initdb.d
cl_launch p "$NS_1" 127.0.0.1 "$PORT" PGDATA="$WORK/p" POSTGRES_PASSWORD="$SUPERPW"
BIN=$real_bin
wait_ready p 60
assert_log_has "${ILOG[p]}" "$(step_re initdb.d)running /docker-entrypoint-initdb.d/10-record.sh" "the script did not run"
[ -s "$WORK/out/status" ] || fail "the script wrote nothing"
log "the script's $(tr '\n\t' '  ' <"$WORK/out/status")"
log "the script's descriptors: $(tr '\n' ';' <"$WORK/out/fd")"
# bits: SIGHUP 1 -> 0x1, SIGUSR1 10 -> 0x200, SIGUSR2 12 -> 0x800
grep -q '^SigBlk:[[:space:]]*0*200$' "$WORK/out/status" ||
    fail "the script's signal mask is not the one the entrypoint started with (want SIGUSR1 only): $(grep SigBlk "$WORK/out/status")"
# (python, which runs the script, ignores SIGPIPE and SIGXFSZ itself)
ign=$(awk '/^SigIgn:/ { print $2 }' "$WORK/out/status")
[ $((0x$ign & 0xfff)) = $((0x801)) ] ||
    fail "the script does not ignore what the entrypoint started ignoring (want SIGHUP and SIGUSR2): $(grep SigIgn "$WORK/out/status")"
pgdata_id=$(stat -c '%d:%i' "$WORK/p")
if grep -E "^[0-9]+ $pgdata_id " "$WORK/out/fd"; then
    fail "the script inherited a descriptor on PGDATA (the lock)"
fi
# After the drop from root: the working directory is postgres's home (when
# reachable, else PGDATA), and HOME names it, for the script and postgres.
home=$(awk -F: '$1 == "postgres" { print $6 }' /etc/passwd)
want_cwd=$WORK/p
if runuser -u postgres -- sh -c 'cd "$1"' sh "$home" 2>/dev/null; then want_cwd=$home; fi
log "the script's working directory and HOME: $(tr '\n' ' ' <"$WORK/out/cwd")(it was started in /)"
[ "$(sed -n 1p "$WORK/out/cwd")" = "$want_cwd" ] ||
    fail "the script runs in \"$(sed -n 1p "$WORK/out/cwd")\", want \"$want_cwd\" (a directory postgres can use)"
[ "$(sed -n 2p "$WORK/out/cwd")" = "$home" ] ||
    fail "the script has HOME=$(sed -n 2p "$WORK/out/cwd"), want $home (postgres's home)"
tr '\0' '\n' <"/proc/${CPID[p]}/environ" | grep -qx "HOME=$home" || fail "postgres does not have HOME=$home"
# postgres (PID 1 after the final exec) holds the lock descriptor.
held=$(for f in /proc/"${CPID[p]}"/fd/*; do stat -L -c '%d:%i' "$f" 2>/dev/null; done | grep -cx "$pgdata_id" || true)
[ "$held" = 1 ] || fail "postgres holds $held descriptors on PGDATA, want 1 (the lock)"
flock -n -x "$WORK/p" true && fail "PGDATA is not locked while postgres runs"
stop p INT
log "PASS"
