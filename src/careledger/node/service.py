"""What a hospital's node does, independent of HTTP: serve the ciphertexts and pointers of the
records its institution issued, release a data key only after an on-chain access entry, answer
the patient's signed requests, and relay signed consents.

Log on chain, then release (``release_key``): the signature is the requester's, over a request
bound to this node and chain, fresh and never seen before; the requester is an active
institution; the named transaction is mined at least ``confirmations`` blocks deep, recent, and
carries the ``AccessRecorded`` entry of this record and purpose with the requester as accessor
and the record's patient; the entry has not paid for a release before; and consent still holds
at the latest block. Only then is the data key wrapped, to the key the requester registered on
chain, never one taken from the request.
"""

from __future__ import annotations

import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from eth_keys.exceptions import BadSignature
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3.exceptions import TransactionNotFound
from web3.types import RPCEndpoint

from careledger.actors.base import verify_pointer, verify_pointers, version_chain
from careledger.chain import Sender
from careledger.codes import SCOPE_ALL, InstitutionStatus, Purpose
from careledger.consent import Relayer, RelayResult, SignedConsent
from careledger.consent.messages import SignedType
from careledger.consent.signing import eip1271_accepts, normalize_signature, recover_signer
from careledger.contracts import CareLedger
from careledger.crypto import EncryptionKeyPair, WrappedKey, shred, unwrap_data_key, wrap_data_key
from careledger.errors import (
    AccessEntryMissing,
    AccessEntryTooOld,
    AccessNotAuthorized,
    AccessNotConfirmed,
    AlreadyReleased,
    CareLedgerError,
    InvalidInput,
    MalleableSignature,
    NotActiveInstitution,
    NotAllowedToRead,
    RateLimited,
    RecordNotFound,
    RequestReplayed,
    SignatureExpired,
    SignatureMismatch,
    WrappedKeyNotFound,
)
from careledger.node.messages import (
    MAX_REQUEST_VALIDITY,
    MAX_STUDY_KEYS,
    FhirRead,
    FhirResource,
    KeyRequest,
    PatientAction,
    PatientRequest,
    StudyKeysRequest,
    node_domain,
    study_keys_hash,
)
from careledger.node.state import NodeState
from careledger.store import RecordPointer, Workspace

ZERO32 = b"\x00" * 32


@dataclass
class NodeConfig:
    """How strict a node is.

    Attributes:
        confirmations: blocks an access transaction must be deep (1: mined).
        max_access_age: oldest access entry (seconds, by block time against the local clock)
            that may still release a key.
        rate_per_minute: signed requests per signer per minute (key releases, patient
            requests, relayed consents).
        name: the institution's display name, as the node states it (patients' pages show it
            beside the address; the chain holds only the address).
    """

    confirmations: int = 1
    max_access_age: int = 600
    rate_per_minute: int = 120
    name: str | None = None


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class RateLimiter:
    """A token bucket per signer."""

    per_minute: int
    _buckets: dict[str, _Bucket] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, who: str) -> None:
        """Spend one token of ``who``.

        Raises:
            RateLimited: none left.
        """
        now = time.monotonic()
        with self._lock:
            b = self._buckets.setdefault(who, _Bucket(float(self.per_minute), now))
            b.tokens = min(float(self.per_minute), b.tokens + (now - b.at) * self.per_minute / 60)
            b.at = now
            if b.tokens < 1:
                raise RateLimited(f"{who} sent more than {self.per_minute} requests a minute: "
                                  "wait a few seconds and retry")
            b.tokens -= 1


class NodeService:
    """One institution's node over its own workspace directory."""

    def __init__(self, ledger: CareLedger, sender: Sender, workspace: Workspace,
                 keypair: EncryptionKeyPair, state: NodeState,
                 config: NodeConfig | None = None) -> None:
        self.ledger = ledger
        self.sender = sender
        self.ws = workspace
        self.keypair = keypair
        self.state = state
        self.config = config or NodeConfig()
        self.address = sender.address
        self.domain = node_domain(ledger.chain.chain_id, self.address)
        self.limiter = RateLimiter(self.config.rate_per_minute)
        self.relayer = Relayer(sender, ledger.consent)
        #: threads for chain reads a release makes side by side
        self._reads = ThreadPoolExecutor(max_workers=8, thread_name_prefix="node-reads")
        #: mined receipts, kept a minute: a study batch's entries all name the same transaction
        self._receipts: dict[bytes, tuple[float, Any]] = {}
        self._receipts_lock = threading.Lock()

    # -- public, unauthenticated ----------------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        """Who this node is: institution address, chain, deployment, keys, request domain."""
        dep = self.ledger.deployment
        return {
            "address": self.address, "name": self.config.name,
            "chainId": self.ledger.chain.chain_id,
            "encryptionKey": "0x" + self.keypair.public_bytes.hex(),
            "deployment": {"institutionRegistry": dep.institution_registry,
                           "consentRegistry": dep.consent_registry,
                           "recordRegistry": dep.record_registry,
                           "researchRegistry": dep.research_registry or None, "block": dep.block},
            "requestDomain": self.domain.to_json(),
            "confirmations": self.config.confirmations,
            "maxAccessAge": self.config.max_access_age,
        }

    def health(self) -> dict[str, Any]:
        """The chain connection's state (``RpcUnavailable`` when it is down)."""
        chain = self.ledger.chain
        block = chain.call_rpc("eth_getBlock", lambda: chain.w3.eth.get_block("latest"))
        return {"ok": True, "block": int(block["number"]),
                "blockAge": max(0, int(time.time()) - int(block["timestamp"]))}

    def pointer(self, record_id: bytes) -> RecordPointer:
        """The pointer of a record this institution issued (public: ids name their issuer, and
        a single record's patient, category and commitment are in its anchor event anyway).

        Raises:
            RecordNotFound: not a record of this node.
            WrappedKeyNotFound: the record was erased (its data key destroyed here), so no key
                can be released: a reader learns it before logging an access.
        """
        ptr = self.ws.index.get(record_id)
        if ptr.issuer != self.address:
            raise RecordNotFound(f"record 0x{record_id.hex()} was not issued by this node")
        if not self.ws.keys.has(ptr.record_id, ptr.version, self.keypair.public_bytes):
            raise WrappedKeyNotFound(f"record 0x{record_id.hex()} was erased at the patient's "
                                     "request: its data key is destroyed and nothing can be released")
        return ptr

    # -- log on chain, then release -------------------------------------------------------------

    def release_key(self, request: KeyRequest, signature: bytes) -> dict[str, Any]:
        """Release a record's data key, wrapped to the requester's registered key."""
        self._admit(request, signature)
        ptr = self.pointer(request.record_id)
        if request.version != ptr.version:
            raise InvalidInput(f"record 0x{request.record_id.hex()} is version {ptr.version}, "
                               f"the request names version {request.version}")
        purpose = Purpose(request.purpose) if request.purpose in set(Purpose) else None
        if purpose is None:
            raise InvalidInput(f"unknown purpose code {request.purpose}")
        requester = request.requester
        # the chain reads that do not depend on each other go out together (two round trips
        # instead of four); every check still runs, and refuses in the same order
        entry = self._reads.submit(self._check_access_entry, request, ptr)
        try:
            member = self.ledger.institutions.member(requester)  # status and key in one call
        finally:
            entry_error = entry.exception()
        if member.status is not InstitutionStatus.ACTIVE:
            raise NotActiveInstitution.with_args(account=requester)
        if entry_error is not None:
            raise entry_error
        if not self.state.record_release(request.access_tx, request.record_id, requester,
                                         request.purpose):
            raise AlreadyReleased(f"the access entry in 0x{request.access_tx.hex()} already "
                                  "released a key: log the access again")
        try:
            bound = self._reads.submit(verify_pointer, self.ledger, ptr)
            try:
                study = (self._study_in(self._receipt(request.access_tx), requester)
                         if purpose is Purpose.HRESCH else None)
                if study is not None:  # a study's batched access: its study-bound consent
                    authorized = self._study_consent_holds(study, ptr.patient, requester)
                else:
                    authorized = self.ledger.consent.is_authorized_for_record(
                        ptr.patient, requester, ptr.id_bytes, ptr.category_code, purpose)
            finally:
                bound_error = bound.exception()
            if not authorized:
                raise AccessNotAuthorized.with_args(patient=ptr.patient, accessor=requester,
                                                    recordId=ptr.id_bytes, purpose=int(purpose))
            if bound_error is not None:
                raise bound_error
            wrapped = self._wrap_to(ptr, member.encryption_key, requester, verified=True)
        except BaseException:
            self.state.forget_release(request.access_tx, request.record_id)
            raise
        return self._release_body(ptr, wrapped)

    def _study_in(self, receipt: Any, requester: str) -> int | None:
        """The study whose batched access (``StudyAccessRecorded`` by ``requester``) the
        transaction of ``receipt`` is, if any."""
        found = self.ledger.consent.events_in("StudyAccessRecorded", receipt, institute=requester)
        return int(found[0]["args"]["studyId"]) if found else None

    def _study_consent_holds(self, study_id: int, patient: str, requester: str) -> bool:
        """The study is open, the requester's, and the patient's study-bound HRESCH grant to
        it holds now (what ``recordStudyAccess`` checked when it wrote the entry)."""
        from careledger.contracts import study_scope

        study = self.ledger.consent.study(study_id)
        return (study.open and study.institute == requester
                and self.ledger.consent.is_authorized(patient, requester, study_scope(study_id),
                                                      Purpose.HRESCH))

    def _confirmed_receipt(self, tx: bytes) -> Any:
        """The receipt of the access transaction ``tx``: mined ``confirmations`` deep and
        successful (``AccessNotConfirmed`` while not yet, ``AccessEntryMissing`` if reverted)."""
        chain = self.ledger.chain
        try:
            receipt = self._receipt(tx)
        except TransactionNotFound:
            raise AccessNotConfirmed(f"transaction 0x{tx.hex()} is not mined (yet): retry when "
                                     "it is") from None
        if self.config.confirmations > 1:  # a receipt is a mined transaction: 1 deep at least
            head = int(chain.call_rpc("eth_blockNumber", lambda: chain.w3.eth.block_number))
            depth = head - int(receipt["blockNumber"]) + 1
            if depth < self.config.confirmations:
                raise AccessNotConfirmed(
                    f"the access transaction is {depth} block(s) deep; this node releases at "
                    f"{self.config.confirmations}: retry soon")
        if receipt["status"] != 1:
            raise AccessEntryMissing("the access transaction reverted: it recorded nothing")
        return receipt

    def _entry_age_ok(self, timestamp: int) -> None:
        age = int(time.time()) - timestamp  # uint64(block.timestamp), set by the contract
        if age > self.config.max_access_age:
            raise AccessEntryTooOld(f"the access entry is {age} s old; this node accepts "
                                    f"{self.config.max_access_age} s: log the access again")

    def _check_access_entry(self, request: KeyRequest, ptr: RecordPointer) -> None:
        """The named transaction is mined ``confirmations`` deep, and its ``AccessRecorded``
        entry (of the ConsentRegistry itself) names this requester, record, purpose, patient and
        category, and is recent: its ``timestamp`` is the block's, set by the contract."""
        receipt = self._confirmed_receipt(request.access_tx)
        for entry in self.ledger.consent.events_in("AccessRecorded", receipt,
                                                   recordId=request.record_id):
            a = entry["args"]
            if _entry_names(a, request.requester, ptr, request.purpose):
                self._entry_age_ok(int(a["timestamp"]))
                return
        raise AccessEntryMissing(
            f"transaction 0x{request.access_tx.hex()} records no access to record "
            f"0x{request.record_id.hex()} for purpose {request.purpose} by {request.requester}")

    def release_study_keys(self, request: StudyKeysRequest, signature: bytes,
                           records: list[tuple[bytes, int]]) -> dict[str, Any]:
        """Release, for one signed request, the data keys of many records whose entries a
        study's batched access (``recordStudyAccess``) wrote in one transaction: the checks of
        ``release_key`` for every record (entry by this requester, purpose HRESCH, patient,
        category, recent, confirmed; the requester active; the study open and the requester's;
        each patient's study consent holding now; the pointers bound on chain), with each chain
        read made once per transaction, patient or call. All or nothing; one key per entry."""
        self._admit(request, signature)
        if not 1 <= len(records) <= MAX_STUDY_KEYS or request.count != len(records):
            raise InvalidInput(f"a study key request names 1 to {MAX_STUDY_KEYS} records, as "
                               f"many as its count ({request.count}); it lists {len(records)}")
        if len({rid for rid, _ in records}) != len(records):
            raise InvalidInput("a record is listed twice")
        if study_keys_hash(records) != request.records:
            raise InvalidInput("the records listed are not the ones the request signs: sign the "
                               "list you send")
        requester = request.requester
        member = self.ledger.institutions.member(requester)
        if member.status is not InstitutionStatus.ACTIVE:
            raise NotActiveInstitution.with_args(account=requester)
        receipt = self._confirmed_receipt(request.access_tx)
        study_id = self._study_in(receipt, requester)
        if study_id is None:
            raise AccessEntryMissing(f"transaction 0x{request.access_tx.hex()} is not a study "
                                     "access of the requester: ask for each key at /keys/release")
        entries = {bytes(e["args"]["recordId"]): e["args"]
                   for e in self.ledger.consent.events_in("AccessRecorded", receipt,
                                                          accessor=requester)}
        pointers: list[RecordPointer] = []
        for rid, version in records:
            ptr = self.pointer(rid)
            if version != ptr.version:
                raise InvalidInput(f"record 0x{rid.hex()} is version {ptr.version}, the request "
                                   f"names version {version}")
            a = entries.get(rid)
            if a is None or not _entry_names(a, requester, ptr, Purpose.HRESCH):
                raise AccessEntryMissing(
                    f"transaction 0x{request.access_tx.hex()} records no study access to record "
                    f"0x{rid.hex()} by {requester}")
            self._entry_age_ok(int(a["timestamp"]))
            pointers.append(ptr)
        first_of: dict[str, bytes] = {}
        for ptr in pointers:
            first_of.setdefault(ptr.patient, ptr.id_bytes)
        for patient, rid in first_of.items():  # consent must hold at the latest block
            if not self._study_consent_holds(study_id, patient, requester):
                raise AccessNotAuthorized.with_args(patient=patient, accessor=requester,
                                                    recordId=rid, purpose=int(Purpose.HRESCH))
        verify_pointers(self.ledger, pointers)  # never release for an entry the chain disowns
        ids = [p.id_bytes for p in pointers]
        taken = self.state.record_releases(request.access_tx, ids, requester, int(Purpose.HRESCH))
        if taken is not None:
            raise AlreadyReleased(f"the entry of record 0x{taken.hex()} in "
                                  f"0x{request.access_tx.hex()} already released its key: log the "
                                  "access again")
        try:
            keys = [self._release_body(p, self._wrap_to(p, member.encryption_key, requester,
                                                        verified=True)) for p in pointers]
        except BaseException:
            self.state.forget_releases(request.access_tx, ids)
            raise
        return {"keys": keys}

    def _receipt(self, tx: bytes) -> Any:
        """The receipt of ``tx`` (``TransactionNotFound`` while it is not mined). A kept one is
        used only while its block is still the chain's block at that height (a reorganisation
        that dropped the transaction is noticed as without the cache)."""
        now = time.monotonic()
        chain = self.ledger.chain
        with self._receipts_lock:
            hit = self._receipts.get(tx)
        if hit is not None and now - hit[0] < 60:
            number = hex(int(hit[1]["blockNumber"]))
            block = chain.call_rpc("eth_getBlockByNumber", lambda: chain.w3.provider.make_request(
                RPCEndpoint("eth_getBlockByNumber"), [number, False]))  # raw: no formatting of the block
            found = (block.get("result") or {}).get("hash") if isinstance(block, dict) else None
            if found and bytes(HexBytes(found)) == bytes(hit[1]["blockHash"]):
                return hit[1]
        receipt = chain.call_rpc("eth_getTransactionReceipt",
                                 lambda: chain.w3.eth.get_transaction_receipt(HexBytes(tx)))
        with self._receipts_lock:
            self._receipts[tx] = (now, receipt)
            while len(self._receipts) > 256:
                self._receipts.pop(next(iter(self._receipts)))
        return receipt

    # -- the patient's own requests ------------------------------------------------------------

    def patient_request(self, request: PatientRequest, signature: bytes) -> dict[str, Any]:
        """LIST the patient's records here, READ one (key wrapped to the patient's registered
        key; a patient reading its own record is not a disclosure), or ERASE one (every version's
        keys shredded here, and the erasure recorded on chain)."""
        self._admit(request, signature)
        action = PatientAction(request.action) if request.action in set(PatientAction) else None
        if action is PatientAction.LIST:
            mine = [p for p in self.ws.index.for_patient(request.patient)
                    if p.issuer == self.address]
            return {"records": [pointer_json(p) for p in mine]}
        if action is None:
            raise InvalidInput(f"unknown patient action {request.action}: use 1 list, 2 read, 3 erase")
        ptr = self.pointer(request.record_id)
        if ptr.patient != request.patient:
            raise RecordNotFound(f"record 0x{request.record_id.hex()} is not yours")
        if action is PatientAction.READ:
            key = self.ledger.consent.patient_key(request.patient)
            if key == ZERO32:
                raise InvalidInput("register your encryption key first (careledger patient register-key)")
            return self._release_body(ptr, self._wrap_to(ptr, key, request.patient))
        versions = version_chain(self.ledger, self.ws.index, ptr.id_bytes)
        shredded = sum(shred(self.ws.keys, rid) for rid in versions)
        receipt = self.ledger.records.record_erased(ptr.id_bytes).transact(self.sender)
        return {"erased": ["0x" + v.hex() for v in versions], "keysShredded": shredded,
                "txHash": receipt["transactionHash"].to_0x_hex()}

    # -- FHIR (read only) -------------------------------------------------------------------------

    def fhir_search(self, request: FhirRead, signature: bytes, *, resource_type: str,
                    target: str | None = None, version: str = "R4B") -> list[dict[str, Any]]:
        """The patient's resources of one type, for a signed reader.

        The patient and its live guardians see everything; an active institution sees what
        concerns it: Consents it was given, AuditEvents of its own accesses, and the
        DocumentReference / Provenance of records it issued or may read now (a live grant on
        their scope for some purpose, or an open break-glass window). Anyone else is refused.
        Consents and AuditEvents come from the chain; DocumentReferences and Provenances are
        the records this node issued.

        Raises:
            NotAllowedToRead: the reader is none of those.
            InvalidInput: the signed request names another resource type, or a bad target.
        """
        from careledger.fhir import export

        self._admit(request, signature)
        kind = FhirResource[resource_type] if resource_type in FhirResource.__members__ else None
        if kind is None:
            raise RecordNotFound(f"this node serves FHIR {', '.join(FhirResource.__members__)}, "
                                 f"not {resource_type}")
        if request.resource != kind:
            raise InvalidInput(f"the signed request is for resource {request.resource}, "
                               f"not {resource_type} ({int(kind)})")
        patient, reader = request.patient, request.reader
        full = reader == patient or self.ledger.consent.is_guardian(patient, reader)
        if not full and self.ledger.institutions.member(reader).status \
                is not InstitutionStatus.ACTIVE:
            raise NotAllowedToRead(f"{reader} may not read the FHIR resources of {patient}: "
                                   "only the patient, its guardians and active institutions may")
        if kind is FhirResource.Consent:
            return export.consents(self.ledger, patient, only=None if full else reader,
                                   version=version)
        if kind is FhirResource.AuditEvent:
            return export.audit_events(self.ledger, patient, accessor=None if full else reader)
        pointers = [p for p in self.ws.index.for_patient(patient) if p.issuer == self.address]
        if target is not None:
            wanted = target.removeprefix("DocumentReference/").lower().removeprefix("0x")
            pointers = [p for p in pointers if p.record_id[2:] == wanted]
        if not full and reader != self.address:
            pointers = self._visible_to(reader, patient, pointers)
        if kind is FhirResource.DocumentReference:
            return export.document_references(self.ledger, pointers)
        return export.provenances(self.ledger, pointers)

    def _visible_to(self, reader: str, patient: str,
                    pointers: list[RecordPointer]) -> list[RecordPointer]:
        """The pointers ``reader`` may read now: its live grants' scopes, or all of them while
        its break-glass window on the patient is open."""
        consent = self.ledger.consent
        now = int(self.ledger.chain.w3.eth.get_block("latest")["timestamp"])
        if consent.break_glass_window(patient, reader).expires_at > now:
            return pointers
        scopes = {g.scope for g in consent.live_grants(patient, from_block=self.ledger.deployment.block,
                                                        at=now) if g.grantee == reader}
        if SCOPE_ALL in scopes or scopes & self._open_study_scopes(reader):
            return pointers
        return [p for p in pointers if p.id_bytes in scopes or p.category_code in scopes]

    def _open_study_scopes(self, institute: str) -> set[bytes]:
        """The consent scopes of ``institute``'s open studies (a study consent covers every
        record of the patient, for research)."""
        from careledger.contracts import study_scope

        consent = self.ledger.consent
        out = set()
        for lg in consent.logs("StudyRegistered", from_block=self.ledger.deployment.block,
                               institute=institute):
            study_id = int(lg["args"]["studyId"])
            if consent.study(study_id).open:
                out.add(study_scope(study_id))
        return out

    # -- relaying -----------------------------------------------------------------------------

    def relay(self, payload: dict[str, Any]) -> RelayResult:
        """Check a signed consent (signature, domain, chain, deadline; EIP-1271 wallets through
        the chain) and submit it, paying the gas; rate-limited per signer."""
        try:
            signed = SignedConsent.from_json(payload, registry=self.ledger.consent)
        except BadSignature as exc:  # r = 0 or r >= n: no public key recovers from it
            raise SignatureMismatch(f"the signature is not a valid ECDSA signature: {exc}") from None
        self.limiter.take(signed.signer)
        return self.relayer.submit(signed)

    # -- helpers -------------------------------------------------------------------------------

    def _admit(self, request: KeyRequest | StudyKeysRequest | PatientRequest | FhirRead,
               signature: bytes) -> None:
        """A node request's checks before any work: signed by its signer, within its deadline,
        within the signer's rate, and its nonce never seen (then spent)."""
        self._check_signed(request, signature)
        self.limiter.take(request.signer_address)
        if not self.state.use_nonce(request.signer_address, request.nonce, request.deadline):
            raise RequestReplayed(f"nonce 0x{request.nonce.hex()} was used before: sign anew")

    def _check_signed(self, request: SignedType, signature: bytes) -> None:
        deadline = int(getattr(request, "deadline"))  # noqa: B009 (every request has one)
        now = int(time.time())
        if deadline < now:
            raise SignatureExpired(f"the request's deadline {deadline} has passed: sign anew")
        if deadline > now + MAX_REQUEST_VALIDITY:
            raise InvalidInput(f"a request may be valid for at most {MAX_REQUEST_VALIDITY} s")
        signer = request.signer_address
        try:
            sig = normalize_signature(signature)
            if recover_signer(request, self.domain, sig) == signer:  # type: ignore[arg-type]
                return
        except (MalleableSignature, BadSignature):  # BadSignature: r = 0 or r >= n
            pass
        if eip1271_accepts(self.ledger.consent, signer, request.digest(self.domain), signature):
            return
        raise SignatureMismatch(f"the signature is not {signer}'s over this request to node "
                                f"{self.address} on chain {self.domain.chain_id}")

    def _wrap_to(self, ptr: RecordPointer, recipient_key: bytes, who: str, *,
                 verified: bool = False) -> WrappedKey:
        if recipient_key == ZERO32:
            raise InvalidInput(f"{who} has no encryption key registered on chain")
        if not verified:  # never release for an index entry the chain disowns
            verify_pointer(self.ledger, ptr)
        own = self.ws.keys.get(ptr.record_id, ptr.version, self.keypair.public_bytes)
        data_key = unwrap_data_key(own, ptr.binding, self.keypair)
        return wrap_data_key(data_key, ptr.binding, recipient_key)

    def _release_body(self, ptr: RecordPointer, wrapped: WrappedKey) -> dict[str, Any]:
        return {"record": pointer_json(ptr), "wrappedKey": "0x" + wrapped.to_bytes().hex()}


def _entry_names(args: Any, requester: str, ptr: RecordPointer, purpose: int) -> bool:
    """An ``AccessRecorded`` entry names this requester, record, purpose, patient and category."""
    return (to_checksum_address(args["accessor"]) == requester
            and bytes(args["recordId"]) == ptr.id_bytes and int(args["purpose"]) == purpose
            and to_checksum_address(args["patient"]) == ptr.patient
            and bytes(args["category"]) == ptr.category_code)


def pointer_json(ptr: RecordPointer) -> dict[str, Any]:
    """A pointer as the node API returns it."""
    return {"recordId": ptr.record_id, "version": ptr.version, "patient": ptr.patient,
            "issuer": ptr.issuer, "category": ptr.category, "cid": ptr.cid,
            "commitment": ptr.commitment, "previousVersion": ptr.previous_version,
            "batchRoot": ptr.batch_root, "proof": ptr.proof, "status": ptr.status}


def pointer_from_json(data: dict[str, Any]) -> RecordPointer:
    """The inverse of ``pointer_json`` (a node's answer; check it with ``verify_pointer``).

    Raises:
        InvalidInput: not a pointer.
    """
    try:
        return RecordPointer(
            record_id=str(data["recordId"]).lower(), version=int(data["version"]),
            patient=to_checksum_address(data["patient"]), issuer=to_checksum_address(data["issuer"]),
            category=str(data["category"]), cid=str(data["cid"]),
            commitment=str(data["commitment"]).lower(),
            previous_version=str(data["previousVersion"]).lower(),
            batch_root=data.get("batchRoot"), proof=list(data.get("proof") or []),
            status=str(data.get("status", "anchored")))
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput(f"not a record pointer: {exc}") from exc


def new_nonce() -> bytes:
    """32 random bytes for a signed request."""
    return secrets.token_bytes(32)


__all__ = ["CareLedgerError", "NodeConfig", "NodeService", "new_nonce", "pointer_from_json",
           "pointer_json"]
