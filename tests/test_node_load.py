"""Load on two real nodes: 500 key releases from 8 concurrent clients, every one matched by
exactly one on-chain ``AccessRecorded`` entry, nothing lost.

Two issuing hospitals (A and B) each run ``careledger node serve`` over their own directory
and publish records of four patients; eight reading institutions (admitted to the consortium
for this test, one funded account and one encryption key each) hold every patient's consent.
Each reader is a thread with its own chain connection, nonce manager, sender, workspace and
node clients, and reads records of both hospitals through ``Institution.access``: pointer and
ciphertext from the issuer's node (checked against the chain), ``recordAccess`` on chain, a
signed key request naming that transaction, unwrap, decrypt.

At the end the two nodes' release tables (``node.db``) and the chain's ``AccessRecorded`` logs
are the same set of transactions, one log and one release each, with the same accessor,
record and purpose; every record was decrypted to what its hospital published; each reader
got exactly the releases it asked for; neither node logged an unexpected error.

500 releases by default (20-45 s on the 2-core machine, depending on its load); 2,000 with
CARELEDGER_SLOW=1 (70-120 s).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from eth_account import Account

from careledger.actors import Institution, Patient, Provider
from careledger.chain import Chain, NonceManager, Sender
from careledger.codes import SCOPE_ALL, Category, Purpose, Role
from careledger.contracts import CareLedger
from careledger.crypto import EncryptionKeyPair
from careledger.node import NodeClient
from careledger.store import Workspace
from conftest import ACTORS, SLOW, World
from node_tools import NodeLog, follow, gone, releases
from nodes import RunningNode, start_node

CLIENTS = 8
RELEASES = 2000 if SLOW else 500
PATIENTS = ["alice", "bob", "guardian", "stranger"]
RECORDS_PER_PATIENT = 3  # per hospital
DAY = 86400


@dataclass
class Reader:
    key: str
    address: str
    enc: EncryptionKeyPair


@dataclass
class Consortium:
    world: World
    nodes: dict[str, RunningNode]  # issuer address -> its node
    logs: list[NodeLog]
    readers: list[Reader]
    records: list[tuple[str, str, bytes]]  # (record id, issuer address, plaintext)
    start_block: int


@pytest.fixture
def consortium(world: World, tmp_path: Path) -> Iterator[Consortium]:
    w = world
    # rate: each reader sends ~RELEASES / 16 requests to each node within a minute or so
    rate = ("--rate", str(max(120, RELEASES // 4)))
    started: list[RunningNode] = []
    logs: list[NodeLog] = []
    try:
        for name in ("hospital_a", "hospital_b"):
            node = start_node(w, name, tmp_path / name, extra_args=rate)
            started.append(node)
            logs.append(follow(node))
            w.ledger.institutions.set_endpoint(node.url).transact(w.sender(name))
        # eight readers: the devnet's accounts after the named actors, admitted as providers
        spare = w.node.accounts[len(ACTORS):len(ACTORS) + CLIENTS]
        assert len(spare) == CLIENTS, "the devnet needs len(ACTORS) + 8 accounts"
        readers = [Reader(a.private_key, str(Account.from_key(a.private_key).address),
                          EncryptionKeyPair.generate()) for a in spare]
        for r in readers:
            w.ledger.institutions.propose_admit(r.address, Role.PROVIDER,
                                                r.enc.public_bytes).transact(w.sender("hospital_a"))
            assert w.ledger.institutions.is_active(r.address)
        records: list[tuple[str, str, bytes]] = []
        providers = {n.name: Provider(w.ledger, w.sender(n.name), Workspace.local(n.workdir / "ws"),
                                      w.enc[n.name])  # type: ignore[arg-type]
                     for n in started}
        for name in PATIENTS:
            patient = Patient(w.ledger, w.sender(name), Workspace.local(tmp_path / name),
                              w.enc[name])  # type: ignore[arg-type]
            patient.register_key()
            for r in readers:
                patient.grant(r.address, SCOPE_ALL, [Purpose.TREAT], w.now() + DAY)
            for hospital, provider in providers.items():
                for i in range(RECORDS_PER_PATIENT):
                    body = f'{{"patient":"{name}","by":"{hospital}","n":{i}}}'.encode()
                    pub = provider.publish(patient.patient, body, Category.LAB)
                    records.append((pub.record_id, provider.address, body))
        start = int(w.chain.w3.eth.block_number)
        yield Consortium(w, {w.addr(n.name): n for n in started}, logs, readers, records, start)
    finally:
        for node in started:
            node.stop()
        assert gone(*started)


def _client(c: Consortium, reader: Reader, count: int, offset: int, done: Counter[str],
            errors: list[BaseException]) -> None:
    """One reading institution: its own connection, nonces, sender, workspace, node clients."""
    try:
        w = c.world
        chain = Chain(w.node.rpc_url, chain_id=w.node.chain_id)
        ledger = CareLedger(chain, w.ledger.deployment)
        sender = Sender.from_key(chain, reader.key, nonces=NonceManager(chain))
        me = Institution(ledger, sender, Workspace.local(w.workdir / f"reader-{reader.address}"),
                         reader.enc)
        clients = {issuer: NodeClient(node.url, timeout=60) for issuer, node in c.nodes.items()}
        try:
            for i in range(count):
                record_id, issuer, body = c.records[(offset + i) % len(c.records)]
                assert me.access(record_id, Purpose.TREAT, node=clients[issuer]) == body
                done[reader.address] += 1
        finally:
            for client in clients.values():
                client.close()
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        errors.append(exc)


def test_releases_from_8_concurrent_clients_each_match_one_on_chain_entry(consortium: Consortium) -> None:
    c, w = consortium, consortium.world
    per = [RELEASES // CLIENTS + (1 if i < RELEASES % CLIENTS else 0) for i in range(CLIENTS)]
    done: Counter[str] = Counter()
    errors: list[BaseException] = []
    threads = [threading.Thread(target=_client, args=(c, r, per[i], i * 7, done, errors))
               for i, r in enumerate(c.readers)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    elapsed = time.monotonic() - t0
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[:3]
    assert sum(done.values()) == RELEASES
    assert done == {r.address: per[i] for i, r in enumerate(c.readers)}
    print(f"{RELEASES} accesses with key release from {CLIENTS} clients in {elapsed:.1f} s "
          f"({RELEASES / elapsed:.1f}/s)")

    # the nodes' release tables against the chain's access log
    issuer_of = {rid: issuer for rid, issuer, _ in c.records}
    rows: dict[str, tuple[str, str, int, str]] = {}
    for issuer, node in c.nodes.items():
        assert node.process.poll() is None
        table = releases(node.workdir)
        for access_tx, record_id, requester, purpose in table:
            assert access_tx not in rows, f"two releases for {access_tx}"
            assert issuer_of[record_id] == issuer  # a node releases only its own records
            rows[access_tx] = (record_id, requester, purpose, issuer)
    assert len(rows) == RELEASES
    entries = w.ledger.consent.logs("AccessRecorded", from_block=c.start_block)
    per_tx = Counter("0x" + bytes(e["transactionHash"]).hex() for e in entries)
    assert all(n == 1 for n in per_tx.values()), [tx for tx, n in per_tx.items() if n > 1][:3]
    assert set(per_tx) == set(rows)  # every entry paid for one release, every release has one
    for e in entries:
        record_id, requester, purpose, _ = rows["0x" + bytes(e["transactionHash"]).hex()]
        a = e["args"]
        assert "0x" + bytes(a["recordId"]).hex() == record_id
        assert a["accessor"] == requester and int(a["purpose"]) == purpose == int(Purpose.TREAT)
    by_reader = Counter(requester for _, requester, _, _ in rows.values())
    assert by_reader == done
    assert Counter(issuer for *_, issuer in rows.values()).keys() == c.nodes.keys()
    for log in c.logs:
        assert not log.unexpected(), log.unexpected()[:5]
