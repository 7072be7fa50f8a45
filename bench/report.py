"""The report: the table of medians and ratios against the targets, where the
time goes, every run, and the machine it ran on."""
import os
import subprocess

from harness import PG_BINDIR, fmt_s, median


def report(bench):
    n = bench.n
    lines = [f"| what (median of {n} interleaved runs) | floor | ours | ratio | pair ratios: median (min-max) "
             f"| target | met |",
             "| --- | --- | --- | --- | --- | --- | --- |"]

    def ratio_row(label, key, target, unit="s"):
        r = bench.results.get(key)
        tgt = f"<= {target:.2f}x" if target else "-"
        if not r:
            lines.append(f"| {label} | not run | | | | {tgt} | |")
            return
        f, o = median(r["floor"]), median(r["ours"])
        ratio = o / f if f and o else None
        # each run's own pair (same position in the interleaving): robust
        # against the machine's load drifting during the row
        pairs = [b / a for a, b in zip(r["floor"], r["ours"]) if a and b]
        pr = (f"{median(pairs):.2f}x ({min(pairs):.2f}-{max(pairs):.2f})" if pairs else "-")
        met = "" if not target else "yes" if ratio is not None and ratio <= target else "NO"
        lines.append(f"| {label} | {fmt_s(f)} {unit} | {fmt_s(o)} {unit} | {fmt_s(ratio)}x | {pr} | "
                     f"{tgt} | {met} |")

    ratio_row("`docker compose up` -> row replayed on the replica", "compose", 1.15)
    ratio_row("primary first boot -> `select 1` over TCP", "boot", 1.10)
    ratio_row("replica seeding under pgbench load (scale 20, 4 clients) -> streaming", "seed", 1.20)
    ratio_row("replica restart on existing data -> streaming", "restart", 1.20)
    for label in ["100MiB", "1GiB", "4GiB"]:
        if f"reseed {label}" in bench.results or label == "100MiB":
            ratio_row(f"re-seed at {label} of primary data (copy done)", f"reseed {label}", 1.10)
        if f"reseed {label} rm" in bench.results:
            ratio_row(f"(for information) the same against a shell re-seed, `rm -rf` + pg_basebackup",
                      f"reseed {label} rm", None)
    for label in ["100MiB", "1GiB"]:
        if f"heal {label}" in bench.results or label == "100MiB":
            ratio_row(f"heal at {label}: a replica whose WAL is gone, restarted -> streaming (vs a plain clone)",
                      f"heal {label}", 1.10)
    if "promote" in bench.results:
        ratio_row("`pg-entrypoint promote` -> accepting writes (vs `pg_ctl promote -w`)", "promote", 1.20)
    for label, target in (("1GiB", 0.25), ("4GiB", 0.10)):
        if f"rejoin {label}" in bench.results:
            ratio_row(f"old primary rejoin at {label}, ~10 MB diverged: rewind -> streaming (vs a full re-clone "
                      f"-> streaming)", f"rejoin {label}", target)
    fo = bench.results.get("follower")
    if fo:
        good = [t for t in fo["ours"] if t is not None]
        met = "yes" if good and max(good) <= 2.0 else "NO"
        lines.append(f"| follower: end of the promotion -> the other standby streams from the new primary "
                     f"(max {fmt_s(max(good) if good else None)} s) | - | {fmt_s(median(good))} s | | | <= 2 s | {met} |")
    sp = bench.results.get("stop_phases", {})
    for phase in ("waiting", "cloning", "initdb", "rewinding"):
        ts = sp.get(phase)
        if ts is None and phase == "rewinding":
            continue
        if ts is None:
            lines.append(f"| stop while {phase} (SIGINT -> gone) | - | not run | | | <= 1 s | |")
            continue
        good = [t for t in ts if t is not None]
        m = median(good)
        met = "yes" if good and max(good) <= 1.0 and len(good) == len(ts) else "NO"
        sig = "SIGTERM" if phase == "rewinding" else "SIGINT"
        lines.append(f"| stop while {phase} ({sig} -> gone; max {fmt_s(max(good) if good else None, 3)} s, "
                     f"{len(good)}/{len(ts)} runs stopped before postgres) | - | {fmt_s(m, 3)} s | | | <= 1 s | {met} |")
    for label, key in (("primary", "boot"), ("replica", "seed"), ("replica after restart", "restart")):
        r = bench.results.get(key)
        if not r:
            continue
        f, o = median(r["stop"]["floor"]), median(r["stop"]["ours"])
        mx = max(r["stop"]["ours"])
        met = "yes" if mx <= 1.0 else "NO"
        lines.append(f"| stop running {label} (SIGINT to the postmaster -> gone; ours max {mx:.3f} s) | "
                     f"{fmt_s(f, 3)} s | {fmt_s(o, 3)} s | {fmt_s(o / f if f else None)}x | | <= 1 s | {met} |")
    for label, key in (("primary first boot", "boot"), ("replica clone under load", "seed"),
                       ("replica restart", "restart"), ("re-seed 100MiB", "reseed 100MiB"),
                       ("re-seed 1GiB", "reseed 1GiB"), ("re-seed 4GiB", "reseed 4GiB")):
        r = bench.results.get(key)
        if not r:
            continue
        facts = [f for f in r["facts"]["ours"] if "cpu" in f]
        if not facts:
            continue
        cpu = median([f["cpu"] for f in facts])
        rss = max(f["rss"] for f in facts)
        met = "yes" if rss <= 5120 else "NO"
        lines.append(f"| pg-entrypoint's own CPU and peak RSS, {label} (children excluded) | - | "
                     f"{cpu:.3f} s CPU (median), {rss} kB RSS (max) | | | RSS <= 5120 kB | {met} |")
    summary = "\n".join(lines)

    detail = ["", "Where the time goes (medians, seconds since launch; from the logs' UTC timestamps):", "",
              "| row | side | postgres starts | ready / streaming logged | done (polled) | entrypoint steps (median s) |",
              "| --- | --- | --- | --- | --- | --- |"]
    for key in ("boot", "seed", "restart", "reseed 100MiB", "reseed 100MiB rm", "reseed 1GiB",
                "reseed 1GiB rm", "reseed 4GiB", "reseed 4GiB rm", "heal 100MiB", "heal 1GiB", "rejoin 1GiB",
                "rejoin 4GiB"):
        r = bench.results.get(key)
        if not r:
            continue
        for kind in ("floor", "ours"):
            if key.endswith(" rm") and kind == "ours":
                continue  # the same runs as the row above
            facts = r["facts"][kind]
            if not facts:
                detail.append(f"| {key} | {kind} | | | {fmt_s(median(r[kind]), 3)} | |")
                continue
            start = median([f.get("pg_start") for f in facts])
            done = median([f.get("pg_ready") if key == "boot" else f.get("pg_streaming") for f in facts])
            steps = {}
            for f in facts:
                for s, d in f["steps"].items():
                    steps.setdefault(s, []).append(d)
            st = ", ".join(f"{s} {median(v):.3f}" for s, v in steps.items())
            if kind == "ours":
                child = "initdb" if key == "boot" else "rewind" if key.startswith("rejoin") else "clone"
                own = median([f["exec"] - f["steps"].get(child, 0) for f in facts if "exec" in f])
                st = (st + "; " if st else "") + (f"exec at {fmt_s(median([f.get('exec') for f in facts]), 3)}; "
                                                  f"before exec outside {child}: {fmt_s(own, 3)}")
            detail.append(f"| {key} | {kind} | {fmt_s(start, 3)} | {fmt_s(done, 3)} | "
                          f"{fmt_s(median(r[kind]), 3)} | {st} |")
    if "compose" in bench.results:
        detail += ["", "compose (bench/compose-bench.py), medians:", "",
                   "| metric | floor (s) | ours (s) | ratio |", "| --- | --- | --- | --- |"]
        for key, label in (("compose ready", "up -> primary ready"), ("compose streaming", "up -> replica streaming"),
                           ("compose", "up -> row replayed")):
            f, o = median(bench.results[key]["floor"]), median(bench.results[key]["ours"])
            detail.append(f"| {label} | {f:.2f} | {o:.2f} | {o / f:.2f}x |")
    runs = ["", "Every run (seconds):", ""]
    for key, r in bench.results.items():
        if key == "stop_phases":
            for phase, ts in r.items():
                runs.append(f"- stop while {phase}: " + ", ".join(fmt_s(t, 3) for t in ts))
            continue
        runs.append(f"- {key}: floor " + ", ".join(fmt_s(t, 3) for t in r["floor"]) +
                    "; ours " + ", ".join(fmt_s(t, 3) for t in r["ours"]))
    notes = [""] + [f"- {n}" for n in bench.notes] if bench.notes else []
    return summary, "\n".join(detail + runs + notes)


def machine(load_at_start):
    mem = ""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) // 1024} MiB"
    pg = subprocess.run([f"{PG_BINDIR}/postgres", "--version"], capture_output=True, text=True).stdout.strip()
    load = open("/proc/loadavg").read().split()[:3]
    return (f"{os.cpu_count()} CPUs, {mem} memory, kernel {os.uname().release}, {pg}; "
            f"load average at the start {load_at_start}, at the end {' '.join(load)}")
