"""Research under consent: a study's dataset, built from the records of the patients who
consented to the study, de-identified, anchored on chain, and credited to its contributors.

``build_dataset(institute, study_id, out)``:

1. **Who**: the patients whose study-bound HRESCH grant to the institute holds now
   (``ConsentGranted`` events on ``study_scope(id)``, confirmed by ``isAuthorized``).
2. **What**: each provider's node lists the patient's records the institute may read (a signed
   FHIR ``DocumentReference`` search; a study consent covers every record); the current version
   of each, with its pointer (``/records/{id}``: commitment, category, Merkle proof).
3. **Log first**: ``recordStudyAccess`` in transactions of at most ``batch`` records, grouped by
   patient; each record is an ``AccessRecorded`` entry in its patient's hash chain. A patient who
   revoked since step 1 makes the contract refuse the batch (``AccessNotAuthorized``): the
   patient is dropped and the batch sent again without them.
4. **Keys**: each issuer node releases the keys of its records of one access transaction for
   one signed ``StudyKeysRequest`` (``/keys/study``: every check of a single release, each chain
   read once per transaction, patient or call), wrapped to the institute's registered key; each
   ciphertext is checked against its commitment.
5. **De-identify** (``careledger.research.deid``: Safe Harbor, per-study HMAC pseudonyms kept by
   the institute only), then **k-anonymity** over the patients' quasi-identifiers, suppressing
   until every kept patient shares them with at least ``k - 1`` others.
6. **Export**: ``bundle.json`` (a FHIR R4B collection Bundle with a ``Provenance`` of the
   de-identification), ``data.csv``, and ``manifest.json`` (files and their SHA-256, counts, the k
   report, the access transactions; no patient address). ``datasetHash`` = keccak256 of the
   canonical JSON of the manifest's ``files``; ``manifestHash`` = keccak256 of ``manifest.json``.
7. **Anchor** both hashes with ``ResearchRegistry.anchorDataset``, which credits each patient
   whose data is in the dataset one point.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak

from careledger.actors.base import Actor
from careledger.codes import Purpose
from careledger.contracts import StudyAccessItem, batch_proofs, study_scope
from careledger.errors import (
    AccessNotAuthorized,
    CommitmentMismatch,
    InvalidInput,
    NodeUnavailable,
)
from careledger.node.messages import MAX_STUDY_KEYS
from careledger.store import RecordPointer
from careledger.store.atomic import write_atomic
from careledger.validate import address

#: Records per recordStudyAccess transaction.
DEFAULT_BATCH = 100
RECORD_SYSTEM = "urn:careledger:record"


@dataclass
class DatasetBuild:
    """What a build did."""

    study_id: int
    out: Path
    consenting: list[str] = field(default_factory=list)
    contributors: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)  # patient -> why (never written out)
    records: int = 0
    access_txs: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    k: int = 0
    k_achieved: int = 0
    suppressed: int = 0
    dataset_hash: bytes = b""
    manifest_hash: bytes = b""
    dataset_id: int | None = None
    anchor_tx: str | None = None


def consenting_patients(actor: Actor, study_id: int) -> list[str]:
    """The patients whose study-bound HRESCH grant to ``actor`` holds now, ascending."""
    consent = actor.ledger.consent
    scope = study_scope(study_id)
    seen = {address(lg["args"]["patient"])
            for lg in consent.logs("ConsentGranted", from_block=actor.ledger.deployment.block,
                                   grantee=actor.address, scope=scope)}
    live = [p for p in seen if consent.is_authorized(p, actor.address, scope, Purpose.HRESCH)]
    return sorted(live, key=lambda a: int(a, 16))


def _records_at(actor: Actor, client: Any, patient: str) -> list[RecordPointer]:
    """The current records of ``patient`` this node holds and lets ``actor`` read, with their
    pointers (proofs included)."""
    from careledger.actors.remote import fhir_read

    bundle = fhir_read(actor, client, patient, "DocumentReference")
    out = []
    for entry in bundle.get("entry", []):
        doc = entry["resource"]
        if doc.get("status") != "current":
            continue
        rid = next(i["value"] for i in doc["identifier"] if i["system"] == RECORD_SYSTEM)
        ptr = client.pointer(bytes.fromhex(rid[2:]))
        if ptr.patient == patient:
            out.append(ptr)
    return out


def _batches(items: list[StudyAccessItem], size: int) -> list[list[StudyAccessItem]]:
    """Transactions of at most ``size`` records: whole patients where they fit, taken in the
    order of their first record id (issuer, batch, leaf), so patients whose records sit together
    in a batch share a transaction and its multiproof's upper nodes; each transaction sorted by
    patient, as the contract requires."""
    by_patient: dict[str, list[StudyAccessItem]] = {}
    for item in items:
        by_patient.setdefault(item.patient, []).append(item)
    out: list[list[StudyAccessItem]] = []
    current: list[StudyAccessItem] = []
    for records in sorted(by_patient.values(), key=lambda rs: min(r.record_id for r in rs)):
        for k in range(0, len(records), size):  # a patient of more records spans transactions
            part = records[k:k + size]
            if current and len(current) + len(part) > size:
                out.append(current)
                current = []
            current += part
    if current:
        out.append(current)
    return [sorted(b, key=lambda i: (int(i.patient, 16), i.record_id)) for b in out]


def _log_accesses(actor: Actor, study_id: int, items: list[StudyAccessItem], size: int,
                  build: DatasetBuild) -> list[tuple[list[StudyAccessItem], bytes]]:
    """``recordStudyAccess`` in batches; a patient whose consent no longer holds is dropped and
    the batch resent without them. Returns (batch, transaction hash) pairs."""
    done = []
    pending = _batches(items, size)
    counts: dict[bytes, int] = {}  # each batch's anchored count (its tree's shape)
    while pending:
        batch = pending.pop(0)
        proofs = batch_proofs(batch, actor.ledger.records.batch_counts(
            (i.record_id for i in batch), counts))
        try:
            receipt = actor.transact(
                actor.ledger.consent.record_study_access(study_id, batch, proofs))
        except AccessNotAuthorized as exc:
            gone = address(str(exc.error_args.get("patient", "")))
            if not any(i.patient == gone for i in batch):
                raise
            build.dropped[gone] = "consent withdrawn before the access"
            rest = [i for i in batch if i.patient != gone]
            if rest:
                pending.insert(0, rest)
            continue
        tx = bytes(receipt["transactionHash"])
        build.access_txs.append("0x" + tx.hex())
        done.append((batch, tx))
    return done


def _read_all(actor: Actor, client: Any, pointers: list[RecordPointer],
              access_tx: bytes) -> list[bytes]:
    """The plaintexts of ``pointers`` (records of one issuer) after their study access entries
    in ``access_tx``: each ciphertext checked against its commitment, then every key in one
    signed request (``/keys/study``)."""
    from careledger.actors.remote import receive_study_keys
    from careledger.crypto import check_commitment, decrypt_record

    blobs = [client.blob(ptr.cid) for ptr in pointers]
    for ptr, blob in zip(pointers, blobs, strict=True):
        check_commitment(blob, ptr.commitment_bytes)  # the contract bound this commitment
    keys = receive_study_keys(actor, client, pointers, access_tx)
    return [bytes(decrypt_record(blob, key, ptr.binding))
            for ptr, blob, key in zip(pointers, blobs, keys, strict=True)]


def _pseudonym_key(actor: Actor, study_id: int) -> bytes:
    """The study's pseudonym key, kept by the institute in its workspace (0600), made once."""
    home = actor.ws.uploads.parent if actor.ws.uploads is not None else actor.ws.index.root.parent
    path = Path(home) / "studies" / str(study_id) / "pseudonym.key"
    if path.exists():
        return bytes.fromhex(path.read_text().strip())
    key = secrets.token_bytes(32)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, key.hex().encode(), mode=0o600)
    return key


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def files_hash(files: dict[str, str]) -> bytes:
    """``datasetHash``: keccak256 of the canonical JSON of a manifest's ``files`` (name ->
    SHA-256)."""
    return bytes(keccak(json.dumps(files, sort_keys=True, separators=(",", ":")).encode()))


def _csv(resources: list[dict[str, Any]], patient_of: dict[str, str]) -> bytes:
    """One row per resource: pseudonymous patient, type, id, first coding, year, value."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["patient", "resource_type", "resource_id", "code_system", "code", "year",
                "value", "unit"])
    for r in resources:
        concept = r.get("code") or r.get("vaccineCode") or r.get("type")
        coding = (concept.get("coding") or [{}])[0] if isinstance(concept, dict) else {}
        year = next((str(r[k])[:4] for k in ("effectiveDateTime", "onsetDateTime", "recordedDate",
                                             "authoredOn", "occurrenceDateTime", "birthDate",
                                             "performedDateTime", "date") if r.get(k)), "")
        quantity = r.get("valueQuantity") or {}
        w.writerow([patient_of.get(r.get("id", ""), ""), r.get("resourceType", ""),
                    r.get("id", ""), coding.get("system", ""), coding.get("code", ""), year,
                    quantity.get("value", ""), quantity.get("unit", "")])
    return buf.getvalue().encode()


def build_dataset(actor: Actor, study_id: int, out: str | os.PathLike[str], *, k: int = 5,
                  batch: int = DEFAULT_BATCH, anchor: bool = True,
                  progress: Callable[[str], None] | None = None) -> DatasetBuild:
    """Build, export and anchor study ``study_id``'s dataset into ``out`` (see the module).

    Raises:
        NotStudyInstitute: ``actor`` did not register the study (checked before anything).
        StudyIsClosed: the study is closed.
        InvalidInput: ``out`` exists and is not empty, or a bad ``k`` / ``batch``.
    """
    from careledger.errors import NotStudyInstitute, StudyIsClosed
    from careledger.fhir.export import validate_resource
    from careledger.node.client import NodeClient
    from careledger.research.deid import Pseudonymizer, deidentify, k_anonymity, quasi_identifiers

    say = progress or (lambda _msg: None)
    if not 1 <= batch <= 500:
        raise InvalidInput("a study access batch holds 1 to 500 records")
    target = Path(out)
    if target.exists() and any(target.iterdir()):
        raise InvalidInput(f"{target} is not empty: give a new folder for the dataset")
    study = actor.ledger.consent.study(study_id)
    if study.institute != actor.address:
        raise NotStudyInstitute.with_args(studyId=study_id, account=actor.address)
    if not study.open:
        raise StudyIsClosed.with_args(studyId=study_id)
    build = DatasetBuild(study_id, target)
    build.consenting = consenting_patients(actor, study_id)
    say(f"{len(build.consenting)} patients consent to study {study_id}")

    # 2. the records each provider's node holds for them
    from careledger.actors.remote import provider_nodes

    pointers: list[tuple[str, RecordPointer]] = []  # (node url, pointer)
    for institution, url in provider_nodes(actor.ledger):
        client = NodeClient(url)
        try:
            for patient in build.consenting:
                pointers += [(url, p) for p in _records_at(actor, client, patient)]
        except NodeUnavailable:
            build.unreachable.append(institution)
    pointers.sort(key=lambda up: (int(up[1].patient, 16), up[1].record_id))
    items = [StudyAccessItem.of(p) for _, p in pointers]
    if not items:
        raise InvalidInput(f"no record of a consenting patient was found for study {study_id}")
    say(f"{len(items)} records at {len({u for u, _ in pointers})} nodes")

    # 3. log every access on chain, 4. then receive the keys and decrypt
    logged = _log_accesses(actor, study_id, items, batch, build)
    node_of = {p.record_id: url for url, p in pointers}
    ptr_of = {p.record_id: p for _, p in pointers}
    clients = {url: NodeClient(url) for url in set(node_of.values())}
    plain: dict[str, list[dict[str, Any]]] = {}
    for chunk, tx in logged:
        at: dict[str, list[RecordPointer]] = {}  # the transaction's records, per issuer node
        for item in chunk:
            rid = "0x" + item.record_id.hex()
            at.setdefault(node_of[rid], []).append(ptr_of[rid])
        for url, ptrs in at.items():
            for start in range(0, len(ptrs), MAX_STUDY_KEYS):
                part = ptrs[start:start + MAX_STUDY_KEYS]
                for ptr, data in zip(part, _read_all(actor, clients[url], part, tx), strict=True):
                    plain.setdefault(ptr.patient, []).append(json.loads(data))
                    build.records += 1
    say(f"{build.records} records decrypted after {len(build.access_txs)} access transactions")

    # 5. de-identify, then k-anonymity over the patients
    pseudonyms = Pseudonymizer(_pseudonym_key(actor, study_id))
    deid: dict[str, list[dict[str, Any]]] = {}
    rows = []
    for patient, resources in plain.items():
        deid[patient] = [deidentify(r, pseudonyms) for r in resources]
        person = next((r for r in deid[patient] if r.get("resourceType") == "Patient"), None)
        row = quasi_identifiers(person) if person else {
            "birth_year": "", "gender": "", "zip3": "", "state": ""}
        rows.append({**row, "_patient": patient})
    report = k_anonymity(rows, k=k)
    build.k, build.k_achieved, build.suppressed = k, report.k_achieved, report.suppressed
    kept = {r["_patient"] for r in report.rows}
    for r in rows:
        if r["_patient"] not in kept:
            build.dropped[r["_patient"]] = f"suppressed for k-anonymity (k={k})"
    build.contributors = sorted(kept, key=lambda a: int(a, 16))

    # 6. export
    resources = [r for p in build.contributors for r in deid[p]]
    patient_of = {}
    for p in build.contributors:
        person = next((r for r in deid[p] if r.get("resourceType") == "Patient"), None)
        tag = person["id"] if person else pseudonyms.id(p)
        for r in deid[p]:
            patient_of[r.get("id", "")] = tag
    provenance = validate_resource({
        "resourceType": "Provenance", "id": pseudonyms.id(f"provenance/{study_id}/{time.time_ns()}"),
        "target": [{"reference": f"{r['resourceType']}/{r['id']}"} for r in resources if r.get("id")]
        or [{"display": "empty dataset"}],
        "recorded": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "activity": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                 "code": "DEID", "display": "deidentify"}]},
        "reason": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActReason",
                                "code": "HRESCH"}]}],
        "policy": ["https://careledger.org/policy/safe-harbor/v1",
                   "http://terminology.hl7.org/CodeSystem/v3-ActCode#PSEUD"],
        "agent": [{"who": {"identifier": {"system": f"urn:careledger:eip155:{actor.ledger.chain.chain_id}:account",
                                          "value": actor.address}}}],
    })
    bundle = validate_resource({
        "resourceType": "Bundle", "type": "collection",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "entry": [{"resource": r} for r in [*resources, provenance]]})
    bundle_bytes = json.dumps(bundle, indent=1, sort_keys=True).encode()
    csv_bytes = _csv(resources, patient_of)
    target.mkdir(parents=True, exist_ok=True)
    write_atomic(target / "bundle.json", bundle_bytes, mode=0o600)
    write_atomic(target / "data.csv", csv_bytes, mode=0o600)
    files = {"bundle.json": _sha256(bundle_bytes), "data.csv": _sha256(csv_bytes)}
    build.dataset_hash = files_hash(files)
    manifest = {
        "format": "careledger-dataset", "version": 1, "chainId": actor.ledger.chain.chain_id,
        "study": study_id, "institute": actor.address,
        "protocolHash": "0x" + study.protocol_hash.hex(),
        "consentRegistry": actor.ledger.deployment.consent_registry,
        "files": files, "datasetHash": "0x" + build.dataset_hash.hex(),
        "patients": len(build.contributors), "resources": len(resources),
        "recordsAccessed": build.records, "accessTransactions": build.access_txs,
        "deidentification": {"rules": "HIPAA Safe Harbor, docs/deidentification.md",
                             "pseudonyms": "HMAC-SHA256 with a per-study key kept by the institute"},
        "kAnonymity": {"k": k, "achieved": report.k_achieved, "suppressedPatients": report.suppressed,
                       "classSizes": list(report.class_sizes), "generalisation": report.generalisation},
    }
    manifest_bytes = json.dumps(manifest, indent=1, sort_keys=True).encode()
    write_atomic(target / "manifest.json", manifest_bytes, mode=0o600)
    build.manifest_hash = bytes(keccak(manifest_bytes))

    # 7. anchor and credit
    if anchor and build.contributors:
        receipt = actor.transact(actor.ledger.research.anchor_dataset(
            study_id, build.dataset_hash, build.manifest_hash, build.contributors))
        build.dataset_id = actor.ledger.research.dataset_id_from(receipt)
        build.anchor_tx = receipt["transactionHash"].to_0x_hex()
    return build


def verify_dataset(ledger: Any, dataset_id: int, folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Check a dataset folder against its on-chain anchor: the files' SHA-256 against the
    manifest, the manifest's ``files`` against ``datasetHash``, the manifest against the
    ``manifestHash`` of its ``DatasetAnchored`` event.

    Raises:
        CommitmentMismatch: a file, the manifest or the dataset hash does not match.
    """
    root = Path(folder)
    manifest_bytes = (root / "manifest.json").read_bytes()
    manifest: dict[str, Any] = json.loads(manifest_bytes)
    for name, digest in manifest["files"].items():
        if _sha256((root / name).read_bytes()) != digest:
            raise CommitmentMismatch(f"{name} is not the file the manifest names")
    on_chain = ledger.research.dataset(dataset_id)
    if files_hash(manifest["files"]) != on_chain.dataset_hash:
        raise CommitmentMismatch(f"the files are not dataset {dataset_id}'s anchored hash")
    events = ledger.research.logs("DatasetAnchored", from_block=ledger.deployment.block,
                                  datasetId=dataset_id)
    if not events or bytes(events[0]["args"]["manifestHash"]) != bytes(keccak(manifest_bytes)):
        raise CommitmentMismatch(f"manifest.json is not dataset {dataset_id}'s anchored manifest")
    return manifest


__all__ = ["DEFAULT_BATCH", "DatasetBuild", "build_dataset", "consenting_patients",
           "verify_dataset"]
