"""Row `boot`: the primary's first boot, launch -> `select 1` over TCP; ours on
an empty PGDATA against initdb + two pg_hba lines + exec postgres."""
from harness import P_ADDR, PORT, fmt_s, order, say


def run(bench):
    say("== primary first boot: launch -> `select 1` over TCP")
    port = PORT["boot"]
    for i in range(bench.n):
        for kind in order(i):
            name = f"boot-{kind}-{i + 1}"
            bench.rmdata(name)
            inst = (bench.launch_ours_primary if kind == "ours" else bench.launch_floor_primary)(name, name, port)
            t = bench.wait_ready(inst, P_ADDR, port)
            stop = inst.stop()
            f = inst.facts()
            bench.record("boot", kind, t, f, stop)
            say(f"boot run {i + 1} {kind:5}: ready {t:.3f} s (postgres started at "
                f"{fmt_s(f.get('pg_start'), 3)} s, ready at {fmt_s(f.get('pg_ready'), 3)} s); "
                f"SIGINT -> gone {stop:.3f} s")
            bench.rmdata(name)
