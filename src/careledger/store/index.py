"""The record index: where each record's ciphertext is (CID), whose it is and, for a batch
member, its Merkle proof. It plays the part of a hospital's record locator; nothing in it goes
on chain, and nothing read from it is trusted without checking the chain."""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from careledger.codes import Category
from careledger.crypto.envelope import RecordBinding
from careledger.errors import InvalidInput, RecordNotFound
from careledger.store.atomic import (
    GroupCommit,
    fsync_dir,
    mkdirs_durable,
    write_atomic,
    write_json_atomic,
)
from careledger.store.blobs import _cid_text, parse_cid
from careledger.validate import address, bytes32

ZERO32 = b"\x00" * 32
_SEGMENT_MAGIC = b"CLSEG1\n"
#: member index, patient (index into the header's list), version, CID digest, commitment,
#: previous version, proof length; then the proof's hashes
_MEMBER = struct.Struct(">III32s32s32sB")


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


def encode_segment(pointers: Sequence[RecordPointer]) -> bytes:
    """The bytes of a segment: the pointers of members of one Merkle batch (one root, issuer,
    category, no transaction of their own), in a fixed binary layout after a JSON header
    line, with the SHA-256 of everything before it at the end. The status is not kept: a
    member is pending until its batch is marked anchored (``mark_batch_anchored``).

    Raises:
        InvalidInput: the pointers are not members of one batch like that.
    """
    first = pointers[0]
    batch = first.id_bytes[:28]
    patients: dict[str, int] = {}
    rows = []
    for p in pointers:
        rid = p.id_bytes
        if (rid[:28] != batch or p.batch_root != first.batch_root or p.issuer != first.issuer
                or p.category != first.category or p.tx_hash is not None
                or first.batch_root is None):
            raise InvalidInput("a segment holds members of one Merkle batch")
        cid = parse_cid(p.cid)
        if cid.text != p.cid:
            raise InvalidInput(f"{p.cid} is not a canonical CID")
        proof = p.proof_bytes
        rows.append(_MEMBER.pack(int.from_bytes(rid[28:], "big"),
                                 patients.setdefault(p.patient, len(patients)), p.version,
                                 cid.raw_digest, p.commitment_bytes, p.previous_bytes,
                                 len(proof)))
        rows.append(b"".join(proof))
    header = json.dumps({"batch": batch.hex(), "batch_root": first.batch_root,
                         "issuer": first.issuer, "category": first.category,
                         "patients": list(patients), "count": len(pointers)}).encode()
    body = b"".join([_SEGMENT_MAGIC, header, b"\n", *rows])
    return body + hashlib.sha256(body).digest()


#: a decoded segment: its header and, per record id, (patient, version, digest, commitment,
#: previous, proof)
_Segment = tuple[dict[str, Any], dict[bytes, tuple[int, int, bytes, bytes, bytes, bytes]]]


def decode_segment(data: bytes) -> _Segment | None:
    """A segment's header and members, or ``None`` if it does not check (a power cut before
    its group commit: nothing anchored relies on it)."""
    body, digest = data[:-32], data[-32:]
    if not body.startswith(_SEGMENT_MAGIC) or hashlib.sha256(body).digest() != digest:
        return None
    end = body.index(b"\n", len(_SEGMENT_MAGIC))
    header = json.loads(body[len(_SEGMENT_MAGIC):end])
    batch = bytes.fromhex(header["batch"])
    members = {}
    at = end + 1
    while at < len(body):
        index, patient, version, cid, commitment, previous, n = _MEMBER.unpack_from(body, at)
        at += _MEMBER.size
        members[batch + index.to_bytes(4, "big")] = (patient, version, cid, commitment,
                                                     previous, body[at:at + 32 * n])
        at += 32 * n
    return header, members


class RecordIndex:
    """A directory of ``RecordPointer`` JSON files, each written atomically and durably, and
    of segments, one per Merkle batch (``segments/<batch id>.seg``, ``put_batch``), holding
    the pointers of its members in a compact binary layout. A pointer file takes precedence
    over a segment's copy (a record updated one by one after its batch).

    A Merkle batch's members are written once each (``status`` pending, with root and proof)
    before the batch is anchored; the anchoring is then recorded once for the whole batch
    (``mark_batch_anchored``: ``batches/<batch id>.json``), and every read reports its
    members as anchored.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.root = Path(directory)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._segments_dir = self.root / "segments"
        #: segment path -> ((inode, size, mtime ns), decoded segment)
        self._segments: dict[str, tuple[tuple[int, int, int], _Segment | None]] = {}

    def _segment_path(self, batch_id: bytes) -> str:
        return os.path.join(self._segments_dir, f"{batch_id.hex()}.seg")

    def put_batch(self, pointers: Sequence[RecordPointer], *,
                  group: GroupCommit | None = None) -> Path:
        """Write the pointers of members of one Merkle batch as its segment (replacing an
        earlier one), each member's pointer once; ``group``: fsynced once by its commit,
        else durable now. Return the segment's path.

        Raises:
            InvalidInput: not members of one batch (see ``encode_segment``).
        """
        if not pointers:
            raise InvalidInput("a segment holds at least one pointer")
        path = Path(self._segment_path(pointers[0].id_bytes[:28]))
        mkdirs_durable(path.parent, self.root, group)
        return write_atomic(path, encode_segment(pointers), group=group)

    def discard_segment(self, batch_id: bytes) -> bool:
        """Remove the segment of ``batch_id`` (a batch never anchored, sealed again),
        durably; return whether there was one."""
        path = Path(self._segment_path(batch_id))
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        fsync_dir(path.parent)
        self._segments.pop(str(path), None)
        return True

    def _segment(self, path: str) -> _Segment | None:
        """The decoded segment at ``path`` (cached while the file is unchanged)."""
        try:
            with open(path, "rb") as handle:
                st = os.fstat(handle.fileno())
                sig = (st.st_ino, st.st_size, st.st_mtime_ns)
                cached = self._segments.get(path)
                if cached is not None and cached[0] == sig:
                    return cached[1]
                data = handle.read()
        except FileNotFoundError:
            self._segments.pop(path, None)
            return None
        try:
            segment = decode_segment(data)
        except (ValueError, KeyError, struct.error):
            segment = None
        self._segments[path] = (sig, segment)
        return segment

    def _from_segment(self, record_id: bytes) -> RecordPointer | None:
        segment = self._segment(self._segment_path(record_id[:28]))
        if segment is None or record_id not in segment[1]:
            return None
        return _pointer(segment[0], record_id, segment[1][record_id])

    def _segment_pointers(self) -> Iterator[RecordPointer]:
        try:
            names = sorted(os.listdir(self._segments_dir))
        except FileNotFoundError:
            return
        for name in names:
            if name.endswith(".seg") and not name.startswith("."):
                segment = self._segment(os.path.join(self._segments_dir, name))
                if segment is not None:
                    for rid, row in segment[1].items():
                        yield _pointer(segment[0], rid, row)

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

    def mark_batch_anchored(self, batch_id: bytes, root: str, *,
                            group: GroupCommit | None = None) -> None:
        """Record durably that the batch ``batch_id`` (28 bytes) is anchored with ``root``:
        one write for all its members (``group``: made durable by its commit)."""
        record = {"batch": "0x" + batch_id.hex(), "root": root, "status": "anchored"}
        path = self._batch_path(batch_id)
        if group is None:
            write_json_atomic(path, record, make_parents=True, indent=None)
            return
        mkdirs_durable(path.parent, self.root, group)
        write_atomic(path, json.dumps(record, sort_keys=True).encode() + b"\n", group=group)

    def batch_anchored(self, batch_id: bytes) -> str | None:
        """The root recorded by ``mark_batch_anchored`` (``None``: not recorded)."""
        try:
            return str(json.loads(self._batch_path(batch_id).read_bytes())["root"])
        except (FileNotFoundError, ValueError, KeyError):
            return None

    def _load(self, path: Path, marks: dict[bytes, str | None] | None = None) -> RecordPointer:
        return self._status(RecordPointer(**json.loads(path.read_bytes())), marks)

    def _status(self, ptr: RecordPointer,
                marks: dict[bytes, str | None] | None = None) -> RecordPointer:
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
        raw = bytes32(record_id, "record id")
        rid = hex32(raw)
        path = self._path(rid)
        if path.exists():
            return self._load(path)
        ptr = self._from_segment(raw)
        if ptr is None:
            raise RecordNotFound(f"record {rid} is not in the record index at {self.root}")
        return self._status(ptr)

    def find(self, record_id: bytes) -> RecordPointer | None:
        """The pointer of ``record_id`` (32 bytes), or ``None`` if absent or unreadable (a
        file a power cut emptied before its group commit: nothing anchored relies on it)."""
        try:
            return self._load(self._path(hex32(record_id)))
        except FileNotFoundError:
            ptr = self._from_segment(record_id)
            return None if ptr is None else self._status(ptr)
        except (ValueError, TypeError):
            return None

    def has(self, record_id: str | bytes) -> bool:
        """True if ``record_id`` is indexed."""
        raw = bytes32(record_id, "record id")
        return self._path(hex32(raw)).exists() or self._from_segment(raw) is not None

    def all(self) -> list[RecordPointer]:
        """Every pointer (for reconciliation and listings), sorted by record id."""
        marks: dict[bytes, str | None] = {}
        loose = {p.name[:-5]: self._load(p, marks) for p in self.root.glob("0x*.json")}
        for ptr in self._segment_pointers():
            if ptr.record_id not in loose:
                loose[ptr.record_id] = self._status(ptr, marks)
        return [loose[k] for k in sorted(loose)]

    def for_patient(self, patient: str) -> list[RecordPointer]:
        """Every record of ``patient``."""
        p = address(patient)
        return [r for r in self.all() if r.patient == p]


def _pointer(header: dict[str, Any], record_id: bytes,
             row: tuple[int, int, bytes, bytes, bytes, bytes]) -> RecordPointer:
    """A fresh ``RecordPointer`` of a segment's member."""
    patient, version, cid, commitment, previous, proof = row
    return RecordPointer(
        record_id=hex32(record_id), version=version, patient=header["patients"][patient],
        issuer=header["issuer"], category=header["category"], cid=_cid_text(cid),
        commitment=hex32(commitment), previous_version=hex32(previous),
        batch_root=header["batch_root"],
        proof=["0x" + proof[k:k + 32].hex() for k in range(0, len(proof), 32)])
