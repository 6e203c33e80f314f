// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IRecordRegistry} from "./IRecordRegistry.sol";

/// @title IConsentRegistry — the patient's will
/// @notice Patients (or a guardian they appointed) grant consortium institutions access to a scope
/// (a record id, a category code or SCOPE_ALL) for HL7 PurposeOfUse codes, each until its own
/// time; directly or by an EIP-712 signature that anyone may submit (every patient action has a
/// signed form). Institutions record every access here before they receive a key; each access,
/// each break-glass opening and each closing advances the patient's on-chain hash chain. An access
/// entry is accepted only for a record the RecordRegistry binds to that patient and category.
/// Nothing here reveals health data: only addresses, public codes and hashes.
/// @dev Purpose codes: TREAT 0, ETREAT 1, HPAYMT 2, HOPERAT 3, HRESCH 4, PUBHLTH 5; a set of
/// purposes is the `uint32` mask of `1 << code`. "Patient or guardian" means the patient itself or
/// an account the patient appointed whose appointment has not expired. Times are stored as
/// `uint32` (valid until 2106). Shared errors raised here: {ZeroAddress}, {InvalidEncryptionKey},
/// {NotActiveInstitution}, {NotMember}, {MissingRole} (contracts/interfaces/CareLedgerErrors.sol);
/// {recordAccess} also bubbles up RecordRegistry's `RecordNotAnchored` and `RecordBindingMismatch`.
interface IConsentRegistry {
    /// @notice A consent of one patient to one grantee on one scope, as stored. Purpose `p`
    /// authorises while `block.timestamp < expiresAt[p]`, the grantee is active, and its admission
    /// epoch is still `epoch` (a removed and re-admitted institution starts with no consent).
    /// @param purposes Bit `p` set when purpose `p` was granted (its expiry may have passed).
    /// @param expiresAt Per purpose code, the first second at which it no longer authorises (0:
    /// not granted).
    /// @param grantedAt Block time of the last write (grant or approval).
    /// @param epoch The grantee's admission epoch when the grant was last written.
    struct Grant {
        uint32 purposes;
        uint64[6] expiresAt;
        uint64 grantedAt;
        uint32 epoch;
    }

    /// @notice The details of an access request, passed back when it is answered (only their
    /// digest is stored; they are in the {AccessRequested} event).
    /// @param requestId The request's id.
    /// @param requester The institution that asked.
    /// @param patient The patient asked.
    /// @param scope The scope asked for.
    /// @param purpose The purpose code asked for.
    struct RequestDetails {
        uint256 requestId;
        address requester;
        address patient;
        bytes32 scope;
        uint8 purpose;
    }

    /// @notice A research study, registered on chain by its institute (purpose HRESCH). Only a
    /// hash of the protocol is stored, never text.
    /// @param institute The research institution that registered it.
    /// @param protocolHash A hash of the study protocol (kept by the institute and its ethics board).
    /// @param registeredAt Block time of registration.
    /// @param closedAt Block time of closing (0 while open).
    struct Study {
        address institute;
        bytes32 protocolHash;
        uint64 registeredAt;
        uint64 closedAt;
    }

    /// @notice A break-glass window of one institution on one patient, and its budget.
    /// @param openedAt When the last window opened (0: never).
    /// @param expiresAt When it closes or closed (set to the closing time by {closeBreakGlass}).
    /// @param periodStart Start of the current BREAK_GLASS_PERIOD.
    /// @param usedInPeriod Seconds of windows opened within the current period.
    /// @param epoch The institution's admission epoch at opening: the window authorises only in it.
    struct BreakGlassWindow {
        uint64 openedAt;
        uint64 expiresAt;
        uint64 periodStart;
        uint64 usedInPeriod;
        uint32 epoch;
    }

    // ---------------------------------------------------------------- events

    /// @notice The patient's X25519 encryption public key was registered or rotated.
    /// @param patient The patient.
    /// @param encryptionKey The new key.
    event PatientKeyRegistered(address indexed patient, bytes32 encryptionKey);

    /// @notice `patient` appointed `guardian`, or changed the appointment's expiry.
    /// @param patient The patient.
    /// @param guardian The guardian.
    /// @param expiresAt The first second at which the guardian can no longer act.
    event GuardianSet(address indexed patient, address indexed guardian, uint64 expiresAt);

    /// @notice `patient` removed `guardian`.
    /// @param patient The patient.
    /// @param guardian The former guardian.
    event GuardianRemoved(address indexed patient, address indexed guardian);

    /// @notice The purposes in `purposes` of `grantee`'s grant on `scope` now expire at
    /// `expiresAt`. After {grant} (direct or signed) they are the whole grant; after an approved
    /// request the grant's other purposes are unchanged.
    /// @param patient The patient.
    /// @param grantee The institution.
    /// @param scope A record id, a category code or SCOPE_ALL.
    /// @param purposes The purposes written.
    /// @param expiresAt Their expiry.
    /// @param actor Who authorised it: the patient or a guardian (the signer for a signed grant).
    event ConsentGranted(
        address indexed patient, address indexed grantee, bytes32 indexed scope, uint32 purposes, uint64 expiresAt, address actor
    );

    /// @notice The grant of `grantee` on `scope` was cleared (every purpose).
    /// @param patient The patient.
    /// @param grantee The institution.
    /// @param scope The scope.
    /// @param actor Who authorised it: the patient or a guardian (the signer for a signed revoke).
    event ConsentRevoked(address indexed patient, address indexed grantee, bytes32 indexed scope, address actor);

    /// @notice `signer` consumed its nonce: every signature it handed out with an older nonce is void.
    /// @param signer The account.
    /// @param newNonce Its nonce now (`nonces(signer)`).
    event NonceIncreased(address indexed signer, uint256 newNonce);

    /// @notice `requester` asked `patient` for access.
    /// @param requestId The request's id.
    /// @param patient The patient asked.
    /// @param requester The institution that asked.
    /// @param scope The scope asked for.
    /// @param purpose The purpose code asked for.
    /// @param reasonHash A salted hash of the reason (the text and salt stay with the requester).
    event AccessRequested(
        uint256 indexed requestId,
        address indexed patient,
        address indexed requester,
        bytes32 scope,
        uint8 purpose,
        bytes32 reasonHash
    );

    /// @notice Request `requestId` was approved; the grant it wrote is in the {ConsentGranted}
    /// emitted just before.
    /// @param requestId The request.
    /// @param patient The patient.
    /// @param expiresAt The expiry of the requested purpose.
    /// @param actor The patient or guardian who approved it.
    event AccessRequestApproved(uint256 indexed requestId, address indexed patient, uint64 expiresAt, address actor);

    /// @notice Request `requestId` was rejected.
    /// @param requestId The request.
    /// @param patient The patient.
    /// @param actor The patient or guardian who rejected it.
    event AccessRequestRejected(uint256 indexed requestId, address indexed patient, address actor);

    /// @notice `institution` opened emergency ETREAT access to `patient`; an entry of the
    /// patient's hash chain (kind 1, see {AccessRecorded}).
    /// @param patient The patient.
    /// @param institution The emergency institution.
    /// @param reasonHash A salted hash of the reason code (code and salt stay with the institution).
    /// @param expiresAt The first second at which the window is closed.
    /// @param seq The entry's position in the patient's chain.
    /// @param head The chain head after it.
    event BreakGlassOpened(
        address indexed patient, address indexed institution, bytes32 reasonHash, uint64 expiresAt, uint64 seq, bytes32 head
    );

    /// @notice The patient or a guardian closed `institution`'s window on `patient`; an entry of
    /// the patient's hash chain (kind 2, see {AccessRecorded}).
    /// @param patient The patient.
    /// @param institution The emergency institution.
    /// @param closedBy The patient or guardian who closed it.
    /// @param seq The entry's position in the patient's chain.
    /// @param head The chain head after it.
    event BreakGlassClosed(
        address indexed patient, address indexed institution, address closedBy, uint64 seq, bytes32 head
    );

    /// @notice One access, in the patient's hash chain. With a genesis head of zero, every entry
    /// moves the head to `bytes32(bytes24(keccak256(abi.encode(previousHead, patient,
    /// keccak256(entry)))))` where `entry = abi.encode(uint8 kind, address actor, bytes32 subject,
    /// bytes32 detail, uint8 purpose, uint64 timestamp, uint64 seq, bool viaBreakGlass)`:
    /// an access (kind 0) has actor = accessor, subject = recordId, detail = category; a
    /// break-glass opening (kind 1) actor = institution, subject = reasonHash, detail =
    /// expiresAt, purpose ETREAT, viaBreakGlass true; a closing (kind 2) actor = institution,
    /// subject = the closer's address, detail = 0, purpose ETREAT, viaBreakGlass true. The head
    /// keeps the first 192 bits so that head and count share one slot; forging a history still
    /// takes about 2^192 work.
    /// @param patient The patient.
    /// @param accessor The institution that accessed (the caller of recordAccess).
    /// @param recordId The record accessed.
    /// @param category The record's category (bound on chain to the record).
    /// @param purpose The purpose code.
    /// @param timestamp Block time of the access.
    /// @param seq The entry's 0-based position in the patient's chain.
    /// @param viaBreakGlass True when only break-glass authorised it.
    /// @param head The chain head after this entry (`auditHead(patient).head`).
    event AccessRecorded(
        address indexed patient,
        address indexed accessor,
        bytes32 indexed recordId,
        bytes32 category,
        uint8 purpose,
        uint64 timestamp,
        uint64 seq,
        bool viaBreakGlass,
        bytes32 head
    );

    /// @notice `institute` registered study `studyId` (purpose HRESCH) with a hash of its protocol.
    /// @param studyId The study's id (1, 2, ...).
    /// @param institute The research institution.
    /// @param protocolHash A hash of the protocol.
    event StudyRegistered(uint256 indexed studyId, address indexed institute, bytes32 protocolHash);

    /// @notice Study `studyId` was closed by its institute: no further access under it.
    /// @param studyId The study.
    event StudyClosed(uint256 indexed studyId);

    /// @notice One {recordStudyAccess} call: `entries` records of `patients` patients, each
    /// access also an {AccessRecorded} entry (purpose HRESCH) in its patient's hash chain.
    /// @param studyId The study.
    /// @param institute The study's institute (the caller).
    /// @param patients How many patients' chains advanced.
    /// @param entries How many records were accessed.
    event StudyAccessRecorded(uint256 indexed studyId, address indexed institute, uint32 patients, uint32 entries);

    // ---------------------------------------------------------------- errors

    /// @notice Thrown when `actor` (the caller, or the signer of a signed change) acts for
    /// `patient` but is neither the patient nor a live guardian of it.
    /// @param actor The account that tried to act.
    /// @param patient The patient.
    error NotPatientOrGuardian(address actor, address patient);

    /// @notice Thrown when a signature is not `signer`'s over this exact message, this chain,
    /// this contract and `signer`'s current nonce (a replayed signature lands here too: its nonce
    /// was consumed).
    /// @param signer The account that was to have signed.
    error InvalidSignature(address signer);

    /// @notice Thrown when a signed change is submitted after its deadline: ask for a new signature.
    /// @param deadline The signature's last valid second.
    /// @param timestamp The block time.
    error SignatureExpired(uint256 deadline, uint256 timestamp);

    /// @notice Thrown when a grant, an approved request or a guardian appointment would expire
    /// at or before the current block time, or a grant or approved request after 2106 (grant
    /// expiries are stored as uint32).
    /// @param expiresAt The expiry given.
    /// @param timestamp The block time.
    error InvalidExpiry(uint64 expiresAt, uint256 timestamp);

    /// @notice Thrown when a grant carries no purpose (an empty mask would read as "no grant").
    error NoPurposes();

    /// @notice Thrown when a purpose code is above 5 (PUBHLTH).
    /// @param purpose The code given.
    error InvalidPurpose(uint8 purpose);

    /// @notice Thrown when a purpose mask has a bit above bit 5.
    /// @param purposes The mask given.
    error InvalidPurposes(uint32 purposes);

    /// @notice Thrown when a scope is zero (a scope is a record id, a category code or SCOPE_ALL).
    error InvalidScope();

    /// @notice Thrown when revoking a grant that does not exist (never made, or already revoked;
    /// an expired grant can still be revoked).
    /// @param patient The patient.
    /// @param grantee The institution.
    /// @param scope The scope.
    error GrantNotFound(address patient, address grantee, bytes32 scope);

    /// @notice Thrown when no request has id `requestId`.
    /// @param requestId The id given.
    error RequestNotFound(uint256 requestId);

    /// @notice Thrown when the details passed with a request id differ from those it was made with.
    /// @param requestId The request.
    error RequestMismatch(uint256 requestId);

    /// @notice Thrown when a request that was already answered is answered again.
    /// @param requestId The request.
    /// @param status Its status, a {RequestStatus} value.
    error RequestNotPending(uint256 requestId, uint8 status);

    /// @notice Thrown when a break-glass window is asked for longer than MAX_BREAK_GLASS.
    /// @param duration The duration asked for, in seconds.
    /// @param max MAX_BREAK_GLASS.
    error BreakGlassTooLong(uint64 duration, uint64 max);

    /// @notice Thrown when a break-glass window is asked for zero seconds.
    error ZeroDuration();

    /// @notice Thrown when an institution opens a break-glass window while its previous one on
    /// the same patient is still open (windows are never renewed back to back).
    /// @param patient The patient.
    /// @param institution The institution.
    /// @param expiresAt When the open window closes.
    error BreakGlassAlreadyOpen(address patient, address institution, uint64 expiresAt);

    /// @notice Thrown when an institution opens a break-glass window within BREAK_GLASS_COOLDOWN
    /// of the end of its previous one on the same patient.
    /// @param patient The patient.
    /// @param institution The institution.
    /// @param availableAt The first second at which it may open one again.
    error BreakGlassCooldown(address patient, address institution, uint64 availableAt);

    /// @notice Thrown when a window would bring an institution's break-glass time on a patient
    /// within one BREAK_GLASS_PERIOD above BREAK_GLASS_PERIOD_CAP.
    /// @param patient The patient.
    /// @param institution The institution.
    /// @param used The seconds already used in the current period.
    /// @param cap BREAK_GLASS_PERIOD_CAP.
    error BreakGlassCapExceeded(address patient, address institution, uint64 used, uint64 cap);

    /// @notice Thrown when closing a break-glass window that is not open.
    /// @param patient The patient.
    /// @param institution The institution.
    error BreakGlassNotOpen(address patient, address institution);

    /// @notice Thrown by recordAccess when nothing authorises the caller now (see {isAuthorizedForRecord}).
    /// @param patient The patient.
    /// @param accessor The caller.
    /// @param recordId The record.
    /// @param purpose The purpose code.
    error AccessNotAuthorized(address patient, address accessor, bytes32 recordId, uint8 purpose);

    /// @notice Thrown when a patient removes a guardian it never appointed or already removed
    /// (an expired appointment can still be removed).
    /// @param patient The patient.
    /// @param guardian The account given.
    error GuardianNotFound(address patient, address guardian);

    /// @notice Thrown when a patient appoints itself as its own guardian.
    /// @param patient The patient.
    error CannotGuardSelf(address patient);

    /// @notice Thrown when no study has id `studyId`.
    /// @param studyId The id asked for.
    error StudyNotFound(uint256 studyId);

    /// @notice Thrown when `account` acts for study `studyId` but did not register it.
    /// @param studyId The study.
    /// @param account The caller.
    error NotStudyInstitute(uint256 studyId, address account);

    /// @notice Thrown when study `studyId` is closed.
    /// @param studyId The study.
    error StudyIsClosed(uint256 studyId);

    /// @notice Thrown when a study access batch is empty, or its patients are not grouped in
    /// ascending order (each patient's records together, patients strictly increasing).
    /// @param index The offending item's position.
    error BadStudyBatch(uint256 index);

    // ---------------------------------------------------------------- patient keys and guardians

    /// @notice The caller (a patient) registers or rotates its X25519 encryption public key;
    /// providers wrap the record keys of new records to it. Only the patient: a guardian never
    /// sets the key records are wrapped to.
    /// @dev Requirements: `encryptionKey` is not zero ({InvalidEncryptionKey}).
    ///
    /// Emits {PatientKeyRegistered}.
    /// @param encryptionKey The new X25519 public key.
    function registerPatientKey(bytes32 encryptionKey) external;

    /// @notice {registerPatientKey} authorised by an EIP-712 `RegisterKey` signature of the patient,
    /// submitted by anyone; the patient's nonce is consumed.
    /// @dev Requirements:
    ///
    /// - `deadline` has not passed ({SignatureExpired});
    /// - `signature` is the patient's over
    ///   `RegisterKey(patient, encryptionKey, nonces(patient), deadline)` ({InvalidSignature});
    /// - `encryptionKey` is not zero ({InvalidEncryptionKey}).
    ///
    /// Emits {PatientKeyRegistered}.
    /// @param patient The patient, who signed.
    /// @param encryptionKey The new X25519 public key.
    /// @param deadline The last second at which the signature may be submitted.
    /// @param signature The signature (65 bytes r, s, v for an EOA; any for EIP-1271).
    function registerPatientKeyBySig(address patient, bytes32 encryptionKey, uint256 deadline, bytes calldata signature)
        external;

    /// @notice The caller (a patient) appoints `guardian` until `expiresAt`, or changes the
    /// expiry of an appointment (earlier or later). Guardians cannot appoint guardians.
    /// @dev Requirements:
    ///
    /// - `guardian` is not zero ({ZeroAddress}) and not the caller ({CannotGuardSelf});
    /// - `expiresAt` is in the future ({InvalidExpiry}).
    ///
    /// Emits {GuardianSet}.
    /// @param guardian The guardian.
    /// @param expiresAt The first second at which the guardian can no longer act.
    function setGuardian(address guardian, uint64 expiresAt) external;

    /// @notice {setGuardian} authorised by an EIP-712 `SetGuardian` signature of the patient,
    /// submitted by anyone; the patient's nonce is consumed.
    /// @dev Requirements:
    ///
    /// - `deadline` has not passed ({SignatureExpired});
    /// - `signature` is the patient's over
    ///   `SetGuardian(patient, guardian, expiresAt, nonces(patient), deadline)` ({InvalidSignature});
    /// - the requirements of {setGuardian}.
    ///
    /// Emits {GuardianSet}.
    /// @param patient The patient, who signed.
    /// @param guardian The guardian.
    /// @param expiresAt The first second at which the guardian can no longer act.
    /// @param deadline The last second at which the signature may be submitted.
    /// @param signature The signature.
    function setGuardianBySig(
        address patient,
        address guardian,
        uint64 expiresAt,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice The caller (a patient) removes `guardian` at once.
    /// @dev Requirements: `guardian` was appointed by the caller and not removed since, expired
    /// or not ({GuardianNotFound}).
    ///
    /// Emits {GuardianRemoved}.
    /// @param guardian The guardian.
    function removeGuardian(address guardian) external;

    /// @notice {removeGuardian} authorised by an EIP-712 `RemoveGuardian` signature of the
    /// patient, submitted by anyone; the patient's nonce is consumed.
    /// @dev Requirements:
    ///
    /// - `deadline` has not passed ({SignatureExpired});
    /// - `signature` is the patient's over
    ///   `RemoveGuardian(patient, guardian, nonces(patient), deadline)` ({InvalidSignature});
    /// - the requirements of {removeGuardian}.
    ///
    /// Emits {GuardianRemoved}.
    /// @param patient The patient, who signed.
    /// @param guardian The guardian.
    /// @param deadline The last second at which the signature may be submitted.
    /// @param signature The signature.
    function removeGuardianBySig(address patient, address guardian, uint256 deadline, bytes calldata signature)
        external;

    // ---------------------------------------------------------------- grants

    /// @notice Create or replace the grant of `grantee` on `scope`: each purpose in `purposes`
    /// expires at `expiresAt`, the others are cleared, and the grant belongs to the grantee's
    /// current admission epoch.
    /// @dev Requirements:
    ///
    /// - the caller is the patient or a guardian ({NotPatientOrGuardian});
    /// - `patient` and `grantee` are not zero ({ZeroAddress}), `scope` is not zero ({InvalidScope});
    /// - `purposes` is not empty ({NoPurposes}) and only has bits 0..5 ({InvalidPurposes});
    /// - `expiresAt` is in the future and fits a uint32 ({InvalidExpiry});
    /// - `grantee` is a consortium member, active or suspended ({NotMember}); a grant to a
    ///   suspended member authorises nothing until it is reinstated.
    ///
    /// Emits {ConsentGranted}.
    /// @param patient The patient.
    /// @param grantee The institution.
    /// @param scope A record id, a category code or SCOPE_ALL.
    /// @param purposes The purpose mask.
    /// @param expiresAt The first second at which the purposes no longer authorise.
    function grant(address patient, address grantee, bytes32 scope, uint32 purposes, uint64 expiresAt) external;

    /// @notice Clear the grant of `grantee` on `scope` (every purpose); it never authorises again.
    /// @dev Requirements:
    ///
    /// - the caller is the patient or a guardian ({NotPatientOrGuardian});
    /// - a grant exists on that scope, expired or not ({GrantNotFound}).
    ///
    /// Emits {ConsentRevoked}.
    /// @param patient The patient.
    /// @param grantee The institution.
    /// @param scope The scope.
    function revoke(address patient, address grantee, bytes32 scope) external;

    /// @notice {grant} authorised by an EIP-712 `Grant` signature of `signer` (the patient or a
    /// guardian), submitted by anyone; the signer's nonce is consumed.
    /// @dev Requirements:
    ///
    /// - `deadline` has not passed ({SignatureExpired});
    /// - `signer` is the patient or a guardian ({NotPatientOrGuardian});
    /// - `signature` is `signer`'s (ECDSA with low s, or EIP-1271 for a contract wallet) over
    ///   `Grant(patient, grantee, scope, purposes, expiresAt, signer, nonces(signer), deadline)`
    ///   in this contract's domain ({InvalidSignature});
    /// - the requirements of {grant} after its caller check.
    ///
    /// Emits {ConsentGranted} with `actor = signer`.
    /// @param patient The patient.
    /// @param grantee The institution.
    /// @param scope A record id, a category code or SCOPE_ALL.
    /// @param purposes The purpose mask.
    /// @param expiresAt The first second at which the purposes no longer authorise.
    /// @param signer The patient or guardian who signed.
    /// @param deadline The last second at which the signature may be submitted.
    /// @param signature The signature.
    function grantBySig(
        address patient,
        address grantee,
        bytes32 scope,
        uint32 purposes,
        uint64 expiresAt,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice {revoke} authorised by an EIP-712 `Revoke` signature of `signer` (the patient or a
    /// guardian), submitted by anyone; the signer's nonce is consumed.
    /// @dev Requirements:
    ///
    /// - `deadline` has not passed ({SignatureExpired});
    /// - `signer` is the patient or a guardian ({NotPatientOrGuardian});
    /// - `signature` is `signer`'s over
    ///   `Revoke(patient, grantee, scope, signer, nonces(signer), deadline)` ({InvalidSignature});
    /// - a grant exists on that scope ({GrantNotFound}).
    ///
    /// Emits {ConsentRevoked} with `actor = signer`.
    /// @param patient The patient.
    /// @param grantee The institution.
    /// @param scope The scope.
    /// @param signer The patient or guardian who signed.
    /// @param deadline The last second at which the signature may be submitted.
    /// @param signature The signature.
    function revokeBySig(
        address patient,
        address grantee,
        bytes32 scope,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice Consume the caller's current nonce, so that every signature the caller handed out
    /// and that was not submitted yet can never apply.
    /// @dev Requirements: none.
    ///
    /// Emits {NonceIncreased}.
    /// @return newNonce The caller's nonce now.
    function increaseNonce() external returns (uint256 newNonce);

    // ---------------------------------------------------------------- requests

    /// @notice An active institution asks `patient` for access; the patient answers with
    /// {approveRequest}, {rejectRequest} or {answerRequestBySig}. Any active member may ask. Only
    /// a digest of the request and its status are stored; the details are in the event.
    /// @dev Requirements:
    ///
    /// - the caller is an active institution ({NotActiveInstitution});
    /// - `patient` is not zero ({ZeroAddress}), `scope` is not zero ({InvalidScope});
    /// - `purpose` is 0..5 ({InvalidPurpose}).
    ///
    /// Emits {AccessRequested}.
    /// @param patient The patient asked.
    /// @param scope The scope asked for.
    /// @param purpose The purpose code asked for.
    /// @param reasonHash A salted hash of the reason (the text travels off chain).
    /// @return requestId The new request's id (1-based, sequential).
    function requestAccess(address patient, bytes32 scope, uint8 purpose, bytes32 reasonHash)
        external
        returns (uint256 requestId);

    /// @notice Approve a pending request: the requested purpose of the requester's grant on the
    /// scope expires at `expiresAt`; its other purposes keep their own expiries (they are cleared
    /// if they belong to an earlier admission epoch of the requester, where they authorise nothing).
    /// @dev Requirements:
    ///
    /// - the request exists ({RequestNotFound}), `request` holds its details ({RequestMismatch})
    ///   and it is pending ({RequestNotPending});
    /// - the caller is the request's patient or a guardian of it ({NotPatientOrGuardian});
    /// - `expiresAt` is in the future and fits a uint32 ({InvalidExpiry});
    /// - the requester is still a member, active or suspended ({NotMember}).
    ///
    /// Emits {ConsentGranted} then {AccessRequestApproved}.
    /// @param request The request's details (from its {AccessRequested} event).
    /// @param expiresAt The first second at which the requested purpose no longer authorises.
    function approveRequest(RequestDetails calldata request, uint64 expiresAt) external;

    /// @notice Reject a pending request; no grant changes.
    /// @dev Requirements:
    ///
    /// - the request exists ({RequestNotFound}), `request` holds its details ({RequestMismatch})
    ///   and it is pending ({RequestNotPending});
    /// - the caller is the request's patient or a guardian of it ({NotPatientOrGuardian}).
    ///
    /// Emits {AccessRequestRejected}.
    /// @param request The request's details.
    function rejectRequest(RequestDetails calldata request) external;

    /// @notice {approveRequest} or {rejectRequest} authorised by an EIP-712 `AnswerRequest`
    /// signature of `signer` (the patient or a guardian), submitted by anyone; the signer's
    /// nonce is consumed.
    /// @dev Requirements:
    ///
    /// - `deadline` has not passed ({SignatureExpired});
    /// - `signature` is `signer`'s over `AnswerRequest(requestId, requester, patient, scope,
    ///   purpose, approve, expiresAt, signer, nonces(signer), deadline)` ({InvalidSignature});
    /// - the requirements of {approveRequest} or {rejectRequest}, with `signer` as the caller.
    ///
    /// Emits what {approveRequest} or {rejectRequest} emits, with `actor = signer`.
    /// @param request The request's details.
    /// @param approve True to approve, false to reject.
    /// @param expiresAt The expiry of the requested purpose (ignored when rejecting).
    /// @param signer The patient or guardian who signed.
    /// @param deadline The last second at which the signature may be submitted.
    /// @param signature The signature.
    function answerRequestBySig(
        RequestDetails calldata request,
        bool approve,
        uint64 expiresAt,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    // ---------------------------------------------------------------- break-glass and access

    /// @notice An active EMERGENCY institution opens ETREAT access to `patient` for `duration`
    /// seconds without consent. The window cannot be renewed while open; after it ends the
    /// institution waits BREAK_GLASS_COOLDOWN; its windows on one patient add up to at most
    /// BREAK_GLASS_PERIOD_CAP per BREAK_GLASS_PERIOD (the full duration counts at opening). The
    /// opening is an entry of the patient's hash chain.
    /// @dev Requirements:
    ///
    /// - the caller is an active institution ({NotActiveInstitution}) with ROLE_EMERGENCY
    ///   ({MissingRole});
    /// - `patient` is not zero ({ZeroAddress});
    /// - 0 < `duration` ({ZeroDuration}) <= MAX_BREAK_GLASS ({BreakGlassTooLong});
    /// - no window of the caller on `patient` is open ({BreakGlassAlreadyOpen}) or ended less
    ///   than BREAK_GLASS_COOLDOWN ago ({BreakGlassCooldown});
    /// - the period's budget allows `duration` ({BreakGlassCapExceeded}).
    ///
    /// Emits {BreakGlassOpened}.
    /// @param patient The patient.
    /// @param reasonHash A salted hash of the reason code.
    /// @param duration The window's length, in seconds.
    function breakGlass(address patient, bytes32 reasonHash, uint64 duration) external;

    /// @notice The patient or a live guardian closes `institution`'s open window at once. The
    /// closing is an entry of the patient's hash chain; the cooldown runs from now.
    /// @dev Requirements:
    ///
    /// - the caller is the patient or a guardian ({NotPatientOrGuardian});
    /// - the window is open ({BreakGlassNotOpen}).
    ///
    /// Emits {BreakGlassClosed}.
    /// @param patient The patient.
    /// @param institution The emergency institution.
    function closeBreakGlass(address patient, address institution) external;

    /// @notice {closeBreakGlass} authorised by an EIP-712 `CloseBreakGlass` signature of `signer`
    /// (the patient or a guardian), submitted by anyone; the signer's nonce is consumed.
    /// @dev Requirements:
    ///
    /// - `deadline` has not passed ({SignatureExpired});
    /// - `signer` is the patient or a guardian ({NotPatientOrGuardian});
    /// - `signature` is `signer`'s over
    ///   `CloseBreakGlass(patient, institution, signer, nonces(signer), deadline)` ({InvalidSignature});
    /// - the window is open ({BreakGlassNotOpen}).
    ///
    /// Emits {BreakGlassClosed} with `closedBy = signer`.
    /// @param patient The patient.
    /// @param institution The emergency institution.
    /// @param signer The patient or guardian who signed.
    /// @param deadline The last second at which the signature may be submitted.
    /// @param signature The signature.
    function closeBreakGlassBySig(
        address patient,
        address institution,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;

    /// @notice The caller records that it accesses `recordId` of `patient` for `purpose`, and
    /// advances the patient's hash chain; key holders release a record key only after this
    /// succeeded. The record must be anchored for exactly this patient, category and commitment.
    /// @dev Requirements:
    ///
    /// - `purpose` is 0..5 ({InvalidPurpose});
    /// - the RecordRegistry binds `recordId` to `patient`, `category` and `commitment`: it is
    ///   anchored (`RecordNotAnchored`) and bound to these (`RecordBindingMismatch`); `proof` is
    ///   empty for a single record, the Merkle proof for a batch member;
    /// - {isAuthorizedForRecord} holds for the caller now ({AccessNotAuthorized}).
    ///
    /// Emits {AccessRecorded}.
    /// @param patient The patient.
    /// @param recordId The record accessed.
    /// @param category The record's category code.
    /// @param commitment keccak256 of the record's encrypted blob.
    /// @param purpose The purpose code.
    /// @param proof The Merkle proof of a batch member (empty for a single record).
    /// @return head The patient's audit chain head after this entry.
    function recordAccess(
        address patient,
        bytes32 recordId,
        bytes32 category,
        bytes32 commitment,
        uint8 purpose,
        bytes32[] calldata proof
    ) external returns (bytes32 head);

    // ---------------------------------------------------------------- views

    /// @notice The scope that covers every record of a patient: keccak256("careledger.scope.ALL").
    /// @return The scope.
    function SCOPE_ALL() external view returns (bytes32);

    /// @notice The longest break-glass window: 72 hours, long enough for an emergency admission,
    /// short enough that it cannot stand in for consent.
    /// @return The limit, in seconds.
    function MAX_BREAK_GLASS() external view returns (uint64);

    /// @notice How long an institution waits after a window on a patient ends before it may open
    /// another on that patient: 24 hours.
    /// @return The cooldown, in seconds.
    function BREAK_GLASS_COOLDOWN() external view returns (uint64);

    /// @notice The period over which an institution's break-glass time on one patient is capped:
    /// 30 days, starting at the first opening after the previous period ended.
    /// @return The period, in seconds.
    function BREAK_GLASS_PERIOD() external view returns (uint64);

    /// @notice The most break-glass time one institution may open on one patient per period:
    /// 7 days (for longer care, the patient or a guardian grants consent).
    /// @return The cap, in seconds.
    function BREAK_GLASS_PERIOD_CAP() external view returns (uint64);

    /// @notice The purpose code break-glass access authorises (ETREAT, emergency treatment: 1).
    /// @return The code.
    function PURPOSE_ETREAT() external view returns (uint8);

    /// @notice The highest purpose code (PUBHLTH: 5).
    /// @return The code.
    function MAX_PURPOSE() external view returns (uint8);

    /// @notice keccak256 of the EIP-712 `Grant` type string (in {grantBySig}).
    /// @return The type hash.
    function GRANT_TYPEHASH() external view returns (bytes32);

    /// @notice keccak256 of the EIP-712 `Revoke` type string (in {revokeBySig}).
    /// @return The type hash.
    function REVOKE_TYPEHASH() external view returns (bytes32);

    /// @notice keccak256 of the EIP-712 `SetGuardian` type string (in {setGuardianBySig}).
    /// @return The type hash.
    function SET_GUARDIAN_TYPEHASH() external view returns (bytes32);

    /// @notice keccak256 of the EIP-712 `RemoveGuardian` type string (in {removeGuardianBySig}).
    /// @return The type hash.
    function REMOVE_GUARDIAN_TYPEHASH() external view returns (bytes32);

    /// @notice keccak256 of the EIP-712 `RegisterKey` type string (in {registerPatientKeyBySig}).
    /// @return The type hash.
    function REGISTER_KEY_TYPEHASH() external view returns (bytes32);

    /// @notice keccak256 of the EIP-712 `AnswerRequest` type string (in {answerRequestBySig}).
    /// @return The type hash.
    function ANSWER_REQUEST_TYPEHASH() external view returns (bytes32);

    /// @notice keccak256 of the EIP-712 `CloseBreakGlass` type string (in {closeBreakGlassBySig}).
    /// @return The type hash.
    function CLOSE_BREAK_GLASS_TYPEHASH() external view returns (bytes32);

    /// @notice True iff `grantee` is an active institution and, now, a grant of `patient` on
    /// SCOPE_ALL or on `scope` is live for `purpose` in the grantee's current admission epoch, or
    /// `purpose` is ETREAT and a break-glass window `grantee` opened in its current epoch is open
    /// and `grantee` holds ROLE_EMERGENCY.
    /// @dev Never reverts; false for a purpose code above 5.
    /// @param patient The patient.
    /// @param grantee The institution.
    /// @param scope A record id, a category code or SCOPE_ALL.
    /// @param purpose The purpose code.
    /// @return Whether `grantee` may access now.
    function isAuthorized(address patient, address grantee, bytes32 scope, uint8 purpose) external view returns (bool);

    /// @notice {isAuthorized} for a record: a live grant on SCOPE_ALL, on `category` or on
    /// `recordId` counts. This is the consent check {recordAccess} makes (after checking that the
    /// record is bound to `patient` and `category`).
    /// @dev Never reverts; `category` is taken as given here.
    /// @param patient The patient.
    /// @param grantee The institution.
    /// @param recordId The record.
    /// @param category The record's category code.
    /// @param purpose The purpose code.
    /// @return Whether `grantee` may access the record now.
    function isAuthorizedForRecord(address patient, address grantee, bytes32 recordId, bytes32 category, uint8 purpose)
        external
        view
        returns (bool);

    /// @notice The grant of `grantee` on `scope` as stored (possibly expired, or of an earlier
    /// admission epoch: check {isAuthorized} for what it authorises).
    /// @dev Never reverts; all zero when there is no grant.
    /// @param patient The patient.
    /// @param grantee The institution.
    /// @param scope The scope.
    /// @return The grant.
    function getGrant(address patient, address grantee, bytes32 scope) external view returns (Grant memory);

    /// @notice The patient's registered X25519 encryption public key.
    /// @dev Never reverts.
    /// @param patient The patient.
    /// @return The key, zero if none was registered.
    function patientKeyOf(address patient) external view returns (bytes32);

    /// @notice When the appointment of `guardian` by `patient` ends (possibly in the past).
    /// @dev Never reverts.
    /// @param patient The patient.
    /// @param guardian The guardian.
    /// @return The expiry, 0 if never appointed or removed.
    function guardianExpiry(address patient, address guardian) external view returns (uint64);

    /// @notice True while `guardian` may act for `patient` (appointed and not expired).
    /// @dev Never reverts.
    /// @param patient The patient.
    /// @param guardian The guardian.
    /// @return Whether the appointment is live.
    function isGuardian(address patient, address guardian) external view returns (bool);

    /// @notice The break-glass window of `institution` on `patient` and its period budget.
    /// @dev Never reverts; all zero if none was ever opened.
    /// @param patient The patient.
    /// @param institution The institution.
    /// @return The window.
    function breakGlassWindow(address patient, address institution) external view returns (BreakGlassWindow memory);

    /// @notice The patient's audit chain: its head and its number of entries.
    /// @dev Never reverts.
    /// @param patient The patient.
    /// @return head The head after the last entry (zero before the first; see {AccessRecorded}).
    /// @return count The number of entries (the next entry's `seq`).
    function auditHead(address patient) external view returns (bytes32 head, uint64 count);

    /// @notice The status of request `requestId`.
    /// @dev Requirements: the request exists ({RequestNotFound}).
    /// @param requestId The request.
    /// @return A {RequestStatus} value: 0 Pending, 1 Approved, 2 Rejected.
    function requestStatus(uint256 requestId) external view returns (uint8);

    /// @notice The number of requests ever made (ids run from 1 to this number).
    /// @dev Never reverts.
    /// @return The count.
    function requestCount() external view returns (uint256);

    /// @notice The EIP-712 domain separator of this deployment (name "CareLedger
    /// ConsentRegistry", version "2", this chain, this contract); recomputed if the chain id
    /// changes, so signatures never carry over to a fork.
    /// @dev Never reverts.
    /// @return The separator.
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32);

    /// @notice The InstitutionRegistry this registry asks about membership, roles and epochs.
    /// @dev Never reverts.
    /// @return The registry's address.
    function institutions() external view returns (address);

    /// @notice The RecordRegistry that binds each record to its patient and category.
    /// @dev Never reverts.
    /// @return The registry's address.
    function records() external view returns (address);

    // ---------------------------------------------------------------- research studies

    /// @notice The caller, an active institution holding ROLE_RESEARCHER, registers a study
    /// (purpose HRESCH) by a hash of its protocol. Patients consent to it with a grant to the
    /// institute on {studyScope}(id) for HRESCH.
    /// @dev Requirements: the caller is active ({NotActiveInstitution}) and a researcher
    /// ({MissingRole}); `protocolHash` is not zero ({InvalidScope}).
    ///
    /// Emits {StudyRegistered}.
    /// @param protocolHash A hash of the study protocol.
    /// @return studyId The new study's id (1, 2, ...).
    function registerStudy(bytes32 protocolHash) external returns (uint256 studyId);

    /// @notice The study's institute closes it; no access is recorded under it afterwards.
    /// @dev Requirements: the study exists ({StudyNotFound}), the caller registered it
    /// ({NotStudyInstitute}) and it is open ({StudyIsClosed}).
    ///
    /// Emits {StudyClosed}.
    /// @param studyId The study.
    function closeStudy(uint256 studyId) external;

    /// @notice The study's institute records, in one transaction, its access to many records of
    /// many patients for the study: each is an {AccessRecorded} entry (purpose HRESCH) in its
    /// patient's hash chain, exactly as {recordAccess} writes it, and each patient's chain head is
    /// written once.
    /// @dev Requirements:
    ///
    /// - the study exists, is open and the caller registered it and is active ({StudyNotFound},
    ///   {StudyIsClosed}, {NotStudyInstitute}, {NotActiveInstitution});
    /// - `items` is not empty and grouped by patient in strictly increasing order of address
    ///   ({BadStudyBatch});
    /// - `proofs` are the multiproofs of the batch members among `items` (see
    ///   `IRecordRegistry.checkBindings`: `BadBatchProof`, `MissingBatchProof`);
    /// - each patient's grant to the caller on {studyScope}(studyId) is live for HRESCH in the
    ///   caller's admission epoch ({AccessNotAuthorized});
    /// - the RecordRegistry binds each record to its patient, category and commitment
    ///   (`RecordNotAnchored`, `RecordBindingMismatch`).
    ///
    /// Emits {AccessRecorded} per item and {StudyAccessRecorded}.
    /// @param studyId The study.
    /// @param items The records accessed, grouped by patient.
    /// @param proofs Multiproofs of the batch members among `items`, one or more per batch.
    function recordStudyAccess(
        uint256 studyId,
        IRecordRegistry.Binding[] calldata items,
        IRecordRegistry.BatchProof[] calldata proofs
    ) external;

    /// @notice A registered study.
    /// @dev Reverts {StudyNotFound} for an unknown id.
    /// @param studyId The study.
    /// @return The study.
    function study(uint256 studyId) external view returns (Study memory);

    /// @notice How many studies were registered (ids 1..studyCount()).
    /// @return The count.
    function studyCount() external view returns (uint256);

    /// @notice The consent scope of study `studyId`: `keccak256(abi.encode("careledger.study",
    /// studyId))`. A patient consents to a study with a grant on this scope for HRESCH.
    /// @param studyId The study.
    /// @return The scope.
    function studyScope(uint256 studyId) external pure returns (bytes32);
}
