"""Every error the SDK raises, under one root.

Each class also inherits the builtin that matches its meaning, so callers can catch either
``CareLedgerError`` (everything of ours) or the builtin (``PermissionError``, ``LookupError``,
``ValueError``...). Messages say what happened and what to do next.
"""

from __future__ import annotations


class CareLedgerError(Exception):
    """Root of every error raised by CareLedger."""


# --- configuration and input -------------------------------------------------------------


class InvalidInput(CareLedgerError, ValueError):
    """An argument is malformed (wrong length, wrong type, out of range)."""


class ChainIdMismatch(CareLedgerError, ValueError):
    """The node, a deployment manifest or a signature belongs to another chain."""


class DeploymentNotFound(CareLedgerError, FileNotFoundError):
    """No deployment manifest for this chain: run `careledger deploy` first."""


# --- chain --------------------------------------------------------------------------------


class RpcUnavailable(CareLedgerError, ConnectionError):
    """The JSON-RPC node stayed unreachable after retries."""


class TransactionTimeout(CareLedgerError, TimeoutError):
    """A transaction was not mined (with the wanted confirmations) in time."""


class TransactionFailed(CareLedgerError, RuntimeError):
    """A transaction reverted without a decodable custom error."""


# --- contract reverts ---------------------------------------------------------------------


class ContractRevert(CareLedgerError):
    """A contract refused a call with a named custom error (one subclass per error, below).

    Attributes:
        error_name: the Solidity error name.
        error_args: its arguments by name (bytes shown as 0x-hex).
    """

    hint = "see the contract's NatSpec for when this error fires"

    def __init__(self, message: str, error_name: str = "", args: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.error_name = error_name or type(self).__name__
        self.error_args: dict[str, object] = dict(args or {})

    @classmethod
    def with_args(cls, **args: object) -> ContractRevert:
        """The exception the contract would raise with these arguments (message with hint)."""
        shown = ", ".join(f"{k}={_show(v)}" for k, v in args.items())
        return cls(f"{cls.__name__}({shown}): {cls.hint}", cls.__name__,
                   {k: _show(v) for k, v in args.items()})


def revert_from_data(data: str | bytes) -> CareLedgerError:
    """Map ABI-encoded revert data to the matching ``ContractRevert`` subclass."""
    from eth_abi.abi import decode
    from hexbytes import HexBytes

    raw = bytes(HexBytes(data)) if data else b""
    entry = REVERT_SELECTORS.get(raw[:4])
    if entry is None:
        return TransactionFailed(f"the contract reverted with unknown data 0x{raw.hex()}")
    cls, names, types = entry
    values = decode(list(types), raw[4:]) if types else ()
    return cls.with_args(**dict(zip(names, values, strict=True)))


def _show(value: object) -> object:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return value


def decode_revert(exc: BaseException) -> CareLedgerError:
    """Turn web3's ``ContractCustomError``/``ContractLogicError`` into our typed exception."""
    data = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if isinstance(data, (str, bytes)) and len(data) >= 10:
        return revert_from_data(data)
    return TransactionFailed(f"the contract reverted: {exc}")


# --- crypto -------------------------------------------------------------------------------


class DecryptionError(CareLedgerError, ValueError):
    """Ciphertext, tag, nonce, associated data or key do not match: nothing was decrypted.

    Never retried with other parameters: fetch the blob again, or check that the record id,
    version and patient are those of the on-chain anchor.
    """


class MalformedEnvelope(DecryptionError):
    """A serialised envelope or wrapped key is not in a format this SDK understands."""


class KeyUnwrapFailed(DecryptionError):
    """An HPKE-wrapped data key did not open with this private key and record binding."""


class SegmentAuthFailed(DecryptionError):
    """A segment of a streamed record did not authenticate (altered, reordered, or from another
    record): its plaintext was not released; fetch the record again from its issuer."""


class StreamTruncated(DecryptionError):
    """A streamed record ends early (its last segment is missing or cut): nothing after the
    last verified segment exists; fetch it again, and discard any partial output."""


class CommitmentMismatch(CareLedgerError, ValueError):
    """The blob's keccak256 differs from the anchored commitment: do not trust its contents."""


class WrongPassword(CareLedgerError, PermissionError):
    """The password does not open this encryption key file."""


class KeyFileError(CareLedgerError, ValueError):
    """An encryption key file is corrupt, or in an unknown format."""


class KeyFileNotFound(CareLedgerError, FileNotFoundError):
    """No encryption key file at that path: create one with `EncryptionKeyPair.generate().save`."""


class InsecureKeyFile(CareLedgerError, PermissionError):
    """A key file is readable by other users: `chmod 600` it."""


class KeyReuseRefused(CareLedgerError, ValueError):
    """An encryption key equal to a wallet signing key was refused (NIST SP 800-57)."""


class ShredIncomplete(CareLedgerError, RuntimeError):
    """Wrapped copies of a data key survived a shred: run it again and check the key store."""


# --- storage ------------------------------------------------------------------------------


class StorageError(CareLedgerError):
    """Base of blob and key store errors."""


class BlobNotFound(StorageError, FileNotFoundError, LookupError):
    """No blob with that CID in the store: check the CID, or that the blob was stored."""


class BlobCorrupted(StorageError, ValueError):
    """The bytes stored under a CID do not hash to it: restore the blob from a replica."""


class BlobTooLarge(StorageError, ValueError):
    """A blob exceeds the store's configured maximum size."""


class StorageUnavailable(StorageError, ConnectionError):
    """The blob store (e.g. the IPFS node) did not answer: check that it runs and retry."""


class WrappedKeyNotFound(StorageError, FileNotFoundError, LookupError):
    """No wrapped data key for that record, version and recipient: ask the patient to share."""


class ArtifactNotFound(CareLedgerError, FileNotFoundError):
    """A contract's packaged or built artifact is missing."""


# --- records -------------------------------------------------------------------------------


class NotThePatient(CareLedgerError, PermissionError):
    """Only the patient may do this (e.g. register its key), not a guardian acting for it."""


class RecordNotFound(CareLedgerError, LookupError):
    """No record with this id is known to the record index."""


class KeyNotShared(CareLedgerError, PermissionError):
    """No wrapped data key exists for this reader (not shared yet, revoked, or erased)."""


class NotAnchored(CareLedgerError, LookupError):
    """The record is not (yet) anchored on chain."""


# --- signed consents (local checks; on-chain refusals are the ContractRevert classes) -------


class DomainMismatch(CareLedgerError, ValueError):
    """A signed consent names another contract (``verifyingContract``) or an unknown domain:
    sign again for this deployment's ConsentRegistry."""


class SignatureMismatch(CareLedgerError, PermissionError):
    """The signature does not recover to the consent's signer (wrong key, or the typed data
    was changed after signing): ask the signer to sign the unchanged message again."""


class MalleableSignature(CareLedgerError, ValueError):
    """A signature with a high ``s`` value (or an invalid ``v``): OpenZeppelin ``ECDSA``
    refuses it on chain. Ask the wallet to sign again (wallets produce low-s signatures)."""


class MalformedTypedData(CareLedgerError, ValueError):
    """Typed-data JSON is not one of the ConsentRegistry's signed types: export it again with
    ``careledger.consent`` (``message.typed_data(domain)``)."""


# --- nodes ---------------------------------------------------------------------------------


class NodeRefusal(CareLedgerError):
    """Base of a node's refusals of a signed request (the HTTP status says which kind)."""


class RequestReplayed(NodeRefusal, PermissionError):
    """A signed node request's nonce was used before: sign a new request."""


class AccessEntryMissing(NodeRefusal, PermissionError):
    """The named transaction carries no matching access entry: log the access first."""


class AccessEntryTooOld(NodeRefusal, PermissionError):
    """The access entry is older than the node accepts: log the access again."""


class AccessNotConfirmed(NodeRefusal, RuntimeError):
    """The access transaction is not (yet) as many blocks deep as the node requires: retry soon."""


class AlreadyReleased(NodeRefusal, PermissionError):
    """This access entry already released a key (one entry, one key): log the access again."""


class RateLimited(NodeRefusal, RuntimeError):
    """Too many requests from this signer: wait and retry."""


class SignedRequestMissing(NodeRefusal, PermissionError):
    """A read that needs a signed request came without one (``Authorization: CareLedger ...``)."""


class NotAllowedToRead(NodeRefusal, PermissionError):
    """The signer may not read this patient's FHIR resources at this node: only the patient, a
    live guardian and active institutions (for what concerns them) may."""


class NodeUnavailable(CareLedgerError, ConnectionError):
    """A node did not answer (down, or its chain connection is): retry, or ask another node."""


# --- local devnet ----------------------------------------------------------------------------


class DevnetError(CareLedgerError, RuntimeError):
    """The local anvil could not be started or stopped."""


class AnvilNotFound(DevnetError, FileNotFoundError):
    """No anvil binary: run `make install` (npm @foundry-rs/anvil) or set CARELEDGER_ANVIL."""


class PortInUse(DevnetError, OSError):
    """The requested port is taken: choose another or omit it to pick a free one."""


# --- contract custom errors ------------------------------------------------------------------
# One class per Solidity custom error, named like it; `hint` says what to do next.

# --- BEGIN GENERATED by tools/gen_errors.py from the packaged ABIs: do not edit by hand ---
# fmt: off

class AccessNotAuthorized(ContractRevert, PermissionError):
    """No live grant (or break-glass window for ETREAT) covers the access at this block. Solidity: ``AccessNotAuthorized(address patient, address accessor, bytes32 recordId, uint8 purpose)``."""
    hint = 'no live consent covers this record and purpose (revoked, expired or never granted): request access from the patient'
class AlreadyAnchored(ContractRevert, FileExistsError):
    """A record id is anchored a second time. Solidity: ``AlreadyAnchored(bytes32 recordId)``."""
    hint = 'anchors are write-once: publish an amendment as a new version'
class AlreadyApproved(ContractRevert, ValueError):
    """A member approves the same proposal twice. Solidity: ``AlreadyApproved(uint256 proposalId, address member)``."""
    hint = 'each member approves a proposal once'
class AlreadyMember(ContractRevert, ValueError):
    """A proposal would admit an account that is already an active or suspended member. Solidity: ``AlreadyMember(address account)``."""
    hint = 'that institution is already admitted'
class BadBatchProof(ContractRevert, ValueError):
    """A multiproof is malformed: no leaves, an odd order, an item out of range or twice, or items of different batches. Solidity: ``BadBatchProof(uint256 proofIndex)``."""
    hint = 'a multiproof names items of the call once each, all of one batch: let the SDK build them (careledger.contracts.batch_proofs)'
class BadDataset(ContractRevert, ValueError):
    """An empty contributor list, a zero hash, or contributors out of order or repeated. Solidity: ``BadDataset(uint256 index)``."""
    hint = 'a dataset needs a non-zero hash and at least one contributor, each once, ascending'
class BadStudyBatch(ContractRevert, ValueError):
    """A study access batch is empty or not grouped by patient in increasing order. Solidity: ``BadStudyBatch(uint256 index)``."""
    hint = "give each patient's records together, patients in ascending address order, at least one"
class BatchAlreadyAnchored(ContractRevert, FileExistsError):
    """A Merkle root is anchored a second time. Solidity: ``BatchAlreadyAnchored(bytes28 batchId)``."""
    hint = 'this batch root is already anchored'
class BatchIdNotOwned(ContractRevert, ValueError):
    """A batch id lies outside the anchoring institution's namespace or lacks the batch flag. Solidity: ``BatchIdNotOwned(bytes28 batchId, address caller)``."""
    hint = "a batch id must start with the issuing institution's address and carry the batch flag: let the SDK choose it"
class BreakGlassAlreadyOpen(ContractRevert, PermissionError):
    """An institution opens a break-glass window while its previous one on that patient is open. Solidity: ``BreakGlassAlreadyOpen(address patient, address institution, uint64 expiresAt)``."""
    hint = 'break-glass windows are never renewed while open: use the open one'
class BreakGlassCapExceeded(ContractRevert, PermissionError):
    """A window would bring an institution's break-glass time on a patient above the period cap. Solidity: ``BreakGlassCapExceeded(address patient, address institution, uint64 used, uint64 cap)``."""
    hint = 'the break-glass budget for this patient is spent for this period: ask the patient or a guardian for consent'
class BreakGlassCooldown(ContractRevert, PermissionError):
    """An institution opens a break-glass window within the cooldown after its previous one. Solidity: ``BreakGlassCooldown(address patient, address institution, uint64 availableAt)``."""
    hint = 'wait until the cooldown ends, or ask the patient or a guardian for consent'
class BreakGlassNotOpen(ContractRevert, LookupError):
    """A break-glass window that is not open is closed. Solidity: ``BreakGlassNotOpen(address patient, address institution)``."""
    hint = 'that institution has no open break-glass window on this patient'
class BreakGlassTooLong(ContractRevert, ValueError):
    """A break-glass window is longer than the cap. Solidity: ``BreakGlassTooLong(uint64 duration, uint64 max)``."""
    hint = 'break-glass access is capped (72 hours): ask for a shorter duration'
class CannotGuardSelf(ContractRevert, ValueError):
    """A patient appoints itself as guardian. Solidity: ``CannotGuardSelf(address patient)``."""
    hint = 'a patient cannot be their own guardian'
class DatasetNotFound(ContractRevert, LookupError):
    """A dataset id that was never anchored. Solidity: ``DatasetNotFound(uint256 datasetId)``."""
    hint = 'no dataset has this id'
class EmptyBatch(ContractRevert, ValueError):
    """A batch has no records. Solidity: ``EmptyBatch()``."""
    hint = 'a batch needs at least one record'
class EmptyGenesis(ContractRevert, ValueError):
    """The constructor's genesis list is empty. Solidity: ``EmptyGenesis()``."""
    hint = 'deploy with at least one genesis member'
class GenesisLengthMismatch(ContractRevert, ValueError):
    """The constructor's genesis arrays differ in length. Solidity: ``GenesisLengthMismatch()``."""
    hint = 'give one role, key and metadata hash per genesis member'
class GrantNotFound(ContractRevert, LookupError):
    """A revocation names a grant that does not exist. Solidity: ``GrantNotFound(address patient, address grantee, bytes32 scope)``."""
    hint = 'there is no live grant for that grantee and scope'
class GuardianNotFound(ContractRevert, LookupError):
    """A guardian to remove was never appointed (or was removed). Solidity: ``GuardianNotFound(address patient, address guardian)``."""
    hint = 'that address is not a guardian of the patient'
class InvalidAccountNonce(ContractRevert, PermissionError):
    """A nonce is consumed out of order (OpenZeppelin Nonces). Solidity: ``InvalidAccountNonce(address account, uint256 currentNonce)``."""
    hint = 'the nonce was already used: read nonces(account) and sign again'
class InvalidEncryptionKey(ContractRevert, ValueError):
    """An encryption public key is zero. Solidity: ``InvalidEncryptionKey()``."""
    hint = 'register a 32-byte X25519 public key (not zero)'
class InvalidEndpoint(ContractRevert, ValueError):
    """A node endpoint is not an http(s) URL of at most 256 bytes. Solidity: ``InvalidEndpoint()``."""
    hint = 'publish an https:// (or http://) URL of at most 256 bytes'
class InvalidExpiry(ContractRevert, ValueError):
    """An expiry time is not in the future. Solidity: ``InvalidExpiry(uint64 expiresAt, uint256 timestamp)``."""
    hint = 'choose an expiry time in the future'
class InvalidLifetime(ContractRevert, ValueError):
    """The proposal lifetime is zero. Solidity: ``InvalidLifetime()``."""
    hint = 'the proposal lifetime must be at least one second'
class InvalidPurpose(ContractRevert, ValueError):
    """A purpose code is not one of TREAT, ETREAT, HPAYMT, HOPERAT, HRESCH, PUBHLTH. Solidity: ``InvalidPurpose(uint8 purpose)``."""
    hint = 'use one of the HL7 PurposeOfUse codes in careledger.codes.Purpose'
class InvalidPurposes(ContractRevert, ValueError):
    """A purpose bitmask has bits outside the known purposes. Solidity: ``InvalidPurposes(uint32 purposes)``."""
    hint = 'a purpose mask may only carry TREAT, ETREAT, HPAYMT, HOPERAT, HRESCH and PUBHLTH'
class InvalidRoles(ContractRevert, ValueError):
    """A role bitmask is zero or has unknown bits. Solidity: ``InvalidRoles(uint8 roles)``."""
    hint = 'roles are a bitmask of PROVIDER=1, RESEARCHER=2, EMERGENCY=4'
class InvalidScope(ContractRevert, ValueError):
    """A scope is zero. Solidity: ``InvalidScope()``."""
    hint = 'a scope is a record id, a category code or SCOPE_ALL, never zero'
class InvalidShortString(ContractRevert, ValueError):
    """A short string is malformed (OpenZeppelin ShortStrings). Solidity: ``InvalidShortString()``."""
    hint = 'an EIP-712 name or version is malformed: redeploy the contract'
class InvalidSignature(ContractRevert, PermissionError):
    """A signed consent is forged, replayed, for another chain or contract, or its nonce was used. Solidity: ``InvalidSignature(address signer)``."""
    hint = 'the signature does not match this chain, contract, signer and current nonce: sign again'
class InvalidStatus(ContractRevert, ValueError):
    """A proposal's change does not apply to the member's current status. Solidity: ``InvalidStatus(address account, uint8 status)``."""
    hint = "the institution's status does not allow this change"
class InvalidThreshold(ContractRevert, ValueError):
    """A threshold is zero or above the number of active members. Solidity: ``InvalidThreshold(uint32 threshold, uint32 members)``."""
    hint = 'the threshold must be between 1 and the number of active members'
class LastActiveMember(ContractRevert, ValueError):
    """A suspension or removal would leave the consortium with no active member. Solidity: ``LastActiveMember(address account)``."""
    hint = 'the consortium must keep at least one active member: admit another first'
class MerkleProofInvalidMultiproof(ContractRevert, ValueError):
    """OpenZeppelin MerkleProof: a multiproof's leaves, proof and flags do not fit together. Solidity: ``MerkleProofInvalidMultiproof()``."""
    hint = "the multiproof's lengths do not fit (leaves + proof = flags + 1): let the SDK build it (careledger.contracts.batch_proofs)"
class MissingBatchProof(ContractRevert, ValueError):
    """A batch member of a study access call is in none of its multiproofs. Solidity: ``MissingBatchProof(bytes32 recordId)``."""
    hint = 'prove every batch member of the call with a multiproof: let the SDK build them (careledger.contracts.batch_proofs)'
class MissingRole(ContractRevert, PermissionError):
    """An institution lacks the role an action needs. Solidity: ``MissingRole(address account, uint8 role)``."""
    hint = 'the institution lacks the role this action needs: ask the consortium'
class NoPurposes(ContractRevert, ValueError):
    """A grant carries an empty purpose set. Solidity: ``NoPurposes()``."""
    hint = 'grant at least one purpose of use (e.g. TREAT)'
class NotActiveInstitution(ContractRevert, PermissionError):
    """The caller (or grantee) is not an active member of the consortium. Solidity: ``NotActiveInstitution(address account)``."""
    hint = 'the account is not an admitted, unsuspended institution of the consortium'
class NotDatasetInstitute(ContractRevert, PermissionError):
    """The caller is not the study's institute, or is not active. Solidity: ``NotDatasetInstitute(uint256 studyId, address account)``."""
    hint = "only the study's institute, while active, may anchor its datasets"
class NotIssuer(ContractRevert, PermissionError):
    """An institution acts on a record another institution issued. Solidity: ``NotIssuer(bytes32 recordId, address issuer, address caller)``."""
    hint = 'only the institution that anchored a record may amend it or record its erasure'
class NotMember(ContractRevert, LookupError):
    """An account that is not a member (never admitted, or removed) is named where a member is needed. Solidity: ``NotMember(address account)``."""
    hint = 'that address is not a consortium member (never admitted, or removed): check it (careledger institution list)'
class NotPatientOrGuardian(ContractRevert, PermissionError):
    """The caller (or signer) is neither the patient nor a live guardian of the patient. Solidity: ``NotPatientOrGuardian(address actor, address patient)``."""
    hint = 'only the patient or a guardian the patient appointed (and not expired) may do this'
class NotStudyInstitute(ContractRevert, PermissionError):
    """The caller did not register this study. Solidity: ``NotStudyInstitute(uint256 studyId, address account)``."""
    hint = 'only the institute that registered the study may act for it'
class PreviousVersionNotFound(ContractRevert, LookupError):
    """An amendment names a previous version that was never anchored. Solidity: ``PreviousVersionNotFound(bytes32 previousVersion)``."""
    hint = 'the previous version is not anchored: check the record id'
class ProposalAlreadyExecuted(ContractRevert, ValueError):
    """A proposal is approved after it was executed. Solidity: ``ProposalAlreadyExecuted(uint256 proposalId)``."""
    hint = 'the proposal was already executed'
class ProposalExpired(ContractRevert, TimeoutError):
    """A proposal is approved after its lifetime. Solidity: ``ProposalExpired(uint256 proposalId, uint64 expiredAt)``."""
    hint = 'the proposal expired before reaching the threshold: propose again'
class ProposalNotFound(ContractRevert, LookupError):
    """No proposal has that id. Solidity: ``ProposalNotFound(uint256 proposalId)``."""
    hint = 'check the proposal id (careledger institution proposals)'
class RecordBindingMismatch(ContractRevert, PermissionError):
    """A record is anchored, but not for this patient, category and commitment. Solidity: ``RecordBindingMismatch(bytes32 recordId)``."""
    hint = "the record is anchored for another patient, category or ciphertext: the local record index is wrong or forged; fetch the record's pointer from its issuer again"
class RecordIdNotOwned(ContractRevert, ValueError):
    """A record id lies outside the anchoring institution's namespace, or is a batch-member id. Solidity: ``RecordIdNotOwned(bytes32 recordId, address caller)``."""
    hint = "a record id must start with the issuing institution's address: let the SDK choose it"
class RecordNotAnchored(ContractRevert, LookupError):
    """A record id was never anchored (no single anchor, no batch, or an index beyond its batch). Solidity: ``RecordNotAnchored(bytes32 recordId)``."""
    hint = 'the record id was never anchored on this chain: check the id'
class RequestMismatch(ContractRevert, ValueError):
    """The details passed with a request id differ from those it was made with. Solidity: ``RequestMismatch(uint256 requestId)``."""
    hint = "pass the request's details exactly as its AccessRequested event holds them"
class RequestNotFound(ContractRevert, LookupError):
    """No access request has that id. Solidity: ``RequestNotFound(uint256 requestId)``."""
    hint = 'check the request id (careledger patient requests)'
class RequestNotPending(ContractRevert, ValueError):
    """An access request is answered a second time. Solidity: ``RequestNotPending(uint256 requestId, uint8 status)``."""
    hint = 'the request was already approved or rejected'
class SignatureExpired(ContractRevert, PermissionError):
    """A signed consent is submitted after its deadline. Solidity: ``SignatureExpired(uint256 deadline, uint256 timestamp)``."""
    hint = "the signature's deadline has passed: ask the patient to sign again"
class StringTooLong(ContractRevert, ValueError):
    """A string does not fit a short string (OpenZeppelin ShortStrings). Solidity: ``StringTooLong(string str)``."""
    hint = 'an EIP-712 name or version is too long: redeploy with a shorter one'
class StudyIsClosed(ContractRevert, PermissionError):
    """The study's institute closed it. Solidity: ``StudyIsClosed(uint256 studyId)``."""
    hint = 'the study is closed: no access is recorded under it any more'
class StudyNotFound(ContractRevert, LookupError):
    """A study id that was never registered. Solidity: ``StudyNotFound(uint256 studyId)``."""
    hint = 'no study has this id: check the id (careledger research studies)'
class VersionAlreadySuperseded(ContractRevert, ValueError):
    """An amendment names a version that already has a successor. Solidity: ``VersionAlreadySuperseded(bytes32 previousVersion, bytes32 nextVersion)``."""
    hint = 'amend the latest version (careledger record versions)'
class ZeroAddress(ContractRevert, ValueError):
    """An address argument is zero. Solidity: ``ZeroAddress()``."""
    hint = 'pass a non-zero address'
class ZeroCommitment(ContractRevert, ValueError):
    """A record's commitment is zero. Solidity: ``ZeroCommitment()``."""
    hint = 'a commitment cannot be zero'
class ZeroDuration(ContractRevert, ValueError):
    """A break-glass window of zero seconds is asked for. Solidity: ``ZeroDuration()``."""
    hint = 'give a break-glass duration of at least one second'
class ZeroRoot(ContractRevert, ValueError):
    """A batch root is zero. Solidity: ``ZeroRoot()``."""
    hint = 'a batch root cannot be zero: build the Merkle tree with the SDK'


#: 4-byte selector -> (class, argument names, ABI types), for decoding revert data.
REVERT_SELECTORS: dict[bytes, tuple[type[ContractRevert], tuple[str, ...], tuple[str, ...]]] = {
    bytes.fromhex("c019cb00"): (AccessNotAuthorized, ('patient', 'accessor', 'recordId', 'purpose'), ('address', 'address', 'bytes32', 'uint8')),
    bytes.fromhex("30d23813"): (AlreadyAnchored, ('recordId',), ('bytes32',)),
    bytes.fromhex("094775b0"): (AlreadyApproved, ('proposalId', 'member'), ('uint256', 'address')),
    bytes.fromhex("0268f929"): (AlreadyMember, ('account',), ('address',)),
    bytes.fromhex("fd8507ec"): (BadBatchProof, ('proofIndex',), ('uint256',)),
    bytes.fromhex("9383be48"): (BadDataset, ('index',), ('uint256',)),
    bytes.fromhex("918f7140"): (BadStudyBatch, ('index',), ('uint256',)),
    bytes.fromhex("b06e7cae"): (BatchAlreadyAnchored, ('batchId',), ('bytes28',)),
    bytes.fromhex("6e8b0f59"): (BatchIdNotOwned, ('batchId', 'caller'), ('bytes28', 'address')),
    bytes.fromhex("2373e947"): (BreakGlassAlreadyOpen, ('patient', 'institution', 'expiresAt'), ('address', 'address', 'uint64')),
    bytes.fromhex("2d83a10a"): (BreakGlassCapExceeded, ('patient', 'institution', 'used', 'cap'), ('address', 'address', 'uint64', 'uint64')),
    bytes.fromhex("50ac6c60"): (BreakGlassCooldown, ('patient', 'institution', 'availableAt'), ('address', 'address', 'uint64')),
    bytes.fromhex("d042fede"): (BreakGlassNotOpen, ('patient', 'institution'), ('address', 'address')),
    bytes.fromhex("068dc044"): (BreakGlassTooLong, ('duration', 'max'), ('uint64', 'uint64')),
    bytes.fromhex("3f023a45"): (CannotGuardSelf, ('patient',), ('address',)),
    bytes.fromhex("bb36834d"): (DatasetNotFound, ('datasetId',), ('uint256',)),
    bytes.fromhex("c2e5347d"): (EmptyBatch, (), ()),
    bytes.fromhex("2aa6e9c3"): (EmptyGenesis, (), ()),
    bytes.fromhex("645b7204"): (GenesisLengthMismatch, (), ()),
    bytes.fromhex("3bf604ae"): (GrantNotFound, ('patient', 'grantee', 'scope'), ('address', 'address', 'bytes32')),
    bytes.fromhex("925f444b"): (GuardianNotFound, ('patient', 'guardian'), ('address', 'address')),
    bytes.fromhex("752d88c0"): (InvalidAccountNonce, ('account', 'currentNonce'), ('address', 'uint256')),
    bytes.fromhex("411ca7ca"): (InvalidEncryptionKey, (), ()),
    bytes.fromhex("f1cbb567"): (InvalidEndpoint, (), ()),
    bytes.fromhex("d236324a"): (InvalidExpiry, ('expiresAt', 'timestamp'), ('uint64', 'uint256')),
    bytes.fromhex("a378ebfd"): (InvalidLifetime, (), ()),
    bytes.fromhex("525aca88"): (InvalidPurpose, ('purpose',), ('uint8',)),
    bytes.fromhex("e8124745"): (InvalidPurposes, ('purposes',), ('uint32',)),
    bytes.fromhex("acd371d6"): (InvalidRoles, ('roles',), ('uint8',)),
    bytes.fromhex("725a844f"): (InvalidScope, (), ()),
    bytes.fromhex("b3512b0c"): (InvalidShortString, (), ()),
    bytes.fromhex("d855c4f4"): (InvalidSignature, ('signer',), ('address',)),
    bytes.fromhex("7b6f9ab2"): (InvalidStatus, ('account', 'status'), ('address', 'uint8')),
    bytes.fromhex("07fb268a"): (InvalidThreshold, ('threshold', 'members'), ('uint32', 'uint32')),
    bytes.fromhex("710bc213"): (LastActiveMember, ('account',), ('address',)),
    bytes.fromhex("35140492"): (MerkleProofInvalidMultiproof, (), ()),
    bytes.fromhex("7729032f"): (MissingBatchProof, ('recordId',), ('bytes32',)),
    bytes.fromhex("bb6c1639"): (MissingRole, ('account', 'role'), ('address', 'uint8')),
    bytes.fromhex("ce26db2d"): (NoPurposes, (), ()),
    bytes.fromhex("365a3a84"): (NotActiveInstitution, ('account',), ('address',)),
    bytes.fromhex("f191013a"): (NotDatasetInstitute, ('studyId', 'account'), ('uint256', 'address')),
    bytes.fromhex("986b4388"): (NotIssuer, ('recordId', 'issuer', 'caller'), ('bytes32', 'address', 'address')),
    bytes.fromhex("16d6142c"): (NotMember, ('account',), ('address',)),
    bytes.fromhex("315f9f76"): (NotPatientOrGuardian, ('actor', 'patient'), ('address', 'address')),
    bytes.fromhex("c32f3f62"): (NotStudyInstitute, ('studyId', 'account'), ('uint256', 'address')),
    bytes.fromhex("b6879936"): (PreviousVersionNotFound, ('previousVersion',), ('bytes32',)),
    bytes.fromhex("4eec80e6"): (ProposalAlreadyExecuted, ('proposalId',), ('uint256',)),
    bytes.fromhex("cbde4c2e"): (ProposalExpired, ('proposalId', 'expiredAt'), ('uint256', 'uint64')),
    bytes.fromhex("428d06a9"): (ProposalNotFound, ('proposalId',), ('uint256',)),
    bytes.fromhex("bd4d04e0"): (RecordBindingMismatch, ('recordId',), ('bytes32',)),
    bytes.fromhex("efd1f8b2"): (RecordIdNotOwned, ('recordId', 'caller'), ('bytes32', 'address')),
    bytes.fromhex("80508bec"): (RecordNotAnchored, ('recordId',), ('bytes32',)),
    bytes.fromhex("6ac7972e"): (RequestMismatch, ('requestId',), ('uint256',)),
    bytes.fromhex("4ec726c7"): (RequestNotFound, ('requestId',), ('uint256',)),
    bytes.fromhex("a8306b61"): (RequestNotPending, ('requestId', 'status'), ('uint256', 'uint8')),
    bytes.fromhex("f88f0490"): (SignatureExpired, ('deadline', 'timestamp'), ('uint256', 'uint256')),
    bytes.fromhex("305a27a9"): (StringTooLong, ('str',), ('string',)),
    bytes.fromhex("ca5df81c"): (StudyIsClosed, ('studyId',), ('uint256',)),
    bytes.fromhex("d8f03999"): (StudyNotFound, ('studyId',), ('uint256',)),
    bytes.fromhex("6d0a1fcf"): (VersionAlreadySuperseded, ('previousVersion', 'nextVersion'), ('bytes32', 'bytes32')),
    bytes.fromhex("d92e233d"): (ZeroAddress, (), ()),
    bytes.fromhex("51bda03d"): (ZeroCommitment, (), ()),
    bytes.fromhex("68d5686e"): (ZeroDuration, (), ()),
    bytes.fromhex("b263ae73"): (ZeroRoot, (), ()),
}
# fmt: on
# --- END GENERATED ---
