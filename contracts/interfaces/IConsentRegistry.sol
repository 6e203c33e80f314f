// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

/// @title IConsentRegistry — the patient's will
/// @notice Patients (or a guardian they appointed) grant consortium institutions access to a scope
/// (a record id, a category code or SCOPE_ALL) for a set of HL7 PurposeOfUse codes until a time;
/// directly or by an EIP-712 signature that anyone may submit. Institutions check and record every
/// access here before they receive a key; each access advances the patient's on-chain hash chain.
/// Nothing here reveals health data: only addresses, public codes and hashes.
/// @dev Purpose codes: TREAT 0, ETREAT 1, HPAYMT 2, HOPERAT 3, HRESCH 4, PUBHLTH 5; a set of
/// purposes is the `uint32` mask of `1 << code`. "Patient or guardian" means the patient itself or
/// an account the patient appointed whose appointment has not expired. Shared errors raised here:
/// {ZeroAddress}, {InvalidEncryptionKey}, {NotActiveInstitution}, {NotMember}, {MissingRole}
/// (contracts/interfaces/CareLedgerErrors.sol).
interface IConsentRegistry {
    /// @notice A consent of one patient to one grantee on one scope. It authorises while
    /// `(purposes >> purpose) & 1 == 1 && block.timestamp < expiresAt`, and only if it was made
    /// since the grantee's last admission (`grantedAt >= activeSince(grantee)`).
    /// @param purposes The purpose mask; 0 means there is no grant.
    /// @param expiresAt The first second at which it no longer authorises.
    /// @param grantedAt Block time of the last grant or approval that wrote it.
    struct Grant {
        uint32 purposes;
        uint64 expiresAt;
        uint64 grantedAt;
    }

    /// @notice An institution's request for access, answered once by the patient or a guardian.
    /// @param requester The institution that asked.
    /// @param patient The patient asked.
    /// @param scope The scope asked for.
    /// @param purpose The purpose code asked for.
    /// @param status A {RequestStatus} value: 0 Pending, then 1 Approved or 2 Rejected. A `uint8`
    /// rather than the enum, because solc range-checks every enum read from storage or encoded
    /// into return or revert data, which would add gas to approveRequest and rejectRequest.
    /// @param createdAt Block time of the request.
    /// @param reasonHash Hash of the reason text, which travels off chain.
    struct AccessRequest {
        address requester;
        address patient;
        bytes32 scope;
        uint8 purpose;
        uint8 status;
        uint64 createdAt;
        bytes32 reasonHash;
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

    /// @notice The grant of `grantee` on `scope` was created or replaced (directly, by
    /// signature or by approving a request).
    /// @param patient The patient.
    /// @param grantee The institution.
    /// @param scope A record id, a category code or SCOPE_ALL.
    /// @param purposes The purpose mask now granted (it replaces the previous one).
    /// @param expiresAt The first second at which it no longer authorises.
    /// @param actor Who authorised it: the patient or a guardian (the signer for a signed grant).
    event ConsentGranted(
        address indexed patient, address indexed grantee, bytes32 indexed scope, uint32 purposes, uint64 expiresAt, address actor
    );

    /// @notice The grant of `grantee` on `scope` was cleared.
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
    /// @param reasonHash Hash of the reason text.
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
    /// @param expiresAt The expiry of the resulting grant.
    /// @param actor The patient or guardian who approved it.
    event AccessRequestApproved(uint256 indexed requestId, address indexed patient, uint64 expiresAt, address actor);

    /// @notice Request `requestId` was rejected.
    /// @param requestId The request.
    /// @param patient The patient.
    /// @param actor The patient or guardian who rejected it.
    event AccessRequestRejected(uint256 indexed requestId, address indexed patient, address actor);

    /// @notice `institution` opened (or re-opened) emergency ETREAT access to `patient`.
    /// @param patient The patient.
    /// @param institution The emergency institution.
    /// @param reasonCode A public code for the emergency (hashed off chain).
    /// @param expiresAt The first second at which the window is closed.
    event BreakGlassOpened(address indexed patient, address indexed institution, bytes32 reasonCode, uint64 expiresAt);

    /// @notice One access, in the patient's hash chain: `head` is the chain head after it,
    /// `bytes32(bytes24(keccak256(abi.encode(previousHead, patient, keccak256(entry)))))` with
    /// `entry = abi.encode(accessor, recordId, category, purpose, timestamp, seq, viaBreakGlass)`
    /// and a genesis head of zero. The head keeps the first 192 bits so that head and count share
    /// one storage slot; forging a history still takes about 2^192 work.
    /// @param patient The patient.
    /// @param accessor The institution that accessed (the caller of recordAccess).
    /// @param recordId The record accessed.
    /// @param category The category the accessor claimed for it (not checked on chain).
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
    /// at or before the current block time.
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
    /// @param requestId The id asked for.
    error RequestNotFound(uint256 requestId);

    /// @notice Thrown when a request that was already answered is approved or rejected.
    /// @param requestId The request.
    /// @param status Its status, a {RequestStatus} value.
    error RequestNotPending(uint256 requestId, uint8 status);

    /// @notice Thrown when a break-glass window is asked for longer than MAX_BREAK_GLASS.
    /// @param duration The duration asked for, in seconds.
    /// @param max MAX_BREAK_GLASS.
    error BreakGlassTooLong(uint64 duration, uint64 max);

    /// @notice Thrown when a break-glass window is asked for zero seconds.
    error ZeroDuration();

    /// @notice Thrown by recordAccess when nothing authorises the caller now (see {isAuthorizedForRecord}).
    /// @param patient The patient.
    /// @param accessor The caller.
    /// @param recordId The record.
    /// @param purpose The purpose code.
    error AccessNotAuthorized(address patient, address accessor, bytes32 recordId, uint8 purpose);

    /// @notice Thrown when a patient removes a guardian it never appointed or already removed
    /// (an expired appointment can still be removed).
    /// @param patient The patient (the caller).
    /// @param guardian The account given.
    error GuardianNotFound(address patient, address guardian);

    /// @notice Thrown when a patient appoints itself as its own guardian.
    /// @param patient The patient.
    error CannotGuardSelf(address patient);

    // ---------------------------------------------------------------- patient keys and guardians

    /// @notice Register or rotate the patient's X25519 encryption public key; providers wrap the
    /// record keys of new records to it.
    /// @dev Requirements:
    ///
    /// - the caller is the patient or a guardian ({NotPatientOrGuardian});
    /// - `encryptionKey` is not zero ({InvalidEncryptionKey}).
    ///
    /// Emits {PatientKeyRegistered}.
    /// @param patient The patient.
    /// @param encryptionKey The new X25519 public key.
    function registerPatientKey(address patient, bytes32 encryptionKey) external;

    /// @notice The caller (a patient) appoints `guardian` until `expiresAt`, or changes the
    /// expiry of an appointment (earlier or later). Guardians cannot appoint guardians: the
    /// caller is always the patient here.
    /// @dev Requirements:
    ///
    /// - `guardian` is not zero ({ZeroAddress}) and not the caller ({CannotGuardSelf});
    /// - `expiresAt` is in the future ({InvalidExpiry}).
    ///
    /// Emits {GuardianSet}.
    /// @param guardian The guardian.
    /// @param expiresAt The first second at which the guardian can no longer act.
    function setGuardian(address guardian, uint64 expiresAt) external;

    /// @notice The caller (a patient) removes `guardian` at once.
    /// @dev Requirements:
    ///
    /// - `guardian` was appointed by the caller and not removed since, expired or not
    ///   ({GuardianNotFound}).
    ///
    /// Emits {GuardianRemoved}.
    /// @param guardian The guardian.
    function removeGuardian(address guardian) external;

    // ---------------------------------------------------------------- grants

    /// @notice Create or replace the grant of `grantee` on `scope`: the purposes and the expiry
    /// replace any earlier ones, and the grant counts from now.
    /// @dev Requirements:
    ///
    /// - the caller is the patient or a guardian ({NotPatientOrGuardian});
    /// - `patient` and `grantee` are not zero ({ZeroAddress}), `scope` is not zero ({InvalidScope});
    /// - `purposes` is not empty ({NoPurposes}) and only has bits 0..5 ({InvalidPurposes});
    /// - `expiresAt` is in the future ({InvalidExpiry});
    /// - `grantee` is a consortium member, active or suspended ({NotMember}); a grant to a
    ///   suspended member authorises nothing until it is reinstated.
    ///
    /// Emits {ConsentGranted}.
    /// @param patient The patient.
    /// @param grantee The institution.
    /// @param scope A record id, a category code or SCOPE_ALL.
    /// @param purposes The purpose mask.
    /// @param expiresAt The first second at which the grant no longer authorises.
    function grant(address patient, address grantee, bytes32 scope, uint32 purposes, uint64 expiresAt) external;

    /// @notice Clear the grant of `grantee` on `scope`; it never authorises again.
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
    /// @param expiresAt The first second at which the grant no longer authorises.
    /// @param signer The patient or guardian who signed.
    /// @param deadline The last second at which the signature may be submitted.
    /// @param signature The signature (65 bytes r, s, v for an EOA).
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

    /// @notice {setGuardian} authorised by an EIP-712 `SetGuardian` signature of the patient
    /// (only the patient: a guardian cannot sign one), submitted by anyone; the patient's nonce
    /// is consumed.
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

    /// @notice Consume the caller's current nonce, so that every signature the caller handed out
    /// and that was not submitted yet can never apply.
    /// @dev Requirements: none.
    ///
    /// Emits {NonceIncreased}.
    /// @return newNonce The caller's nonce now.
    function increaseNonce() external returns (uint256 newNonce);

    // ---------------------------------------------------------------- requests

    /// @notice An active institution asks `patient` for access; the patient answers with
    /// {approveRequest} or {rejectRequest}. Any active member may ask, whatever its roles.
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
    /// @param reasonHash Hash of the reason text (the text travels off chain).
    /// @return requestId The new request's id (0-based, sequential).
    function requestAccess(address patient, bytes32 scope, uint8 purpose, bytes32 reasonHash)
        external
        returns (uint256 requestId);

    /// @notice Approve a pending request: the requester's grant on the scope becomes the
    /// requested purpose plus the purposes of its live grant there, all until `expiresAt` (so
    /// approving can extend or shorten consents given earlier). Purposes of a grant made before
    /// the requester's last admission are not kept: they authorise nothing.
    /// @dev Requirements:
    ///
    /// - the request exists ({RequestNotFound}) and is pending ({RequestNotPending});
    /// - the caller is the request's patient or a guardian of it ({NotPatientOrGuardian});
    /// - `expiresAt` is in the future ({InvalidExpiry});
    /// - the requester is still a member, active or suspended ({NotMember}).
    ///
    /// Emits {ConsentGranted} then {AccessRequestApproved}.
    /// @param requestId The request.
    /// @param expiresAt The first second at which the resulting grant no longer authorises.
    function approveRequest(uint256 requestId, uint64 expiresAt) external;

    /// @notice Reject a pending request; no grant changes.
    /// @dev Requirements:
    ///
    /// - the request exists ({RequestNotFound}) and is pending ({RequestNotPending});
    /// - the caller is the request's patient or a guardian of it ({NotPatientOrGuardian}).
    ///
    /// Emits {AccessRequestRejected}.
    /// @param requestId The request.
    function rejectRequest(uint256 requestId) external;

    // ---------------------------------------------------------------- break-glass and access

    /// @notice An active EMERGENCY institution opens ETREAT access to `patient` for `duration`
    /// seconds without consent; every use is recorded as break-glass access. Opening again
    /// replaces the window (it may shorten it). The window authorises while the institution stays
    /// active.
    /// @dev Requirements:
    ///
    /// - the caller is an active institution ({NotActiveInstitution}) with ROLE_EMERGENCY
    ///   ({MissingRole});
    /// - `patient` is not zero ({ZeroAddress});
    /// - 0 < `duration` ({ZeroDuration}) <= MAX_BREAK_GLASS ({BreakGlassTooLong}).
    ///
    /// Emits {BreakGlassOpened}.
    /// @param patient The patient.
    /// @param reasonCode A public code for the emergency.
    /// @param duration The window's length, in seconds.
    function breakGlass(address patient, bytes32 reasonCode, uint64 duration) external;

    /// @notice The caller records that it accesses `recordId` (of `category`) of `patient` for
    /// `purpose`, and advances the patient's audit chain; key holders release a record key only
    /// after this succeeded.
    /// @dev `category` is the caller's claim: this contract knows no record's category (that is
    /// in RecordRegistry's `RecordAnchored` event) and `recordId` need not be anchored. A false
    /// claim is recorded in the chain as made.
    ///
    /// Requirements:
    ///
    /// - `purpose` is 0..5 ({InvalidPurpose});
    /// - {isAuthorizedForRecord} holds for the caller now ({AccessNotAuthorized}).
    ///
    /// Emits {AccessRecorded}.
    /// @param patient The patient.
    /// @param recordId The record accessed.
    /// @param category The record's category code, as the caller states it.
    /// @param purpose The purpose code.
    /// @return head The patient's audit chain head after this entry.
    function recordAccess(address patient, bytes32 recordId, bytes32 category, uint8 purpose)
        external
        returns (bytes32 head);

    // ---------------------------------------------------------------- views

    /// @notice The scope that covers every record of a patient: keccak256("careledger.scope.ALL").
    /// @return The scope.
    function SCOPE_ALL() external view returns (bytes32);

    /// @notice The longest break-glass window: 72 hours, long enough for an emergency admission,
    /// short enough that it cannot stand in for consent.
    /// @return The limit, in seconds.
    function MAX_BREAK_GLASS() external view returns (uint64);

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

    /// @notice True iff `grantee` is an active institution and, now, a grant of `patient` on
    /// SCOPE_ALL or on `scope` is live for `purpose` and was made since the grantee's last
    /// admission, or `purpose` is ETREAT and a break-glass window of `grantee` for `patient` is open.
    /// @dev Never reverts; false for a purpose code above 5.
    /// @param patient The patient.
    /// @param grantee The institution.
    /// @param scope A record id, a category code or SCOPE_ALL.
    /// @param purpose The purpose code.
    /// @return Whether `grantee` may access now.
    function isAuthorized(address patient, address grantee, bytes32 scope, uint8 purpose) external view returns (bool);

    /// @notice {isAuthorized} for a record: a live grant on SCOPE_ALL, on `category` or on
    /// `recordId` counts. This is the check {recordAccess} makes.
    /// @dev Never reverts; `category` is taken as given (see {recordAccess}).
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

    /// @notice The grant of `grantee` on `scope` as stored (possibly expired, or older than the
    /// grantee's last admission: check {isAuthorized} for what it authorises).
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

    /// @notice When the last break-glass window of `institution` for `patient` closes (possibly
    /// in the past).
    /// @dev Never reverts.
    /// @param patient The patient.
    /// @param institution The institution.
    /// @return The window's end, 0 if none was ever opened.
    function breakGlassExpiry(address patient, address institution) external view returns (uint64);

    /// @notice The patient's audit chain: its head and its number of entries.
    /// @dev Never reverts.
    /// @param patient The patient.
    /// @return head The head after the last entry (zero before the first; see {AccessRecorded}).
    /// @return count The number of entries (the next entry's `seq`).
    function auditHead(address patient) external view returns (bytes32 head, uint64 count);

    /// @notice Request `requestId`.
    /// @dev Requirements:
    ///
    /// - the request exists ({RequestNotFound}).
    /// @param requestId The request.
    /// @return The request.
    function getRequest(uint256 requestId) external view returns (AccessRequest memory);

    /// @notice The number of requests ever made (the next request's id).
    /// @dev Never reverts.
    /// @return The count.
    function requestCount() external view returns (uint256);

    /// @notice The EIP-712 domain separator of this deployment (name "CareLedger
    /// ConsentRegistry", version "1", this chain, this contract); recomputed if the chain id
    /// changes, so signatures never carry over to a fork.
    /// @dev Never reverts.
    /// @return The separator.
    // solhint-disable-next-line func-name-mixedcase
    function DOMAIN_SEPARATOR() external view returns (bytes32);

    /// @notice The InstitutionRegistry this registry asks about membership, roles and admission.
    /// @dev Never reverts.
    /// @return The registry's address.
    function institutions() external view returns (address);
}
