"""What every actor shares: a deployment, an optional wallet, a workspace and an encryption
key; record ids; and the checks that tie a ciphertext to its on-chain anchor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_utils.crypto import keccak
from web3.types import TxReceipt

from careledger.chain import Sender
from careledger.contracts import CareLedger, ContractTx, is_batch_member
from careledger.crypto import (
    DataKey,
    EncryptionKeyPair,
    RecordBinding,
    decrypt_record,
    unwrap_data_key,
)
from careledger.crypto.streaming import decrypt_file, decrypt_segments
from careledger.errors import (
    BlobTooLarge,
    CareLedgerError,
    CommitmentMismatch,
    InvalidInput,
    KeyNotShared,
    NotAnchored,
    RecordNotAnchored,
    WrappedKeyNotFound,
)
from careledger.store import RecordIndex, RecordPointer, Workspace, write_atomic
from careledger.store.chunked import PieceReader, StreamManifest, is_manifest
from careledger.validate import address, bytes32

ZERO32 = b"\x00" * 32


def check_record_id(record_id: bytes, issuer: str) -> bytes:
    """Raise ``InvalidInput`` unless ``record_id`` is a single-record id in ``issuer``'s namespace."""
    if record_id[:20] != bytes.fromhex(address(issuer)[2:]) or is_batch_member(record_id):
        raise InvalidInput(
            f"record id 0x{record_id.hex()} must start with the issuing institution's address "
            f"{address(issuer)}; let the SDK choose one (omit record_id) or use "
            "new_record_id(issuer)")
    return record_id


class Actor:
    """Base of ``Patient`` and ``Institution``: a deployment, a wallet, a workspace, a key."""

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

    def transact(self, tx: ContractTx) -> TxReceipt:
        """Send ``tx`` from this actor's wallet and wait for the receipt."""
        if self.sender is None:
            raise InvalidInput("this actor has no wallet: use a signed consent and a relayer")
        return tx.transact(self.sender)

    def unwrap(self, ptr: RecordPointer) -> DataKey:
        """The record's data key, from the copy wrapped to this actor's key.

        Raises:
            KeyNotShared: no copy is wrapped to this actor.
        """
        try:
            wrapped = self.ws.keys.get(ptr.record_id, ptr.version, self.keypair.public_bytes)
        except WrappedKeyNotFound:
            raise KeyNotShared(
                f"no data key for record {ptr.record_id} is wrapped to your key: it was not "
                "shared with you yet, or it was revoked or erased; ask the patient to share it"
            ) from None
        return unwrap_data_key(wrapped, ptr.binding, self.keypair)


def verify_pointer(ledger: CareLedger, ptr: RecordPointer) -> None:
    """Check a record-index entry against the chain: the record is anchored for exactly this
    patient, category and commitment (single records by their binding, batch members by their
    Merkle proof to their batch's root). After this, the pointer's patient and category are the
    chain's, not a local file's.

    Raises:
        NotAnchored: the record (or its batch) is not on chain.
        RecordBindingMismatch: the chain binds the id to another patient, category or commitment.
    """
    try:
        ledger.records.check_binding(ptr.patient, ptr.id_bytes, ptr.commitment_bytes,
                                     ptr.category_code, ptr.proof_bytes)
    except RecordNotAnchored as exc:
        raise NotAnchored(f"record {ptr.record_id} is not anchored on chain (yet)") from exc


def verify_pointers(ledger: CareLedger, pointers: list[RecordPointer]) -> None:
    """``verify_pointer`` of many pointers in one call (``RecordRegistry.checkBindings``; the
    batch members by one multiproof per batch, rebuilt from their own proofs).

    Raises:
        NotAnchored, RecordBindingMismatch: see ``verify_pointer`` (the first failing record, or
            a multiproof's first leaf).
    """
    from careledger.contracts import StudyAccessItem, batch_proofs

    items = [StudyAccessItem.of(p) for p in pointers]
    counts = ledger.records.batch_counts(i.record_id for i in items)
    try:
        ledger.records.check_bindings(items, batch_proofs(items, counts))
    except RecordNotAnchored as exc:
        raise NotAnchored(f"a record of these is not anchored on chain (yet): {exc}") from exc


def verify_commitment(ledger: CareLedger, ptr: RecordPointer, blob: bytes) -> None:
    """Check ``blob`` against the pointer and the pointer against the chain (``verify_pointer``).

    Raises:
        CommitmentMismatch: the blob is not the pointer's ciphertext.
        NotAnchored, RecordBindingMismatch: see ``verify_pointer``.
    """
    if keccak(blob) != ptr.commitment_bytes:
        raise CommitmentMismatch(
            f"the ciphertext of record {ptr.record_id} does not match its commitment: "
            "the blob store returned other bytes; do not trust this copy")
    verify_pointer(ledger, ptr)


def version_chain(ledger: CareLedger, index: RecordIndex, record_id: bytes) -> list[bytes]:
    """Every version id of a record, oldest first: earlier ones from ``index``
    (``previous_version`` links of the pointers it holds), later ones from the chain
    (``nextVersionOf``)."""
    chain = [record_id]
    current = record_id
    while index.has(current):
        previous = index.get(current).previous_bytes
        if previous == ZERO32 or previous in chain:
            break
        chain.insert(0, previous)
        current = previous
    nxt = ledger.records.next_version_of(record_id)
    while nxt != ZERO32 and nxt not in chain:
        chain.append(nxt)
        nxt = ledger.records.next_version_of(nxt)
    return chain


def latest_version(ledger: CareLedger, record_id: str | bytes) -> bytes:
    """Follow ``nextVersionOf`` links on chain to the newest version of a record."""
    rid = bytes32(record_id, "record id")
    seen = 0
    while True:
        nxt = ledger.records.next_version_of(rid)
        if nxt == ZERO32:
            return rid
        rid = nxt
        seen += 1
        if seen > 10_000:
            raise CareLedgerError("version chain longer than 10,000: refusing to follow")


#: Largest streamed record ``read_record`` decrypts into memory; beyond, save it to a file.
IN_MEMORY_LIMIT = 64 * 1024 * 1024

Fetch = Callable[[str], bytes]
#: What to do with a verified record blob once its key is known: ``read_record`` (bytes) or
#: ``RecordSaver`` (a file, streamed in constant memory).
Opener = Callable[[bytes, DataKey, RecordBinding, Fetch], Any]


def read_record(blob: bytes, key: DataKey, binding: RecordBinding, fetch: Fetch) -> bytes:
    """The plaintext of a record: a single envelope, or a streamed record (its pieces fetched
    with ``fetch``) up to ``IN_MEMORY_LIMIT``.

    Raises:
        BlobTooLarge: a streamed record over the limit (save it to a file instead).
    """
    if not is_manifest(blob):
        return decrypt_record(blob, key, binding)
    manifest = StreamManifest.from_bytes(blob)
    _fits_in_memory(manifest)
    return b"".join(bytes(p) for p in decrypt_segments(
        PieceReader(manifest, fetch), manifest.ciphertext_size, key.secret,
        binding.associated_data(), manifest.layout))


@dataclass
class RecordSaver:
    """An ``Opener`` that writes the plaintext to ``out`` (mode 0600, atomically: nothing is
    left at ``out`` unless every byte verified); returns the number of bytes written."""

    out: Path
    progress: Callable[[int], None] | None = None
    max_size: int | None = None
    #: told the plaintext size once it is known (to size a progress bar)
    on_size: Callable[[int], None] | None = None

    def __call__(self, blob: bytes, key: DataKey, binding: RecordBinding, fetch: Fetch) -> int:
        if not is_manifest(blob):
            data = decrypt_record(blob, key, binding)
            if self.on_size is not None:
                self.on_size(len(data))
            write_atomic(self.out, data, mode=0o600)
            if self.progress is not None:
                self.progress(len(data))
            return len(data)
        manifest = StreamManifest.from_bytes(blob)
        self.check_size(manifest.plaintext_size)
        if self.on_size is not None:
            self.on_size(manifest.plaintext_size)
        return decrypt_file(PieceReader(manifest, fetch), manifest.ciphertext_size, self.out,
                            key.secret, binding.associated_data(), manifest.layout,
                            progress=self.progress)

    def check_size(self, plaintext_size: int) -> None:
        """Refuse a record over ``max_size`` (called before anything is logged as well)."""
        if self.max_size is not None and plaintext_size > self.max_size:
            raise BlobTooLarge(f"this record is {plaintext_size:,} bytes, over your limit of "
                               f"{self.max_size:,}: raise --max-size to fetch it")


def preflight(blob: bytes, opener: Opener) -> None:
    """What can be checked of a record's blob before an access is logged: a manifest parses,
    and its size is within the caller's limit."""
    if is_manifest(blob):
        manifest = StreamManifest.from_bytes(blob)
        if isinstance(opener, RecordSaver):
            opener.check_size(manifest.plaintext_size)
        else:
            _fits_in_memory(manifest)


def _fits_in_memory(manifest: StreamManifest) -> None:
    if manifest.plaintext_size > IN_MEMORY_LIMIT:
        raise BlobTooLarge(f"this record is {manifest.plaintext_size:,} bytes: save it to a file "
                           "(careledger record get --out FILE, or the SDK's *_to_file methods)")
