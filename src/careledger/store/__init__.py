"""Off-chain storage: content-addressed blob stores, wrapped keys, the record index, one
party's workspace, and the one atomic-write helper everything durable goes through."""

from typing import TYPE_CHECKING

from careledger._lazy import lazy_exports

if TYPE_CHECKING:
    from careledger.store.atomic import write_atomic, write_json_atomic
    from careledger.store.blobs import (
        DEFAULT_MAX_BLOB_SIZE,
        BlobStore,
        IpfsBlobStore,
        LocalBlobStore,
        compute_cid,
        parse_cid,
    )
    from careledger.store.index import RecordIndex, RecordPointer
    from careledger.store.workspace import Workspace
    from careledger.store.wrapped_keys import WrappedKeyStore

__getattr__, __dir__ = lazy_exports(__name__, {
    "careledger.store.blobs": ("DEFAULT_MAX_BLOB_SIZE", "BlobStore", "IpfsBlobStore", "LocalBlobStore", "compute_cid", "parse_cid",),
    "careledger.store.atomic": ("write_atomic", "write_json_atomic",),
    "careledger.store.index": ("RecordIndex", "RecordPointer",),
    "careledger.store.workspace": ("Workspace",),
    "careledger.store.wrapped_keys": ("WrappedKeyStore",),
})

__all__ = [
    "DEFAULT_MAX_BLOB_SIZE",
    "BlobStore",
    "IpfsBlobStore",
    "LocalBlobStore",
    "RecordIndex",
    "RecordPointer",
    "Workspace",
    "WrappedKeyStore",
    "compute_cid",
    "parse_cid",
    "write_atomic",
    "write_json_atomic",
]
