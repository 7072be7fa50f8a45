#!/usr/bin/env python3
"""Every benchmark of pg-entrypoint in one command: this project against a
floor that does the least possible work, measured in the same run,
interleaved (floor/ours, then ours/floor, ...), N runs each. Prints each run,
then a table of medians with the ratio ours / floor per row, and the
targets. Nothing is asserted: the machines are noisy, ratios are the figure.

Host-level rows run real PostgreSQL 15 (Debian's, PG_BINDIR) as root. Each
instance runs the way a container would: as PID 1 of its own PID namespace
(`unshare --pid --fork --mount-proc`), the primary and the replica in two
network namespaces joined by a veth pair (192.0.2.1 and 192.0.2.2,
TEST-NET-1). The floor does the same with no entrypoint: `initdb && exec
postgres`, `pg_basebackup && exec postgres`, `exec postgres`, through
setpriv (which execs, so postgres is PID 1 there too).

rows (--only takes their names):
  boot     primary first boot, to `select 1` over TCP
  seed     replica seeding while the primary takes a pgbench write load
           (scale 20, 4 clients), to pg_stat_wal_receiver = streaming
  restart  replica restart on its existing data, to streaming
  stop     stop (SIGINT, what `docker stop` sends) while waiting for the
           primary, cloning, in initdb; "running" comes from boot, seed and
           restart (SIGINT to the postmaster until the namespace is gone)
  reseed   re-seed at 100 MiB of primary data (ours: POSTGRES_RESEED=force
           over the previous copy, to the exec of postgres; floor: bare
           pg_basebackup --checkpoint=fast into an empty directory, to its
           exit); --large adds 1 GiB and 4 GiB
  heal     a replica whose slot was lost and WAL removed on the primary,
           restarted (it re-seeds), to streaming, against a plain clone of
           the same primary, to streaming; 100 MiB, --large adds 1 GiB
  promote  a standby whose primary stopped cleanly: `pg-entrypoint promote`
           (POSTGRES_PEERS naming that primary) until it exits, against
           bare `pg_ctl promote -w`
  follower primary + two standbys; the primary stops, one standby is
           promoted: seconds until the other streams from it (no floor)
  rejoin   the old primary with about 10 MB of divergence, started with
           POSTGRES_PEERS, rewinds -> streaming, against a full re-clone of
           the new primary -> streaming, at 1 GiB (--large: 4 GiB too);
           then SIGTERM while it rewinds (the source throttled), to gone
  compose  bench/compose-bench.py: `docker compose up` to a row replayed
           on the replica (needs dockerd and the images; --build builds them)
The entrypoint's own CPU time and peak RSS come from its last log line
(`starting postgres (pg-entrypoint used X s of CPU, peak RSS N kB)`).

usage: bench/run.py [-n RUNS] [--bin PATH] [--large] [--only ROWS]
                    [--markdown FILE] [--build] [--keep]      (as root)
Ports 56000-56099 (inside the bench's own namespaces; compose: 127.0.0.1).
"""
import argparse
import os
import signal
import sys
import time

import row_boot
import row_compose
import row_failover
import row_heal
import row_reseed
import row_restart
import row_seed
import row_stop
from harness import TOP, Bench, BenchError, now, say
from report import machine, report

# The rows, one module each (row_<name>.py) on the shared harness.py; the
# report is report.py.
ROWS = ["boot", "seed", "restart", "stop", "reseed", "heal", "promote", "follower", "rejoin", "compose"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--runs", type=int, default=5, help="runs of each side per row (default 5)")
    ap.add_argument("--bin", default=os.path.join(TOP, "build", "pg-entrypoint"),
                    help="the pg-entrypoint binary (default build/pg-entrypoint)")
    ap.add_argument("--large", action="store_true", help="also re-seed at 1 GiB and 4 GiB, heal at 1 GiB, rejoin at 4 GiB (slow; ~25 GB of disk)")
    ap.add_argument("--only", help=f"comma-separated rows: {','.join(ROWS)} (default all)")
    ap.add_argument("--skip", help="comma-separated rows to leave out")
    ap.add_argument("--build", action="store_true", help="docker-compose build before the compose row")
    ap.add_argument("--markdown", help="also write the report to this file")
    ap.add_argument("--workdir", default=None, help="parent of the temporary work directory (default $TMPDIR or /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, data)")
    args = ap.parse_args()
    rows = args.only.split(",") if args.only else list(ROWS)
    if args.skip:
        rows = [r for r in rows if r not in args.skip.split(",")]
    bad = [r for r in rows if r not in ROWS]
    if bad:
        ap.error(f"unknown rows: {','.join(bad)}")
    if "restart" in rows and "seed" not in rows:
        rows.append("seed")  # the restart row restarts the replicas the seed row made

    bench = Bench(args)

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    load_at_start = " ".join(open("/proc/loadavg").read().split()[:3])
    started = now()
    failed = None
    try:
        bench.setup()
        if "boot" in rows:
            row_boot.run(bench)
        if "stop" in rows:
            row_stop.early(bench)
        if "reseed" in rows or "stop" in rows:
            row_reseed.run(bench, "reseed" in rows, "stop" in rows)
        if "heal" in rows:
            row_heal.run(bench)
        if "seed" in rows:
            row_seed.run(bench)
        if "restart" in rows:
            row_restart.run(bench)
        if {"promote", "follower", "rejoin"} & set(rows):
            row_failover.run(bench, rows)
        if "compose" in rows:
            row_compose.run(bench)
    except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001 -- report, clean up, exit 1
        failed = f"{type(e).__name__}: {e}"
        say(f"FAILED: {failed}")
        if not isinstance(e, (BenchError, KeyboardInterrupt)):
            import traceback
            traceback.print_exc()
    finally:
        bench.cleanup()
    summary, detail = report(bench)
    head = (f"pg-entrypoint bench, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
            f"`bench/run.py {' '.join(sys.argv[1:])}`, {now() - started:.0f} s\n\n"
            f"Machine: {machine(load_at_start)}\n")
    skipped = [r for r in ROWS if r not in rows]
    tail = ""
    if skipped:
        tail += f"\nRows not run (on purpose): {', '.join(skipped)}\n"
    if failed:
        tail += f"\nThe run FAILED before it finished: {failed}\n"
    text = head + "\n" + summary + "\n" + detail + "\n" + tail
    print("\n" + text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
