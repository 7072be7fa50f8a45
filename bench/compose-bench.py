#!/usr/bin/env python3
"""Times `docker compose up` to a streaming replica: this project's stack
against the floor stack (floor-compose.yml), interleaved, in one run.

For each stack and run: seconds from `up` to the primary accepting TCP
connections, to the replica streaming (pg_stat_wal_receiver), and to a row
written on the primary as soon as it was ready being readable on the replica.
Prints medians and ratios (ours / floor); --markdown writes the table too.
The images must exist (docker compose build; tests/images/build-base-image.sh).

--major N: PostgreSQL N (PG_MAJOR=N for this project's compose file, whose
images are then pg-entrypoint-ROLE:localN; BASE_IMAGE=postgres:N for the
floor, so each major is measured against its own floor on the same base
image). --boot: the primary's first boot alone (`up primary` -> accepting
connections), no replica.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
PRIMARY_PORT = "56080"
REPLICA_PORT = "56081"
PASSWORD = "bench-only-password"
POLL_S = 0.02
# Debian's /usr/bin/psql is a Perl wrapper (~60 ms a call); the binary itself
# polls ten times faster.
PSQL = next((p for p in ("/usr/lib/postgresql/15/bin/psql",) if os.access(p, os.X_OK)), "psql")
LIMIT_S = 180


def compose_cmd():
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    sys.exit("neither `docker compose` nor `docker-compose` is available")


def stack_files(stack):
    if stack == "ours":
        return ["-f", os.path.join(TOP, "docker-compose.yml"), "-f", os.path.join(HERE, "ours-ports.yml")]
    return ["-f", os.path.join(HERE, "floor-compose.yml")]


def psql(port, sql, user="postgres"):
    env = dict(os.environ, PGPASSWORD=PASSWORD, PGCONNECT_TIMEOUT="2")
    r = subprocess.run([PSQL, "-h", "127.0.0.1", "-p", port, "-U", user, "-d", "postgres",
                        "-XAtqc", sql], capture_output=True, text=True, env=env)
    return r.stdout.strip() if r.returncode == 0 else None


def wait_for(pred, t0):
    while time.monotonic() - t0 < LIMIT_S:
        if pred():
            return time.monotonic() - t0
        time.sleep(POLL_S)
    raise RuntimeError("timed out")


def one_run(compose, stack, run, major=None, boot=False):
    """Seconds from `up` to: primary ready, replica streaming, row replayed
    (with boot: primary ready only)."""
    project = f"pgep-bench-{stack}-{os.getpid()}-{run}"
    base = compose + ["-p", project] + stack_files(stack)
    env = dict(os.environ, PRIMARY_PORT=PRIMARY_PORT, REPLICA_PORT=REPLICA_PORT,
               POSTGRES_PASSWORD=PASSWORD, POSTGRES_REPLICATION_PASSWORD=PASSWORD)
    env.pop("PG_MAJOR", None)
    if major:
        env.update(PG_MAJOR=str(major), BASE_IMAGE=f"postgres:{major}")
    try:
        t0 = time.monotonic()
        subprocess.run(base + ["up", "-d", "--no-build"] + (["primary"] if boot else []), check=True, env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ready = wait_for(lambda: psql(PRIMARY_PORT, "select 1") == "1", t0)
        if boot:
            return (ready,)
        psql(PRIMARY_PORT, "create table bench_row(x int); insert into bench_row values (1)")
        streaming = wait_for(lambda: psql(REPLICA_PORT, "select status from pg_stat_wal_receiver") == "streaming", t0)
        replayed = wait_for(lambda: psql(REPLICA_PORT, "select x from bench_row") == "1", t0)
        return ready, streaming, replayed
    finally:
        subprocess.run(base + ["down", "-v", "--remove-orphans", "-t", "5"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main():
    global PRIMARY_PORT, REPLICA_PORT
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--runs", type=int, default=5)
    ap.add_argument("--markdown", help="also write the table to this file")
    ap.add_argument("--json", help="also write every run's figures to this file (bench/run.py reads it)")
    ap.add_argument("--primary-port", default=PRIMARY_PORT, help=f"host port of the primary (default {PRIMARY_PORT})")
    ap.add_argument("--replica-port", default=REPLICA_PORT, help=f"host port of the replica (default {REPLICA_PORT})")
    ap.add_argument("--major", type=int, help="PostgreSQL major of both stacks (default: the compose file's, 15)")
    ap.add_argument("--boot", action="store_true", help="the primary's first boot only (no replica)")
    args = ap.parse_args()
    PRIMARY_PORT, REPLICA_PORT = str(args.primary_port), str(args.replica_port)
    compose = compose_cmd()
    results = {"floor": [], "ours": []}
    for run in range(args.runs):
        order = ["floor", "ours"] if run % 2 == 0 else ["ours", "floor"]
        for stack in order:
            r = one_run(compose, stack, run, args.major, args.boot)
            results[stack].append(r)
            print(f"run {run + 1} {stack:5}: ready {r[0]:.2f} s" +
                  ("" if args.boot else f", streaming {r[1]:.2f} s, row {r[2]:.2f} s"), flush=True)
    rows = []
    names = ["up -> primary ready", "up -> replica streaming", "up -> row replayed"]
    if args.boot:
        names = ["up primary -> ready (first boot)"]
    if args.major:
        names = [f"PostgreSQL {args.major}: {n}" for n in names]
    for i, name in enumerate(names):
        f = statistics.median(r[i] for r in results["floor"])
        o = statistics.median(r[i] for r in results["ours"])
        rows.append((name, f, o, o / f))
    lines = [f"| metric (median of {args.runs}) | floor (s) | ours (s) | ratio |", "| --- | --- | --- | --- |"]
    lines += [f"| {n} | {f:.2f} | {o:.2f} | {r:.2f}x |" for n, f, o, r in rows]
    print("\n".join(lines))
    if args.markdown:
        with open(args.markdown, "w") as fh:
            fh.write("\n".join(lines) + "\n")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh)


if __name__ == "__main__":
    main()
