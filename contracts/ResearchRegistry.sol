// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ZeroAddress} from "./interfaces/CareLedgerErrors.sol";
import {IConsentRegistry} from "./interfaces/IConsentRegistry.sol";
import {IInstitutionRegistry} from "./interfaces/IInstitutionRegistry.sol";
import {IResearchRegistry} from "./interfaces/IResearchRegistry.sol";

/// @title ResearchRegistry — anchored research datasets and non-transferable points
/// @notice See {IResearchRegistry}.
contract ResearchRegistry is IResearchRegistry {
    /// @inheritdoc IResearchRegistry
    uint256 public constant POINTS_PER_DATASET = 1;

    /// @inheritdoc IResearchRegistry
    IConsentRegistry public immutable consent;
    IInstitutionRegistry private immutable _institutions;

    mapping(uint256 datasetId => Dataset) private _datasets;
    mapping(address patient => uint256) private _points;
    uint256 private _datasetCount;

    /// @param consent_ The ConsentRegistry whose studies datasets belong to (not zero: {ZeroAddress}).
    constructor(IConsentRegistry consent_) {
        if (address(consent_) == address(0)) revert ZeroAddress();
        consent = consent_;
        _institutions = IInstitutionRegistry(consent_.institutions());
    }

    /// @inheritdoc IResearchRegistry
    function anchorDataset(uint256 studyId, bytes32 datasetHash, bytes32 manifestHash, address[] calldata contributors)
        external
        returns (uint256 datasetId)
    {
        // reverts StudyNotFound for an unknown study
        if (consent.study(studyId).institute != msg.sender || !_institutions.isActive(msg.sender)) {
            revert NotDatasetInstitute(studyId, msg.sender);
        }
        uint256 n = contributors.length;
        if (n == 0 || datasetHash == bytes32(0)) revert BadDataset(0);
        datasetId = ++_datasetCount;
        // study ids come from a counter: far below 2^64; n below 2^32 (calldata would not fit)
        _datasets[datasetId] = Dataset(uint64(studyId), uint32(n), uint64(block.timestamp), datasetHash);
        emit DatasetAnchored(datasetId, studyId, datasetHash, manifestHash, uint32(n));
        address previous = address(0);
        for (uint256 i = 0; i < n; ++i) {
            address patient = contributors[i];
            if (patient <= previous) revert BadDataset(i);
            previous = patient;
            unchecked {
                _points[patient] += POINTS_PER_DATASET; // < 2^256 datasets can ever exist
            }
            emit PointsCredited(patient);
        }
    }

    /// @inheritdoc IResearchRegistry
    function pointsOf(address patient) external view returns (uint256) {
        return _points[patient];
    }

    /// @inheritdoc IResearchRegistry
    function dataset(uint256 datasetId) external view returns (Dataset memory d) {
        d = _datasets[datasetId];
        if (d.studyId == 0) revert DatasetNotFound(datasetId);
    }

    /// @inheritdoc IResearchRegistry
    function datasetCount() external view returns (uint256) {
        return _datasetCount;
    }
}
