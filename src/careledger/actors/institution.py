"""Institutions that read records: ``Institution`` (base of ``Provider``) and ``Researcher``.

Every grantee reads through ``Institution.access``: the ciphertext is fetched and checked
against the record's on-chain binding (patient, category, commitment), the key's presence is
checked, then the access is logged on chain (it reverts unless authorised at that block), and
only then is the key unwrapped and the record decrypted.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from web3.types import TxReceipt

from careledger.actors.base import (
    ZERO32,
    Actor,
    Opener,
    RecordSaver,
    preflight,
    read_record,
    verify_commitment,
)
from careledger.codes import Purpose, reason_hash
from careledger.errors import AccessNotAuthorized, KeyNotShared
from careledger.store import RecordPointer
from careledger.validate import address, bytes32

if TYPE_CHECKING:
    from careledger.node.client import NodeClient


@dataclass(frozen=True)
class BreakGlassOpening:
    """A break-glass window opened: the receipt, and the reason code with the salt of its
    on-chain hash (kept by the institution)."""

    receipt: TxReceipt
    reason_code: str
    salt: bytes


class Institution(Actor):
    """A consortium member that reads records (base of ``Provider`` and ``Researcher``)."""

    def register_encryption_key(self, metadata_hash: bytes = ZERO32) -> TxReceipt:
        """Publish this institution's X25519 public key in the consortium registry."""
        return self.transact(self.ledger.institutions.update_encryption_key(
            self.keypair.public_bytes, metadata_hash))

    def request_access(self, patient: str, scope: bytes, purpose: Purpose | str,
                       reason: str, *, salt: bytes | None = None) -> int:
        """Ask ``patient`` for access; returns the request id.

        Only a salted hash of ``reason`` goes on chain (the text and ``salt``, random when not
        given, stay with the requester, who sends them to the patient off chain).
        """
        hashed = reason_hash(reason, salt if salt is not None else secrets.token_bytes(16))
        receipt = self.transact(self.ledger.consent.request_access(
            address(patient), scope, Purpose.parse(purpose), hashed))
        return self.ledger.consent.request_id_from(receipt)

    def access(self, record_id: str | bytes, purpose: Purpose | str = Purpose.TREAT, *,
               node: NodeClient | str | None = None) -> bytes:
        """``access_with`` returning the plaintext (a streamed record up to 64 MiB)."""
        data: bytes = self.access_with(record_id, purpose, read_record, node=node)
        return data

    def access_to_file(self, record_id: str | bytes, out: str | Path,
                       purpose: Purpose | str = Purpose.TREAT, *,
                       node: NodeClient | str | None = None,
                       progress: Callable[[int], None] | None = None,
                       max_size: int | None = None,
                       on_size: Callable[[int], None] | None = None) -> int:
        """``access_with`` writing the plaintext to ``out`` (mode 0600; a streamed record in
        constant memory, piece by piece); returns the bytes written. ``max_size`` is checked
        before the access is logged; ``on_size`` hears the plaintext size first."""
        written: int = self.access_with(record_id, purpose,
                                        RecordSaver(Path(out), progress, max_size, on_size),
                                        node=node)
        return written

    def access_with(self, record_id: str | bytes, purpose: Purpose | str, opener: Opener, *,
                    node: NodeClient | str | None = None) -> Any:
        """Read a record: log the access on chain, fetch, unwrap, decrypt, verify.

        A record of this institution's own record index is read locally; any other through
        its issuer's node (``node``, or the URL the issuer published on chain), which releases
        the key only after the on-chain access entry (``careledger.actors.remote``).

        Raises:
            AccessNotAuthorized: no live consent (or break-glass) covers it at this block;
                nothing is fetched or decrypted.
            KeyNotShared: authorised, but no data key is wrapped to this institution yet.
            CommitmentMismatch / BlobCorrupted / BlobNotFound: the ciphertext is not the
                anchored one or is gone; never wrong plaintext.
        """
        p = Purpose.parse(purpose)
        rid = bytes32(record_id, "record id")
        if node is not None or not self.ws.index.has(rid):
            from careledger.actors.remote import access_via_node

            return access_via_node(self, rid, p, node, opener)
        ptr = self.ws.index.get(rid)
        # everything that can fail without the chain is checked before anything is logged
        blob = self.ws.blobs.get(ptr.cid)
        verify_commitment(self.ledger, ptr, blob)
        preflight(blob, opener)
        if not self.ledger.consent.is_authorized_for_record(
                ptr.patient, self.address, ptr.id_bytes, ptr.category_code, p):
            raise AccessNotAuthorized.with_args(
                patient=ptr.patient, accessor=self.address, recordId=ptr.id_bytes, purpose=int(p))
        if not self.ws.keys.has(ptr.record_id, ptr.version, self.keypair.public_bytes):
            raise KeyNotShared(
                f"no data key for record {ptr.record_id} is wrapped to your key: nothing was "
                "logged; ask the patient to share it")
        self.log_access(ptr, p)
        return opener(blob, self.unwrap(ptr), ptr.binding, self.ws.blobs.get)

    def log_access(self, ptr: RecordPointer, purpose: Purpose) -> TxReceipt:
        """The on-chain half of ``access``: ``recordAccess``, which reverts unless the record is
        bound to the pointer's patient, category and commitment and a consent covers it."""
        return self.transact(self.ledger.consent.record_access(
            ptr.patient, ptr.id_bytes, ptr.category_code, ptr.commitment_bytes, purpose,
            ptr.proof_bytes))

    def break_glass(self, patient: str, reason_code: str, duration: int) -> BreakGlassOpening:
        """Open emergency (ETREAT) access to ``patient`` for ``duration`` seconds (≤ 72 h; no
        renewal while open, a cooldown after, a cap per period: see docs/contracts-v2.md).

        Only a salted hash of ``reason_code`` goes on chain; keep the returned salt to show the
        reason later (to the patient, an auditor).
        """
        salt = secrets.token_bytes(16)
        receipt = self.transact(self.ledger.consent.break_glass(
            address(patient), reason_hash(reason_code, salt), duration))
        return BreakGlassOpening(receipt, reason_code, salt)


class Researcher(Institution):
    """A research institute: requests research-purpose (HRESCH) access and reads."""
