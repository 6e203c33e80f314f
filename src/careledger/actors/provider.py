"""Hospitals and labs: ``Provider`` publishes records for patients (encrypt, store, wrap to
the patient, anchor), single or in Merkle batches, amends them, and finishes any publication a
crash interrupted (``reconcile``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_utils.crypto import keccak
from web3.types import TxReceipt

from careledger.actors.base import ZERO32, check_record_id, new_record_id
from careledger.actors.institution import Institution
from careledger.chain import Sender, SentTransaction
from careledger.codes import Category
from careledger.contracts import CareLedger
from careledger.contracts.merkle import MerkleTree, leaf_hash
from careledger.crypto import EncryptionKeyPair, RecordBinding, encrypt_record, wrap_data_key
from careledger.errors import CommitmentMismatch, InvalidInput
from careledger.store import RecordPointer, Workspace
from careledger.store.index import hex32
from careledger.validate import address, bytes32


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
        patient = address(patient, "patient")
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
        binding = RecordBinding(record_id, version, patient)
        envelope, data_key = encrypt_record(plaintext, binding)
        blob = envelope.to_bytes()
        cid = self.ws.blobs.put(blob)  # durable before anything goes on chain
        for recipient in (patient_key, self.keypair.public_bytes):
            self.ws.keys.put(record_id, version, wrap_data_key(data_key, binding, recipient))
        return RecordPointer(
            record_id=hex32(record_id), version=version, patient=patient, issuer=self.address,
            category=category.name, cid=cid, commitment=hex32(keccak(blob)),
            previous_version=hex32(previous),
        )

    def _record_id(self, record_id: bytes | str | None) -> bytes:
        if record_id is None:
            return new_record_id(self.address)
        return check_record_id(bytes32(record_id, "record id"), self.address)

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
        sent = self.ledger.records.anchor(
            ptr.patient, ptr.id_bytes, ptr.commitment_bytes, ptr.category_code, ptr.previous_bytes,
        ).send(self.sender)
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
        if onchain == ptr.commitment_bytes:
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
        if not self.ledger.records.batch(root).anchored:
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
                    on = self.ledger.records.batch(bytes.fromhex(p.batch_root[2:])).anchored
                    if not on:
                        members = [q for q in mine if q.batch_root == p.batch_root]
                        self._anchor_batch(bytes.fromhex(p.batch_root[2:]), len(members),
                                           Category[p.category])
                        report.batches_anchored_again += 1
                    roots_done[p.batch_root] = on
                if roots_done[p.batch_root]:
                    report.already_on_chain += 1
            elif self.ledger.records.commitment_of(p.id_bytes) == p.commitment_bytes:
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
        leaves = [leaf_hash(p.patient, p.id_bytes, p.commitment_bytes, cat.code)
                  for p in pointers]
        tree = MerkleTree.build(leaves)
        root_hex = hex32(tree.root)
        for i, p in enumerate(pointers):
            p.batch_root = root_hex
            p.proof = [hex32(x) for x in tree.proof(i)]
            self.ws.index.put(p)
        done = self.ledger.records.batch(tree.root).anchored
        receipt = None if done else self._anchor_batch(tree.root, len(pointers), cat)
        for p in pointers:
            p.status = "anchored"
            self.ws.index.put(p)
        return tree.root, pointers, receipt

    def _anchor_batch(self, root: bytes, count: int, category: Category) -> TxReceipt:
        return self.transact(self.ledger.records.anchor_batch(root, count, category.code))
