// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IInstitutionRegistry} from "./IInstitutionRegistry.sol";

/// @title IRecordRegistry — anchors, never data
/// @notice Providers anchor each record version write-once, or a batch of records by its Merkle
/// root, and the registry binds every record to its patient, category and commitment so that the
/// ConsentRegistry can refuse an access entry for a wrong patient, a wrong category or an id that
/// was never anchored ({checkBinding}).
///
/// A record id is the issuer's 20-byte address followed by a 12-byte suffix whose top bit says how
/// it is anchored:
///
/// - single record: top bit 0, then 95 bits of the issuer's choice (random in the SDK);
/// - batch member: top bit 1, a 63-bit batch number, then a 32-bit leaf index. Its batch is
///   `bytes28(recordId)` (issuer, flag, batch number), anchored once with one root.
///
/// So ids never collide across institutions, a single id is never a batch member, a batch member
/// belongs to exactly one batch, and the issuer of every record is known without storage. Only
/// the issuer of a version may supersede it.
/// @dev Every record is bound to the leaf `keccak256(bytes.concat(keccak256(abi.encode(patient,
/// recordId, commitment, category))))` (OpenZeppelin's standard double-hashed leaf): a single
/// record stores it ({bindingOf}); a batch member proves it is in its batch's tree
/// (OpenZeppelin `MerkleProof`). The chain cannot stop an issuer from placing one id twice in its
/// own tree (that would cost a slot per member); only the issuer could, to its own records.
/// Shared errors raised here: {ZeroAddress}, {NotActiveInstitution}, {MissingRole}
/// (contracts/interfaces/CareLedgerErrors.sol).
interface IRecordRegistry {
    /// @notice A claim that a record is anchored for a patient, category and commitment (its
    /// batch's Merkle proof, for a batch member, travels in a {BatchProof}).
    /// @param patient The record's patient.
    /// @param recordId The record.
    /// @param commitment keccak256 of its encrypted blob.
    /// @param category Its category code.
    struct Binding {
        address patient;
        bytes32 recordId;
        bytes32 commitment;
        bytes32 category;
    }

    /// @notice An OpenZeppelin Merkle multiproof (`MerkleProof.multiProofVerify`) of some claims
    /// of one call to {checkBindings}, all members of one batch: one proof for many records
    /// instead of one path each, the upper nodes shared.
    /// @param order The claims proven, as 2-byte big-endian indices into the call's claims, in
    /// the multiproof's leaf order (the tree's leaves from right to left, deepest layer first).
    /// @param proof The sibling nodes the leaves do not give.
    /// @param flags Per hash step: both operands from the leaves and hashes (true), or the
    /// second from `proof` (false).
    struct BatchProof {
        bytes order;
        bytes32[] proof;
        bool[] flags;
    }

    // ---------------------------------------------------------------- events

    /// @notice A record version was anchored: its patient, category and commitment, which
    /// {bindingOf} binds.
    /// @param recordId The version's record id.
    /// @param patient The patient the record is about.
    /// @param issuer The provider that anchored it (the first 20 bytes of `recordId`).
    /// @param commitment keccak256 of the encrypted blob.
    /// @param category The record's category code, as the issuer states it.
    /// @param previousVersion The version it supersedes, zero for a first version.
    event RecordAnchored(
        bytes32 indexed recordId,
        address indexed patient,
        address indexed issuer,
        bytes32 commitment,
        bytes32 category,
        bytes32 previousVersion
    );

    /// @notice A batch of records was anchored by its Merkle root.
    /// @param batchId The batch: the issuer's address, the batch flag and a batch number.
    /// @param issuer The provider that anchored it (the first 20 bytes of `batchId`).
    /// @param root The root (OpenZeppelin standard tree of {leafHash} leaves).
    /// @param count The number of records; member leaf indexes are below it.
    /// @param category The category code of the batch's records (each leaf binds its own).
    event BatchAnchored(
        bytes28 indexed batchId, address indexed issuer, bytes32 root, uint32 count, bytes32 category
    );

    /// @notice The issuer shredded every copy of a record's data key it held (crypto-shredding):
    /// the anchor still proves what existed, and nobody can decrypt it through the issuer any more.
    /// @param recordId The record id.
    /// @param issuer The issuer (the caller).
    event RecordErased(bytes32 indexed recordId, address indexed issuer);

    // ---------------------------------------------------------------- errors

    /// @notice Thrown when `recordId` is anchored a second time (anchors are write-once: publish
    /// an amendment under a new record id).
    /// @param recordId The record id.
    error AlreadyAnchored(bytes32 recordId);

    /// @notice Thrown when an amendment's `previousVersion` was never anchored individually.
    /// @param previousVersion The version given.
    error PreviousVersionNotFound(bytes32 previousVersion);

    /// @notice Thrown when a version that was already superseded is superseded again (version
    /// chains never fork: amend the latest version).
    /// @param previousVersion The version given.
    /// @param nextVersion The version that already superseded it.
    error VersionAlreadySuperseded(bytes32 previousVersion, bytes32 nextVersion);

    /// @notice Thrown when a provider acts on a record another institution issued: supersedes it,
    /// or records its erasure.
    /// @param recordId The record (the version superseded, or the record erased).
    /// @param issuer The institution that anchored it.
    /// @param caller The provider that tried.
    error NotIssuer(bytes32 recordId, address issuer, address caller);

    /// @notice Thrown when a batch id is anchored a second time (each batch holds one root).
    /// @param batchId The batch id.
    error BatchAlreadyAnchored(bytes28 batchId);

    /// @notice Thrown when a batch is anchored with a count of zero.
    error EmptyBatch();

    /// @notice Thrown when a record's commitment is zero (zero reads as "not anchored").
    error ZeroCommitment();

    /// @notice Thrown when a batch's Merkle root is zero (zero reads as "not anchored").
    error ZeroRoot();

    /// @notice Thrown when a record id does not start with the anchoring provider's address, or
    /// is a batch-member id given to {anchor}.
    /// @param recordId The record id.
    /// @param caller The provider.
    error RecordIdNotOwned(bytes32 recordId, address caller);

    /// @notice Thrown when a batch id does not start with the anchoring provider's address or
    /// lacks the batch flag.
    /// @param batchId The batch id.
    /// @param caller The provider.
    error BatchIdNotOwned(bytes28 batchId, address caller);

    /// @notice Thrown when a record id was never anchored: no single anchor, or (for a batch
    /// member) no batch, or a leaf index not below the batch's count.
    /// @param recordId The record id.
    error RecordNotAnchored(bytes32 recordId);

    /// @notice Thrown when a record is anchored, but not for this patient, category and
    /// commitment (or the Merkle proof does not reach its batch's root).
    /// @param recordId The record id.
    error RecordBindingMismatch(bytes32 recordId);

    /// @notice Thrown by {checkBindings} when a claim of a batch member is in no {BatchProof}.
    /// @param recordId The record id.
    error MissingBatchProof(bytes32 recordId);

    /// @notice Thrown by {checkBindings} when a {BatchProof} is malformed: no leaves, an odd
    /// `order`, an index out of range or already proven, a claim that is not a member of the
    /// first leaf's batch.
    /// @param proofIndex The offending proof's position.
    error BadBatchProof(uint256 proofIndex);

    // ---------------------------------------------------------------- anchoring

    /// @notice Anchor one record version. `previousVersion` is zero for a first version, else the
    /// version this one supersedes.
    /// @dev Nothing ties an amendment's `patient` or `category` to those of the version it
    /// supersedes: both are the issuer's statement, kept in the event.
    ///
    /// Requirements:
    ///
    /// - the caller is an active institution ({NotActiveInstitution}) with ROLE_PROVIDER
    ///   ({MissingRole});
    /// - `patient` is not zero ({ZeroAddress});
    /// - `recordId` starts with the caller's address and is a single-record id (top bit of its
    ///   suffix 0) ({RecordIdNotOwned});
    /// - `commitment` is not zero ({ZeroCommitment});
    /// - `recordId` is not anchored yet ({AlreadyAnchored});
    /// - a non-zero `previousVersion` is anchored ({PreviousVersionNotFound}), was issued by the
    ///   caller ({NotIssuer}) and is not superseded yet ({VersionAlreadySuperseded}).
    ///
    /// Emits {RecordAnchored}.
    /// @param patient The patient the record is about.
    /// @param recordId The new version's id: the caller's address, then 12 bytes of its choice.
    /// @param commitment keccak256 of the encrypted blob.
    /// @param category The record's category code.
    /// @param previousVersion The version superseded, or zero.
    function anchor(address patient, bytes32 recordId, bytes32 commitment, bytes32 category, bytes32 previousVersion)
        external;

    /// @notice Anchor the Merkle root of `count` records, write-once per batch id. Member ids
    /// are `batchId ‖ uint32 leafIndex` with `leafIndex < count`.
    /// @dev Requirements:
    ///
    /// - the caller is an active institution ({NotActiveInstitution}) with ROLE_PROVIDER
    ///   ({MissingRole});
    /// - `batchId` starts with the caller's address and carries the batch flag ({BatchIdNotOwned});
    /// - `root` is not zero ({ZeroRoot});
    /// - `count` is not zero ({EmptyBatch});
    /// - `batchId` is not anchored yet ({BatchAlreadyAnchored}).
    ///
    /// Emits {BatchAnchored}.
    /// @param batchId The batch: caller's address, flag bit, 63-bit batch number.
    /// @param root The Merkle root of the records' {leafHash} leaves.
    /// @param count The number of records.
    /// @param category The category code of the batch's records.
    function anchorBatch(bytes28 batchId, bytes32 root, uint32 count, bytes32 category) external;

    /// @notice Record on chain that the issuer shredded its copies of a record's data key.
    /// @dev Requirements: the caller is an active institution ({NotActiveInstitution}) and the
    /// issuer of `recordId` ({NotIssuer}); the record is anchored ({RecordNotAnchored}).
    ///
    /// Emits {RecordErased}.
    /// @param recordId The record id.
    function recordErased(bytes32 recordId) external;

    // ---------------------------------------------------------------- views

    /// @notice The provider role bit (1) that {anchor} and {anchorBatch} require.
    /// @return The bit.
    function ROLE_PROVIDER() external view returns (uint8);

    /// @notice The InstitutionRegistry asked about the caller's membership and role.
    /// @return The registry.
    function institutions() external view returns (IInstitutionRegistry);

    /// @notice The binding leaf of a single record ({leafHash} of its patient, id, commitment
    /// and category).
    /// @dev Never reverts.
    /// @param recordId The record id.
    /// @return The leaf, zero when `recordId` is not anchored individually.
    function bindingOf(bytes32 recordId) external view returns (bytes32);

    /// @notice True once `recordId` is anchored: individually, or as a member of an anchored batch
    /// with a leaf index below its count (membership itself needs a proof: {checkBinding}).
    /// @dev Never reverts.
    /// @param recordId The record id.
    /// @return Whether it is anchored.
    function isAnchored(bytes32 recordId) external view returns (bool);

    /// @notice Check that `recordId` is anchored for exactly this patient, commitment and
    /// category; `proof` is empty for a single record and the Merkle proof for a batch member.
    /// @dev Requirements: the record is anchored ({RecordNotAnchored}) and bound to these values
    /// ({RecordBindingMismatch}). The ConsentRegistry calls it before every access entry.
    /// @param patient The patient.
    /// @param recordId The record id.
    /// @param commitment keccak256 of the encrypted blob.
    /// @param category The record's category code.
    /// @param proof The sibling hashes from the leaf up to the batch root (batch members only).
    function checkBinding(
        address patient,
        bytes32 recordId,
        bytes32 commitment,
        bytes32 category,
        bytes32[] calldata proof
    ) external view;

    /// @notice {checkBinding} for many records in one call (a study's batched access): the batch
    /// members by multiproofs, one per batch (or several), the single records by their anchors.
    /// @dev Reverts {BadBatchProof} for a malformed proof, {MissingBatchProof} for a batch member
    /// no proof covers, {RecordNotAnchored} for a record (or batch, or leaf index) never anchored,
    /// {RecordBindingMismatch} when a single record's binding differs or a multiproof does not
    /// reach its batch's root (named by its first leaf's record), OpenZeppelin's
    /// `MerkleProofInvalidMultiproof` when a multiproof's lengths do not fit together.
    /// @param claims The records and what binds each.
    /// @param proofs Multiproofs covering every batch member of `claims` exactly once.
    function checkBindings(Binding[] calldata claims, BatchProof[] calldata proofs) external view;

    /// @notice The institution that anchored `recordId`: the first 20 bytes of the id.
    /// @dev Never reverts.
    /// @param recordId The record id.
    /// @return The issuer, zero when {isAnchored} is false.
    function issuerOf(bytes32 recordId) external view returns (address);

    /// @notice The version that superseded `recordId`.
    /// @dev Never reverts.
    /// @param recordId The record id.
    /// @return The next version, zero while `recordId` is the latest (or not anchored).
    function nextVersionOf(bytes32 recordId) external view returns (bytes32);

    /// @notice The batch `batchId`; all zero when it is not anchored.
    /// @dev Never reverts.
    /// @param batchId The batch id.
    /// @return root Its Merkle root.
    /// @return count The number of records it holds.
    /// @return anchoredAt Block time of the anchoring.
    function batch(bytes28 batchId) external view returns (bytes32 root, uint32 count, uint64 anchoredAt);

    /// @notice True when the leaf `(patient, recordId, commitment, category)` is in the tree of
    /// the anchored batch that `recordId` names, with a leaf index below its count.
    /// @dev Never reverts; false for a single-record id or a batch that is not anchored.
    /// @param proof The sibling hashes from the leaf up to the root.
    /// @param patient The patient.
    /// @param recordId The record id.
    /// @param commitment keccak256 of the encrypted blob.
    /// @param category The record's category code.
    /// @return Whether the record is in its batch.
    function verifyBatchRecord(
        bytes32[] calldata proof,
        address patient,
        bytes32 recordId,
        bytes32 commitment,
        bytes32 category
    ) external view returns (bool);

    /// @notice A record's leaf (the binding of a single record, a leaf of a batch):
    /// keccak256(bytes.concat(keccak256(abi.encode(patient, recordId,
    /// commitment, category)))), hashed twice as in OpenZeppelin's standard tree so that a leaf
    /// can never be mistaken for an inner node.
    /// @param patient The patient.
    /// @param recordId The record id.
    /// @param commitment keccak256 of the encrypted blob.
    /// @param category The record's category code.
    /// @return The leaf hash.
    function leafHash(address patient, bytes32 recordId, bytes32 commitment, bytes32 category)
        external
        pure
        returns (bytes32);
}
