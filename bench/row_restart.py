"""Row `restart`: the replicas of the seed row restarted on their existing
data (no load), launch -> streaming; ours against exec postgres."""
import signal
import subprocess

from harness import PORT, R_ADDR, order, say


def run(bench):
    if bench.load.poll() is None:
        # pgbench installs a cancel handler for SIGINT and now and then
        # does not exit on it; the load only has to stop.
        bench.load.send_signal(signal.SIGINT)
        try:
            bench.load.wait(10)
        except subprocess.TimeoutExpired:
            bench.load.kill()
            bench.load.wait(10)
    say("== replica restart on existing data (no load): launch -> streaming")
    rp = PORT["load_r"]
    launch = {
        "ours": lambda name: bench.launch_ours_replica(name, "seed-ours", PORT["load_p"], rp, "benchl"),
        "floor": lambda name: bench.launch_floor_restart(name, "seed-floor", rp),
    }
    # Warm-up, not timed: both replicas replay a checkpoint taken after the
    # load stopped, so that their shutdown restartpoints leave them in the
    # same state (the same little WAL to replay on every restart).
    bench.psql_local("load-p", PORT["load_p"], "checkpoint")
    lsn = bench.psql_local("load-p", PORT["load_p"], "select checkpoint_lsn from pg_control_checkpoint()")
    for kind in ("floor", "ours"):
        inst = launch[kind](f"restart-{kind}-warmup")
        bench.wait_streaming(inst, rp)
        bench.wait_sql(inst, R_ADDR, rp, f"select pg_last_wal_replay_lsn() >= '{lsn}'", "t", 300)
        inst.stop()
    for i in range(bench.n):
        for kind in order(i):
            bench.time_streaming("restart", kind, i, launch[kind](f"restart-{kind}-{i + 1}"), rp, 3)
    bench.load_p.stop()
