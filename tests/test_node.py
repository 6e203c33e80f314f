"""Separate parties on separate directories, meeting only on the chain and over HTTP.

Each hospital runs its node as a real ``careledger node serve`` process on a loopback port,
over its own workspace directory; the patient and the reading hospital act from directories of
their own. No directory is shared between parties.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from careledger.codes import SCOPE_ALL, Category, Purpose
from careledger.consent import ConsentSigner
from careledger.errors import (
    AccessEntryMissing,
    AccessNotAuthorized,
    AlreadyReleased,
    NodeUnavailable,
    RequestReplayed,
    SignatureExpired,
    SignatureMismatch,
    WrappedKeyNotFound,
)
from careledger.node import KeyRequest, NodeClient, node_domain
from careledger.node.messages import sign_request
from conftest import World
from nodes import Parties, parties

DAY = 86400


@pytest.fixture
def story(world: World, tmp_path: Path) -> Iterator[Parties]:
    with parties(world, tmp_path) as p:
        yield p


def test_a_second_hospital_reads_through_the_issuers_node_after_an_on_chain_entry(story: Parties) -> None:
    w, a, b, alice = story.world, story.a, story.b, story.alice
    body = b'{"resourceType":"Observation","code":"2345-7","valueQuantity":5.4}'
    pub = a.publish(alice.patient, body, Category.LAB)
    with pytest.raises(AccessNotAuthorized):  # no consent: refused before anything is logged
        b.access(pub.record_id, Purpose.TREAT)
    alice.grant(b.address, Category.LAB.code, [Purpose.TREAT], w.now() + DAY)
    assert b.access(pub.record_id, Purpose.TREAT) == body  # found from the id alone
    assert not b.ws.index.all() and not any(b.ws.keys.directory.rglob("*.key"))
    head, count = w.ledger.consent.audit_head(alice.patient)
    releases = story.node.releases()
    assert count == 1 and len(releases) == 1  # one entry on chain, one key released
    # the patient reads its own record through the node (not a disclosure: no entry)
    assert alice.read(pub.record_id) == body
    assert w.ledger.consent.audit_head(alice.patient)[1] == 1
    # revocation: the next access is refused, and a key request naming the old entry too
    alice.revoke(b.address, Category.LAB.code)
    with pytest.raises(AccessNotAuthorized):
        b.access(pub.record_id, Purpose.TREAT)
    assert len(story.node.releases()) == 1
    del head


def _request(story: Parties, record_id: bytes, access_tx: bytes, *, signer: str = "hospital_b",
             deadline: int | None = None, chain_id: int | None = None) -> tuple[KeyRequest, bytes]:
    from eth_account import Account

    w = story.world
    account = Account.from_key(w.keys[signer])
    request = KeyRequest(record_id=record_id, version=1, purpose=int(Purpose.TREAT),
                         access_tx=access_tx, requester=w.addr("hospital_b"),
                         nonce=secrets.token_bytes(32),
                         deadline=deadline if deadline is not None else int(time.time()) + 60)
    domain = node_domain(chain_id or w.chain.chain_id, w.addr("hospital_a"))
    return request, sign_request(request, domain, account)


def test_no_key_leaves_the_node_without_a_matching_on_chain_entry(story: Parties) -> None:
    w, a, b, alice = story.world, story.a, story.b, story.alice
    pub = a.publish(alice.patient, b"lab one", Category.LAB)
    other = a.publish(alice.patient, b"lab two", Category.LAB)
    alice.grant(b.address, SCOPE_ALL, [Purpose.TREAT], w.now() + DAY)
    rid = bytes.fromhex(pub.record_id[2:])
    client = NodeClient(story.node.url)
    # a transaction that is not an access entry (the grant itself)
    grant_tx = alice.grant(b.address, Category.LAB.code, [Purpose.TREAT], w.now() + DAY)
    with pytest.raises(AccessEntryMissing):
        client.release_key(*_request(story, rid, bytes(grant_tx["transactionHash"])))
    # an access entry for another record
    other_ptr = a.ws.index.get(other.record_id)
    assert b.sender is not None
    entry = w.ledger.consent.record_access(alice.patient, other_ptr.id_bytes,
                                           other_ptr.category_code, other_ptr.commitment_bytes,
                                           Purpose.TREAT).transact(b.sender)
    with pytest.raises(AccessEntryMissing):
        client.release_key(*_request(story, rid, bytes(entry["transactionHash"])))
    # the right entry, but signed by someone else, expired, or for another chain
    ptr = a.ws.index.get(pub.record_id)
    good = w.ledger.consent.record_access(alice.patient, ptr.id_bytes, ptr.category_code,
                                          ptr.commitment_bytes, Purpose.TREAT).transact(b.sender)
    tx = bytes(good["transactionHash"])
    with pytest.raises(SignatureMismatch):
        client.release_key(*_request(story, rid, tx, signer="attacker"))
    with pytest.raises(SignatureMismatch):
        client.release_key(*_request(story, rid, tx, chain_id=1))
    with pytest.raises(SignatureExpired):
        client.release_key(*_request(story, rid, tx, deadline=int(time.time()) - 1))
    request, signature = _request(story, rid, tx)
    _, wrapped = client.release_key(request, signature)  # released exactly once
    assert wrapped.recipient == w.enc["hospital_b"].public_bytes  # type: ignore[attr-defined]
    with pytest.raises(RequestReplayed):
        client.release_key(request, signature)
    with pytest.raises(AlreadyReleased):  # one entry pays for one key
        client.release_key(*_request(story, rid, tx))
    assert len(story.node.releases()) == 1


def test_the_patient_lists_and_erases_through_the_node(story: Parties) -> None:
    w, a, b, alice = story.world, story.a, story.b, story.alice
    single = a.publish(alice.patient, b"discharge v1", Category.DISCHARGE)
    amended = a.amend(single.record_id, b"discharge v2")
    _, members, _ = a.publish_batch([(alice.patient, b"hr 60"), (alice.patient, b"hr 61")],
                                    Category.VITALS)
    listed = {p.record_id for p in alice.records_at(story.node.url)}
    assert listed == {single.record_id, amended.record_id, *(m.record_id for m in members)}
    assert alice.read(members[1].record_id) == b"hr 61"  # a batch member, proof checked
    answer = alice.erase_at_node(single.record_id)
    assert set(answer["erased"]) == {single.record_id, amended.record_id}  # type: ignore[arg-type]
    logs = w.ledger.records.logs("RecordErased", from_block=w.ledger.deployment.block)
    assert {"0x" + bytes(lg["args"]["recordId"]).hex() for lg in logs} == {single.record_id}
    with pytest.raises(WrappedKeyNotFound):
        alice.read(amended.record_id)
    alice.grant(b.address, SCOPE_ALL, [Purpose.TREAT], w.now() + DAY)
    with pytest.raises(WrappedKeyNotFound):  # nobody obtains an erased record's key
        b.access(amended.record_id, Purpose.TREAT)


def test_relaying_bad_input_and_a_node_that_is_down(story: Parties) -> None:
    w, alice = story.world, story.alice
    url = story.node.url
    signer = ConsentSigner(w.ledger.consent)
    from eth_account import Account

    signed = signer.grant(Account.from_key(w.keys["alice"]), w.addr("hospital_b"), SCOPE_ALL,
                          [Purpose.HRESCH], w.now() + DAY)
    result = NodeClient(url).relay(signed)
    assert result["appliedByUs"] is True
    assert w.ledger.consent.is_authorized(alice.patient, w.addr("hospital_b"), SCOPE_ALL, Purpose.HRESCH)
    for method, path, kwargs, status in [
        ("GET", "/blobs/not-a-cid", {}, 400),
        ("GET", "/records/0x1234", {}, 400),
        ("GET", "/records/0x" + "ab" * 32, {}, 404),
        ("POST", "/keys/release", {"json": {"message": {}, "signature": "0x00"}}, 400),
        ("POST", "/keys/release", {"content": b"{", "headers": {"content-type": "application/json"}}, 422),
        ("POST", "/relay", {"content": b"x" * (70 * 1024)}, 413),
    ]:
        r = httpx.request(method, url + path, timeout=10, **kwargs)
        assert r.status_code == status, (path, r.status_code, r.text)
        assert set(r.json()) == {"error", "detail"}
    assert httpx.get(url + "/openapi.json", timeout=10).json()["info"]["title"] == "CareLedger node"
    story.node.stop()
    with pytest.raises(NodeUnavailable):
        NodeClient(url, retries=0).identity()


def test_a_lost_record_index_is_rebuilt_from_blobs_keys_and_the_chain(story: Parties) -> None:
    import shutil

    from careledger.actors.reindex import rebuild_index

    w, a, alice = story.world, story.a, story.alice
    v1 = a.publish(alice.patient, b"note v1", Category.NOTE)
    v2 = a.amend(v1.record_id, b"note v2")
    _, members, _ = a.publish_batch([(alice.patient, f"reading {i}".encode()) for i in range(5)],
                                    Category.VITALS)
    before = {p.record_id: p for p in a.ws.index.all()}
    shutil.rmtree(a.ws.index.root)  # the disk with the index is gone
    a.ws.index.root.mkdir()
    report = rebuild_index(w.ledger, a.ws, w.enc["hospital_a"], a.address)  # type: ignore[arg-type]
    assert report.problems == [] and report.singles == 2 and report.batch_members == 5
    after = {p.record_id: p for p in a.ws.index.all()}
    assert set(after) == set(before)
    for rid, p in before.items():
        q = after[rid]
        assert (q.patient, q.category, q.cid, q.commitment, q.version, q.previous_version,
                q.batch_root, q.proof) == (p.patient, p.category, p.cid, p.commitment, p.version,
                                           p.previous_version, p.batch_root, p.proof)
    assert alice.read(members[3].record_id) == b"reading 3"  # the node serves the rebuilt index
    assert alice.read(v2.record_id) == b"note v2"


def test_a_node_that_wants_deeper_entries_is_waited_for_with_fresh_requests(world: World,
                                                                           tmp_path: Path) -> None:
    """A node releasing at 3 confirmations answers "not yet" first; the reader asks again with
    a new signed request each time (resending the same one would be refused as a replay), and
    a key file that is not the one registered on chain is refused before anything is logged."""
    import threading

    from careledger.crypto import EncryptionKeyPair
    from careledger.errors import KeyUnwrapFailed

    with parties(world, tmp_path, node_args=("--access-confirmations", "3")) as story:
        a, b, alice = story.a, story.b, story.alice
        pub = a.publish(alice.patient, b"deep enough", Category.LAB)
        alice.grant(b.address, SCOPE_ALL, [Purpose.TREAT], world.now() + DAY)
        stranger_key = type(b)(world.ledger, b.sender, b.ws, EncryptionKeyPair.generate())
        with pytest.raises(KeyUnwrapFailed, match="nothing was logged"):
            stranger_key.access(pub.record_id)
        assert world.ledger.consent.audit_head(alice.patient)[1] == 0
        stop = threading.Event()

        def mine() -> None:  # blocks arrive while the reader waits
            while not stop.wait(0.7):
                world.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]

        miner = threading.Thread(target=mine)
        miner.start()
        try:
            assert b.access(pub.record_id) == b"deep enough"
        finally:
            stop.set()
            miner.join()
        assert world.ledger.consent.audit_head(alice.patient)[1] == 1


def test_a_study_batch_releases_each_entry_once_and_nothing_after_a_reorganisation(
        story: Parties) -> None:
    """One key per entry of a study batch (per transaction and record), and a kept receipt is
    not trusted once the chain no longer holds its block."""
    from careledger.actors import Institution
    from careledger.contracts import StudyAccessItem, batch_proofs, study_scope
    from careledger.errors import AccessNotConfirmed, AlreadyReleased
    from careledger.store import Workspace

    w, ledger = story.world, story.world.ledger
    alice = story.alice.patient
    _, members, _ = story.a.publish_batch([(alice, b"study record 1"), (alice, b"study record 2"),
                                           (alice, b"study record 3")], Category.LAB)
    lab = Institution(ledger, w.sender("researcher"), Workspace.local(w.workdir / "lab"),
                      w.enc["researcher"])  # type: ignore[arg-type]
    study = ledger.consent.study_id_from(lab.transact(ledger.consent.register_study(b"\x05" * 32)))
    story.alice.grant(lab.address, study_scope(study), [Purpose.HRESCH], w.now() + 3600)
    rpc = w.chain.w3.provider
    snapshot = rpc.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    items = [StudyAccessItem.of(m) for m in members]
    proofs = batch_proofs(items, {members[0].id_bytes[:28]: 3})
    assert len(proofs) == 1 and proofs[0].order == (0, 1, 2)  # one multiproof of the batch
    tx = bytes(lab.transact(ledger.consent.record_study_access(study, items, proofs))[
        "transactionHash"])
    client = NodeClient(story.node.url)
    domain = node_domain(w.chain.chain_id, story.a.address)

    def ask(index: int) -> object:
        m = members[index]
        request = KeyRequest(record_id=m.id_bytes, version=m.version, purpose=int(Purpose.HRESCH),
                             access_tx=tx, requester=lab.address, nonce=secrets.token_bytes(32),
                             deadline=int(time.time()) + 120)
        return client.release_key(request, sign_request(request, domain, lab.sender.account))

    ask(0)
    ask(1)  # another entry of the same transaction: its own key
    with pytest.raises(AlreadyReleased):
        ask(0)
    # the access transaction is reorganised away: the node's kept receipt no longer counts
    rpc.make_request("evm_revert", [snapshot])  # type: ignore[arg-type]
    rpc.make_request("evm_mine", [])  # type: ignore[arg-type]
    with pytest.raises(AccessNotConfirmed):
        ask(2)
    assert [r[1] for r in story.node.releases()] == [members[0].record_id, members[1].record_id]


def test_a_study_access_releases_its_keys_for_one_signed_request(story: Parties) -> None:
    """``/keys/study``: the keys of many entries of one study access transaction for one signed
    request, all or nothing: the list must be the one signed, each record an entry of the
    requester's study access in that transaction, each patient's study consent holding now;
    each entry releases once; a transaction that is no study access is sent to /keys/release."""
    from careledger.actors import Institution
    from careledger.actors.remote import receive_study_keys
    from careledger.contracts import StudyAccessItem, batch_proofs, study_scope
    from careledger.crypto import decrypt_record
    from careledger.errors import InvalidInput
    from careledger.node.messages import StudyKeysRequest, study_keys_hash
    from careledger.store import Workspace

    w, ledger = story.world, story.world.ledger
    alice = story.alice.patient
    texts = [f"study record {i}".encode() for i in range(5)]
    _, members, _ = story.a.publish_batch([(alice, t) for t in texts], Category.LAB)
    lab = Institution(ledger, w.sender("researcher"), Workspace.local(w.workdir / "lab-keys"),
                      w.enc["researcher"])  # type: ignore[arg-type]
    study = ledger.consent.study_id_from(lab.transact(ledger.consent.register_study(b"\x06" * 32)))
    story.alice.grant(lab.address, study_scope(study), [Purpose.HRESCH], w.now() + 3600)
    items = [StudyAccessItem.of(m) for m in members[:4]]
    tx = bytes(lab.transact(ledger.consent.record_study_access(
        study, items, batch_proofs(items, {members[0].id_bytes[:28]: 5})))["transactionHash"])
    client = NodeClient(story.node.url)
    domain = node_domain(w.chain.chain_id, story.a.address)

    def ask(records: list[tuple[bytes, int]], *, signed: list[tuple[bytes, int]] | None = None,
            access_tx: bytes = tx) -> object:
        request = StudyKeysRequest(access_tx=access_tx, records=study_keys_hash(signed or records),
                                   count=len(records), requester=lab.address,
                                   nonce=secrets.token_bytes(32), deadline=int(time.time()) + 120)
        return client.release_study_keys(request, sign_request(request, domain, lab.sender.account),
                                         records)

    first_two = [(m.id_bytes, 1) for m in members[:2]]
    # another list than the one signed; a record with no entry in the transaction
    with pytest.raises(InvalidInput, match="not the ones the request signs"):
        ask(first_two, signed=[(m.id_bytes, 1) for m in members[1:3]])
    with pytest.raises(AccessEntryMissing):
        ask([(members[0].id_bytes, 1), (members[4].id_bytes, 1)])
    # the two keys, in order, each opening its record (checked against our own pointers)
    keys = receive_study_keys(lab, client, members[:2], tx)
    for m, key, text in zip(members[:2], keys, texts[:2], strict=True):
        assert decrypt_record(story.a.ws.blobs.get(m.cid), key, m.binding) == text
    with pytest.raises(AlreadyReleased):  # each entry once: the whole request refused
        ask([(members[2].id_bytes, 1), (members[1].id_bytes, 1)])
    # the same signed request sent twice: the second is a replay (its nonce is spent)
    third = [(members[2].id_bytes, 1)]
    request = StudyKeysRequest(access_tx=tx, records=study_keys_hash(third), count=1,
                               requester=lab.address, nonce=secrets.token_bytes(32),
                               deadline=int(time.time()) + 120)
    signature = sign_request(request, domain, lab.sender.account)
    assert len(client.release_study_keys(request, signature, third)) == 1
    with pytest.raises(RequestReplayed):
        client.release_study_keys(request, signature, third)
    # consent withdrawn: nothing more is released, though the entries exist
    story.alice.revoke(lab.address, study_scope(study))
    with pytest.raises(AccessNotAuthorized):
        ask([(members[3].id_bytes, 1)])
    # a transaction that is not a study access (an ordinary recordAccess)
    story.alice.grant(story.b.address, SCOPE_ALL, [Purpose.TREAT], w.now() + 3600)
    single = bytes(story.b.log_access(members[4], Purpose.TREAT)["transactionHash"])
    with pytest.raises(AccessEntryMissing, match="not a study access"):
        ask([(members[4].id_bytes, 1)], access_tx=single)
    released = {r[1] for r in story.node.releases() if r[0] == "0x" + tx.hex()}
    assert released == {members[0].record_id, members[1].record_id, members[2].record_id}


def test_the_patient_exports_records_from_the_nodes_without_a_workspace(story: Parties,
                                                                        tmp_path: Path) -> None:
    """``careledger fhir export --from-nodes``: the patient's DocumentReference and Provenance
    come from every provider's node, read with FHIR searches the CLI signs with the patient's
    wallet; no workspace is needed. A stranger's wallet gets nothing from the node (refused, one
    warning line) and the export still holds what the chain says."""
    import json

    from click.testing import CliRunner

    from careledger.cli import main

    w = story.world
    alice = story.alice.patient
    story.a.publish(alice, b"blood count", Category.LAB)
    story.a.publish_batch([(alice, b"hr 61"), (alice, b"hr 64")], Category.VITALS)
    w.ledger.deployment.save(tmp_path / "deployments")
    base = ["--deployments", str(tmp_path / "deployments"), "--workspace", str(tmp_path / "none")]
    env = {"CARELEDGER_RPC_URL": w.node.rpc_url,
           "CARELEDGER_PRIVATE_KEY": w.keys["alice"]}
    r = CliRunner().invoke(main, [*base, "fhir", "export", alice, "--what", "records",
                                  "--from-nodes"], env=env)
    assert r.exit_code == 0, r.output
    kinds = [e["resource"]["resourceType"] for e in json.loads(r.output)["entry"]]
    assert kinds.count("DocumentReference") == 3 and kinds.count("Provenance") == 3
    assert not (tmp_path / "none").exists()
    env["CARELEDGER_PRIVATE_KEY"] = w.keys["stranger"]
    r = CliRunner(mix_stderr=False).invoke(main, [*base, "fhir", "export", alice, "--from-nodes"],
                                           env=env)
    assert r.exit_code == 0, r.output
    assert "gave nothing" in r.stderr and "may not read" in r.stderr
    bundle = json.loads(r.stdout)
    assert not [e for e in bundle["entry"]
                if e["resource"]["resourceType"] in ("DocumentReference", "Provenance")]


def test_a_node_cannot_relay_the_patients_signed_fhir_reads_to_another_node(story: Parties,
                                                                            tmp_path: Path) -> None:
    """``fhir export --from-nodes`` signs each FHIR search for the institution the chain names
    for that endpoint, never for the address the endpoint claims: hospital B publishes a relay
    in front of hospital A's node (its /identity answers A's address) and receives nothing of A's
    records for Alice; A's records still come from A's own node."""
    import json
    from http.server import BaseHTTPRequestHandler


    alice = story.alice.patient
    story.a.publish(alice, b"hiv viral load", Category.LAB)
    target = story.node.url.rstrip("/")
    seen: list[dict[str, object]] = []

    class Relay(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            headers = {k: v for k, v in self.headers.items() if k.lower() == "authorization"}
            r = httpx.get(target + self.path, headers=headers, timeout=30)
            if r.status_code == 200 and "/fhir/" in self.path:
                seen.append(r.json())
            self.send_response(r.status_code)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(r.content)

        def log_message(self, *args: object) -> None:
            pass

    r = _export_with_b_serving(story, tmp_path, Relay)
    assert r.exit_code == 0, r.output
    kinds = [e["resource"]["resourceType"] for e in json.loads(r.stdout)["entry"]]
    assert kinds.count("DocumentReference") == 1  # from A's node, not twice
    assert "gave nothing" in r.stderr
    assert not [b for b in seen if b.get("entry")], "the relay read Alice's records at A's node"


def test_an_export_from_nodes_keeps_only_records_each_node_issued(story: Parties,
                                                                  tmp_path: Path) -> None:
    """``fhir export --from-nodes``: a node that answers with resources of records it did not
    issue (here hospital B's endpoint replays hospital A's DocumentReference and Provenance, and
    one of a record never anchored) has them left out, with one warning line; A's own records
    come from A's node once."""
    import json
    from http.server import BaseHTTPRequestHandler

    from careledger.actors.remote import fhir_read

    alice = story.alice.patient
    story.a.publish(alice, b"ferritin 30", Category.LAB)
    client = NodeClient(story.node.url)
    docs = fhir_read(story.alice, client, alice, "DocumentReference")["entry"]
    provs = fhir_read(story.alice, client, alice, "Provenance")["entry"]
    forged = json.loads(json.dumps(docs[0]))
    b_id = "0x" + bytes.fromhex(story.b.address[2:]).hex() + "00" * 12  # B's, never anchored
    forged["resource"]["identifier"][0]["value"] = b_id
    answers = {"DocumentReference": [*docs, forged], "Provenance": provs}

    class Liar(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            kind = self.path.split("?")[0].rsplit("/", 1)[-1]
            body = json.dumps({"resourceType": "Bundle", "type": "searchset",
                               "total": len(answers.get(kind, [])),
                               "entry": answers.get(kind, [])}).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    r = _export_with_b_serving(story, tmp_path, Liar)
    assert r.exit_code == 0, r.output
    entries = [e["resource"] for e in json.loads(r.stdout)["entry"]]
    assert [e["resourceType"] for e in entries].count("DocumentReference") == len(docs)
    assert [e["resourceType"] for e in entries].count("Provenance") == len(provs)
    assert b_id not in r.stdout
    assert f"{len(docs) + 1 + len(provs)} resource(s) of records it did not issue" in r.stderr


def _export_with_b_serving(story: Parties, tmp_path: Path, handler: type) -> Any:
    """``careledger fhir export ALICE --what records --from-nodes`` as Alice, with hospital B's
    published endpoint served by ``handler`` (an ``http.server`` request handler)."""
    import threading
    from http.server import ThreadingHTTPServer

    from click.testing import CliRunner

    from careledger.cli import main

    w = story.world
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        w.ledger.institutions.set_endpoint(f"http://127.0.0.1:{server.server_address[1]}") \
            .transact(w.sender("hospital_b"))
        w.ledger.deployment.save(tmp_path / "deployments")
        env = {"CARELEDGER_RPC_URL": w.node.rpc_url, "CARELEDGER_PRIVATE_KEY": w.keys["alice"]}
        return CliRunner(mix_stderr=False).invoke(
            main, ["--deployments", str(tmp_path / "deployments"), "--workspace",
                   str(tmp_path / "none"), "fhir", "export", story.alice.patient, "--what",
                   "records", "--from-nodes"], env=env)
    finally:
        server.shutdown()
        server.server_close()


def test_a_packed_blob_is_served_whole_and_by_ranges_as_a_file_is(story: Parties) -> None:
    """A batch member's ciphertext lives in a pack, not a file: the node serves it whole, by one
    Range (206, Content-Range) and by several (206, multipart/byteranges), as Starlette serves a
    file; a range past its end is a 416 with a JSON reason."""
    from email.parser import BytesParser

    _, members, _ = story.a.publish_batch([(story.alice.patient, b"x" * 300)], Category.LAB)
    cid = members[0].cid
    blob = story.a.ws.blobs.get(cid)
    url = f"{story.node.url}/blobs/{cid}"
    assert httpx.get(url).content == blob
    one = httpx.get(url, headers={"range": "bytes=10-19"})
    assert one.status_code == 206 and one.content == blob[10:20]
    assert one.headers["content-range"] == f"bytes 10-19/{len(blob)}"
    many = httpx.get(url, headers={"range": "bytes=0-3,100-109"})
    assert many.status_code == 206
    message = BytesParser().parsebytes(
        b"Content-Type: " + many.headers["content-type"].encode() + b"\r\n\r\n" + many.content)
    parts = message.get_payload()
    assert isinstance(parts, list)
    assert [p.get_payload(decode=True) for p in parts] == [blob[0:4], blob[100:110]]
    assert [p["Content-Range"] for p in parts] == [f"bytes 0-3/{len(blob)}",
                                                   f"bytes 100-109/{len(blob)}"]
    past = httpx.get(url, headers={"range": f"bytes={len(blob) + 5}-"})
    assert past.status_code == 416 and past.json()["error"] == "RangeNotSatisfiable"
