"""Content-addressed blob stores.

Blob addresses are CIDv1, raw codec (0x55), sha2-256, base32 (``bafkrei...``): the same bytes
give the same CID in :class:`LocalBlobStore` (the embedded default) and :class:`IpfsBlobStore`
(a Kubo node over its RPC HTTP API). Every read is checked against its CID: a missing blob is
:class:`~careledger.errors.BlobNotFound`, a corrupt one :class:`~careledger.errors.BlobCorrupted`,
never wrong bytes.

Writes are durable and atomic: temp file in the same directory, write, flush, fsync,
``os.replace``, fsync the directory. A crash before the rename leaves only a ``.tmp-*`` file,
which no read sees and :meth:`LocalBlobStore.cleanup` removes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, Self, runtime_checkable

import httpx
from multiformats import CID

from careledger.errors import (
    BlobCorrupted,
    BlobNotFound,
    BlobTooLarge,
    InvalidInput,
    StorageUnavailable,
)
from careledger.store.atomic import (
    TEMP_PREFIX,
    GroupCommit,
    cleanup_temps,
    fsync_dir,
    mkdirs_durable,
    sync_filesystem,
    write_atomic,
)
from careledger.store.packs import PackSet, write_pack

__all__ = [
    "DEFAULT_MAX_BLOB_SIZE",
    "BlobStore",
    "IpfsBlobStore",
    "LocalBlobStore",
    "compute_cid",
    "parse_cid",
]

#: Default largest blob accepted: 64 MiB.
DEFAULT_MAX_BLOB_SIZE = 64 * 1024 * 1024
_RAW_CODEC = "raw"
#: Temp files older than this are debris of a crashed writer (seconds).
STALE_TEMP_AGE = 15 * 60
#: Largest chunk Kubo accepts (boxo ChunkSizeLimit); up to this, `add` gives a raw-leaf CID.
_KUBO_MAX_CHUNK = 1024 * 1024


#: binary CIDv1 header of a raw-codec sha2-256 block: version 1, codec 0x55, multihash 0x12, 32
_CID_PREFIX = b"\x01\x55\x12\x20"


@dataclass(frozen=True)
class BlobAddress:
    """A parsed blob CID (CIDv1, raw codec, sha2-256): its canonical base32 text and digest.

    Parsed and built here, not with ``multiformats.CID``: its run-time type validation raises
    and catches exceptions inside every call, and the tracebacks keep the callers' frames (and
    so the 1 MiB blobs in their locals) alive until a full garbage collection: +120 MiB of
    RSS over a 4 GiB streamed record.
    """

    text: str
    raw_digest: bytes

    def encode(self, base: str = "base32") -> str:
        """The canonical text (only base32 is produced)."""
        return self.text

    def __str__(self) -> str:
        return self.text


def compute_cid(data: bytes) -> str:
    """Return the CIDv1 (raw codec, sha2-256, base32) of ``data``."""
    return _cid_text(hashlib.sha256(data).digest())


def _cid_text(digest: bytes) -> str:
    return "b" + base64.b32encode(_CID_PREFIX + digest).decode().lower().rstrip("=")


def parse_cid(cid: str) -> BlobAddress:
    """Parse and check a blob address: CIDv1, raw codec, sha2-256 (any multibase; canonical
    base32 on the fast path).

    Raises:
        InvalidInput: anything else (e.g. a CIDv0 or a dag-pb CID).
    """
    if isinstance(cid, str) and len(cid) == 59 and cid.startswith("b"):
        try:
            raw = base64.b32decode(cid[1:].upper() + "=" * (-(len(cid) - 1) % 8))
        except ValueError:
            raw = b""
        if len(raw) == 36 and raw.startswith(_CID_PREFIX) and _cid_text(raw[4:]) == cid:
            return BlobAddress(cid, raw[4:])
    try:  # another multibase, or not a CID at all: the slow, general parser
        parsed = CID.decode(cid)
    except Exception as exc:  # multiformats raises several unrelated types
        raise InvalidInput(f"{cid!r} is not a CID: pass the address put() returned") from exc
    if parsed.version != 1 or parsed.codec.name != _RAW_CODEC or parsed.hashfun.name != "sha2-256":
        raise InvalidInput(f"{cid!r} is not a CIDv1 raw sha2-256 address")
    digest = bytes(parsed.raw_digest)
    return BlobAddress(_cid_text(digest), digest)


def _digest_of(cid: BlobAddress) -> bytes:
    return cid.raw_digest


def _check_bytes(cid: BlobAddress, data: bytes) -> None:
    if hashlib.sha256(data).digest() != _digest_of(cid):
        raise BlobCorrupted(
            f"the bytes stored under {cid.encode('base32')} do not match it: "
            "the copy is corrupt; restore it from a replica"
        )


@runtime_checkable
class BlobStore(Protocol):
    """A content-addressed store of immutable blobs."""

    def put(self, data: bytes) -> str:
        """Store ``data`` durably and return its CID (idempotent)."""
        ...

    def get(self, cid: str) -> bytes:
        """Return the bytes whose CID is ``cid`` (verified), or raise ``BlobNotFound``."""
        ...

    def has(self, cid: str) -> bool:
        """Whether the store holds a blob under ``cid``."""
        ...

    def delete(self, cid: str) -> None:
        """Remove the blob (no error if absent)."""
        ...


# --- local directory ---------------------------------------------------------------------


class LocalBlobStore:
    """Blobs in a local directory, sharded by digest: ``<dir>/blobs/ab/cd/<cid>``, and the
    blobs of Merkle batches in pack files, ``<dir>/packs/<batch>/<chunk>.pack``
    (``store.packs``; :meth:`put_pack`), keyed by digest. Every read looks at the loose file
    first, then the packs (their indexes are loaded once and cached); a blob is found either way.

    Safe for concurrent writers (threads or processes) of the same or different content:
    each writes its own temp file and the rename is atomic; equal content gives equal files.
    """

    def __init__(
        self, directory: str | os.PathLike[str], *, max_blob_size: int = DEFAULT_MAX_BLOB_SIZE,
        cleanup: bool = True,
    ) -> None:
        """Open (creating if needed) a store and remove stale temp files of crashed writers.

        Args:
            directory: the store's root directory.
            max_blob_size: largest blob accepted by :meth:`put`, in bytes.
            cleanup: remove stale temp files now (``False``: a second handle on a store
                already opened, e.g. in a worker process).
        """
        if max_blob_size <= 0:
            raise InvalidInput("max_blob_size must be positive")
        self.directory = Path(directory)
        self.max_blob_size = max_blob_size
        self._blobs = self.directory / "blobs"
        self.directory.mkdir(parents=True, exist_ok=True)
        mkdirs_durable(self._blobs, self.directory)
        self.packs = PackSet(self.directory)
        if cleanup:
            self.cleanup()

    def __repr__(self) -> str:
        """Show the directory."""
        return f"LocalBlobStore({str(self.directory)!r})"

    def path_of(self, cid: BlobAddress) -> Path:
        """Where the blob of ``cid`` is (or would be) stored."""
        return self._path(cid)

    def _path(self, cid: BlobAddress) -> Path:
        digest = _digest_of(cid).hex()
        return self._blobs / digest[:2] / digest[2:4] / cid.encode("base32")

    def put(self, data: bytes, *, durable: bool = True, group: GroupCommit | None = None) -> str:
        """Store ``data`` durably; return its CID.

        ``durable=False`` skips the two fsyncs: the blob is complete (written to a temp file and
        renamed) but survives a power loss only after ``sync()``; group commit for streamed
        records, which name a piece in their journal only after the group's ``sync()``.
        ``group``: no fsync here; the file and the directories it touched are fsynced once by
        ``group.commit()`` (a batch's group commit).

        Raises:
            BlobTooLarge: ``data`` exceeds ``max_blob_size``.
        """
        data = bytes(data)
        if len(data) > self.max_blob_size:
            raise BlobTooLarge(
                f"blob of {len(data)} bytes exceeds this store's limit of {self.max_blob_size}: "
                "raise max_blob_size or split the record"
            )
        cid_text = compute_cid(data)
        cid = parse_cid(cid_text)
        target = self._path(cid)
        if target.exists():
            try:
                if target.read_bytes() == data:
                    return cid_text
            except FileNotFoundError:
                pass
            # NOTE: a corrupt or vanished copy is repaired by rewriting it below.
        mkdirs_durable(target.parent, self._blobs, group)
        write_atomic(target, data, durable=durable, group=group)
        return cid_text

    def put_pack(self, group: str, chunk: str, blobs: list[bytes], *,
                 commit: GroupCommit | None = None) -> list[str]:
        """Store ``blobs`` in one pack file (``packs/<group>/<chunk>.pack``); return their
        CIDs, in order. ``commit``: the pack and its folder are fsynced once by its
        ``commit()`` (a batch's group commit); ``None``: durable now.

        Raises:
            BlobTooLarge: a blob exceeds ``max_blob_size``.
        """
        entries: dict[bytes, bytes] = {}
        cids = []
        for data in blobs:
            if len(data) > self.max_blob_size:
                raise BlobTooLarge(
                    f"blob of {len(data)} bytes exceeds this store's limit of "
                    f"{self.max_blob_size}: raise max_blob_size or split the record")
            digest = hashlib.sha256(data).digest()
            entries[digest] = data
            cids.append(_cid_text(digest))
        path = self.packs.path(group, chunk)
        write_pack(path, list(entries.items()), group=commit)
        return cids

    def discard_packs(self, group: str) -> bool:
        """Remove the packs of ``group`` (a batch never anchored, sealed again)."""
        return self.packs.discard(group)

    def sync(self) -> None:
        """Make every blob written with ``durable=False`` durable (one filesystem flush)."""
        sync_filesystem(self._blobs)

    def get(self, cid: str) -> bytes:
        """Return the verified bytes of ``cid``.

        Raises:
            InvalidInput: ``cid`` is not a CIDv1 raw sha2-256.
            BlobNotFound: no such blob.
            BlobCorrupted: the stored bytes do not hash to ``cid``.
        """
        parsed = parse_cid(cid)
        try:
            data: bytes | None = self._path(parsed).read_bytes()
        except FileNotFoundError:
            data = self.packs.find(None, parsed.raw_digest)
        if data is None:
            raise BlobNotFound(
                f"no blob {cid} in {self.directory}: check the CID or restore the blob")
        _check_bytes(parsed, data)
        return data

    def has(self, cid: str) -> bool:
        """Whether a blob file or a packed blob exists for ``cid`` (content is checked on
        :meth:`get`)."""
        parsed = parse_cid(cid)
        return self._path(parsed).is_file() or self.packs.contains(None, parsed.raw_digest)

    def delete(self, cid: str) -> None:
        """Remove the blob if present (idempotent): the loose file (its directory entry
        removal fsynced) and every packed copy (each pack rewritten without it)."""
        parsed = parse_cid(cid)
        path = self._path(parsed)
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        else:
            fsync_dir(path.parent)
        for pack in {p for p, digest in self.packs.entries() if digest == parsed.raw_digest}:
            self.packs.remove(pack, {parsed.raw_digest})

    def __iter__(self) -> Iterator[str]:
        """Iterate over the CIDs of complete blobs, loose and packed, each once (temp files
        are never listed)."""
        seen = set()
        for path in self._blobs.glob("*/*/*"):
            if not path.name.startswith(TEMP_PREFIX) and path.is_file():
                seen.add(path.name)
                yield path.name
        for _, digest in self.packs.entries():
            cid = _cid_text(digest)
            if cid not in seen:
                seen.add(cid)
                yield cid

    def cleanup(self, older_than: float = STALE_TEMP_AGE) -> int:
        """Remove temp files left by crashed writers older than ``older_than`` seconds.

        Returns:
            How many were removed.
        """
        return cleanup_temps(self._blobs, older_than) + cleanup_temps(self.packs.root, older_than)


# --- IPFS (Kubo RPC) ---------------------------------------------------------------------


class IpfsBlobStore:
    """Blobs on an IPFS node through the Kubo RPC HTTP API (``/api/v0``).

    ``put`` adds with CIDv1 raw leaves and a chunk size of 1 MiB, so a blob of up to 1 MiB is a
    single raw block whose CID equals :func:`compute_cid`; larger blobs are stored with
    ``block/put`` (raw codec, ``allow-big-block``), giving the same CID. Both are pinned.
    The CID the node returns and the bytes it serves are checked against the local CID.

    # NOTE: Kubo warns that blocks over 1 MiB are not transferable over standard bitswap: such
    # blobs are served by the node that holds them (or a pinning service reached over RPC),
    # not fetched from the wider network. Keep records under 1 MiB where replication matters.
    """

    def __init__(
        self,
        api_url: str = "http://127.0.0.1:5001",
        *,
        timeout: float = 30.0,
        max_blob_size: int = DEFAULT_MAX_BLOB_SIZE,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """Configure the client (no connection is made until the first call).

        Args:
            api_url: the node's RPC address (Kubo's ``Addresses.API``).
            timeout: per-request timeout in seconds.
            max_blob_size: largest blob accepted by :meth:`put` and served by :meth:`get`.
            transport: an httpx transport (tests).
        """
        self.api_url = api_url.rstrip("/")
        self.max_blob_size = max_blob_size
        self._client = httpx.Client(
            base_url=self.api_url + "/api/v0", timeout=timeout, transport=transport
        )

    def __repr__(self) -> str:
        """Show the API URL."""
        return f"IpfsBlobStore({self.api_url!r})"

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def __enter__(self) -> Self:
        """Use as a context manager."""
        return self

    def __exit__(self, *exc: object) -> None:
        """Close on exit."""
        self.close()

    def _post(self, endpoint: str, params: dict[str, str], **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.post(endpoint, params=params, **kwargs)
        except httpx.TimeoutException as exc:
            raise StorageUnavailable(
                f"the IPFS node at {self.api_url} timed out on {endpoint}: check it and retry"
            ) from exc
        except httpx.TransportError as exc:
            raise StorageUnavailable(
                f"cannot reach the IPFS node at {self.api_url} ({exc}): start it or fix the URL"
            ) from exc
        return response

    @staticmethod
    def _error_message(response: httpx.Response) -> str:
        try:
            body = response.json()
            return str(body.get("Message", response.text))
        except (ValueError, AttributeError):
            return response.text

    def _fail(self, endpoint: str, response: httpx.Response, cid: str | None = None) -> None:
        message = self._error_message(response)
        lowered = message.lower()
        if cid is not None and response.status_code == 500 and (
            "not found" in lowered or "could not find" in lowered
        ):
            raise BlobNotFound(f"the IPFS node has no blob {cid}: {message}")
        raise StorageUnavailable(
            f"the IPFS node refused {endpoint} (HTTP {response.status_code}: {message}): "
            "check that api_url points at a Kubo RPC API"
        )

    def put(self, data: bytes) -> str:
        """Add and pin ``data``; return its CID after checking the node computed the same.

        Raises:
            BlobTooLarge: over ``max_blob_size``.
            StorageUnavailable: node unreachable or failing.
            BlobCorrupted: the node returned another CID for these bytes.
        """
        data = bytes(data)
        if len(data) > self.max_blob_size:
            raise BlobTooLarge(
                f"blob of {len(data)} bytes exceeds the limit of {self.max_blob_size}"
            )
        expected = compute_cid(data)
        if len(data) <= _KUBO_MAX_CHUNK:
            endpoint = "/add"
            params = {
                "cid-version": "1",
                "raw-leaves": "true",
                "hash": "sha2-256",
                "chunker": f"size-{_KUBO_MAX_CHUNK}",
                "pin": "true",
                "quieter": "true",
            }
        else:
            endpoint = "/block/put"
            params = {
                "cid-codec": "raw",
                "mhtype": "sha2-256",
                "pin": "true",
                "allow-big-block": "true",
            }
        files = {"file": ("blob", data, "application/octet-stream")}
        response = self._post(endpoint, params, files=files)
        if response.status_code != 200:
            self._fail(endpoint, response)
        returned = self._returned_cid(endpoint, response.text)
        if returned != expected:
            raise BlobCorrupted(
                f"the IPFS node stored the blob as {returned}, expected {expected}: "
                "check its settings (CIDv1, raw leaves, sha2-256)"
            )
        return expected

    @staticmethod
    def _returned_cid(endpoint: str, text: str) -> str:
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            raise StorageUnavailable(f"the IPFS node sent an empty answer to {endpoint}")
        try:
            last = json.loads(lines[-1])
            raw = last["Hash"] if endpoint == "/add" else last["Key"]
        except (ValueError, KeyError, TypeError) as exc:
            raise StorageUnavailable(
                f"the IPFS node's answer to {endpoint} is not Kubo's format: {lines[-1][:200]!r}"
            ) from exc
        try:
            return str(CID.decode(str(raw)).set(base="base32"))
        except Exception as exc:
            raise StorageUnavailable(f"the IPFS node returned an invalid CID {raw!r}") from exc

    def get(self, cid: str) -> bytes:
        """Fetch ``cid`` with ``cat`` and verify the bytes against it.

        Raises:
            BlobNotFound: the node does not have it.
            BlobCorrupted: the bytes served do not hash to ``cid``.
            BlobTooLarge: the node serves more than ``max_blob_size`` bytes.
            StorageUnavailable: node unreachable or failing.
        """
        parsed = parse_cid(cid)
        params = {"arg": cid, "length": str(self.max_blob_size + 1)}
        response = self._post("/cat", params)
        if response.status_code != 200:
            self._fail("/cat", response, cid)
        data = response.content
        if len(data) > self.max_blob_size:
            raise BlobTooLarge(f"the IPFS node serves more than {self.max_blob_size} bytes")
        _check_bytes(parsed, data)
        return data

    def has(self, cid: str) -> bool:
        """Whether the node holds the block locally (``block/stat`` with ``offline``)."""
        parse_cid(cid)
        response = self._post("/block/stat", {"arg": cid, "offline": "true"})
        if response.status_code == 200:
            return True
        try:
            self._fail("/block/stat", response, cid)
        except BlobNotFound:
            return False
        return False  # pragma: no cover - _fail always raises

    def pin(self, cid: str) -> None:
        """Pin ``cid`` on the node."""
        parse_cid(cid)
        response = self._post("/pin/add", {"arg": cid})
        if response.status_code != 200:
            self._fail("/pin/add", response, cid)

    def delete(self, cid: str) -> None:
        """Unpin and remove the local block (idempotent); other nodes may keep copies."""
        parse_cid(cid)
        response = self._post("/pin/rm", {"arg": cid})
        if response.status_code != 200 and "not pinned" not in self._error_message(response):
            self._fail("/pin/rm", response)
        response = self._post("/block/rm", {"arg": cid, "force": "true"})
        if response.status_code != 200:
            self._fail("/block/rm", response)
