"""Hospitals and labs: ``Provider`` publishes records for patients (encrypt, store, wrap to
the patient, anchor), single or in Merkle batches, amends them, and finishes any publication a
crash interrupted (``reconcile``)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak
from web3.types import TxReceipt

from careledger.actors.base import ZERO32, check_record_id
from careledger.actors.institution import Institution
from careledger.actors.sealing import Sealed, SealJob, seal, seal_chunk
from careledger.chain import Sender, SentTransaction
from careledger.codes import Category
from careledger.contracts import CareLedger, batch_member_id, new_batch_id, new_record_id
from careledger.contracts.merkle import MerkleTree, leaf_hash
from careledger.crypto import (
    DataKey,
    EncryptionKeyPair,
    RecordBinding,
    decrypt_record,
    encrypt_record,
    unwrap_data_key,
    wrap_data_key,
)
from careledger.crypto.streaming import DEFAULT_LAYOUT, StreamLayout
from careledger.errors import BlobCorrupted, CommitmentMismatch, DecryptionError, InvalidInput
from careledger.store import RecordPointer, Workspace
from careledger.store.atomic import GroupCommit
from careledger.store.blobs import LocalBlobStore
from careledger.store.chunked import store_stream
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

    def _patient_key(self, patient: str, key_cache: dict[str, bytes] | None = None) -> bytes:
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
        return patient_key

    def _encrypt_and_store(self, patient: str, plaintext: bytes, category: Category,
                           record_id: bytes, version: int, previous: bytes,
                           key_cache: dict[str, bytes] | None = None) -> RecordPointer:
        patient = address(patient, "patient")
        patient_key = self._patient_key(patient, key_cache)
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

    def publish_file(self, patient: str, path: str | Path, category: Category | str, *,
                     record_id: bytes | str | None = None,
                     progress: Callable[[int], None] | None = None,
                     max_size: int | None = None,
                     layout: StreamLayout = DEFAULT_LAYOUT) -> PublishedRecord:
        """Publish a file of any size (an imaging study, a genome) as a streamed record:
        encrypted segment by segment (``crypto.streaming``) into content-addressed pieces plus
        a manifest (``store.chunked``), in constant memory; the manifest is the record's blob
        and its keccak256 the anchored commitment.

        Resumable: called again with the same ``record_id`` after an interruption, it checks
        the file is unchanged and continues after the last stored piece; a record already
        indexed is only anchored if it was not yet.
        """
        cat = category if isinstance(category, Category) else Category.parse(category)
        rid = self._record_id(record_id)
        if self.ws.index.has(rid):
            return self.resume_record(rid)
        source = Path(path)
        patient = address(patient, "patient")
        patient_key = self._patient_key(patient)
        binding = RecordBinding(rid, 1, patient)
        own = self.keypair.public_bytes
        if self.ws.keys.has(rid, 1, own):  # an interrupted upload: the same stream key
            data_key = self.unwrap_own(rid, binding)
        else:
            data_key = DataKey.generate()
            self.ws.keys.put(rid, 1, wrap_data_key(data_key, binding, own))
        uploads = self.ws.uploads
        with tempfile.TemporaryDirectory(prefix="careledger-upload-") as tmp:
            journal = (uploads if uploads is not None else Path(tmp)) / f"{hex32(rid)}-v1.json"
            journal.parent.mkdir(parents=True, exist_ok=True)
            manifest = store_stream(self.ws.blobs, source, data_key.secret,
                                    binding.associated_data(), journal, layout=layout,
                                    max_size=max_size, progress=progress)
            blob = manifest.to_bytes()
            cid = self.ws.blobs.put(blob)
            self.ws.keys.put(rid, 1, wrap_data_key(data_key, binding, patient_key))
            ptr = RecordPointer(record_id=hex32(rid), version=1, patient=patient,
                                issuer=self.address, category=cat.name, cid=cid,
                                commitment=hex32(keccak(blob)), previous_version=hex32(ZERO32))
            self.ws.index.put(ptr)
            journal.unlink(missing_ok=True)
        return self._anchor(ptr)

    def unwrap_own(self, record_id: bytes, binding: RecordBinding) -> DataKey:
        """The data key this institution wrapped to itself for a record it is publishing."""
        wrapped = self.ws.keys.get(record_id, binding.version, self.keypair.public_bytes)
        return unwrap_data_key(wrapped, binding, self.keypair)

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
            self._resume_batch(ptr.id_bytes[:28])
            return PublishedRecord(self.ws.index.get(ptr.record_id), None)
        bound = self.ledger.records.binding_of(ptr.id_bytes)
        if bound == _leaf(ptr):
            if ptr.status != "anchored":
                ptr.status = "anchored"
                self.ws.index.put(ptr)
            return PublishedRecord(ptr, None)
        if bound != ZERO32:
            raise CommitmentMismatch(
                f"record {ptr.record_id} is anchored with another binding on chain; "
                "the local index is out of date: do not re-publish under this id")
        return self._anchor(ptr)

    def _batch_members(self, batch_id: bytes) -> list[RecordPointer]:
        prefix = hex32(batch_id + bytes(4))[:2 + 56]
        members = [p for p in self.ws.index.all() if p.record_id[:2 + 56] == prefix]
        return sorted(members, key=lambda p: p.id_bytes)

    def _resume_batch(self, batch_id: bytes) -> PublishedRecord:
        members = self._batch_members(batch_id)
        if not members:
            raise InvalidInput(f"no record of batch 0x{batch_id.hex()} is in the record index")
        root = bytes.fromhex(str(members[0].batch_root)[2:])
        onchain = self.ledger.records.batch(batch_id)
        if not onchain.anchored:
            self._anchor_batch(batch_id, root, len(members), Category[members[0].category])
        elif onchain.root != root:
            raise CommitmentMismatch(
                f"batch 0x{batch_id.hex()} is anchored with another root on chain; the local "
                "index is out of date: do not re-publish it")
        if any(p.status != "anchored" for p in members):
            self.ws.index.mark_batch_anchored(batch_id, hex32(root))
            for p in members:
                p.status = "anchored"
        return PublishedRecord(members[0], None)

    def reconcile(self) -> ReconcileReport:
        """Make the chain hold every record this provider indexed, exactly once.

        1. Re-broadcast journaled transactions the chain lost (same nonce, same hash).
        2. Check every record against the chain; anchor again only what is still missing
           (the contract refuses a second anchor of an id or a batch, so a race cannot
           duplicate).
        """
        report = ReconcileReport()
        assert self.sender is not None and self.sender.nonces is not None
        if self.sender.journal is not None:
            report.rebroadcast = len(self.sender.reconcile())
        else:
            self.sender.nonces.resync(self.address)
        mine = [p for p in self.ws.index.all() if p.issuer == self.address]
        report.checked = len(mine)
        batches_done: dict[bytes, bool] = {}
        marked: set[bytes] = set()
        for p in mine:
            if p.batch_root is not None:
                batch_id = p.id_bytes[:28]
                if batch_id not in batches_done:
                    on = self.ledger.records.batch(batch_id).anchored
                    if not on:
                        self._resume_batch(batch_id)
                        report.batches_anchored_again += 1
                    batches_done[batch_id] = on
                if batches_done[batch_id]:
                    report.already_on_chain += 1
            elif self.ledger.records.binding_of(p.id_bytes) == _leaf(p):
                report.already_on_chain += 1
            else:
                self.resume_record(p.record_id)
                report.anchored_again += 1
                continue
            if p.status != "anchored":
                p.status = "anchored"
                if p.batch_root is not None:  # one write for the whole batch
                    if p.id_bytes[:28] not in marked:
                        self.ws.index.mark_batch_anchored(p.id_bytes[:28], p.batch_root)
                        marked.add(p.id_bytes[:28])
                else:
                    self.ws.index.put(p)
        return report

    def publish_batch(self, items: Sequence[tuple[str, bytes]], category: Category | str,
                      *, batch_id: bytes | None = None, progress: Any = None,
                      executor: Executor | None = None,
                      ) -> tuple[bytes, list[RecordPointer], TxReceipt | None]:
        """Publish many records of one category with a single ``anchorBatch``.

        Each record gets its own data key, blob and wrapped keys; its id is the batch id and
        its leaf index; the per-record Merkle proofs stay off chain in the record index.

        Group commit: every blob and wrapped key of the batch is written without fsync into
        pack files (a blob pack and a key pack per sealed chunk, ``store.packs``), every
        member's pointer once into the batch's index segment (``RecordIndex.put_batch``), then
        each file and each touched directory is fsynced once, concurrently (``GroupCommit``),
        and only then is the root anchored; the anchoring is recorded once for the batch
        (``RecordIndex.mark_batch_anchored``). A crash at any point leaves either nothing on
        chain (a rerun under the same ``batch_id`` reuses the members if every one of them is
        complete, else discards what the first attempt wrote and seals them all again) or a
        durable, complete batch.

        ``begin_batch`` and ``BatchInFlight.finish`` are the two halves of this call: a caller
        with many batches (the FHIR importer) starts sealing the next batch before finishing
        (committing and anchoring) the current one.

        Args:
            items: ``(patient, plaintext)`` pairs.
            category: the category of every record in the batch.
            batch_id: a 28-byte batch id (``new_batch_id``) to resume an interrupted batch
                idempotently; random otherwise.
            progress: optional callable ``progress(n_done)`` for progress bars.
            executor: a process pool to encrypt and write the records in (local workspaces);
                ``None``: in this process.

        Returns:
            ``(root, pointers, receipt)``.
        """
        return self.begin_batch(items, category, batch_id=batch_id, progress=progress,
                                executor=executor).finish()

    def begin_batch(self, items: Sequence[tuple[str, bytes]], category: Category | str,
                    *, batch_id: bytes | None = None, progress: Any = None,
                    executor: Executor | None = None, fresh: bool = False,
                    key_cache: dict[str, bytes] | None = None) -> BatchInFlight:
        """Check a batch against the chain and the index and start sealing what it needs, in
        ``executor``'s processes (see ``publish_batch``); ``finish()`` on the result commits
        and anchors it. Nothing of this batch is anchored before its ``finish()``.

        Args:
            fresh: ``batch_id`` was just drawn (``new_batch_id``, 63 random bits) and nothing
                was written under it yet: the chain and the index are not asked about it.
            key_cache: patients' public keys read from the chain, shared by the batches of one
                caller (each patient's key is read once per batch without it).
        """
        cat = category if isinstance(category, Category) else Category.parse(category)
        if not items:
            raise InvalidInput("a batch needs at least one record")
        if batch_id is None:
            batch_id, fresh = new_batch_id(self.address), True
        elif batch_id[:20] != bytes.fromhex(self.address[2:]):
            raise InvalidInput(f"batch id 0x{batch_id.hex()} is not in {self.address}'s namespace")
        ids = [batch_member_id(batch_id, i) for i in range(len(items))]
        loose: set[int] = set()
        found: list[RecordPointer | None]
        if fresh:
            anchored, onchain_root = False, ZERO32
            found = [None] * len(ids)
        else:
            onchain = self.ledger.records.batch(batch_id)
            anchored, onchain_root = onchain.anchored, onchain.root
            found = [self.ws.index.find(rid) for rid in ids]
        if anchored:
            missing = [hex32(rid) for rid, p in zip(ids, found, strict=True) if p is None]
            if missing:
                raise CommitmentMismatch(
                    f"batch 0x{batch_id.hex()} is anchored but {len(missing)} of its records "
                    f"(first {missing[0]}) are not in the record index: restore the index")
        elif not fresh and not all(p is not None and self._complete(p) for p in found):
            # some member is incomplete, so the batch was never committed, let alone anchored:
            # seal every member again, leaving no stale copy (a pack, a loose key) behind
            found = self._discard_batch(batch_id, ids, found)
            loose = {i for i, p in enumerate(found) if p is not None}
            found = [None] * len(ids)
        jobs: list[SealJob] = []
        key_cache = {} if key_cache is None else key_cache
        patients: dict[str, str] = {}
        for i, ((patient, plaintext), p) in enumerate(zip(items, found, strict=True)):
            if p is None:
                who = patients.get(patient) or patients.setdefault(
                    patient, address(patient, "patient"))
                jobs.append((i, ids[i], who, self._patient_key(who, key_cache), bytes(plaintext)))
        flight = BatchInFlight(self, batch_id, cat, ids, found, loose, anchored, onchain_root,
                               jobs, progress)
        if executor is not None and isinstance(self.ws.blobs, LocalBlobStore):
            flight.executor, flight.chunk = executor, max(32, min(256, -(-len(jobs) // 4)))
            flight.futures = []
            flight.submit(everything=True)
        return flight

    def open_batch(self, category: Category | str, executor: Executor, *, chunk: int = 256,
                   key_cache: dict[str, bytes] | None = None) -> BatchInFlight:
        """A new batch (a fresh id) whose members are added one at a time
        (``BatchInFlight.add``) and sealed in ``executor``'s processes ``chunk`` at a time as
        they come, before the batch is complete; ``finish()`` then commits and anchors it like
        ``publish_batch``. Nothing of it is anchored before its ``finish()``; packs of a batch
        never finished are debris of an interrupted run (its ids are never used again)."""
        cat = category if isinstance(category, Category) else Category.parse(category)
        flight = BatchInFlight(self, new_batch_id(self.address), cat, [], [], set(), False,
                               ZERO32, [])
        if isinstance(self.ws.blobs, LocalBlobStore):
            flight.executor, flight.chunk, flight.futures = executor, chunk, []
        flight.key_cache = {} if key_cache is None else key_cache
        return flight

    def _discard_batch(self, batch_id: bytes, ids: list[bytes],
                       found: list[RecordPointer | None]) -> list[RecordPointer | None]:
        """Remove what an attempt that never committed wrote of a batch: its packs, its index
        segment and loose wrapped keys of its members; return the members found as loose
        pointer files (written again loose, so no stale file shadows the new pointer)."""
        blobs = self.ws.blobs
        if isinstance(blobs, LocalBlobStore):
            blobs.discard_packs(batch_id.hex())
        self.ws.keys.discard_packs(batch_id)
        self.ws.index.discard_segment(batch_id)
        keys_dir = str(self.ws.keys.directory)
        for rid in ids:
            if os.path.isdir(os.path.join(keys_dir, rid.hex())):
                self.ws.keys.delete_all(rid)
        return [self.ws.index.find(rid) if p is not None else None for rid, p in zip(ids, found,
                                                                                    strict=True)]

    def _complete(self, ptr: RecordPointer) -> bool:
        """Whether a member written by an interrupted attempt has its blob and both keys, and
        they are sound: the blob matches its CID and commitment and opens with the issuer's own
        wrapped key (a file a power cut left unwritten before the group commit is not)."""
        try:
            if len(self.ws.keys.list(ptr.id_bytes)) < 2:
                return False
            blob = self.ws.blobs.get(ptr.cid)
            if keccak(blob) != ptr.commitment_bytes:
                return False
            decrypt_record(blob, self.unwrap_own(ptr.id_bytes, ptr.binding), ptr.binding)
            return True
        except (InvalidInput, OSError, BlobCorrupted, DecryptionError):
            return False

    def _anchor_batch(self, batch_id: bytes, root: bytes, count: int,
                      category: Category) -> TxReceipt:
        return self.transact(self.ledger.records.anchor_batch(batch_id, root, count, category.code))


@dataclass
class BatchInFlight:
    """A Merkle batch whose members are being sealed (``Provider.begin_batch``): ``finish()``
    collects them, writes the index segment, group-commits and anchors."""

    provider: Provider
    batch_id: bytes
    category: Category
    ids: list[bytes]
    found: list[RecordPointer | None]
    #: members whose pointer was a loose file of an earlier attempt (written loose again)
    loose: set[int]
    anchored: bool
    onchain_root: bytes
    jobs: list[SealJob]
    progress: Any = None
    #: sealing in a process pool: the jobs submitted so far, ``chunk`` at a time
    futures: list[Future[tuple[list[Sealed], list[str], list[str]]]] | None = None
    executor: Executor | None = None
    chunk: int = 256
    submitted: int = 0
    key_cache: dict[str, bytes] = field(default_factory=dict)
    #: patients as given -> checksummed
    patients: dict[str, str] = field(default_factory=dict)

    def add(self, patient: str, plaintext: bytes) -> None:
        """Add a member (``Provider.open_batch``): it is sealed with the next full chunk."""
        index = len(self.ids)
        record_id = batch_member_id(self.batch_id, index)
        who = self.patients.get(patient) or self.patients.setdefault(
            patient, address(patient, "patient"))
        key = self.provider._patient_key(who, self.key_cache)
        self.ids.append(record_id)
        self.found.append(None)
        self.jobs.append((index, record_id, who, key, bytes(plaintext)))
        self.submit()

    def submit(self, *, everything: bool = False) -> None:
        """Send the full chunks of the jobs not sent yet to the pool (``everything``: the
        last, partial one too)."""
        if self.futures is None or self.executor is None:
            return
        provider = self.provider
        blobs = provider.ws.blobs
        assert isinstance(blobs, LocalBlobStore)
        while len(self.jobs) - self.submitted >= (1 if everything else self.chunk):
            jobs = self.jobs[self.submitted:self.submitted + self.chunk]
            self.futures.append(self.executor.submit(
                seal_chunk, str(blobs.directory), str(provider.ws.keys.directory),
                blobs.max_blob_size, provider.keypair.public_bytes, jobs))
            self.submitted += len(jobs)

    def cancel(self) -> None:
        """Cancel the sealing jobs not started yet (the caller gives the batch up)."""
        for future in self.futures or []:
            future.cancel()

    def _sealed(self, group: GroupCommit) -> Iterator[list[Sealed]]:
        if self.futures is None:
            if self.jobs:
                ws = self.provider.ws
                yield seal(ws.blobs, ws.keys, self.provider.keypair.public_bytes, self.jobs,
                           group)
            return
        try:
            for future in self.futures:
                sealed, files, dirs = future.result()
                group.merge(files, dirs)
                yield sealed
        finally:
            self.cancel()

    def finish(self) -> tuple[bytes, list[RecordPointer], TxReceipt | None]:
        """Wait for the sealing, write every new member's pointer once (the batch's segment),
        make the batch durable (group commit), then anchor it; return ``(root, pointers,
        receipt)`` like ``Provider.publish_batch``."""
        return finish_batches([self])[0]

    def _prepare(self, group: GroupCommit) -> tuple[MerkleTree, list[RecordPointer], str]:
        """Wait for the sealing, build the tree and stage the batch's segment (and pointers
        of loose members) into ``group``; return the tree, the members and the root in hex."""
        if not self.ids:
            raise InvalidInput("a batch needs at least one record")
        self.submit(everything=True)
        provider, batch_id, ids = self.provider, self.batch_id, self.ids
        ws = provider.ws
        pointers: list[RecordPointer | None] = list(self.found)
        done = len(ids) - len(self.jobs)
        patient_of = {job[0]: job[2] for job in self.jobs}
        issuer, category, zero = provider.address, self.category.name, hex32(ZERO32)
        for sealed in self._sealed(group):
            for i, cid, commitment in sealed:
                pointers[i] = RecordPointer(
                    record_id=hex32(ids[i]), version=1, patient=patient_of[i], issuer=issuer,
                    category=category, cid=cid, commitment=hex32(commitment),
                    previous_version=zero)
            done += len(sealed)
            if self.progress is not None:
                self.progress(done)
        members = [p for p in pointers if p is not None]
        assert len(members) == len(ids)
        code = self.category.code  # once, not per member
        tree = MerkleTree.build([leaf_hash(p.patient, rid, p.commitment_bytes, code)
                                 for rid, p in zip(ids, members, strict=True)])
        root_hex = hex32(tree.root)
        if self.anchored and self.onchain_root != tree.root:
            raise CommitmentMismatch(
                f"batch 0x{batch_id.hex()} is already anchored with another root: the items "
                "differ from the first attempt; publish them as a new batch")
        segment = False
        for i, p in enumerate(members):
            proof = [hex32(x) for x in tree.proof(i)]
            if p.batch_root != root_hex or p.proof != proof or self.found[i] is None:
                p.batch_root, p.proof = root_hex, proof
                if i in self.loose:
                    ws.index.put(p, group=group)
                else:
                    segment = True
        if segment:  # one index write per record: each member's pointer once, in the segment
            ws.index.put_batch([p for i, p in enumerate(members) if i not in self.loose],
                               group=group)
        return tree, members, root_hex


def finish_batches(flights: Sequence[BatchInFlight],
                   ) -> list[tuple[bytes, list[RecordPointer], TxReceipt | None]]:
    """Finish batches of one provider together (``BatchInFlight.finish`` is one of them):
    wait for their sealing and stage their segments, make all their files durable in one
    group commit, only then send their anchors back to back and wait for each receipt, and
    record their anchoring in one more group commit. If an anchor fails, the batches before it
    are still recorded as anchored before the error is raised.

    Returns:
        ``(root, pointers, receipt)`` of each batch, in order.
    """
    if not flights:
        return []
    provider = flights[0].provider
    if any(f.provider is not provider for f in flights):
        raise InvalidInput("finish_batches takes batches of one provider")
    group = GroupCommit()
    prepared = [f._prepare(group) for f in flights]
    group.commit()  # durable before anything goes on chain
    sent: list[SentTransaction | None] = []
    for f, (tree, members, _) in zip(flights, prepared, strict=True):
        if f.anchored:
            sent.append(None)
            continue
        assert provider.sender is not None
        sent.append(provider.ledger.records.anchor_batch(
            f.batch_id, tree.root, len(members), f.category.code).send(provider.sender))
    out: list[tuple[bytes, list[RecordPointer], TxReceipt | None]] = []
    marks = GroupCommit()
    try:
        for f, tx, (tree, members, root_hex) in zip(flights, sent, prepared, strict=True):
            receipt = None if tx is None or provider.sender is None else provider.sender.wait(tx)
            provider.ws.index.mark_batch_anchored(f.batch_id, root_hex, group=marks)
            for p in members:
                p.status = "anchored"
            out.append((tree.root, members, receipt))
    finally:
        marks.commit()
    return out


def _leaf(ptr: RecordPointer) -> bytes:
    """The binding leaf of a pointer, as ``RecordRegistry.leafHash`` computes it."""
    return leaf_hash(ptr.patient, ptr.id_bytes, ptr.commitment_bytes, ptr.category_code)
