"""Rows of issue 13, failover: `promote`, `rejoin` (with the stop while
rewinding) and `follower`.

promote   a streaming standby whose primary has just stopped cleanly:
          `pg-entrypoint promote` (with POSTGRES_PEERS naming that primary,
          as the compose file does) until it exits (it returns once a write
          works), against a bare `pg_ctl promote -w` until it exits.
rejoin    two nodes of one system, X primary and Y its standby, at 1 GiB
          (--large: 4 GiB too): Y is promoted (`pg_ctl promote -w`), X
          writes about 10 MB that Y never gets, X stops. Ours: X started
          again with POSTGRES_PEERS naming Y (role primary, as the old
          primary's container is) -> it rewinds from Y -> streaming from Y.
          Floor: a full re-clone of Y (`pg_basebackup -X stream
          --checkpoint=fast -R -C -S`, into an empty directory) + `exec
          postgres` -> streaming. Then X and Y swap, and the next run
          promotes the other node.
          Stop while rewinding: the same, with Y's link throttled to
          40 Mbit/s so that the rewind lasts: SIGTERM to X's PID 1 once a
          pg_rewind process runs in its namespace, until the namespace is
          gone (target 1 s). X is then started again, unthrottled, and
          must converge (stream from Y).
follower  a primary P and two standbys A and B (POSTGRES_PEERS: every
          other member); P stops; `pg-entrypoint promote` on A; seconds
          from the end of the promotion (and from its start) until B
          streams from A (pg_stat_wal_receiver: streaming, sender port
          A's), without a restart of B. No floor (target 2 s).

The nodes are launched as the other rows' are (PID 1 of their own PID
namespace, in the bench's two network namespaces; A and B share R's on two
ports)."""
import os
import shlex
import signal
import subprocess
import time

from harness import MiB, PORT, P_ADDR, R_ADDR, REPLPW, SUPERPW, BenchError, Instance, fmt_s, median, now, order, say
from row_reseed import fill

DIVERGENCE = 10 * MiB


class Node:
    """One member: its data directory, namespace, address and port stay the
    same across launches; HOSTNAME (hence its slot name) too."""

    def __init__(self, bench, dname, ns, addr, port):
        self.bench, self.dname, self.ns, self.addr, self.port = bench, dname, ns, addr, port
        self.host = dname.replace("-", "_")
        self.inst = None
        self.launches = 0

    @property
    def peer(self):
        return f"{self.addr}:{self.port}"

    def env(self, **kv):
        return self.bench.env(PGDATA=self.bench.data(self.dname), POSTGRES_PASSWORD=SUPERPW,
                              POSTGRES_REPLICATION_PASSWORD=REPLPW, HOSTNAME=self.host, **kv)

    def launch(self, **kv):
        """Ours: the binary as PID 1 on this node's data; kv: POSTGRES_*."""
        self.launches += 1
        b = self.bench
        argv = [b.bin, "postgres", *b.server_args(self.port, self.dname, self.addr)]
        self.inst = Instance(b, f"{self.dname}-{self.launches}", self.ns, argv, self.env(**kv))
        return self.inst

    def sql(self, q):
        return self.bench.psql_local(self.dname, self.port, q)

    def stop(self):
        if self.inst and not self.inst.exited():
            self.inst.stop()
        self.inst = None

    def ready(self, limit=120):
        return self.bench.wait_sql(self.inst, self.addr, self.port, "select 1", "1", limit)

    def streaming(self, limit=600, sender=None):
        q = "select status from pg_stat_wal_receiver"
        want = "streaming"
        if sender:
            q = "select status || ' ' || sender_port from pg_stat_wal_receiver"
            want = f"streaming {sender.port}"
        return self.bench.wait_sql(self.inst, self.addr, self.port, q, want, limit)

    def inside(self, *argv):
        """argv as the postgres user inside this node's PID, mount and
        network namespaces, as `docker exec -u postgres` runs a command (pg_ctl
        signals the PID in postmaster.pid, which is 1 there)."""
        return ["nsenter", "-t", str(self.inst.pid1), "-p", "-m", "-n", "--", *self.bench.as_postgres(*argv)]

    def promote_ours(self, peers, *args):
        """`pg-entrypoint promote` inside the node, with the environment its
        container would have: seconds until it prints "promoted: ..." (it
        has then seen a write work; after that line it makes the followers'
        slots and a checkpoint, and exits: self.promote_exit), and what it
        printed."""
        b = self.bench
        env = self.env(POSTGRES_PEERS=peers, PGHOST=b.sock(self.dname), PGPORT=str(self.port))
        log = os.path.join(b.work, "logs", f"{self.dname}-promote-{self.launches}.log")
        t = now()
        with open(log, "w") as err:
            p = subprocess.Popen(self.inside(b.bin, "promote", *args), env=env, stdout=subprocess.PIPE,
                                 stderr=err, text=True, stdin=subprocess.DEVNULL)
            out, promoted = [], None
            for line in p.stdout:
                out.append(line)
                if promoted is None and line.startswith("promoted:"):
                    promoted = now() - t
            rc = p.wait(300)
        self.promote_exit = now() - t
        with open(log) as f:
            text = f.read() + "".join(out)
        if rc != 0 or promoted is None:
            raise BenchError(f"pg-entrypoint promote on {self.dname} exited {rc}: {text.strip()}")
        return promoted, text.strip()

    def promote_floor(self):
        b = self.bench
        t = now()
        r = subprocess.run(self.inside("pg_ctl", "promote", "-w", "-t", "300", "-D", b.data(self.dname)),
                           env=b.env(), capture_output=True, text=True, timeout=330, stdin=subprocess.DEVNULL)
        dt = now() - t
        if r.returncode != 0:
            raise BenchError(f"pg_ctl promote on {self.dname}: {(r.stdout + r.stderr).strip()}")
        return dt

    def in_recovery(self):
        return self.sql("select pg_is_in_recovery()") == "t"


def diverge(node, nbytes):
    """About `nbytes` of table data that only this (writable) node has."""
    rows = max(1, nbytes // 1100)
    node.sql("create table if not exists diverged (id bigint, pad text)")
    node.sql(f"insert into diverged select g, repeat(md5(g::text), 30) from generate_series(1, {rows}) g")


def pg_rewind_running(inst):
    """True when a pg_rewind process runs in the instance's PID namespace."""
    todo = [str(inst.pid1)]
    while todo:
        pid = todo.pop()
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "pg_rewind":
                    return True
        except OSError:
            continue
        todo += Instance._children(int(pid))
    return False


# ---- promote ------------------------------------------------------------------------------------

def promote_row(bench):
    say("== promote: a standby whose primary stopped cleanly; ours = pg-entrypoint promote (POSTGRES_PEERS "
        "names the stopped primary) until it exits; floor = pg_ctl promote -w until it exits")
    p = Node(bench, "pr-p", bench.ns_p, P_ADDR, PORT["pr_p"])
    s = Node(bench, "pr-s", bench.ns_r, R_ADDR, PORT["pr_s"])
    p.launch()
    p.ready()
    exits = []
    try:
        for i in range(bench.n):
            for kind in order(i):
                s.launch(POSTGRES_PRIMARY_HOST=P_ADDR, POSTGRES_PRIMARY_PORT=p.port, POSTGRES_PEERS=p.peer)
                s.streaming()
                p.stop()
                exit_note = ""
                if kind == "ours":
                    t, out = s.promote_ours(p.peer)
                    exits.append(s.promote_exit)
                    exit_note = f" (exit after its checkpoint: {s.promote_exit:.3f} s)"
                else:
                    t, out = s.promote_floor(), ""
                if s.in_recovery():
                    raise BenchError(f"promote {kind}: {s.dname} is still in recovery after the promotion")
                s.sql("create table if not exists promoted (x int); insert into promoted values (1)")
                bench.record("promote", kind, t)
                say(f"promote run {i + 1} {kind:5}: {t:.3f} s{exit_note}")
                s.stop()
                bench.rmdata(s.dname)
                p.launch()
                p.ready()
    finally:
        p.stop()
        s.stop()
    bench.notes.append(f"promote: ours is timed to its line `promoted: ...` (a write has worked); to its exit, "
                       f"after the followers' slots and its checkpoint: median {fmt_s(median(exits), 3)} s "
                       f"(runs: {', '.join(fmt_s(x, 3) for x in exits)})")


# ---- rejoin and stop while rewinding ------------------------------------------------------------

def promote_and_checkpoint(node):
    """The promotion before a rejoin (untimed). pg_rewind reads the
    source's timeline from its pg_control, which names the new timeline
    only after the first checkpoint on it (PostgreSQL's pg_rewind
    documentation: CHECKPOINT a recently promoted source first); without
    it, a rewind from a node promoted seconds ago computed the divergence on
    the wrong timeline here and left a target that could not start
    ("requested timeline 3 does not contain minimum recovery point")."""
    node.promote_floor()
    node.sql("checkpoint")

def rejoin_size(bench, label, target):
    a = Node(bench, f"rj{label.lower()}-a", bench.ns_p, P_ADDR, PORT["rj_a"])
    b = Node(bench, f"rj{label.lower()}-b", bench.ns_r, R_ADDR, PORT["rj_b"])
    a.launch(POSTGRES_PEERS=b.peer)
    a.ready()
    size = fill(bench, target, a.dname, a.port)
    b.launch(POSTGRES_PRIMARY_HOST=a.addr, POSTGRES_PRIMARY_PORT=a.port, POSTGRES_PEERS=a.peer)
    b.streaming(3600)
    x, y = a, b  # x: the primary that will be left behind; y: its standby, promoted next

    def diverge_and_stop(x, y):
        promote_and_checkpoint(y)
        diverge(x, DIVERGENCE)
        x.stop()

    def floor_clone(x, y, name):
        d = f"rj{label.lower()}-floor"
        bench.rmdata(d)
        q = shlex.quote
        argv = ["sh", "-c",
                " ".join(map(q, bench.as_postgres("pg_basebackup", "-h", y.addr, "-p", str(y.port), "-U",
                                                  "replicator", "-D", bench.data(d), "-X", "stream",
                                                  "--checkpoint=fast", "-R", "-C", "-S", "rjfloor"))) +
                " && exec " + " ".join(map(q, bench.as_postgres("postgres", "-D", bench.data(d),
                                                                *bench.server_args(PORT["rj_floor"], d, x.addr))))]
        inst = Instance(bench, name, x.ns, argv, bench.env(PGPASSWORD=REPLPW))
        t = bench.wait_sql(inst, x.addr, PORT["rj_floor"], "select status from pg_stat_wal_receiver", "streaming",
                           3600)
        inst.stop()
        bench.drop_slot(y.dname, y.port, "rjfloor")
        bench.rmdata(d)
        return t

    try:
        for i in range(bench.n):
            diverge_and_stop(x, y)
            for kind in order(i):
                name = f"rejoin-{label}-{kind}-{i + 1}"
                if kind == "floor":
                    t = floor_clone(x, y, name)
                    say(f"rejoin {label} run {i + 1} floor: re-clone -> streaming {t:.2f} s")
                else:
                    inst = x.launch(POSTGRES_PEERS=y.peer)
                    t = x.streaming(3600, sender=y)
                    text = inst.text()
                    if "pg_rewind" not in text and "rewind" not in text:
                        raise BenchError(f"{name}: no rewind in its log; log {inst.log}")
                    if "pg_basebackup" in text:
                        # the fallback: counted (a user waits for it too), and said why
                        why = [ln for ln in text.splitlines() if "[pg-entrypoint]" in ln and
                               ("rewind" in ln or "re-seed" in ln) and ("WARNING" in ln or "ERROR" in ln)]
                        bench.notes.append(f"{name} re-seeded instead of rewinding ({t:.2f} s, counted); "
                                           f"its log: {' / '.join(why[-3:]) or inst.log}")
                        say(f"  {name}: RE-SEEDED instead of rewinding; {' / '.join(why[-3:])}")
                    f = inst.facts()
                    bench.record(f"rejoin {label}", "ours", t, f)
                    say(f"rejoin {label} run {i + 1} ours : rewind -> streaming {t:.2f} s (entrypoint steps: "
                        + ", ".join(f"{k} {v:.2f}" for k, v in f["steps"].items()) + ")")
                    continue
                bench.record(f"rejoin {label}", "floor", t)
            x, y = y, x
        if label == "1GiB" and bench.stop_rewinding:
            stop_rewinding(bench, x, y)
    finally:
        a.stop()
        b.stop()
    bench.notes.append(f"rejoin {label}: the primary held {size / MiB:.0f} MiB; divergence "
                       f"{DIVERGENCE / MiB:.0f} MiB of table data per run")


def stop_rewinding(bench, x, y):
    """x: the primary, y: its streaming standby (the state rejoin_size
    leaves). Each run promotes y and leaves x behind, then they swap."""
    say("== stop while rewinding: the source's link throttled to 40 Mbit/s; SIGTERM once pg_rewind runs")
    times = []
    for i in range(bench.n):
        promote_and_checkpoint(y)
        diverge(x, 4 * DIVERGENCE)
        x.stop()
        bench.throttle(y.ns, "40mbit")
        try:
            inst = x.launch(POSTGRES_PEERS=y.peer)
            deadline = now() + 120
            while not pg_rewind_running(inst):
                if inst.exited() or now() > deadline:
                    raise BenchError(f"stop-rewind run {i + 1}: no pg_rewind ran within 120 s; log {inst.log}")
                time.sleep(0.005)
            time.sleep(0.2)
            t = inst.stop(signal.SIGTERM, limit=30)
            rc = inst.proc.returncode
            ok = rc == 143 and "starting postgres" not in inst.text()
            say(f"stop while rewinding run {i + 1}: SIGTERM -> gone {t:.3f} s, exit status {rc}"
                f"{'' if ok else ' (NOT a stop during the rewind)'}")
            times.append(t if ok else None)
            x.inst = None
        finally:
            bench.unthrottle(y.ns)
        # the next start converges: streaming from y
        x.launch(POSTGRES_PEERS=y.peer)
        t = x.streaming(3600, sender=y)
        say(f"  the start after it: streaming from the new primary after {t:.2f} s "
            f"({'re-seeded' if 'pg_basebackup' in x.inst.text() else 'rewound'})")
        x, y = y, x
    bench.results.setdefault("stop_phases", {})["rewinding"] = times


def rejoin_row(bench):
    say("== rejoin: the old primary (about 10 MB of divergence) started with POSTGRES_PEERS -> rewind -> "
        "streaming; floor = a full re-clone of the new primary -> streaming")
    bench.stop_rewinding = True
    rejoin_size(bench, "1GiB", 1 << 30)
    if bench.args.large:
        rejoin_size(bench, "4GiB", 4 << 30)


# ---- follower -------------------------------------------------------------------------------------

def follower_row(bench):
    say("== follower: primary P, standbys A and B; P stops, A is promoted; seconds until B streams from A")
    p = Node(bench, "fo-p", bench.ns_p, P_ADDR, PORT["fo_p"])
    a = Node(bench, "fo-a", bench.ns_r, R_ADDR, PORT["fo_a"])
    b = Node(bench, "fo-b", bench.ns_r, R_ADDR, PORT["fo_b"])
    standby = dict(POSTGRES_PRIMARY_HOST=P_ADDR, POSTGRES_PRIMARY_PORT=p.port)
    from_start = []
    p.launch(POSTGRES_PEERS=f"{a.peer},{b.peer}")
    p.ready()
    try:
        for i in range(bench.n):
            a.launch(POSTGRES_PEERS=f"{p.peer},{b.peer}", **standby)
            a.streaming()
            b.launch(POSTGRES_PEERS=f"{p.peer},{a.peer}", **standby)
            b.streaming()
            p.stop()
            t0 = now()
            dt, _out = a.promote_ours(f"{p.peer},{b.peer}")
            t1 = t0 + dt  # its line "promoted: ..."
            deadline = now() + 60
            while True:
                got = bench.psql_ns(b.ns, b.addr, b.port,
                                    "select status || ' ' || sender_port from pg_stat_wal_receiver", timeout=5)
                if got == f"streaming {a.port}":
                    break
                if now() > deadline or b.inst.exited():
                    raise BenchError(f"follower run {i + 1}: B does not stream from A 60 s after the promotion "
                                     f"(pg_stat_wal_receiver: {got}); log {b.inst.log}")
                time.sleep(0.005)
            t2 = now()
            if b.inst.exited():
                raise BenchError(f"follower run {i + 1}: B exited; log {b.inst.log}")
            bench.record("follower", "ours", t2 - t1)
            from_start.append(t2 - t0)
            say(f"follower run {i + 1}: promote {dt:.2f} s; B streams from A {t2 - t1:.2f} s after it "
                f"({t2 - t0:.2f} s after promote started)")
            for n in (b, a):
                n.stop()
                bench.rmdata(n.dname)
            p.launch(POSTGRES_PEERS=f"{a.peer},{b.peer}")
            p.ready()
    finally:
        for n in (p, a, b):
            n.stop()
    bench.notes.append(f"follower: from the start of `promote` until B streams from A: median "
                       f"{fmt_s(median(from_start))} s (runs: {', '.join(fmt_s(x) for x in from_start)})")


def run(bench, rows):
    if "promote" in rows:
        promote_row(bench)
    if "follower" in rows:
        follower_row(bench)
    if "rejoin" in rows:
        rejoin_row(bench)

