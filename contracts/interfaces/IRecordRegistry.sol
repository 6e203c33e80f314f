// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IInstitutionRegistry} from "./IInstitutionRegistry.sol";

/// @title IRecordRegistry — anchors, never data
/// @notice Providers anchor the commitment (keccak256 of the encrypted blob) of each record
/// version, write-once, or the Merkle root of a batch. A record id is the issuer's 20-byte address
/// followed by 12 bytes of the issuer's choice (random in the SDK), so ids never collide across
/// institutions and the issuer of a version needs no storage. Amendments are new record ids
/// pointing to the version they supersede; only the issuer of a version may supersede it. The
/// patient and issuer of each version are in the immutable `RecordAnchored` event.
/// @dev Categories are the issuer's statement: they are stored in events (and batch headers) and
/// never checked by any contract. Shared errors raised here: {ZeroAddress},
/// {NotActiveInstitution}, {MissingRole} (contracts/interfaces/CareLedgerErrors.sol).
interface IRecordRegistry {
    // ---------------------------------------------------------------- events

    /// @notice A record version was anchored; this event is the only on-chain place of its
    /// patient and category.
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
    /// @param root The root (OpenZeppelin standard tree of {leafHash} leaves).
    /// @param issuer The provider that anchored it.
    /// @param count The number of records, as the issuer states it.
    /// @param category The category code of every record in the batch, as the issuer states it.
    event BatchAnchored(bytes32 indexed root, address indexed issuer, uint32 count, bytes32 category);

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

    /// @notice Thrown when a provider supersedes a version another institution anchored.
    /// @param previousVersion The version given.
    /// @param issuer The institution that anchored it.
    /// @param caller The provider that tried to supersede it.
    error NotIssuer(bytes32 previousVersion, address issuer, address caller);

    /// @notice Thrown when a batch root is anchored a second time.
    /// @param root The root.
    error BatchAlreadyAnchored(bytes32 root);

    /// @notice Thrown when a batch is anchored with a count of zero.
    error EmptyBatch();

    /// @notice Thrown when a record's commitment is zero (zero reads as "not anchored").
    error ZeroCommitment();

    /// @notice Thrown when a batch's Merkle root is zero (zero reads as "not anchored").
    error ZeroRoot();

    /// @notice Thrown when a record id does not start with the anchoring provider's address.
    /// @param recordId The record id.
    /// @param caller The provider.
    error RecordIdNotOwned(bytes32 recordId, address caller);

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
    /// - `recordId` starts with the caller's address ({RecordIdNotOwned});
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

    /// @notice Anchor the Merkle root of `count` records of one category, write-once per root.
    /// The records' ids are not registered one by one: {verifyBatchRecord} proves membership, and
    /// {isAnchored} stays false for them.
    /// @dev Requirements:
    ///
    /// - the caller is an active institution ({NotActiveInstitution}) with ROLE_PROVIDER
    ///   ({MissingRole});
    /// - `root` is not zero ({ZeroRoot});
    /// - `count` is not zero ({EmptyBatch});
    /// - `root` is not anchored yet ({BatchAlreadyAnchored}).
    ///
    /// Emits {BatchAnchored}.
    /// @param root The Merkle root of the records' {leafHash} leaves.
    /// @param count The number of records.
    /// @param category The category code of every record in the batch.
    function anchorBatch(bytes32 root, uint32 count, bytes32 category) external;

    // ---------------------------------------------------------------- views

    /// @notice The provider role bit (1) that {anchor} and {anchorBatch} require.
    /// @return The bit.
    function ROLE_PROVIDER() external view returns (uint8);

    /// @notice The InstitutionRegistry asked about the caller's membership and role.
    /// @return The registry.
    function institutions() external view returns (IInstitutionRegistry);

    /// @notice The commitment of `recordId`.
    /// @dev Never reverts.
    /// @param recordId The record id.
    /// @return The commitment, zero when not anchored individually.
    function commitmentOf(bytes32 recordId) external view returns (bytes32);

    /// @notice True once `recordId` is anchored individually (records anchored in a batch are not).
    /// @dev Never reverts.
    /// @param recordId The record id.
    /// @return Whether it is anchored.
    function isAnchored(bytes32 recordId) external view returns (bool);

    /// @notice The institution that anchored `recordId`: the first 20 bytes of the id.
    /// @dev Never reverts.
    /// @param recordId The record id.
    /// @return The issuer, zero when not anchored individually.
    function issuerOf(bytes32 recordId) external view returns (address);

    /// @notice The version that superseded `recordId`.
    /// @dev Never reverts.
    /// @param recordId The record id.
    /// @return The next version, zero while `recordId` is the latest (or not anchored).
    function nextVersionOf(bytes32 recordId) external view returns (bytes32);

    /// @notice The header of the batch `root`; all zero when it is not anchored.
    /// @dev Never reverts.
    /// @param root The batch root.
    /// @return issuer The provider that anchored it.
    /// @return count The number of records it states.
    /// @return anchoredAt Block time of the anchoring.
    /// @return category The category code of its records.
    function batch(bytes32 root)
        external
        view
        returns (address issuer, uint32 count, uint64 anchoredAt, bytes32 category);

    /// @notice True when the leaf `(patient, recordId, commitment, category)` is in the anchored
    /// batch `root` (OpenZeppelin standard-tree leaf, sorted-pair proof) and `recordId` lies in
    /// the batch issuer's namespace, so a batch vouches only for its issuer's own records.
    /// @dev Never reverts; false for a root that is not anchored.
    /// @param root The batch root.
    /// @param proof The sibling hashes from the leaf up to the root.
    /// @param patient The patient.
    /// @param recordId The record id.
    /// @param commitment keccak256 of the encrypted blob.
    /// @param category The record's category code.
    /// @return Whether the record is in the batch.
    function verifyBatchRecord(
        bytes32 root,
        bytes32[] calldata proof,
        address patient,
        bytes32 recordId,
        bytes32 commitment,
        bytes32 category
    ) external view returns (bool);

    /// @notice A batch leaf: keccak256(bytes.concat(keccak256(abi.encode(patient, recordId,
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
