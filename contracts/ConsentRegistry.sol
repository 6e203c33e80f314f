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
import {IRecordRegistry} from "./interfaces/IRecordRegistry.sol";

/// @title ConsentRegistry — grants, guardians, requests, break-glass and the access log
/// @notice See {IConsentRegistry}. Every authorisation check is O(1): a grant lives in one storage
/// word keyed by (patient, grantee, scope) holding one expiry per purpose; a check reads at most
/// the SCOPE_ALL, category and record slots and the break-glass slot, and asks the institution
/// registry once for the grantee's status, roles and admission epoch. No function loops over
/// grants.
contract ConsentRegistry is IConsentRegistry, EIP712, Nonces {
    /// @inheritdoc IConsentRegistry
    bytes32 public constant SCOPE_ALL = keccak256("careledger.scope.ALL");
    /// @inheritdoc IConsentRegistry
    uint64 public constant MAX_BREAK_GLASS = 72 hours;
    /// @inheritdoc IConsentRegistry
    uint64 public constant BREAK_GLASS_COOLDOWN = 24 hours;
    /// @inheritdoc IConsentRegistry
    uint64 public constant BREAK_GLASS_PERIOD = 30 days;
    /// @inheritdoc IConsentRegistry
    uint64 public constant BREAK_GLASS_PERIOD_CAP = 7 days;
    /// @inheritdoc IConsentRegistry
    uint8 public constant PURPOSE_ETREAT = 1;
    /// @dev Healthcare research: the purpose of every study access.
    uint8 private constant PURPOSE_HRESCH = 4;
    /// @inheritdoc IConsentRegistry
    uint8 public constant MAX_PURPOSE = 5;
    /// @dev Bits 0..MAX_PURPOSE set (0x3f): the purposes a grant may carry.
    uint32 internal constant PURPOSE_MASK = (uint32(1) << (MAX_PURPOSE + 1)) - 1;

    // Statuses are exchanged as uint8 holding the shared enums' values (see IInstitutionRegistry).
    uint8 private constant STATUS_ACTIVE = uint8(InstitutionStatus.Active);
    uint8 private constant STATUS_SUSPENDED = uint8(InstitutionStatus.Suspended);
    // The {RequestStatus} values, spelt as literals (the forge test `test_statusCodesAreTheSharedEnums`
    // holds them equal to the enum).
    uint8 private constant REQUEST_PENDING = 0;
    uint8 private constant REQUEST_APPROVED = 1;
    uint8 private constant REQUEST_REJECTED = 2;

    // Kinds of hash-chain entries (see {AccessRecorded}).
    uint8 private constant ENTRY_ACCESS = 0;
    uint8 private constant ENTRY_BREAK_GLASS_OPENED = 1;
    uint8 private constant ENTRY_BREAK_GLASS_CLOSED = 2;

    // A grant word: bits 0-31 grantedAt, bits 32-63 the grantee's epoch, then one uint32 expiry per
    // purpose code p at bits 64 + 32p (six purposes fill the word exactly).
    uint256 private constant EPOCH_SHIFT = 32;
    uint256 private constant EXPIRY_SHIFT = 64;

    /// @inheritdoc IConsentRegistry
    /// @dev keccak256("Grant(address patient,address grantee,bytes32 scope,uint32 purposes,uint64 expiresAt,address signer,uint256 nonce,uint256 deadline)")
    bytes32 public constant GRANT_TYPEHASH = keccak256(
        "Grant(address patient,address grantee,bytes32 scope,uint32 purposes,uint64 expiresAt,address signer,uint256 nonce,uint256 deadline)"
    );
    /// @inheritdoc IConsentRegistry
    /// @dev keccak256("Revoke(address patient,address grantee,bytes32 scope,address signer,uint256 nonce,uint256 deadline)")
    bytes32 public constant REVOKE_TYPEHASH =
        keccak256("Revoke(address patient,address grantee,bytes32 scope,address signer,uint256 nonce,uint256 deadline)");
    /// @inheritdoc IConsentRegistry
    /// @dev keccak256("SetGuardian(address patient,address guardian,uint64 expiresAt,uint256 nonce,uint256 deadline)")
    bytes32 public constant SET_GUARDIAN_TYPEHASH =
        keccak256("SetGuardian(address patient,address guardian,uint64 expiresAt,uint256 nonce,uint256 deadline)");
    /// @inheritdoc IConsentRegistry
    /// @dev keccak256("RemoveGuardian(address patient,address guardian,uint256 nonce,uint256 deadline)")
    bytes32 public constant REMOVE_GUARDIAN_TYPEHASH =
        keccak256("RemoveGuardian(address patient,address guardian,uint256 nonce,uint256 deadline)");
    /// @inheritdoc IConsentRegistry
    /// @dev keccak256("RegisterKey(address patient,bytes32 encryptionKey,uint256 nonce,uint256 deadline)")
    bytes32 public constant REGISTER_KEY_TYPEHASH =
        keccak256("RegisterKey(address patient,bytes32 encryptionKey,uint256 nonce,uint256 deadline)");
    /// @inheritdoc IConsentRegistry
    /// @dev keccak256("AnswerRequest(uint256 requestId,address requester,address patient,bytes32 scope,uint8 purpose,bool approve,uint64 expiresAt,address signer,uint256 nonce,uint256 deadline)")
    bytes32 public constant ANSWER_REQUEST_TYPEHASH = keccak256(
        "AnswerRequest(uint256 requestId,address requester,address patient,bytes32 scope,uint8 purpose,bool approve,uint64 expiresAt,address signer,uint256 nonce,uint256 deadline)"
    );
    /// @inheritdoc IConsentRegistry
    /// @dev keccak256("CloseBreakGlass(address patient,address institution,address signer,uint256 nonce,uint256 deadline)")
    bytes32 public constant CLOSE_BREAK_GLASS_TYPEHASH = keccak256(
        "CloseBreakGlass(address patient,address institution,address signer,uint256 nonce,uint256 deadline)"
    );

    /// @dev One storage slot per patient: the chain head (the first 24 bytes of the keccak256
    /// step, 192 bits) and the entry count, so every entry writes one slot.
    struct AuditState {
        bytes24 head;
        uint64 count;
    }

    /// @dev One slot per (patient, institution): see {BreakGlassWindow}.
    struct BreakGlassSlot {
        uint32 openedAt;
        uint32 epoch;
        uint64 expiresAt;
        uint64 periodStart;
        uint64 usedInPeriod;
    }

    IInstitutionRegistry private immutable _institutions;
    IRecordRegistry private immutable _records;

    mapping(bytes32 key => uint256 word) private _grants; // key = keccak256(abi.encode(patient, grantee, scope))
    mapping(address patient => bytes32) private _patientKeys;
    mapping(address patient => mapping(address guardian => uint64 expiresAt)) private _guardians;
    mapping(address patient => mapping(address institution => BreakGlassSlot)) private _breakGlass;
    mapping(address patient => AuditState) private _audit;
    /// @dev Per request: a 248-bit digest of (requester, patient, scope, purpose) above the status byte.
    mapping(uint256 requestId => uint256 word) private _requests;
    /// @dev The next request id. Starts at 1 (set in the constructor) so that no request pays
    /// for a zero-to-nonzero write of the counter (20,000 gas) and id 0 never exists.
    uint256 private _nextRequestId;
    mapping(uint256 studyId => Study) private _studies;
    uint256 private _studyCount;

    /// @param institutions_ The consortium's InstitutionRegistry (not zero: {ZeroAddress}).
    /// @param records_ The RecordRegistry that binds records (not zero: {ZeroAddress}).
    constructor(IInstitutionRegistry institutions_, IRecordRegistry records_)
        EIP712("CareLedger ConsentRegistry", "2")
    {
        if (address(institutions_) == address(0) || address(records_) == address(0)) revert ZeroAddress();
        _institutions = institutions_;
        _records = records_;
        _nextRequestId = 1;
    }

    // ---------------------------------------------------------------- patient keys and guardians

    /// @inheritdoc IConsentRegistry
    function registerPatientKey(bytes32 encryptionKey) external {
        _registerKey(msg.sender, encryptionKey);
    }

    /// @inheritdoc IConsentRegistry
    function registerPatientKeyBySig(address patient, bytes32 encryptionKey, uint256 deadline, bytes calldata signature)
        external
    {
        _checkDeadline(deadline);
        bytes32 structHash =
            keccak256(abi.encode(REGISTER_KEY_TYPEHASH, patient, encryptionKey, _useNonce(patient), deadline));
        _checkSignature(patient, structHash, signature);
        _registerKey(patient, encryptionKey);
    }

    /// @inheritdoc IConsentRegistry
    function setGuardian(address guardian, uint64 expiresAt) external {
        _setGuardian(msg.sender, guardian, expiresAt);
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
    function removeGuardian(address guardian) external {
        _removeGuardian(msg.sender, guardian);
    }

    /// @inheritdoc IConsentRegistry
    function removeGuardianBySig(address patient, address guardian, uint256 deadline, bytes calldata signature)
        external
    {
        _checkDeadline(deadline);
        bytes32 structHash =
            keccak256(abi.encode(REMOVE_GUARDIAN_TYPEHASH, patient, guardian, _useNonce(patient), deadline));
        _checkSignature(patient, structHash, signature);
        _removeGuardian(patient, guardian);
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
        requestId = _nextRequestId;
        unchecked {
            // cannot overflow: one increment per transaction
            _nextRequestId = requestId + 1;
        }
        _requests[requestId] = _requestDigest(msg.sender, patient, scope, purpose); // status byte 0: pending
        emit AccessRequested(requestId, patient, msg.sender, scope, purpose, reasonHash);
    }

    /// @inheritdoc IConsentRegistry
    function approveRequest(RequestDetails calldata request, uint64 expiresAt) external {
        _approveRequest(request, expiresAt, msg.sender);
    }

    /// @inheritdoc IConsentRegistry
    function rejectRequest(RequestDetails calldata request) external {
        _rejectRequest(request, msg.sender);
    }

    /// @inheritdoc IConsentRegistry
    function answerRequestBySig(
        RequestDetails calldata request,
        bool approve,
        uint64 expiresAt,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _checkDeadline(deadline);
        bytes32 structHash = keccak256(
            abi.encode(
                ANSWER_REQUEST_TYPEHASH,
                request.requestId,
                request.requester,
                request.patient,
                request.scope,
                request.purpose,
                approve,
                expiresAt,
                signer,
                _useNonce(signer),
                deadline
            )
        );
        _checkSignature(signer, structHash, signature);
        if (approve) _approveRequest(request, expiresAt, signer);
        else _rejectRequest(request, signer);
    }

    // ---------------------------------------------------------------- break-glass and access

    /// @inheritdoc IConsentRegistry
    function breakGlass(address patient, bytes32 reasonHash, uint64 duration) external {
        (uint8 status, uint8 roles, uint32 epoch) = _institutions.membership(msg.sender);
        if (status != STATUS_ACTIVE) revert NotActiveInstitution(msg.sender);
        if (roles & Roles.EMERGENCY == 0) revert MissingRole(msg.sender, Roles.EMERGENCY);
        if (patient == address(0)) revert ZeroAddress();
        if (duration == 0) revert ZeroDuration();
        if (duration > MAX_BREAK_GLASS) revert BreakGlassTooLong(duration, MAX_BREAK_GLASS);
        BreakGlassSlot memory w = _breakGlass[patient][msg.sender];
        uint64 now_ = uint64(block.timestamp);
        if (now_ < w.expiresAt) revert BreakGlassAlreadyOpen(patient, msg.sender, w.expiresAt);
        if (w.openedAt != 0 && now_ < w.expiresAt + BREAK_GLASS_COOLDOWN) {
            revert BreakGlassCooldown(patient, msg.sender, w.expiresAt + BREAK_GLASS_COOLDOWN);
        }
        if (now_ >= w.periodStart + BREAK_GLASS_PERIOD) {
            w.periodStart = now_;
            w.usedInPeriod = 0;
        }
        if (w.usedInPeriod + duration > BREAK_GLASS_PERIOD_CAP) {
            revert BreakGlassCapExceeded(patient, msg.sender, w.usedInPeriod, BREAK_GLASS_PERIOD_CAP);
        }
        uint64 expiresAt = now_ + duration;
        _breakGlass[patient][msg.sender] = BreakGlassSlot({
            openedAt: uint32(now_),
            epoch: epoch,
            expiresAt: expiresAt,
            periodStart: w.periodStart,
            usedInPeriod: w.usedInPeriod + duration
        });
        (bytes32 head, uint64 seq) = _appendAudit(
            patient, ENTRY_BREAK_GLASS_OPENED, msg.sender, reasonHash, bytes32(uint256(expiresAt)), PURPOSE_ETREAT, true
        );
        emit BreakGlassOpened(patient, msg.sender, reasonHash, expiresAt, seq, head);
    }

    /// @inheritdoc IConsentRegistry
    function closeBreakGlass(address patient, address institution) external {
        _onlyPatientOrGuardian(patient, msg.sender);
        _closeBreakGlass(patient, institution, msg.sender);
    }

    /// @inheritdoc IConsentRegistry
    function closeBreakGlassBySig(
        address patient,
        address institution,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external {
        _checkDeadline(deadline);
        _onlyPatientOrGuardian(patient, signer);
        bytes32 structHash = keccak256(
            abi.encode(CLOSE_BREAK_GLASS_TYPEHASH, patient, institution, signer, _useNonce(signer), deadline)
        );
        _checkSignature(signer, structHash, signature);
        _closeBreakGlass(patient, institution, signer);
    }

    /// @inheritdoc IConsentRegistry
    function recordAccess(
        address patient,
        bytes32 recordId,
        bytes32 category,
        bytes32 commitment,
        uint8 purpose,
        bytes32[] calldata proof
    ) external returns (bytes32 head) {
        if (purpose > MAX_PURPOSE) revert InvalidPurpose(purpose);
        // the record's own patient and category, as anchored: reverts RecordNotAnchored / RecordBindingMismatch
        _records.checkBinding(patient, recordId, commitment, category, proof);
        (bool ok, bool viaBreakGlass) = _authorized(patient, msg.sender, recordId, category, purpose);
        if (!ok) revert AccessNotAuthorized(patient, msg.sender, recordId, purpose);
        uint64 seq;
        (head, seq) = _appendAudit(patient, ENTRY_ACCESS, msg.sender, recordId, category, purpose, viaBreakGlass);
        emit AccessRecorded(
            patient, msg.sender, recordId, category, purpose, uint64(block.timestamp), seq, viaBreakGlass, head
        );
    }

    // ---------------------------------------------------------------- research studies

    /// @inheritdoc IConsentRegistry
    function registerStudy(bytes32 protocolHash) external returns (uint256 studyId) {
        (uint32 epoch, uint8 roles) = _active(msg.sender);
        if (epoch == 0) revert NotActiveInstitution(msg.sender);
        if (roles & Roles.RESEARCHER == 0) revert MissingRole(msg.sender, Roles.RESEARCHER);
        if (protocolHash == bytes32(0)) revert InvalidScope();
        studyId = ++_studyCount;
        _studies[studyId] = Study(msg.sender, protocolHash, uint64(block.timestamp), 0);
        emit StudyRegistered(studyId, msg.sender, protocolHash);
    }

    /// @inheritdoc IConsentRegistry
    function closeStudy(uint256 studyId) external {
        Study storage s = _studies[studyId];
        if (s.institute == address(0)) revert StudyNotFound(studyId);
        if (s.institute != msg.sender) revert NotStudyInstitute(studyId, msg.sender);
        if (s.closedAt != 0) revert StudyIsClosed(studyId);
        s.closedAt = uint64(block.timestamp);
        emit StudyClosed(studyId);
    }

    /// @inheritdoc IConsentRegistry
    function recordStudyAccess(
        uint256 studyId,
        IRecordRegistry.Binding[] calldata items,
        IRecordRegistry.BatchProof[] calldata proofs
    ) external {
        Study storage s = _studies[studyId];
        if (s.institute == address(0)) revert StudyNotFound(studyId);
        if (s.institute != msg.sender) revert NotStudyInstitute(studyId, msg.sender);
        if (s.closedAt != 0) revert StudyIsClosed(studyId);
        (uint32 epoch,) = _active(msg.sender);
        if (epoch == 0) revert NotActiveInstitution(msg.sender);
        uint256 n = items.length;
        if (n == 0) revert BadStudyBatch(0);
        // every record bound to its patient, category and commitment (one call for the batch):
        // reverts RecordNotAnchored / RecordBindingMismatch, as recordAccess does
        _records.checkBindings(items, proofs);
        bytes32 scope = _studyScope(studyId);
        address patient = address(0);
        AuditState memory audit = AuditState(bytes24(0), 0);
        uint32 patients = 0;
        for (uint256 i = 0; i < n; ++i) {
            IRecordRegistry.Binding calldata item = items[i];
            address p = item.patient;
            if (i == 0 || p != patient) {
                // grouped and increasing: each patient's chain is read and written once
                if (p == address(0) || (i != 0 && p < patient)) revert BadStudyBatch(i);
                if (i != 0) _audit[patient] = audit;
                if (_liveEpoch(p, msg.sender, scope, PURPOSE_HRESCH) != epoch) {
                    revert AccessNotAuthorized(p, msg.sender, item.recordId, PURPOSE_HRESCH);
                }
                audit = _audit[p];
                patient = p;
                ++patients;
            }
            uint64 seq = audit.count;
            audit.head = _chainStep(
                audit.head, p, seq, ENTRY_ACCESS, msg.sender, item.recordId, item.category, PURPOSE_HRESCH, false
            );
            audit.count = seq + 1;
            emit AccessRecorded(
                p, msg.sender, item.recordId, item.category, PURPOSE_HRESCH, uint64(block.timestamp), seq, false,
                bytes32(audit.head)
            );
        }
        _audit[patient] = audit;
        emit StudyAccessRecorded(studyId, msg.sender, patients, uint32(n));
    }

    /// @inheritdoc IConsentRegistry
    function study(uint256 studyId) external view returns (Study memory s) {
        s = _studies[studyId];
        if (s.institute == address(0)) revert StudyNotFound(studyId);
    }

    /// @inheritdoc IConsentRegistry
    function studyCount() external view returns (uint256) {
        return _studyCount;
    }

    /// @inheritdoc IConsentRegistry
    function studyScope(uint256 studyId) external pure returns (bytes32) {
        return _studyScope(studyId);
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
    function getGrant(address patient, address grantee, bytes32 scope) external view returns (Grant memory g) {
        uint256 word = _grants[_grantKey(patient, grantee, scope)];
        g.grantedAt = uint32(word);
        g.epoch = uint32(word >> EPOCH_SHIFT);
        for (uint8 p = 0; p <= MAX_PURPOSE; ++p) {
            uint64 expiry = _expiryOf(word, p);
            g.expiresAt[p] = expiry;
            if (expiry != 0) g.purposes |= uint32(1) << p;
        }
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
    function breakGlassWindow(address patient, address institution) external view returns (BreakGlassWindow memory) {
        BreakGlassSlot storage w = _breakGlass[patient][institution];
        return BreakGlassWindow({
            openedAt: w.openedAt,
            expiresAt: w.expiresAt,
            periodStart: w.periodStart,
            usedInPeriod: w.usedInPeriod,
            epoch: w.epoch
        });
    }

    /// @inheritdoc IConsentRegistry
    function auditHead(address patient) external view returns (bytes32 head, uint64 count) {
        AuditState storage audit = _audit[patient];
        return (bytes32(audit.head), audit.count);
    }

    /// @inheritdoc IConsentRegistry
    function requestStatus(uint256 requestId) external view returns (uint8) {
        uint256 word = _requests[requestId];
        if (word == 0) revert RequestNotFound(requestId);
        return uint8(word);
    }

    /// @inheritdoc IConsentRegistry
    function requestCount() external view returns (uint256) {
        return _nextRequestId - 1;
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

    /// @inheritdoc IConsentRegistry
    function records() external view returns (address) {
        return address(_records);
    }

    // ---------------------------------------------------------------- internals: consent

    /// @dev Direct and signed grants: replaces the grant with `purposes` expiring at `expiresAt`.
    function _grant(address patient, address grantee, bytes32 scope, uint32 purposes, uint64 expiresAt, address actor)
        private
    {
        if (patient == address(0) || grantee == address(0)) revert ZeroAddress();
        if (scope == bytes32(0)) revert InvalidScope();
        if (purposes == 0) revert NoPurposes();
        if (purposes & ~PURPOSE_MASK != 0) revert InvalidPurposes(purposes);
        _checkExpiry(expiresAt);
        uint32 epoch = _memberEpoch(grantee);
        _writeGrant(patient, grantee, scope, _spread(purposes) * expiresAt, epoch);
        emit ConsentGranted(patient, grantee, scope, purposes, expiresAt, actor);
    }

    /// @dev The one place where grants are cleared: direct and signed.
    function _revoke(address patient, address grantee, bytes32 scope, address actor) private {
        bytes32 key = _grantKey(patient, grantee, scope);
        if (_grants[key] == 0) revert GrantNotFound(patient, grantee, scope);
        delete _grants[key];
        emit ConsentRevoked(patient, grantee, scope, actor);
    }

    /// @dev Stores expiries (bits 64+) with the write time and the grantee's epoch.
    function _writeGrant(address patient, address grantee, bytes32 scope, uint256 expiries, uint32 epoch) private {
        _grants[_grantKey(patient, grantee, scope)] =
            expiries | (uint256(epoch) << EPOCH_SHIFT) | uint256(uint32(block.timestamp));
    }

    /// @dev The grantee's epoch if it is a member (active or suspended); a removed or unknown
    /// account cannot receive consent.
    function _memberEpoch(address grantee) private view returns (uint32) {
        (uint8 status,, uint32 epoch) = _institutions.membership(grantee);
        if (status != STATUS_ACTIVE && status != STATUS_SUSPENDED) revert NotMember(grantee);
        return epoch;
    }

    function _approveRequest(RequestDetails calldata request, uint64 expiresAt, address actor) private {
        uint256 requestId = request.requestId;
        _answer(request, actor, REQUEST_APPROVED);
        _checkExpiry(expiresAt);
        address patient = request.patient;
        address requester = request.requester;
        bytes32 scope = request.scope;
        uint8 purpose = request.purpose;
        uint32 epoch = _memberEpoch(requester);
        uint256 word = _grants[_grantKey(patient, requester, scope)];
        // other purposes keep their expiries, unless they belong to an earlier admission epoch
        uint256 expiries = uint32(word >> EPOCH_SHIFT) == epoch ? word >> EXPIRY_SHIFT << EXPIRY_SHIFT : 0;
        uint256 shift = EXPIRY_SHIFT + 32 * uint256(purpose);
        expiries = (expiries & ~(uint256(type(uint32).max) << shift)) | (uint256(expiresAt) << shift);
        _writeGrant(patient, requester, scope, expiries, epoch);
        emit ConsentGranted(patient, requester, scope, uint32(1) << purpose, expiresAt, actor);
        emit AccessRequestApproved(requestId, patient, expiresAt, actor);
    }

    function _rejectRequest(RequestDetails calldata request, address actor) private {
        _answer(request, actor, REQUEST_REJECTED);
        emit AccessRequestRejected(request.requestId, request.patient, actor);
    }

    /// @dev Checks that `request` is the pending request it names and that `actor` may answer
    /// it, then stores `status`.
    function _answer(RequestDetails calldata request, address actor, uint8 status) private {
        uint256 requestId = request.requestId;
        uint256 word = _requests[requestId];
        if (word == 0) revert RequestNotFound(requestId);
        if (word >> 8 != _requestDigest(request.requester, request.patient, request.scope, request.purpose) >> 8) {
            revert RequestMismatch(requestId);
        }
        if (uint8(word) != REQUEST_PENDING) revert RequestNotPending(requestId, uint8(word));
        _onlyPatientOrGuardian(request.patient, actor);
        _requests[requestId] = (word >> 8 << 8) | status;
    }

    /// @dev keccak256 of the request's fields with its low byte cleared (it holds the status);
    /// never zero for a real request, because zero reads as "no request".
    function _requestDigest(address requester, address patient, bytes32 scope, uint8 purpose)
        private
        pure
        returns (uint256)
    {
        return (uint256(keccak256(abi.encode(requester, patient, scope, purpose))) | (1 << 255)) >> 8 << 8;
    }

    // ---------------------------------------------------------------- internals: authorisation

    /// @dev (authorised, only through break-glass). Grants first (SCOPE_ALL, category, record): one
    /// counts while live for `purpose` in the grantee's current epoch and the grantee is active.
    /// Then break-glass for ETREAT: an open window of the grantee's current epoch while it holds
    /// ROLE_EMERGENCY. The institution registry is asked once, and only when something matched.
    function _authorized(address patient, address grantee, bytes32 scope, bytes32 category, uint8 purpose)
        private
        view
        returns (bool, bool)
    {
        if (purpose > MAX_PURPOSE) return (false, false);
        // explicit zeros: "not asked yet", "not active", "no roles" (Slither uninitialized-local)
        bool asked = false;
        uint32 activeEpoch = 0; // 0 unless the grantee is active
        uint8 roles = 0;
        uint32 e = _liveEpoch(patient, grantee, SCOPE_ALL, purpose);
        if (e != 0) {
            (activeEpoch, roles) = _active(grantee);
            asked = true;
            if (e == activeEpoch) return (true, false);
        }
        if (category != SCOPE_ALL) {
            e = _liveEpoch(patient, grantee, category, purpose);
            if (e != 0) {
                if (!asked) (activeEpoch, roles) = _active(grantee);
                asked = true;
                if (e == activeEpoch) return (true, false);
            }
        }
        if (scope != SCOPE_ALL && scope != category) {
            e = _liveEpoch(patient, grantee, scope, purpose);
            if (e != 0) {
                if (!asked) (activeEpoch, roles) = _active(grantee);
                asked = true;
                if (e == activeEpoch) return (true, false);
            }
        }
        if (purpose == PURPOSE_ETREAT) {
            BreakGlassSlot storage w = _breakGlass[patient][grantee];
            if (block.timestamp < w.expiresAt) {
                if (!asked) (activeEpoch, roles) = _active(grantee);
                if (activeEpoch != 0 && activeEpoch == w.epoch && roles & Roles.EMERGENCY != 0) return (true, true);
            }
        }
        return (false, false);
    }

    /// @dev The epoch of the grant on `scope` if it is live for `purpose`; 0 otherwise (a real
    /// grant's epoch is at least 1).
    function _liveEpoch(address patient, address grantee, bytes32 scope, uint8 purpose) private view returns (uint32) {
        uint256 word = _grants[_grantKey(patient, grantee, scope)];
        return block.timestamp < _expiryOf(word, purpose) ? uint32(word >> EPOCH_SHIFT) : 0;
    }

    /// @dev (epoch, roles) of `account` while it is active; epoch 0 otherwise.
    function _active(address account) private view returns (uint32 epoch, uint8 roles) {
        uint8 status;
        (status, roles, epoch) = _institutions.membership(account);
        if (status != STATUS_ACTIVE) epoch = 0;
    }

    /// @dev The purpose mask spread into the expiry lanes: bit p becomes 1 << (64 + 32p), so that
    /// multiplying by an expiry (< 2^32) writes it into exactly the granted purposes' lanes.
    /// Unrolled: a loop over six purposes costs ~700 gas more on every grant.
    function _spread(uint32 purposes) private pure returns (uint256 lanes) {
        uint256 m = purposes;
        lanes = (m & 1) << 64 | (m >> 1 & 1) << 96 | (m >> 2 & 1) << 128 | (m >> 3 & 1) << 160
            | (m >> 4 & 1) << 192 | (m >> 5 & 1) << 224;
    }

    function _expiryOf(uint256 word, uint256 purpose) private pure returns (uint64) {
        return uint64(uint32(word >> (EXPIRY_SHIFT + 32 * purpose)));
    }

    // ---------------------------------------------------------------- internals: the rest

    function _registerKey(address patient, bytes32 encryptionKey) private {
        if (encryptionKey == bytes32(0)) revert InvalidEncryptionKey();
        _patientKeys[patient] = encryptionKey;
        emit PatientKeyRegistered(patient, encryptionKey);
    }

    function _setGuardian(address patient, address guardian, uint64 expiresAt) private {
        if (guardian == address(0)) revert ZeroAddress();
        if (guardian == patient) revert CannotGuardSelf(patient);
        if (expiresAt <= block.timestamp) revert InvalidExpiry(expiresAt, block.timestamp);
        _guardians[patient][guardian] = expiresAt;
        emit GuardianSet(patient, guardian, expiresAt);
    }

    function _removeGuardian(address patient, address guardian) private {
        if (_guardians[patient][guardian] == 0) revert GuardianNotFound(patient, guardian);
        delete _guardians[patient][guardian];
        emit GuardianRemoved(patient, guardian);
    }

    function _closeBreakGlass(address patient, address institution, address closer) private {
        BreakGlassSlot storage w = _breakGlass[patient][institution];
        if (block.timestamp >= w.expiresAt) revert BreakGlassNotOpen(patient, institution);
        w.expiresAt = uint64(block.timestamp);
        (bytes32 head, uint64 seq) = _appendAudit(
            patient,
            ENTRY_BREAK_GLASS_CLOSED,
            institution,
            bytes32(uint256(uint160(closer))),
            bytes32(0),
            PURPOSE_ETREAT,
            true
        );
        emit BreakGlassClosed(patient, institution, closer, seq, head);
    }

    /// @dev Advance the patient's hash chain by one entry; returns (head, seq).
    function _appendAudit(
        address patient,
        uint8 kind,
        address actor,
        bytes32 subject,
        bytes32 detail,
        uint8 purpose,
        bool viaBreakGlass
    ) private returns (bytes32 head, uint64 seq) {
        AuditState memory audit = _audit[patient]; // one read and one write of the packed slot
        seq = audit.count;
        bytes24 next = _chainStep(audit.head, patient, seq, kind, actor, subject, detail, purpose, viaBreakGlass);
        _audit[patient] = AuditState(next, seq + 1);
        head = bytes32(next);
    }

    /// @dev One step of a patient's hash chain (see {AccessRecorded}): the next head from the
    /// previous one and entry number `seq`, at this block's time.
    function _chainStep(
        bytes24 previous,
        address patient,
        uint64 seq,
        uint8 kind,
        address actor,
        bytes32 subject,
        bytes32 detail,
        uint8 purpose,
        bool viaBreakGlass
    ) private view returns (bytes24) {
        bytes32 entryHash = keccak256(
            abi.encode(kind, actor, subject, detail, purpose, uint64(block.timestamp), seq, viaBreakGlass)
        );
        return bytes24(keccak256(abi.encode(bytes32(previous), patient, entryHash)));
    }

    function _studyScope(uint256 studyId) private pure returns (bytes32) {
        return keccak256(abi.encode("careledger.study", studyId));
    }

    function _grantKey(address patient, address grantee, bytes32 scope) private pure returns (bytes32) {
        return keccak256(abi.encode(patient, grantee, scope));
    }

    function _checkExpiry(uint64 expiresAt) private view {
        if (expiresAt <= block.timestamp || expiresAt > type(uint32).max) {
            revert InvalidExpiry(expiresAt, block.timestamp);
        }
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
