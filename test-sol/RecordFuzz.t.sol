// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {Vm} from "./utils/Vm.sol";
import {MissingRole, NotActiveInstitution} from "../contracts/interfaces/CareLedgerErrors.sol";
import {IRecordRegistry} from "../contracts/interfaces/IRecordRegistry.sol";
import {IInstitutionRegistry} from "../contracts/interfaces/IInstitutionRegistry.sol";

/// @notice Stateless fuzz properties of RecordRegistry: SECURITY.md invariant 5 (anchors are
/// write-once, amendments link once), 6 (only active providers anchor) and, at the registry
/// level, v2 property 1 (record-id namespaces and kinds, batch ids, bindings; the same through
/// ConsentRegistry.recordAccess is BindingFuzz.t.sol). 5,000 runs each.
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

        assertEq(records.bindingOf(id), _leaf(PATIENT, id, c1, CAT), "binding");
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
        c = _nonZero(c);
        (bytes32 v1, bytes32 v2, bytes32 v3) = (_recordId(HOSP_A, s1), _recordId(HOSP_A, s2), _recordId(HOSP_A, s3));
        vm.assume(v1 != v2 && v2 != v3 && v1 != v3);
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
        assertEq(records.bindingOf(v1), _leaf(PATIENT, v1, c, CAT), "v1 binding");
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

    /// A batch id is anchored once: a second anchoring by its issuer (any root, count, category,
    /// any later time) reverts BatchAlreadyAnchored(batchId); another provider cannot even name it
    /// (BatchIdNotOwned(batchId, caller)); the header (root, count, time) never changes, and only
    /// leaves of the anchored tree verify.
    function testFuzz_inv5_batchWriteOnce(
        uint64 number,
        bytes32 leafSeed,
        uint32 count,
        bytes32 root2,
        uint32 count2,
        bytes32 cat2,
        uint32 later
    ) public {
        count = uint32(bound(count, 1, type(uint32).max));
        bytes28 b = _batchId(HOSP_A, number);
        (bytes32 root, bytes32 l1) = _twoLeafRoot(b, leafSeed);
        vm.prank(HOSP_A);
        records.anchorBatch(b, root, count, CAT);
        vm.warp(block.timestamp + later);
        root2 = _nonZero(root2);
        count2 = uint32(bound(count2, 1, type(uint32).max));
        vm.prank(HOSP_A);
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.BatchAlreadyAnchored.selector, b));
        records.anchorBatch(b, root2, count2, cat2);
        vm.prank(HOSP_B);
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.BatchIdNotOwned.selector, b, HOSP_B));
        records.anchorBatch(b, root2, count2, cat2);
        _checkHeader(b, root, count);
        _checkProof(b, l1, leafSeed);
    }

    function _twoLeafRoot(bytes28 b, bytes32 leafSeed) internal pure returns (bytes32 root, bytes32 l1) {
        bytes32 l0 = _leaf(PATIENT, _memberId(b, 0), leafSeed, CAT);
        l1 = _leaf(PATIENT, _memberId(b, 1), keccak256(abi.encode(leafSeed)), CAT);
        root = l0 < l1 ? keccak256(abi.encode(l0, l1)) : keccak256(abi.encode(l1, l0));
    }

    function _checkHeader(bytes28 b, bytes32 root, uint32 count) internal view {
        (bytes32 r, uint32 c, uint64 at) = records.batch(b);
        assertEq(r, root, "batch root");
        assertEq(c, count, "batch count");
        assertEq(at, T0, "batch time");
    }

    function _checkProof(bytes28 b, bytes32 sibling, bytes32 leafSeed) internal {
        bytes32[] memory proof = new bytes32[](1);
        proof[0] = sibling;
        bytes32 id = _memberId(b, 0);
        assertTrue(records.verifyBatchRecord(proof, PATIENT, id, leafSeed, CAT), "leaf 0");
        records.checkBinding(PATIENT, id, leafSeed, CAT, proof);
        bytes32 wrong = keccak256(abi.encode(leafSeed, 1));
        assertFalse(records.verifyBatchRecord(proof, PATIENT, id, wrong, CAT), "wrong commitment verifies");
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.RecordBindingMismatch.selector, id));
        records.checkBinding(PATIENT, id, wrong, CAT, proof);
    }

    /// A batch vouches only for its issuer's namespace: HOSP_B copying HOSP_A's pending root (its
    /// leaves bind HOSP_A's member ids) anchors it under HOSP_B's own batch id, where it proves
    /// nothing: HOSP_A's ids stay unanchored (RecordNotAnchored) and HOSP_B's ids at the same
    /// indexes do not match the leaves (RecordBindingMismatch). HOSP_A can still anchor its batch.
    function testFuzz_inv5_batchVouchesOnlyForIssuerNamespace(uint64 number, uint64 thiefNumber, uint8 n, bytes32 c)
        public
    {
        n = uint8(bound(n, 1, 16));
        bytes28 mine = _batchId(HOSP_A, number);
        (bytes32[] memory leaves, bytes32[] memory commits) = _leavesFor(mine, n, c);
        bytes32 root = Merkle.root(leaves);
        bytes28 stolen = _batchId(HOSP_B, thiefNumber);
        vm.prank(HOSP_B);
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.BatchIdNotOwned.selector, mine, HOSP_B));
        records.anchorBatch(mine, root, n, CAT);
        vm.prank(HOSP_B);
        records.anchorBatch(stolen, root, n, CAT);
        uint32 i = uint32(uint256(c) % n);
        bytes32[] memory proof = Merkle.proof(leaves, i);
        bytes32 ours = _memberId(mine, i);
        assertFalse(records.isAnchored(ours), "rightful id anchored by the copy");
        assertFalse(records.verifyBatchRecord(proof, PATIENT, ours, commits[i], CAT), "copy vouches for the issuer");
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.RecordNotAnchored.selector, ours));
        records.checkBinding(PATIENT, ours, commits[i], CAT, proof);
        bytes32 theirs = _memberId(stolen, i);
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.RecordBindingMismatch.selector, theirs));
        records.checkBinding(PATIENT, theirs, commits[i], CAT, proof);

        vm.prank(HOSP_A);
        records.anchorBatch(mine, root, n, CAT);
        records.checkBinding(PATIENT, ours, commits[i], CAT, proof);
        assertTrue(records.verifyBatchRecord(proof, PATIENT, ours, commits[i], CAT), "own batch verifies");
    }

    function _leavesFor(bytes28 b, uint256 n, bytes32 seed)
        internal
        pure
        returns (bytes32[] memory leaves, bytes32[] memory commits)
    {
        leaves = new bytes32[](n);
        commits = new bytes32[](n);
        for (uint256 k = 0; k < n; ++k) {
            commits[k] = keccak256(abi.encode(seed, k));
            leaves[k] = _leaf(PATIENT, _memberId(b, uint32(k)), commits[k], CAT);
        }
    }

    /// The kind of an id is fixed by its suffix's top bit: anchor() refuses a batch-member id
    /// even in the caller's namespace (RecordIdNotOwned), anchorBatch() refuses a batch id without
    /// the flag (BatchIdNotOwned); a batch tree holding a leaf for a single id never anchors it
    /// (checkBinding looks only at single bindings for it: RecordNotAnchored, and once that id is
    /// anchored for something else, RecordBindingMismatch despite the valid proof).
    function testFuzz_p1_singleIdIsNeverMember(uint96 suffix, uint64 number, uint32 index, bytes32 c) public {
        c = _nonZero(c);
        bytes28 b = _batchId(HOSP_A, number);
        bytes32 member = _memberId(b, index);
        vm.prank(HOSP_A);
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.RecordIdNotOwned.selector, member, HOSP_A));
        records.anchor(PATIENT, member, c, CAT, bytes32(0));
        vm.prank(HOSP_A);
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.BatchIdNotOwned.selector, _unflagged(b), HOSP_A));
        records.anchorBatch(_unflagged(b), keccak256(abi.encode(c)), 1, CAT);

        // a two-leaf tree whose first leaf names a single id of the issuer
        bytes32 single = _recordId(HOSP_A, suffix);
        bytes32[] memory leaves = new bytes32[](2);
        leaves[0] = _leaf(PATIENT, single, c, CAT);
        leaves[1] = _leaf(PATIENT, _memberId(b, 1), c, CAT);
        vm.prank(HOSP_A);
        records.anchorBatch(b, Merkle.root(leaves), 2, CAT);
        bytes32[] memory proof = Merkle.proof(leaves, 0);
        assertFalse(records.isAnchored(single), "single id anchored through a batch");
        assertFalse(records.verifyBatchRecord(proof, PATIENT, single, c, CAT), "single id verified as a member");
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.RecordNotAnchored.selector, single));
        records.checkBinding(PATIENT, single, c, CAT, proof);
        vm.prank(HOSP_A);
        records.anchor(address(0xbeef), single, c, CAT, bytes32(0));
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.RecordBindingMismatch.selector, single));
        records.checkBinding(PATIENT, single, c, CAT, proof);
        records.checkBinding(address(0xbeef), single, c, CAT, _noProof());
        // and the member at index 1 is anchored through the batch only
        records.checkBinding(PATIENT, _memberId(b, 1), c, CAT, Merkle.proof(leaves, 1));
        assertEq(records.bindingOf(_memberId(b, 1)), bytes32(0), "member has a single binding");
    }

    /// isAnchored and issuerOf of a batch member follow its batch: anchored iff the batch exists
    /// and the index is below its count; the issuer is the id's first 20 bytes.
    function testFuzz_p1_memberAnchoredBelowCount(uint64 number, uint32 count, uint32 index, uint64 otherNumber) public {
        count = uint32(bound(count, 1, type(uint32).max));
        bytes28 b = _batchId(HOSP_B, number);
        vm.assume(_batchId(HOSP_B, otherNumber) != b);
        vm.prank(HOSP_B);
        records.anchorBatch(b, keccak256(abi.encode(number)), count, CAT);
        bytes32 id = _memberId(b, index);
        assertEq(records.isAnchored(id), index < count, "member anchored iff index < count");
        assertEq(records.issuerOf(id), index < count ? HOSP_B : address(0), "member issuer");
        bytes32 other = _memberId(_batchId(HOSP_B, otherNumber), index);
        assertFalse(records.isAnchored(other), "member of an unanchored batch");
        if (index >= count) {
            vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.RecordNotAnchored.selector, id));
            records.checkBinding(PATIENT, id, keccak256("c"), CAT, _noProof());
        }
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.RecordNotAnchored.selector, other));
        records.checkBinding(PATIENT, other, keccak256("c"), CAT, _noProof());
    }

    /// Only the issuer records an erasure, only of an anchored record (NotIssuer, RecordNotAnchored).
    function testFuzz_recordErasedOnlyByIssuer(uint96 suffix, bool batchMember) public {
        bytes32 id;
        if (batchMember) {
            bytes28 b = _batchId(HOSP_A, uint64(suffix));
            id = _memberId(b, 0);
            vm.prank(HOSP_A);
            vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.RecordNotAnchored.selector, id));
            records.recordErased(id);
            vm.prank(HOSP_A);
            records.anchorBatch(b, keccak256("root"), 1, CAT);
        } else {
            id = _recordId(HOSP_A, suffix);
            vm.prank(HOSP_A);
            vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.RecordNotAnchored.selector, id));
            records.recordErased(id);
            _anchorSingle(HOSP_A, PATIENT, suffix, keccak256("c"), CAT);
        }
        vm.prank(HOSP_B);
        vm.expectRevert(abi.encodeWithSelector(IRecordRegistry.NotIssuer.selector, id, HOSP_A, HOSP_B));
        records.recordErased(id);
        vm.prank(OUTSIDER);
        vm.expectRevert(abi.encodeWithSelector(NotActiveInstitution.selector, OUTSIDER));
        records.recordErased(id);
        vm.recordLogs();
        vm.prank(HOSP_A);
        records.recordErased(id);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "one event");
        assertEq(logs[0].topics[0], IRecordRegistry.RecordErased.selector, "RecordErased");
        assertEq(logs[0].topics[1], id, "erased id");
    }

    /// Distinct (patient, recordId, commitment, category) tuples give distinct leaves (abi.encode,
    /// no packed collisions).
    function testFuzz_inv5_distinctLeaves(address p1, bytes32 r1, bytes32 c1, address p2, bytes32 r2, bytes32 c2)
        public
        view
    {
        vm.assume(p1 != p2 || r1 != r2 || c1 != c2);
        assertTrue(records.leafHash(p1, r1, c1, CAT) != records.leafHash(p2, r2, c2, CAT), "leaf collision");
        assertEq(records.leafHash(p1, r1, c1, CAT), _leaf(p1, r1, c1, CAT), "leafHash is the double-hashed standard leaf");
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
        records.anchor(PATIENT, _recordId(HOSP_B, suffix), _nonZero(c), CAT, bytes32(0));
        vm.prank(HOSP_B);
        records.anchorBatch(_batchId(HOSP_B, uint64(suffix)), _nonZero(c), 1, CAT);
    }

    function _refused(address who, uint96 suffix, bytes memory err) internal {
        bytes32 id = _recordId(who, suffix);
        vm.prank(who);
        vm.expectRevert(err);
        records.anchor(PATIENT, id, keccak256("c"), CAT, bytes32(0));
        bytes28 b = _batchId(who, uint64(suffix));
        vm.prank(who);
        vm.expectRevert(err);
        records.anchorBatch(b, keccak256(abi.encode(who, suffix)), 1, CAT);
        assertFalse(records.isAnchored(id), "refused anchor stored");
        assertFalse(records.isAnchored(_memberId(b, 0)), "refused batch stored");
    }
}
