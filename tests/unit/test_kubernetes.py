#!/usr/bin/python3
"""deploy/kubernetes: the manifest is checked structurally (no cluster here):
every document parses; every Secret reference, volume mount, Service
selector, target port and probe refers to something that exists; every
environment variable is one the README documents; POSTGRES_ROLE=auto sees
pod ordinal 0 as the primary and the replicas reach it through the headless
Service; POSTGRES_PEERS names every pod of the StatefulSet through the
headless Service (pg-0.pg, pg-1.pg, ...: after a promotion the old primary
asks them and rejoins, the replicas follow), and nothing else; the pods run
as a non-root uid with an fsGroup, and PGDATA is a subdirectory of the
volume."""
import os
import re
import sys

import yaml

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)


def main():
    with open(os.path.join(TOP, "deploy", "kubernetes", "postgres.yaml")) as fh:
        docs = [d for d in yaml.safe_load_all(fh) if d]
    with open(os.path.join(TOP, "README.md")) as fh:
        documented = set(re.findall(r"`((?:POSTGRES|POSTGRESQL|PG)[A-Z_]*)`", fh.read()))

    by_kind = {}
    for d in docs:
        check("kind" in d and "metadata" in d and "name" in d["metadata"], f"document without kind/name: {d}")
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    check(len(by_kind.get("StatefulSet", {})) == 1, "exactly one StatefulSet")
    (sts_name, sts), = by_kind["StatefulSet"].items()
    spec = sts["spec"]
    pod = spec["template"]
    labels = pod["metadata"]["labels"]
    check(spec["selector"]["matchLabels"].items() <= labels.items(), "StatefulSet selector matches the pod labels")

    services = by_kind.get("Service", {})
    headless = services.get(spec["serviceName"])
    check(headless is not None and headless["spec"].get("clusterIP") == "None",
          f"serviceName {spec['serviceName']} is a headless Service")
    secrets = by_kind.get("Secret", {})
    claims = {c["metadata"]["name"] for c in spec.get("volumeClaimTemplates", [])}
    volumes = {v["name"] for v in pod["spec"].get("volumes", [])} | claims

    sec = pod["spec"].get("securityContext", {})
    check(sec.get("runAsNonRoot") is True and sec.get("runAsUser", 0) != 0, "pods run as a non-root uid")
    check("fsGroup" in sec, "pods set fsGroup")

    containers = pod["spec"]["containers"]
    check(len(containers) >= 1, "at least one container")
    port_names = set()
    for c in containers:
        port_names |= {p.get("name") for p in c.get("ports", [])}
        env = {}
        for e in c.get("env", []):
            name = e["name"]
            check(name in documented, f"env {name} is documented in the README")
            ref = e.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                s = secrets.get(ref["name"])
                check(s is not None, f"env {name}: Secret {ref['name']} exists")
                if s:
                    keys = set(s.get("stringData", {})) | set(s.get("data", {}))
                    check(ref["key"] in keys, f"env {name}: key {ref['key']} exists in Secret {ref['name']}")
            env[name] = e.get("value")
        check(env.get("POSTGRES_ROLE") == "auto", "POSTGRES_ROLE=auto")
        check(env.get("POSTGRES_PRIMARY_HOST") == f"{sts_name}-0.{spec['serviceName']}",
              "replicas reach ordinal 0 through the headless Service")
        check("POSTGRES_REPLICATION_PASSWORD" in env and "POSTGRES_PASSWORD" in env, "passwords are set")
        members = [f"{sts_name}-{i}.{spec['serviceName']}" for i in range(spec.get("replicas", 1))]
        peers = [p.strip() for p in (env.get("POSTGRES_PEERS") or "").split(",") if p.strip()]
        hosts = [p.rsplit(":", 1)[0] if p.count(":") == 1 else p for p in peers]
        check(sorted(hosts) == sorted(members),
              f"POSTGRES_PEERS lists every pod through the headless Service ({','.join(members)}), "
              f"and only them: {env.get('POSTGRES_PEERS')}")
        check(all(p == h or p.endswith(":5432") for p, h in zip(peers, hosts)),
              f"POSTGRES_PEERS ports are the container's 5432: {env.get('POSTGRES_PEERS')}")
        mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
        for m in mounts:
            check(m in volumes, f"volumeMount {m} has a volume or claim")
        pgdata = env.get("PGDATA") or "/var/lib/postgresql/data"
        check(any(pgdata.startswith(p.rstrip("/") + "/") for p in mounts.values()),
              "PGDATA is a subdirectory of a mounted volume")
        for probe in ("readinessProbe", "livenessProbe"):
            cmd = c.get(probe, {}).get("exec", {}).get("command", [])
            check(cmd[:2] == ["pg-entrypoint", "health"], f"{probe} runs pg-entrypoint health")
            check(all(a in ("--live", "--max-lag") or a.isdigit() for a in cmd[2:]),
                  f"{probe} uses only known health options: {cmd[2:]}")

    for name, svc in services.items():
        sel = svc["spec"].get("selector", {})
        own = {k: v for k, v in sel.items() if not k.startswith("statefulset.kubernetes.io/")}
        check(own.items() <= labels.items(), f"Service {name} selects the pods")
        pod_name = sel.get("statefulset.kubernetes.io/pod-name")
        check(pod_name in (None, f"{sts_name}-0"), f"Service {name} selects the primary pod by name")
        for p in svc["spec"]["ports"]:
            t = p.get("targetPort", p["port"])
            check(isinstance(t, int) or t in port_names, f"Service {name} targetPort {t} exists")

    for f in failures:
        print("FAIL:", f)
    print(f"test_kubernetes: {'FAILED' if failures else 'ok'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
