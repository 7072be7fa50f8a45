"""The bench's harness, shared by every row: the constants (paths, ports,
passwords, poll intervals), network namespaces, one instance as PID 1 of its
own PID namespace, and the Bench object that sets up and cleans up the work
directory and namespaces, launches ours and the floors, polls for readiness
and streaming, and records the results."""
import ctypes
import datetime
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
    "heal_p": 56030,
    "heal_r": 56031,
    "pr_p": 56040,  # row_failover: promote
    "pr_s": 56041,
    "fo_p": 56042,  # follower
    "fo_a": 56043,
    "fo_b": 56044,
    "rj_a": 56045,  # rejoin and stop while rewinding
    "rj_b": 56046,
    "rj_floor": 56047,
    "absent": 56099,  # nothing ever listens here: the "waiting" phase
    "compose_p": 56080,
    "compose_r": 56081,
}
SUPERPW = "bench-super-pw"
REPLPW = "bench-repl-pw"
POLL_S = 0.005       # between two psql checks, once the port accepts connections
GATE_POLL_S = 0.002  # between two TCP connects, until then (a connect costs ~0.1 ms)
MiB = 1 << 20

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWNET = 0x40000000
HOST_NET = None  # fd of this process's own network namespace


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
            # The bench's listening ports are inside the ephemeral range: an
            # outgoing connection (a walreceiver, pg_basebackup) that took
            # one of them made the next postgres fail to bind it.
            sh("ip", "netns", "exec", ns.name, "sysctl", "-q", "-w", "net.ipv4.ip_local_reserved_ports=56000-56099")
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
