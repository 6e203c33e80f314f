"""FHIR R4B export of what the chain records: a patient's consents and access history, each
resource validated with fhir.resources, linked to the chain by identifiers and the hash-chain
extension."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from careledger.actors import Institution, Patient, Provider
from careledger.audit import AuditLog
from careledger.cli import main
from careledger.codes import SCOPE_ALL, Category, Purpose
from careledger.fhir import (
    RECORD_SYSTEM,
    audit_events,
    consents,
    document_references,
    provenances,
)
from careledger.fhir.export import COMMITMENT_SYSTEM, HASH_CHAIN_EXTENSION
from careledger.store import Workspace
from conftest import World

DAY = 86400


def test_consents_and_audit_events_of_a_patient(world: World, tmp_path: Path) -> None:
    w = world
    a = Provider(w.ledger, w.sender("hospital_a"), Workspace.local(tmp_path / "a"),
                 w.enc["hospital_a"])  # type: ignore[arg-type]
    er = Institution(w.ledger, w.sender("emergency"), Workspace.local(tmp_path / "a"),
                     w.enc["emergency"])  # type: ignore[arg-type]
    alice = Patient(w.ledger, w.sender("alice"), Workspace.local(tmp_path / "alice"),
                    w.enc["alice"])  # type: ignore[arg-type]
    alice.register_key()
    pub = a.publish(alice.patient, b'{"resourceType": "Observation"}', Category.LAB)
    alice.grant(w.addr("hospital_a"), Category.LAB.code, [Purpose.TREAT, Purpose.HOPERAT],
                w.now() + 30 * DAY)
    alice.grant(w.addr("researcher"), SCOPE_ALL, [Purpose.HRESCH], w.now() + 90 * DAY)
    alice.grant(w.addr("hospital_b"), pub.pointer.id_bytes, [Purpose.TREAT], w.now() + DAY)
    alice.revoke(w.addr("hospital_b"), pub.pointer.id_bytes)
    a.log_access(pub.pointer, Purpose.TREAT)
    er.break_glass(alice.patient, "ED", 3600)
    er.log_access(pub.pointer, Purpose.ETREAT)

    found = {c["provision"]["actor"][0]["reference"]["identifier"]["value"]: c
             for c in consents(w.ledger, alice.patient)}
    assert set(found) == {w.addr("hospital_a"), w.addr("researcher"), w.addr("hospital_b")}
    lab = found[w.addr("hospital_a")]
    assert lab["status"] == "active" and lab["provision"]["code"][0]["coding"][0]["code"] == "11502-2"
    assert [p["purpose"][0]["code"] for p in lab["provision"]["provision"]] == ["TREAT", "HOPERAT"]
    assert "code" not in found[w.addr("researcher")]["provision"]  # ALL: no restriction
    revoked = found[w.addr("hospital_b")]
    assert revoked["status"] == "inactive"
    assert revoked["provision"]["data"][0]["reference"]["identifier"] == {
        "system": RECORD_SYSTEM, "value": pub.record_id}

    events = audit_events(w.ledger, alice.patient)
    history = AuditLog(w.ledger).history(alice.patient)
    assert len(events) == len(history) == 3  # access, break-glass opened, access under it
    for event, entry in zip(events, history, strict=True):
        ext = {x["url"]: next(v for k, v in x.items() if k.startswith("value"))
               for x in event["extension"][0]["extension"]}
        assert event["extension"][0]["url"] == HASH_CHAIN_EXTENSION
        assert (ext["seq"], ext["head"], ext["transaction"]) == (entry.seq, entry.head, entry.tx_hash)
    codes = [[c["code"] for c in e["purposeOfEvent"][0]["coding"]] for e in events]
    assert codes == [["TREAT"], ["ETREAT", "BTG"], ["ETREAT", "BTG"]]
    assert events[0]["entity"][1]["what"]["identifier"]["value"] == pub.record_id
    assert events[2]["agent"][0]["who"]["identifier"]["value"] == w.addr("emergency")
    head, _ = w.ledger.consent.audit_head(alice.patient)
    assert events[-1]["extension"][0]["extension"][1]["valueString"] == "0x" + head.hex()

    # the CLI: one validated collection Bundle, written 0600
    w.ledger.deployment.save(tmp_path / "deployments")
    out = tmp_path / "alice-fhir.json"
    r = CliRunner().invoke(main, ["--deployments", str(tmp_path / "deployments"), "fhir", "export",
                                  alice.patient, "--out", str(out)],
                           env={"CARELEDGER_RPC_URL": w.node.rpc_url})
    assert r.exit_code == 0 and "3 Consent, 3 AuditEvent, 0 DocumentReference" in r.output, r.output
    bundle = json.loads(out.read_text())
    assert bundle["type"] == "collection" and len(bundle["entry"]) == 6
    assert out.stat().st_mode & 0o777 == 0o600
    from fhir.resources.R4B.bundle import Bundle

    Bundle.model_validate(bundle)  # the whole bundle, resources included

    # the issuer's records of Alice: DocumentReference and Provenance, versions linked
    amended = a.amend(pub.record_id, b'{"resourceType": "Observation", "status": "amended"}')
    docs = {d["id"]: d for d in document_references(w.ledger, a.ws.index.for_patient(alice.patient))}
    assert docs[pub.record_id[2:]]["status"] == "superseded"
    new = docs[amended.record_id[2:]]
    assert new["status"] == "current" and new["relatesTo"][0]["target"]["reference"] == \
        f"DocumentReference/{pub.record_id[2:]}"
    assert {i["system"]: i["value"] for i in new["identifier"]}[COMMITMENT_SYSTEM] == \
        amended.pointer.commitment
    assert new["category"][0]["coding"][0]["code"] == "LAB" and new["type"]["coding"][0]["code"] == "11502-2"
    provs = provenances(w.ledger, a.ws.index.for_patient(alice.patient))
    acts = sorted(p["activity"]["coding"][0]["code"] for p in provs)
    assert acts == ["CREATE", "UPDATE"] and all(p["extension"][0]["valueString"] for p in provs)
    r = CliRunner().invoke(main, ["--deployments", str(tmp_path / "deployments"), "--workspace",
                                  str(tmp_path / "a"), "fhir", "export", alice.patient, "--what",
                                  "records", "--out", str(tmp_path / "records.json")],
                           env={"CARELEDGER_RPC_URL": w.node.rpc_url})
    assert r.exit_code == 0 and "2 DocumentReference, 2 Provenance" in r.output, r.output
    # MEDICATION and VITALS keep their on-chain codes (LOINC sections) but export as the LOINC
    # document types a DocumentReference.type takes
    for category, doc_type in ((Category.MEDICATION, "56445-0"), (Category.VITALS, "34109-9")):
        rec = a.publish(alice.patient, b'{"resourceType": "Observation"}', category)
        (doc,) = document_references(w.ledger, [rec.pointer])
        assert doc["type"]["coding"][0]["code"] == doc_type and category.value != doc_type


def test_a_resource_that_does_not_validate_is_refused() -> None:
    import pytest

    from careledger.errors import InvalidInput
    from careledger.fhir import validate_resource

    with pytest.raises(InvalidInput, match="does not validate as FHIR R4B"):
        validate_resource({"resourceType": "AuditEvent", "recorded": "2026-01-01T00:00:00Z"})
