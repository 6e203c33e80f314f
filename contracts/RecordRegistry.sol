// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

import {MissingRole, NotActiveInstitution, ZeroAddress} from "./interfaces/CareLedgerErrors.sol";
import {Roles} from "./interfaces/CareLedgerTypes.sol";
import {IInstitutionRegistry} from "./interfaces/IInstitutionRegistry.sol";
import {IRecordRegistry} from "./interfaces/IRecordRegistry.sol";

/// @title RecordRegistry — write-once, bound anchors of encrypted records
/// @notice See {IRecordRegistry}. Storage keeps only what contracts read: per single record its
/// binding leaf and successor, per batch its root, count and time. The issuer of every record is
/// the first 20 bytes of its id, and a batch member's batch is the first 28.
contract RecordRegistry is IRecordRegistry {
    /// @inheritdoc IRecordRegistry
    uint8 public constant ROLE_PROVIDER = Roles.PROVIDER;

    /// @dev Bit 95 of the 12-byte suffix (bit 95 of the id as a uint256): set for batch members.
    uint256 private constant BATCH_FLAG = 1 << 95;

    /// @dev Root in one slot; count and time in the next (two slots keep anchorBatch at ~290 gas
    /// per record for 256 records).
    struct BatchHeader {
        bytes32 root;
        uint32 count;
        uint64 anchoredAt;
    }

    /// @inheritdoc IRecordRegistry
    IInstitutionRegistry public immutable institutions;

    mapping(bytes32 recordId => bytes32 leaf) private _bindings;
    mapping(bytes32 recordId => bytes32 nextVersion) private _next;
    mapping(bytes28 batchId => BatchHeader) private _batches;

    /// @param institutions_ The consortium's InstitutionRegistry (not zero: {ZeroAddress}).
    constructor(IInstitutionRegistry institutions_) {
        if (address(institutions_) == address(0)) revert ZeroAddress();
        institutions = institutions_;
    }

    // ---------------------------------------------------------------- anchoring

    /// @inheritdoc IRecordRegistry
    function anchor(address patient, bytes32 recordId, bytes32 commitment, bytes32 category, bytes32 previousVersion)
        external
    {
        _onlyProvider();
        if (patient == address(0)) revert ZeroAddress();
        if (_issuer(recordId) != msg.sender || _isBatchMember(recordId)) revert RecordIdNotOwned(recordId, msg.sender);
        if (commitment == bytes32(0)) revert ZeroCommitment();
        if (_bindings[recordId] != bytes32(0)) revert AlreadyAnchored(recordId);
        if (previousVersion != bytes32(0)) {
            if (_bindings[previousVersion] == bytes32(0)) revert PreviousVersionNotFound(previousVersion);
            address issuer = _issuer(previousVersion);
            if (issuer != msg.sender) revert NotIssuer(previousVersion, issuer, msg.sender);
            bytes32 next = _next[previousVersion];
            if (next != bytes32(0)) revert VersionAlreadySuperseded(previousVersion, next);
            _next[previousVersion] = recordId;
        }
        _bindings[recordId] = _leaf(patient, recordId, commitment, category);
        emit RecordAnchored(recordId, patient, msg.sender, commitment, category, previousVersion);
    }

    /// @inheritdoc IRecordRegistry
    function anchorBatch(bytes28 batchId, bytes32 root, uint32 count, bytes32 category) external {
        _onlyProvider();
        if (address(bytes20(batchId)) != msg.sender || uint224(batchId) & (1 << 63) == 0) {
            revert BatchIdNotOwned(batchId, msg.sender);
        }
        if (root == bytes32(0)) revert ZeroRoot();
        if (count == 0) revert EmptyBatch();
        BatchHeader storage b = _batches[batchId];
        if (b.root != bytes32(0)) revert BatchAlreadyAnchored(batchId);
        b.root = root;
        b.count = count;
        b.anchoredAt = uint64(block.timestamp);
        emit BatchAnchored(batchId, msg.sender, root, count, category);
    }

    /// @inheritdoc IRecordRegistry
    function recordErased(bytes32 recordId) external {
        if (!institutions.isActive(msg.sender)) revert NotActiveInstitution(msg.sender);
        address issuer = _issuer(recordId);
        if (issuer != msg.sender) revert NotIssuer(recordId, issuer, msg.sender);
        if (!_isAnchored(recordId)) revert RecordNotAnchored(recordId);
        emit RecordErased(recordId, msg.sender);
    }

    // ---------------------------------------------------------------- views

    /// @inheritdoc IRecordRegistry
    function checkBinding(
        address patient,
        bytes32 recordId,
        bytes32 commitment,
        bytes32 category,
        bytes32[] calldata proof
    ) external view {
        _checkBinding(patient, recordId, commitment, category, proof);
    }

    /// @inheritdoc IRecordRegistry
    function checkBindings(Binding[] calldata claims, BatchProof[] calldata proofs) external view {
        uint256 n = claims.length;
        // one bit per claim: proven by a multiproof (each at most once)
        uint256[] memory proven = new uint256[]((n + 255) >> 8);
        for (uint256 g = 0; g < proofs.length; ++g) {
            _checkBatchProof(claims, proofs[g], g, proven);
        }
        for (uint256 i = 0; i < n; ++i) {
            Binding calldata c = claims[i];
            if (_isBatchMember(c.recordId)) {
                if (proven[i >> 8] & (1 << (i & 255)) == 0) revert MissingBatchProof(c.recordId);
                continue;
            }
            bytes32 bound = _bindings[c.recordId];
            if (bound == bytes32(0)) revert RecordNotAnchored(c.recordId);
            if (bound != _leaf(c.patient, c.recordId, c.commitment, c.category)) {
                revert RecordBindingMismatch(c.recordId);
            }
        }
    }

    /// @dev One multiproof of `checkBindings`: its leaves, all members of one anchored batch
    /// below its count, each claim marked in `proven`, then OpenZeppelin's verification.
    function _checkBatchProof(Binding[] calldata claims, BatchProof calldata bp, uint256 g, uint256[] memory proven)
        private
        view
    {
        bytes calldata order = bp.order;
        uint256 m = order.length >> 1;
        if (m == 0 || order.length & 1 != 0) revert BadBatchProof(g);
        bytes32 first;
        uint256 batchAndCount; // the batch id (top 28 bytes) and its count (low 32 bits)
        {
            uint256 i0 = uint16(bytes2(order[0:2]));
            if (i0 >= claims.length) revert BadBatchProof(g);
            first = claims[i0].recordId;
            if (!_isBatchMember(first)) revert BadBatchProof(g);
            BatchHeader storage b = _batches[bytes28(first)];
            if (b.root == bytes32(0)) revert RecordNotAnchored(first);
            batchAndCount = (uint256(first) >> 32 << 32) | b.count;
        }
        bytes32[] memory leaves = new bytes32[](m);
        for (uint256 k = 0; k < m; ++k) {
            leaves[k] = _proofLeaf(claims, uint16(bytes2(order[k << 1:(k << 1) + 2])), proven, g, batchAndCount);
        }
        if (!MerkleProof.multiProofVerifyCalldata(bp.proof, bp.flags, _batches[bytes28(first)].root, leaves)) {
            revert RecordBindingMismatch(first);
        }
    }

    /// @dev The leaf of claim `idx` of a multiproof, marked in `proven` (once only): a member of
    /// the batch in `batchAndCount`'s top 28 bytes, below the count in its low 32 bits.
    function _proofLeaf(Binding[] calldata claims, uint256 idx, uint256[] memory proven, uint256 g, uint256 batchAndCount)
        private
        pure
        returns (bytes32)
    {
        if (idx >= claims.length) revert BadBatchProof(g);
        uint256 bit = 1 << (idx & 255);
        uint256 word = proven[idx >> 8];
        if (word & bit != 0) revert BadBatchProof(g);
        proven[idx >> 8] = word | bit;
        Binding calldata c = claims[idx];
        bytes32 recordId = c.recordId;
        if (!_isBatchMember(recordId) || uint256(recordId) >> 32 != batchAndCount >> 32) revert BadBatchProof(g);
        if (uint32(uint256(recordId)) >= uint32(batchAndCount)) revert RecordNotAnchored(recordId);
        return _leaf(c.patient, recordId, c.commitment, c.category);
    }

    function _checkBinding(
        address patient,
        bytes32 recordId,
        bytes32 commitment,
        bytes32 category,
        bytes32[] calldata proof
    ) private view {
        bytes32 leaf = _leaf(patient, recordId, commitment, category);
        if (!_isBatchMember(recordId)) {
            bytes32 bound = _bindings[recordId];
            if (bound == bytes32(0)) revert RecordNotAnchored(recordId);
            if (bound != leaf) revert RecordBindingMismatch(recordId);
            return;
        }
        BatchHeader storage b = _batches[bytes28(recordId)];
        bytes32 root = b.root;
        if (root == bytes32(0) || uint32(uint256(recordId)) >= b.count) revert RecordNotAnchored(recordId);
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert RecordBindingMismatch(recordId);
    }

    /// @inheritdoc IRecordRegistry
    function bindingOf(bytes32 recordId) external view returns (bytes32) {
        return _bindings[recordId];
    }

    /// @inheritdoc IRecordRegistry
    function isAnchored(bytes32 recordId) external view returns (bool) {
        return _isAnchored(recordId);
    }

    /// @inheritdoc IRecordRegistry
    function issuerOf(bytes32 recordId) external view returns (address) {
        return _isAnchored(recordId) ? _issuer(recordId) : address(0);
    }

    /// @inheritdoc IRecordRegistry
    function nextVersionOf(bytes32 recordId) external view returns (bytes32) {
        return _next[recordId];
    }

    /// @inheritdoc IRecordRegistry
    function batch(bytes28 batchId) external view returns (bytes32 root, uint32 count, uint64 anchoredAt) {
        BatchHeader storage b = _batches[batchId];
        return (b.root, b.count, b.anchoredAt);
    }

    /// @inheritdoc IRecordRegistry
    function verifyBatchRecord(
        bytes32[] calldata proof,
        address patient,
        bytes32 recordId,
        bytes32 commitment,
        bytes32 category
    ) external view returns (bool) {
        if (!_isBatchMember(recordId)) return false;
        BatchHeader storage b = _batches[bytes28(recordId)];
        if (b.root == bytes32(0) || uint32(uint256(recordId)) >= b.count) return false;
        return MerkleProof.verifyCalldata(proof, b.root, _leaf(patient, recordId, commitment, category));
    }

    /// @inheritdoc IRecordRegistry
    function leafHash(address patient, bytes32 recordId, bytes32 commitment, bytes32 category)
        external
        pure
        returns (bytes32)
    {
        return _leaf(patient, recordId, commitment, category);
    }

    // ---------------------------------------------------------------- internals

    function _leaf(address patient, bytes32 recordId, bytes32 commitment, bytes32 category)
        private
        pure
        returns (bytes32)
    {
        return keccak256(bytes.concat(keccak256(abi.encode(patient, recordId, commitment, category))));
    }

    function _isAnchored(bytes32 recordId) private view returns (bool) {
        if (!_isBatchMember(recordId)) return _bindings[recordId] != bytes32(0);
        BatchHeader storage b = _batches[bytes28(recordId)];
        return b.root != bytes32(0) && uint32(uint256(recordId)) < b.count;
    }

    /// @dev The issuer namespace of a record id: its first 20 bytes.
    function _issuer(bytes32 recordId) private pure returns (address) {
        return address(bytes20(recordId));
    }

    /// @dev Batch members carry the flag in the top bit of their 12-byte suffix.
    function _isBatchMember(bytes32 recordId) private pure returns (bool) {
        return uint256(recordId) & BATCH_FLAG != 0;
    }

    /// @dev hasRole answers the common case in one call; only a refusal pays a second call, to
    /// name the reason (not a member at all, or a member without the role).
    function _onlyProvider() private view {
        if (!institutions.hasRole(msg.sender, Roles.PROVIDER)) {
            if (!institutions.isActive(msg.sender)) revert NotActiveInstitution(msg.sender);
            revert MissingRole(msg.sender, Roles.PROVIDER);
        }
    }
}
