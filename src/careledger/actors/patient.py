"""The patient (or a guardian acting for one): keys, consent, guardians, requests, sharing,
reading and erasure."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from web3.types import TxReceipt

from careledger import validate
from careledger.actors.base import (
    Actor,
    Opener,
    RecordSaver,
    read_record,
    verify_commitment,
    version_chain,
)
from careledger.chain import Sender
from careledger.codes import Purpose, RequestStatus, purpose_mask
from careledger.contracts import AccessRequest, CareLedger
from careledger.crypto import EncryptionKeyPair, shred
from careledger.errors import CareLedgerError, InvalidInput, NotThePatient
from careledger.store import RecordPointer, Workspace

if TYPE_CHECKING:
    from careledger.node.client import NodeClient


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
        """Register this patient's X25519 public key on chain (records get wrapped to it).

        Raises:
            NotThePatient: a guardian tried: only the patient sets the patient's key (a
                guardian's key would keep decrypting new records after its guardianship ends).
        """
        if self.patient != self.wallet:
            raise NotThePatient(
                f"{self.wallet} acts for {self.patient} as guardian: only the patient registers "
                "the patient's encryption key (by transaction or a signed RegisterKey)")
        return self.transact(self.ledger.consent.register_patient_key(self.keypair.public_bytes))

    def grant(self, grantee: str, scope: bytes, purposes: Iterable[Purpose | str],
              expires_at: int) -> TxReceipt:
        """Grant ``grantee`` access to ``scope`` for ``purposes`` until ``expires_at``."""
        return self.transact(self.ledger.consent.grant(
            self.patient, validate.address(grantee), scope, purpose_mask(purposes), expires_at))

    def revoke(self, grantee: str, scope: bytes) -> TxReceipt:
        """Revoke a grant: from the next block, no node releases a key to ``grantee`` under it
        (keys it already received cannot be taken back)."""
        return self.transact(self.ledger.consent.revoke(self.patient, validate.address(grantee),
                                                        scope))

    def set_guardian(self, guardian: str, expires_at: int) -> TxReceipt:
        """Appoint ``guardian`` to act for this patient until ``expires_at``."""
        return self.transact(self.ledger.consent.set_guardian(validate.address(guardian), expires_at))

    def remove_guardian(self, guardian: str) -> TxReceipt:
        """Remove a guardian."""
        return self.transact(self.ledger.consent.remove_guardian(validate.address(guardian)))

    def approve_request(self, request_id: int, expires_at: int) -> TxReceipt:
        """Approve an access request: its purpose is granted until ``expires_at`` (the grant's
        other purposes keep their own expiries)."""
        request = self.ledger.consent.request(request_id, from_block=self.ledger.deployment.block)
        return self.transact(self.ledger.consent.approve_request(request.details, expires_at))

    def reject_request(self, request_id: int) -> TxReceipt:
        """Reject an access request."""
        request = self.ledger.consent.request(request_id, from_block=self.ledger.deployment.block)
        return self.transact(self.ledger.consent.reject_request(request.details))

    def pending_requests(self) -> list[AccessRequest]:
        """This patient's access requests that await an answer."""
        requests = self.ledger.consent.requests(from_block=self.ledger.deployment.block,
                                                patient=self.patient)
        return [r for r in requests if r.status is RequestStatus.PENDING]

    def close_break_glass(self, institution: str) -> TxReceipt:
        """Close ``institution``'s open break-glass window on this patient at once."""
        return self.transact(self.ledger.consent.close_break_glass(
            self.patient, validate.address(institution)))

    def read(self, record_id: str | bytes, *, node: NodeClient | str | None = None) -> bytes:
        """The patient reads their own record (verified against the anchor; not logged):
        from the local record index, or through the issuer's node (``node``, or the URL the
        issuer published on chain) with a signed request. A streamed record up to 64 MiB."""
        data: bytes = self._read_with(record_id, read_record, node)
        return data

    def read_to_file(self, record_id: str | bytes, out: str | Path, *,
                     node: NodeClient | str | None = None,
                     progress: Callable[[int], None] | None = None,
                     max_size: int | None = None,
                     on_size: Callable[[int], None] | None = None) -> int:
        """``read`` into the file ``out`` (mode 0600, streamed in constant memory)."""
        written: int = self._read_with(
            record_id, RecordSaver(Path(out), progress, max_size, on_size), node)
        return written

    def _read_with(self, record_id: str | bytes, opener: Opener,
                   node: NodeClient | str | None) -> Any:
        rid = validate.bytes32(record_id, "record id")
        if node is not None or not self.ws.index.has(rid):
            from careledger.actors.remote import read_own_via_node

            return read_own_via_node(self, rid, node, opener)
        ptr = self.ws.index.get(rid)
        blob = self.ws.blobs.get(ptr.cid)
        verify_commitment(self.ledger, ptr, blob)
        return opener(blob, self.unwrap(ptr), ptr.binding, self.ws.blobs.get)

    def erase(self, record_id: str | bytes, *, node: NodeClient | str | None = None) -> int:
        """Crypto-shred: destroy every wrapped copy of the data key of every version of the
        record (earlier versions and amendments alike): at the issuer's node (which records the
        erasure on chain), and any copy in this patient's own directory.

        The anchors stay on chain and still prove what existed; nobody can obtain a key any
        more. Keys released before cannot be taken back. Returns the number of wrapped keys
        destroyed.
        """
        rid = validate.bytes32(record_id, "record id")
        if node is not None or not self.ws.index.has(rid):
            answer = self.erase_at_node(rid, node=node)
            return int(str(answer["keysShredded"]))
        ptr = self.ws.index.get(rid)
        if ptr.patient != self.patient:
            raise InvalidInput(f"record {ptr.record_id} belongs to another patient")
        return sum(shred(self.ws.keys, v) for v in version_chain(self.ledger, self.ws.index, rid))

    def records_at(self, node: NodeClient | str) -> list[RecordPointer]:
        """The records a node holds for this patient, batch members included, each checked
        against the chain (a pointer the chain does not bind is dropped)."""
        from careledger.actors.base import verify_pointer
        from careledger.actors.remote import node_for, patient_request
        from careledger.node import PatientAction, pointer_from_json

        client = node_for(self, b"\x00" * 32, node)
        answer = patient_request(self, client, PatientAction.LIST)
        out = []
        records = answer["records"]
        assert isinstance(records, list)
        for item in records:
            ptr = pointer_from_json(item)
            try:
                verify_pointer(self.ledger, ptr)
            except CareLedgerError:
                continue
            out.append(ptr)
        return out

    def erase_at_node(self, record_id: str | bytes, *,
                      node: NodeClient | str | None = None) -> dict[str, object]:
        """Ask the issuer's node to shred every copy of the keys of every version of one of
        this patient's records; the node records the erasure on chain (``RecordErased``)."""
        from careledger.actors.remote import node_for, patient_request
        from careledger.node import PatientAction

        rid = validate.bytes32(record_id, "record id")
        return patient_request(self, node_for(self, rid, node), PatientAction.ERASE, rid)

