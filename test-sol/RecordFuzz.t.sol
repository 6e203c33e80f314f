// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Fixture} from "./utils/Fixture.sol";
import {Vm} from "./utils/Vm.sol";
import {MissingRole, NotActiveInstitution} from "../contracts/interfaces/CareLedgerErrors.sol";
import {IRecordRegistry} from "../contracts/interfaces/IRecordRegistry.sol";
import {IInstitutionRegistry} from "../contracts/interfaces/IInstitutionRegistry.sol";

/// @notice Stateless fuzz properties of RecordRegistry: SECURITY.md invariant 5 (anchors are
/// write-once, amendments link once) and 6 (only active providers anchor). 5,000 runs each.
contract RecordFuzzTest is Fixture {
    bytes32 internal constant CAT = keccak256(abi.encode("careledger.category", "LOINC:11502-2"));
    address internal constant PATIENT = address(0x1234);

    function setUp() public {
        _deploy();
    }

    function _nonZero(bytes32 x) internal pure returns (bytes32) {
        return x == bytes32(0) ? bytes32(uint256(1)) : x;
    }

    // ================================================================ 5. write-once

    /// Re-anchoring an id (any commitment, patient, category, previous version, by its issuer)
    /// reverts AlreadyAnchored and leaves commitment, issuer and successor as they were; exactly
    /// one RecordAnchored event (patient, issuer, commitment) exists for the id.
    function testFuzz_inv5_anchorWriteOnce(
        uint96 suffix,
        bytes32 c1,
        bytes32 c2,
        address patient2,
        bytes32 cat2,
        bool amendAttempt
    ) public {
        c1 = _nonZero(c1);
        c2 = _nonZero(c2);
        vm.assume(patient2 != address(0));
        bytes32 id = _recordId(HOSP_B, suffix);
        vm.recordLogs();
        vm.prank(HOSP_B);
        records.anchor(PATIENT, id, c1, CAT, bytes32(0));
        bytes32 prev;
        if (amendAttempt) {
            prev = _recordId(HOSP_B, suffix ^ 1);
            vm.prank(HOSP_B);
            records.anchor(PATIENT, prev, c1, CAT, bytes32(0));
        }
        vm.prank(HOSP_B);
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.AlreadyAnchored.selector, id));
        records.anchor(patient2, id, c2, cat2, prev);

        assertEq(records.commitmentOf(id), c1, "commitment");
        assertEq(records.issuerOf(id), HOSP_B, "issuer");
        assertEq(records.nextVersionOf(id), bytes32(0), "successor");
        if (amendAttempt) assertEq(records.nextVersionOf(prev), bytes32(0), "failed amendment linked");

        Vm.Log[] memory logs = vm.getRecordedLogs();
        uint256 n;
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].topics[0] != IRecordRegistry.RecordAnchored.selector || logs[i].topics[1] != id) continue;
            ++n;
            assertEq(address(uint160(uint256(logs[i].topics[2]))), PATIENT, "event patient");
            assertEq(address(uint160(uint256(logs[i].topics[3]))), HOSP_B, "event issuer");
            (bytes32 c,,) = abi.decode(logs[i].data, (bytes32, bytes32, bytes32));
            assertEq(c, c1, "event commitment");
        }
        assertEq(n, 1, "one RecordAnchored event per id");
    }

    /// A version is superseded once: the second amendment of v1 reverts
    /// VersionAlreadySuperseded(v1, v2) and the chain v1 -> v2 stays; v2 itself can be amended.
    function testFuzz_inv5_supersedeOnce(uint96 s1, uint96 s2, uint96 s3, bytes32 c) public {
        vm.assume(s1 != s2 && s2 != s3 && s1 != s3);
        c = _nonZero(c);
        (bytes32 v1, bytes32 v2, bytes32 v3) = (_recordId(HOSP_A, s1), _recordId(HOSP_A, s2), _recordId(HOSP_A, s3));
        vm.startPrank(HOSP_A);
        records.anchor(PATIENT, v1, c, CAT, bytes32(0));
        records.anchor(PATIENT, v2, c, CAT, v1);
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.VersionAlreadySuperseded.selector, v1, v2));
        records.anchor(PATIENT, v3, c, CAT, v1);
        assertEq(records.nextVersionOf(v1), v2, "v1 -> v2 kept");
        assertFalse(records.isAnchored(v3), "failed amendment anchored");
        records.anchor(PATIENT, v3, c, CAT, v2);
        vm.stopPrank();
        assertEq(records.nextVersionOf(v1), v2, "v1 -> v2 after");
        assertEq(records.nextVersionOf(v2), v3, "v2 -> v3");
        assertEq(records.commitmentOf(v1), c, "v1 commitment");
    }

    /// Only the issuer of a version supersedes it, and only ids of one's own namespace are anchored.
    function testFuzz_inv5_onlyIssuerSupersedesOwnNamespace(uint96 s1, uint96 s2, address prefix) public {
        bytes32 v1 = _recordId(HOSP_A, s1);
        vm.prank(HOSP_A);
        records.anchor(PATIENT, v1, keccak256("c"), CAT, bytes32(0));
        bytes32 v2 = _recordId(HOSP_B, s2);
        vm.prank(HOSP_B);
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.NotIssuer.selector, v1, HOSP_A, HOSP_B));
        records.anchor(PATIENT, v2, keccak256("c2"), CAT, v1);
        assertEq(records.nextVersionOf(v1), bytes32(0), "foreign amendment linked");

        vm.assume(prefix != HOSP_B);
        bytes32 foreign = _recordId(prefix, s2);
        vm.prank(HOSP_B);
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.RecordIdNotOwned.selector, foreign, HOSP_B));
        records.anchor(PATIENT, foreign, keccak256("c3"), CAT, bytes32(0));
    }

    /// An amendment of a version that was never anchored reverts PreviousVersionNotFound.
    function testFuzz_inv5_previousMustExist(uint96 s, bytes32 prev) public {
        vm.assume(prev != bytes32(0));
        bytes32 id = _recordId(HOSP_A, s);
        vm.assume(prev != id);
        vm.prank(HOSP_A);
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.PreviousVersionNotFound.selector, prev));
        records.anchor(PATIENT, id, keccak256("c"), CAT, prev);
    }

    /// A batch root is write-once: the header (issuer, count, time, category) never changes, and
    /// only leaves of the anchored tree verify.
    function testFuzz_inv5_batchWriteOnce(bytes32 leafSeed, uint32 count, uint32 count2, bytes32 cat2, uint32 later)
        public
    {
        count = uint32(bound(count, 1, type(uint32).max));
        bytes32 l0 = records.leafHash(PATIENT, _recordId(HOSP_A, 1), leafSeed, CAT);
        bytes32 l1 = records.leafHash(PATIENT, _recordId(HOSP_A, 2), keccak256(abi.encode(leafSeed)), CAT);
        bytes32 root = l0 < l1 ? keccak256(abi.encode(l0, l1)) : keccak256(abi.encode(l1, l0));
        vm.prank(HOSP_A);
        records.anchorBatch(root, count, CAT);
        vm.warp(block.timestamp + later);
        vm.prank(bound(later, 0, 1) == 0 ? HOSP_A : HOSP_B);
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.BatchAlreadyAnchored.selector, root));
        records.anchorBatch(root, uint32(bound(count2, 1, type(uint32).max)), cat2);
        _checkHeader(root, count);
        _checkProof(root, l1, leafSeed);
    }

    function _checkHeader(bytes32 root, uint32 count) internal view {
        (address issuer, uint32 c, uint64 at, bytes32 category) = records.batch(root);
        assertEq(issuer, HOSP_A, "batch issuer");
        assertEq(c, count, "batch count");
        assertEq(at, T0, "batch time");
        assertEq(category, CAT, "batch category");
    }

    function _checkProof(bytes32 root, bytes32 sibling, bytes32 leafSeed) internal view {
        bytes32[] memory proof = new bytes32[](1);
        proof[0] = sibling;
        bytes32 id = _recordId(HOSP_A, 1);
        assertTrue(records.verifyBatchRecord(root, proof, PATIENT, id, leafSeed, CAT), "leaf 0");
        bytes32 wrong = keccak256(abi.encode(leafSeed, 1));
        assertFalse(records.verifyBatchRecord(root, proof, PATIENT, id, wrong, CAT), "wrong commitment verifies");
    }

    /// A batch vouches only for record ids of its issuer's namespace: a one-leaf batch of
    /// HOSP_A holding an id of another namespace never verifies, the same leaf with an id of
    /// HOSP_A's namespace does.
    function testFuzz_inv5_batchVouchesOnlyForIssuerNamespace(address prefix, uint96 suffix, bytes32 c) public {
        bytes32 id = _recordId(prefix, suffix);
        bytes32 leaf = records.leafHash(PATIENT, id, c, CAT);
        vm.prank(HOSP_A);
        records.anchorBatch(leaf, 1, CAT); // a one-leaf tree: root = leaf, empty proof
        bytes32[] memory proof = new bytes32[](0);
        assertEq(records.verifyBatchRecord(leaf, proof, PATIENT, id, c, CAT), prefix == HOSP_A, "namespace");
    }

    /// Distinct (patient, recordId, commitment, category) tuples give distinct leaves (abi.encode,
    /// no packed collisions).
    function testFuzz_inv5_distinctLeaves(address p1, bytes32 r1, bytes32 c1, address p2, bytes32 r2, bytes32 c2)
        public
        view
    {
        vm.assume(p1 != p2 || r1 != r2 || c1 != c2);
        assertTrue(records.leafHash(p1, r1, c1, CAT) != records.leafHash(p2, r2, c2, CAT), "leaf collision");
    }

    // ================================================================ 6. only active providers anchor

    /// Anyone but an active PROVIDER is refused, with the named error: outsiders and removed
    /// members NotActiveInstitution, members without the role MissingRole, suspended providers
    /// NotActiveInstitution; reinstated or re-roled providers anchor again.
    function testFuzz_inv6_onlyActiveProvidersAnchor(address caller, uint96 suffix, uint8 stage) public {
        vm.assume(caller != HOSP_A && caller != HOSP_B && caller != LAB && caller != ER);
        bytes32 c = keccak256(abi.encode(suffix));
        _refused(caller, suffix, abi.encodeWithSelector(NotActiveInstitution.selector, caller));
        _refused(LAB, suffix, abi.encodeWithSelector(MissingRole.selector, LAB, ROLE_PROVIDER));
        _refused(ER, suffix, abi.encodeWithSelector(MissingRole.selector, ER, ROLE_PROVIDER));

        stage %= 3;
        if (stage == 0) {
            _suspend(HOSP_B);
            _refused(HOSP_B, suffix, abi.encodeWithSelector(NotActiveInstitution.selector, HOSP_B));
            _reinstate(HOSP_B);
        } else if (stage == 1) {
            vm.prank(HOSP_A);
            inst.propose(IInstitutionRegistry.ProposalKind.ChangeRoles, HOSP_B, ROLE_RESEARCHER, bytes32(0), bytes32(0), 0);
            _refused(HOSP_B, suffix, abi.encodeWithSelector(MissingRole.selector, HOSP_B, ROLE_PROVIDER));
            vm.prank(HOSP_A);
            inst.propose(IInstitutionRegistry.ProposalKind.ChangeRoles, HOSP_B, ROLE_PROVIDER, bytes32(0), bytes32(0), 0);
        } else {
            vm.prank(HOSP_A);
            inst.propose(IInstitutionRegistry.ProposalKind.Remove, HOSP_B, 0, bytes32(0), bytes32(0), 0);
            _refused(HOSP_B, suffix, abi.encodeWithSelector(NotActiveInstitution.selector, HOSP_B));
            vm.prank(HOSP_A);
            inst.propose(IInstitutionRegistry.ProposalKind.Admit, HOSP_B, ROLE_PROVIDER, keccak256("k"), bytes32(0), 0);
        }
        vm.prank(HOSP_B);
        records.anchor(PATIENT, _recordId(HOSP_B, suffix), c, CAT, bytes32(0));
        vm.prank(HOSP_B);
        records.anchorBatch(c, 1, CAT);
    }

    function _refused(address who, uint96 suffix, bytes memory err) internal {
        bytes32 id = _recordId(who, suffix);
        vm.prank(who);
        vm.expectRevert(err);
        records.anchor(PATIENT, id, keccak256("c"), CAT, bytes32(0));
        vm.prank(who);
        vm.expectRevert(err);
        records.anchorBatch(keccak256(abi.encode(who, suffix)), 1, CAT);
        assertFalse(records.isAnchored(id), "refused anchor stored");
    }
}
