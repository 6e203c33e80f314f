"""``ConsentRegistry``: patient keys, guardians, grants (direct and EIP-712 signed), access
requests, break-glass and the access log with its on-chain hash-chain head."""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils.address import to_checksum_address
from web3.types import TxReceipt

from careledger.codes import Purpose, RequestStatus, purposes_of
from careledger.contracts.base import ContractTx, ContractWrapper


@dataclass(frozen=True)
class Grant:
    """One grant ``(patient, grantee, scope)``; all zero when there is none."""

    purposes: int
    expires_at: int
    granted_at: int

    @property
    def purpose_list(self) -> list[Purpose]:
        """The purposes the grant carries."""
        return purposes_of(self.purposes)

    def live_at(self, timestamp: int) -> bool:
        """True while the grant authorises something (one comparison, as on chain)."""
        return self.purposes != 0 and timestamp < self.expires_at


@dataclass(frozen=True)
class AccessRequest:
    """An institution's request for access, as the registry stores it."""

    request_id: int
    requester: str
    patient: str
    scope: bytes
    purpose: Purpose
    status: RequestStatus
    created_at: int
    reason_hash: bytes


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
        """One grant (zeros if none)."""
        p, e, g = self._view("getGrant", patient, grantee, scope)
        return Grant(int(p), int(e), int(g))

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

    def break_glass_expiry(self, patient: str, institution: str) -> int:
        """When ``institution``'s break-glass window on ``patient`` closes (0 if none)."""
        return int(self._view("breakGlassExpiry", patient, institution))

    def request(self, request_id: int) -> AccessRequest:
        """One access request, decoded.

        Raises:
            RequestNotFound: no request has that id.
        """
        requester, patient, scope, purpose, status, created, reason = self._view(
            "getRequest", request_id)
        return AccessRequest(request_id, to_checksum_address(requester),
                             to_checksum_address(patient), bytes(scope), Purpose(purpose),
                             RequestStatus(status), int(created), bytes(reason))

    def request_count(self) -> int:
        """Requests made so far (ids are ``0 .. count-1``)."""
        return int(self._view("requestCount"))

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

    def register_patient_key(self, patient: str, encryption_key: bytes) -> ContractTx:
        """Register the patient's X25519 public key (records get wrapped to it)."""
        return self._tx("registerPatientKey", patient, encryption_key,
                        description="register patient key")

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

    def approve_request(self, request_id: int, expires_at: int) -> ContractTx:
        """Approve an access request (it becomes a grant until ``expires_at``)."""
        return self._tx("approveRequest", request_id, expires_at,
                        description=f"approve request {request_id}")

    def reject_request(self, request_id: int) -> ContractTx:
        """Reject an access request."""
        return self._tx("rejectRequest", request_id, description=f"reject request {request_id}")

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

    # -- writes by institutions --------------------------------------------------------------

    def request_access(self, patient: str, scope: bytes, purpose: Purpose,
                       reason_hash: bytes) -> ContractTx:
        """Ask ``patient`` for access to ``scope`` (only a salted hash of the reason on chain)."""
        return self._tx("requestAccess", patient, scope, int(purpose), reason_hash,
                        description="request access")

    def record_access(self, patient: str, record_id: bytes, category: bytes,
                      purpose: Purpose) -> ContractTx:
        """Log an access; it reverts unless a live grant (or break-glass) covers it."""
        return self._tx("recordAccess", patient, record_id, category, int(purpose),
                        description="record access")

    def break_glass(self, patient: str, reason_code: bytes, duration: int) -> ContractTx:
        """Open an emergency (ETREAT) window on ``patient`` for ``duration`` seconds."""
        return self._tx("breakGlass", patient, reason_code, duration, description="break-glass")
