"""Sealing the members of a Merkle batch: encrypt each record under a fresh data key, wrap the
key to the patient and the issuer, write the blobs and the wrapped keys of a chunk of members
into one blob pack and one key pack (``store.packs``) without fsync, into a ``GroupCommit``
(the batch is made durable at once, before anything is anchored).

``seal_chunk`` runs in a worker process (``concurrent.futures.ProcessPoolExecutor``) on a
local workspace: the crypto (two X25519 HPKE wraps per record) and the file writes are the
bulk of a batch's CPU time, and two cores do them twice as fast as one.
"""

from __future__ import annotations

from collections.abc import Sequence

from eth_utils.crypto import keccak

from careledger.crypto import RecordBinding, encrypt_record, wrap_data_key
from careledger.store.atomic import GroupCommit
from careledger.store.blobs import BlobStore, LocalBlobStore
from careledger.store.wrapped_keys import WrappedKeyStore

#: (member index, record id, patient address, patient public key, plaintext)
SealJob = tuple[int, bytes, str, bytes, bytes]
#: (member index, CID, commitment)
Sealed = tuple[int, str, bytes]

_STORES: dict[tuple[str, str, int], tuple[LocalBlobStore, WrappedKeyStore]] = {}


def seal(blobs: BlobStore, keys: WrappedKeyStore, issuer_key: bytes, jobs: Sequence[SealJob],
         group: GroupCommit) -> list[Sealed]:
    """Encrypt, wrap and stage (no fsync) each job's record, version 1: the blobs in one pack
    (a remote store, IPFS, stores each blob durably itself), the wrapped keys in another, both
    named after the batch and the first job's member index."""
    if not jobs:
        return []
    out: list[Sealed] = []
    sealed_blobs: list[bytes] = []
    wrapped = []
    for _index, record_id, patient, patient_key, plaintext in jobs:
        binding = RecordBinding(record_id, 1, patient)
        envelope, data_key = encrypt_record(plaintext, binding)
        blob = envelope.to_bytes()
        sealed_blobs.append(blob)
        for recipient in (patient_key, issuer_key):
            wrapped.append((record_id, 1, wrap_data_key(data_key, binding, recipient)))
    batch, chunk = jobs[0][1][:28].hex(), f"{jobs[0][0]:08x}"
    if isinstance(blobs, LocalBlobStore):
        cids = blobs.put_pack(batch, chunk, sealed_blobs, commit=group)
    else:
        cids = [blobs.put(blob) for blob in sealed_blobs]
    keys.put_pack(chunk, wrapped, group=group)  # after the blobs: a key pack implies its blobs
    for job, cid, blob in zip(jobs, cids, sealed_blobs, strict=True):
        out.append((job[0], cid, bytes(keccak(blob))))
    return out


def seal_chunk(blobs_dir: str, keys_dir: str, max_blob_size: int, issuer_key: bytes,
               jobs: Sequence[SealJob]) -> tuple[list[Sealed], list[str], list[str]]:
    """``seal`` in a worker process on a local workspace; returns what it sealed and the
    files and directories it staged (the caller commits them)."""
    key = (blobs_dir, keys_dir, max_blob_size)
    if key not in _STORES:
        _STORES[key] = (LocalBlobStore(blobs_dir, max_blob_size=max_blob_size, cleanup=False),
                        WrappedKeyStore(keys_dir, cleanup=False))
    blobs, keys = _STORES[key]
    group = GroupCommit()
    sealed = seal(blobs, keys, issuer_key, jobs, group)
    return sealed, group.files, sorted(group.dirs)
