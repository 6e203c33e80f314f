// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IConsentRegistry — the patient's will
/// @notice Patients (or a guardian they appointed) grant consortium institutions access to a scope
/// (a record id, a category code or SCOPE_ALL) for a set of HL7 PurposeOfUse codes until a time;
/// directly or by an EIP-712 signature that anyone may submit. Institutions check and record every
/// access here before they receive a key; each access advances the patient's on-chain hash chain.
/// Nothing here reveals health data: only addresses, public codes and hashes.
interface IConsentRegistry {
    /// @notice A grant is live while `purposes != 0 && block.timestamp < expiresAt`.
    struct Grant {
        uint32 purposes;
        uint64 expiresAt;
        uint64 grantedAt;
    }

    /// @notice An institution's request for access. `status`: 0 Pending, 1 Approved, 2 Rejected.
    struct AccessRequest {
        address requester;
        address patient;
        bytes32 scope;
        uint8 purpose;
        uint8 status;
        uint64 createdAt;
        bytes32 reasonHash;
    }

    event PatientKeyRegistered(address indexed patient, bytes32 encryptionKey);
    event GuardianSet(address indexed patient, address indexed guardian, uint64 expiresAt);
    event GuardianRemoved(address indexed patient, address indexed guardian);
    event ConsentGranted(
        address indexed patient, address indexed grantee, bytes32 indexed scope, uint32 purposes, uint64 expiresAt, address actor
    );
    event ConsentRevoked(address indexed patient, address indexed grantee, bytes32 indexed scope, address actor);
    event NonceIncreased(address indexed signer, uint256 newNonce);
    event AccessRequested(
        uint256 indexed requestId,
        address indexed patient,
        address indexed requester,
        bytes32 scope,
        uint8 purpose,
        bytes32 reasonHash
    );
    event AccessRequestApproved(uint256 indexed requestId, address indexed patient, uint64 expiresAt, address actor);
    event AccessRequestRejected(uint256 indexed requestId, address indexed patient, address actor);
    event BreakGlassOpened(address indexed patient, address indexed institution, bytes32 reasonCode, uint64 expiresAt);
    /// @notice One access, in the patient's hash chain: `head` is the chain head after it,
    /// `bytes32(bytes24(keccak256(abi.encode(previousHead, patient, keccak256(entry)))))` with
    /// `entry = abi.encode(accessor, recordId, category, purpose, timestamp, seq, viaBreakGlass)`
    /// and a genesis head of zero.
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

    /// @notice Only the patient or a live guardian of the patient may do this.
    error NotPatientOrGuardian(address caller, address patient);
    /// @notice The signature is not `signer`'s over this exact message and current nonce.
    error InvalidSignature(address signer);
    /// @notice The signature's deadline has passed: ask the signer for a new one.
    error SignatureExpired(uint256 deadline, uint256 timestamp);
    /// @notice Expiry times must lie in the future.
    error InvalidExpiry(uint64 expiresAt, uint256 timestamp);
    /// @notice A grant needs at least one purpose.
    error NoPurposes();
    /// @notice A purpose code must be 0..5 (TREAT, ETREAT, HPAYMT, HOPERAT, HRESCH, PUBHLTH).
    error InvalidPurpose(uint8 purpose);
    /// @notice A purpose mask may only carry bits 0..5.
    error InvalidPurposes(uint32 purposes);
    /// @notice A scope must be non-zero: a record id, a category code or SCOPE_ALL.
    error InvalidScope();
    error GrantNotFound(address patient, address grantee, bytes32 scope);
    error NotActiveInstitution(address account);
    /// @notice Grants go to consortium members only (active or suspended).
    error UnknownInstitution(address account);
    error MissingRole(address account, uint8 role);
    error RequestNotFound(uint256 requestId);
    error RequestNotPending(uint256 requestId, uint8 status);
    error BreakGlassTooLong(uint64 duration, uint64 max);
    error InvalidEncryptionKey();
    error ZeroAddress();
    error AccessNotAuthorized(address patient, address accessor, bytes32 recordId, uint8 purpose);
    error GuardianNotFound(address patient, address guardian);
    error CannotGuardSelf(address patient);

    /// @notice Register or rotate the patient's X25519 encryption public key (patient or guardian).
    function registerPatientKey(address patient, bytes32 encryptionKey) external;
    /// @notice The caller (a patient) appoints `guardian` until `expiresAt` (or changes the expiry).
    function setGuardian(address guardian, uint64 expiresAt) external;
    /// @notice The caller (a patient) removes `guardian`.
    function removeGuardian(address guardian) external;

    /// @notice Create or replace the grant of `grantee` on `scope` (patient or guardian).
    function grant(address patient, address grantee, bytes32 scope, uint32 purposes, uint64 expiresAt) external;
    /// @notice Clear the grant of `grantee` on `scope` (patient or guardian).
    function revoke(address patient, address grantee, bytes32 scope) external;

    /// @notice `grant` authorised by an EIP-712 `Grant` signature of `signer` (patient or live guardian).
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
    /// @notice `revoke` authorised by an EIP-712 `Revoke` signature of `signer` (patient or live guardian).
    function revokeBySig(
        address patient,
        address grantee,
        bytes32 scope,
        address signer,
        uint256 deadline,
        bytes calldata signature
    ) external;
    /// @notice `setGuardian` authorised by an EIP-712 `SetGuardian` signature of the patient.
    function setGuardianBySig(
        address patient,
        address guardian,
        uint64 expiresAt,
        uint256 deadline,
        bytes calldata signature
    ) external;
    /// @notice Consume the caller's current nonce: every outstanding signature of the caller dies.
    function increaseNonce() external returns (uint256 newNonce);

    /// @notice An active institution asks for access; the patient answers.
    function requestAccess(address patient, bytes32 scope, uint8 purpose, bytes32 reasonHash)
        external
        returns (uint256 requestId);
    /// @notice Approve a pending request: the requester's grant on the scope gains the requested
    /// purpose (added to what is live) and expires at `expiresAt`.
    function approveRequest(uint256 requestId, uint64 expiresAt) external;
    function rejectRequest(uint256 requestId) external;

    /// @notice An active EMERGENCY institution opens ETREAT access to `patient` for `duration`
    /// seconds (at most MAX_BREAK_GLASS); every use is recorded as break-glass access.
    function breakGlass(address patient, bytes32 reasonCode, uint64 duration) external;

    /// @notice The caller records that it accesses `recordId` (of `category`) of `patient` for
    /// `purpose`; reverts `AccessNotAuthorized` unless authorised at this block.
    /// @return head The patient's audit chain head after this entry.
    function recordAccess(address patient, bytes32 recordId, bytes32 category, uint8 purpose)
        external
        returns (bytes32 head);

    function isAuthorized(address patient, address grantee, bytes32 scope, uint8 purpose) external view returns (bool);
    function isAuthorizedForRecord(address patient, address grantee, bytes32 recordId, bytes32 category, uint8 purpose)
        external
        view
        returns (bool);
    function getGrant(address patient, address grantee, bytes32 scope) external view returns (Grant memory);
    function patientKeyOf(address patient) external view returns (bytes32);
    function guardianExpiry(address patient, address guardian) external view returns (uint64);
    function isGuardian(address patient, address guardian) external view returns (bool);
    function breakGlassExpiry(address patient, address institution) external view returns (uint64);
    function auditHead(address patient) external view returns (bytes32 head, uint64 count);
    function getRequest(uint256 requestId) external view returns (AccessRequest memory);
    function requestCount() external view returns (uint256);
    function DOMAIN_SEPARATOR() external view returns (bytes32);
    function institutions() external view returns (address);
}
