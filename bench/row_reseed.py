"""Row `reseed`: POSTGRES_RESEED=force over the previous copy (wipe + clone),
to the exec of postgres, against a bare pg_basebackup into an empty
directory, at 100 MiB of primary data (and 1 GiB and 4 GiB with --large).
Its primary also serves the stop row's cloning phase."""
import shlex
import subprocess

import row_stop
from harness import MiB, PORT, P_ADDR, REPLPW, RE_EXEC, BenchError, Instance, fmt_s, now, say


def fill(bench, target, sockname="reseed-p", port=PORT["reseed_p"]):
    """Grows a primary (the re-seed one unless told) to `target` bytes (all databases)."""
    bench.psql_local(sockname, port, "create table if not exists fill (id bigint, pad text)")
    t = now()
    while True:
        size = int(bench.psql_local(sockname, port, "select sum(pg_database_size(oid)) from pg_database"))
        if size >= target:
            break
        rows = max(1000, min(500000, int((target - size) / 1100)))
        bench.psql_local(sockname, port,
                         f"insert into fill select g, repeat(md5(g::text), 30) "
                         f"from generate_series(1, {rows}) g")
    bench.psql_local(sockname, port, "checkpoint")
    say(f"{sockname} holds {size / MiB:.0f} MiB (filled in {now() - t:.1f} s)")
    return size


def reseed_size(bench, label, target):
    """Three sides, rotated run by run: ours (POSTGRES_RESEED=force over
    its previous copy), the floor (bare pg_basebackup into an empty
    directory) and, for information, a shell re-seed (`rm -rf` of its
    previous copy, then the same pg_basebackup): a re-seed has to
    discard the old copy, and that costs what it costs on this disk."""
    pp, rp = PORT["reseed_p"], PORT["reseed_r"]
    size = fill(bench, target)
    ours_launch = lambda name, **kv: bench.launch_ours_replica(name, "reseed-ours", pp, rp, "benchs", **kv)
    q = shlex.quote
    rm_script = (f"rm -rf {q(bench.data('reseed-floorrm'))} && exec " +
                 " ".join(map(q, bench.floor_basebackup("reseed-floorrm", pp))))
    # warm-ups (not timed): leave a copy of this size for the first re-seeds
    inst = ours_launch(f"reseed-{label}-warmup", POSTGRES_RESEED="force")
    inst.wait_log(r"LOG:  starting PostgreSQL", 3600)
    inst.stop()
    bench.drop_slot("reseed-p", pp, "benchs")
    inst = Instance(bench, f"reseed-{label}-floorrm-warmup", bench.ns_r, ["sh", "-c", rm_script],
                    bench.env(PGPASSWORD=REPLPW))
    if inst.wait_exit(3600) is None or inst.proc.returncode != 0:
        raise BenchError(f"the shell re-seed's warm-up failed; log {inst.log}")
    subprocess.run(["sync", "-f", bench.work], check=True)
    kinds = ["floor", "ours", "floor_rm"]
    for i in range(bench.n):
        for kind in kinds[i % 3:] + kinds[:i % 3]:
            name = f"reseed-{label}-{kind}-{i + 1}"
            if kind == "ours":
                inst = ours_launch(name, POSTGRES_RESEED="force")
                inst.wait_log(RE_EXEC.pattern, 3600)
                f = inst.facts()
                t = f["exec"]
                # a PID 1 without a handler ignores SIGINT: wait until postgres has its own
                inst.wait_log(r"LOG:  starting PostgreSQL", 60)
                inst.stop()
                bench.drop_slot("reseed-p", pp, "benchs")
                bench.record(f"reseed {label}", "ours", t, f)
                bench.record(f"reseed {label} rm", "ours", t, f)
                say(f"reseed {label} run {i + 1} ours    : copy done {t:.2f} s (wipe "
                    f"{fmt_s(f['steps'].get('wipe'))} s, clone {fmt_s(f['steps'].get('clone'))} s)")
                continue
            if kind == "floor":
                bench.rmdata("reseed-floor")
                argv = bench.floor_basebackup("reseed-floor", pp)
            else:
                argv = ["sh", "-c", rm_script]
            inst = Instance(bench, name, bench.ns_r, argv, bench.env(PGPASSWORD=REPLPW))
            done = inst.wait_exit(3600)
            if done is None or inst.proc.returncode != 0:
                raise BenchError(f"{name}: pg_basebackup failed (status {inst.proc.returncode}); log {inst.log}")
            t = done - inst.t0
            bench.record(f"reseed {label}" if kind == "floor" else f"reseed {label} rm", "floor", t, inst.facts())
            say(f"reseed {label} run {i + 1} {kind:8}: copy done {t:.2f} s")
            if kind == "floor_rm":
                subprocess.run(["sync", "-f", bench.work], check=True)
    bench.notes.append(f"reseed {label}: the primary held {size / MiB:.0f} MiB")


def run(bench, with_reseed, with_stop):
    pp = PORT["reseed_p"]
    bench.reseed_p = bench.launch_ours_primary("reseed-p", "reseed-p", pp)
    bench.wait_ready(bench.reseed_p, P_ADDR, pp)
    if with_reseed:
        say("== re-seed: ours = POSTGRES_RESEED=force over the previous copy, to the exec of postgres; "
            "floor = bare pg_basebackup into an empty directory, to its exit")
        reseed_size(bench, "100MiB", 100 * MiB)
    if with_stop:
        if not with_reseed:
            fill(bench, 100 * MiB)
        row_stop.cloning(bench, pp)
    if with_reseed and bench.args.large:
        reseed_size(bench, "1GiB", 1 << 30)
        reseed_size(bench, "4GiB", 4 << 30)
    bench.reseed_p.stop()
