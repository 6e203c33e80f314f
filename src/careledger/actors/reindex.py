"""Rebuilding an issuer's record index from its own blobs, its own wrapped keys and the chain,
after the index was lost or damaged (``careledger node reindex``).

- single records: their ``RecordAnchored`` events (patient, category, commitment, previous
  version) and the blob whose keccak256 is the commitment;
- batch members: the ``BatchAnchored`` event names the batch (root, count); a member's wrapped
  keys name its patient's encryption key (the patient is whoever registered it on chain); the
  issuer's own wrapped copy then opens exactly one of the unassigned blobs (AES-GCM authenticates
  the binding), which gives the commitment; the rebuilt Merkle tree must reach the on-chain root.

Nothing is guessed: an entry that cannot be proven against the chain is reported, not written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from careledger.codes import CATEGORY_BY_CODE
from careledger.contracts import CareLedger, batch_member_id
from careledger.contracts.merkle import MerkleTree, leaf_hash
from careledger.crypto import EncryptionKeyPair, RecordBinding, decrypt_record, unwrap_data_key
from careledger.errors import CareLedgerError
from careledger.store import RecordPointer, Workspace
from careledger.store.index import hex32

ZERO32 = b"\x00" * 32


@dataclass
class ReindexReport:
    """What ``rebuild_index`` found and wrote."""

    singles: int = 0
    batch_members: int = 0
    batches: int = 0
    problems: list[str] = field(default_factory=list)


def rebuild_index(ledger: CareLedger, ws: Workspace, keypair: EncryptionKeyPair,
                  issuer: str) -> ReindexReport:
    """Write into ``ws.index`` a pointer for every record ``issuer`` anchored whose blob and keys
    are in ``ws``; return what was done and what could not be proven."""
    report = ReindexReport()
    issuer = to_checksum_address(issuer)
    start = ledger.deployment.block
    by_commitment: dict[bytes, str] = {}
    blobs: dict[str, bytes] = {}
    for cid in ws.blobs:  # type: ignore[attr-defined]
        data = ws.blobs.get(cid)
        blobs[cid] = data
        by_commitment[keccak(data)] = cid

    anchored = ledger.records.logs("RecordAnchored", from_block=start, issuer=issuer)
    events = {bytes(lg["args"]["recordId"]): lg for lg in anchored}
    versions: dict[bytes, int] = {}

    def version_of(rid: bytes) -> int:
        if rid not in versions:
            previous = bytes(events[rid]["args"]["previousVersion"]) if rid in events else ZERO32
            versions[rid] = 1 if previous == ZERO32 or previous not in events else version_of(previous) + 1
        return versions[rid]

    for rid, lg in events.items():
        a = lg["args"]
        commitment, category = bytes(a["commitment"]), bytes(a["category"])
        cid = by_commitment.get(commitment)
        known = CATEGORY_BY_CODE.get(category)
        if cid is None or known is None:
            report.problems.append(f"record 0x{rid.hex()}: " + (
                "its blob is not in this store" if cid is None else "unknown category code"))
            continue
        by_commitment.pop(commitment)
        ws.index.put(RecordPointer(
            record_id=hex32(rid), version=version_of(rid), patient=to_checksum_address(a["patient"]),
            issuer=issuer, category=known.name, cid=cid, commitment=hex32(commitment),
            previous_version=hex32(bytes(a["previousVersion"])), status="anchored",
            tx_hash=lg["transactionHash"].to_0x_hex()))
        report.singles += 1

    owners: dict[bytes, str] = {}  # patient encryption key -> patient, every key ever registered
    for lg in ledger.consent.logs("PatientKeyRegistered", from_block=start):
        owners[bytes(lg["args"]["encryptionKey"])] = to_checksum_address(lg["args"]["patient"])
    unassigned = set(by_commitment.values())
    for lg in ledger.records.logs("BatchAnchored", from_block=start, issuer=issuer):
        a = lg["args"]
        batch_id, root, count = bytes(a["batchId"]), bytes(a["root"]), int(a["count"])
        known = CATEGORY_BY_CODE.get(bytes(a["category"]))
        members = [_member(ws, keypair, blobs, unassigned, owners, batch_member_id(batch_id, i))
                   for i in range(count)]
        if known is None or any(m is None for m in members):
            report.problems.append(f"batch 0x{batch_id.hex()}: members cannot all be proven "
                                   "from this store")
            continue
        proven = [m for m in members if m is not None]
        leaves = [leaf_hash(patient, rid, keccak(blobs[cid]), known.code)
                  for rid, patient, cid in proven]
        tree = MerkleTree.build(leaves)
        if tree.root != root:
            report.problems.append(f"batch 0x{batch_id.hex()}: the rebuilt tree does not reach "
                                   "the anchored root")
            continue
        for i, (rid, patient, cid) in enumerate(proven):
            ws.index.put(RecordPointer(
                record_id=hex32(rid), version=1, patient=patient, issuer=issuer,
                category=known.name, cid=cid, commitment=hex32(keccak(blobs[cid])),
                batch_root=hex32(root), proof=[hex32(x) for x in tree.proof(i)],
                status="anchored", tx_hash=lg["transactionHash"].to_0x_hex()))
        report.batches += 1
        report.batch_members += len(proven)
    return report


def _member(ws: Workspace, keypair: EncryptionKeyPair, blobs: dict[str, bytes],
            unassigned: set[str], owners: dict[bytes, str],
            rid: bytes) -> tuple[bytes, str, str] | None:
    """``(record id, patient, cid)`` of one batch member, proven by decryption, or None."""
    recipients = ws.keys.list(rid)
    patients = [owners[key] for _, key in recipients if key in owners]
    if not patients or all(key != keypair.public_bytes for _, key in recipients):
        return None
    own = ws.keys.get(rid, 1, keypair.public_bytes)
    for patient in patients:
        binding = RecordBinding(rid, 1, patient)
        try:
            data_key = unwrap_data_key(own, binding, keypair)
        except CareLedgerError:
            continue
        for cid in sorted(unassigned):
            try:
                decrypt_record(blobs[cid], data_key, binding)
            except CareLedgerError:
                continue
            unassigned.discard(cid)
            return rid, patient, cid
    return None
