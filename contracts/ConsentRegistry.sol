// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {EIP712} from "@openzeppelin/contracts/utils/cryptography/EIP712.sol";
import {SignatureChecker} from "@openzeppelin/contracts/utils/cryptography/SignatureChecker.sol";
import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";

import {
    InvalidEncryptionKey, MissingRole, NotActiveInstitution, NotMember, ZeroAddress
} from "./interfaces/CareLedgerErrors.sol";
import {InstitutionStatus, Roles} from "./interfaces/CareLedgerTypes.sol";
import {IConsentRegistry} from "./interfaces/IConsentRegistry.sol";
import {IInstitutionRegistry} from "./interfaces/IInstitutionRegistry.sol";

/// @title ConsentRegistry — grants, guardians, requests, break-glass and the access log
/// @notice See {IConsentRegistry}. Every authorisation check is O(1): a grant lives in one storage
/// slot keyed by (patient, grantee, scope); a check reads at most the specific scope, the category,
/// SCOPE_ALL and the break-glass slot, then asks the institution registry whether the grantee is
/// still active. No function loops over grants.
contract ConsentRegistry is IConsentRegistry, EIP712, Nonces {
    /// @inheritdoc IConsentRegistry
    bytes32 public constant SCOPE_ALL = keccak256("careledger.scope.ALL");
    /// @inheritdoc IConsentRegistry
    uint64 public constant MAX_BREAK_GLASS = 72 hours;
    /// @inheritdoc IConsentRegistry
    uint8 public constant PURPOSE_ETREAT = 1;
    /// @inheritdoc IConsentRegistry
    uint8 public constant MAX_PURPOSE = 5;
    /// @dev Bits 0..MAX_PURPOSE set (0x3f): the purposes a grant may carry.
    uint32 internal constant PURPOSE_MASK = (uint32(1) << (MAX_PURPOSE + 1)) - 1;

    // Statuses are stored and exchanged as uint8 holding the shared enums' values, because solc
    // range-checks every enum read from storage or decoded from a call (see IInstitutionRegistry).
    uint8 private constant STATUS_ACTIVE = uint8(InstitutionStatus.Active);
    uint8 private constant STATUS_SUSPENDED = uint8(InstitutionStatus.Suspended);
    // The {RequestStatus} values, spelt as literals: written as `uint8(RequestStatus.X)` they
    // change the optimizer's output for approveRequest and rejectRequest (+3 to +9 gas). The forge
    // test `test_statusCodesAreTheSharedEnums` holds them equal to the enum.
    uint8 private constant REQUEST_PENDING = 0;
    uint8 private constant REQUEST_APPROVED = 1;
    uint8 private constant REQUEST_REJECTED = 2;

    /// @inheritdoc IConsentRegistry
    bytes32 public constant GRANT_TYPEHASH = keccak256(
        "Grant(address patient,address grantee,bytes32 scope,uint32 purposes,uint64 expiresAt,address signer,uint256 nonce,uint256 deadline)"
    );
    /// @inheritdoc IConsentRegistry
    bytes32 public constant REVOKE_TYPEHASH =
        keccak256("Revoke(address patient,address grantee,bytes32 scope,address signer,uint256 nonce,uint256 deadline)");
    /// @inheritdoc IConsentRegistry
    bytes32 public constant SET_GUARDIAN_TYPEHASH =
        keccak256("SetGuardian(address patient,address guardian,uint64 expiresAt,uint256 nonce,uint256 deadline)");

    /// @dev One storage slot per patient: the chain head (the first 24 bytes of the keccak256
    /// step, 192 bits) and the entry count. Keeping both in one slot is what holds recordAccess
    /// under its gas budget; a 192-bit head still needs ~2^192 work to forge a history.
    struct AuditState {
        bytes24 head;
        uint64 count;
    }

    IInstitutionRegistry private immutable _institutions;

    mapping(bytes32 key => Grant) private _grants; // key = keccak256(abi.encode(patient, grantee, scope))
    mapping(address patient => bytes32) private _patientKeys;
    mapping(address patient => mapping(address guardian => uint64 expiresAt)) private _guardians;
    mapping(address patient => mapping(address institution => uint64 expiresAt)) private _breakGlass;
    mapping(address patient => AuditState) private _audit;
    AccessRequest[] private _requests;

    /// @param institutions_ The consortium's InstitutionRegistry (not zero: {ZeroAddress}).
    constructor(IInstitutionRegistry institutions_) EIP712("CareLedger ConsentRegistry", "1") {
        if (address(institutions_) == address(0)) revert ZeroAddress();
        _institutions = institutions_;
    }

    // ---------------------------------------------------------------- patient keys and guardians

    /// @inheritdoc IConsentRegistry
    function registerPatientKey(address patient, bytes32 encryptionKey) external {
        _onlyPatientOrGuardian(patient, msg.sender);
        if (encryptionKey == bytes32(0)) revert InvalidEncryptionKey();
        _patientKeys[patient] = encryptionKey;
        emit PatientKeyRegistered(patient, encryptionKey);
    }

    /// @inheritdoc IConsentRegistry
    function setGuardian(address guardian, uint64 expiresAt) external {
        _setGuardian(msg.sender, guardian, expiresAt);
    }

    /// @inheritdoc IConsentRegistry
    function removeGuardian(address guardian) external {
        if (_guardians[msg.sender][guardian] == 0) revert GuardianNotFound(msg.sender, guardian);
        delete _guardians[msg.sender][guardian];
        emit GuardianRemoved(msg.sender, guardian);
    }

    // ---------------------------------------------------------------- grants

    /// @inheritdoc IConsentRegistry
    function grant(address patient, address grantee, bytes32 scope, uint32 purposes, uint64 expiresAt) external {
        _onlyPatientOrGuardian(patient, msg.sender);
        _grant(patient, grantee, scope, purposes, expiresAt, msg.sender);
    }

    /// @inheritdoc IConsentRegistry
    function revoke(address patient, address grantee, bytes32 scope) external {
        _onlyPatientOrGuardian(patient, msg.sender);
        _revoke(patient, grantee, scope, msg.sender);
    }

    /// @inheritdoc IConsentRegistry
    function grantBySig(
        address patient,
        address grantee,
        bytes32 scope,
        uint32 purposes,
        uint64 expiresAt,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _checkDeadline(deadline);
        _onlyPatientOrGuardian(patient, signer);
        bytes32 structHash = keccak256(
            abi.encode(
                GRANT_TYPEHASH, patient, grantee, scope, purposes, expiresAt, signer, _useNonce(signer), deadline
            )
        );
        _checkSignature(signer, structHash, signature);
        _grant(patient, grantee, scope, purposes, expiresAt, signer);
    }

    /// @inheritdoc IConsentRegistry
    function revokeBySig(
        address patient,
        address grantee,
        bytes32 scope,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _checkDeadline(deadline);
        _onlyPatientOrGuardian(patient, signer);
        bytes32 structHash =
            keccak256(abi.encode(REVOKE_TYPEHASH, patient, grantee, scope, signer, _useNonce(signer), deadline));
        _checkSignature(signer, structHash, signature);
        _revoke(patient, grantee, scope, signer);
    }

    /// @inheritdoc IConsentRegistry
    function setGuardianBySig(
        address patient,
        address guardian,
        uint64 expiresAt,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _checkDeadline(deadline);
        bytes32 structHash =
            keccak256(abi.encode(SET_GUARDIAN_TYPEHASH, patient, guardian, expiresAt, _useNonce(patient), deadline));
        _checkSignature(patient, structHash, signature);
        _setGuardian(patient, guardian, expiresAt);
    }

    /// @inheritdoc IConsentRegistry
    function increaseNonce() external returns (uint256 newNonce) {
        newNonce = _useNonce(msg.sender) + 1;
        emit NonceIncreased(msg.sender, newNonce);
    }

    // ---------------------------------------------------------------- requests

    /// @inheritdoc IConsentRegistry
    function requestAccess(address patient, bytes32 scope, uint8 purpose, bytes32 reasonHash)
        external
        returns (uint256 requestId)
    {
        if (!_institutions.isActive(msg.sender)) revert NotActiveInstitution(msg.sender);
        if (patient == address(0)) revert ZeroAddress();
        if (scope == bytes32(0)) revert InvalidScope();
        if (purpose > MAX_PURPOSE) revert InvalidPurpose(purpose);
        requestId = _requests.length;
        _requests.push(
            AccessRequest({
                requester: msg.sender,
                patient: patient,
                scope: scope,
                purpose: purpose,
                status: REQUEST_PENDING,
                createdAt: uint64(block.timestamp),
                reasonHash: reasonHash
            })
        );
        emit AccessRequested(requestId, patient, msg.sender, scope, purpose, reasonHash);
    }

    /// @inheritdoc IConsentRegistry
    function approveRequest(uint256 requestId, uint64 expiresAt) external {
        AccessRequest storage r = _pendingRequest(requestId);
        address patient = r.patient;
        address requester = r.requester;
        bytes32 scope = r.scope;
        r.status = REQUEST_APPROVED;
        Grant storage g = _grants[_grantKey(patient, requester, scope)];
        uint32 purposes = uint32(1) << r.purpose;
        // keep what is live, unless it predates the requester's (re-)admission
        if (block.timestamp < g.expiresAt && g.grantedAt >= _institutions.institution(requester).admittedAt) {
            purposes |= g.purposes;
        }
        _grant(patient, requester, scope, purposes, expiresAt, msg.sender);
        emit AccessRequestApproved(requestId, patient, expiresAt, msg.sender);
    }

    /// @inheritdoc IConsentRegistry
    function rejectRequest(uint256 requestId) external {
        AccessRequest storage r = _pendingRequest(requestId);
        r.status = REQUEST_REJECTED;
        emit AccessRequestRejected(requestId, r.patient, msg.sender);
    }

    // ---------------------------------------------------------------- break-glass and access

    /// @inheritdoc IConsentRegistry
    function breakGlass(address patient, bytes32 reasonCode, uint64 duration) external {
        // hasRole answers the common case in one call; only a refusal pays a second, to name it
        if (!_institutions.hasRole(msg.sender, Roles.EMERGENCY)) {
            if (!_institutions.isActive(msg.sender)) revert NotActiveInstitution(msg.sender);
            revert MissingRole(msg.sender, Roles.EMERGENCY);
        }
        if (patient == address(0)) revert ZeroAddress();
        if (duration == 0) revert ZeroDuration();
        if (duration > MAX_BREAK_GLASS) revert BreakGlassTooLong(duration, MAX_BREAK_GLASS);
        uint64 expiresAt = uint64(block.timestamp) + duration;
        _breakGlass[patient][msg.sender] = expiresAt;
        emit BreakGlassOpened(patient, msg.sender, reasonCode, expiresAt);
    }

    /// @inheritdoc IConsentRegistry
    function recordAccess(address patient, bytes32 recordId, bytes32 category, uint8 purpose)
        external
        returns (bytes32 head)
    {
        if (purpose > MAX_PURPOSE) revert InvalidPurpose(purpose);
        (bool ok, bool viaBreakGlass) = _authorized(patient, msg.sender, recordId, category, purpose);
        if (!ok) revert AccessNotAuthorized(patient, msg.sender, recordId, purpose);
        uint64 seq;
        (head, seq) = _appendAudit(patient, recordId, category, purpose, viaBreakGlass);
        emit AccessRecorded(
            patient, msg.sender, recordId, category, purpose, uint64(block.timestamp), seq, viaBreakGlass, head
        );
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IConsentRegistry
    function isAuthorized(address patient, address grantee, bytes32 scope, uint8 purpose)
        external
        view
        returns (bool ok)
    {
        (ok,) = _authorized(patient, grantee, scope, SCOPE_ALL, purpose);
    }

    /// @inheritdoc IConsentRegistry
    function isAuthorizedForRecord(address patient, address grantee, bytes32 recordId, bytes32 category, uint8 purpose)
        external
        view
        returns (bool ok)
    {
        (ok,) = _authorized(patient, grantee, recordId, category, purpose);
    }

    /// @inheritdoc IConsentRegistry
    function getGrant(address patient, address grantee, bytes32 scope) external view returns (Grant memory) {
        return _grants[_grantKey(patient, grantee, scope)];
    }

    /// @inheritdoc IConsentRegistry
    function patientKeyOf(address patient) external view returns (bytes32) {
        return _patientKeys[patient];
    }

    /// @inheritdoc IConsentRegistry
    function guardianExpiry(address patient, address guardian) external view returns (uint64) {
        return _guardians[patient][guardian];
    }

    /// @inheritdoc IConsentRegistry
    function isGuardian(address patient, address guardian) external view returns (bool) {
        return block.timestamp < _guardians[patient][guardian];
    }

    /// @inheritdoc IConsentRegistry
    function breakGlassExpiry(address patient, address institution) external view returns (uint64) {
        return _breakGlass[patient][institution];
    }

    /// @inheritdoc IConsentRegistry
    function auditHead(address patient) external view returns (bytes32 head, uint64 count) {
        AuditState storage audit = _audit[patient];
        return (bytes32(audit.head), audit.count);
    }

    /// @inheritdoc IConsentRegistry
    function getRequest(uint256 requestId) external view returns (AccessRequest memory) {
        if (requestId >= _requests.length) revert RequestNotFound(requestId);
        return _requests[requestId];
    }

    /// @inheritdoc IConsentRegistry
    function requestCount() external view returns (uint256) {
        return _requests.length;
    }

    /// @inheritdoc IConsentRegistry
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32) {
        return _domainSeparatorV4();
    }

    /// @inheritdoc IConsentRegistry
    function institutions() external view returns (address) {
        return address(_institutions);
    }

    // ---------------------------------------------------------------- internals

    /// @dev The one place where grants are written: direct, signed and request approval.
    function _grant(address patient, address grantee, bytes32 scope, uint32 purposes, uint64 expiresAt, address actor)
        private
    {
        if (patient == address(0) || grantee == address(0)) revert ZeroAddress();
        if (scope == bytes32(0)) revert InvalidScope();
        if (purposes == 0) revert NoPurposes();
        if (purposes & ~PURPOSE_MASK != 0) revert InvalidPurposes(purposes);
        if (expiresAt <= block.timestamp) revert InvalidExpiry(expiresAt, block.timestamp);
        // a suspended member may receive grants (they count once it is reinstated); an account
        // never admitted or removed may not, as its admission would void them anyway
        uint8 status = _institutions.statusOf(grantee);
        if (status != STATUS_ACTIVE && status != STATUS_SUSPENDED) revert NotMember(grantee);
        _grants[_grantKey(patient, grantee, scope)] =
            Grant({purposes: purposes, expiresAt: expiresAt, grantedAt: uint64(block.timestamp)});
        emit ConsentGranted(patient, grantee, scope, purposes, expiresAt, actor);
    }

    /// @dev The one place where grants are cleared: direct and signed.
    function _revoke(address patient, address grantee, bytes32 scope, address actor) private {
        bytes32 key = _grantKey(patient, grantee, scope);
        if (_grants[key].purposes == 0) revert GrantNotFound(patient, grantee, scope);
        delete _grants[key];
        emit ConsentRevoked(patient, grantee, scope, actor);
    }

    function _setGuardian(address patient, address guardian, uint64 expiresAt) private {
        if (guardian == address(0)) revert ZeroAddress();
        if (guardian == patient) revert CannotGuardSelf(patient);
        if (expiresAt <= block.timestamp) revert InvalidExpiry(expiresAt, block.timestamp);
        _guardians[patient][guardian] = expiresAt;
        emit GuardianSet(patient, guardian, expiresAt);
    }

    /// @dev (authorised, only through break-glass). Grants first (SCOPE_ALL, category, record),
    /// then break-glass for ETREAT. The institution registry is asked once, and only when something
    /// matched: the grantee must be active, and a grant counts only if it was made since the
    /// grantee's (last) admission, so a removed and re-admitted institution starts with no consent.
    function _authorized(address patient, address grantee, bytes32 scope, bytes32 category, uint8 purpose)
        private
        view
        returns (bool, bool)
    {
        if (purpose > MAX_PURPOSE) return (false, false);
        // the first live grant, broadest first; its grantedAt (0: none is live)
        uint64 at = _liveSince(patient, grantee, SCOPE_ALL, purpose, 0);
        if (at == 0 && category != SCOPE_ALL) at = _liveSince(patient, grantee, category, purpose, 0);
        if (at == 0 && scope != SCOPE_ALL && scope != category) at = _liveSince(patient, grantee, scope, purpose, 0);
        uint64 since = 0; // 0: the registry was not asked (no live grant matched)
        if (at != 0) {
            since = _institutions.activeSince(grantee);
            if (since == 0) return (false, false); // suspended, removed or never admitted
            if (at >= since) return (true, false);
            // rare: that grant predates a re-admission; another scope may hold a fresh one
            if (
                _liveSince(patient, grantee, SCOPE_ALL, purpose, since) != 0
                    || (category != SCOPE_ALL && _liveSince(patient, grantee, category, purpose, since) != 0)
                    || (scope != SCOPE_ALL && scope != category && _liveSince(patient, grantee, scope, purpose, since) != 0)
            ) return (true, false);
        }
        if (purpose == PURPOSE_ETREAT && block.timestamp < _breakGlass[patient][grantee]) {
            if (since == 0) since = _institutions.activeSince(grantee);
            if (since != 0) return (true, true);
        }
        return (false, false);
    }

    /// @dev grantedAt of the grant on `scope` if it is live for `purpose` and was granted at or
    /// after `notBefore`; 0 otherwise (a real grant's grantedAt is a block time, never 0).
    function _liveSince(address patient, address grantee, bytes32 scope, uint8 purpose, uint64 notBefore)
        private
        view
        returns (uint64)
    {
        Grant storage g = _grants[_grantKey(patient, grantee, scope)];
        uint64 at = g.grantedAt;
        return ((g.purposes >> purpose) & 1 == 1 && block.timestamp < g.expiresAt && at >= notBefore) ? at : 0;
    }

    /// @dev Advance the patient's audit chain by the caller's access entry; returns (head, seq).
    function _appendAudit(address patient, bytes32 recordId, bytes32 category, uint8 purpose, bool viaBreakGlass)
        private
        returns (bytes32 head, uint64 seq)
    {
        AuditState storage audit = _audit[patient];
        seq = audit.count;
        bytes32 entryHash =
            keccak256(abi.encode(msg.sender, recordId, category, purpose, uint64(block.timestamp), seq, viaBreakGlass));
        bytes24 next = bytes24(keccak256(abi.encode(bytes32(audit.head), patient, entryHash)));
        audit.head = next;
        audit.count = seq + 1;
        head = bytes32(next);
    }

    function _grantKey(address patient, address grantee, bytes32 scope) private pure returns (bytes32) {
        return keccak256(abi.encode(patient, grantee, scope));
    }

    function _pendingRequest(uint256 requestId) private view returns (AccessRequest storage r) {
        if (requestId >= _requests.length) revert RequestNotFound(requestId);
        r = _requests[requestId];
        if (r.status != REQUEST_PENDING) revert RequestNotPending(requestId, r.status);
        _onlyPatientOrGuardian(r.patient, msg.sender);
    }

    function _onlyPatientOrGuardian(address patient, address actor) private view {
        if (actor != patient && block.timestamp >= _guardians[patient][actor]) {
            revert NotPatientOrGuardian(actor, patient);
        }
    }

    function _checkDeadline(uint256 deadline) private view {
        if (block.timestamp > deadline) revert SignatureExpired(deadline, block.timestamp);
    }

    function _checkSignature(address signer, bytes32 structHash, bytes calldata signature) private view {
        if (!SignatureChecker.isValidSignatureNowCalldata(signer, _hashTypedDataV4(structHash), signature)) {
            revert InvalidSignature(signer);
        }
    }
}
