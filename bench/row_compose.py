"""Row `compose`: `docker compose up` to a row replayed on the replica, this
project's stack against floor-compose.yml, by compose-bench.py."""
import json
import os
import shutil
import subprocess
import sys

from harness import HERE, PORT, TOP, BenchError, now, say


def run(bench):
    say("== docker compose up -> row replayed (bench/compose-bench.py)")
    compose = ["docker-compose"] if shutil.which("docker-compose") else ["docker", "compose"]
    if bench.args.build:
        t = now()
        subprocess.run(compose + ["build", "-q"], cwd=TOP, check=True)
        say(f"{' '.join(compose)} build took {now() - t:.0f} s")
    out = os.path.join(bench.work, "compose.json")
    r = subprocess.run([sys.executable, os.path.join(HERE, "compose-bench.py"), "-n", str(bench.n),
                        "--primary-port", str(PORT["compose_p"]), "--replica-port", str(PORT["compose_r"]),
                        "--json", out])
    if r.returncode != 0:
        raise BenchError("compose-bench.py failed")
    with open(out) as f:
        data = json.load(f)
    for kind in ("floor", "ours"):
        for run in data[kind]:
            bench.record("compose", kind, run[2])
            bench.record("compose ready", kind, run[0])
            bench.record("compose streaming", kind, run[1])
