"""Large records in the blob store: a stream's ciphertext cut into content-addressed pieces,
and a manifest that lists them.

The manifest is the record's blob: its CID is the record's pointer and ``keccak256`` of its
bytes is the commitment anchored on chain, so the chain commits to every piece through their
CIDs (sha2-256). A piece holds ``segments_per_piece`` whole stream segments (the first also
the stream header), so a reader fetches, verifies (CID) and decrypts piece by piece in
constant memory, from a local store or a node (``GET /blobs/{cid}``).

Manifest bytes: ``b"CLSM" || 0x01 || canonical JSON`` with ``segment_size``,
``segments_per_piece``, ``plaintext_size``, ``ciphertext_size`` and ``pieces`` (``[cid, size]``).

Writing is resumable and group-committed: pieces are written without fsync and made durable 32
at a time (one ``syncfs``) before the journal names them. ``store_stream`` keeps an upload
journal (stream salt and nonce prefix,
the source file's identity, each stored piece's CID and the SHA-256 of its plaintext) and,
called again for the same upload, checks that the source is unchanged and continues after the
last stored piece with the same key, salt and prefix, so the result is byte for byte what an
uninterrupted run writes and no nonce is ever used for two different plaintexts.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from careledger.crypto.streaming import (
    DEFAULT_LAYOUT,
    NONCE_PREFIX_SIZE,
    SALT_SIZE,
    StreamLayout,
    encrypt_segments,
)
from careledger.errors import (
    BlobTooLarge,
    InvalidInput,
    MalformedEnvelope,
    StreamTruncated,
)
from careledger.store.atomic import write_atomic
from careledger.store.blobs import BlobStore

MANIFEST_MAGIC = b"CLSM\x01"
#: Segments per stored piece: one 1 MiB segment (1,024 pieces per GiB; larger pieces cost
#: more memory, about 8 MiB of peak RSS per extra MiB, for no measurable speed).
SEGMENTS_PER_PIECE = 1
#: Pieces written before one filesystem flush makes them durable together (a store with
#: ``sync()``, the local one; others make each ``put`` durable).
GROUP_COMMIT = 32


def is_manifest(blob: bytes) -> bool:
    """Whether a record's blob is a stream manifest (else a single envelope)."""
    return blob[:len(MANIFEST_MAGIC)] == MANIFEST_MAGIC


@dataclass(frozen=True)
class StreamManifest:
    """The pieces of one streamed record, in order."""

    segment_size: int
    segments_per_piece: int
    plaintext_size: int
    ciphertext_size: int
    pieces: tuple[tuple[str, int], ...]

    @property
    def layout(self) -> StreamLayout:
        return StreamLayout(self.segment_size)

    def to_bytes(self) -> bytes:
        body = {"format": "careledger/stream/v1", "cipher": "AES256_GCM_HKDF_SHA256",
                "segment_size": self.segment_size, "segments_per_piece": self.segments_per_piece,
                "plaintext_size": self.plaintext_size, "ciphertext_size": self.ciphertext_size,
                "pieces": [[cid, size] for cid, size in self.pieces]}
        return MANIFEST_MAGIC + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, blob: bytes) -> StreamManifest:
        """Parse and check a manifest.

        Raises:
            MalformedEnvelope: not a manifest, or one whose sizes do not add up.
        """
        if not is_manifest(blob):
            raise MalformedEnvelope("not a CareLedger stream manifest")
        try:
            body = json.loads(blob[len(MANIFEST_MAGIC):])
            m = cls(int(body["segment_size"]), int(body["segments_per_piece"]),
                    int(body["plaintext_size"]), int(body["ciphertext_size"]),
                    tuple((str(c), int(s)) for c, s in body["pieces"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedEnvelope(f"a damaged stream manifest: {exc}") from None
        try:
            sizes_ok = (m.layout.ciphertext_size(m.plaintext_size) == m.ciphertext_size
                        and sum(s for _, s in m.pieces) == m.ciphertext_size
                        and m.segments_per_piece >= 1)
        except InvalidInput:
            sizes_ok = False
        if not sizes_ok:
            raise MalformedEnvelope("a stream manifest whose sizes do not add up")
        return m


class PieceReader:
    """A readable stream (``readinto``) over a manifest's pieces, each fetched when needed
    (``fetch(cid)`` returns the piece's verified bytes) and checked against its listed size."""

    def __init__(self, manifest: StreamManifest, fetch: Callable[[str], bytes]) -> None:
        self.manifest = manifest
        self.fetch = fetch
        self._next = 0
        self._buf = memoryview(b"")

    def readinto(self, buffer: memoryview, /) -> int:
        view = memoryview(buffer)
        if not self._buf:
            if self._next >= len(self.manifest.pieces):
                return 0
            cid, size = self.manifest.pieces[self._next]
            data = self.fetch(cid)
            if len(data) != size:
                raise StreamTruncated(f"piece {self._next} ({cid}) is {len(data)} bytes, the "
                                      f"manifest says {size}")
            self._next += 1
            self._buf = memoryview(data)
        n = min(len(view), len(self._buf))
        view[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def _read_journal(path: Path) -> tuple[dict[str, Any], list[list[Any]]]:
    """The upload journal: its first line the stream's state, then one line per stored piece
    (appended and fsynced after the piece is durable; a torn last line is ignored)."""
    lines = path.read_bytes().split(b"\n")
    try:
        state = json.loads(lines[0])
    except ValueError:
        raise InvalidInput(f"the upload journal {path} is damaged: publish under a new record "
                           "id") from None
    done = []
    for line in lines[1:]:
        try:
            done.append(json.loads(line))
        except ValueError:
            break  # the line being written when the process stopped
    return state, done


def _identity(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "inode": st.st_ino}


def _piece_plaintext(layout: StreamLayout, per_piece: int, k: int) -> int:
    """Plaintext bytes in piece ``k`` when it is full (the first holds the header's gap)."""
    return layout.first_plaintext + (per_piece - 1) * layout.plaintext if k == 0 \
        else per_piece * layout.plaintext


def _piece_hashes(src: Any, layout: StreamLayout, per_piece: int, count: int) -> list[str]:
    """SHA-256 of the plaintext of the first ``count`` pieces, read from ``src``'s start."""
    out = []
    for k in range(count):
        h, left = hashlib.sha256(), _piece_plaintext(layout, per_piece, k)
        while left:
            chunk = src.read(min(left, 1 << 20))
            if not chunk:
                break
            h.update(chunk)
            left -= len(chunk)
        out.append(h.hexdigest())
    return out


def store_stream(blobs: BlobStore, source: Path, key: bytes, associated_data: bytes,
                 journal_path: Path, *, layout: StreamLayout = DEFAULT_LAYOUT,
                 segments_per_piece: int = SEGMENTS_PER_PIECE, max_size: int | None = None,
                 progress: Callable[[int], None] | None = None) -> StreamManifest:
    """Encrypt ``source`` into pieces in ``blobs``; return the manifest (not stored: the
    caller stores it as the record's blob). Resumes from ``journal_path`` when present.

    Raises:
        BlobTooLarge: the source exceeds ``max_size``.
        InvalidInput: the journal belongs to another source, or the source changed since.
    """
    ident = _identity(source)
    if max_size is not None and ident["size"] > max_size:
        raise BlobTooLarge(f"{source} is {ident['size']:,} bytes, over the limit of "
                           f"{max_size:,}: raise --max-size if this record is expected")
    state: dict[str, Any]
    done: list[list[Any]] = []
    if journal_path.exists():
        state, done = _read_journal(journal_path)
        if state["source"] != {"path": str(source.resolve()), **ident}:
            raise InvalidInput(f"{source} changed since the interrupted publication (size or "
                               "modification time): publish it under a new record id")
        if state["segment_size"] != layout.segment_size or state["per_piece"] != segments_per_piece:
            raise InvalidInput("the interrupted publication used another segment layout")
    else:
        state = {"source": {"path": str(source.resolve()), **ident},
                 "salt": os.urandom(SALT_SIZE).hex(), "prefix": os.urandom(NONCE_PREFIX_SIZE).hex(),
                 "segment_size": layout.segment_size, "per_piece": segments_per_piece}
        write_atomic(journal_path, (json.dumps(state) + "\n").encode(), mode=0o600)
    with source.open("rb", buffering=0) as src, journal_path.open("ab") as journal:
        if done:  # the same plaintext must come out for the pieces already stored
            hashes = _piece_hashes(src, layout, segments_per_piece, len(done))
            if hashes != [h for _, _, h in done]:
                raise InvalidInput(f"{source} changed since the interrupted publication: "
                                   "publish it under a new record id")
            if progress is not None:
                progress(src.tell())
        start = len(done) * segments_per_piece
        total_segments = layout.segments(ident["size"])
        group_commit = hasattr(blobs, "sync")
        pending: list[list[Any]] = []
        piece, piece_hash = bytearray(), hashlib.sha256()
        for index, plain, ct in encrypt_segments(
                src, key, associated_data, layout, salt=bytes.fromhex(state["salt"]),
                nonce_prefix=bytes.fromhex(state["prefix"]), start=start, progress=progress):
            piece += ct
            piece_hash.update(plain)
            if (index + 1) % segments_per_piece == 0 or index == total_segments - 1:
                last = index == total_segments - 1
                if group_commit:  # written now, made durable with its group
                    cid = blobs.put(bytes(piece), durable=False)  # type: ignore[call-arg]
                else:
                    cid = blobs.put(bytes(piece))
                pending.append([cid, len(piece), piece_hash.hexdigest()])
                if last or len(pending) >= GROUP_COMMIT:
                    if group_commit:
                        blobs.sync()  # type: ignore[attr-defined]
                    # the journal names pieces only once they are durable
                    journal.write(b"".join((json.dumps(p) + "\n").encode() for p in pending))
                    journal.flush()
                    os.fsync(journal.fileno())
                    done.extend(pending)
                    pending.clear()
                piece, piece_hash = bytearray(), hashlib.sha256()
    manifest = StreamManifest(layout.segment_size, segments_per_piece, ident["size"],
                              layout.ciphertext_size(ident["size"]),
                              tuple((c, s) for c, s, _ in done))
    if sum(s for _, s, _ in done) != manifest.ciphertext_size:
        raise StreamTruncated(f"{source} changed while it was being published: publish it "
                              "under a new record id")
    return manifest
