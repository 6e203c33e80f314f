"""Where one party's off-chain state lives: blob store, wrapped-key store, record index and
transaction journal."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from careledger.chain import TxJournal
from careledger.store.blobs import DEFAULT_MAX_BLOB_SIZE, BlobStore, LocalBlobStore
from careledger.store.index import RecordIndex
from careledger.store.wrapped_keys import WrappedKeyStore


@dataclass
class Workspace:
    """Where the off-chain parts live: blob store, wrapped-key store, record index."""

    blobs: BlobStore
    keys: WrappedKeyStore
    index: RecordIndex
    journal: TxJournal | None = None
    #: journals of interrupted streamed publications (``None``: not resumable)
    uploads: Path | None = None

    @classmethod
    def local(cls, directory: str | os.PathLike[str], *,
              max_blob_size: int = DEFAULT_MAX_BLOB_SIZE) -> Workspace:
        """The embedded default: everything under one local directory.

        Args:
            directory: root of blobs, wrapped keys, record index and transaction journal.
            max_blob_size: largest encrypted record accepted (``BlobTooLarge`` above it).
        """
        root = Path(directory)
        root.mkdir(parents=True, exist_ok=True)
        if root.stat().st_uid == os.getuid() and root.stat().st_mode & 0o077:
            # the record index links patients to record categories, the journal to
            # transactions: nobody else on the machine reads into a party's workspace
            root.chmod(0o700)
        return cls(blobs=LocalBlobStore(root / "blobs", max_blob_size=max_blob_size),
                   keys=WrappedKeyStore(root / "keys"), index=RecordIndex(root / "index"),
                   journal=TxJournal(root / "tx-journal.jsonl"), uploads=root / "uploads")
