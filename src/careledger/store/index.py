"""The record index: where each record's ciphertext is (CID), whose it is and, for a batch
member, its Merkle proof. It plays the part of a hospital's record locator; nothing in it goes
on chain, and nothing read from it is trusted without checking the chain."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path

from careledger.codes import Category
from careledger.crypto.envelope import RecordBinding
from careledger.errors import RecordNotFound
from careledger.store.atomic import write_json_atomic
from careledger.validate import address, bytes32

ZERO32 = b"\x00" * 32


def hex32(value: bytes) -> str:
    """``0x`` + hex of 32 bytes (how the index writes ids, commitments and roots)."""
    return "0x" + value.hex()


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
    previous_version: str = hex32(ZERO32)
    batch_root: str | None = None
    proof: list[str] = field(default_factory=list)
    status: str = "pending"  # pending → anchored
    tx_hash: str | None = None

    @property
    def id_bytes(self) -> bytes:
        """The record id as bytes."""
        return bytes.fromhex(self.record_id[2:])

    @property
    def commitment_bytes(self) -> bytes:
        """The commitment (keccak256 of the ciphertext) as bytes."""
        return bytes.fromhex(self.commitment[2:])

    @property
    def previous_bytes(self) -> bytes:
        """The previous version's id as bytes (zero for a first version)."""
        return bytes.fromhex(self.previous_version[2:])

    @property
    def proof_bytes(self) -> list[bytes]:
        """The Merkle proof as bytes."""
        return [bytes.fromhex(x[2:]) for x in self.proof]

    @property
    def category_code(self) -> bytes:
        """The category's on-chain bytes32."""
        return Category.parse(self.category).code

    @property
    def binding(self) -> RecordBinding:
        """Record id, version and patient: what the ciphertext and wrapped keys are bound to."""
        return RecordBinding(self.id_bytes, self.version, self.patient)


class RecordIndex:
    """A directory of ``RecordPointer`` JSON files, each written atomically and durably."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.root = Path(directory)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def _path(self, record_id: str) -> Path:
        return self.root / f"{record_id.lower()}.json"

    def put(self, ptr: RecordPointer) -> None:
        """Store (or replace) a pointer durably."""
        write_json_atomic(self._path(ptr.record_id), asdict(ptr), indent=None)

    def get(self, record_id: str | bytes) -> RecordPointer:
        """The pointer of ``record_id``.

        Raises:
            RecordNotFound: unknown id.
        """
        rid = hex32(bytes32(record_id, "record id"))
        path = self._path(rid)
        if not path.exists():
            raise RecordNotFound(f"record {rid} is not in the record index at {self.root}")
        return RecordPointer(**json.loads(path.read_text()))

    def has(self, record_id: str | bytes) -> bool:
        """True if ``record_id`` is indexed."""
        return self._path(hex32(bytes32(record_id, "record id"))).exists()

    def all(self) -> list[RecordPointer]:
        """Every pointer (for reconciliation and listings)."""
        return [RecordPointer(**json.loads(p.read_text()))
                for p in sorted(self.root.glob("0x*.json"))]

    def for_patient(self, patient: str) -> list[RecordPointer]:
        """Every record of ``patient``."""
        p = address(patient)
        return [r for r in self.all() if r.patient == p]
