"""The hospital node over HTTP: accesses per second through two nodes, key-release latency under
concurrent load, and node memory.

Two issuing hospitals (A and B) each run a real ``careledger node serve`` process over their
own directory (free loopback port, started and stopped here) and publish records of four
patients; the reading institutions (the emergency unit, and eight institutions admitted for
the run) hold every patient's consent. Measured in the same run, on the same anvil:

- **bare recordAccess round trip/s**: ``ConsentRegistry.recordAccess`` sent and mined, one
  after another (what an access costs on chain alone);
- **accesses/s over HTTP, two nodes**: ``Institution.access`` end to end, alternating A's and
  B's records: pointer and ciphertext from the issuer's node (checked against the chain), the
  consent view, ``recordAccess``, the signed key request, unwrap, decrypt, verify; once with a
  kept ``NodeClient`` per node, once as ``access(record_id)`` alone (the node's URL read on
  chain, a new client per access); the ratio to the bare round trip;
- **where an access's time goes**: the same steps timed one by one;
- **key-release latency under load**: 8 reader threads (own connection, nonces, sender), each
  logging an access and then timing ``POST /keys/release``; p50, p90, p99, max, and the
  accesses/s of the whole run;
- **node RSS**: ``VmRSS`` (and ``VmHWM``, the peak) from ``/proc/<pid>/status`` of each node,
  idle after start, after the sequential runs and after the load;
- **node start**: from spawning ``careledger node serve`` to a 200 from ``/health``.

    .venv/bin/python benchmarks/node.py           # writes results/node.json
    .venv/bin/python benchmarks/node.py --quick   # smoke run, writes results/quick/node.json
"""

from __future__ import annotations

import secrets
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import YEAR, Actor, Env, md_table, run_standalone, summary
from eth_account import Account

from careledger.actors import Institution, Patient, Provider
from careledger.actors.remote import fetch_verified
from careledger.chain import Chain, NonceManager, Sender
from careledger.codes import SCOPE_ALL, Category, Purpose, Role
from careledger.contracts import CareLedger
from careledger.crypto import EncryptionKeyPair, decrypt_record, unwrap_data_key
from careledger.node import KeyRequest, NodeClient, node_domain
from careledger.node.messages import sign_request
from careledger.node.process import NodeProcess, start_node_process
from careledger.store import Workspace

PW = "bench-node-password"
KIB = 1024
CLIENTS = 8
GOALS = {"access_per_s": 50.0, "ratio_to_bare": 2.0}


# --------------------------------------------------------------------------------------------
# node processes


@dataclass
class HospitalNode:
    """Hospital ``name``'s node process (``careledger.node.process``)."""

    name: str
    proc: NodeProcess
    start_s: float  # from spawning the process to a 200 from /health

    @property
    def url(self) -> str:
        return self.proc.url

    def rss(self) -> dict[str, int]:
        """``VmRSS`` and ``VmHWM`` (peak) in KiB."""
        out: dict[str, int] = {}
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            key = line.split(":", 1)[0]
            if key in ("VmRSS", "VmHWM"):
                out[key] = int(line.split()[1])
        return out


def start_node(env: Env, name: str, workdir: Path) -> HospitalNode:
    """``careledger node serve`` for ``name`` over ``workdir/ws`` (its log in there too)."""
    workdir.mkdir(parents=True, exist_ok=True)
    key_file = workdir / "enc.key"
    env.enc[name].save(key_file, PW)
    env.deployment.save(workdir / "deployments")
    t0 = time.monotonic()
    proc = start_node_process(rpc_url=env.node.rpc_url, chain_id=env.node.chain_id,
                              deployments=workdir / "deployments", workspace=workdir / "ws",
                              enc_key=key_file, enc_password=PW,
                              private_key=env.actors[name].private_key,
                              extra_args=("--rate", "1000000"), startup_timeout=60)
    return HospitalNode(name, proc, time.monotonic() - t0)


# --------------------------------------------------------------------------------------------
# the consortium


@dataclass
class Reader:
    actor: Actor
    enc: EncryptionKeyPair


class Consortium:
    """Two hospitals with nodes, four patients, readers with consent, records at both nodes."""

    def __init__(self, env: Env, workdir: Path, *, records_per_patient: int) -> None:
        self.env = env
        led = env.ledger
        self.nodes: dict[str, HospitalNode] = {}
        for name in ("hospital_a", "hospital_b"):
            node = start_node(env, name, workdir / name)
            self.nodes[env.actors[name].address] = node
            led.institutions.set_endpoint(node.url).transact(env.sender(name))
        self.readers = [Reader(a, EncryptionKeyPair.generate())
                        for a in env.patients[4:4 + CLIENTS]]
        for r in self.readers:  # admitted as providers (threshold 1: one transaction)
            led.institutions.propose_admit(r.actor.address, Role.PROVIDER,
                                           r.enc.public_bytes).transact(env.sender("hospital_a"))
        self.emergency = Institution(led, env.sender("emergency"),
                                     Workspace.local(workdir / "emergency"), env.enc["emergency"])
        grantees = [self.emergency.address, *(r.actor.address for r in self.readers)]
        payload = secrets.token_bytes(KIB)
        self.records: list[tuple[str, str, bytes]] = []  # (record id, issuer, plaintext)
        providers = [Provider(led, env.sender(n.name), Workspace.local(n.proc.workspace),
                              env.enc[n.name]) for n in self.nodes.values()]
        for i, actor in enumerate(env.patients[:4]):
            patient = Patient(led, env.sender(actor), Workspace.local(workdir / actor.name),
                              EncryptionKeyPair.generate())
            patient.register_key()
            for g in grantees:
                patient.grant(g, SCOPE_ALL, [Purpose.TREAT], env.now() + YEAR)
            for k in range(records_per_patient):
                for p in providers:
                    body = payload[:-8] + i.to_bytes(4, "big") + k.to_bytes(4, "big")
                    self.records.append((p.publish(patient.patient, body, Category.LAB).record_id,
                                         p.address, body))

    def close(self) -> None:
        for node in self.nodes.values():
            node.proc.stop()


# --------------------------------------------------------------------------------------------
# measurements


def bare_record_access(c: Consortium, n: int) -> float:
    """``recordAccess`` round trips per second (sent and mined, one after another)."""
    me, led = c.emergency, c.env.ledger
    ptrs = []
    for rid, issuer, _ in c.records[:8]:
        with NodeClient(c.nodes[issuer].url) as client:
            ptrs.append(client.pointer(bytes.fromhex(rid[2:])))
    assert me.sender is not None
    t0 = time.perf_counter()
    for i in range(n):
        p = ptrs[i % len(ptrs)]
        led.consent.record_access(p.patient, p.id_bytes, p.category_code, p.commitment_bytes,
                                  Purpose.TREAT, p.proof_bytes).transact(me.sender)
    return n / (time.perf_counter() - t0)


def http_access(c: Consortium, n: int, *, kept_clients: bool) -> float:
    """``Institution.access`` through the issuers' nodes, per second."""
    clients = {issuer: NodeClient(node.url) for issuer, node in c.nodes.items()}
    try:
        t0 = time.perf_counter()
        for i in range(n):
            rid, issuer, body = c.records[i % len(c.records)]
            node = clients[issuer] if kept_clients else None
            assert c.emergency.access(rid, Purpose.TREAT, node=node) == body
        return n / (time.perf_counter() - t0)
    finally:
        for client in clients.values():
            client.close()


def steps(c: Consortium, n: int) -> dict[str, float]:
    """Median milliseconds of each step of an access through a node."""
    me, led = c.emergency, c.env.ledger
    assert me.sender is not None
    clients = {issuer: NodeClient(node.url) for issuer, node in c.nodes.items()}
    times: dict[str, list[float]] = {}

    def lap(name: str, t0: float) -> float:
        now = time.perf_counter()
        times.setdefault(name, []).append((now - t0) * 1000)
        return now

    try:
        for i in range(n):
            rid, issuer, body = c.records[i % len(c.records)]
            client = clients[issuer]
            t = time.perf_counter()
            ptr, blob = fetch_verified(me, client, bytes.fromhex(rid[2:]))
            t = lap("pointer + ciphertext from the node, checked against the chain", t)
            assert led.consent.is_authorized_for_record(ptr.patient, me.address, ptr.id_bytes,
                                                        ptr.category_code, Purpose.TREAT)
            t = lap("consent view (isAuthorizedForRecord)", t)
            receipt = led.consent.record_access(ptr.patient, ptr.id_bytes, ptr.category_code,
                                                ptr.commitment_bytes, Purpose.TREAT,
                                                ptr.proof_bytes).transact(me.sender)
            t = lap("recordAccess sent and mined", t)
            request = KeyRequest(record_id=ptr.id_bytes, version=ptr.version,
                                 purpose=int(Purpose.TREAT),
                                 access_tx=bytes(receipt["transactionHash"]),
                                 requester=me.address, nonce=secrets.token_bytes(32),
                                 deadline=int(time.time()) + 120)
            signature = sign_request(request, node_domain(led.chain.chain_id, ptr.issuer),
                                     me.sender.account)
            t = lap("sign the key request (EIP-712)", t)
            _, wrapped = client.release_key(request, signature)
            t = lap("POST /keys/release (the node's checks, wrap)", t)
            key = unwrap_data_key(wrapped, ptr.binding, me.keypair)
            assert decrypt_record(blob, key, ptr.binding) == body
            lap("unwrap + decrypt", t)
    finally:
        for client in clients.values():
            client.close()
    return {k: round(statistics.median(v), 2) for k, v in times.items()}


def load(c: Consortium, per_client: int) -> dict[str, Any]:
    """8 reader threads: log an access, then time the key release; latencies and rate."""
    env = c.env
    latencies: list[float] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def reader(r: Reader, offset: int) -> None:
        try:
            chain = Chain(env.node.rpc_url, chain_id=env.node.chain_id, poll_interval=0.001)
            led = CareLedger(chain, env.deployment)
            sender = Sender.from_key(chain, r.actor.private_key, nonces=NonceManager(chain))
            account = Account.from_key(r.actor.private_key)
            clients = {issuer: NodeClient(node.url, timeout=60) for issuer, node in c.nodes.items()}
            ptrs = {rid: clients[issuer].pointer(bytes.fromhex(rid[2:]))
                    for rid, issuer, _ in c.records}
            for i in range(per_client):
                rid, issuer, body = c.records[(offset + i) % len(c.records)]
                ptr = ptrs[rid]
                blob = clients[issuer].blob(ptr.cid)
                receipt = led.consent.record_access(ptr.patient, ptr.id_bytes, ptr.category_code,
                                                    ptr.commitment_bytes, Purpose.TREAT,
                                                    ptr.proof_bytes).transact(sender)
                request = KeyRequest(record_id=ptr.id_bytes, version=ptr.version,
                                     purpose=int(Purpose.TREAT),
                                     access_tx=bytes(receipt["transactionHash"]),
                                     requester=sender.address, nonce=secrets.token_bytes(32),
                                     deadline=int(time.time()) + 120)
                signature = sign_request(request, node_domain(chain.chain_id, ptr.issuer), account)
                t0 = time.perf_counter()
                _, wrapped = clients[issuer].release_key(request, signature)
                elapsed = (time.perf_counter() - t0) * 1000
                assert decrypt_record(blob, unwrap_data_key(wrapped, ptr.binding, r.enc),
                                      ptr.binding) == body
                with lock:
                    latencies.append(elapsed)
            for client in clients.values():
                client.close()
        except BaseException as exc:  # noqa: BLE001 - re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(r, 5 * i)) for i, r in enumerate(c.readers)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    if errors:
        raise errors[0]
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))], 1)

    return {"clients": CLIENTS, "releases": len(ordered), "wall_s": round(wall, 2),
            "accesses_per_s": round(len(ordered) / wall, 1),
            "release_ms": {"p50": pct(50), "p90": pct(90), "p99": pct(99),
                           "max": round(ordered[-1], 1), "mean": round(statistics.fmean(ordered), 1)}}


def _runs(fn: Any, runs: int) -> dict[str, float]:
    return summary([fn() for _ in range(runs)])


def measure(*, quick: bool = False) -> dict[str, Any]:
    n = 20 if quick else 60
    runs = 3 if quick else 5
    per_client = 8 if quick else 40
    res: dict[str, Any] = {"clients": CLIENTS, "goals": GOALS}
    with Env(accounts=20) as env, tempfile.TemporaryDirectory(prefix="careledger-node-") as tmp:
        c = Consortium(env, Path(tmp), records_per_patient=2 if quick else 4)
        try:
            res["records"] = len(c.records)
            res["start_s"] = {n.name: round(n.start_s, 2) for n in c.nodes.values()}
            res["rss_kib"] = {"idle": {n.name: n.rss() for n in c.nodes.values()}}
            print(f"  node start to a healthy /health: {res['start_s']} s; idle RSS "
                  f"{res['rss_kib']['idle']} KiB", flush=True)
            http_access(c, 4, kept_clients=True)  # warm-up: caches, connections
            bare_record_access(c, 4)
            # interleaved, so load changes on the shared machine hit both alike
            bare, http, fresh = [], [], []
            for _ in range(runs):
                bare.append(bare_record_access(c, n))
                http.append(http_access(c, n, kept_clients=True))
                fresh.append(http_access(c, n, kept_clients=False))
            res["bare_record_access_per_s"] = summary(bare)
            res["http_access_per_s"] = summary(http)
            res["http_access_endpoint_lookup_per_s"] = summary(fresh)
            res["ratio_bare_to_http"] = round(res["bare_record_access_per_s"]["median"]
                                              / res["http_access_per_s"]["median"], 2)
            print(f"  bare recordAccess: {res['bare_record_access_per_s']['median']:.1f}/s; "
                  f"access over HTTP: {res['http_access_per_s']['median']:.1f}/s "
                  f"(ratio {res['ratio_bare_to_http']}); with endpoint lookup: "
                  f"{res['http_access_endpoint_lookup_per_s']['median']:.1f}/s", flush=True)
            res["steps_ms"] = steps(c, n)
            res["rss_kib"]["after_sequential"] = {n.name: n.rss() for n in c.nodes.values()}
            res["load"] = load(c, per_client)
            res["rss_kib"]["after_load"] = {n.name: n.rss() for n in c.nodes.values()}
            print(f"  load: {res['load']['releases']} releases from {CLIENTS} clients, "
                  f"{res['load']['accesses_per_s']}/s, release p50 "
                  f"{res['load']['release_ms']['p50']} ms, p99 {res['load']['release_ms']['p99']} ms",
                  flush=True)
        finally:
            c.close()
    res["verdicts"] = verdicts(res)
    return res


def verdicts(res: dict[str, Any]) -> list[dict[str, Any]]:
    access = res["http_access_per_s"]["median"]
    return [
        {"figure": "access over HTTP, two nodes (/s)", "measured": round(access, 1),
         "goal": f"≥ {GOALS['access_per_s']:.0f}", "met": access >= GOALS["access_per_s"]},
        {"figure": "bare recordAccess round trip ÷ access over HTTP",
         "measured": res["ratio_bare_to_http"], "goal": f"≤ {GOALS['ratio_to_bare']:.0f}×",
         "met": res["ratio_bare_to_http"] <= GOALS["ratio_to_bare"]},
    ]


def _mib(kib: int) -> str:
    return f"{kib / 1024:.0f}"


def table(res: dict[str, Any]) -> str:
    def s(d: dict[str, float]) -> tuple[str, str]:
        return f"{d['median']:.1f}", f"{d['min']:.1f}–{d['max']:.1f}"

    rows = [
        ["bare `recordAccess` round trips/s (sent and mined, one after another)",
         *s(res["bare_record_access_per_s"]), "—"],
        ["accesses/s over HTTP, two nodes — `Institution.access(id, node=client)`",
         *s(res["http_access_per_s"]), f"≥ {GOALS['access_per_s']:.0f}"],
        ["accesses/s over HTTP — `Institution.access(id)` (URL read on chain, new client)",
         *s(res["http_access_endpoint_lookup_per_s"]), "—"],
        ["bare round trip ÷ access over HTTP", f"{res['ratio_bare_to_http']:.2f}×", "",
         f"≤ {GOALS['ratio_to_bare']:.0f}×"],
    ]
    load_ = res["load"]
    ms = load_["release_ms"]
    rows += [
        [(f"key release latency, {load_['clients']} concurrent clients "
          f"({load_['releases']} releases), p50 / p90 / p99 / max (ms)"),
         f"{ms['p50']} / {ms['p90']} / {ms['p99']} / {ms['max']}", "", "—"],
        [f"accesses/s under that load ({load_['clients']} clients, log + release + decrypt)",
         f"{load_['accesses_per_s']}", "", "—"],
    ]
    for phase, per_node in res["rss_kib"].items():
        rss = ", ".join(f"{name} {_mib(v['VmRSS'])} MiB" for name, v in per_node.items())
        peak = max(v.get("VmHWM", 0) for v in per_node.values())
        rows.append([f"node RSS ({phase.replace('_', ' ')}; peak VmHWM {_mib(peak)} MiB)",
                     rss, "", "—"])
    if "start_s" in res:  # results written before the start-up time was measured lack it
        rows.append(["node start to a healthy /health (s)",
                     ", ".join(f"{name} {s}" for name, s in res["start_s"].items()), "", "—"])
    return md_table(["figure", "median", "min–max", "goal"], rows)


def steps_table(res: dict[str, Any]) -> str:
    total = sum(res["steps_ms"].values())
    return md_table(["step of one access through a node", "median ms", "share"],
                    [[k, f"{v:.2f}", f"{100 * v / total:.0f} %"]
                     for k, v in res["steps_ms"].items()])


def verdict_table(res: dict[str, Any]) -> str:
    return md_table(["goal", "measured", "goal", "met?"],
                    [[v["figure"], v["measured"], v["goal"], "yes" if v["met"] else "**no**"]
                     for v in res["verdicts"]])


if __name__ == "__main__":
    run_standalone("node", measure, table, steps_table, verdict_table)
