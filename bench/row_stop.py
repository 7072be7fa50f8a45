"""Row `stop`: SIGINT (what `docker stop` sends) while ours waits for an
absent primary, in initdb and while cloning, until the namespace is gone.
The cloning phase runs against the re-seed primary (row_reseed); "running"
is measured by the boot, seed and restart rows."""
import signal
import time

from harness import PORT, say


def stop_phase(bench, phase, launch, trigger, settle, cleanup=None):
    times = []
    for i in range(bench.n):
        inst = launch(i)
        trigger(inst)
        time.sleep(settle)
        t = inst.stop(signal.SIGINT, limit=30)
        rc = inst.proc.returncode
        text = inst.text()
        ok = rc == 130 and "stopped by signal" in text and "starting postgres" not in text
        say(f"stop {phase} run {i + 1}: SIGINT -> gone {t:.3f} s, exit status {rc}"
            f"{'' if ok else ' (NOT a stop before postgres: the signal came too late?)'}")
        times.append(t if ok else None)
        if cleanup:
            cleanup(i)
    bench.results.setdefault("stop_phases", {})[phase] = times


def early(bench):
    say("== stop while waiting for an absent primary and in initdb (SIGINT, as docker stop)")
    stop_phase(
        bench,
        "waiting",
        lambda i: bench.launch_ours_replica(f"stopwait-{i + 1}", f"stopwait-{i + 1}", PORT["absent"],
                                            PORT["load_r"], "benchw"),
        lambda inst: inst.wait_log(r"wait: +waiting for the primary", 20),
        0.3, lambda i: bench.rmdata(f"stopwait-{i + 1}"))
    stop_phase(
        bench,
        "initdb",
        lambda i: bench.launch_ours_primary(f"stopinitdb-{i + 1}", f"stopinitdb-{i + 1}", PORT["initdb_stop"]),
        lambda inst: inst.wait_log(r"initdb: +initialising the cluster", 20),
        0.2, lambda i: bench.rmdata(f"stopinitdb-{i + 1}"))


def cloning(bench, pp):
    """Against the re-seed primary (on port pp), holding 100 MiB or more."""
    say("== stop while cloning (primary's link throttled to 40 Mbit/s so that the clone lasts)")
    bench.throttle(bench.ns_p, "40mbit")
    stop_phase(
        bench,
        "cloning",
        lambda i: bench.launch_ours_replica(f"stopclone-{i + 1}", f"stopclone-{i + 1}", pp,
                                            PORT["reseed_r"], "benchc"),
        lambda inst: inst.wait_log(r"clone: +pg_basebackup from", 30),
        0.5, lambda i: (bench.rmdata(f"stopclone-{i + 1}"), bench.drop_slot("reseed-p", pp, "benchc")))
    bench.unthrottle(bench.ns_p)
