// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IInstitutionRegistry — the consortium of hospitals, labs and research institutes
/// @notice Members are admitted, suspended, reinstated and removed by an M-of-N vote of the active
/// members. Each member has a role bitmask and a registered X25519 encryption public key that
/// patients use to wrap record keys for it. Suspended and removed members can neither vote nor act
/// anywhere in CareLedger: the other registries ask this one on every call.
interface IInstitutionRegistry {
    /// @notice A consortium member. `status`: 0 None, 1 Active, 2 Suspended, 3 Removed.
    /// `roles`: bitmask of ROLE_PROVIDER (1), ROLE_RESEARCHER (2), ROLE_EMERGENCY (4).
    struct Institution {
        uint8 status;
        uint8 roles;
        uint64 admittedAt;
        bytes32 encryptionKey;
        bytes32 metadataHash;
    }

    /// @notice What a proposal does when it reaches the threshold.
    enum ProposalKind {
        Admit,
        Suspend,
        Reinstate,
        Remove,
        ChangeRoles,
        ChangeThreshold
    }

    /// @notice A pending or executed proposal. Fields a kind does not use are zero. `approvals`
    /// is the number of its approvers who were active at the last approval.
    struct Proposal {
        ProposalKind kind;
        address subject;
        uint8 roles;
        uint64 expiresAt;
        uint32 approvals;
        bool executed;
        bytes32 encryptionKey;
        bytes32 metadataHash;
        uint32 newThreshold;
        address proposer;
    }

    event InstitutionAdmitted(address indexed account, uint8 roles, bytes32 encryptionKey, bytes32 metadataHash);
    event InstitutionSuspended(address indexed account);
    event InstitutionReinstated(address indexed account);
    event InstitutionRemoved(address indexed account);
    event RolesChanged(address indexed account, uint8 roles);
    event ThresholdChanged(uint32 threshold);
    event EncryptionKeyUpdated(address indexed account, bytes32 encryptionKey, bytes32 metadataHash);
    event ProposalCreated(
        uint256 indexed proposalId, ProposalKind kind, address indexed subject, address indexed proposer, uint64 expiresAt
    );
    event ProposalApproved(uint256 indexed proposalId, address indexed member, uint32 approvals);
    event ProposalExecuted(uint256 indexed proposalId);

    /// @notice `account` is not an active member (never admitted, suspended or removed).
    error NotActiveMember(address account);
    /// @notice `account` is already an active or suspended member: it cannot be admitted again.
    error AlreadyMember(address account);
    /// @notice `account` was never admitted (or was removed).
    error NotMember(address account);
    /// @notice The proposal does not apply to `account` in its current `status`.
    error InvalidStatus(address account, uint8 status);
    error ProposalNotFound(uint256 proposalId);
    error ProposalExpired(uint256 proposalId, uint64 expiredAt);
    error ProposalAlreadyExecuted(uint256 proposalId);
    error AlreadyApproved(uint256 proposalId, address member);
    /// @notice The threshold must be between 1 and the number of active members, and stay so.
    error InvalidThreshold(uint32 threshold, uint32 members);
    /// @notice Roles must be a non-empty subset of PROVIDER | RESEARCHER | EMERGENCY.
    error InvalidRoles(uint8 roles);
    /// @notice An encryption key must be a non-zero 32-byte X25519 public key.
    error InvalidEncryptionKey();
    error ZeroAddress();
    /// @notice The genesis arrays must have the same, non-zero length.
    error GenesisLengthMismatch();
    /// @notice The proposal lifetime must be between 1 second and MAX_PROPOSAL_LIFETIME.
    error InvalidLifetime();

    /// @notice Propose a membership change. Only an active member; the proposer's approval counts,
    /// and the proposal executes at once when that reaches the threshold.
    /// @return proposalId The new proposal's id (0-based, sequential).
    function propose(
        ProposalKind kind,
        address subject,
        uint8 roles,
        bytes32 encryptionKey,
        bytes32 metadataHash,
        uint32 newThreshold
    ) external returns (uint256 proposalId);

    /// @notice Approve a live proposal once; it executes when the approvers still active reach
    /// the threshold (approvals of members suspended or removed since do not count).
    function approve(uint256 proposalId) external;

    /// @notice An active member rotates its own encryption key and metadata hash.
    function updateEncryptionKey(bytes32 encryptionKey, bytes32 metadataHash) external;

    function institution(address account) external view returns (Institution memory);
    /// @notice True while `account` is admitted and not suspended or removed.
    function isActive(address account) external view returns (bool);
    /// @notice True while `account` is active and has every bit of `role` (a non-zero mask).
    function hasRole(address account, uint8 role) external view returns (bool);
    /// @notice When `account` was (last) admitted, if it is active now; 0 otherwise. Grants made
    /// before a removal and re-admission are older than this and authorise nothing.
    function activeSince(address account) external view returns (uint64);
    /// @notice 0 None, 1 Active, 2 Suspended, 3 Removed.
    function statusOf(address account) external view returns (uint8);
    function encryptionKeyOf(address account) external view returns (bytes32);
    function threshold() external view returns (uint32);
    /// @notice The number of active members.
    function memberCount() external view returns (uint32);
    function proposal(uint256 proposalId) external view returns (Proposal memory);
    function proposalCount() external view returns (uint256);
    function hasApproved(uint256 proposalId, address member) external view returns (bool);
}
