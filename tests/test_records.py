"""The sharing flows end to end, against a real anvil, real node processes and real
directories: the issuing hospital, the reading hospital and the patient each have their own."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator

import pytest
from eth_account import Account
from eth_utils.crypto import keccak

from careledger.actors import Patient, Provider, Researcher, latest_version, verify_commitment
from careledger.codes import SCOPE_ALL, Category, Purpose
from careledger.consent import ConsentSigner, Relayer
from careledger.errors import (
    AccessNotAuthorized,
    AlreadyAnchored,
    KeyNotShared,
    MissingRole,
    NotActiveInstitution,
    RecordBindingMismatch,
    WrappedKeyNotFound,
)
from careledger.store import Workspace
from nodes import Parties, parties

DAY = 86400


@pytest.fixture
def party(world, tmp_path) -> Iterator[Parties]:  # type: ignore[no-untyped-def]
    with parties(world, tmp_path) as p:
        yield p


def _actors(world):  # type: ignore[no-untyped-def]
    """Parties that never read across institutions: each in its own directory, no node."""
    a = Provider(world.ledger, world.sender("hospital_a"),
                 Workspace.local(world.workdir / "hospital-a"), world.enc["hospital_a"])
    b = Provider(world.ledger, world.sender("hospital_b"),
                 Workspace.local(world.workdir / "hospital-b"), world.enc["hospital_b"])
    alice = Patient(world.ledger, world.sender("alice"), Workspace.local(world.workdir / "alice"),
                    world.enc["alice"])
    alice.register_key()
    return a.ws, a, b, alice


def test_full_flow_publish_signed_grant_access_revoke_erase(world, party) -> None:  # type: ignore[no-untyped-def]
    ws, a, b, alice = party.ws, party.a, party.b, party.alice
    body = b'{"resourceType":"Observation","code":"2345-7","value":5.4}'
    pub = a.publish(alice.patient, body, Category.LAB)
    anchored = world.ledger.records.anchored(pub.pointer.id_bytes)
    assert anchored is not None and anchored.commitment == keccak(ws.blobs.get(pub.pointer.cid))
    assert anchored.patient == alice.patient and anchored.category == Category.LAB.code

    # grant by EIP-712 signature, relayed: the patient pays no gas
    balance = world.chain.w3.eth.get_balance(alice.patient)
    signer = ConsentSigner(world.ledger.consent)
    msg = signer.grant_message(alice.patient, world.addr("hospital_b"), Category.LAB.code,
                               [Purpose.TREAT], world.now() + 30 * DAY, deadline=world.now() + DAY)
    result = Relayer(world.sender("relayer"), world.ledger.consent).submit(
        signer.sign(msg, Account.from_key(world.keys["alice"])))
    assert result.applied_by_us
    assert world.chain.w3.eth.get_balance(alice.patient) == balance

    # consent is all it takes: B finds A's node from the record id and the key is released
    # after B's access entry; nothing is ever copied into B's or Alice's directory by A
    assert b.access(pub.record_id, Purpose.TREAT) == body
    assert not b.ws.index.all()

    alice.revoke(world.addr("hospital_b"), Category.LAB.code)
    with pytest.raises(AccessNotAuthorized, match="AccessNotAuthorized"):
        b.access(pub.record_id, Purpose.TREAT)
    _head, count = world.ledger.consent.audit_head(alice.patient)
    assert count == 1  # the refused access after revocation was refused before sending
    assert len(party.node.releases()) == 1

    destroyed = alice.erase(pub.record_id)  # at the issuer's node
    assert destroyed >= 2  # the patient's copy and the issuer's
    with pytest.raises(WrappedKeyNotFound):
        alice.read(pub.record_id)
    with pytest.raises(KeyNotShared):
        a.unwrap(ws.index.get(pub.record_id))
    verify_commitment(world.ledger, ws.index.get(pub.record_id), ws.blobs.get(pub.pointer.cid))


def test_access_with_wrong_purpose_is_refused_and_nothing_is_decrypted(world, party) -> None:  # type: ignore[no-untyped-def]
    a, b, alice = party.a, party.b, party.alice
    pub = a.publish(alice.patient, b"note", Category.NOTE)
    alice.grant(world.addr("hospital_b"), Category.NOTE.code, [Purpose.TREAT], world.now() + DAY)
    with pytest.raises(AccessNotAuthorized):
        b.access(pub.record_id, Purpose.HPAYMT)
    assert party.node.releases() == []


def test_publication_is_idempotent_by_record_id(world) -> None:  # type: ignore[no-untyped-def]
    ws, a, _, alice = _actors(world)
    rid = bytes.fromhex(world.addr("hospital_a")[2:]) + b"\x11" * 12
    first = a.publish(alice.patient, b"v1", Category.LAB, record_id=rid)
    again = a.publish(alice.patient, b"v1", Category.LAB, record_id=rid)
    assert again.pointer.commitment == first.pointer.commitment
    assert len(ws.index.all()) == 1
    logs = world.ledger.records.logs("RecordAnchored", from_block=world.ledger.deployment.block)
    assert len([lg for lg in logs if lg["args"]["recordId"] == rid]) == 1


def test_anchor_is_write_once_on_chain(world) -> None:  # type: ignore[no-untyped-def]
    _, a, _, alice = _actors(world)
    pub = a.publish(alice.patient, b"x", Category.LAB)
    with pytest.raises(AlreadyAnchored):
        world.ledger.records.anchor(alice.patient, pub.pointer.id_bytes, b"\x01" * 32,
                                    Category.LAB.code, b"\x00" * 32).transact(a.sender)


def test_amendments_are_new_versions_and_latest_is_found(world, party) -> None:  # type: ignore[no-untyped-def]
    _ws, a, alice = party.ws, party.a, party.alice
    v1 = a.publish(alice.patient, b"draft", Category.DISCHARGE)
    v2 = a.amend(v1.record_id, b"final")
    assert v2.pointer.version == 2
    assert latest_version(world.ledger, v1.record_id) == v2.pointer.id_bytes
    assert alice.read(v1.record_id) == b"draft"
    assert alice.read(v2.record_id) == b"final"


def test_batch_records_verify_by_merkle_proof_and_tampering_is_caught(world, party) -> None:  # type: ignore[no-untyped-def]
    ws, a, alice = party.ws, party.a, party.alice
    items = [(alice.patient, f"reading {i}".encode()) for i in range(37)]
    root, ptrs, receipt = a.publish_batch(items, Category.VITALS)
    batch = world.ledger.records.batch(ptrs[0].id_bytes[:28])
    assert receipt is not None and batch.count == 37 and batch.root == root
    assert all(p.id_bytes[:28] == ptrs[0].id_bytes[:28] for p in ptrs)  # one batch id, 37 indexes
    for i in (0, 17, 36):
        assert alice.read(ptrs[i].record_id) == f"reading {i}".encode()
        p = ptrs[i]
        assert world.ledger.records.verify_batch_record(
            p.proof_bytes, p.patient, p.id_bytes, p.commitment_bytes, Category.VITALS.code)
    swapped = ws.index.get(ptrs[3].record_id)
    swapped.proof = ptrs[4].proof
    with pytest.raises(RecordBindingMismatch):
        verify_commitment(world.ledger, swapped, ws.blobs.get(swapped.cid))


def test_researcher_request_rejected_then_approved_with_expiry(world, party, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a, alice = party.a, party.alice
    r = Researcher(world.ledger, world.sender("researcher"), Workspace.local(tmp_path / "research"),
                   world.enc["researcher"])
    pub = a.publish(alice.patient, b"hr 61", Category.VITALS)
    req = r.request_access(alice.patient, Category.VITALS.code, Purpose.HRESCH, "study")
    assert [q.request_id for q in alice.pending_requests()] == [req]
    alice.reject_request(req)
    assert alice.pending_requests() == []
    with pytest.raises(AccessNotAuthorized):
        r.access(pub.record_id, Purpose.HRESCH)
    req2 = r.request_access(alice.patient, Category.VITALS.code, Purpose.HRESCH, "study")
    alice.approve_request(req2, world.now() + 3600)
    assert r.access(pub.record_id, Purpose.HRESCH) == b"hr 61"
    world.chain.w3.provider.make_request("evm_increaseTime", [3601])  # type: ignore[arg-type]
    world.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    with pytest.raises(AccessNotAuthorized):
        r.access(pub.record_id, Purpose.HRESCH)


def test_break_glass_opens_etreat_only_and_is_logged(world, party, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a, alice = party.a, party.alice
    er = Provider(world.ledger, world.sender("emergency"), Workspace.local(tmp_path / "er"),
                  world.enc["emergency"])
    pub = a.publish(alice.patient, b"allergy: penicillin", Category.ALLERGY)
    with pytest.raises(MissingRole):
        a.break_glass(alice.patient, "ed", 3600)
    er.break_glass(alice.patient, "unconscious", 3600)
    with pytest.raises(AccessNotAuthorized):
        er.access(pub.record_id, Purpose.TREAT)
    assert er.access(pub.record_id, Purpose.ETREAT) == b"allergy: penicillin"
    from careledger.audit import AuditLog

    log = AuditLog(world.ledger)
    hist = log.history(alice.patient)
    assert [e.kind for e in hist] == ["break-glass opened", "access"]
    assert hist[-1].via_break_glass and hist[-1].accessor == world.addr("emergency")
    assert log.verify(alice.patient).ok
    assert log.break_glass_events(alice.patient)[0].institution == world.addr("emergency")


def test_suspended_institution_can_neither_publish_nor_access(world, party, tmp_path) -> None:  # type: ignore[no-untyped-def]
    a, alice = party.a, party.alice
    s = Provider(world.ledger, world.sender("suspended"), Workspace.local(tmp_path / "s"),
                 world.enc["suspended"])
    with pytest.raises(NotActiveInstitution):
        s.publish(alice.patient, b"x", Category.LAB)
    pub = a.publish(alice.patient, b"y", Category.LAB)
    alice.grant(world.addr("suspended"), SCOPE_ALL, [Purpose.TREAT], world.now() + DAY)
    assert not world.ledger.consent.is_authorized(alice.patient, world.addr("suspended"), SCOPE_ALL, 0)
    with pytest.raises((AccessNotAuthorized, NotActiveInstitution)):
        s.access(pub.record_id, Purpose.TREAT)


def test_guardian_acts_for_patient_until_removed(world) -> None:  # type: ignore[no-untyped-def]
    ws, _a, _, alice = _actors(world)
    alice.set_guardian(world.addr("guardian"), world.now() + DAY)
    g = Patient(world.ledger, world.sender("guardian"), ws, world.enc["guardian"], acting_for=alice.patient)
    g.grant(world.addr("hospital_b"), SCOPE_ALL, [Purpose.TREAT], world.now() + DAY)
    assert world.ledger.consent.is_authorized(alice.patient, world.addr("hospital_b"), SCOPE_ALL, 0)
    alice.remove_guardian(world.addr("guardian"))
    from careledger.errors import NotPatientOrGuardian

    with pytest.raises(NotPatientOrGuardian):
        g.revoke(world.addr("hospital_b"), SCOPE_ALL)


CANARIES = ["CANARY-Zyxwv-Jane-Doe-1970-01-01", "MRN-CANARY-99887766", "CANARY diagnosis: rare-xyz"]


def test_no_canary_or_its_hash_reaches_any_calldata_log_or_storage(world, party) -> None:  # type: ignore[no-untyped-def]
    a, b, alice = party.a, party.b, party.alice
    start = world.chain.w3.eth.block_number
    pubs = [a.publish(alice.patient, json.dumps({"name": c, "note": c}).encode(), Category.NOTE)
            for c in CANARIES]
    a.publish_batch([(alice.patient, c.encode()) for c in CANARIES], Category.NOTE)
    alice.grant(world.addr("hospital_b"), SCOPE_ALL, [Purpose.TREAT], world.now() + DAY)
    for p in pubs:
        b.access(p.record_id, Purpose.TREAT)
    needles: list[bytes] = []
    for c in CANARIES:
        raw = c.encode()
        import hashlib

        needles += [raw, raw.hex().encode(), keccak(raw), hashlib.sha256(raw).digest()]
        needles += [keccak(raw).hex().encode(), hashlib.sha256(raw).hexdigest().encode()]
    w3 = world.chain.w3
    haystack = bytearray()
    for n in range(start, w3.eth.block_number + 1):
        block = w3.eth.get_block(n, full_transactions=True)
        for tx in block["transactions"]:
            haystack += bytes(tx["input"])
            for lg in w3.eth.get_transaction_receipt(tx["hash"])["logs"]:
                haystack += bytes(lg["data"]) + b"".join(bytes(t) for t in lg["topics"])
    dump = w3.provider.make_request("anvil_dumpState", [])["result"]  # type: ignore[arg-type]
    state = gzip.decompress(bytes.fromhex(dump[2:])).decode()
    state_lower = state.lower()
    for needle in needles:
        assert needle not in haystack
        assert needle.hex() not in state_lower
    for c in CANARIES:
        assert c not in state
    assert len(haystack) > 1000  # the scan saw real traffic


def test_a_batch_crashed_between_its_packs_and_its_group_commit_is_resumed(  # type: ignore[no-untyped-def]
        world, party, monkeypatch) -> None:
    """A crash after a batch's packs and index segment are written but before its group
    commit: nothing is anchored; a rerun under the same batch id reuses the complete members
    (same root). If a pack was lost too, or its data never reached the disk (a power cut), the
    rerun discards what the first attempt wrote and seals every member again: one blob and two
    keys each, nothing stale."""
    from concurrent.futures import ProcessPoolExecutor

    from careledger.contracts import new_batch_id
    from careledger.store.atomic import GroupCommit
    from careledger.store.blobs import _cid_text

    ws, a, alice = party.ws, party.a, party.alice
    items = [(alice.patient, f"crashed {i}".encode()) for i in range(40)]

    def crash(self: GroupCommit) -> int:
        raise KeyboardInterrupt

    for damage in ("none", "a key pack lost", "blobs never written"):
        batch = new_batch_id(a.address)
        with monkeypatch.context() as m, ProcessPoolExecutor(2) as pool:
            m.setattr(GroupCommit, "commit", crash)
            with pytest.raises(KeyboardInterrupt):
                a.publish_batch(items, Category.VITALS, batch_id=batch, executor=pool)
        assert not world.ledger.records.batch(batch).anchored
        first = {p.record_id: p.cid for p in ws.index.all() if p.id_bytes[:28] == batch}
        assert len(first) == 40
        if damage == "a key pack lost":
            next((ws.keys.directory / "packs" / batch.hex()).iterdir()).unlink()
        elif damage == "blobs never written":  # sizes and index there, the data zeroed
            pack = next((ws.blobs.directory / "packs" / batch.hex()).iterdir())
            data = pack.read_bytes()
            pack.write_bytes(data[:8] + bytes(200) + data[208:])
        root, ptrs, receipt = a.publish_batch(items, Category.VITALS, batch_id=batch)
        assert receipt is not None and world.ledger.records.batch(batch).root == root
        assert ({p.record_id: p.cid for p in ptrs} == first) is (damage == "none")
        for i, p in enumerate(ptrs):
            assert alice.read(p.record_id) == f"crashed {i}".encode()
            assert len(ws.keys.list(p.id_bytes)) == 2
        packed = [k for _, k in ws.keys.packs.entries(batch.hex())]
        assert len(packed) == len(set(packed)) == 80  # no stale copy of a member's key
        blobs = [_cid_text(d) for _, d in ws.blobs.packs.entries(batch.hex())]
        assert sorted(blobs) == sorted(p.cid for p in ptrs)
    erased = ptrs[7]
    wrapped = [ws.keys.get(erased.id_bytes, 1, k).to_bytes() for _, k in ws.keys.list(erased.id_bytes)]
    assert alice.erase(erased.record_id) == 2  # at the issuer's node: packed keys shredded
    with pytest.raises(WrappedKeyNotFound):
        alice.read(erased.record_id)
    packs = [f.read_bytes() for f in (ws.keys.directory / "packs").rglob("*.pack")]
    assert not any(w in pack for w in wrapped for pack in packs)
    assert alice.read(ptrs[8].record_id) == b"crashed 8"


def test_batches_finished_together_share_one_group_commit(world, party, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``finish_batches``: the files of three batches (one of them filled member by member,
    sealed in a pool as it filled) made durable in one group commit before any anchor is sent;
    each anchored with its own root; a failing anchor still leaves the batches before it
    recorded as anchored."""
    from concurrent.futures import ProcessPoolExecutor

    from careledger.actors.provider import finish_batches
    from careledger.store.atomic import GroupCommit

    a, alice = party.a, party.alice
    events: list[str] = []
    commit = GroupCommit.commit

    def traced(self: GroupCommit) -> int:
        events.append("commit")
        return commit(self)

    monkeypatch.setattr(GroupCommit, "commit", traced)
    sent = a.sender.send

    def send(*args, **kwargs):  # type: ignore[no-untyped-def]
        events.append("anchor")
        return sent(*args, **kwargs)

    monkeypatch.setattr(a.sender, "send", send)
    with ProcessPoolExecutor(2) as pool:
        streamed = a.open_batch(Category.LAB, pool, chunk=4)
        for i in range(10):
            streamed.add(alice.patient, f"lab {i}".encode())
        flights = [a.begin_batch([(alice.patient, f"vitals {i}".encode()) for i in range(3)],
                                 Category.VITALS),
                   streamed,
                   a.begin_batch([(alice.patient, b"note")], Category.NOTE)]
        results = finish_batches(flights)
    assert events == ["commit", "anchor", "anchor", "anchor", "commit"]
    for flight, (root, members, receipt) in zip(flights, results, strict=True):
        assert receipt is not None and world.ledger.records.batch(flight.batch_id).root == root
        assert {p.status for p in a.ws.index.all() if p.id_bytes[:28] == flight.batch_id} == {
            "anchored"}
    assert alice.read(results[1][1][9].record_id) == b"lab 9"
    from careledger.errors import TransactionTimeout

    wait, waited = a.sender.wait, []

    def failing(tx, **kwargs):  # type: ignore[no-untyped-def]
        waited.append(tx)
        if len(waited) == 2:
            raise TransactionTimeout("the chain did not answer in time")
        return wait(tx, **kwargs)

    monkeypatch.setattr(a.sender, "wait", failing)
    again = [a.begin_batch([(alice.patient, b"x")], Category.NOTE),
             a.begin_batch([(alice.patient, b"y")], Category.NOTE)]
    with pytest.raises(TransactionTimeout):
        finish_batches(again)
    assert a.ws.index.batch_anchored(again[0].batch_id) is not None
    assert a.ws.index.batch_anchored(again[1].batch_id) is None
    monkeypatch.setattr(a.sender, "wait", wait)
    a.reconcile()  # it was mined: recorded now, never anchored twice
    assert a.ws.index.batch_anchored(again[1].batch_id) is not None
