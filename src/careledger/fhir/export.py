"""Export a patient's consents and access history as FHIR R4B.

* ``Consent`` (R4B, or R5 with ``version="R5"``): one per (grantee, scope) the patient ever granted, from ``ConsentGranted`` events
  and the grant's current state on chain: ``active`` while ``isAuthorized`` holds for a purpose,
  else ``inactive`` (revoked, expired, or voided by the grantee's suspension). The permit names
  the grantee (``IRCP``), the scope (a LOINC document type for a category, the record id for
  one record, nothing for ALL), and one nested provision per purpose (v3-ActReason) with its own
  end date: CareLedger grants carry an expiry per purpose.
* ``AuditEvent``: one per entry of the patient's on-chain hash chain (an access, a break-glass
  window opened or closed): the institution as agent, the record as entity, the purpose
  (v3-ActReason; ``BTG`` added for entries under break-glass), and the entry's sequence number,
  chain head, transaction and block in an extension, so an auditor can check each one on chain.

Parties are identified by their account (``urn:careledger:eip155:<chainId>:account``), records
by their id (``urn:careledger:record``); no health data is in either. Every resource is validated
with ``fhir.resources`` (R4B models) before it is returned.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eth_utils.crypto import keccak

from careledger.audit import AuditLog
from careledger.codes import CATEGORY_BY_CODE, SCOPE_ALL, Purpose
from careledger.contracts import CareLedger
from careledger.errors import InvalidInput
from careledger.validate import address

RECORD_SYSTEM = "urn:careledger:record"
ACCOUNT_SYSTEM = "urn:careledger:eip155:{chain_id}:account"
HASH_CHAIN_EXTENSION = "https://careledger.org/fhir/StructureDefinition/hash-chain-entry"
ACT_REASON = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
LOINC = "http://loinc.org"


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _account(ledger: CareLedger, who: str) -> dict[str, Any]:
    return {"identifier": {"system": ACCOUNT_SYSTEM.format(chain_id=ledger.chain.chain_id),
                           "value": address(who)}}


def _fhir_id(*parts: bytes) -> str:
    return keccak(b"".join(parts)).hex()[:64]


VERSIONS = ("R4B", "R5")


def validate_resource(resource: dict[str, Any], version: str = "R4B") -> dict[str, Any]:
    """Validate ``resource`` against its FHIR model (R4B, or R5); return it unchanged.

    Raises:
        InvalidInput: it does not validate (a bug here, never patient input).
    """
    import importlib

    kind = str(resource.get("resourceType"))
    package = "fhir.resources.R4B" if version == "R4B" else "fhir.resources"
    module = importlib.import_module(f"{package}.{kind.lower()}")
    try:
        getattr(module, kind).model_validate(resource)
    except Exception as exc:  # pydantic's ValidationError, or a model's own check
        raise InvalidInput(f"exported {kind} does not validate as FHIR {version}: {exc}") from exc
    return resource


def consents(ledger: CareLedger, patient: str, *, at: int | None = None,
             only: str | None = None, version: str = "R4B") -> list[dict[str, Any]]:
    """Every consent ``patient`` gave (only those to the grantee ``only`` when given), as FHIR
    ``Consent`` resources of ``version`` (``"R4B"`` or ``"R5"``), oldest first."""
    if version not in VERSIONS:
        raise InvalidInput(f"FHIR version {version!r}: use R4B or R5")
    patient = address(patient, "patient")
    registry = ledger.consent
    now = at if at is not None else int(ledger.chain.w3.eth.get_block("latest")["timestamp"])
    latest: dict[tuple[str, bytes], Any] = {}
    filters = {"grantee": address(only, "grantee")} if only else {}
    for lg in registry.logs("ConsentGranted", from_block=ledger.deployment.block, patient=patient,
                            **filters):
        latest[(address(lg["args"]["grantee"]), bytes(lg["args"]["scope"]))] = lg
    out = []
    for (grantee, scope), lg in latest.items():
        grant = registry.grant_of(patient, grantee, scope)
        when = int(ledger.chain.w3.eth.get_block(lg["blockNumber"])["timestamp"])
        nested = []
        live = False
        for purpose in Purpose:
            expiry = grant.expiry(purpose)
            if not expiry:
                continue
            nested.append({"type": "permit", "period": {"end": _iso(expiry)},
                           "purpose": [{"system": ACT_REASON, "code": purpose.name}]})
            live = live or (expiry > now and registry.is_authorized(patient, grantee, scope,
                                                                     purpose))
        provision: dict[str, Any] = {
            "type": "permit",
            "actor": [{"role": {"coding": [{"system": PARTICIPATION, "code": "IRCP",
                                            "display": "information recipient"}]},
                       "reference": _account(ledger, grantee)}]}
        if scope != SCOPE_ALL:
            category = CATEGORY_BY_CODE.get(scope)
            if category is not None:
                code, display = category.document_type
                provision["code"] = [{"coding": [{"system": LOINC, "code": code,
                                                  "display": display}]}]
            else:
                provision["data"] = [{"meaning": "instance", "reference": {"identifier": {
                    "system": RECORD_SYSTEM, "value": "0x" + scope.hex()}}}]
        if nested:
            provision["provision"] = nested
        if version == "R5":
            out.append(_consent_r5(ledger, patient, grantee, scope, provision, live, when))
            continue
        out.append(validate_resource({
            "resourceType": "Consent",
            "id": _fhir_id(bytes.fromhex(patient[2:]), bytes.fromhex(grantee[2:]), scope),
            "status": "active" if live else "inactive",
            "scope": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/consentscope",
                                  "code": "patient-privacy"}]},
            "category": [{"coding": [{"system": LOINC, "code": "59284-0",
                                      "display": "Patient Consent"}]}],
            "patient": _account(ledger, patient),
            "dateTime": _iso(when),
            "policyRule": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                       "code": "OPTIN"}]},
            "provision": provision,
        }))
    return out


def _consent_r5(ledger: CareLedger, patient: str, grantee: str, scope: bytes,
                provision: dict[str, Any], live: bool, when: int) -> dict[str, Any]:
    """The R5 form of one consent: ``decision`` at the root, ``grantor`` / ``grantee``, the
    scope as ``documentType`` (a category) or ``data`` (one record), and one nested provision
    per purpose with its own period (R5 provisions carry no ``type``)."""
    top: dict[str, Any] = {"actor": provision["actor"]}
    if "code" in provision:
        top["documentType"] = provision["code"][0]["coding"]
    if "data" in provision:
        top["data"] = provision["data"]
    nested = [{"period": p["period"], "purpose": p["purpose"]}
              for p in provision.get("provision", [])]
    if nested:
        top["provision"] = nested
    return validate_resource({
        "resourceType": "Consent",
        "id": _fhir_id(bytes.fromhex(patient[2:]), bytes.fromhex(grantee[2:]), scope),
        "status": "active" if live else "inactive",
        "category": [{"coding": [{"system": LOINC, "code": "59284-0",
                                  "display": "Patient Consent"}]}],
        "subject": _account(ledger, patient),
        "date": _iso(when)[:10],
        "grantor": [_account(ledger, patient)],
        "grantee": [_account(ledger, grantee)],
        "decision": "permit",
        "regulatoryBasis": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]}],
        "provision": [top],
    }, "R5")


def audit_events(ledger: CareLedger, patient: str, *,
                 accessor: str | None = None) -> list[dict[str, Any]]:
    """Every entry of ``patient``'s on-chain hash chain (only ``accessor``'s when given), as FHIR
    R4B ``AuditEvent`` resources."""
    patient = address(patient, "patient")
    only = address(accessor, "accessor") if accessor else None
    log = AuditLog(ledger)
    registry = _account(ledger, ledger.consent.address)
    out = []
    for e in log.history(patient):
        if only is not None and address(e.accessor) != only:
            continue
        purposes = [{"system": ACT_REASON, "code": e.purpose}]
        if e.via_break_glass:
            purposes.append({"system": ACT_REASON, "code": "BTG", "display": "break the glass"})
        entities: list[dict[str, Any]] = [{
            "what": _account(ledger, patient),
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                     "code": "1", "display": "Person"}}]
        if e.record_id:
            entities.append({
                "what": {"identifier": {"system": RECORD_SYSTEM, "value": e.record_id}},
                "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                         "code": "2", "display": "System Object"},
                "description": f"category {e.category}"})
        out.append(validate_resource({
            "resourceType": "AuditEvent",
            "id": _fhir_id(bytes.fromhex(patient[2:]), e.seq.to_bytes(8, "big")),
            "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110",
                     "display": "Patient Record"},
            "subtype": [{"system": "urn:careledger:hash-chain-entry", "code": e.kind}],
            "action": "R" if e.kind == "access" else "E",
            "recorded": _iso(e.timestamp),
            "outcome": "0",
            "purposeOfEvent": [{"coding": purposes}],
            "agent": [{"type": {"coding": [{"system": PARTICIPATION, "code": "IRCP"}]},
                       "who": _account(ledger, e.accessor), "requestor": True}],
            "source": {"observer": registry,
                       "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                                 "code": "4", "display": "Application Server"}]},
            "entity": entities,
            "extension": [{"url": HASH_CHAIN_EXTENSION, "extension": [
                {"url": "seq", "valueUnsignedInt": e.seq},
                {"url": "head", "valueString": e.head},
                {"url": "transaction", "valueString": e.tx_hash},
                {"url": "block", "valueUnsignedInt": e.block}]}],
        }))
    return out


def bundle(resources: list[dict[str, Any]]) -> dict[str, Any]:
    """A FHIR R4B ``collection`` Bundle of ``resources`` (validated)."""
    return validate_resource({
        "resourceType": "Bundle", "type": "collection",
        "timestamp": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "entry": [{"fullUrl": f"urn:uuid:{_uuid(r['id'])}", "resource": r} for r in resources]})


def _uuid(hex_id: str) -> str:
    h = (hex_id + "0" * 32)[:32]
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


#: HL7 v2 table 0074 (diagnostic service section) for each CareLedger category.
DIAGNOSTIC_SECTION = {"LAB": "LAB", "IMAGING": "RAD", "DISCHARGE": "PHY", "MEDICATION": "PHR",
                      "VITALS": "NRS", "NOTE": "PHY", "ALLERGY": "IMM"}
CID_SYSTEM = "urn:careledger:cid"
COMMITMENT_SYSTEM = "urn:careledger:commitment"
ANCHOR_EXTENSION = "https://careledger.org/fhir/StructureDefinition/anchor"


def _anchor_time(ledger: CareLedger, pointer: Any,
                 cache: dict[bytes, tuple[int, str | None]] | None = None) -> tuple[int, str | None]:
    """Block time and transaction of a record's anchor: a batch member's are its batch's
    (``anchoredAt`` and the ``BatchAnchored`` event), looked up once per batch with ``cache``."""
    from careledger.contracts.records import is_batch_member

    rid = pointer.id_bytes
    key = rid[:28] if is_batch_member(rid) else rid
    if cache is not None and key in cache:
        return cache[key]
    if is_batch_member(rid):
        batch = ledger.records.batch(key)
        logs = ledger.records.logs("BatchAnchored", from_block=ledger.deployment.block, batchId=key)
        found = (batch.anchored_at, logs[0]["transactionHash"].to_0x_hex() if logs else None)
        if cache is not None:
            cache[key] = found
        return found
    tx = pointer.tx_hash
    if tx:
        receipt = ledger.chain.w3.eth.get_transaction_receipt(tx)
        return int(ledger.chain.w3.eth.get_block(receipt["blockNumber"])["timestamp"]), tx
    anchored = ledger.records.anchored(pointer.id_bytes, from_block=ledger.deployment.block)
    block = anchored.block if anchored else ledger.chain.w3.eth.block_number
    return int(ledger.chain.w3.eth.get_block(block)["timestamp"]), None


def document_references(ledger: CareLedger, pointers: list[Any]) -> list[dict[str, Any]]:
    """``DocumentReference`` (R4B) for each record pointer: LOINC document type, v2-0074
    category, the patient and the issuer as accounts, and the CID and the anchored commitment as
    identifiers (not ``Attachment.hash``, which is SHA-1); a version names the one it replaces.
    Pointers come from an issuer's record index or a patient's listing at the nodes."""
    from careledger.codes import Category

    superseded = {p.previous_version for p in pointers}
    out = []
    times: dict[bytes, tuple[int, str | None]] = {}
    for p in pointers:
        category = Category[p.category]
        when, _ = _anchor_time(ledger, p, times)
        resource: dict[str, Any] = {
            "resourceType": "DocumentReference",
            "id": p.record_id[2:],
            "identifier": [{"system": RECORD_SYSTEM, "value": p.record_id},
                           {"system": CID_SYSTEM, "value": p.cid},
                           {"system": COMMITMENT_SYSTEM, "value": p.commitment}],
            "status": "superseded" if p.record_id in superseded else "current",
            "type": {"coding": [{"system": LOINC, "code": category.document_type[0],
                                 "display": category.document_type[1]}]},
            "category": [{"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v2-0074",
                "code": DIAGNOSTIC_SECTION[category.name]}]}],
            "subject": _account(ledger, p.patient),
            "date": _iso(when),
            "custodian": _account(ledger, p.issuer),
            "content": [{"attachment": {"contentType": "application/octet-stream",
                                        "title": f"encrypted record version {p.version}"}}],
        }
        if int(p.previous_version, 16):
            resource["relatesTo"] = [{"code": "replaces", "target": {
                "reference": f"DocumentReference/{p.previous_version[2:]}"}}]
        out.append(validate_resource(resource))
    return out


def provenances(ledger: CareLedger, pointers: list[Any]) -> list[dict[str, Any]]:
    """``Provenance`` (R4B) of each record's publication (CREATE) or amendment (UPDATE, with the
    replaced version as source entity), with the anchoring transaction in an extension."""
    out = []
    times: dict[bytes, tuple[int, str | None]] = {}
    for p in pointers:
        when, tx = _anchor_time(ledger, p, times)
        amended = bool(int(p.previous_version, 16))
        resource: dict[str, Any] = {
            "resourceType": "Provenance",
            "id": _fhir_id(b"provenance", p.id_bytes),
            "target": [{"reference": f"DocumentReference/{p.record_id[2:]}"}],
            "recorded": _iso(when),
            "activity": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
                "code": "UPDATE" if amended else "CREATE"}]},
            "agent": [{"type": {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                "code": "custodian"}]}, "who": _account(ledger, p.issuer)}],
        }
        if amended:
            resource["entity"] = [{"role": "revision", "what": {
                "reference": f"DocumentReference/{p.previous_version[2:]}"}}]
        if tx:
            resource["extension"] = [{"url": ANCHOR_EXTENSION, "valueString": tx}]
        out.append(validate_resource(resource))
    return out
