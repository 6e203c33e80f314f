// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Test} from "../utils/Test.sol";
import {BreakGlassHandler} from "./BreakGlassHandler.sol";

/// @notice v2 property 2 as an invariant over random sequences with time warps (256 runs x 500
/// calls): a window is never renewed while open, a new one waits BREAK_GLASS_COOLDOWN after the
/// previous one ended, the durations opened within one BREAK_GLASS_PERIOD never exceed
/// BREAK_GLASS_PERIOD_CAP (and within any sliding 30 days never twice the cap), each with its
/// named error and arguments; closing stops access at once; access needs an open window of the
/// institution's current admission epoch and ROLE_EMERGENCY at access time; every opening,
/// closing and access is in the patient's hash chain (property 6, recomputed from the logs).
/// One `invariant_*` function (one campaign); failures name their property.
contract BreakGlassInvariantTest is Test {
    BreakGlassHandler internal h;

    function setUp() public {
        h = new BreakGlassHandler();
        targetContract(address(h));
        bytes4[] memory sel = new bytes4[](11);
        sel[0] = h.open.selector;
        sel[1] = h.open.selector;
        sel[2] = h.open.selector;
        sel[3] = h.open.selector;
        sel[4] = h.close.selector;
        sel[5] = h.closeBySig.selector;
        sel[6] = h.access.selector;
        sel[7] = h.access.selector;
        sel[8] = h.jump.selector;
        sel[9] = h.jump.selector;
        sel[10] = h.govern.selector;
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

    /// Every break-glass property after every call of every run (see BreakGlassHandler).
    function invariant_breakGlassProperties() public view {
        _noViolations();
    }

    /// End of each run: every window and every answer equals the model; both chains agree.
    function afterInvariant() public {
        h.endOfRun();
        _noViolations();
    }
}
