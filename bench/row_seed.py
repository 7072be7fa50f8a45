"""Row `seed`: a replica seeding while the primary takes a pgbench write load
(scale 20, 4 clients), launch -> streaming; ours against pg_basebackup -R -C
+ exec postgres. Leaves the loaded primary and both replicas' data for the
restart row."""
import os
import re
import subprocess
import time

from harness import MiB, PG_BINDIR, PORT, P_ADDR, SUPERPW, BenchError, median, now, order, say


def start_load_primary(bench):
    say("== primary for the load rows: pgbench -i -s 20")
    p = bench.launch_ours_primary("load-p", "load-p", PORT["load_p"])
    bench.wait_ready(p, P_ADDR, PORT["load_p"])
    t = now()
    r = subprocess.run([f"{PG_BINDIR}/pgbench", "-i", "-q", "-s", "20", "-h", bench.sock("load-p"),
                        "-p", str(PORT["load_p"]), "-U", "postgres", "postgres"],
                       env=bench.env(PGPASSWORD=SUPERPW), capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise BenchError(f"pgbench -i failed: {r.stderr[-500:]}")
    size = int(bench.psql_local("load-p", PORT["load_p"], "select sum(pg_database_size(oid)) from pg_database"))
    say(f"pgbench -i -s 20 took {now() - t:.1f} s; the cluster holds {size / MiB:.0f} MiB")
    bench.notes.append(f"seed: the loaded primary held {size / MiB:.0f} MiB when the runs started")
    return p


def run(bench):
    bench.load_p = start_load_primary(bench)
    say("== replica seeding under pgbench load (scale 20, 4 clients): launch -> streaming")
    logf = open(os.path.join(bench.work, "logs", "pgbench.log"), "w")
    load = subprocess.Popen([f"{PG_BINDIR}/pgbench", "-n", "-c", "4", "-j", "2", "-T", "86400", "-P", "5",
                             "-h", bench.sock("load-p"), "-p", str(PORT["load_p"]), "-U", "postgres",
                             "postgres"], env=bench.env(PGPASSWORD=SUPERPW), stdout=logf, stderr=logf,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    logf.close()
    bench.bg.append(load)
    bench.load = load
    time.sleep(3)
    pp, rp = PORT["load_p"], PORT["load_r"]
    for i in range(bench.n):
        for kind in order(i):
            if load.poll() is not None:
                raise BenchError("pgbench stopped; see logs/pgbench.log")
            dname = f"seed-{kind}"
            slot = "benchl" if kind == "ours" else "benchf"
            bench.rmdata(dname)
            bench.drop_slot("load-p", pp, slot)
            name = f"seed-{kind}-{i + 1}"
            if kind == "ours":
                inst = bench.launch_ours_replica(name, dname, pp, rp, slot)
            else:
                inst = bench.launch_floor_replica(name, dname, pp, rp, slot)
            bench.time_streaming("seed", kind, i, inst, rp, 2)
    with open(os.path.join(bench.work, "logs", "pgbench.log")) as fh:
        tps = [float(m.group(1)) for m in re.finditer(r"progress: [\d.]+ s, ([\d.]+) tps", fh.read())]
    if tps:
        bench.notes.append(f"seed: pgbench ran at a median of {median(tps):.0f} tps while the replicas seeded")
