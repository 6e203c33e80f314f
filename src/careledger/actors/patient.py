"""The patient (or a guardian acting for one): keys, consent, guardians, requests, sharing,
reading and erasure."""

from __future__ import annotations

from collections.abc import Iterable

from web3.types import TxReceipt

from careledger import validate
from careledger.actors.base import Actor, verify_commitment
from careledger.chain import Sender
from careledger.codes import SCOPE_ALL, Purpose, RequestStatus, purpose_mask
from careledger.contracts import AccessRequest, CareLedger
from careledger.crypto import EncryptionKeyPair, decrypt_record, shred
from careledger.errors import InvalidInput
from careledger.store import Workspace


class Patient(Actor):
    """A patient (or a guardian acting for one) controlling consent and keys.

    ``sender`` may be ``None`` for a patient without gas: signed consents then go through a
    relayer (``careledger.consent``). ``acting_for`` lets a guardian act for a patient.
    """

    def __init__(self, ledger: CareLedger, sender: Sender | None, workspace: Workspace,
                 keypair: EncryptionKeyPair, *, address: str | None = None,
                 acting_for: str | None = None) -> None:
        super().__init__(ledger, sender, workspace, keypair)
        own = address or (sender.address if sender is not None else None)
        if own is None:
            raise InvalidInput("a patient needs a wallet address")
        self.wallet = validate.address(own, "patient wallet")
        self.patient = validate.address(acting_for, "patient") if acting_for else self.wallet

    def register_key(self) -> TxReceipt:
        """Register this patient's X25519 public key on chain (records get wrapped to it)."""
        return self.transact(self.ledger.consent.register_patient_key(
            self.patient, self.keypair.public_bytes))

    def grant(self, grantee: str, scope: bytes, purposes: Iterable[Purpose | str],
              expires_at: int) -> TxReceipt:
        """Grant ``grantee`` access to ``scope`` for ``purposes`` until ``expires_at``."""
        return self.transact(self.ledger.consent.grant(
            self.patient, validate.address(grantee), scope, purpose_mask(purposes), expires_at))

    def revoke(self, grantee: str, scope: bytes) -> TxReceipt:
        """Revoke a grant and delete every data key wrapped to ``grantee`` under that scope."""
        grantee = validate.address(grantee)
        receipt = self.transact(self.ledger.consent.revoke(self.patient, grantee, scope))
        self.forget_grantee_keys(grantee, scope)
        return receipt

    def forget_grantee_keys(self, grantee: str, scope: bytes = SCOPE_ALL) -> int:
        """Delete the wrapped keys of ``grantee`` for this patient's records in ``scope``."""
        key = self.ledger.institutions.encryption_key(validate.address(grantee))
        removed = 0
        for ptr in self.ws.index.for_patient(self.patient):
            if scope in (SCOPE_ALL, ptr.id_bytes, ptr.category_code):
                removed += int(self.ws.keys.delete(ptr.record_id, ptr.version, key))
        return removed

    def set_guardian(self, guardian: str, expires_at: int) -> TxReceipt:
        """Appoint ``guardian`` to act for this patient until ``expires_at``."""
        return self.transact(self.ledger.consent.set_guardian(validate.address(guardian), expires_at))

    def remove_guardian(self, guardian: str) -> TxReceipt:
        """Remove a guardian."""
        return self.transact(self.ledger.consent.remove_guardian(validate.address(guardian)))

    def approve_request(self, request_id: int, expires_at: int) -> TxReceipt:
        """Approve an access request (creates the grant)."""
        return self.transact(self.ledger.consent.approve_request(request_id, expires_at))

    def reject_request(self, request_id: int) -> TxReceipt:
        """Reject an access request."""
        return self.transact(self.ledger.consent.reject_request(request_id))

    def pending_requests(self) -> list[AccessRequest]:
        """This patient's access requests that await an answer."""
        consent = self.ledger.consent
        logs = consent.logs("AccessRequested", from_block=self.ledger.deployment.block,
                            patient=self.patient)
        requests = [consent.request(int(lg["args"]["requestId"])) for lg in logs]
        return [r for r in requests if r.status is RequestStatus.PENDING]

    def share(self, record_id: str | bytes, grantee: str,
              purpose: Purpose | str = Purpose.TREAT) -> None:
        """Wrap the record's data key to ``grantee`` once its grant is on chain.

        Raises:
            AccessNotAuthorized: no live grant covers the record for ``purpose``.
        """
        ptr = self.ws.index.get(record_id)
        if ptr.patient != self.patient:
            raise InvalidInput(f"record {ptr.record_id} belongs to another patient")
        self.release_to(ptr, validate.address(grantee), Purpose.parse(purpose))

    def read(self, record_id: str | bytes) -> bytes:
        """The patient reads their own record (verified against the anchor; not logged)."""
        ptr = self.ws.index.get(record_id)
        blob = self.ws.blobs.get(ptr.cid)
        verify_commitment(self.ledger, ptr, blob)
        return decrypt_record(blob, self.unwrap(ptr), ptr.binding)

    def erase(self, record_id: str | bytes) -> int:
        """Crypto-shred: destroy every wrapped copy of the record's data key.

        The anchor stays on chain and still proves what existed; nobody can decrypt any more.
        Returns the number of wrapped keys destroyed.
        """
        ptr = self.ws.index.get(record_id)
        if ptr.patient != self.patient:
            raise InvalidInput(f"record {ptr.record_id} belongs to another patient")
        return shred(self.ws.keys, ptr.id_bytes)

