// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @title IRecordRegistry — anchors, never data
/// @notice Providers anchor the commitment (keccak256 of the encrypted blob) of each record
/// version, write-once, or the Merkle root of a batch. A record id is the issuer's 20-byte address
/// followed by 12 bytes of the issuer's choice (random in the SDK), so ids never collide across
/// institutions and the issuer of a version needs no storage. Amendments are new record ids
/// pointing to the version they supersede; only the issuer of a version may supersede it. The
/// patient and issuer of each version are in the immutable `RecordAnchored` event.
interface IRecordRegistry {
    event RecordAnchored(
        bytes32 indexed recordId,
        address indexed patient,
        address indexed issuer,
        bytes32 commitment,
        bytes32 category,
        bytes32 previousVersion
    );
    event BatchAnchored(bytes32 indexed root, address indexed issuer, uint32 count, bytes32 category);

    error AlreadyAnchored(bytes32 recordId);
    error PreviousVersionNotFound(bytes32 previousVersion);
    error VersionAlreadySuperseded(bytes32 previousVersion, bytes32 nextVersion);
    /// @notice Only the institution that anchored a version may supersede it.
    error NotIssuer(bytes32 previousVersion, address issuer, address caller);
    error BatchAlreadyAnchored(bytes32 root);
    error EmptyBatch();
    error ZeroCommitment();
    /// @notice A record id must start with the anchoring institution's address.
    error RecordIdNotOwned(bytes32 recordId, address caller);
    error ZeroAddress();
    error NotActiveInstitution(address account);
    error MissingRole(address account, uint8 role);

    /// @notice Anchor one record version (active PROVIDER). `recordId` starts with the caller's
    /// address. `previousVersion` is zero for a first version, else an anchored, not yet
    /// superseded version issued by the caller.
    function anchor(address patient, bytes32 recordId, bytes32 commitment, bytes32 category, bytes32 previousVersion)
        external;
    /// @notice Anchor the Merkle root of `count` records (active PROVIDER), write-once per root.
    function anchorBatch(bytes32 root, uint32 count, bytes32 category) external;

    /// @notice The commitment of `recordId`, zero when not anchored.
    function commitmentOf(bytes32 recordId) external view returns (bytes32);
    function isAnchored(bytes32 recordId) external view returns (bool);
    /// @notice The institution that anchored `recordId` (zero when not anchored).
    function issuerOf(bytes32 recordId) external view returns (address);
    /// @notice The version that superseded `recordId`, zero while it is the latest.
    function nextVersionOf(bytes32 recordId) external view returns (bytes32);
    function batch(bytes32 root)
        external
        view
        returns (address issuer, uint32 count, uint64 anchoredAt, bytes32 category);
    /// @notice True when the leaf `(patient, recordId, commitment, category)` is in the anchored
    /// batch `root` (OpenZeppelin standard-tree leaf, sorted-pair proof) and `recordId` lies in
    /// the batch issuer's namespace.
    function verifyBatchRecord(
        bytes32 root,
        bytes32[] calldata proof,
        address patient,
        bytes32 recordId,
        bytes32 commitment,
        bytes32 category
    ) external view returns (bool);
    /// @notice keccak256(bytes.concat(keccak256(abi.encode(patient, recordId, commitment, category)))).
    function leafHash(address patient, bytes32 recordId, bytes32 commitment, bytes32 category)
        external
        pure
        returns (bytes32);
}
