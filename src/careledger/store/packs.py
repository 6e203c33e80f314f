"""Pack files: many small values of a Merkle batch in one file, written once with the batch's
group commit instead of one file (and its fsync, and often a new directory) per value.

A pack is ``MAGIC || values || index || footer``: the index holds, per value, its key (a fixed
number of bytes per pack), offset and length; the footer gives the index's offset, the count,
the key length and the SHA-256 of the index. A pack is written atomically (temp file, rename)
and never appended to; deleting a value (crypto-shredding a wrapped key, deleting a blob)
rewrites the pack without it, atomically and durably, under the store's lock, so the bytes are
really gone from the store (as far as a rename and an unlink remove anything from a disk).

Packs of a batch live in one folder, ``<store>/packs/<group>/<chunk>.pack`` (``group``: the
batch id in hex, ``chunk``: the first member's index): a reader finds a record's packs from its
id, and the packs of a batch that was never anchored can be discarded at once before the batch
is sealed again. Readers cache each pack's index and reload it when the file changed (inode,
size, modification time), so a pack rewritten by another process is never read at stale offsets.
A pack whose footer or index does not check (a power cut before the group commit) holds nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import struct
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from careledger.store.atomic import (
    TEMP_PREFIX,
    GroupCommit,
    fsync_dir,
    mkdirs_durable,
    write_atomic,
)

MAGIC = b"CLPACK1\n"
_END = b"CLPKEND\n"
#: index offset, count, key length, SHA-256 of the index, end magic
_FOOTER = struct.Struct(">QIH32s8s")
_LOCATION = struct.Struct(">QI")
SUFFIX = ".pack"
#: (inode, size, mtime ns): a pack is reloaded when this changes
Signature = tuple[int, int, int]
Index = dict[bytes, tuple[int, int]]


def encode_pack(entries: Sequence[tuple[bytes, bytes]]) -> bytes:
    """The bytes of a pack of ``(key, value)`` entries (all keys of one length, unique)."""
    if not entries:
        raise ValueError("a pack holds at least one value")
    key_len = len(entries[0][0])
    parts = [MAGIC]
    index = []
    offset = len(MAGIC)
    for key, value in entries:
        if len(key) != key_len:
            raise ValueError("the keys of a pack all have one length")
        parts.append(value)
        index.append(key + _LOCATION.pack(offset, len(value)))
        offset += len(value)
    table = b"".join(index)
    parts.append(table)
    parts.append(_FOOTER.pack(offset, len(entries), key_len, hashlib.sha256(table).digest(), _END))
    return b"".join(parts)


def decode_index(fd: int, size: int) -> Index:
    """The index of the pack open as ``fd`` (``size`` bytes); empty if it does not check."""
    if size < len(MAGIC) + _FOOTER.size:
        return {}
    footer = os.pread(fd, _FOOTER.size, size - _FOOTER.size)
    offset, count, key_len, digest, end = _FOOTER.unpack(footer)
    entry = key_len + _LOCATION.size
    if end != _END or offset + count * entry != size - _FOOTER.size or offset < len(MAGIC):
        return {}
    table = os.pread(fd, count * entry, offset)
    if hashlib.sha256(table).digest() != digest or os.pread(fd, len(MAGIC), 0) != MAGIC:
        return {}
    out: Index = {}
    for k in range(0, len(table), entry):
        start, length = _LOCATION.unpack_from(table, k + key_len)
        if start + length <= offset:
            out[table[k:k + key_len]] = (start, length)
    return out


def write_pack(path: Path, entries: Sequence[tuple[bytes, bytes]], *, mode: int = 0o644,
               group: GroupCommit | None = None) -> Path:
    """Write a pack atomically (``group``: fsynced by its commit, else now), creating its
    folder (recorded in ``group``, or made durable now)."""
    mkdirs_durable(path.parent, path.parent.parent.parent, group)
    return write_atomic(path, encode_pack(entries), mode=mode, group=group)


def _signature(st: os.stat_result) -> Signature:
    return (st.st_ino, st.st_size, st.st_mtime_ns)


class PackSet:
    """The packs under ``<root>/packs``: cached indexes, lookups, listing, deletion."""

    def __init__(self, root: Path, *, mode: int = 0o644) -> None:
        self.root = root / "packs"
        self.mode = mode
        self._cache: dict[str, tuple[Signature, Index]] = {}
        #: per group (``None``: all), key -> the pack holding it (rebuilt on a miss)
        self._where: dict[str | None, dict[bytes, str]] = {}
        self._lock = threading.Lock()

    def path(self, group: str, chunk: str) -> Path:
        """Where the pack ``chunk`` of ``group`` is (or would be) written."""
        return self.root / group / f"{chunk}{SUFFIX}"

    def packs(self, group: str | None = None) -> list[str]:
        """The pack files of ``group`` (``None``: of every group), sorted."""
        groups = [group] if group is not None else _listdir(self.root)
        out: list[str] = []
        for g in groups:
            folder = os.path.join(self.root, g)
            out.extend(os.path.join(folder, name) for name in _listdir(folder)
                       if name.endswith(SUFFIX) and not name.startswith(TEMP_PREFIX))
        return sorted(out)

    def index(self, path: str) -> Index:
        """The (cached) index of one pack; empty if it is gone or does not check."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            self._cache.pop(path, None)
            return {}
        try:
            return self._index_of(path, fd)
        finally:
            os.close(fd)

    def _index_of(self, path: str, fd: int) -> Index:
        st = os.fstat(fd)
        sig = _signature(st)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == sig:
            return cached[1]
        index = decode_index(fd, st.st_size)
        self._cache[path] = (sig, index)
        return index

    def read(self, path: str, key: bytes) -> bytes | None:
        """The value of ``key`` in one pack, or ``None`` (read from the file the index was
        checked against: a pack replaced meanwhile is never read at stale offsets)."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            self._cache.pop(path, None)
            return None
        try:
            where = self._index_of(path, fd).get(key)
            return None if where is None else os.pread(fd, where[1], where[0])
        finally:
            os.close(fd)

    def find(self, group: str | None, key: bytes) -> bytes | None:
        """The value of ``key`` in any pack of ``group`` (``None``: of all; the newest pack
        name first), from the cached key -> pack map: the packs are listed and their indexes
        checked again only when it misses (a new pack, a pack rewritten or gone)."""
        path = self._where.get(group, {}).get(key)
        if path is not None:
            value = self.read(path, key)
            if value is not None:
                return value
        path = self._locate(group).get(key)
        return None if path is None else self.read(path, key)

    def contains(self, group: str | None, key: bytes) -> bool:
        """Whether a pack of ``group`` (``None``: of all) holds ``key`` (see ``find``)."""
        path = self._where.get(group, {}).get(key)
        if path is not None and key in self.index(path):
            return True
        path = self._locate(group).get(key)
        return path is not None and key in self.index(path)

    def _locate(self, group: str | None) -> dict[bytes, str]:
        """Rebuild the key -> pack map of ``group`` from its packs (indexes cached unless
        changed; a later pack name wins)."""
        where = {key: path for path, key in self.entries(group)}
        self._where[group] = where
        return where

    def entries(self, group: str | None = None) -> Iterator[tuple[str, bytes]]:
        """``(pack path, key)`` of every value in the packs of ``group`` (or of all)."""
        for path in self.packs(group):
            for key in self.index(path):
                yield path, key

    @contextmanager
    def locked(self) -> Iterator[None]:
        """The store's pack lock (threads and processes): held while a pack is rewritten."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.root / ".lock", "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)

    def remove(self, path: str, keys: set[bytes]) -> int:
        """Rewrite one pack without ``keys`` (atomically, durably; the pack is unlinked when
        nothing is left); return how many values were removed."""
        with self.locked():
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                return 0
            try:
                index = self._index_of(path, fd)
                gone = keys & index.keys()
                if not gone:
                    return 0
                kept = [(k, os.pread(fd, n, at)) for k, (at, n) in index.items() if k not in gone]
            finally:
                os.close(fd)
            target = Path(path)
            if kept:
                write_atomic(target, encode_pack(kept), mode=self.mode)
            else:
                target.unlink()
                fsync_dir(target.parent)
            self._cache.pop(path, None)
            return len(gone)

    def discard(self, group: str) -> bool:
        """Remove every pack of ``group`` (a batch sealed again; nothing anchored relies on
        it), durably; return whether there was any."""
        folder = self.root / group
        if not folder.is_dir():
            return False
        with self.locked():
            shutil.rmtree(folder, ignore_errors=True)
            fsync_dir(self.root)
        for path in [p for p in self._cache if p.startswith(str(folder) + os.sep)]:
            self._cache.pop(path, None)
        return True


def _listdir(folder: str | os.PathLike[str]) -> list[str]:
    try:
        return [n for n in os.listdir(folder) if not n.startswith(".")]
    except (FileNotFoundError, NotADirectoryError):
        return []
