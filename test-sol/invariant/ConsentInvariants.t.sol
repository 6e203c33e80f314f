// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Test} from "../utils/Test.sol";
import {ConsentHandler} from "./ConsentHandler.sol";

/// @notice Stateful invariants of the consent system: SECURITY.md 1, 2, 3, 4, 6, 7 and the v2
/// properties 1 (bound records), 2 (break-glass limits, with BreakGlassInvariants), 3 (purpose
/// expiries), 4 (admission epochs), 6 (the audit hash chain, recomputed from the model and from
/// the logs), 7 (every signed form), 8 (patient keys) and 9 (requests). The fuzzer drives
/// ConsentHandler through random call sequences (256 runs x 500 calls in the default profile).
/// Every handler call predicts its outcome (success, or the exact custom error and arguments)
/// from an independent model and records any disagreement or property breach at once, then
/// compares a rotating sample of the contracts' state with the model; at the end of every run
/// `afterInvariant` has the handler compare the whole state.
///
/// forge 1.7 runs one campaign per `invariant_*` function, so all properties are checked by one
/// function (one campaign of 128,000 calls, every property after each call). A failure names its
/// property: "invN: ..." (SECURITY.md invariant N), "pN: ..." (v2 property N, test-sol/README.md)
/// or "model: ..." (model and contract disagree on a call's outcome).
contract ConsentInvariantTest is Test {
    ConsentHandler internal h;

    function setUp() public {
        h = new ConsentHandler();
        targetContract(address(h));
        bytes4[] memory sel = new bytes4[](30);
        // weights: a selector listed twice is drawn twice as often
        sel[0] = h.grant.selector;
        sel[1] = h.grant.selector;
        sel[2] = h.revoke.selector;
        sel[3] = h.grantBySig.selector;
        sel[4] = h.grantBySig.selector;
        sel[5] = h.revokeBySig.selector;
        sel[6] = h.setGuardianBySig.selector;
        sel[7] = h.removeGuardianBySig.selector;
        sel[8] = h.registerPatientKeyBySig.selector;
        sel[9] = h.setGuardian.selector;
        sel[10] = h.removeGuardian.selector;
        sel[11] = h.increaseNonce.selector;
        sel[12] = h.replay.selector;
        sel[13] = h.requestAccess.selector;
        sel[14] = h.requestAccess.selector;
        sel[15] = h.answerRequest.selector;
        sel[16] = h.answerRequest.selector;
        sel[17] = h.answerRequestBySig.selector;
        sel[18] = h.breakGlass.selector;
        sel[19] = h.breakGlass.selector;
        sel[20] = h.closeBreakGlass.selector;
        sel[21] = h.closeBreakGlassBySig.selector;
        sel[22] = h.recordAccess.selector;
        sel[23] = h.recordAccess.selector;
        sel[24] = h.recordAccess.selector;
        sel[25] = h.warp.selector;
        sel[26] = h.warpToEdge.selector;
        sel[27] = h.govern.selector;
        sel[28] = h.registerPatientKey.selector;
        sel[29] = h.warp.selector;
        targetSelector(FuzzSelector(address(h), sel));
    }

    function _noViolations() internal view {
        if (h.violationTotal() == 0) return;
        // property breaches first (SECURITY.md 1-8, then v2 1-9), then model disagreements (0)
        uint8[18] memory order = [1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 13, 14, 15, 16, 17, 18, 19, 0];
        for (uint256 i = 0; i < order.length; ++i) {
            uint256 n = h.violationCount(order[i]);
            if (n != 0) fail(string.concat(h.firstViolation(order[i]), " (", _u(n), " in this category)"));
        }
    }

    /// Every property, after every call of every run: the handler checked the call's outcome
    /// against the model and then a rotating sample of the state; any breach is recorded with its
    /// property's name and fails here with that message.
    function invariant_consentProperties() public view {
        _noViolations();
    }

    /// End of each run: the whole matrix (isAuthorized, isAuthorizedForRecord, grants with their
    /// six expiries and epoch, guardians, keys, request statuses, nonces, memberships and epochs,
    /// break-glass windows, both audit chains, the untouched second deployment) equals the model.
    function afterInvariant() public {
        h.endOfRun();
        _noViolations();
    }
}
