"""Institutions that read records: ``Institution`` (base of ``Provider``) and ``Researcher``.

Every grantee reads through ``Institution.access``: the access is logged on chain first (it
reverts unless authorised at that block), then the ciphertext and the wrapped key are fetched,
the key unwrapped, the record decrypted and its commitment checked against the anchor.
"""

from __future__ import annotations

import secrets

from eth_utils.crypto import keccak
from web3.types import TxReceipt

from careledger.actors.base import ZERO32, Actor, verify_commitment
from careledger.codes import Purpose
from careledger.crypto import decrypt_record
from careledger.store import RecordPointer
from careledger.validate import address


class Institution(Actor):
    """A consortium member that reads records (base of ``Provider`` and ``Researcher``)."""

    def register_encryption_key(self, metadata_hash: bytes = ZERO32) -> TxReceipt:
        """Publish this institution's X25519 public key in the consortium registry."""
        return self.transact(self.ledger.institutions.update_encryption_key(
            self.keypair.public_bytes, metadata_hash))

    def request_access(self, patient: str, scope: bytes, purpose: Purpose | str,
                       reason: str) -> int:
        """Ask ``patient`` for access; returns the request id.

        Only a salted hash of ``reason`` goes on chain (the text stays with the requester).
        """
        reason_hash = keccak(text=f"careledger.reason:{secrets.token_hex(16)}:{reason}")
        receipt = self.transact(self.ledger.consent.request_access(
            address(patient), scope, Purpose.parse(purpose), reason_hash))
        return self.ledger.consent.request_id_from(receipt)

    def access(self, record_id: str | bytes, purpose: Purpose | str = Purpose.TREAT) -> bytes:
        """Read a record: log the access on chain, fetch, unwrap, decrypt, verify.

        Raises:
            AccessNotAuthorized: no live consent (or break-glass) covers it at this block;
                nothing is fetched or decrypted.
            KeyNotShared: authorised, but no data key is wrapped to this institution yet.
            CommitmentMismatch / BlobCorrupted / BlobNotFound: the ciphertext is not the
                anchored one or is gone; never wrong plaintext.
        """
        ptr = self.ws.index.get(record_id)
        self.log_access(ptr, Purpose.parse(purpose))
        return self.read_verified(ptr)

    def log_access(self, ptr: RecordPointer, purpose: Purpose) -> TxReceipt:
        """The on-chain half of ``access``: ``recordAccess``, which reverts unless authorised."""
        return self.transact(self.ledger.consent.record_access(
            ptr.patient, ptr.id_bytes, ptr.category_code, purpose))

    def read_verified(self, ptr: RecordPointer) -> bytes:
        """Fetch, verify against the anchor, unwrap and decrypt (after ``log_access``)."""
        blob = self.ws.blobs.get(ptr.cid)
        verify_commitment(self.ledger, ptr, blob)
        return decrypt_record(blob, self.unwrap(ptr), ptr.binding)

    def release_key(self, record_id: str | bytes, grantee: str,
                    purpose: Purpose | str = Purpose.TREAT) -> None:
        """As a custodian holding a wrapped copy, re-wrap the data key to ``grantee``.

        Only when the chain authorises ``grantee`` for this record and purpose now (a consent,
        or break-glass for ETREAT).

        Raises:
            AccessNotAuthorized: the chain does not authorise ``grantee``.
        """
        self.release_to(self.ws.index.get(record_id), address(grantee), Purpose.parse(purpose))

    def break_glass(self, patient: str, reason_code: str, duration: int) -> TxReceipt:
        """Open emergency (ETREAT) access to ``patient`` for ``duration`` seconds (≤ 72 h)."""
        return self.transact(self.ledger.consent.break_glass(
            address(patient), keccak(text=f"careledger.reason:{reason_code}"), duration))


class Researcher(Institution):
    """A research institute: requests research-purpose (HRESCH) access and reads."""
