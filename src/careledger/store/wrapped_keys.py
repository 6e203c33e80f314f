"""Wrapped data keys on disk, keyed by (record id, version, recipient public key)."""

from __future__ import annotations

import os
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
    mkdirs_staged,
    write_atomic,
)
from careledger.store.blobs import STALE_TEMP_AGE
from careledger.validate import hex_bytes


def _hex32(value: bytes | str, what: str) -> str:
    return hex_bytes(value, 32, what).hex()


class WrappedKeyStore:
    """Wrapped data keys on disk, keyed by (record id, version, recipient public key).

    Layout: ``<dir>/<record id hex>/<version>/<recipient hex>.key`` (files 0600, atomic
    writes). Not content-addressed: deleting is the point (crypto-shredding, revocation).
    """

    def __init__(self, directory: str | os.PathLike[str], *, cleanup: bool = True) -> None:
        """Open (creating if needed) a wrapped-key store rooted at ``directory`` (``cleanup``:
        remove stale temp files of crashed writers now)."""
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
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
        if group is not None:
            mkdirs_staged(target.parent, self.directory, group)
        else:
            mkdirs_durable(target.parent, self.directory)
        write_atomic(target, wrapped.to_bytes(), mode=0o600, group=group)
        return target

    def get(self, record_id: bytes | str, version: int, recipient: bytes | str) -> WrappedKey:
        """Return the wrapped key of one recipient.

        Raises:
            WrappedKeyNotFound: none stored (never shared, revoked, or shredded).
        """
        path = self._path(record_id, version, recipient)
        try:
            return WrappedKey.from_bytes(path.read_bytes())
        except FileNotFoundError as exc:
            raise WrappedKeyNotFound(
                f"no wrapped key of record {record_id!r} v{version} for this recipient: "
                "ask the patient to share it (or it was revoked or erased)"
            ) from exc

    def has(self, record_id: bytes | str, version: int, recipient: bytes | str) -> bool:
        """Whether a wrapped key is stored for that recipient."""
        return self._path(record_id, version, recipient).is_file()

    def delete(self, record_id: bytes | str, version: int, recipient: bytes | str) -> bool:
        """Delete one recipient's wrapped key (revocation); return whether one existed."""
        path = self._path(record_id, version, recipient)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        fsync_dir(path.parent)
        return True

    def list(self, record_id: bytes | str) -> list[tuple[int, bytes]]:
        """Every (version, recipient public key) holding a wrapped key of ``record_id``."""
        base = self.directory / _hex32(record_id, "record id")
        found: list[tuple[int, bytes]] = []
        if not base.is_dir():
            return found
        for version_dir in base.iterdir():
            if not version_dir.is_dir() or not version_dir.name.isdigit():
                continue
            for path in version_dir.glob("*.key"):
                if not path.name.startswith(TEMP_PREFIX):
                    found.append((int(version_dir.name), bytes.fromhex(path.stem)))
        return sorted(found)

    def count(self, record_id: bytes | str) -> int:
        """How many wrapped keys of ``record_id`` are stored (all versions)."""
        return len(self.list(record_id))

    def delete_all(self, record_id: bytes | str) -> int:
        """Delete every wrapped key of ``record_id`` (all versions, all recipients).

        Used by :func:`careledger.crypto.shred`. Temp files of interrupted writes of this
        record are removed too, so no copy of a wrapped key survives.

        Returns:
            How many wrapped keys were deleted.
        """
        base = self.directory / _hex32(record_id, "record id")
        deleted = 0
        if not base.is_dir():
            return 0
        for path in sorted(base.rglob("*")):
            if path.is_file():
                is_key = path.suffix == ".key" and not path.name.startswith(TEMP_PREFIX)
                path.unlink(missing_ok=True)
                deleted += int(is_key)
        for version_dir in base.iterdir():
            if version_dir.is_dir():
                fsync_dir(version_dir)
        return deleted
