"""Wrapped data keys on disk, keyed by (record id, version, recipient public key)."""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from pathlib import Path

from careledger.crypto.envelope import WrappedKey
from careledger.crypto.keyfile import public_key_from_hex
from careledger.errors import InvalidInput, WrappedKeyNotFound
from careledger.store.atomic import (
    TEMP_PREFIX,
    GroupCommit,
    cleanup_temps,
    fsync_dir,
    mkdirs_durable,
    write_atomic,
)
from careledger.store.blobs import STALE_TEMP_AGE
from careledger.store.packs import PackSet, write_pack
from careledger.validate import hex_bytes


def _hex32(value: bytes | str, what: str) -> str:
    return hex_bytes(value, 32, what).hex()


_VERSION = struct.Struct(">I")


def pack_key(record_id: bytes, version: int, recipient: bytes) -> bytes:
    """The key of a wrapped key in a pack: record id, version (4 bytes), recipient."""
    return record_id + _VERSION.pack(version) + recipient


def pack_group(record_id: bytes) -> str:
    """The pack folder of a record: its first 28 bytes (a batch member's batch id), hex."""
    return record_id[:28].hex()


class WrappedKeyStore:
    """Wrapped data keys on disk, keyed by (record id, version, recipient public key).

    Layout: ``<dir>/<record id hex>/<version>/<recipient hex>.key`` (files 0600, atomic
    writes), and the wrapped keys of Merkle batches in pack files (``store.packs``,
    :meth:`put_pack`), ``<dir>/packs/<batch id hex>/<chunk>.pack`` (0600), found from the
    record id. A loose file takes precedence over a packed copy. Not content-addressed:
    deleting is the point (crypto-shredding, revocation), and a delete removes every copy,
    rewriting a pack without the key.
    """

    def __init__(self, directory: str | os.PathLike[str], *, cleanup: bool = True) -> None:
        """Open (creating if needed) a wrapped-key store rooted at ``directory`` (``cleanup``:
        remove stale temp files of crashed writers now)."""
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.packs = PackSet(self.directory, mode=0o600)
        if cleanup:
            cleanup_temps(self.directory, STALE_TEMP_AGE)

    def __repr__(self) -> str:
        """Show the directory."""
        return f"WrappedKeyStore({str(self.directory)!r})"

    def _path(self, record_id: bytes | str, version: int, recipient: bytes | str) -> Path:
        if isinstance(version, bool) or not isinstance(version, int) or version < 0:
            raise InvalidInput("version must be a non-negative int")
        pub = public_key_from_hex(recipient).hex()
        return self.directory / _hex32(record_id, "record id") / str(version) / f"{pub}.key"

    def put(self, record_id: bytes | str, version: int, wrapped: WrappedKey, *,
            group: GroupCommit | None = None) -> Path:
        """Store (or replace) the wrapped key for ``wrapped.recipient``; return its path.

        ``group``: no fsync here; file and directories are fsynced once by ``group.commit()``.
        """
        target = self._path(record_id, version, wrapped.recipient)
        mkdirs_durable(target.parent, self.directory, group)
        write_atomic(target, wrapped.to_bytes(), mode=0o600, group=group)
        return target

    def put_pack(self, chunk: str, entries: Sequence[tuple[bytes, int, WrappedKey]], *,
                 group: GroupCommit | None = None) -> Path:
        """Store the wrapped keys ``(record id, version, wrapped)`` of records of one batch
        (ids sharing their first 28 bytes) in one pack, ``packs/<batch id>/<chunk>.pack``;
        return its path. ``group``: fsynced once by ``group.commit()``; ``None``: durable now.
        """
        if not entries:
            raise InvalidInput("a pack of wrapped keys holds at least one")
        batch = entries[0][0][:28]
        packed = []
        for record_id, version, wrapped in entries:
            if len(record_id) != 32 or record_id[:28] != batch:
                raise InvalidInput("a pack holds wrapped keys of the records of one batch")
            packed.append((pack_key(record_id, version, wrapped.recipient), wrapped.to_bytes()))
        return write_pack(self.packs.path(batch.hex(), chunk), packed, mode=0o600, group=group)

    def discard_packs(self, batch_id: bytes) -> bool:
        """Remove the packs of ``batch_id`` (a batch never anchored, sealed again)."""
        return self.packs.discard(batch_id.hex())

    def _packed(self, record_id: bytes | str, version: int,
                recipient: bytes | str) -> tuple[bytes, bytes]:
        """(pack group, pack key) of a wrapped key, arguments checked like ``_path``'s."""
        self._path(record_id, version, recipient)
        rid = hex_bytes(record_id, 32, "record id")
        return rid, pack_key(rid, version, public_key_from_hex(recipient))

    def get(self, record_id: bytes | str, version: int, recipient: bytes | str) -> WrappedKey:
        """Return the wrapped key of one recipient (its loose file, else from a pack).

        Raises:
            WrappedKeyNotFound: none stored (never shared, revoked, or shredded).
        """
        path = self._path(record_id, version, recipient)
        try:
            return WrappedKey.from_bytes(path.read_bytes())
        except FileNotFoundError:
            rid, key = self._packed(record_id, version, recipient)
            data = self.packs.find(pack_group(rid), key)
            if data is not None:
                return WrappedKey.from_bytes(data)
        raise WrappedKeyNotFound(
            f"no wrapped key of record {record_id!r} v{version} for this recipient: "
            "ask the patient to share it (or it was revoked or erased)")

    def has(self, record_id: bytes | str, version: int, recipient: bytes | str) -> bool:
        """Whether a wrapped key is stored for that recipient."""
        if self._path(record_id, version, recipient).is_file():
            return True
        rid, key = self._packed(record_id, version, recipient)
        return self.packs.contains(pack_group(rid), key)

    def delete(self, record_id: bytes | str, version: int, recipient: bytes | str) -> bool:
        """Delete one recipient's wrapped key (revocation): its loose file and every packed
        copy (the pack rewritten without it); return whether one existed."""
        path = self._path(record_id, version, recipient)
        found = False
        try:
            path.unlink()
        except FileNotFoundError:
            pass
        else:
            fsync_dir(path.parent)
            found = True
        rid, key = self._packed(record_id, version, recipient)
        for pack in self.packs.packs(pack_group(rid)):
            found = self.packs.remove(pack, {key}) > 0 or found
        return found

    def list(self, record_id: bytes | str) -> list[tuple[int, bytes]]:
        """Every (version, recipient public key) holding a wrapped key of ``record_id``
        (loose or packed, each once)."""
        rid = hex_bytes(record_id, 32, "record id")
        base = self.directory / rid.hex()
        found: set[tuple[int, bytes]] = set()
        if base.is_dir():
            for version_dir in base.iterdir():
                if not version_dir.is_dir() or not version_dir.name.isdigit():
                    continue
                for path in version_dir.glob("*.key"):
                    if not path.name.startswith(TEMP_PREFIX):
                        found.add((int(version_dir.name), bytes.fromhex(path.stem)))
        for _, key in self.packs.entries(pack_group(rid)):
            if key[:32] == rid:
                found.add((_VERSION.unpack_from(key, 32)[0], key[36:]))
        return sorted(found)

    def count(self, record_id: bytes | str) -> int:
        """How many wrapped keys of ``record_id`` are stored (all versions)."""
        return len(self.list(record_id))

    def delete_all(self, record_id: bytes | str) -> int:
        """Delete every wrapped key of ``record_id`` (all versions, all recipients).

        Used by :func:`careledger.crypto.shred`. Temp files of interrupted writes of this
        record are removed too, and every pack holding a key of it is rewritten without it,
        so no copy of a wrapped key survives.

        Returns:
            How many wrapped keys were deleted (a key found loose and packed counts once).
        """
        rid = hex_bytes(record_id, 32, "record id")
        base = self.directory / rid.hex()
        removed: set[bytes] = set()
        if base.is_dir():
            for path in sorted(base.rglob("*")):
                if path.is_file():
                    if path.suffix == ".key" and not path.name.startswith(TEMP_PREFIX) \
                            and path.parent.name.isdigit():
                        removed.add(pack_key(rid, int(path.parent.name),
                                             bytes.fromhex(path.stem)))
                    path.unlink(missing_ok=True)
            for version_dir in base.iterdir():
                if version_dir.is_dir():
                    fsync_dir(version_dir)
        by_pack: dict[str, set[bytes]] = {}
        for pack, key in self.packs.entries(pack_group(rid)):
            if key[:32] == rid:
                by_pack.setdefault(pack, set()).add(key)
        for pack, keys in by_pack.items():
            self.packs.remove(pack, keys)
            removed |= keys
        return len(removed)
