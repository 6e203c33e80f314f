"""A node killed with SIGKILL, or cut off from its chain, loses nothing and duplicates nothing.

- **kill -9 mid-release**: eight clients send key requests, each naming its own on-chain access
  entry; the node is killed while requests are in flight and restarted over the same directory.
  Every key a client received is in the restarted node's release table; a request with a fresh
  nonce for an entry that released a key (or whose release was recorded while its answer was
  lost) is refused ``AlreadyReleased``; the old request itself is ``RequestReplayed``; every
  other entry releases exactly once. At the end: one release per entry, one ``AccessRecorded``
  log per release.
- **kill -9 mid-publish**: the hospital's SDK publishes into the directory the node serves, in
  a process of its own; the node and that process are killed at once. After the node's restart
  its release table is intact, the hospital's ``Provider.reconcile`` finishes the interrupted
  publication, every record (those published before the kill too) is anchored exactly once, is
  served by the restarted node and decrypts, through the node, to what was published.
- **RPC down**: a node whose anvil stops answers ``/health`` and a valid key request with 503
  and a JSON error, and releases nothing; once the chain is back (same state), the same entry
  releases its key exactly once.

3 kill cycles by default, 10 with CARELEDGER_SLOW=1 (the three tests: 40-70 s by default).
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from careledger.actors import Institution, Patient, Provider
from careledger.chain import Chain, Devnet, NonceManager, RetryPolicy, Sender
from careledger.codes import SCOPE_ALL, Category, Purpose
from careledger.crypto import decrypt_record, unwrap_data_key
from careledger.errors import AlreadyReleased, NodeUnavailable, RequestReplayed
from careledger.node import KeyRequest, NodeClient, node_domain
from careledger.node.messages import sign_request
from careledger.store import RecordPointer, Workspace
from conftest import SLOW, World, build_world
from node_tools import follow, gone, kill9, releases
from nodes import PW, RunningNode, start_node

KILL_CYCLES = 10 if SLOW else 3
CLIENTS, PER_CLIENT = 8, 3
DAY = 86400
NO_LIMIT = ("--rate", "100000")  # the test signs many requests a minute as one reader


def _key_request(w: World, ptr: RecordPointer, access_tx: bytes,
                 reader: str = "hospital_b") -> tuple[KeyRequest, bytes]:
    request = KeyRequest(record_id=ptr.id_bytes, version=ptr.version, purpose=int(Purpose.TREAT),
                         access_tx=access_tx, requester=w.addr(reader),
                         nonce=secrets.token_bytes(32), deadline=int(time.time()) + 300)
    domain = node_domain(w.chain.chain_id, ptr.issuer)
    return request, sign_request(request, domain, Account.from_key(w.keys[reader]))


def _log_access(w: World, ptr: RecordPointer, reader: str = "hospital_b") -> bytes:
    receipt = w.ledger.consent.record_access(ptr.patient, ptr.id_bytes, ptr.category_code,
                                             ptr.commitment_bytes, Purpose.TREAT,
                                             ptr.proof_bytes).transact(w.sender(reader))
    return bytes(receipt["transactionHash"])


def _setup(w: World, tmp_path: Path, node: RunningNode) -> tuple[Provider, Patient]:
    a = Provider(w.ledger, w.sender("hospital_a"), Workspace.local(node.workdir / "ws"),
                 w.enc["hospital_a"])  # type: ignore[arg-type]
    alice = Patient(w.ledger, w.sender("alice"), Workspace.local(tmp_path / "alice"),
                    w.enc["alice"])  # type: ignore[arg-type]
    alice.register_key()
    alice.grant(w.addr("hospital_b"), SCOPE_ALL, [Purpose.TREAT], w.now() + DAY)
    return a, alice


def _assert_one_release_per_entry(w: World, workdir: Path, entries: set[str],
                                  from_block: int) -> None:
    rows = releases(workdir)
    assert Counter(tx for tx, *_ in rows) == Counter(entries), "lost or duplicated releases"
    logs = w.ledger.consent.logs("AccessRecorded", from_block=from_block)
    per_tx = Counter("0x" + bytes(lg["transactionHash"]).hex() for lg in logs)
    assert all(per_tx[tx] == 1 for tx in entries)


# -- kill -9 mid-release ---------------------------------------------------------------------


@dataclass
class Outcome:
    entry: str
    request: KeyRequest
    signature: bytes
    result: str = "not sent"  # released | unavailable | refused:<error>
    wrapped: object | None = None


def test_kill_9_mid_release_then_restart_loses_and_duplicates_nothing(world: World,
                                                                      tmp_path: Path) -> None:
    w = world
    workdir = tmp_path / "hospital-a"
    node = start_node(w, "hospital_a", workdir, extra_args=NO_LIMIT)
    nodes, logs = [node], [follow(node)]
    try:
        a, alice = _setup(w, tmp_path, node)
        body = b'{"resourceType":"Observation","code":"2345-7"}'
        ptr = a.ws.index.get(a.publish(alice.patient, body, Category.LAB).record_id)
        blob = a.ws.blobs.get(ptr.cid)
        start = int(w.chain.w3.eth.block_number)
        everything: set[str] = set()
        interrupted = 0
        for cycle in range(KILL_CYCLES):
            outcomes = []
            for _ in range(CLIENTS * PER_CLIENT):
                tx = _log_access(w, ptr)
                outcomes.append(Outcome("0x" + tx.hex(), *_key_request(w, ptr, tx)))
            everything |= {o.entry for o in outcomes}
            url = node.url
            released = threading.Semaphore(0)

            def send_all(mine: list[Outcome], url: str = url,
                         released: threading.Semaphore = released) -> None:
                with NodeClient(url, retries=0, timeout=30) as c:
                    for o in mine:
                        try:
                            _, o.wrapped = c.release_key(o.request, o.signature)
                            o.result = "released"
                            released.release()
                        except NodeUnavailable:
                            o.result = "unavailable"
                        except Exception as exc:  # noqa: BLE001 - checked below
                            o.result = f"refused:{type(exc).__name__}"

            threads = [threading.Thread(target=send_all, args=(outcomes[i::CLIENTS],))
                       for i in range(CLIENTS)]
            for t in threads:
                t.start()
            for _ in range(3 + cycle % 4):  # a few keys out, the rest in flight: kill -9
                assert released.acquire(timeout=60)
            kill9(node)
            for t in threads:
                t.join(timeout=60)
            results = Counter(o.result.split(":")[0] for o in outcomes)
            assert set(results) <= {"released", "unavailable", "not sent"}, results
            interrupted += results["unavailable"]

            node = start_node(w, "hospital_a", workdir, extra_args=NO_LIMIT)  # same directory
            nodes.append(node)
            logs.append(follow(node))
            rows = {tx for tx, *_ in releases(workdir)}
            client = NodeClient(node.url, timeout=30)
            for o in outcomes:
                if o.result == "released":  # a key that left the node is on record
                    assert o.entry in rows
                    with pytest.raises(RequestReplayed):  # its nonce survived the kill too
                        client.release_key(o.request, o.signature)
                again = _key_request(w, ptr, bytes.fromhex(o.entry[2:]))
                if o.entry in rows:
                    with pytest.raises(AlreadyReleased):
                        client.release_key(*again)
                else:
                    _, o.wrapped = client.release_key(*again)
            client.close()
            lost_answers = sum(o.result == "unavailable" and o.entry in rows for o in outcomes)
            print(f"cycle {cycle}: {dict(results)} before the kill; {lost_answers} released "
                  "while their answer was lost")
            for o in outcomes:  # each key opens the record
                if o.wrapped is not None:
                    key = unwrap_data_key(o.wrapped, ptr.binding, w.enc["hospital_b"])  # type: ignore[arg-type]
                    assert decrypt_record(blob, key, ptr.binding) == body
            _assert_one_release_per_entry(w, workdir, everything, start)
        assert interrupted > 0, "no request was in flight at any kill"
    finally:
        for n in nodes:
            n.stop()
        assert gone(*nodes)
    for log in logs:
        assert not log.unexpected(), log.unexpected()[:5]


# -- kill -9 mid-publish ---------------------------------------------------------------------

PUBLISHER = """
import sys
from pathlib import Path
from careledger.actors import Provider
from careledger.chain import Chain, NonceManager, Sender
from careledger.codes import Category
from careledger.contracts import CareLedger, Deployment
from careledger.crypto import EncryptionKeyPair
from careledger.store import Workspace

rpc, chain_id, key, workdir, patient, password = sys.argv[1:7]
chain = Chain(rpc, chain_id=int(chain_id))
ledger = CareLedger(chain, Deployment.load(Deployment.path_for(Path(workdir) / "deployments",
                                                                int(chain_id)), chain))
provider = Provider(ledger, Sender.from_key(chain, key, nonces=NonceManager(chain)),
                    Workspace.local(Path(workdir) / "ws"),
                    EncryptionKeyPair.load(Path(workdir) / "enc.key", password))
for i in range(10_000):
    pub = provider.publish(patient, b'{"n": %d, "by": "publisher"}' % i, Category.LAB)
    print(pub.record_id, i, flush=True)
"""


def test_kill_9_of_node_and_publisher_mid_publish_then_restart(world: World,
                                                               tmp_path: Path) -> None:
    w = world
    workdir = tmp_path / "hospital-a"
    node = start_node(w, "hospital_a", workdir, extra_args=NO_LIMIT)
    nodes = [node]
    try:
        a, alice = _setup(w, tmp_path, node)
        b = Institution(w.ledger, w.sender("hospital_b"), Workspace.local(tmp_path / "hospital-b"),
                        w.enc["hospital_b"])  # type: ignore[arg-type]
        start = int(w.chain.w3.eth.block_number)
        before = {a.publish(alice.patient, b'{"n": "before"}', Category.LAB).record_id
                  for _ in range(2)}
        first = min(before)
        assert b.access(first, Purpose.TREAT, node=node.url) == b'{"n": "before"}'
        rows_before = releases(workdir)
        assert len(rows_before) == 1

        publisher = subprocess.Popen(
            [sys.executable, "-c", PUBLISHER, w.node.rpc_url, str(w.node.chain_id),
             w.keys["hospital_a"], str(workdir), alice.patient, PW],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        published: dict[str, bytes] = {}
        try:
            assert publisher.stdout is not None
            while len(published) < 4:  # some records out, the next one part-way: kill both
                line = publisher.stdout.readline()
                assert line, f"the publisher stopped: {publisher.poll()}"
                if line.startswith("0x"):
                    rid, i = line.split()
                    published[rid] = b'{"n": %d, "by": "publisher"}' % int(i)
            time.sleep(random.uniform(0, 0.03))  # somewhere inside the next publish
            os.kill(publisher.pid, signal.SIGKILL)
            kill9(node)
        finally:
            if publisher.poll() is None:
                publisher.kill()
            publisher.wait(timeout=10)
            if publisher.stdout is not None:
                publisher.stdout.close()

        node = start_node(w, "hospital_a", workdir, extra_args=NO_LIMIT)
        nodes.append(node)
        assert releases(workdir) == rows_before  # the release table is intact
        entry = bytes.fromhex(rows_before[0][0][2:])
        with pytest.raises(AlreadyReleased), NodeClient(node.url) as c:  # and still refuses
            c.release_key(*_key_request(w, a.ws.index.get(first), entry))  # a second key

        # the hospital's SDK finishes what the kill interrupted (its own nonces: a new sender)
        hospital = Provider(w.ledger, Sender.from_key(w.chain, w.keys["hospital_a"],
                                                      nonces=NonceManager(w.chain)),
                            Workspace.local(workdir / "ws"), w.enc["hospital_a"])  # type: ignore[arg-type]
        report = hospital.reconcile()
        mine = [p for p in hospital.ws.index.all() if p.issuer == hospital.address]
        print(f"killed after {len(published)} publications; "
              f"{len(mine) - len(before) - len(published)} interrupted one(s) in the index; "
              f"reconcile: {report}")
        assert report.checked == len(mine) >= len(before) + len(published)
        ids = {p.record_id for p in mine}
        assert before <= ids and set(published) <= ids
        anchored = Counter("0x" + bytes(lg["args"]["recordId"]).hex()
                           for lg in w.ledger.records.logs("RecordAnchored", from_block=start))
        assert anchored == Counter(ids), "a record anchored twice, or not at all"
        for p in mine:  # served by the restarted node, verified and decrypted through it
            plain = b.access(p.record_id, Purpose.TREAT, node=node.url)
            if p.record_id in published:
                assert plain == published[p.record_id]
            elif p.record_id in before:
                assert plain == b'{"n": "before"}'
            else:  # the one the kill interrupted
                assert plain.endswith(b', "by": "publisher"}')
        assert len(releases(workdir)) == 1 + len(mine)
        _assert_one_release_per_entry(w, workdir, {tx for tx, *_ in releases(workdir)}, start)
    finally:
        for n in nodes:
            n.stop()
        assert gone(*nodes)


# -- RPC down ----------------------------------------------------------------------------------


def test_a_node_whose_rpc_is_down_answers_503_and_releases_nothing(tmp_path: Path) -> None:
    with Devnet(accounts=20, state_file=tmp_path / "anvil-state.json") as devnet:
        chain = Chain(devnet.rpc_url, chain_id=devnet.chain_id,
                      retry=RetryPolicy(attempts=2, initial_delay=0.05))
        w = build_world(devnet, tmp_path, chain=chain)
        node = start_node(w, "hospital_a", tmp_path / "hospital-a")
        try:
            a, alice = _setup(w, tmp_path, node)
            ptr = a.ws.index.get(a.publish(alice.patient, b"lab", Category.LAB).record_id)
            tx = _log_access(w, ptr)
            time.sleep(1.5)  # anvil writes its state every second
            devnet.stop()

            for method, path, body in [("GET", "/health", None),
                                       ("POST", "/keys/release", _key_request(w, ptr, tx))]:
                json_body = None
                if body is not None:
                    request, signature = body
                    json_body = {"message": request.message_json(),
                                 "signature": "0x" + signature.hex()}
                t0 = time.monotonic()
                r = httpx.request(method, node.url + path, json=json_body, timeout=60)
                assert r.status_code == 503, (path, r.status_code, r.text)
                assert r.json()["error"] == "RpcUnavailable" and r.json()["detail"], r.text
                assert time.monotonic() - t0 < 30  # it gives up, it does not hang
            with pytest.raises(NodeUnavailable), NodeClient(node.url, retries=0) as c:
                c.release_key(*_key_request(w, ptr, tx))
            assert node.process.poll() is None
            assert releases(node.workdir) == []

            devnet.restart()  # the chain is back, with its state
            assert httpx.get(node.url + "/health", timeout=30).status_code == 200
            with NodeClient(node.url) as c:
                _, wrapped = c.release_key(*_key_request(w, ptr, tx))
                assert wrapped.recipient == w.enc["hospital_b"].public_bytes  # type: ignore[attr-defined]
                with pytest.raises(AlreadyReleased):
                    c.release_key(*_key_request(w, ptr, tx))
            assert [row[0] for row in releases(node.workdir)] == ["0x" + tx.hex()]
        finally:
            node.stop()
            assert gone(node)
