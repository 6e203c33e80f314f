// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {InvalidEncryptionKey, NotActiveInstitution, NotMember, ZeroAddress} from "./interfaces/CareLedgerErrors.sol";
import {InstitutionStatus, Roles} from "./interfaces/CareLedgerTypes.sol";
import {IInstitutionRegistry} from "./interfaces/IInstitutionRegistry.sol";

/// @title InstitutionRegistry — M-of-N governed consortium membership
/// @notice See {IInstitutionRegistry}. A proposal executes when the number of its approvers who
/// are active *now* reaches the threshold: an approval cast by a member who is later suspended or
/// removed stops counting. Counting loops over the proposal's approvers only, which is bounded by
/// the consortium's size (never by grants, records or patients).
contract InstitutionRegistry is IInstitutionRegistry {
    /// @inheritdoc IInstitutionRegistry
    uint8 public constant ROLE_PROVIDER = Roles.PROVIDER;
    /// @inheritdoc IInstitutionRegistry
    uint8 public constant ROLE_RESEARCHER = Roles.RESEARCHER;
    /// @inheritdoc IInstitutionRegistry
    uint8 public constant ROLE_EMERGENCY = Roles.EMERGENCY;

    // The {InstitutionStatus} values as stored (IInstitutionRegistry says why not the enum type).
    uint8 private constant STATUS_NONE = uint8(InstitutionStatus.None);
    uint8 private constant STATUS_ACTIVE = uint8(InstitutionStatus.Active);
    uint8 private constant STATUS_SUSPENDED = uint8(InstitutionStatus.Suspended);
    uint8 private constant STATUS_REMOVED = uint8(InstitutionStatus.Removed);

    /// @inheritdoc IInstitutionRegistry
    uint64 public constant MAX_PROPOSAL_LIFETIME = 365 days;
    /// @inheritdoc IInstitutionRegistry
    uint64 public immutable proposalLifetime;

    /// @dev Longest node URL accepted by {setEndpoint}.
    uint256 private constant MAX_ENDPOINT_LENGTH = 256;

    mapping(address account => Institution) private _institutions;
    mapping(address account => string url) private _endpoints;
    Proposal[] private _proposals;
    mapping(uint256 proposalId => mapping(address member => bool)) private _approved;
    mapping(uint256 proposalId => address[]) private _approvers;
    uint32 private _threshold;
    uint32 private _members;

    /// @notice Deploy with a genesis consortium, all active at once (no vote is possible before
    /// there are members).
    /// @dev Requirements:
    ///
    /// - the four arrays are non-empty ({EmptyGenesis}) and of one length ({GenesisLengthMismatch});
    /// - 1 <= `proposalLifetime_` <= MAX_PROPOSAL_LIFETIME ({InvalidLifetime});
    /// - every member is non-zero ({ZeroAddress}) and listed once ({AlreadyMember}), with valid
    ///   roles ({InvalidRoles}) and a non-zero key ({InvalidEncryptionKey});
    /// - 1 <= `threshold_` <= the number of members ({InvalidThreshold}).
    ///
    /// Emits {InstitutionAdmitted} per member, then {ThresholdChanged}.
    /// @param genesis The founding members.
    /// @param roles Their role bitmasks.
    /// @param encryptionKeys Their X25519 public keys.
    /// @param metadataHashes Their metadata hashes.
    /// @param threshold_ The number of live approvals a proposal needs.
    /// @param proposalLifetime_ How long a proposal stays open, in seconds.
    constructor(
        address[] memory genesis,
        uint8[] memory roles,
        bytes32[] memory encryptionKeys,
        bytes32[] memory metadataHashes,
        uint32 threshold_,
        uint64 proposalLifetime_
    ) {
        uint256 n = genesis.length;
        if (n == 0) revert EmptyGenesis();
        if (roles.length != n || encryptionKeys.length != n || metadataHashes.length != n) {
            revert GenesisLengthMismatch();
        }
        if (proposalLifetime_ == 0 || proposalLifetime_ > MAX_PROPOSAL_LIFETIME) revert InvalidLifetime();
        proposalLifetime = proposalLifetime_;
        for (uint256 i = 0; i < n; ++i) {
            address account = genesis[i];
            if (account == address(0)) revert ZeroAddress();
            if (_institutions[account].status != STATUS_NONE) revert AlreadyMember(account);
            _checkRoles(roles[i]);
            _checkKey(encryptionKeys[i]);
            _admit(account, roles[i], encryptionKeys[i], metadataHashes[i]);
        }
        if (threshold_ == 0 || threshold_ > _members) revert InvalidThreshold(threshold_, _members);
        _threshold = threshold_;
        emit ThresholdChanged(threshold_);
    }

    // ---------------------------------------------------------------- governance

    /// @inheritdoc IInstitutionRegistry
    function propose(
        ProposalKind kind,
        address subject,
        uint8 roles,
        bytes32 encryptionKey,
        bytes32 metadataHash,
        uint32 newThreshold
    ) external returns (uint256 proposalId) {
        _onlyActive(msg.sender);
        Proposal memory p = Proposal({
            kind: kind,
            subject: subject,
            roles: roles,
            expiresAt: uint64(block.timestamp) + proposalLifetime,
            approvals: 0,
            executed: false,
            encryptionKey: encryptionKey,
            metadataHash: metadataHash,
            newThreshold: newThreshold,
            proposer: msg.sender
        });
        _validate(p);
        proposalId = _proposals.length;
        _proposals.push(p);
        emit ProposalCreated(proposalId, kind, subject, msg.sender, p.expiresAt);
        _approve(proposalId);
    }

    /// @inheritdoc IInstitutionRegistry
    function approve(uint256 proposalId) external {
        _onlyActive(msg.sender);
        if (proposalId >= _proposals.length) revert ProposalNotFound(proposalId);
        Proposal storage p = _proposals[proposalId];
        if (p.executed) revert ProposalAlreadyExecuted(proposalId);
        if (block.timestamp >= p.expiresAt) revert ProposalExpired(proposalId, p.expiresAt);
        _approve(proposalId);
    }

    /// @inheritdoc IInstitutionRegistry
    function updateEncryptionKey(bytes32 encryptionKey, bytes32 metadataHash) external {
        _onlyActive(msg.sender);
        _checkKey(encryptionKey);
        Institution storage inst = _institutions[msg.sender];
        inst.encryptionKey = encryptionKey;
        inst.metadataHash = metadataHash;
        emit EncryptionKeyUpdated(msg.sender, encryptionKey, metadataHash);
    }

    /// @inheritdoc IInstitutionRegistry
    function setEndpoint(string calldata url) external {
        _onlyActive(msg.sender);
        bytes calldata raw = bytes(url);
        if (raw.length > MAX_ENDPOINT_LENGTH || !(_startsWith(raw, "https://") || _startsWith(raw, "http://"))) {
            revert InvalidEndpoint();
        }
        _endpoints[msg.sender] = url;
        emit EndpointUpdated(msg.sender, url);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IInstitutionRegistry
    function institution(address account) external view returns (Institution memory) {
        return _institutions[account];
    }

    /// @inheritdoc IInstitutionRegistry
    function isActive(address account) external view returns (bool) {
        return _institutions[account].status == STATUS_ACTIVE;
    }

    /// @inheritdoc IInstitutionRegistry
    function hasRole(address account, uint8 role) external view returns (bool) {
        Institution storage inst = _institutions[account];
        return role != 0 && inst.status == STATUS_ACTIVE && inst.roles & role == role;
    }

    /// @inheritdoc IInstitutionRegistry
    function membership(address account) external view returns (uint8 status, uint8 roles, uint32 epoch) {
        Institution storage inst = _institutions[account];
        return (inst.status, inst.roles, inst.epoch);
    }

    /// @inheritdoc IInstitutionRegistry
    function endpointOf(address account) external view returns (string memory) {
        return _endpoints[account];
    }

    /// @inheritdoc IInstitutionRegistry
    function statusOf(address account) external view returns (uint8) {
        return _institutions[account].status;
    }

    /// @inheritdoc IInstitutionRegistry
    function encryptionKeyOf(address account) external view returns (bytes32) {
        return _institutions[account].encryptionKey;
    }

    /// @inheritdoc IInstitutionRegistry
    function threshold() external view returns (uint32) {
        return _threshold;
    }

    /// @inheritdoc IInstitutionRegistry
    function memberCount() external view returns (uint32) {
        return _members;
    }

    /// @inheritdoc IInstitutionRegistry
    function proposal(uint256 proposalId) external view returns (Proposal memory) {
        if (proposalId >= _proposals.length) revert ProposalNotFound(proposalId);
        return _proposals[proposalId];
    }

    /// @inheritdoc IInstitutionRegistry
    function proposalCount() external view returns (uint256) {
        return _proposals.length;
    }

    /// @inheritdoc IInstitutionRegistry
    function hasApproved(uint256 proposalId, address member) external view returns (bool) {
        return _approved[proposalId][member];
    }

    // ---------------------------------------------------------------- internals

    /// @dev Recounts the live approvers on every approval rather than keeping a running total,
    /// because a running total cannot forget members suspended or removed since they approved.
    function _approve(uint256 proposalId) private {
        if (_approved[proposalId][msg.sender]) revert AlreadyApproved(proposalId, msg.sender);
        _approved[proposalId][msg.sender] = true;
        _approvers[proposalId].push(msg.sender);
        Proposal storage p = _proposals[proposalId];
        uint32 approvals = _liveApprovals(proposalId);
        p.approvals = approvals;
        emit ProposalApproved(proposalId, msg.sender, approvals);
        if (approvals >= _needed(p)) {
            p.executed = true;
            _execute(p);
            emit ProposalExecuted(proposalId);
        }
    }

    /// @dev Approvals `p` needs: the threshold, except that ejecting an active member (Suspend,
    /// Remove) never needs that member's own vote, so the others can always eject a rogue one.
    function _needed(Proposal storage p) private view returns (uint32) {
        uint32 needed = _threshold;
        ProposalKind kind = p.kind;
        if (
            (kind == ProposalKind.Suspend || kind == ProposalKind.Remove)
                && _institutions[p.subject].status == STATUS_ACTIVE && needed > _members - 1
        ) {
            needed = _members - 1;
        }
        return needed;
    }

    /// @dev Approvers of `proposalId` who are active now (bounded by the consortium's size).
    function _liveApprovals(uint256 proposalId) private view returns (uint32 live) {
        address[] storage approvers = _approvers[proposalId];
        uint256 n = approvers.length;
        for (uint256 i = 0; i < n; ++i) {
            if (_institutions[approvers[i]].status == STATUS_ACTIVE) ++live;
        }
    }

    /// @dev Checks that `p` applies to the current state; run at proposal and again at execution.
    function _validate(Proposal memory p) private view {
        if (p.kind == ProposalKind.ChangeThreshold) {
            if (p.newThreshold == 0 || p.newThreshold > _members) revert InvalidThreshold(p.newThreshold, _members);
            return;
        }
        address subject = p.subject;
        if (subject == address(0)) revert ZeroAddress();
        uint8 status = _institutions[subject].status;
        if (p.kind == ProposalKind.Admit) {
            // a removed institution may be admitted again: see _admit for what happens to its grants
            if (status == STATUS_ACTIVE || status == STATUS_SUSPENDED) revert AlreadyMember(subject);
            _checkRoles(p.roles);
            _checkKey(p.encryptionKey);
            return;
        }
        if (status == STATUS_NONE || status == STATUS_REMOVED) revert NotMember(subject);
        if (p.kind == ProposalKind.Suspend) {
            if (status != STATUS_ACTIVE) revert InvalidStatus(subject, status);
            if (_members == 1) revert LastActiveMember(subject);
        } else if (p.kind == ProposalKind.Reinstate) {
            if (status != STATUS_SUSPENDED) revert InvalidStatus(subject, status);
        } else if (p.kind == ProposalKind.Remove) {
            if (status == STATUS_ACTIVE && _members == 1) revert LastActiveMember(subject);
        } else {
            // ChangeRoles
            _checkRoles(p.roles);
        }
    }

    /// @dev Validates again first: other proposals may have executed since this one was made (its
    /// subject suspended, the threshold raised), and a change that no longer applies must not.
    function _execute(Proposal storage stored) private {
        Proposal memory p = stored;
        _validate(p);
        address subject = p.subject;
        if (p.kind == ProposalKind.Admit) {
            _admit(subject, p.roles, p.encryptionKey, p.metadataHash);
        } else if (p.kind == ProposalKind.Suspend) {
            _institutions[subject].status = STATUS_SUSPENDED;
            --_members;
            emit InstitutionSuspended(subject);
            _fitThreshold();
        } else if (p.kind == ProposalKind.Reinstate) {
            _institutions[subject].status = STATUS_ACTIVE;
            ++_members;
            emit InstitutionReinstated(subject);
        } else if (p.kind == ProposalKind.Remove) {
            bool wasActive = _institutions[subject].status == STATUS_ACTIVE;
            _institutions[subject].status = STATUS_REMOVED;
            emit InstitutionRemoved(subject);
            if (wasActive) {
                --_members;
                _fitThreshold();
            }
        } else if (p.kind == ProposalKind.ChangeRoles) {
            _institutions[subject].roles = p.roles;
            emit RolesChanged(subject, p.roles);
        } else {
            _threshold = p.newThreshold;
            emit ThresholdChanged(p.newThreshold);
        }
    }

    /// @dev Overwrites a removed member's old record whole and moves it to the next epoch, which
    /// is what makes grants made before a re-admission stop counting in ConsentRegistry.
    function _admit(address account, uint8 roles, bytes32 encryptionKey, bytes32 metadataHash) private {
        uint32 epoch = _institutions[account].epoch + 1;
        _institutions[account] = Institution({
            status: STATUS_ACTIVE,
            roles: roles,
            admittedAt: uint64(block.timestamp),
            epoch: epoch,
            encryptionKey: encryptionKey,
            metadataHash: metadataHash
        });
        ++_members;
        emit InstitutionAdmitted(account, roles, encryptionKey, metadataHash, epoch);
    }

    /// @dev After a suspension or removal: a threshold above the active members left drops to
    /// their number, so the consortium can still decide.
    function _fitThreshold() private {
        if (_threshold > _members) {
            _threshold = _members;
            emit ThresholdChanged(_members);
        }
    }

    function _startsWith(bytes calldata raw, bytes memory prefix) private pure returns (bool) {
        if (raw.length < prefix.length) return false;
        for (uint256 i = 0; i < prefix.length; ++i) {
            if (raw[i] != prefix[i]) return false;
        }
        return true;
    }

    function _onlyActive(address account) private view {
        if (_institutions[account].status != STATUS_ACTIVE) revert NotActiveInstitution(account);
    }

    function _checkRoles(uint8 roles) private pure {
        if (roles == 0 || roles & ~Roles.ALL != 0) revert InvalidRoles(roles);
    }

    function _checkKey(bytes32 key) private pure {
        if (key == bytes32(0)) revert InvalidEncryptionKey();
    }
}
