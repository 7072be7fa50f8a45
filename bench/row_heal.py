"""Row `heal`: a replica whose WAL the primary has removed (stopped while the
primary wrote past POSTGRES_MAX_SLOT_WAL_KEEP_SIZE, its slot lost) restarted
with POSTGRES_RESEED=auto: launch -> streaming, the re-seed included, against
a plain clone of the same primary (pg_basebackup -R -C -S + exec postgres)
into an empty directory -> streaming. 100 MiB; --large adds 1 GiB."""
from harness import MiB, PORT, BenchError, order, say
from row_reseed import fill

SLOT = "benchheal"


def fall_behind(bench, pp):
    """The stopped replica falls behind: eight segments (128 MB of WAL, past
    the 64MB kept for slots) and a checkpoint; its slot must be lost."""
    for i in range(8):
        bench.psql_local("heal-p", pp, f"insert into fill values ({i}, 'heal')")
        bench.psql_local("heal-p", pp, "select pg_switch_wal()")
    bench.psql_local("heal-p", pp, "checkpoint")
    status = bench.psql_local("heal-p", pp, f"select wal_status from pg_replication_slots where slot_name = '{SLOT}'")
    if status != "lost":
        raise BenchError(f"the heal replica's slot is {status or 'missing'}, not lost")


def heal_size(bench, label, target):
    pp, rp = PORT["heal_p"], PORT["heal_r"]
    size = fill(bench, target, "heal-p", pp)
    launch = {
        "ours": lambda name: bench.launch_ours_replica(name, "heal-ours", pp, rp, SLOT),
        "floor": lambda name: bench.launch_floor_replica(name, "heal-floor", pp, rp, "benchhealfloor"),
    }
    # warm-up, not timed: the first copy, streaming, then stopped
    inst = launch["ours"](f"heal-{label}-warmup")
    bench.wait_streaming(inst, rp, 3600)
    inst.stop()
    for i in range(bench.n):
        for kind in order(i):
            name = f"heal-{label}-{kind}-{i + 1}"
            if kind == "ours":
                fall_behind(bench, pp)
            else:
                bench.rmdata("heal-floor")
            inst = launch[kind](name)
            t = bench.wait_streaming(inst, rp, 3600)
            stop = inst.stop()
            f = inst.facts()
            if kind == "ours" and "can no longer catch up" not in inst.text():
                raise BenchError(f"{name} did not re-seed; log {inst.log}")
            if kind == "floor":
                bench.drop_slot("heal-p", pp, "benchhealfloor")
            bench.record(f"heal {label}", kind, t, f, stop)
            say(f"heal {label} run {i + 1} {kind:5}: streaming {t:.2f} s (clone "
                f"{f['steps'].get('clone', 0):.2f} s, postgres started at {f.get('pg_start', 0):.2f} s)")
    bench.notes.append(f"heal {label}: the primary held {size / MiB:.0f} MiB")


def run(bench):
    pp = PORT["heal_p"]
    say("== heal: a replica whose slot was lost and WAL removed, restarted (re-seed) -> streaming; "
        "floor = a plain clone of the same primary -> streaming")
    primary = bench.launch_ours_primary("heal-p", "heal-p", pp, POSTGRES_MAX_SLOT_WAL_KEEP_SIZE="64MB",
                                        POSTGRES_WAL_KEEP_SIZE="16MB")
    bench.wait_ready(primary, "192.0.2.1", pp)
    try:
        heal_size(bench, "100MiB", 100 * MiB)
        if bench.args.large:
            heal_size(bench, "1GiB", 1 << 30)
    finally:
        primary.stop()
