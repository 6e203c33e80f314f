"""Off-chain storage: content-addressed blob stores, wrapped keys, the record index, one
party's workspace, and the one atomic-write helper everything durable goes through."""

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
