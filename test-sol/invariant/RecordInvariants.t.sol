// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Test} from "../utils/Test.sol";
import {RecordHandler} from "./RecordHandler.sol";
import {RecordRegistry} from "../../contracts/RecordRegistry.sol";
import {InstitutionRegistry} from "../../contracts/InstitutionRegistry.sol";

/// @notice Stateful invariants of RecordRegistry (SECURITY.md 5 and 6), 256 runs x 500 calls in
/// the default profile. RecordHandler anchors, amends and batches as members (providers or
/// not), suspended, removed and re-admitted members, a non-member and a stranger, while the
/// consortium suspends, reinstates, removes, re-admits and re-roles members; after every call it
/// checks the outcome and a rotating sample of anchors against its model. One `invariant_*`
/// function (forge 1.7 runs one campaign per function); failures name their property.
contract RecordInvariantTest is Test {
    RecordHandler internal h;
    RecordRegistry internal records;
    InstitutionRegistry internal inst;

    function setUp() public {
        h = new RecordHandler();
        records = RecordRegistry(h.recordsAddress());
        inst = InstitutionRegistry(h.instAddress());
        targetContract(address(h));
        bytes4[] memory sel = new bytes4[](7);
        sel[0] = h.anchor.selector;
        sel[1] = h.anchor.selector;
        sel[2] = h.anchor.selector;
        sel[3] = h.anchor.selector;
        sel[4] = h.anchorBatch.selector;
        sel[5] = h.govern.selector;
        sel[6] = h.warp.selector;
        targetSelector(FuzzSelector(address(h), sel));
    }

    function _noViolations() internal view {
        if (h.violationTotal() == 0) return;
        // property breaches first, then plain model disagreements (category 0)
        for (uint256 i = 1; i <= 9; ++i) {
            uint256 c = i % 9;
            uint256 n = h.violationCount(c);
            if (n != 0) fail(string.concat(h.firstViolation(c), " (", _u(n), " in this category)"));
        }
    }

    /// 5. Anchors are write-once (commitment, issuer, successor once set, batch headers) and
    /// 6. only active providers anchor: checked by the handler after every call.
    function invariant_recordProperties() public view {
        _noViolations();
    }

    /// End of each run: every id of the id space, every anchored id and every root equals the
    /// model; the anchored set only grew (each id anchored at most once).
    function afterInvariant() public view virtual {
        _noViolations();
        for (uint256 i = 0; i < 4 * h.SUFFIXES(); ++i) {
            bytes32 id = h.idAt(i);
            RecordHandler.Anchor memory m = h.modelAnchor(id);
            assertEq(records.commitmentOf(id), m.commitment, "inv5: commitment vs model (end of run)");
            assertEq(records.nextVersionOf(id), m.next, "inv5: successor vs model (end of run)");
            assertEq(records.issuerOf(id), m.issuer, "inv5: issuer vs model (end of run)");
            assertLe(h.anchorSuccesses(id), 1, "inv5: anchored at most once");
        }
        uint256 n = h.anchoredCount();
        for (uint256 i = 0; i < n; ++i) {
            bytes32 id = h.anchored(i);
            assertTrue(records.isAnchored(id), "inv5: an anchored id is no longer anchored");
            assertEq(records.commitmentOf(id), h.modelAnchor(id).commitment, "inv5: commitment vs model");
        }
        for (uint256 i = 0; i < h.ROOTS(); ++i) {
            bytes32 root = h.rootAt(i);
            RecordHandler.Batch memory b = h.modelBatch(root);
            (address issuer, uint32 count, uint64 at, bytes32 category) = records.batch(root);
            assertEq(issuer, b.issuer, "inv5: batch issuer vs model");
            assertEq(count, b.count, "inv5: batch count vs model");
            assertEq(at, b.anchoredAt, "inv5: batch time vs model");
            assertEq(category, b.category, "inv5: batch category vs model");
        }
        for (uint256 i = 0; i < 4; ++i) {
            address a = h.insts(i);
            assertEq(inst.statusOf(a), h.mStatus(a), "inv6: institution status vs model");
            if (h.mStatus(a) != 3) assertEq(inst.institution(a).roles, h.mRoles(a), "inv6: roles vs model");
        }
    }
}
