// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {MissingRole, NotActiveInstitution, ZeroAddress} from "./interfaces/CareLedgerErrors.sol";
import {Roles} from "./interfaces/CareLedgerTypes.sol";
import {IInstitutionRegistry} from "./interfaces/IInstitutionRegistry.sol";
import {IRecordRegistry} from "./interfaces/IRecordRegistry.sol";

/// @title RecordRegistry — write-once commitments of encrypted records
/// @notice See {IRecordRegistry}. Storage keeps only what contracts read: per version its
/// commitment and successor, per batch a header. A record id starts with the 20 bytes of its
/// issuer's address (then 12 bytes chosen by the issuer), so the issuer of every version is known
/// without storing it and only that issuer can supersede it. The patient of each version lives in
/// the immutable `RecordAnchored` event.
contract RecordRegistry is IRecordRegistry {
    /// @inheritdoc IRecordRegistry
    uint8 public constant ROLE_PROVIDER = Roles.PROVIDER;

    /// @dev Issuer, count and time share one slot (20 + 4 + 8 bytes), so a batch costs two slots.
    struct BatchHeader {
        address issuer;
        uint32 count;
        uint64 anchoredAt;
        bytes32 category;
    }

    /// @inheritdoc IRecordRegistry
    IInstitutionRegistry public immutable institutions;

    mapping(bytes32 recordId => bytes32 commitment) private _commitments;
    mapping(bytes32 recordId => bytes32 nextVersion) private _next;
    mapping(bytes32 root => BatchHeader) private _batches;

    /// @param institutions_ The consortium's InstitutionRegistry (not zero: {ZeroAddress}).
    constructor(IInstitutionRegistry institutions_) {
        if (address(institutions_) == address(0)) revert ZeroAddress();
        institutions = institutions_;
    }

    /// @inheritdoc IRecordRegistry
    function anchor(address patient, bytes32 recordId, bytes32 commitment, bytes32 category, bytes32 previousVersion)
        external
    {
        _onlyProvider();
        if (patient == address(0)) revert ZeroAddress();
        if (_issuer(recordId) != msg.sender) revert RecordIdNotOwned(recordId, msg.sender);
        if (commitment == bytes32(0)) revert ZeroCommitment();
        if (_commitments[recordId] != bytes32(0)) revert AlreadyAnchored(recordId);
        if (previousVersion != bytes32(0)) {
            if (_commitments[previousVersion] == bytes32(0)) revert PreviousVersionNotFound(previousVersion);
            address issuer = _issuer(previousVersion);
            if (issuer != msg.sender) revert NotIssuer(previousVersion, issuer, msg.sender);
            bytes32 next = _next[previousVersion];
            if (next != bytes32(0)) revert VersionAlreadySuperseded(previousVersion, next);
            _next[previousVersion] = recordId;
        }
        _commitments[recordId] = commitment;
        emit RecordAnchored(recordId, patient, msg.sender, commitment, category, previousVersion);
    }

    /// @inheritdoc IRecordRegistry
    function anchorBatch(bytes32 root, uint32 count, bytes32 category) external {
        _onlyProvider();
        if (root == bytes32(0)) revert ZeroRoot();
        if (count == 0) revert EmptyBatch();
        BatchHeader storage b = _batches[root];
        if (b.issuer != address(0)) revert BatchAlreadyAnchored(root);
        b.issuer = msg.sender;
        b.count = count;
        b.anchoredAt = uint64(block.timestamp);
        b.category = category;
        emit BatchAnchored(root, msg.sender, count, category);
    }

    /// @inheritdoc IRecordRegistry
    function commitmentOf(bytes32 recordId) external view returns (bytes32) {
        return _commitments[recordId];
    }

    /// @inheritdoc IRecordRegistry
    function isAnchored(bytes32 recordId) external view returns (bool) {
        return _commitments[recordId] != bytes32(0);
    }

    /// @inheritdoc IRecordRegistry
    function issuerOf(bytes32 recordId) external view returns (address) {
        return _commitments[recordId] == bytes32(0) ? address(0) : _issuer(recordId);
    }

    /// @inheritdoc IRecordRegistry
    function nextVersionOf(bytes32 recordId) external view returns (bytes32) {
        return _next[recordId];
    }

    /// @inheritdoc IRecordRegistry
    function batch(bytes32 root)
        external
        view
        returns (address issuer, uint32 count, uint64 anchoredAt, bytes32 category)
    {
        BatchHeader storage b = _batches[root];
        return (b.issuer, b.count, b.anchoredAt, b.category);
    }

    /// @inheritdoc IRecordRegistry
    function verifyBatchRecord(
        bytes32 root,
        bytes32[] calldata proof,
        address patient,
        bytes32 recordId,
        bytes32 commitment,
        bytes32 category
    ) external view returns (bool) {
        address issuer = _batches[root].issuer;
        // a batch vouches only for record ids in its issuer's namespace
        if (issuer == address(0) || _issuer(recordId) != issuer) return false;
        return MerkleProof.verifyCalldata(proof, root, _leaf(patient, recordId, commitment, category));
    }

    /// @inheritdoc IRecordRegistry
    function leafHash(address patient, bytes32 recordId, bytes32 commitment, bytes32 category)
        external
        pure
        returns (bytes32)
    {
        return _leaf(patient, recordId, commitment, category);
    }

    function _leaf(address patient, bytes32 recordId, bytes32 commitment, bytes32 category)
        private
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(patient, recordId, commitment, category))));
    }

    /// @dev The issuer namespace of a record id: its first 20 bytes.
    function _issuer(bytes32 recordId) private pure returns (address) {
        return address(bytes20(recordId));
    }

    /// @dev hasRole answers the common case in one call; only a refusal pays a second call, to
    /// name the reason (not an active institution, or an active one without the role).
    function _onlyProvider() private view {
        if (!institutions.hasRole(msg.sender, Roles.PROVIDER)) {
            if (!institutions.isActive(msg.sender)) revert NotActiveInstitution(msg.sender);
            revert MissingRole(msg.sender, Roles.PROVIDER);
        }
    }
}
