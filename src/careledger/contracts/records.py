"""``RecordRegistry``: write-once record anchors, versions and Merkle batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_utils.address import to_checksum_address

from careledger.contracts.base import ContractTx, ContractWrapper


@dataclass(frozen=True)
class Batch:
    """An anchored Merkle batch; ``count`` is 0 when the root was never anchored."""

    root: bytes
    issuer: str
    count: int
    anchored_at: int
    category: bytes

    @property
    def anchored(self) -> bool:
        """True once the root is on chain."""
        return self.count > 0


class RecordRegistry(ContractWrapper):
    """Write-once record anchors, versions and Merkle batches."""

    NAME = "RecordRegistry"

    # -- reads ------------------------------------------------------------------------------

    def commitment_of(self, record_id: bytes) -> bytes:
        """The anchored commitment (32 zero bytes when not anchored)."""
        return bytes(self._view("commitmentOf", record_id))

    def next_version_of(self, record_id: bytes) -> bytes:
        """The id of the version that amended ``record_id`` (zero when it is the latest)."""
        return bytes(self._view("nextVersionOf", record_id))

    def issuer_of(self, record_id: bytes) -> str:
        """The institution that anchored ``record_id`` (zero address when not anchored)."""
        return to_checksum_address(self._view("issuerOf", record_id))

    def batch(self, root: bytes) -> Batch:
        """The batch anchored under ``root``."""
        issuer, count, at, cat = self._view("batch", root)
        return Batch(root, to_checksum_address(issuer), int(count), int(at), bytes(cat))

    def verify_batch_record(self, root: bytes, proof: Sequence[bytes], patient: str,
                            record_id: bytes, commitment: bytes, category: bytes) -> bool:
        """On-chain MerkleProof check of one record's inclusion in a batch."""
        return bool(self._view("verifyBatchRecord", root, list(proof), patient, record_id,
                               commitment, category))

    # -- writes (active PROVIDER institutions) -----------------------------------------------

    def anchor(self, patient: str, record_id: bytes, commitment: bytes, category: bytes,
               previous_version: bytes) -> ContractTx:
        """Anchor one record version (write-once; ``previous_version`` zero for a first one)."""
        return self._tx("anchor", patient, record_id, commitment, category, previous_version,
                        description=f"anchor 0x{record_id.hex()}")

    def anchor_batch(self, root: bytes, count: int, category: bytes) -> ContractTx:
        """Anchor the Merkle root of ``count`` records of one category."""
        return self._tx("anchorBatch", root, count, category, description="anchor batch")
