"""``RecordRegistry``: write-once record anchors bound to patient and category, versions,
Merkle batches keyed by (issuer, batch number), and erasure notices."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eth_utils.address import to_checksum_address

from careledger.contracts.base import ContractTx, ContractWrapper
from careledger.errors import InvalidInput
from careledger.validate import address

if TYPE_CHECKING:
    from careledger.contracts.consent import BatchProof, StudyAccessItem

ZERO32 = b"\x00" * 32
#: Bit 95 of a record id (the top bit of its 12-byte suffix): set for batch members.
BATCH_FLAG = 1 << 95


def new_record_id(issuer: str) -> bytes:
    """A fresh single-record id in ``issuer``'s namespace: its 20-byte address, then 95 random
    bits (the top bit of the suffix clear marks a single record).

    The RecordRegistry accepts only ids that start with the anchoring institution's address;
    that is how it knows, without storing anything, who may supersede a version. The id reveals
    nothing about the record (the issuer is public in the anchor event anyway).
    """
    suffix = bytearray(secrets.token_bytes(12))
    suffix[0] &= 0x7F
    return bytes.fromhex(address(issuer)[2:]) + bytes(suffix)


def new_batch_id(issuer: str) -> bytes:
    """A fresh 28-byte batch id: ``issuer``'s address, the batch flag and 63 random bits."""
    number = bytearray(secrets.token_bytes(8))
    number[0] |= 0x80
    return bytes.fromhex(address(issuer)[2:]) + bytes(number)


def batch_member_id(batch_id: bytes, index: int) -> bytes:
    """The record id of leaf ``index`` of batch ``batch_id``."""
    if len(batch_id) != 28 or not batch_id[20] & 0x80:
        raise InvalidInput("a batch id is 28 bytes with the batch flag set: use new_batch_id")
    if not 0 <= index < 2**32:
        raise InvalidInput(f"a batch holds at most 2**32 records, got index {index}")
    return batch_id + index.to_bytes(4, "big")


def is_batch_member(record_id: bytes) -> bool:
    """True for a batch member's id (the top bit of its suffix is set)."""
    return bool(int.from_bytes(record_id, "big") & BATCH_FLAG)


def issuer_of_id(record_id: bytes) -> str:
    """The issuing institution named by a record (or batch) id: its first 20 bytes."""
    return str(to_checksum_address(record_id[:20]))


@dataclass(frozen=True)
class Batch:
    """An anchored Merkle batch; ``count`` is 0 when the batch id was never anchored."""

    batch_id: bytes
    root: bytes
    count: int
    anchored_at: int

    @property
    def anchored(self) -> bool:
        """True once the batch is on chain."""
        return self.count > 0


@dataclass(frozen=True)
class AnchoredRecord:
    """What the chain says about one single record (from its ``RecordAnchored`` event)."""

    record_id: bytes
    patient: str
    issuer: str
    commitment: bytes
    category: bytes
    previous_version: bytes
    block: int


class RecordRegistry(ContractWrapper):
    """Write-once record anchors, versions and Merkle batches."""

    NAME = "RecordRegistry"

    # -- reads ------------------------------------------------------------------------------

    def binding_of(self, record_id: bytes) -> bytes:
        """The binding leaf of a single record (32 zero bytes when not anchored)."""
        return bytes(self._view("bindingOf", record_id))

    def is_anchored(self, record_id: bytes) -> bool:
        """True once ``record_id`` is anchored (singly, or in an anchored batch)."""
        return bool(self._view("isAnchored", record_id))

    def next_version_of(self, record_id: bytes) -> bytes:
        """The id of the version that amended ``record_id`` (zero when it is the latest)."""
        return bytes(self._view("nextVersionOf", record_id))

    def issuer_of(self, record_id: bytes) -> str:
        """The institution that anchored ``record_id`` (zero address when not anchored)."""
        return to_checksum_address(self._view("issuerOf", record_id))

    def batch(self, batch_id: bytes) -> Batch:
        """The batch anchored under ``batch_id``."""
        root, count, at = self._view("batch", batch_id)
        return Batch(batch_id, bytes(root), int(count), int(at))

    def leaf_hash(self, patient: str, record_id: bytes, commitment: bytes, category: bytes) -> bytes:
        """The contract's leaf (binding) of a record."""
        return bytes(self._view("leafHash", patient, record_id, commitment, category))

    def verify_batch_record(self, proof: Sequence[bytes], patient: str, record_id: bytes,
                            commitment: bytes, category: bytes) -> bool:
        """On-chain check of one batch member's leaf against its batch root."""
        return bool(self._view("verifyBatchRecord", list(proof), patient, record_id, commitment,
                               category))

    def check_binding(self, patient: str, record_id: bytes, commitment: bytes, category: bytes,
                      proof: Sequence[bytes] = ()) -> None:
        """The check ``recordAccess`` makes first.

        Raises:
            RecordNotAnchored: the id was never anchored.
            RecordBindingMismatch: it is anchored for another patient, category or commitment.
        """
        self._view("checkBinding", patient, record_id, commitment, category, list(proof))

    def batch_counts(self, record_ids: Iterable[bytes],
                     known: dict[bytes, int] | None = None) -> dict[bytes, int]:
        """The anchored count (the tree's shape) of each batch with a member among
        ``record_ids``, read once: those in ``known`` are reused and the others added to it."""
        counts = {} if known is None else known
        for batch_id in {bytes(r[:28]) for r in record_ids if is_batch_member(r)}:
            if batch_id not in counts:
                counts[batch_id] = self.batch(batch_id).count
        return counts

    def check_bindings(self, claims: Sequence[StudyAccessItem],
                       proofs: Sequence[BatchProof]) -> None:
        """``check_binding`` of many records in one call, the batch members by multiproofs
        (``careledger.contracts.batch_proofs``).

        Raises:
            RecordNotAnchored, RecordBindingMismatch: as ``check_binding``, for the first claim
                (or multiproof) that does not hold.
            MissingBatchProof, BadBatchProof: ``proofs`` do not cover the members once each.
        """
        self._view("checkBindings",
                   [(c.patient, c.record_id, c.commitment, c.category) for c in claims],
                   [p.encoded() for p in proofs])

    def anchored(self, record_id: bytes, *, from_block: int = 0) -> AnchoredRecord | None:
        """The ``RecordAnchored`` event of a single record (``None`` if there is none)."""
        logs = self.logs("RecordAnchored", from_block=from_block, recordId=record_id)
        if not logs:
            return None
        a = logs[0]["args"]
        return AnchoredRecord(bytes(a["recordId"]), to_checksum_address(a["patient"]),
                              to_checksum_address(a["issuer"]), bytes(a["commitment"]),
                              bytes(a["category"]), bytes(a["previousVersion"]),
                              int(logs[0]["blockNumber"]))

    # -- writes (active PROVIDER institutions) -----------------------------------------------

    def anchor(self, patient: str, record_id: bytes, commitment: bytes, category: bytes,
               previous_version: bytes = ZERO32) -> ContractTx:
        """Anchor one record version (write-once; ``previous_version`` zero for a first one)."""
        return self._tx("anchor", patient, record_id, commitment, category, previous_version,
                        description=f"anchor 0x{record_id.hex()}")

    def anchor_batch(self, batch_id: bytes, root: bytes, count: int,
                     category: bytes) -> ContractTx:
        """Anchor the Merkle root of ``count`` records (member ids ``batch_id ‖ index``)."""
        return self._tx("anchorBatch", batch_id, root, count, category,
                        description=f"anchor batch 0x{batch_id.hex()}")

    def record_erased(self, record_id: bytes) -> ContractTx:
        """The issuer records on chain that it shredded its copies of a record's key."""
        return self._tx("recordErased", record_id, description=f"erased 0x{record_id.hex()}")
