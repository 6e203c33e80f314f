// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

// Statuses here (Institution.status, statusOf, InvalidStatus) are `uint8` holding the values of
// `InstitutionStatus` (contracts/interfaces/CareLedgerTypes.sol), not the enum type: solc
// range-checks every enum value read from storage and every enum crossing the ABI, which would add
// gas to each isActive / hasRole / membership / statusOf call the other registries make (and
// about 90 gas to a revert carrying one).

/// @title IInstitutionRegistry — the consortium of hospitals, labs and research institutes
/// @notice Members are admitted, suspended, reinstated and removed by an M-of-N vote of the active
/// members. Each member has a role bitmask ({Roles}) and a registered X25519 encryption public key
/// that patients use to wrap record keys for it. Suspended and removed members can neither vote
/// nor act anywhere in CareLedger: the other registries ask this one on every call.
/// @dev Shared errors raised here: {ZeroAddress}, {InvalidEncryptionKey}, {NotActiveInstitution},
/// {NotMember} (contracts/interfaces/CareLedgerErrors.sol).
interface IInstitutionRegistry {
    /// @notice A consortium member's record. Removal keeps it (status Removed) so that its past
    /// key and roles stay readable; re-admission overwrites it.
    /// @param status Where the account stands: an {InstitutionStatus} value.
    /// @param roles Bitmask of ROLE_PROVIDER (1), ROLE_RESEARCHER (2), ROLE_EMERGENCY (4).
    /// @param admittedAt Block time of the last admission.
    /// @param epoch How many times the account was admitted (1 after its first admission).
    /// Suspension and reinstatement keep it, so grants survive them; a re-admission increments
    /// it, so grants made before stop counting, even within the same second.
    /// @param encryptionKey The member's X25519 public key (never zero once admitted).
    /// @param metadataHash Hash of the member's off-chain description (name).
    struct Institution {
        uint8 status;
        uint8 roles;
        uint64 admittedAt;
        uint32 epoch;
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

    /// @notice A pending or executed proposal. Every field is stored as the proposer gave it;
    /// fields its kind does not use are ignored (callers pass zero).
    /// @param kind What the proposal does.
    /// @param subject The institution it concerns (unused by ChangeThreshold).
    /// @param roles The roles to admit with or to set (Admit, ChangeRoles).
    /// @param expiresAt The first second at which it can no longer be approved.
    /// @param approvals Its approvers who were active at the last approval (the count that is
    /// compared with the threshold).
    /// @param executed True once the change was applied; it can never apply twice.
    /// @param encryptionKey The new member's key (Admit).
    /// @param metadataHash The new member's metadata hash (Admit).
    /// @param newThreshold The new threshold (ChangeThreshold).
    /// @param proposer The member that proposed it.
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

    // ---------------------------------------------------------------- events

    /// @notice `account` joined the consortium (at genesis or by an executed Admit, including a
    /// re-admission after removal), active from this block.
    /// @param account The new member.
    /// @param roles Its role bitmask.
    /// @param encryptionKey Its X25519 public key.
    /// @param metadataHash Hash of its off-chain description.
    /// @param epoch Its admission epoch (1 at its first admission, +1 at each re-admission).
    event InstitutionAdmitted(
        address indexed account, uint8 roles, bytes32 encryptionKey, bytes32 metadataHash, uint32 epoch
    );

    /// @notice `account` was suspended: it can no longer act or vote, and its grants authorise
    /// nothing until it is reinstated.
    /// @param account The suspended member.
    event InstitutionSuspended(address indexed account);

    /// @notice `account` was reinstated: it acts again, and its grants count again.
    /// @param account The reinstated member.
    event InstitutionReinstated(address indexed account);

    /// @notice `account` was removed from the consortium. Should it be admitted again, the grants
    /// made before that admission never count again.
    /// @param account The removed institution.
    event InstitutionRemoved(address indexed account);

    /// @notice The roles of `account` were replaced by `roles`.
    /// @param account The member.
    /// @param roles Its new role bitmask.
    event RolesChanged(address indexed account, uint8 roles);

    /// @notice The number of live approvals a proposal needs became `threshold` (also emitted
    /// once at deployment).
    /// @param threshold The new threshold.
    event ThresholdChanged(uint32 threshold);

    /// @notice `account` rotated its encryption key and metadata hash.
    /// @param account The member.
    /// @param encryptionKey Its new X25519 public key.
    /// @param metadataHash Its new metadata hash.
    event EncryptionKeyUpdated(address indexed account, bytes32 encryptionKey, bytes32 metadataHash);

    /// @notice `account` published the URL of its CareLedger node.
    /// @param account The member.
    /// @param url The node's base URL.
    event EndpointUpdated(address indexed account, string url);

    /// @notice `proposer` opened proposal `proposalId`.
    /// @param proposalId The new proposal's id.
    /// @param kind What it does.
    /// @param subject The institution it concerns.
    /// @param proposer The member that proposed it.
    /// @param expiresAt The first second at which it can no longer be approved.
    event ProposalCreated(
        uint256 indexed proposalId, ProposalKind kind, address indexed subject, address indexed proposer, uint64 expiresAt
    );

    /// @notice `member` approved proposal `proposalId` (the proposer's own approval included).
    /// @param proposalId The proposal.
    /// @param member The approving member.
    /// @param approvals Its approvers active now, this one included.
    event ProposalApproved(uint256 indexed proposalId, address indexed member, uint32 approvals);

    /// @notice Proposal `proposalId` reached the threshold and its change was applied (the
    /// change's own event is emitted just before this one).
    /// @param proposalId The proposal.
    event ProposalExecuted(uint256 indexed proposalId);

    // ---------------------------------------------------------------- errors

    /// @notice Thrown when `account` is to be admitted (at genesis or by an Admit proposal) while
    /// it is already an active or suspended member, or appears twice in the genesis list.
    /// @param account The member.
    error AlreadyMember(address account);

    /// @notice Thrown when a Suspend proposal's subject is not active, or a Reinstate proposal's
    /// subject is not suspended.
    /// @param account The proposal's subject.
    /// @param status Its current status, an {InstitutionStatus} value.
    error InvalidStatus(address account, uint8 status);

    /// @notice Thrown when no proposal has id `proposalId`.
    /// @param proposalId The id asked for.
    error ProposalNotFound(uint256 proposalId);

    /// @notice Thrown when a proposal is approved at or after its expiry.
    /// @param proposalId The proposal.
    /// @param expiredAt Its expiry time.
    error ProposalExpired(uint256 proposalId, uint64 expiredAt);

    /// @notice Thrown when an executed proposal is approved again.
    /// @param proposalId The proposal.
    error ProposalAlreadyExecuted(uint256 proposalId);

    /// @notice Thrown when `member` approves a proposal it already approved.
    /// @param proposalId The proposal.
    /// @param member The member.
    error AlreadyApproved(uint256 proposalId, address member);

    /// @notice Thrown when a threshold would be 0 or above the number of active members: at
    /// deployment or by a ChangeThreshold proposal. (A suspension or removal lowers the threshold
    /// instead, see {approve}.)
    /// @param threshold The threshold that does not fit.
    /// @param members The number of active members it was compared with.
    error InvalidThreshold(uint32 threshold, uint32 members);

    /// @notice Thrown when a Suspend or Remove would leave the consortium with no active member,
    /// so that nobody could ever vote again.
    /// @param account The last active member.
    error LastActiveMember(address account);

    /// @notice Thrown when a node endpoint is not an `https://` or `http://` URL of at most 256
    /// bytes.
    error InvalidEndpoint();

    /// @notice Thrown when a role mask is empty or has a bit outside PROVIDER | RESEARCHER |
    /// EMERGENCY (at genesis, Admit or ChangeRoles).
    /// @param roles The mask given.
    error InvalidRoles(uint8 roles);

    /// @notice Thrown at deployment when the four genesis arrays differ in length.
    error GenesisLengthMismatch();

    /// @notice Thrown at deployment when the genesis list is empty: nobody could ever vote.
    error EmptyGenesis();

    /// @notice Thrown at deployment when the proposal lifetime is 0 or above
    /// MAX_PROPOSAL_LIFETIME.
    error InvalidLifetime();

    // ---------------------------------------------------------------- governance

    /// @notice Propose a membership change; the proposer's approval counts at once, so with a
    /// threshold of 1 the change executes in this call.
    /// @dev The change is validated now and again when it executes: the consortium may have
    /// changed in between.
    ///
    /// Requirements:
    ///
    /// - the caller is an active member ({NotActiveInstitution});
    /// - ChangeThreshold: 1 <= `newThreshold` <= memberCount() ({InvalidThreshold});
    /// - every other kind: `subject` is not zero ({ZeroAddress});
    /// - Admit: `subject` is not an active or suspended member ({AlreadyMember}), `roles` is
    ///   valid ({InvalidRoles}) and `encryptionKey` is not zero ({InvalidEncryptionKey});
    /// - Suspend, Reinstate, Remove, ChangeRoles: `subject` is a member ({NotMember});
    /// - Suspend: `subject` is active ({InvalidStatus}) and not the last active member
    ///   ({LastActiveMember});
    /// - Reinstate: `subject` is suspended ({InvalidStatus});
    /// - Remove of an active member: it is not the last active member ({LastActiveMember});
    /// - ChangeRoles: `roles` is valid ({InvalidRoles}).
    ///
    /// Emits {ProposalCreated} and {ProposalApproved}; if the threshold is reached, the change's
    /// event ({InstitutionAdmitted}, {InstitutionSuspended}, {InstitutionReinstated},
    /// {InstitutionRemoved}, {RolesChanged} or {ThresholdChanged}) and {ProposalExecuted}.
    /// @param kind What the proposal does.
    /// @param subject The institution it concerns (ignored by ChangeThreshold).
    /// @param roles The roles to admit with or to set (Admit, ChangeRoles; else ignored).
    /// @param encryptionKey The new member's X25519 public key (Admit; else ignored).
    /// @param metadataHash The new member's metadata hash (Admit; else ignored).
    /// @param newThreshold The new threshold (ChangeThreshold; else ignored).
    /// @return proposalId The new proposal's id (0-based, sequential).
    function propose(
        ProposalKind kind,
        address subject,
        uint8 roles,
        bytes32 encryptionKey,
        bytes32 metadataHash,
        uint32 newThreshold
    ) external returns (uint256 proposalId);

    /// @notice Approve a live proposal once; it executes when its approvers who are still active
    /// reach the threshold (approvals of members suspended or removed since do not count, and
    /// count again if they are reinstated). A Suspend or Remove of an active member needs only
    /// `min(threshold, active members - 1)`: the other members can always eject a rogue one,
    /// whose own vote is never needed; if fewer active members than the threshold remain, the
    /// threshold drops to their number ({ThresholdChanged}).
    /// @dev Requirements:
    ///
    /// - the caller is an active member ({NotActiveInstitution});
    /// - the proposal exists ({ProposalNotFound}), is not executed ({ProposalAlreadyExecuted})
    ///   and not expired ({ProposalExpired});
    /// - the caller has not approved it yet ({AlreadyApproved});
    /// - if this approval reaches the threshold, the change still applies (the errors of
    ///   {propose}); otherwise the approval reverts with them and can be retried later.
    ///
    /// Emits {ProposalApproved}; if the threshold is reached, the change's event and
    /// {ProposalExecuted}.
    /// @param proposalId The proposal to approve.
    function approve(uint256 proposalId) external;

    /// @notice An active member rotates its own encryption key and metadata hash; records
    /// shared with it afterwards are wrapped to the new key.
    /// @dev Requirements:
    ///
    /// - the caller is an active member ({NotActiveInstitution});
    /// - `encryptionKey` is not zero ({InvalidEncryptionKey}).
    ///
    /// Emits {EncryptionKeyUpdated}.
    /// @param encryptionKey The new X25519 public key.
    /// @param metadataHash The new metadata hash.
    function updateEncryptionKey(bytes32 encryptionKey, bytes32 metadataHash) external;

    /// @notice An active member publishes the URL of its CareLedger node, where parties fetch
    /// ciphertexts and ask for keys of the records it issued.
    /// @dev Requirements:
    ///
    /// - the caller is an active member ({NotActiveInstitution});
    /// - `url` starts with `https://` or `http://` and is at most 256 bytes ({InvalidEndpoint}).
    ///
    /// Emits {EndpointUpdated}.
    /// @param url The node's base URL.
    function setEndpoint(string calldata url) external;

    // ---------------------------------------------------------------- views

    /// @notice The provider role bit (1): may anchor records.
    /// @return The bit.
    function ROLE_PROVIDER() external view returns (uint8);

    /// @notice The researcher role bit (2).
    /// @return The bit.
    function ROLE_RESEARCHER() external view returns (uint8);

    /// @notice The emergency role bit (4): may open break-glass access.
    /// @return The bit.
    function ROLE_EMERGENCY() external view returns (uint8);

    /// @notice The longest proposal lifetime a deployment may choose (365 days), so that a
    /// forgotten proposal cannot be executed years later by a changed consortium.
    /// @return The limit, in seconds.
    function MAX_PROPOSAL_LIFETIME() external view returns (uint64);

    /// @notice How long a proposal stays open, in seconds (fixed at deployment).
    /// @return The lifetime.
    function proposalLifetime() external view returns (uint64);

    /// @notice The record of `account`; all zero (status None) if it was never admitted.
    /// @dev Never reverts.
    /// @param account The institution.
    /// @return The record (a removed member's last record, with status Removed).
    function institution(address account) external view returns (Institution memory);

    /// @notice True while `account` is admitted and neither suspended nor removed.
    /// @dev Never reverts.
    /// @param account The institution.
    /// @return Whether it may act.
    function isActive(address account) external view returns (bool);

    /// @notice True while `account` is active and has every bit of `role`.
    /// @dev Never reverts; an empty `role` is false, so a caller cannot ask for "no role".
    /// @param account The institution.
    /// @param role A non-zero role mask ({Roles}).
    /// @return Whether it may act in that role.
    function hasRole(address account, uint8 role) external view returns (bool);

    /// @notice Status, roles and admission epoch of `account` in one call (what the other
    /// registries need to authorise it).
    /// @dev Never reverts.
    /// @param account The institution.
    /// @return status An {InstitutionStatus} value.
    /// @return roles Its role bitmask.
    /// @return epoch How many times it was admitted (0: never).
    function membership(address account) external view returns (uint8 status, uint8 roles, uint32 epoch);

    /// @notice The HTTPS endpoint of `account`'s CareLedger node, as it set it (empty if none).
    /// @dev Never reverts.
    /// @param account The institution.
    /// @return The URL.
    function endpointOf(address account) external view returns (string memory);

    /// @notice Where `account` stands.
    /// @dev Never reverts.
    /// @param account The account.
    /// @return An {InstitutionStatus} value: 0 None (never admitted), 1 Active, 2 Suspended,
    /// 3 Removed.
    function statusOf(address account) external view returns (uint8);

    /// @notice The encryption public key `account` registered last (whatever its status now).
    /// @dev Never reverts.
    /// @param account The institution.
    /// @return Its X25519 public key, zero if it was never admitted.
    function encryptionKeyOf(address account) external view returns (bytes32);

    /// @notice The number of live approvals a proposal needs.
    /// @dev Never reverts.
    /// @return The threshold (1 .. memberCount()).
    function threshold() external view returns (uint32);

    /// @notice The number of active members.
    /// @dev Never reverts.
    /// @return The count.
    function memberCount() external view returns (uint32);

    /// @notice Proposal `proposalId`.
    /// @dev Requirements:
    ///
    /// - the proposal exists ({ProposalNotFound}).
    /// @param proposalId The proposal.
    /// @return The proposal as stored.
    function proposal(uint256 proposalId) external view returns (Proposal memory);

    /// @notice The number of proposals ever made (the next proposal's id).
    /// @dev Never reverts.
    /// @return The count.
    function proposalCount() external view returns (uint256);

    /// @notice True when `member` approved proposal `proposalId` (whatever its status now).
    /// @dev Never reverts; false for an unknown proposal.
    /// @param proposalId The proposal.
    /// @param member The member.
    /// @return Whether it approved.
    function hasApproved(uint256 proposalId, address member) external view returns (bool);
}
