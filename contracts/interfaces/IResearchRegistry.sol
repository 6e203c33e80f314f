// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.20;

import {IConsentRegistry} from "./IConsentRegistry.sol";

/// @title IResearchRegistry — anchored research datasets and the patients' points
/// @notice A study's institute (see {IConsentRegistry-registerStudy}) anchors the hash of each
/// de-identified dataset it built, with the list of patients whose data entered it; each of them
/// is credited points. Points are non-transferable: there is no transfer, no approval and no way
/// to decrease them; who funds and redeems them is outside these contracts. Nothing here reveals
/// health data: addresses, ids and hashes only.
/// @dev Whether a credited patient really contributed is not checked here (it would cost a cold
/// read per patient): every credit is public and auditable against the study's access entries
/// ({IConsentRegistry-AccessRecorded} by the institute, purpose HRESCH) and the dataset's manifest.
interface IResearchRegistry {
    /// @notice An anchored dataset (two storage slots; its manifest hash is in {DatasetAnchored}).
    /// @param studyId The study it was built for.
    /// @param contributors How many patients were credited.
    /// @param anchoredAt Block time of anchoring.
    /// @param datasetHash A hash of the dataset's files (the manifest says how it is computed).
    struct Dataset {
        uint64 studyId;
        uint32 contributors;
        uint64 anchoredAt;
        bytes32 datasetHash;
    }

    /// @notice Dataset `datasetId` of study `studyId` was anchored.
    /// @param datasetId The dataset's id (1, 2, ...).
    /// @param studyId The study.
    /// @param datasetHash A hash of the dataset.
    /// @param manifestHash A hash of its manifest.
    /// @param contributors How many patients were credited.
    event DatasetAnchored(
        uint256 indexed datasetId, uint256 indexed studyId, bytes32 datasetHash, bytes32 manifestHash, uint32 contributors
    );

    /// @notice `patient` earned POINTS_PER_DATASET points for contributing to the dataset of the
    /// {DatasetAnchored} event of the same transaction (one event per credit, filterable by
    /// patient; the dataset id is left out to keep a credit under 25,000 gas).
    /// @param patient The patient.
    event PointsCredited(address indexed patient);

    /// @notice Thrown when the caller is not the study's institute, or not active.
    /// @param studyId The study.
    /// @param account The caller.
    error NotDatasetInstitute(uint256 studyId, address account);

    /// @notice Thrown when a dataset has no contributors, a zero hash, or contributors not in
    /// strictly increasing order (no patient credited twice for one dataset).
    /// @param index The offending position (0 for an empty list or a zero hash).
    error BadDataset(uint256 index);

    /// @notice Thrown when no dataset has id `datasetId`.
    /// @param datasetId The id asked for.
    error DatasetNotFound(uint256 datasetId);

    /// @notice Points each contributor earns per dataset.
    /// @return The points.
    function POINTS_PER_DATASET() external view returns (uint256);

    /// @notice The ConsentRegistry whose studies this registry serves.
    /// @return The registry.
    function consent() external view returns (IConsentRegistry);

    /// @notice The study's institute anchors a dataset and credits its contributors.
    /// @dev Requirements: the study exists (`StudyNotFound`, from the ConsentRegistry); the caller
    /// registered it and is active ({NotDatasetInstitute}); `datasetHash` is not zero and
    /// `contributors` is not empty and strictly increasing ({BadDataset}).
    ///
    /// Emits {DatasetAnchored} and one {PointsCredited} per contributor.
    /// @param studyId The study.
    /// @param datasetHash A hash of the dataset.
    /// @param manifestHash A hash of its manifest.
    /// @param contributors The patients whose data entered it, ascending.
    /// @return datasetId The new dataset's id.
    function anchorDataset(uint256 studyId, bytes32 datasetHash, bytes32 manifestHash, address[] calldata contributors)
        external
        returns (uint256 datasetId);

    /// @notice A patient's points.
    /// @param patient The patient.
    /// @return The points.
    function pointsOf(address patient) external view returns (uint256);

    /// @notice An anchored dataset.
    /// @dev Reverts {DatasetNotFound} for an unknown id.
    /// @param datasetId The dataset.
    /// @return The dataset.
    function dataset(uint256 datasetId) external view returns (Dataset memory);

    /// @notice How many datasets were anchored (ids 1..datasetCount()).
    /// @return The count.
    function datasetCount() external view returns (uint256);
}
