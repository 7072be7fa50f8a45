#!/usr/bin/env python3
"""Every benchmark of pg-entrypoint in one command: this project against a
floor that does the least possible work, measured in the same run,
interleaved (floor/ours, then ours/floor, ...), N runs each. Prints each run,
then a table of medians with the ratio ours / floor per row, and the
targets. Nothing is asserted: the machines are noisy, ratios are the figure.

Host-level rows run real PostgreSQL 15 (Debian's, PG_BINDIR) as root. Each
instance runs the way a container would: as PID 1 of its own PID namespace
(`unshare --pid --fork --mount-proc`), the primary and the replica in two
network namespaces joined by a veth pair (192.0.2.1 and 192.0.2.2,
TEST-NET-1). The floor does the same with no entrypoint: `initdb && exec
postgres`, `pg_basebackup && exec postgres`, `exec postgres`, through
setpriv (which execs, so postgres is PID 1 there too).

rows (--only takes their names):
  boot     primary first boot, to `select 1` over TCP
  seed     replica seeding while the primary takes a pgbench write load
           (scale 20, 4 clients), to pg_stat_wal_receiver = streaming
  restart  replica restart on its existing data, to streaming
  stop     stop (SIGINT, what `docker stop` sends) while waiting for the
           primary, cloning, in initdb; "running" comes from boot, seed and
           restart (SIGINT to the postmaster until the namespace is gone)
  reseed   re-seed at 100 MiB of primary data (ours: POSTGRES_RESEED=force
           over the previous copy, to the exec of postgres; floor: bare
           pg_basebackup --checkpoint=fast into an empty directory, to its
           exit); --large adds 1 GiB and 4 GiB
  compose  bench/compose-bench.py: `docker compose up` to a row replayed
           on the replica (needs dockerd and the images; --build builds them)
The entrypoint's own CPU time and peak RSS come from its last log line
(`starting postgres (pg-entrypoint used X s of CPU, peak RSS N kB)`).

usage: bench/run.py [-n RUNS] [--bin PATH] [--large] [--only ROWS]
                    [--markdown FILE] [--build] [--keep]      (as root)
Ports 56000-56099 (inside the bench's own namespaces; compose: 127.0.0.1).
"""
import argparse
import ctypes
import datetime
import json
import os
import re
import select
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(HERE)
PG_BINDIR = os.environ.get("PG_BINDIR", "/usr/lib/postgresql/15/bin")
P_ADDR, R_ADDR = "192.0.2.1", "192.0.2.2"
PORT = {
    "boot": 56001,
    "initdb_stop": 56002,
    "load_p": 56010,
    "load_r": 56011,
    "reseed_p": 56020,
    "reseed_r": 56021,
    "absent": 56099,  # nothing ever listens here: the "waiting" phase
    "compose_p": 56080,
    "compose_r": 56081,
}
SUPERPW = "bench-super-pw"
REPLPW = "bench-repl-pw"
POLL_S = 0.005       # between two psql checks, once the port accepts connections
GATE_POLL_S = 0.002  # between two TCP connects, until then (a connect costs ~0.1 ms)
ROWS = ["boot", "seed", "restart", "stop", "reseed", "compose"]
MiB = 1 << 20

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
HOST_NET = None  # fd of this process's own network namespace
LOAD_AT_START = "?"


class BenchError(Exception):
    pass


def now():
    return time.monotonic()


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt_s(x, digits=2):
    return "-" if x is None else f"{x:.{digits}f}"


def order(run):
    """Interleaving: floor first on even runs, ours first on odd ones."""
    return ["floor", "ours"] if run % 2 == 0 else ["ours", "floor"]


def say(msg):
    print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


# ---- network namespaces ----------------------------------------------------------------------

class NetNS:
    def __init__(self, name):
        self.name = name
        subprocess.run(["ip", "netns", "add", name], check=True)
        self.fd = os.open(f"/run/netns/{name}", os.O_RDONLY | os.O_CLOEXEC)

    def enter(self):
        """In this thread (or a forked child): switch to the namespace."""
        if libc.setns(self.fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"setns into {self.name}: {os.strerror(e)}")

    def tcp_accepts(self, addr, port):
        """A TCP connect from inside the namespace; the socket is made there,
        the thread goes back to the host's namespace at once."""
        self.enter()
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        finally:
            libc.setns(HOST_NET, CLONE_NEWNET)
        s.settimeout(0.5)
        try:
            return s.connect_ex((addr, port)) == 0
        except OSError:
            return False
        finally:
            s.close()

    def delete(self):
        os.close(self.fd)
        subprocess.run(["ip", "netns", "del", self.name], stderr=subprocess.DEVNULL)


# ---- one instance: PID 1 of its own PID namespace --------------------------------------------

LOG_TS = r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}) UTC"
RE_OURS = re.compile(LOG_TS + r" \[pg-entrypoint\] (\w+)\s+([\w.]+): (.*)$")
RE_PG = re.compile(LOG_TS + r" \[\d+\] \w+:  (.*)$")
RE_DONE = re.compile(r"^done in ([\d.]+) s$")
RE_EXEC = re.compile(r"starting postgres \(pg-entrypoint used ([\d.]+) s of CPU, peak RSS (\d+) kB\)")


def parse_ts(ts):
    return datetime.datetime.strptime(ts, "%Y-%m-%d %H:%M:%S.%f").replace(
        tzinfo=datetime.timezone.utc).timestamp()


class Instance:
    def __init__(self, bench, name, ns, argv, env):
        self.bench = bench
        self.name = name
        self.ns = ns
        self.log = os.path.join(bench.work, "logs", f"{name}.log")
        fh = open(self.log, "w")
        self.wall0 = time.time()
        self.t0 = now()
        # `ip netns exec` execs unshare (same pid); unshare's only child is PID 1.
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", ns.name, "unshare", "--pid", "--fork", "--mount-proc", *argv],
            env=env, stdin=subprocess.DEVNULL, stdout=fh, stderr=fh, start_new_session=True)
        fh.close()
        bench.instances.append(self)
        self.pidfd = os.pidfd_open(self.proc.pid)
        self.pid1 = None
        deadline = now() + 5
        while now() < deadline and not self.exited():
            for k in self._children(self.proc.pid):
                try:
                    with open(f"/proc/{k}/status") as f:
                        ns_pids = [l for l in f if l.startswith("NSpid:")][0].split()
                except (OSError, IndexError):
                    continue
                if ns_pids[-1] == "1":
                    self.pid1 = int(k)
            if self.pid1:
                break
            time.sleep(0.002)
        if not self.pid1 and not self.exited():
            raise BenchError(f"{name}: PID 1 of the namespace did not appear within 5 s")

    @staticmethod
    def _children(pid):
        try:
            with open(f"/proc/{pid}/task/{pid}/children") as f:
                return f.read().split()
        except OSError:
            return []

    def exited(self):
        return self.proc.returncode is not None or bool(select.select([self.pidfd], [], [], 0)[0])

    def wait_exit(self, limit):
        """Seconds until the namespace is gone (unshare exits after PID 1 and
        every process of the namespace); None after `limit`."""
        if self.proc.returncode is None:
            if not select.select([self.pidfd], [], [], limit)[0]:
                return None
            self.proc.wait()
        return now()

    def stop(self, sig=signal.SIGINT, limit=30):
        """Signal PID 1, seconds until the namespace is gone."""
        if self.exited():
            raise BenchError(f"{self.name} had already exited (status {self.proc.poll()}); log {self.log}")
        t = now()
        os.kill(self.pid1, sig)
        done = self.wait_exit(limit)
        if done is None:
            self.kill()
            raise BenchError(f"{self.name} did not exit within {limit} s of {sig.name}")
        return done - t

    def kill(self):
        for pid in (self.pid1, self.proc.pid):
            if pid:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.wait_exit(10)

    def close(self):
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def wait_log(self, pattern, limit):
        rx = re.compile(pattern)
        deadline = now() + limit
        while now() < deadline:
            m = rx.search(self.text())
            if m:
                return m
            if self.exited():
                raise BenchError(f"{self.name} exited (status {self.proc.poll()}) before /{pattern}/; log {self.log}")
            time.sleep(0.01)
        raise BenchError(f"{self.name}: no /{pattern}/ in its log within {limit} s; log {self.log}")

    def facts(self):
        """What its log says, in seconds since launch: exec of postgres
        (ours), postgres's first line, ready / streaming; step durations; CPU
        and RSS of the entrypoint."""
        out = {"steps": {}}
        for line in self.text().splitlines():
            m = RE_OURS.match(line)
            if m:
                ts, _level, step, msg = m.groups()
                d = RE_DONE.match(msg)
                if d:
                    out["steps"][step] = out["steps"].get(step, 0) + float(d.group(1))
                e = RE_EXEC.search(msg)
                if e:
                    out["exec"] = parse_ts(ts) - self.wall0
                    out["cpu"] = float(e.group(1))
                    out["rss"] = int(e.group(2))
                continue
            m = RE_PG.match(line)
            if m:
                ts, msg = m.groups()
                t = parse_ts(ts) - self.wall0
                if msg.startswith("starting PostgreSQL") and "pg_start" not in out:
                    out["pg_start"] = t
                elif msg.startswith("database system is ready to accept") and "pg_ready" not in out:
                    out["pg_ready"] = t
                elif msg.startswith("started streaming WAL") and "pg_streaming" not in out:
                    out["pg_streaming"] = t
        return out


# ---- the bench ---------------------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.n = args.runs
        self.bin = os.path.realpath(args.bin)
        self.instances = []
        self.bg = []
        self.netns = []
        self.throttled = []
        self.work = None
        self.results = {}
        self.notes = []

    # -- setup / cleanup --
    def setup(self):
        global HOST_NET
        if os.geteuid() != 0:
            sys.exit("run as root: it starts postgres as PID 1 in PID and network namespaces")
        if not os.access(self.bin, os.X_OK):
            sys.exit(f"pg-entrypoint binary {self.bin} is not executable (build it: cmake -B build && cmake --build build)")
        for tool in ("initdb", "postgres", "pg_basebackup", "psql", "pgbench"):
            if not os.access(os.path.join(PG_BINDIR, tool), os.X_OK):
                sys.exit(f"{PG_BINDIR}/{tool} not found: apt-get install postgresql-15")
        for tool in ("ip", "unshare", "setpriv", "tc"):
            if not shutil.which(tool):
                sys.exit(f"{tool} not found")
        HOST_NET = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        self.work = tempfile.mkdtemp(prefix="pgep-bench.", dir=self.args.workdir)
        os.chmod(self.work, 0o755)
        for sub in ("logs", "d", "sock"):
            os.mkdir(os.path.join(self.work, sub))
        shutil.chown(os.path.join(self.work, "d"), "postgres", "postgres")
        os.chmod(os.path.join(self.work, "sock"), 0o1777)
        pw = os.path.join(self.work, "superpw")
        with open(pw, "w") as f:
            f.write(SUPERPW + "\n")
        shutil.chown(pw, "postgres", "postgres")
        os.chmod(pw, 0o600)
        tag = f"pgep-bench-{os.getpid()}"
        self.ns_p = NetNS(f"{tag}-p")
        self.netns.append(self.ns_p)
        self.ns_r = NetNS(f"{tag}-r")
        self.netns.append(self.ns_r)
        sh = lambda *a: subprocess.run(list(a), check=True)
        sh("ip", "-n", self.ns_p.name, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0",
           "netns", self.ns_r.name)
        sh("ip", "-n", self.ns_p.name, "addr", "add", f"{P_ADDR}/24", "dev", "eth0")
        sh("ip", "-n", self.ns_r.name, "addr", "add", f"{R_ADDR}/24", "dev", "eth0")
        for ns in self.netns:
            sh("ip", "-n", ns.name, "link", "set", "lo", "up")
            sh("ip", "-n", ns.name, "link", "set", "eth0", "up")
        say(f"binary {self.bin}; work dir {self.work}; namespaces {self.ns_p.name}, {self.ns_r.name}")

    def cleanup(self):
        """Stops everything this run started; each step on its own, so that
        one failure does not leave the rest behind."""
        def attempt(what, fn, *a):
            try:
                fn(*a)
            except Exception as e:  # noqa: BLE001 -- cleanup goes on regardless
                say(f"cleanup: {what}: {e}")

        for p in self.bg:
            if p.poll() is None:
                attempt("pgbench", p.send_signal, signal.SIGINT)
        for inst in self.instances:
            if inst.pid1 and not inst.exited():
                attempt(inst.name, os.kill, inst.pid1, signal.SIGINT)

        def finish(inst):
            if not inst.exited() and inst.wait_exit(15) is None:
                say(f"cleanup: {inst.name} did not stop on SIGINT; killing its namespace")
                inst.kill()
            inst.close()
        for inst in self.instances:
            attempt(inst.name, finish, inst)

        def reap(p):
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        for p in self.bg:
            attempt("pgbench", reap, p)
        for ns in list(self.throttled):
            attempt(f"tc in {ns.name}", self.unthrottle, ns)

        # Safety net: whatever still runs in our namespaces was started by us.
        def leftovers(ns):
            r = subprocess.run(["ip", "netns", "pids", ns.name], capture_output=True, text=True)
            for pid in r.stdout.split():
                say(f"cleanup: killing leftover pid {pid} in {ns.name}")
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass

        def remove(ns):
            for _ in range(50):
                r = subprocess.run(["ip", "netns", "pids", ns.name], capture_output=True, text=True)
                if not r.stdout.strip():
                    break
                time.sleep(0.1)
            ns.delete()
        for ns in self.netns:
            attempt(ns.name, leftovers, ns)
        for ns in self.netns:
            attempt(ns.name, remove, ns)
        if self.work and os.path.isdir(self.work):
            if self.args.keep:
                say(f"keeping {self.work} (--keep)")
            else:
                subprocess.run(["rm", "-rf", "--one-file-system", self.work])

    # -- helpers --
    def env(self, **kv):
        e = {"PATH": f"{PG_BINDIR}:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        e.update({k: str(v) for k, v in kv.items()})
        return e

    def data(self, name):
        return os.path.join(self.work, "d", name)

    def sock(self, name):
        d = os.path.join(self.work, "sock", name)
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o1777)
        return d

    def rmdata(self, name):
        """Removes a data directory and syncs the file system, so that the
        next timed run does not pay for the journal commits (and, on a
        `discard` mount, the discards) of this deletion."""
        d = self.data(name)
        if os.path.lexists(d):
            subprocess.run(["rm", "-rf", "--one-file-system", d], check=True)
            subprocess.run(["sync", "-f", self.work], check=True)

    def server_args(self, port, sockname, addr):
        # The same for ours and the floor; UTC timestamps in the log to
        # split the time into "before postgres" and "postgres itself".
        return ["-p", str(port), "-k", self.sock(sockname), "-c", f"listen_addresses={addr}",
                "-c", "log_timezone=UTC", "-c", "log_line_prefix=%m [%p] "]

    def as_postgres(self, *argv):
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *argv]

    def launch_ours_primary(self, name, dname, port, **extra):
        env = self.env(PGDATA=self.data(dname), POSTGRES_PASSWORD=SUPERPW,
                       POSTGRES_REPLICATION_PASSWORD=REPLPW, HOSTNAME=name.replace("-", "_"), **extra)
        return Instance(self, name, self.ns_p, [self.bin, "postgres", *self.server_args(port, name, P_ADDR)], env)

    def launch_floor_primary(self, name, dname, port):
        d = self.data(dname)
        q = shlex.quote
        script = (
            " ".join(map(q, self.as_postgres("initdb", "-D", d, "-U", "postgres",
                                             f"--pwfile={self.work}/superpw"))) +
            " && printf 'host replication all all scram-sha-256\\nhost all all all scram-sha-256\\n'"
            f" >> {q(d + '/pg_hba.conf')}"
            " && exec " + " ".join(map(q, self.as_postgres(
                "postgres", "-D", d, *self.server_args(port, name, P_ADDR)))))
        return Instance(self, name, self.ns_p, ["sh", "-c", script], self.env())

    def launch_ours_replica(self, name, dname, pport, rport, host, **extra):
        env = self.env(PGDATA=self.data(dname), POSTGRES_PRIMARY_HOST=P_ADDR, POSTGRES_PRIMARY_PORT=pport,
                       POSTGRES_REPLICATION_PASSWORD=REPLPW, HOSTNAME=host, **extra)
        return Instance(self, name, self.ns_r, [self.bin, "postgres", *self.server_args(rport, name, R_ADDR)], env)

    def floor_basebackup(self, dname, pport, slot=None):
        argv = ["pg_basebackup", "-h", P_ADDR, "-p", str(pport), "-U", "replicator", "-D", self.data(dname),
                "-X", "stream", "--checkpoint=fast"]
        if slot:
            argv += ["-R", "-C", "-S", slot]
        return self.as_postgres(*argv)

    def launch_floor_replica(self, name, dname, pport, rport, slot):
        q = shlex.quote
        script = (" ".join(map(q, self.floor_basebackup(dname, pport, slot))) + " && exec " +
                  " ".join(map(q, self.as_postgres("postgres", "-D", self.data(dname),
                                                   *self.server_args(rport, name, R_ADDR)))))
        return Instance(self, name, self.ns_r, ["sh", "-c", script], self.env(PGPASSWORD=REPLPW))

    def launch_floor_restart(self, name, dname, rport):
        argv = self.as_postgres("postgres", "-D", self.data(dname), *self.server_args(rport, name, R_ADDR))
        return Instance(self, name, self.ns_r, argv, self.env())

    def psql_ns(self, ns, addr, port, sql, timeout=10):
        try:
            r = subprocess.run(
                [f"{PG_BINDIR}/psql", "-X", "-A", "-t", "-q", "-h", addr, "-p", str(port), "-U", "postgres",
                 "-d", "postgres", "-c", sql],
                env=self.env(PGPASSWORD=SUPERPW, PGCONNECT_TIMEOUT=2), capture_output=True, text=True,
                stdin=subprocess.DEVNULL, preexec_fn=ns.enter, timeout=timeout)
        except subprocess.TimeoutExpired:
            return None
        return r.stdout.strip() if r.returncode == 0 else None

    def psql_local(self, sockname, port, sql, timeout=3600):
        """Administration over the unix socket (no namespace needed)."""
        r = subprocess.run(
            [f"{PG_BINDIR}/psql", "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.sock(sockname),
             "-p", str(port), "-U", "postgres", "-d", "postgres", "-c", sql],
            env=self.env(PGPASSWORD=SUPERPW), capture_output=True, text=True, timeout=timeout,
            stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise BenchError(f"psql on {sockname}: {sql[:80]}: {r.stderr.strip()}")
        return r.stdout.strip()

    def wait_sql(self, inst, addr, port, sql, want, limit):
        """Seconds from the launch until `sql` returns `want` over TCP: a
        cheap TCP connect every GATE_POLL_S first, then psql every POLL_S
        (each psql takes ~10 ms: that is the resolution)."""
        gate = False
        while now() - inst.t0 < limit:
            if inst.exited():
                raise BenchError(f"{inst.name} exited (status {inst.proc.poll()}); log {inst.log}")
            if not gate:
                gate = inst.ns.tcp_accepts(addr, port)
            if gate and self.psql_ns(inst.ns, addr, port, sql) == want:
                return now() - inst.t0
            time.sleep(POLL_S if gate else GATE_POLL_S)
        raise BenchError(f"{inst.name}: `{sql}` did not return {want} within {limit} s; log {inst.log}")

    def wait_ready(self, inst, addr, port, limit=120):
        return self.wait_sql(inst, addr, port, "select 1", "1", limit)

    def wait_streaming(self, inst, port, limit=600):
        return self.wait_sql(inst, R_ADDR, port, "select status from pg_stat_wal_receiver", "streaming", limit)

    def drop_slot(self, sockname, port, slot):
        """Drops the slot once its walsender has gone (bounded)."""
        for _ in range(200):
            self.psql_local(sockname, port, f"select pg_drop_replication_slot(slot_name) from pg_replication_slots "
                                            f"where slot_name = '{slot}' and not active")
            if self.psql_local(sockname, port,
                               f"select count(*) from pg_replication_slots where slot_name = '{slot}'") == "0":
                return
            time.sleep(0.05)
        raise BenchError(f"slot {slot} is still active after 10 s")

    def throttle(self, ns, rate):
        subprocess.run(["ip", "netns", "exec", ns.name, "tc", "qdisc", "replace", "dev", "eth0", "root", "tbf",
                        "rate", rate, "burst", "256kb", "latency", "100ms"], check=True)
        self.throttled.append(ns)

    def unthrottle(self, ns):
        subprocess.run(["ip", "netns", "exec", ns.name, "tc", "qdisc", "del", "dev", "eth0", "root"],
                       stderr=subprocess.DEVNULL)
        self.throttled.remove(ns)

    def record(self, row, kind, value, facts=None, stop=None):
        r = self.results.setdefault(row, {"floor": [], "ours": [], "facts": {"floor": [], "ours": []},
                                          "stop": {"floor": [], "ours": []}})
        r[kind].append(value)
        if facts is not None:
            r["facts"][kind].append(facts)
        if stop is not None:
            r["stop"][kind].append(stop)

    # -- rows --
    def row_boot(self):
        say("== primary first boot: launch -> `select 1` over TCP")
        port = PORT["boot"]
        for i in range(self.n):
            for kind in order(i):
                name = f"boot-{kind}-{i + 1}"
                self.rmdata(name)
                inst = (self.launch_ours_primary if kind == "ours" else self.launch_floor_primary)(name, name, port)
                t = self.wait_ready(inst, P_ADDR, port)
                stop = inst.stop()
                f = inst.facts()
                self.record("boot", kind, t, f, stop)
                say(f"boot run {i + 1} {kind:5}: ready {t:.3f} s (postgres started at "
                    f"{fmt_s(f.get('pg_start'), 3)} s, ready at {fmt_s(f.get('pg_ready'), 3)} s); "
                    f"SIGINT -> gone {stop:.3f} s")
                self.rmdata(name)

    def stop_phase(self, phase, launch, trigger, settle, cleanup=None):
        times = []
        for i in range(self.n):
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
        self.results.setdefault("stop_phases", {})[phase] = times

    def row_stop_early(self):
        say("== stop while waiting for an absent primary and in initdb (SIGINT, as docker stop)")
        self.stop_phase(
            "waiting",
            lambda i: self.launch_ours_replica(f"stopwait-{i + 1}", f"stopwait-{i + 1}", PORT["absent"],
                                               PORT["load_r"], "benchw"),
            lambda inst: inst.wait_log(r"wait: +waiting for the primary", 20),
            0.3, lambda i: self.rmdata(f"stopwait-{i + 1}"))
        self.stop_phase(
            "initdb",
            lambda i: self.launch_ours_primary(f"stopinitdb-{i + 1}", f"stopinitdb-{i + 1}", PORT["initdb_stop"]),
            lambda inst: inst.wait_log(r"initdb: +initialising the cluster", 20),
            0.2, lambda i: self.rmdata(f"stopinitdb-{i + 1}"))

    def start_load_primary(self):
        say("== primary for the load rows: pgbench -i -s 20")
        p = self.launch_ours_primary("load-p", "load-p", PORT["load_p"])
        self.wait_ready(p, P_ADDR, PORT["load_p"])
        t = now()
        r = subprocess.run([f"{PG_BINDIR}/pgbench", "-i", "-q", "-s", "20", "-h", self.sock("load-p"),
                            "-p", str(PORT["load_p"]), "-U", "postgres", "postgres"],
                           env=self.env(PGPASSWORD=SUPERPW), capture_output=True, text=True, timeout=900)
        if r.returncode != 0:
            raise BenchError(f"pgbench -i failed: {r.stderr[-500:]}")
        size = int(self.psql_local("load-p", PORT["load_p"], "select sum(pg_database_size(oid)) from pg_database"))
        say(f"pgbench -i -s 20 took {now() - t:.1f} s; the cluster holds {size / MiB:.0f} MiB")
        self.notes.append(f"seed: the loaded primary held {size / MiB:.0f} MiB when the runs started")
        return p

    def row_seed(self):
        self.load_p = self.start_load_primary()
        say("== replica seeding under pgbench load (scale 20, 4 clients): launch -> streaming")
        logf = open(os.path.join(self.work, "logs", "pgbench.log"), "w")
        load = subprocess.Popen([f"{PG_BINDIR}/pgbench", "-n", "-c", "4", "-j", "2", "-T", "86400", "-P", "5",
                                 "-h", self.sock("load-p"), "-p", str(PORT["load_p"]), "-U", "postgres",
                                 "postgres"], env=self.env(PGPASSWORD=SUPERPW), stdout=logf, stderr=logf,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        logf.close()
        self.bg.append(load)
        self.load = load
        time.sleep(3)
        pp, rp = PORT["load_p"], PORT["load_r"]
        for i in range(self.n):
            for kind in order(i):
                if load.poll() is not None:
                    raise BenchError("pgbench stopped; see logs/pgbench.log")
                dname = f"seed-{kind}"
                slot = "benchl" if kind == "ours" else "benchf"
                self.rmdata(dname)
                self.drop_slot("load-p", pp, slot)
                name = f"seed-{kind}-{i + 1}"
                if kind == "ours":
                    inst = self.launch_ours_replica(name, dname, pp, rp, slot)
                else:
                    inst = self.launch_floor_replica(name, dname, pp, rp, slot)
                self.time_streaming("seed", kind, i, inst, rp, 2)
        with open(os.path.join(self.work, "logs", "pgbench.log")) as fh:
            tps = [float(m.group(1)) for m in re.finditer(r"progress: [\d.]+ s, ([\d.]+) tps", fh.read())]
        if tps:
            self.notes.append(f"seed: pgbench ran at a median of {median(tps):.0f} tps while the replicas seeded")

    def time_streaming(self, row, kind, i, inst, port, digits):
        """One timed run of a streaming row: launch -> streaming, then the
        stop; recorded under `row` and printed."""
        t = self.wait_streaming(inst, port)
        stop = inst.stop()
        f = inst.facts()
        self.record(row, kind, t, f, stop)
        say(f"{row} run {i + 1} {kind:5}: streaming {t:.{digits}f} s (postgres started at "
            f"{fmt_s(f.get('pg_start'), digits)} s, streaming logged at {fmt_s(f.get('pg_streaming'), digits)} s); "
            f"SIGINT -> gone {stop:.3f} s")

    def row_restart(self):
        if self.load.poll() is None:
            # pgbench installs a cancel handler for SIGINT and now and then
            # does not exit on it; the load only has to stop.
            self.load.send_signal(signal.SIGINT)
            try:
                self.load.wait(10)
            except subprocess.TimeoutExpired:
                self.load.kill()
                self.load.wait(10)
        say("== replica restart on existing data (no load): launch -> streaming")
        rp = PORT["load_r"]
        launch = {
            "ours": lambda name: self.launch_ours_replica(name, "seed-ours", PORT["load_p"], rp, "benchl"),
            "floor": lambda name: self.launch_floor_restart(name, "seed-floor", rp),
        }
        # Warm-up, not timed: both replicas replay a checkpoint taken after the
        # load stopped, so that their shutdown restartpoints leave them in the
        # same state (the same little WAL to replay on every restart).
        self.psql_local("load-p", PORT["load_p"], "checkpoint")
        lsn = self.psql_local("load-p", PORT["load_p"], "select checkpoint_lsn from pg_control_checkpoint()")
        for kind in ("floor", "ours"):
            inst = launch[kind](f"restart-{kind}-warmup")
            self.wait_streaming(inst, rp)
            self.wait_sql(inst, R_ADDR, rp, f"select pg_last_wal_replay_lsn() >= '{lsn}'", "t", 300)
            inst.stop()
        for i in range(self.n):
            for kind in order(i):
                self.time_streaming("restart", kind, i, launch[kind](f"restart-{kind}-{i + 1}"), rp, 3)
        self.load_p.stop()

    def fill(self, target):
        """Grows the re-seed primary to `target` bytes (all databases)."""
        port = PORT["reseed_p"]
        self.psql_local("reseed-p", port, "create table if not exists fill (id bigint, pad text)")
        t = now()
        while True:
            size = int(self.psql_local("reseed-p", port, "select sum(pg_database_size(oid)) from pg_database"))
            if size >= target:
                break
            rows = max(1000, min(500000, int((target - size) / 1100)))
            self.psql_local("reseed-p", port,
                            f"insert into fill select g, repeat(md5(g::text), 30) "
                            f"from generate_series(1, {rows}) g")
        self.psql_local("reseed-p", port, "checkpoint")
        say(f"re-seed primary holds {size / MiB:.0f} MiB (filled in {now() - t:.1f} s)")
        return size

    def reseed_size(self, label, target):
        """Three sides, rotated run by run: ours (POSTGRES_RESEED=force over
        its previous copy), the floor (bare pg_basebackup into an empty
        directory) and, for information, a shell re-seed (`rm -rf` of its
        previous copy, then the same pg_basebackup): a re-seed has to
        discard the old copy, and that costs what it costs on this disk."""
        pp, rp = PORT["reseed_p"], PORT["reseed_r"]
        size = self.fill(target)
        ours_launch = lambda name, **kv: self.launch_ours_replica(name, "reseed-ours", pp, rp, "benchs", **kv)
        q = shlex.quote
        rm_script = (f"rm -rf {q(self.data('reseed-floorrm'))} && exec " +
                     " ".join(map(q, self.floor_basebackup("reseed-floorrm", pp))))
        # warm-ups (not timed): leave a copy of this size for the first re-seeds
        inst = ours_launch(f"reseed-{label}-warmup", POSTGRES_RESEED="force")
        inst.wait_log(r"LOG:  starting PostgreSQL", 3600)
        inst.stop()
        self.drop_slot("reseed-p", pp, "benchs")
        inst = Instance(self, f"reseed-{label}-floorrm-warmup", self.ns_r, ["sh", "-c", rm_script],
                        self.env(PGPASSWORD=REPLPW))
        if inst.wait_exit(3600) is None or inst.proc.returncode != 0:
            raise BenchError(f"the shell re-seed's warm-up failed; log {inst.log}")
        subprocess.run(["sync", "-f", self.work], check=True)
        kinds = ["floor", "ours", "floor_rm"]
        for i in range(self.n):
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
                    self.drop_slot("reseed-p", pp, "benchs")
                    self.record(f"reseed {label}", "ours", t, f)
                    self.record(f"reseed {label} rm", "ours", t, f)
                    say(f"reseed {label} run {i + 1} ours    : copy done {t:.2f} s (wipe "
                        f"{fmt_s(f['steps'].get('wipe'))} s, clone {fmt_s(f['steps'].get('clone'))} s)")
                    continue
                if kind == "floor":
                    self.rmdata("reseed-floor")
                    argv = self.floor_basebackup("reseed-floor", pp)
                else:
                    argv = ["sh", "-c", rm_script]
                inst = Instance(self, name, self.ns_r, argv, self.env(PGPASSWORD=REPLPW))
                done = inst.wait_exit(3600)
                if done is None or inst.proc.returncode != 0:
                    raise BenchError(f"{name}: pg_basebackup failed (status {inst.proc.returncode}); log {inst.log}")
                t = done - inst.t0
                self.record(f"reseed {label}" if kind == "floor" else f"reseed {label} rm", "floor", t, inst.facts())
                say(f"reseed {label} run {i + 1} {kind:8}: copy done {t:.2f} s")
                if kind == "floor_rm":
                    subprocess.run(["sync", "-f", self.work], check=True)
        self.notes.append(f"reseed {label}: the primary held {size / MiB:.0f} MiB")

    def row_reseed_and_stop_cloning(self, with_reseed, with_stop):
        pp = PORT["reseed_p"]
        self.reseed_p = self.launch_ours_primary("reseed-p", "reseed-p", pp)
        self.wait_ready(self.reseed_p, P_ADDR, pp)
        if with_reseed:
            say("== re-seed: ours = POSTGRES_RESEED=force over the previous copy, to the exec of postgres; "
                "floor = bare pg_basebackup into an empty directory, to its exit")
            self.reseed_size("100MiB", 100 * MiB)
        if with_stop:
            if not with_reseed:
                self.fill(100 * MiB)
            say("== stop while cloning (primary's link throttled to 40 Mbit/s so that the clone lasts)")
            self.throttle(self.ns_p, "40mbit")
            self.stop_phase(
                "cloning",
                lambda i: self.launch_ours_replica(f"stopclone-{i + 1}", f"stopclone-{i + 1}", pp,
                                                   PORT["reseed_r"], "benchc"),
                lambda inst: inst.wait_log(r"clone: +pg_basebackup from", 30),
                0.5, lambda i: (self.rmdata(f"stopclone-{i + 1}"), self.drop_slot("reseed-p", pp, "benchc")))
            self.unthrottle(self.ns_p)
        if with_reseed and self.args.large:
            self.reseed_size("1GiB", 1 << 30)
            self.reseed_size("4GiB", 4 << 30)
        self.reseed_p.stop()

    def row_compose(self):
        say("== docker compose up -> row replayed (bench/compose-bench.py)")
        compose = ["docker-compose"] if shutil.which("docker-compose") else ["docker", "compose"]
        if self.args.build:
            t = now()
            subprocess.run(compose + ["build", "-q"], cwd=TOP, check=True)
            say(f"{' '.join(compose)} build took {now() - t:.0f} s")
        out = os.path.join(self.work, "compose.json")
        r = subprocess.run([sys.executable, os.path.join(HERE, "compose-bench.py"), "-n", str(self.n),
                            "--primary-port", str(PORT["compose_p"]), "--replica-port", str(PORT["compose_r"]),
                            "--json", out])
        if r.returncode != 0:
            raise BenchError("compose-bench.py failed")
        with open(out) as f:
            data = json.load(f)
        for kind in ("floor", "ours"):
            for run in data[kind]:
                self.record("compose", kind, run[2])
                self.record("compose ready", kind, run[0])
                self.record("compose streaming", kind, run[1])

    # -- report --
    def report(self):
        n = self.n
        lines = [f"| what (median of {n} interleaved runs) | floor | ours | ratio | pair ratios: median (min-max) "
                 f"| target | met |",
                 "| --- | --- | --- | --- | --- | --- | --- |"]

        def ratio_row(label, key, target, unit="s"):
            r = self.results.get(key)
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
            if f"reseed {label}" in self.results or label == "100MiB":
                ratio_row(f"re-seed at {label} of primary data (copy done)", f"reseed {label}", 1.10)
            if f"reseed {label} rm" in self.results:
                ratio_row(f"(for information) the same against a shell re-seed, `rm -rf` + pg_basebackup",
                          f"reseed {label} rm", None)
        sp = self.results.get("stop_phases", {})
        for phase in ("waiting", "cloning", "initdb"):
            ts = sp.get(phase)
            if ts is None:
                lines.append(f"| stop while {phase} (SIGINT -> gone) | - | not run | | | <= 1 s | |")
                continue
            good = [t for t in ts if t is not None]
            m = median(good)
            met = "yes" if good and max(good) <= 1.0 and len(good) == len(ts) else "NO"
            lines.append(f"| stop while {phase} (SIGINT -> gone; max {fmt_s(max(good) if good else None, 3)} s, "
                         f"{len(good)}/{len(ts)} runs stopped before postgres) | - | {fmt_s(m, 3)} s | | | <= 1 s | {met} |")
        for label, key in (("primary", "boot"), ("replica", "seed"), ("replica after restart", "restart")):
            r = self.results.get(key)
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
            r = self.results.get(key)
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
                    "reseed 1GiB rm", "reseed 4GiB", "reseed 4GiB rm"):
            r = self.results.get(key)
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
                    child = "initdb" if key == "boot" else "clone"
                    own = median([f["exec"] - f["steps"].get(child, 0) for f in facts if "exec" in f])
                    st = (st + "; " if st else "") + (f"exec at {fmt_s(median([f.get('exec') for f in facts]), 3)}; "
                                                      f"before exec outside {child}: {fmt_s(own, 3)}")
                detail.append(f"| {key} | {kind} | {fmt_s(start, 3)} | {fmt_s(done, 3)} | "
                              f"{fmt_s(median(r[kind]), 3)} | {st} |")
        if "compose" in self.results:
            detail += ["", "compose (bench/compose-bench.py), medians:", "",
                       "| metric | floor (s) | ours (s) | ratio |", "| --- | --- | --- | --- |"]
            for key, label in (("compose ready", "up -> primary ready"), ("compose streaming", "up -> replica streaming"),
                               ("compose", "up -> row replayed")):
                f, o = median(self.results[key]["floor"]), median(self.results[key]["ours"])
                detail.append(f"| {label} | {f:.2f} | {o:.2f} | {o / f:.2f}x |")
        runs = ["", "Every run (seconds):", ""]
        for key, r in self.results.items():
            if key == "stop_phases":
                for phase, ts in r.items():
                    runs.append(f"- stop while {phase}: " + ", ".join(fmt_s(t, 3) for t in ts))
                continue
            runs.append(f"- {key}: floor " + ", ".join(fmt_s(t, 3) for t in r["floor"]) +
                        "; ours " + ", ".join(fmt_s(t, 3) for t in r["ours"]))
        notes = [""] + [f"- {n}" for n in self.notes] if self.notes else []
        return summary, "\n".join(detail + runs + notes)


def machine():
    mem = ""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) // 1024} MiB"
    pg = subprocess.run([f"{PG_BINDIR}/postgres", "--version"], capture_output=True, text=True).stdout.strip()
    load = open("/proc/loadavg").read().split()[:3]
    return (f"{os.cpu_count()} CPUs, {mem} memory, kernel {os.uname().release}, {pg}; "
            f"load average at the start {LOAD_AT_START}, at the end {' '.join(load)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", "--runs", type=int, default=5, help="runs of each side per row (default 5)")
    ap.add_argument("--bin", default=os.path.join(TOP, "build", "pg-entrypoint"),
                    help="the pg-entrypoint binary (default build/pg-entrypoint)")
    ap.add_argument("--large", action="store_true", help="also re-seed at 1 GiB and 4 GiB (slow; ~13 GB of disk)")
    ap.add_argument("--only", help=f"comma-separated rows: {','.join(ROWS)} (default all)")
    ap.add_argument("--skip", help="comma-separated rows to leave out")
    ap.add_argument("--build", action="store_true", help="docker-compose build before the compose row")
    ap.add_argument("--markdown", help="also write the report to this file")
    ap.add_argument("--workdir", default=None, help="parent of the temporary work directory (default $TMPDIR or /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs, data)")
    args = ap.parse_args()
    rows = args.only.split(",") if args.only else list(ROWS)
    if args.skip:
        rows = [r for r in rows if r not in args.skip.split(",")]
    bad = [r for r in rows if r not in ROWS]
    if bad:
        ap.error(f"unknown rows: {','.join(bad)}")
    if "restart" in rows and "seed" not in rows:
        rows.append("seed")  # the restart row restarts the replicas the seed row made

    bench = Bench(args)

    def on_signal(sig, _frame):
        raise KeyboardInterrupt(f"signal {sig}")
    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    global LOAD_AT_START
    LOAD_AT_START = " ".join(open("/proc/loadavg").read().split()[:3])
    started = now()
    failed = None
    try:
        bench.setup()
        if "boot" in rows:
            bench.row_boot()
        if "stop" in rows:
            bench.row_stop_early()
        if "reseed" in rows or "stop" in rows:
            bench.row_reseed_and_stop_cloning("reseed" in rows, "stop" in rows)
        if "seed" in rows:
            bench.row_seed()
        if "restart" in rows:
            bench.row_restart()
        if "compose" in rows:
            bench.row_compose()
    except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001 -- report, clean up, exit 1
        failed = f"{type(e).__name__}: {e}"
        say(f"FAILED: {failed}")
        if not isinstance(e, (BenchError, KeyboardInterrupt)):
            import traceback
            traceback.print_exc()
    finally:
        bench.cleanup()
    summary, detail = bench.report()
    head = (f"pg-entrypoint bench, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}: "
            f"`bench/run.py {' '.join(sys.argv[1:])}`, {now() - started:.0f} s\n\n"
            f"Machine: {machine()}\n")
    skipped = [r for r in ROWS if r not in rows]
    tail = ""
    if skipped:
        tail += f"\nRows not run (on purpose): {', '.join(skipped)}\n"
    if failed:
        tail += f"\nThe run FAILED before it finished: {failed}\n"
    text = head + "\n" + summary + "\n" + detail + "\n" + tail
    print("\n" + text)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
