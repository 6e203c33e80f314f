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
        _credit(contributors);
    }

    /// @dev One point and one {PointsCredited} per contributor, each strictly above the previous
    /// (no patient credited twice), else {BadDataset}(index). In assembly: the same steps as
    /// `_points[p] += 1; emit PointsCredited(p)` with the ABI's address check, without the
    /// compiler's per-element bounds check and event memory (~170 gas per credit, which keeps a
    /// credit under 25,000 with real, 20-non-zero-byte addresses in calldata). The addition
    /// cannot overflow: fewer than 2^256 datasets can ever exist.
    function _credit(address[] calldata contributors) private {
        bytes32 topic = PointsCredited.selector;
        bytes4 bad = BadDataset.selector;
        assembly ("memory-safe") {
            let slot := _points.slot
            let previous := 0
            let start := contributors.offset
            let end := add(start, shl(5, contributors.length))
            for { let at := start } lt(at, end) { at := add(at, 0x20) } {
                let patient := calldataload(at)
                if or(shr(160, patient), iszero(gt(patient, previous))) {
                    mstore(0, bad)
                    mstore(4, shr(5, sub(at, start)))
                    revert(0, 0x24)
                }
                previous := patient
                mstore(0, patient)
                mstore(0x20, slot)
                let key := keccak256(0, 0x40)
                sstore(key, add(sload(key), 1)) // POINTS_PER_DATASET
                log2(0, 0, topic, patient)
            }
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
