// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Test} from "../utils/Test.sol";
import {RecordHandler} from "./RecordHandler.sol";

/// @notice Stateful invariants of RecordRegistry (SECURITY.md 5 and 6, v2 property 1), 256 runs x
/// 500 calls in the default profile. RecordHandler anchors, amends, batches (real Merkle trees),
/// checks bindings and records erasures as members (providers or not), suspended, removed and
/// re-admitted members, a non-member and a stranger, while the consortium suspends, reinstates,
/// removes, re-admits and re-roles members; after every call it checks the outcome (success, or
/// the exact error and arguments) and a rotating sample of anchors and batches against its model.
/// One `invariant_*` function (forge 1.7 runs one campaign per function); failures name their
/// property.
contract RecordInvariantTest is Test {
    RecordHandler internal h;

    function setUp() public {
        h = new RecordHandler();
        targetContract(address(h));
        bytes4[] memory sel = new bytes4[](10);
        sel[0] = h.anchor.selector;
        sel[1] = h.anchor.selector;
        sel[2] = h.anchor.selector;
        sel[3] = h.anchorBatch.selector;
        sel[4] = h.anchorBatch.selector;
        sel[5] = h.checkBinding.selector;
        sel[6] = h.checkBinding.selector;
        sel[7] = h.recordErased.selector;
        sel[8] = h.govern.selector;
        sel[9] = h.warp.selector;
        targetSelector(FuzzSelector(address(h), sel));
    }

    function _noViolations() internal view {
        if (h.violationTotal() == 0) return;
        uint8[18] memory order = [1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14, 15, 16, 17, 18, 19, 0];
        for (uint256 i = 0; i < order.length; ++i) {
            uint256 n = h.violationCount(order[i]);
            if (n != 0) fail(string.concat(h.firstViolation(order[i]), " (", _u(n), " in this category)"));
        }
    }

    /// 5. Anchors and batch ids are write-once, 6. only active providers anchor, v2-1. record
    /// ids and bindings: checked by the handler after every call.
    function invariant_recordProperties() public view {
        _noViolations();
    }

    /// End of each run: every id of the id space, every anchored id and every batch equals the
    /// model; each id and batch id anchored at most once.
    function afterInvariant() public {
        h.endOfRun();
        _noViolations();
    }
}
