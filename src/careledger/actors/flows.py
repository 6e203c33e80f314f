"""The sharing flows, as classes named after the actors.

- ``Provider`` publishes records for patients (encrypt → store → wrap to the patient → anchor),
  single or in Merkle batches, amends them, requests access, opens break-glass, and releases
  keys it holds as custodian once the chain authorises a grantee.
- ``Researcher`` requests access and reads records it is authorised for.
- ``Patient`` registers its key, grants / revokes (directly or by signature through a
  relayer), appoints guardians, answers requests, shares records, and erases them.

Every grantee reads through ``Institution.access``: the access is logged on chain first (it
reverts unless authorised at that block), then the ciphertext and the wrapped key are fetched,
the key unwrapped, the record decrypted and its commitment checked against the anchor.

Off chain, a ``RecordIndex`` maps record ids to where their ciphertext is (CID), who the
patient is and, for batched records, the Merkle proof. It never goes on chain.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak
from web3.logs import DISCARD
from web3.types import TxReceipt

from careledger.chain import Sender, SentTransaction, TxJournal
from careledger.codes import SCOPE_ALL, Category, Purpose, purpose_mask
from careledger.contracts.deployment import CareLedger
from careledger.contracts.merkle import MerkleTree, leaf_hash
from careledger.contracts.merkle import verify as merkle_verify
from careledger.crypto import envelope as crypto
from careledger.crypto.keyfile import EncryptionKeyPair
from careledger.errors import (
    AccessNotAuthorized,
    CareLedgerError,
    CommitmentMismatch,
    InvalidInput,
    KeyNotShared,
    NotAnchored,
    RecordNotFound,
    WrappedKeyNotFound,
)
from careledger.store.blobs import DEFAULT_MAX_BLOB_SIZE, BlobStore, WrappedKeyStore
from careledger.validate import address as _addr
from careledger.validate import bytes32

ZERO32 = b"\x00" * 32





def new_record_id(issuer: str) -> bytes:
    """A fresh record id in ``issuer``'s namespace: its 20-byte address, then 12 random bytes.

    The RecordRegistry only accepts ids that start with the anchoring institution's address;
    that is how it knows, without storing anything, who may supersede a version. The id reveals
    nothing about the record (the issuer is public in the anchor event anyway).
    """
    return bytes.fromhex(_addr(issuer)[2:]) + secrets.token_bytes(12)


def check_record_id(record_id: bytes, issuer: str) -> bytes:
    """Raise ``InvalidInput`` unless ``record_id`` lies in ``issuer``'s namespace."""
    if record_id[:20] != bytes.fromhex(_addr(issuer)[2:]):
        raise InvalidInput(
            f"record id 0x{record_id.hex()} must start with the issuing institution's address "
            f"{_addr(issuer)}; let the SDK choose one (omit record_id) or use new_record_id(issuer)")
    return record_id


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _b32(value: str | bytes, what: str = "record id") -> bytes:
    return bytes32(value, what)


@dataclass
class RecordPointer:
    """Off-chain metadata of one record version (kept in the ``RecordIndex``)."""

    record_id: str
    version: int
    patient: str
    issuer: str
    category: str
    cid: str
    commitment: str
    previous_version: str = _hex(ZERO32)
    batch_root: str | None = None
    proof: list[str] = field(default_factory=list)
    status: str = "pending"  # pending → anchored
    tx_hash: str | None = None

    @property
    def id_bytes(self) -> bytes:
        """The record id as bytes."""
        return bytes.fromhex(self.record_id[2:])

    @property
    def category_code(self) -> bytes:
        """The category's on-chain bytes32."""
        return Category.parse(self.category).code

    @property
    def binding(self) -> crypto.RecordBinding:
        """Record id, version and patient: what the ciphertext and wrapped keys are bound to."""
        return crypto.RecordBinding(self.id_bytes, self.version, self.patient)


class RecordIndex:
    """A directory of ``RecordPointer`` JSON files, written atomically (temp, fsync, rename).

    It plays the part of the hospitals' record locator service; nothing in it goes on chain.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.root = Path(directory)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def _path(self, record_id: str) -> Path:
        return self.root / f"{record_id.lower()}.json"

    def put(self, ptr: RecordPointer) -> None:
        """Store (or replace) a pointer durably."""
        path = self._path(ptr.record_id)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(asdict(ptr), fh, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        dfd = os.open(self.root, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    def get(self, record_id: str | bytes) -> RecordPointer:
        """The pointer of ``record_id``.

        Raises:
            RecordNotFound: unknown id.
        """
        rid = _hex(_b32(record_id))
        path = self._path(rid)
        if not path.exists():
            raise RecordNotFound(f"record {rid} is not in the record index at {self.root}")
        return RecordPointer(**json.loads(path.read_text()))

    def has(self, record_id: str | bytes) -> bool:
        """True if ``record_id`` is indexed."""
        return self._path(_hex(_b32(record_id))).exists()

    def all(self) -> list[RecordPointer]:
        """Every pointer (for reconciliation and listings)."""
        return [RecordPointer(**json.loads(p.read_text())) for p in sorted(self.root.glob("0x*.json"))]

    def for_patient(self, patient: str) -> list[RecordPointer]:
        """Every record of ``patient``."""
        p = _addr(patient)
        return [r for r in self.all() if r.patient == p]


@dataclass
class Workspace:
    """Where the off-chain parts live: blob store, wrapped-key store, record index."""

    blobs: BlobStore
    keys: WrappedKeyStore
    index: RecordIndex
    journal: TxJournal | None = None

    @classmethod
    def local(cls, directory: str | os.PathLike[str], *,
              max_blob_size: int = DEFAULT_MAX_BLOB_SIZE) -> Workspace:
        """The embedded default: everything under one local directory.

        Args:
            directory: root of blobs, wrapped keys, record index and transaction journal.
            max_blob_size: largest encrypted record accepted (``BlobTooLarge`` above it).
        """
        from careledger.store.blobs import LocalBlobStore

        root = Path(directory)
        return cls(blobs=LocalBlobStore(root / "blobs", max_blob_size=max_blob_size), keys=WrappedKeyStore(root / "keys"),
                   index=RecordIndex(root / "index"), journal=TxJournal(root / "tx-journal.jsonl"))


@dataclass
class PublishedRecord:
    """What ``Provider.publish`` returns."""

    pointer: RecordPointer
    receipt: TxReceipt | None
    sent: SentTransaction | None = None

    @property
    def record_id(self) -> str:
        """The record id (0x-hex)."""
        return self.pointer.record_id


class _Actor:
    def __init__(self, ledger: CareLedger, sender: Sender | None, workspace: Workspace,
                 keypair: EncryptionKeyPair) -> None:
        self.ledger = ledger
        self.sender = sender
        self.ws = workspace
        self.keypair = keypair

    @property
    def address(self) -> str:
        """The actor's wallet address."""
        if self.sender is None:
            raise InvalidInput("this actor has no wallet to send transactions with")
        return self.sender.address

    def _tx(self, call: Any, description: str = "") -> TxReceipt:
        if self.sender is None:
            raise InvalidInput("this actor has no wallet: use a signed consent and a relayer")
        return self.sender.transact(call, description=description)

    def _unwrap(self, ptr: RecordPointer) -> crypto.DataKey:
        try:
            wrapped = self.ws.keys.get(ptr.record_id, ptr.version, self.keypair.public_bytes)
        except WrappedKeyNotFound:
            raise KeyNotShared(
                f"no data key for record {ptr.record_id} is wrapped to your key: it was not "
                "shared with you yet, or it was revoked or erased; ask the patient to share it"
            ) from None
        return crypto.unwrap_data_key(wrapped, ptr.binding, self.keypair)

    def _rewrap(self, ptr: RecordPointer, recipient_key: bytes) -> None:
        data_key = self._unwrap(ptr)
        self.ws.keys.put(ptr.record_id, ptr.version,
                         crypto.wrap_data_key(data_key, ptr.binding, recipient_key))


class Institution(_Actor):
    """A consortium member that reads records (base of ``Provider`` and ``Researcher``)."""

    def register_encryption_key(self, metadata_hash: bytes = ZERO32) -> TxReceipt:
        """Publish this institution's X25519 public key in the consortium registry."""
        return self._tx(self.ledger.institutions.contract.functions.updateEncryptionKey(
            self.keypair.public_bytes, metadata_hash), "update institution key")

    def request_access(self, patient: str, scope: bytes, purpose: Purpose | str,
                       reason: str) -> int:
        """Ask ``patient`` for access; returns the request id.

        Only a hash of ``reason`` goes on chain (the text stays with the requester).
        """
        reason_hash = keccak(text=f"careledger.reason:{secrets.token_hex(16)}:{reason}")
        receipt = self._tx(self.ledger.consent.contract.functions.requestAccess(
            _addr(patient), scope, int(Purpose.parse(purpose)), reason_hash),
            "request access")
        ev = self.ledger.consent.contract.events.AccessRequested().process_receipt(receipt, errors=DISCARD)
        return int(ev[0]["args"]["requestId"])

    def access(self, record_id: str | bytes, purpose: Purpose | str = Purpose.TREAT) -> bytes:
        """Read a record: log the access on chain, fetch, unwrap, decrypt, verify.

        Raises:
            AccessNotAuthorized: no live consent (or break-glass) covers it at this block;
                nothing is fetched or decrypted.
            KeyNotShared: authorised, but no data key is wrapped to this institution yet.
            CommitmentMismatch / BlobCorrupted / BlobNotFound: the ciphertext is not the
                anchored one or is gone; never wrong plaintext.
        """
        ptr = self.ws.index.get(record_id)
        p = Purpose.parse(purpose)
        self.log_access(ptr, p)
        return self.read_verified(ptr)

    def log_access(self, ptr: RecordPointer, purpose: Purpose) -> TxReceipt:
        """The on-chain half of ``access``: ``recordAccess``, which reverts unless authorised."""
        return self._tx(self.ledger.consent.contract.functions.recordAccess(
            ptr.patient, ptr.id_bytes, ptr.category_code, int(purpose)), "record access")

    def read_verified(self, ptr: RecordPointer) -> bytes:
        """Fetch, verify against the anchor, unwrap and decrypt (after ``log_access``)."""
        blob = self.ws.blobs.get(ptr.cid)
        verify_commitment(self.ledger, ptr, blob)
        return crypto.decrypt_record(blob, self._unwrap(ptr), ptr.binding)

    def release_key(self, record_id: str | bytes, grantee: str,
                    purpose: Purpose | str = Purpose.TREAT) -> None:
        """As a custodian holding a wrapped copy, re-wrap the data key to ``grantee``.

        Only when the chain authorises ``grantee`` for this record and purpose now (a consent,
        or break-glass for ETREAT).

        Raises:
            AccessNotAuthorized: the chain does not authorise ``grantee``.
        """
        ptr = self.ws.index.get(record_id)
        grantee = _addr(grantee)
        p = Purpose.parse(purpose)
        if not self.ledger.consent.is_authorized_for_record(ptr.patient, grantee, ptr.id_bytes,
                                                            ptr.category_code, int(p)):
            raise AccessNotAuthorized(
                f"AccessNotAuthorized(patient={ptr.patient}, accessor={grantee}, "
                f"recordId={ptr.record_id}, purpose={int(p)}): no live consent covers it; "
                "the patient must grant access first", "AccessNotAuthorized", {})
        key = self.ledger.institutions.encryption_key(grantee)
        if key == ZERO32:
            raise InvalidInput(f"{grantee} has no registered encryption key")
        self._rewrap(ptr, key)

    def break_glass(self, patient: str, reason_code: str, duration: int) -> TxReceipt:
        """Open emergency (ETREAT) access to ``patient`` for ``duration`` seconds (≤ 72 h)."""
        return self._tx(self.ledger.consent.contract.functions.breakGlass(
            _addr(patient), keccak(text=f"careledger.reason:{reason_code}"),
            duration), "break-glass")


class Researcher(Institution):
    """A research institute: requests research-purpose (HRESCH) access and reads."""


@dataclass
class ReconcileReport:
    """What ``Provider.reconcile`` found and did."""

    checked: int = 0
    already_on_chain: int = 0
    rebroadcast: int = 0
    anchored_again: int = 0
    batches_anchored_again: int = 0


class Provider(Institution):
    """A hospital or lab that publishes encrypted records for patients.

    Every transaction it signs is journaled (``Workspace.journal``) before broadcast, so
    ``reconcile`` can finish any publication interrupted by a crash, a node restart, a
    dropped transaction or a reorg, without anchoring anything twice.
    """

    def __init__(self, ledger: CareLedger, sender: Sender | None, workspace: Workspace,
                 keypair: EncryptionKeyPair) -> None:
        super().__init__(ledger, sender, workspace, keypair)
        if sender is not None and sender.journal is None and workspace.journal is not None:
            sender.journal = workspace.journal

    def _encrypt_and_store(self, patient: str, plaintext: bytes, category: Category,
                           record_id: bytes, version: int, previous: bytes,
                           key_cache: dict[str, bytes] | None = None) -> RecordPointer:
        patient = _addr(patient, "patient")
        if key_cache is not None and patient in key_cache:
            patient_key = key_cache[patient]
        else:  # one chain read per patient (per batch), not per record
            patient_key = self.ledger.consent.patient_key(patient)
            if key_cache is not None:
                key_cache[patient] = patient_key
        if patient_key == ZERO32:
            raise InvalidInput(
                f"patient {patient} has not registered an encryption key: ask them to run "
                "`careledger patient register-key` first"
            )
        binding = crypto.RecordBinding(record_id, version, patient)
        envelope, data_key = crypto.encrypt_record(plaintext, binding)
        blob = envelope.to_bytes()
        cid = self.ws.blobs.put(blob)  # durable before anything goes on chain
        for recipient in (patient_key, self.keypair.public_bytes):
            self.ws.keys.put(record_id, version, crypto.wrap_data_key(data_key, binding, recipient))
        return RecordPointer(
            record_id=_hex(record_id), version=version, patient=patient, issuer=self.address,
            category=category.name, cid=cid, commitment=_hex(keccak(blob)),
            previous_version=_hex(previous),
        )

    def _record_id(self, record_id: bytes | str | None) -> bytes:
        if record_id is None:
            return new_record_id(self.address)
        return check_record_id(_b32(record_id), self.address)

    def publish(self, patient: str, plaintext: bytes, category: Category | str,
                *, record_id: bytes | str | None = None, wait: bool = True) -> PublishedRecord:
        """Encrypt, store and anchor one record for ``patient``.

        Idempotent by ``record_id``: publishing an id that is already indexed resumes it
        (anchors it if the earlier attempt stopped before the chain) and never anchors twice.
        """
        cat = category if isinstance(category, Category) else Category.parse(category)
        rid = self._record_id(record_id)
        if self.ws.index.has(rid):
            return self.resume_record(rid)
        ptr = self._encrypt_and_store(patient, plaintext, cat, rid, 1, ZERO32)
        self.ws.index.put(ptr)
        return self._anchor(ptr, wait=wait)

    def amend(self, previous_id: str | bytes, plaintext: bytes,
              *, record_id: bytes | str | None = None) -> PublishedRecord:
        """Publish a new version of a record; the old one stays anchored and readable."""
        prev = self.ws.index.get(previous_id)
        rid = self._record_id(record_id)
        if self.ws.index.has(rid):
            return self.resume_record(rid)
        ptr = self._encrypt_and_store(prev.patient, plaintext, Category[prev.category], rid,
                                      prev.version + 1, prev.id_bytes)
        self.ws.index.put(ptr)
        return self._anchor(ptr)

    def _anchor(self, ptr: RecordPointer, *, wait: bool = True) -> PublishedRecord:
        assert self.sender is not None
        call = self.ledger.records.contract.functions.anchor(
            ptr.patient, ptr.id_bytes, bytes.fromhex(ptr.commitment[2:]), ptr.category_code,
            bytes.fromhex(ptr.previous_version[2:]))
        sent = self.sender.send(call, description=f"anchor {ptr.record_id}")
        ptr.tx_hash = sent.tx_hash.to_0x_hex()
        if not wait:
            self.ws.index.put(ptr)
            return PublishedRecord(ptr, None, sent)
        receipt = self.sender.wait(sent)
        ptr.status = "anchored"
        self.ws.index.put(ptr)
        return PublishedRecord(ptr, receipt, sent)

    def resume_record(self, record_id: str | bytes) -> PublishedRecord:
        """Finish a publication that stopped part-way (crash, node restart, dropped tx)."""
        ptr = self.ws.index.get(record_id)
        if ptr.batch_root is not None:
            return self._resume_batch_member(ptr)
        onchain = self.ledger.records.commitment_of(ptr.id_bytes)
        if onchain == bytes.fromhex(ptr.commitment[2:]):
            if ptr.status != "anchored":
                ptr.status = "anchored"
                self.ws.index.put(ptr)
            return PublishedRecord(ptr, None)
        if onchain != ZERO32:
            raise CommitmentMismatch(
                f"record {ptr.record_id} is anchored with another commitment on chain; "
                "the local index is out of date: do not re-publish under this id")
        return self._anchor(ptr)

    def _resume_batch_member(self, ptr: RecordPointer) -> PublishedRecord:
        assert ptr.batch_root is not None
        root = bytes.fromhex(ptr.batch_root[2:])
        _issuer, count, _, _ = self.ledger.records.batch(root)
        if count == 0:
            members = [p for p in self.ws.index.all() if p.batch_root == ptr.batch_root]
            self._anchor_batch(root, len(members), Category[ptr.category])
        for p in self.ws.index.all():
            if p.batch_root == ptr.batch_root and p.status != "anchored":
                p.status = "anchored"
                self.ws.index.put(p)
        return PublishedRecord(self.ws.index.get(ptr.record_id), None)

    def reconcile(self) -> ReconcileReport:
        """Make the chain hold every record this provider indexed, exactly once.

        1. Re-broadcast journaled transactions the chain lost (same nonce, same hash).
        2. Check every record against the chain; anchor again only what is still missing
           (the contract refuses a second anchor of an id, so a race cannot duplicate).
        """
        report = ReconcileReport()
        assert self.sender is not None and self.sender.nonces is not None
        if self.sender.journal is not None:
            report.rebroadcast = len(self.sender.reconcile())
        else:
            self.sender.nonces.resync(self.address)
        mine = [p for p in self.ws.index.all() if p.issuer == self.address]
        report.checked = len(mine)
        roots_done: dict[str, bool] = {}
        for p in mine:
            if p.batch_root is not None:
                if p.batch_root not in roots_done:
                    on = self.ledger.records.batch(bytes.fromhex(p.batch_root[2:]))[1] > 0
                    if not on:
                        members = [q for q in mine if q.batch_root == p.batch_root]
                        self._anchor_batch(bytes.fromhex(p.batch_root[2:]), len(members),
                                           Category[p.category])
                        report.batches_anchored_again += 1
                    roots_done[p.batch_root] = on
                if roots_done[p.batch_root]:
                    report.already_on_chain += 1
            elif self.ledger.records.commitment_of(p.id_bytes) == bytes.fromhex(p.commitment[2:]):
                report.already_on_chain += 1
            else:
                self.resume_record(p.record_id)
                report.anchored_again += 1
                continue
            if p.status != "anchored":
                p.status = "anchored"
                self.ws.index.put(p)
        return report

    def publish_batch(self, items: Sequence[tuple[str, bytes]], category: Category | str,
                      *, record_ids: Sequence[bytes] | None = None,
                      progress: Any = None) -> tuple[bytes, list[RecordPointer], TxReceipt | None]:
        """Publish many records of one category with a single ``anchorBatch``.

        Each record gets its own data key, blob and wrapped keys; the per-record Merkle
        inclusion proofs stay off chain in the record index.

        Args:
            items: ``(patient, plaintext)`` pairs.
            category: the category of every record in the batch.
            record_ids: optional ids (for idempotent retries); random otherwise.
            progress: optional callable ``progress(n_done)`` for progress bars.

        Returns:
            ``(root, pointers, receipt)``.
        """
        cat = category if isinstance(category, Category) else Category.parse(category)
        if not items:
            raise InvalidInput("a batch needs at least one record")
        if record_ids is not None and len(record_ids) != len(items):
            raise InvalidInput("record_ids must have one id per item")
        pointers: list[RecordPointer] = []
        key_cache: dict[str, bytes] = {}
        for i, (patient, plaintext) in enumerate(items):
            rid = self._record_id(record_ids[i] if record_ids is not None else None)
            if self.ws.index.has(rid):
                pointers.append(self.ws.index.get(rid))
            else:
                pointers.append(self._encrypt_and_store(patient, plaintext, cat, rid, 1, ZERO32,
                                                        key_cache))
            if progress is not None:
                progress(i + 1)
        leaves = [leaf_hash(p.patient, p.id_bytes, bytes.fromhex(p.commitment[2:]), cat.code)
                  for p in pointers]
        tree = MerkleTree.build(leaves)
        root_hex = _hex(tree.root)
        for i, p in enumerate(pointers):
            p.batch_root = root_hex
            p.proof = [_hex(x) for x in tree.proof(i)]
            self.ws.index.put(p)
        _, count, _, _ = self.ledger.records.batch(tree.root)
        receipt = None if count else self._anchor_batch(tree.root, len(pointers), cat)
        for p in pointers:
            p.status = "anchored"
            self.ws.index.put(p)
        return tree.root, pointers, receipt

    def _anchor_batch(self, root: bytes, count: int, category: Category) -> TxReceipt:
        return self._tx(self.ledger.records.contract.functions.anchorBatch(
            root, count, category.code), "anchor batch")


class Patient(_Actor):
    """A patient (or a guardian acting for one) controlling consent and keys.

    ``sender`` may be ``None`` for a patient without gas: signed consents then go through a
    relayer (``careledger.consent.messages``). ``acting_for`` lets a guardian act for a patient.
    """

    def __init__(self, ledger: CareLedger, sender: Sender | None, workspace: Workspace,
                 keypair: EncryptionKeyPair, *, address: str | None = None,
                 acting_for: str | None = None) -> None:
        super().__init__(ledger, sender, workspace, keypair)
        own = address or (sender.address if sender is not None else None)
        if own is None:
            raise InvalidInput("a patient needs a wallet address")
        self.wallet = _addr(own, "patient wallet")
        self.patient = _addr(acting_for, "patient") if acting_for else self.wallet

    def register_key(self) -> TxReceipt:
        """Register this patient's X25519 public key on chain (records get wrapped to it)."""
        return self._tx(self.ledger.consent.contract.functions.registerPatientKey(
            self.patient, self.keypair.public_bytes), "register patient key")

    def grant(self, grantee: str, scope: bytes, purposes: Iterable[Purpose | str],
              expires_at: int) -> TxReceipt:
        """Grant ``grantee`` access to ``scope`` for ``purposes`` until ``expires_at``."""
        return self._tx(self.ledger.consent.contract.functions.grant(
            self.patient, _addr(grantee), scope, purpose_mask(purposes), expires_at),
            "grant")

    def revoke(self, grantee: str, scope: bytes) -> TxReceipt:
        """Revoke a grant and delete every data key wrapped to ``grantee`` under that scope."""
        grantee = _addr(grantee)
        receipt = self._tx(self.ledger.consent.contract.functions.revoke(
            self.patient, grantee, scope), "revoke")
        self.forget_grantee_keys(grantee, scope)
        return receipt

    def forget_grantee_keys(self, grantee: str, scope: bytes = SCOPE_ALL) -> int:
        """Delete the wrapped keys of ``grantee`` for this patient's records in ``scope``."""
        key = self.ledger.institutions.encryption_key(_addr(grantee))
        removed = 0
        for ptr in self.ws.index.for_patient(self.patient):
            if scope in (SCOPE_ALL, ptr.id_bytes, ptr.category_code):
                removed += int(self.ws.keys.delete(ptr.record_id, ptr.version, key))
        return removed

    def set_guardian(self, guardian: str, expires_at: int) -> TxReceipt:
        """Appoint ``guardian`` to act for this patient until ``expires_at``."""
        return self._tx(self.ledger.consent.contract.functions.setGuardian(
            _addr(guardian), expires_at), "set guardian")

    def remove_guardian(self, guardian: str) -> TxReceipt:
        """Remove a guardian."""
        return self._tx(self.ledger.consent.contract.functions.removeGuardian(
            _addr(guardian)), "remove guardian")

    def approve_request(self, request_id: int, expires_at: int) -> TxReceipt:
        """Approve an access request (creates the grant)."""
        return self._tx(self.ledger.consent.contract.functions.approveRequest(
            request_id, expires_at), "approve request")

    def reject_request(self, request_id: int) -> TxReceipt:
        """Reject an access request."""
        return self._tx(self.ledger.consent.contract.functions.rejectRequest(request_id),
                        "reject request")

    def pending_requests(self) -> list[dict[str, Any]]:
        """This patient's access requests that await an answer."""
        c = self.ledger.consent.contract
        logs = c.events.AccessRequested().get_logs(
            argument_filters={"patient": self.patient}, from_block=self.ledger.deployment.block)
        out = []
        for lg in logs:
            rid = int(lg["args"]["requestId"])
            req = self.ledger.consent._view("getRequest", rid)
            if req[4] == 0:
                out.append({"request_id": rid, "requester": req[0], "scope": _hex(bytes(req[2])),
                            "purpose": Purpose(req[3]).name})
        return out

    def share(self, record_id: str | bytes, grantee: str,
              purpose: Purpose | str = Purpose.TREAT) -> None:
        """Wrap the record's data key to ``grantee`` once its grant is on chain.

        Raises:
            AccessNotAuthorized: no live grant covers the record for ``purpose``.
        """
        ptr = self.ws.index.get(record_id)
        if ptr.patient != self.patient:
            raise InvalidInput(f"record {ptr.record_id} belongs to another patient")
        grantee = _addr(grantee)
        p = Purpose.parse(purpose)
        if not self.ledger.consent.is_authorized_for_record(self.patient, grantee, ptr.id_bytes,
                                                            ptr.category_code, int(p)):
            raise AccessNotAuthorized(
                f"AccessNotAuthorized: {grantee} has no live grant for record {ptr.record_id} "
                f"and purpose {p.name}: grant it first", "AccessNotAuthorized", {})
        key = self.ledger.institutions.encryption_key(grantee)
        if key == ZERO32:
            raise InvalidInput(f"{grantee} has no registered encryption key")
        self._rewrap(ptr, key)

    def read(self, record_id: str | bytes) -> bytes:
        """The patient reads their own record (verified against the anchor; not logged)."""
        ptr = self.ws.index.get(record_id)
        blob = self.ws.blobs.get(ptr.cid)
        verify_commitment(self.ledger, ptr, blob)
        return crypto.decrypt_record(blob, self._unwrap(ptr), ptr.binding)

    def erase(self, record_id: str | bytes) -> int:
        """Crypto-shred: destroy every wrapped copy of the record's data key.

        The anchor stays on chain and still proves what existed; nobody can decrypt any more.
        Returns the number of wrapped keys destroyed.
        """
        ptr = self.ws.index.get(record_id)
        if ptr.patient != self.patient:
            raise InvalidInput(f"record {ptr.record_id} belongs to another patient")
        return crypto.shred(self.ws.keys, ptr.id_bytes)


def verify_commitment(ledger: CareLedger, ptr: RecordPointer, blob: bytes) -> None:
    """Check ``blob`` against the anchor (single record or Merkle batch).

    Raises:
        NotAnchored: the record is not on chain.
        CommitmentMismatch: the blob is not the anchored ciphertext.
    """
    commitment = keccak(blob)
    if _hex(commitment) != ptr.commitment:
        raise CommitmentMismatch(
            f"the ciphertext of record {ptr.record_id} does not match its commitment: "
            "the blob store returned other bytes; do not trust this copy")
    if ptr.batch_root is None:
        onchain = ledger.records.commitment_of(ptr.id_bytes)
        if onchain == ZERO32:
            raise NotAnchored(f"record {ptr.record_id} is not anchored on chain (yet)")
        if onchain != commitment:
            raise CommitmentMismatch(f"record {ptr.record_id}: on-chain commitment differs")
        return
    root = bytes.fromhex(ptr.batch_root[2:])
    _, count, _, _ = ledger.records.batch(root)
    if count == 0:
        raise NotAnchored(f"batch {ptr.batch_root} of record {ptr.record_id} is not anchored")
    leaf = leaf_hash(ptr.patient, ptr.id_bytes, commitment, ptr.category_code)
    if not merkle_verify([bytes.fromhex(x[2:]) for x in ptr.proof], root, leaf):
        raise CommitmentMismatch(f"record {ptr.record_id} is not in batch {ptr.batch_root}")


def latest_version(ledger: CareLedger, record_id: str | bytes) -> bytes:
    """Follow ``nextVersionOf`` links on chain to the newest version of a record."""
    rid = _b32(record_id)
    seen = 0
    while True:
        nxt = ledger.records.next_version_of(rid)
        if nxt == ZERO32:
            return rid
        rid = nxt
        seen += 1
        if seen > 10_000:
            raise CareLedgerError("version chain longer than 10,000: refusing to follow")


__all__ = [
    "CommitmentMismatch",
    "Institution",
    "KeyNotShared",
    "NotAnchored",
    "Patient",
    "Provider",
    "PublishedRecord",
    "RecordIndex",
    "RecordNotFound",
    "RecordPointer",
    "Researcher",
    "Workspace",
    "latest_version",
    "new_record_id",
    "verify_commitment",
]
