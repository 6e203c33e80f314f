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
    """A contract refused a call with a named custom error.

    Attributes:
        error_name: the Solidity error name.
        args: its arguments by name.
    """

    hint = "see the contract's NatSpec for when this error fires"

    def __init__(self, message: str, error_name: str = "", args: dict[str, object] | None = None) -> None:
        super().__init__(message)
        self.error_name = error_name or type(self).__name__
        self.error_args: dict[str, object] = dict(args or {})


def _revert(name: str, base: type[Exception], hint: str, doc: str) -> type[ContractRevert]:
    cls = type(name, (ContractRevert, base), {"hint": hint, "__doc__": doc})
    return cls


# One class per Solidity custom error, named like it. `hint` says what to do next.
NotPatientOrGuardian = _revert("NotPatientOrGuardian", PermissionError,
    "only the patient or a guardian the patient appointed (and not expired) may do this",
    "The caller is neither the patient nor a live guardian.")
InvalidSignature = _revert("InvalidSignature", PermissionError,
    "the signature does not match this chain, contract, signer and current nonce: sign again",
    "A signed consent is forged, replayed, for another chain/contract, or its nonce was used.")
SignatureExpired = _revert("SignatureExpired", PermissionError,
    "the signature's deadline has passed: ask the patient to sign again", "Deadline passed.")
InvalidExpiry = _revert("InvalidExpiry", ValueError,
    "choose an expiry time in the future", "An expiry is not in the future.")
NoPurposes = _revert("NoPurposes", ValueError,
    "grant at least one purpose of use (e.g. TREAT)", "Empty purpose set.")
InvalidPurpose = _revert("InvalidPurpose", ValueError,
    "use one of the HL7 PurposeOfUse codes in careledger.codes.Purpose", "Unknown purpose code.")
GrantNotFound = _revert("GrantNotFound", LookupError,
    "there is no live grant for that grantee and scope", "Nothing to revoke.")
NotActiveInstitution = _revert("NotActiveInstitution", PermissionError,
    "the account is not an admitted, unsuspended institution of the consortium",
    "Caller (or grantee) is not an active institution.")
MissingRole = _revert("MissingRole", PermissionError,
    "the institution lacks the role this action needs: ask the consortium for it",
    "Institution lacks a role.")
RequestNotFound = _revert("RequestNotFound", LookupError,
    "check the request id (careledger patient requests)", "No such access request.")
RequestNotPending = _revert("RequestNotPending", ValueError,
    "the request was already approved or rejected", "Request is no longer pending.")
BreakGlassTooLong = _revert("BreakGlassTooLong", ValueError,
    "break-glass access is capped (72 hours): ask for a shorter duration", "Duration over cap.")
InvalidEncryptionKey = _revert("InvalidEncryptionKey", ValueError,
    "register a 32-byte X25519 public key (not zero)", "Encryption key is zero.")
ZeroAddress = _revert("ZeroAddress", ValueError, "pass a non-zero address", "Zero address.")
AccessNotAuthorized = _revert("AccessNotAuthorized", PermissionError,
    "no live consent covers this record and purpose (revoked, expired or never granted): "
    "request access from the patient", "Access refused by the consent registry.")
GuardianNotFound = _revert("GuardianNotFound", LookupError,
    "that address is not a guardian of the patient", "No such guardian.")
CannotGuardSelf = _revert("CannotGuardSelf", ValueError,
    "a patient cannot be their own guardian", "Guardian equals patient.")
NotActiveMember = _revert("NotActiveMember", PermissionError,
    "only active consortium members may propose or approve", "Not an active member.")
AlreadyMember = _revert("AlreadyMember", ValueError, "that institution is already admitted",
    "Already a member.")
NotMember = _revert("NotMember", LookupError, "that address is not a consortium member",
    "Not a member.")
InvalidStatus = _revert("InvalidStatus", ValueError,
    "the institution's status does not allow this change", "Wrong status for this change.")
ProposalNotFound = _revert("ProposalNotFound", LookupError, "check the proposal id",
    "No such proposal.")
ProposalExpired = _revert("ProposalExpired", TimeoutError,
    "the proposal expired before reaching the threshold: propose again", "Proposal expired.")
ProposalAlreadyExecuted = _revert("ProposalAlreadyExecuted", ValueError,
    "the proposal was already executed", "Proposal already executed.")
AlreadyApproved = _revert("AlreadyApproved", ValueError,
    "each member approves a proposal once", "Duplicate approval.")
InvalidThreshold = _revert("InvalidThreshold", ValueError,
    "the threshold must be between 1 and the number of active members", "Bad threshold.")
InvalidRoles = _revert("InvalidRoles", ValueError,
    "roles are a bitmask of PROVIDER=1, RESEARCHER=2, EMERGENCY=4", "Bad roles.")
AlreadyAnchored = _revert("AlreadyAnchored", FileExistsError,
    "anchors are write-once: publish an amendment as a new version", "Record id already anchored.")
PreviousVersionNotFound = _revert("PreviousVersionNotFound", LookupError,
    "the previous version is not anchored: check the record id", "Previous version missing.")
VersionAlreadySuperseded = _revert("VersionAlreadySuperseded", ValueError,
    "amend the latest version (careledger record versions)", "Version already amended.")
BatchAlreadyAnchored = _revert("BatchAlreadyAnchored", FileExistsError,
    "this batch root is already anchored", "Batch root already anchored.")
EmptyBatch = _revert("EmptyBatch", ValueError, "a batch needs at least one record", "Empty batch.")
ZeroCommitment = _revert("ZeroCommitment", ValueError, "a commitment cannot be zero",
    "Zero commitment.")
InvalidPurposes = _revert("InvalidPurposes", ValueError,
    "a purpose mask may only carry TREAT, ETREAT, HPAYMT, HOPERAT, HRESCH and PUBHLTH",
    "Unknown purpose bits.")
InvalidScope = _revert("InvalidScope", ValueError,
    "a scope is a record id, a category code or SCOPE_ALL, never zero", "Zero scope.")
UnknownInstitution = _revert("UnknownInstitution", LookupError,
    "consent can only be granted to a consortium member: check the grantee address "
    "(careledger institution list)", "Grantee is not a consortium member.")
NotIssuer = _revert("NotIssuer", PermissionError,
    "only the institution that anchored a version may amend it", "Not the issuer of that version.")
RecordIdNotOwned = _revert("RecordIdNotOwned", ValueError,
    "a record id must start with the issuing institution's address: let the SDK choose it",
    "Record id outside the issuer's namespace.")
GenesisLengthMismatch = _revert("GenesisLengthMismatch", ValueError,
    "give one role, key and metadata hash per genesis member", "Genesis arrays differ in length.")
InvalidLifetime = _revert("InvalidLifetime", ValueError,
    "the proposal lifetime must be at least one second", "Zero proposal lifetime.")

_BY_NAME: dict[str, type[ContractRevert]] = {
    c.__name__: c for c in list(globals().values())
    if isinstance(c, type) and issubclass(c, ContractRevert) and c is not ContractRevert
}
_SELECTORS: dict[bytes, tuple[str, list[dict[str, object]]]] | None = None


def _selectors() -> dict[bytes, tuple[str, list[dict[str, object]]]]:
    global _SELECTORS
    if _SELECTORS is None:
        from eth_utils.crypto import keccak

        from careledger.contracts.artifacts import DEPLOYABLE, load_artifact

        table: dict[bytes, tuple[str, list[dict[str, object]]]] = {}
        for contract in DEPLOYABLE:
            for item in load_artifact(contract)["abi"]:
                if item.get("type") == "error":
                    inputs = list(item.get("inputs", []))
                    sig = f"{item['name']}({','.join(_abi_type(i) for i in inputs)})"
                    table[keccak(text=sig)[:4]] = (str(item["name"]), inputs)
        _SELECTORS = table
    return _SELECTORS


def _abi_type(item: dict[str, object]) -> str:
    typ = str(item["type"])
    if typ.startswith("tuple"):
        comps = item.get("components", [])
        assert isinstance(comps, list)
        return "(" + ",".join(_abi_type(c) for c in comps) + ")" + typ[len("tuple"):]
    return typ


def revert_from_data(data: str | bytes) -> CareLedgerError:
    """Map ABI-encoded revert data to the matching ``ContractRevert`` subclass."""
    from eth_abi.abi import decode
    from hexbytes import HexBytes

    raw = bytes(HexBytes(data)) if data else b""
    entry = _selectors().get(raw[:4])
    if entry is None:
        return TransactionFailed(f"the contract reverted with unknown data 0x{raw.hex()}")
    name, inputs = entry
    values = decode([_abi_type(i) for i in inputs], raw[4:]) if inputs else ()
    args = {str(i["name"]): _show(v) for i, v in zip(inputs, values, strict=True)}
    cls = _BY_NAME.get(name, ContractRevert)
    shown = ", ".join(f"{k}={v}" for k, v in args.items())
    return cls(f"{name}({shown}): {cls.hint}", name, args)


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
# (crypto and key errors are appended below by the crypto module's author)


class DecryptionError(CareLedgerError, ValueError):
    """Ciphertext, tag, nonce, associated data or key do not match: nothing was decrypted.

    Never retried with other parameters: fetch the blob again, or check that the record id,
    version and patient are those of the on-chain anchor.
    """


class MalformedEnvelope(DecryptionError):
    """A serialised envelope or wrapped key is not in a format this SDK understands."""


class KeyUnwrapFailed(DecryptionError):
    """An HPKE-wrapped data key did not open with this private key and record binding."""


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
# (storage errors are appended below by the storage module's author)


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
