"""``ConsentRegistry``: patient keys, guardians, grants (direct and EIP-712 signed), access
requests, break-glass and the access log with its on-chain hash-chain head."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from eth_utils.address import to_checksum_address
from web3.types import EventData, TxReceipt

from careledger.codes import Purpose, RequestStatus
from careledger.contracts.base import ContractTx, ContractWrapper
from careledger.contracts.merkle import leaf_hash, multiproof_from_proofs, process_proof, verify
from careledger.contracts.records import is_batch_member
from careledger.errors import InvalidInput, RequestNotFound

if TYPE_CHECKING:
    from careledger.store import RecordPointer


@dataclass(frozen=True)
class Grant:
    """One grant ``(patient, grantee, scope)`` as stored; all zero when there is none.

    Attributes:
        purposes: bit ``p`` set when purpose ``p`` was granted (its expiry may have passed).
        expires_at: per purpose code, the first second it no longer authorises (0: not granted).
        granted_at: block time of the last write.
        epoch: the grantee's admission epoch when it was written.
    """

    purposes: int
    expires_at: tuple[int, ...]
    granted_at: int
    epoch: int

    def expiry(self, purpose: Purpose) -> int:
        """When ``purpose`` stops authorising (0 if not granted)."""
        return self.expires_at[int(purpose)]


@dataclass(frozen=True)
class LiveGrant:
    """A grant that authorises something now: per purpose, when it stops."""

    grantee: str
    scope: bytes
    expires: dict[Purpose, int]


@dataclass(frozen=True)
class RequestDetails:
    """An access request as made (from its ``AccessRequested`` event); passed back to answer it."""

    request_id: int
    requester: str
    patient: str
    scope: bytes
    purpose: Purpose

    def as_tuple(self) -> tuple[int, str, str, bytes, int]:
        """The ABI tuple ``(requestId, requester, patient, scope, purpose)``."""
        return (self.request_id, self.requester, self.patient, self.scope, int(self.purpose))


@dataclass(frozen=True)
class AccessRequest:
    """An institution's request for access: its details, status and the salted reason hash."""

    details: RequestDetails
    status: RequestStatus
    reason_hash: bytes
    block: int

    @property
    def request_id(self) -> int:
        """The request's id."""
        return self.details.request_id

    @property
    def requester(self) -> str:
        """The institution that asked."""
        return self.details.requester

    @property
    def scope(self) -> bytes:
        """The scope asked for."""
        return self.details.scope

    @property
    def purpose(self) -> Purpose:
        """The purpose asked for."""
        return self.details.purpose


@dataclass(frozen=True)
class BreakGlassWindow:
    """One institution's break-glass window on one patient, and its period budget."""

    opened_at: int
    expires_at: int
    period_start: int
    used_in_period: int
    epoch: int

    def open_at(self, timestamp: int) -> bool:
        """True while the window is open."""
        return timestamp < self.expires_at


@dataclass(frozen=True)
class Eip5267Domain:
    """What ``eip712Domain()`` (EIP-5267) reports, undecoded beyond types."""

    fields: int
    name: str
    version: str
    chain_id: int
    verifying_contract: str
    salt: bytes
    extensions: tuple[int, ...]


def study_scope(study_id: int) -> bytes:
    """The consent scope of a study: ``keccak256(abi.encode("careledger.study", studyId))`` (a
    patient consents with a grant to the institute on it, for HRESCH)."""
    from eth_abi.abi import encode
    from eth_utils.crypto import keccak

    return bytes(keccak(encode(["string", "uint256"], ["careledger.study", study_id])))


@dataclass(frozen=True)
class Study:
    """A registered research study."""

    study_id: int
    institute: str
    protocol_hash: bytes
    registered_at: int
    closed_at: int

    @property
    def open(self) -> bool:
        """True until its institute closes it."""
        return self.closed_at == 0

    @property
    def scope(self) -> bytes:
        """The consent scope patients grant on."""
        return study_scope(self.study_id)


@dataclass(frozen=True)
class StudyAccessItem:
    """One record a study accesses, with what binds it on chain (``proof`` empty for a single
    record)."""

    patient: str
    record_id: bytes
    commitment: bytes
    category: bytes
    proof: tuple[bytes, ...] = ()

    @classmethod
    def of(cls, ptr: RecordPointer) -> StudyAccessItem:
        """The item of a record-index pointer (its patient, id, commitment, category, proof)."""
        return cls(ptr.patient, ptr.id_bytes, ptr.commitment_bytes, ptr.category_code,
                   tuple(ptr.proof_bytes))

    @property
    def leaf(self) -> bytes:
        """Its Merkle leaf (``RecordRegistry.leafHash``)."""
        return leaf_hash(self.patient, self.record_id, self.commitment, self.category)


@dataclass(frozen=True)
class BatchProof:
    """``IRecordRegistry.BatchProof``: an OpenZeppelin multiproof of some items of one
    ``recordStudyAccess`` call, all members of one batch; ``order`` names the items (their
    positions in the call) in the multiproof's leaf order."""

    order: tuple[int, ...]
    proof: tuple[bytes, ...]
    flags: tuple[bool, ...]

    def encoded(self) -> tuple[bytes, list[bytes], list[bool]]:
        """The ABI tuple: ``order`` as 2-byte big-endian indices."""
        return (b"".join(i.to_bytes(2, "big") for i in self.order), list(self.proof),
                list(self.flags))


def batch_proofs(items: Sequence[StudyAccessItem], counts: Mapping[bytes, int]) -> list[BatchProof]:
    """The multiproofs of the batch members among ``items``: one per batch, rebuilt from each
    member's own proof (``counts``: each batch id's anchored count, ``RecordRegistry.batch``);
    a batch whose proofs do not fit the SDK's tree shape has one proof per member instead.

    Raises:
        InvalidInput: more than 65,535 items, or a member whose proof does not reach the root
            the other members of its batch reach (a stale or corrupt pointer).
    """
    if len(items) > 0xFFFF:
        raise InvalidInput("at most 65,535 records per study access call")
    groups: dict[bytes, list[int]] = {}
    for position, item in enumerate(items):
        if is_batch_member(item.record_id):
            groups.setdefault(bytes(item.record_id[:28]), []).append(position)
    out: list[BatchProof] = []
    for batch, positions in groups.items():
        leaves = {p: items[p].leaf for p in positions}
        root = process_proof(items[positions[0]].proof, leaves[positions[0]])
        by_leaf = {int.from_bytes(items[p].record_id[28:], "big"): p for p in positions}
        multi = multiproof_from_proofs(
            counts.get(batch, 0), {i: (leaves[p], items[p].proof) for i, p in by_leaf.items()},
            root)
        if multi is not None:
            out.append(BatchProof(tuple(by_leaf[i] for i in multi.members), multi.proof,
                                  multi.flags))
            continue
        # a path off the root (named), or a tree of another shape: each member by its own path
        for p in positions:
            if not verify(items[p].proof, root, leaves[p]):
                raise InvalidInput(f"record 0x{items[p].record_id.hex()}: its Merkle proof does "
                                   f"not reach batch 0x{batch.hex()}'s root: fetch its pointer again")
            out.append(BatchProof((p,), tuple(items[p].proof), (False,) * len(items[p].proof)))
    return out


class ConsentRegistry(ContractWrapper):
    """Patient keys, guardians, grants, requests, break-glass and the access log."""

    NAME = "ConsentRegistry"

    # -- reads ------------------------------------------------------------------------------

    def patient_key(self, patient: str) -> bytes:
        """The patient's registered X25519 public key (zero bytes if none)."""
        return bytes(self._view("patientKeyOf", patient))

    def nonce(self, signer: str) -> int:
        """The signer's current EIP-712 nonce."""
        return int(self._view("nonces", signer))

    def is_authorized(self, patient: str, grantee: str, scope: bytes, purpose: Purpose) -> bool:
        """O(1) consent check at the latest block."""
        return bool(self._view("isAuthorized", patient, grantee, scope, int(purpose)))

    def is_authorized_for_record(self, patient: str, grantee: str, record_id: bytes,
                                 category: bytes, purpose: Purpose) -> bool:
        """Consent check for a record: its id, its category or ALL."""
        return bool(self._view("isAuthorizedForRecord",
                               patient, grantee, record_id, category, int(purpose)))

    def grant_of(self, patient: str, grantee: str, scope: bytes) -> Grant:
        """One grant as stored (zeros if none)."""
        p, expiries, g, epoch = self._view("getGrant", patient, grantee, scope)
        return Grant(int(p), tuple(int(x) for x in expiries), int(g), int(epoch))

    def live_grants(self, patient: str, *, from_block: int, at: int) -> list[LiveGrant]:
        """The patient's grants that authorise at least one purpose at time ``at``, found from
        ``ConsentGranted`` events and confirmed by ``isAuthorized`` (which also voids grants of
        an institution suspended or re-admitted since)."""
        pairs: dict[tuple[str, bytes], None] = {}
        for lg in self.logs("ConsentGranted", from_block=from_block, patient=patient):
            pairs[(to_checksum_address(lg["args"]["grantee"]), bytes(lg["args"]["scope"]))] = None
        out = []
        for grantee, scope in pairs:
            grant = self.grant_of(patient, grantee, scope)
            expires = {p: grant.expiry(p) for p in Purpose
                       if grant.expiry(p) > at and self.is_authorized(patient, grantee, scope, p)}
            if expires:
                out.append(LiveGrant(grantee, scope, expires))
        return out

    def audit_head(self, patient: str) -> tuple[bytes, int]:
        """``(head, count)`` of the patient's on-chain access hash chain."""
        head, count = self._view("auditHead", patient)
        return bytes(head), int(count)

    def is_guardian(self, patient: str, guardian: str) -> bool:
        """True while ``guardian`` may act for ``patient``."""
        return bool(self._view("isGuardian", patient, guardian))

    def guardian_expiry(self, patient: str, guardian: str) -> int:
        """When ``guardian``'s appointment ends (0 if none)."""
        return int(self._view("guardianExpiry", patient, guardian))

    def break_glass_window(self, patient: str, institution: str) -> BreakGlassWindow:
        """``institution``'s break-glass window on ``patient`` (all zero if never opened)."""
        opened, expires, start, used, epoch = self._view("breakGlassWindow", patient, institution)
        return BreakGlassWindow(int(opened), int(expires), int(start), int(used), int(epoch))

    def request_status(self, request_id: int) -> RequestStatus:
        """The status of a request.

        Raises:
            RequestNotFound: no request has that id.
        """
        return RequestStatus(self._view("requestStatus", request_id))

    def request_count(self) -> int:
        """Requests made so far (ids are ``1 .. count``)."""
        return int(self._view("requestCount"))

    def requests(self, *, from_block: int, patient: str | None = None,
                 requester: str | None = None) -> list[AccessRequest]:
        """Requests from their ``AccessRequested`` events, with their current status."""
        filters = {k: v for k, v in (("patient", patient), ("requester", requester)) if v}
        return [self._request_of(lg)
                for lg in self.logs("AccessRequested", from_block=from_block, **filters)]

    def request(self, request_id: int, *, from_block: int = 0) -> AccessRequest:
        """One request, from its event.

        Raises:
            RequestNotFound: no request has that id.
        """
        logs = self.logs("AccessRequested", from_block=from_block, requestId=request_id)
        if not logs:
            raise RequestNotFound.with_args(requestId=request_id)
        return self._request_of(logs[0])

    def _request_of(self, log: EventData) -> AccessRequest:
        a = log["args"]
        details = RequestDetails(int(a["requestId"]), to_checksum_address(a["requester"]),
                                 to_checksum_address(a["patient"]), bytes(a["scope"]),
                                 Purpose(a["purpose"]))
        return AccessRequest(details, self.request_status(details.request_id),
                             bytes(a["reasonHash"]), int(log["blockNumber"]))

    def request_id_from(self, receipt: TxReceipt) -> int:
        """The id of the request a ``requestAccess`` transaction created."""
        return int(self.events_in("AccessRequested", receipt)[0]["args"]["requestId"])

    def eip712_domain(self) -> Eip5267Domain:
        """The EIP-712 domain as the contract reports it (EIP-5267)."""
        flags, name, version, chain_id, verifying, salt, extensions = self._view("eip712Domain")
        flag_byte = bytes(flags)[0] if isinstance(flags, bytes | bytearray) else int(flags)
        return Eip5267Domain(flag_byte, str(name), str(version), int(chain_id),
                             to_checksum_address(verifying), bytes(salt),
                             tuple(int(x) for x in extensions))

    def domain_separator(self) -> bytes:
        """``DOMAIN_SEPARATOR()``."""
        return bytes(self._view("DOMAIN_SEPARATOR"))

    # -- writes by the patient (or a live guardian) ------------------------------------------

    def register_patient_key(self, encryption_key: bytes) -> ContractTx:
        """The sending patient registers its X25519 public key (records get wrapped to it)."""
        return self._tx("registerPatientKey", encryption_key, description="register patient key")

    def grant(self, patient: str, grantee: str, scope: bytes, purposes: int,
              expires_at: int) -> ContractTx:
        """Grant ``grantee`` access to ``scope`` for a purpose bitmask until ``expires_at``."""
        return self._tx("grant", patient, grantee, scope, purposes, expires_at,
                        description="grant")

    def revoke(self, patient: str, grantee: str, scope: bytes) -> ContractTx:
        """Revoke a grant."""
        return self._tx("revoke", patient, grantee, scope, description="revoke")

    def set_guardian(self, guardian: str, expires_at: int) -> ContractTx:
        """The calling patient appoints ``guardian`` until ``expires_at``."""
        return self._tx("setGuardian", guardian, expires_at, description="set guardian")

    def remove_guardian(self, guardian: str) -> ContractTx:
        """The calling patient removes a guardian."""
        return self._tx("removeGuardian", guardian, description="remove guardian")

    def approve_request(self, request: RequestDetails, expires_at: int) -> ContractTx:
        """Approve an access request: its purpose expires at ``expires_at`` (others unchanged)."""
        return self._tx("approveRequest", request.as_tuple(), expires_at,
                        description=f"approve request {request.request_id}")

    def reject_request(self, request: RequestDetails) -> ContractTx:
        """Reject an access request."""
        return self._tx("rejectRequest", request.as_tuple(),
                        description=f"reject request {request.request_id}")

    def close_break_glass(self, patient: str, institution: str) -> ContractTx:
        """The patient or a live guardian closes ``institution``'s break-glass window at once."""
        return self._tx("closeBreakGlass", patient, institution, description="close break-glass")

    def increase_nonce(self) -> ContractTx:
        """Void every signature the caller handed out and that was not submitted yet."""
        return self._tx("increaseNonce", description="increase nonce")

    # -- signed forms (anyone submits, the signature decides) ---------------------------------

    def grant_by_sig(self, patient: str, grantee: str, scope: bytes, purposes: int,
                     expires_at: int, signer: str, deadline: int, signature: bytes) -> ContractTx:
        """Submit a signed ``Grant``."""
        return self._tx("grantBySig", patient, grantee, scope, purposes, expires_at, signer,
                        deadline, signature, description=f"GrantBySig for {patient}")

    def revoke_by_sig(self, patient: str, grantee: str, scope: bytes, signer: str,
                      deadline: int, signature: bytes) -> ContractTx:
        """Submit a signed ``Revoke``."""
        return self._tx("revokeBySig", patient, grantee, scope, signer, deadline, signature,
                        description=f"RevokeBySig for {patient}")

    def set_guardian_by_sig(self, patient: str, guardian: str, expires_at: int, deadline: int,
                            signature: bytes) -> ContractTx:
        """Submit a signed ``SetGuardian``."""
        return self._tx("setGuardianBySig", patient, guardian, expires_at, deadline, signature,
                        description=f"SetGuardianBySig for {patient}")

    def remove_guardian_by_sig(self, patient: str, guardian: str, deadline: int,
                               signature: bytes) -> ContractTx:
        """Submit a signed ``RemoveGuardian``."""
        return self._tx("removeGuardianBySig", patient, guardian, deadline, signature,
                        description=f"RemoveGuardianBySig for {patient}")

    def register_patient_key_by_sig(self, patient: str, encryption_key: bytes, deadline: int,
                                    signature: bytes) -> ContractTx:
        """Submit a signed ``RegisterKey``."""
        return self._tx("registerPatientKeyBySig", patient, encryption_key, deadline, signature,
                        description=f"RegisterKeyBySig for {patient}")

    def answer_request_by_sig(self, request: RequestDetails, approve: bool, expires_at: int,
                              signer: str, deadline: int, signature: bytes) -> ContractTx:
        """Submit a signed ``AnswerRequest``."""
        return self._tx("answerRequestBySig", request.as_tuple(), approve, expires_at, signer,
                        deadline, signature, description=f"AnswerRequestBySig for {request.patient}")

    def close_break_glass_by_sig(self, patient: str, institution: str, signer: str,
                                 deadline: int, signature: bytes) -> ContractTx:
        """Submit a signed ``CloseBreakGlass``."""
        return self._tx("closeBreakGlassBySig", patient, institution, signer, deadline, signature,
                        description=f"CloseBreakGlassBySig for {patient}")

    # -- writes by institutions --------------------------------------------------------------

    def request_access(self, patient: str, scope: bytes, purpose: Purpose,
                       reason_hash: bytes) -> ContractTx:
        """Ask ``patient`` for access to ``scope`` (only a salted hash of the reason on chain)."""
        return self._tx("requestAccess", patient, scope, int(purpose), reason_hash,
                        description="request access")

    def record_access(self, patient: str, record_id: bytes, category: bytes, commitment: bytes,
                      purpose: Purpose, proof: Sequence[bytes] = ()) -> ContractTx:
        """Log an access; it reverts unless the record is bound to ``patient``, ``category`` and
        ``commitment`` and a live grant (or break-glass) covers it."""
        return self._tx("recordAccess", patient, record_id, category, commitment, int(purpose),
                        list(proof), description="record access")

    # -- research studies -----------------------------------------------------------------------

    def register_study(self, protocol_hash: bytes) -> ContractTx:
        """Register a study (an active RESEARCHER institution; purpose HRESCH) by a hash of its
        protocol; the id is in the ``StudyRegistered`` event (``study_id_from``)."""
        return self._tx("registerStudy", protocol_hash, description="register study")

    def study_id_from(self, receipt: TxReceipt) -> int:
        """The id of the study a ``registerStudy`` transaction created."""
        return int(self.events_in("StudyRegistered", receipt)[0]["args"]["studyId"])

    def close_study(self, study_id: int) -> ContractTx:
        """Close a study (its institute only): no access is recorded under it afterwards."""
        return self._tx("closeStudy", study_id, description=f"close study {study_id}")

    def record_study_access(self, study_id: int, items: Sequence[StudyAccessItem],
                            proofs: Sequence[BatchProof]) -> ContractTx:
        """Record, in one transaction, the study's access to many records of many patients
        (``items`` grouped by patient, ascending): one ``AccessRecorded`` entry per record; the
        batch members proven by ``proofs`` (``batch_proofs``)."""
        return self._tx("recordStudyAccess", study_id,
                        [(i.patient, i.record_id, i.commitment, i.category) for i in items],
                        [p.encoded() for p in proofs],
                        description=f"study {study_id}: {len(items)} accesses")

    def study(self, study_id: int) -> Study:
        """A registered study (``StudyNotFound`` for an unknown id)."""
        institute, protocol, registered, closed = self._view("study", study_id)
        return Study(study_id, to_checksum_address(institute), bytes(protocol), int(registered),
                     int(closed))

    def study_count(self) -> int:
        """How many studies were registered."""
        return int(self._view("studyCount"))

    def break_glass(self, patient: str, reason_hash: bytes, duration: int) -> ContractTx:
        """Open an emergency (ETREAT) window on ``patient`` for ``duration`` seconds
        (``reason_hash``: see ``careledger.codes.reason_hash``)."""
        return self._tx("breakGlass", patient, reason_hash, duration, description="break-glass")
