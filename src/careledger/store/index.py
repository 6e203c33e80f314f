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
from careledger.store.atomic import GroupCommit, write_atomic, write_json_atomic
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


def _pointer_json(ptr: RecordPointer) -> bytes:
    """``asdict`` without its deep copies (a batch writes thousands of pointers)."""
    return json.dumps({
        "batch_root": ptr.batch_root, "category": ptr.category, "cid": ptr.cid,
        "commitment": ptr.commitment, "issuer": ptr.issuer, "patient": ptr.patient,
        "previous_version": ptr.previous_version, "proof": list(ptr.proof),
        "record_id": ptr.record_id, "status": ptr.status, "tx_hash": ptr.tx_hash,
        "version": ptr.version,
    }, sort_keys=True).encode() + b"\n"


class RecordIndex:
    """A directory of ``RecordPointer`` JSON files, each written atomically and durably.

    A Merkle batch's members are written once each (``status`` pending, with root and proof)
    before the batch is anchored; the anchoring is then recorded once for the whole batch
    (``mark_batch_anchored``: ``batches/<batch id>.json``), and every read reports its
    members as anchored.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.root = Path(directory)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def _path(self, record_id: str) -> Path:
        return self.root / f"{record_id.lower()}.json"

    def _batch_path(self, batch_id: bytes) -> Path:
        return self.root / "batches" / f"0x{batch_id.hex()}.json"

    def put(self, ptr: RecordPointer, *, group: GroupCommit | None = None) -> None:
        """Store (or replace) a pointer durably (``group``: fsynced once by its commit)."""
        if group is not None:
            write_atomic(self._path(ptr.record_id), _pointer_json(ptr), group=group)
        else:
            write_json_atomic(self._path(ptr.record_id), asdict(ptr), indent=None)

    def mark_batch_anchored(self, batch_id: bytes, root: str) -> None:
        """Record durably that the batch ``batch_id`` (28 bytes) is anchored with ``root``:
        one write for all its members."""
        write_json_atomic(self._batch_path(batch_id), {"batch": "0x" + batch_id.hex(),
                                                       "root": root, "status": "anchored"},
                          make_parents=True, indent=None)

    def batch_anchored(self, batch_id: bytes) -> str | None:
        """The root recorded by ``mark_batch_anchored`` (``None``: not recorded)."""
        try:
            return str(json.loads(self._batch_path(batch_id).read_bytes())["root"])
        except (FileNotFoundError, ValueError, KeyError):
            return None

    def _load(self, path: Path, marks: dict[bytes, str | None] | None = None) -> RecordPointer:
        ptr = RecordPointer(**json.loads(path.read_bytes()))
        if ptr.batch_root is not None and ptr.status != "anchored":
            batch = ptr.id_bytes[:28]
            if marks is None:
                root = self.batch_anchored(batch)
            else:
                if batch not in marks:
                    marks[batch] = self.batch_anchored(batch)
                root = marks[batch]
            if root == ptr.batch_root:
                ptr.status = "anchored"
        return ptr

    def get(self, record_id: str | bytes) -> RecordPointer:
        """The pointer of ``record_id``.

        Raises:
            RecordNotFound: unknown id.
        """
        rid = hex32(bytes32(record_id, "record id"))
        path = self._path(rid)
        if not path.exists():
            raise RecordNotFound(f"record {rid} is not in the record index at {self.root}")
        return self._load(path)

    def find(self, record_id: bytes) -> RecordPointer | None:
        """The pointer of ``record_id`` (32 bytes), or ``None`` if absent or unreadable (a
        file a power cut emptied before its group commit: nothing anchored relies on it)."""
        try:
            return self._load(self._path(hex32(record_id)))
        except (FileNotFoundError, ValueError, TypeError):
            return None

    def has(self, record_id: str | bytes) -> bool:
        """True if ``record_id`` is indexed."""
        return self._path(hex32(bytes32(record_id, "record id"))).exists()

    def all(self) -> list[RecordPointer]:
        """Every pointer (for reconciliation and listings)."""
        marks: dict[bytes, str | None] = {}
        return [self._load(p, marks) for p in sorted(self.root.glob("0x*.json"))]

    def for_patient(self, patient: str) -> list[RecordPointer]:
        """Every record of ``patient``."""
        p = address(patient)
        return [r for r in self.all() if r.patient == p]
