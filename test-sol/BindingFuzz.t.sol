// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {IRecordRegistry} from "../contracts/interfaces/IRecordRegistry.sol";

/// @notice v2 property 1 through ConsentRegistry.recordAccess (5,000 runs each): an access entry
/// is accepted only for a record anchored for exactly that patient, category and commitment.
/// Never anchored (a single id, a member of a batch that does not exist, a member index at or
/// above its batch's count): RecordNotAnchored(id). Anchored, but another patient, category or
/// commitment, or a Merkle proof that does not reach the batch root: RecordBindingMismatch(id).
/// The accessor holds live SCOPE_ALL grants from both patients, so only the binding can refuse,
/// and a refused access leaves both patients' audit chains untouched. Merkle trees are built
/// here (utils/Merkle.sol: sorted-pair Hashes.commutativeKeccak256 over double-hashed leaves).
/// The registry-level properties (id kinds and namespaces, batch ids anchored once) are in
/// RecordFuzz.t.sol.
contract BindingFuzzTest is Fixture {
    address internal constant P = address(0xa11ce);
    address internal constant Q = address(0xb0b);
    bytes32 internal constant CAT = keccak256(abi.encode("careledger.category", "LOINC:11502-2"));
    bytes32 internal constant CAT2 = keccak256(abi.encode("careledger.category", "LOINC:18748-4"));

    uint256 internal constant DEEP_SEED = 0xdee9;
    Tree internal deep; // a 256-leaf batch of HOSP_A, anchored in setUp
    mapping(uint256 index => bytes32[]) internal deepProofs;

    function setUp() public {
        _deploy();
        Tree memory t = _anchorTree(0xdee9, 256, 0, DEEP_SEED);
        (deep.batch, deep.n, deep.count) = (t.batch, t.n, t.count);
        for (uint256 i = 0; i < 256; ++i) {
            deepProofs[i] = Merkle.proof(t.leaves, i);
        }
        vm.prank(P);
        consent.grant(P, HOSP_A, SCOPE_ALL, ALL_PURPOSES, uint64(block.timestamp + 365 days));
        vm.prank(Q);
        consent.grant(Q, HOSP_A, SCOPE_ALL, ALL_PURPOSES, uint64(block.timestamp + 365 days));
    }

    function _nonZero(bytes32 x) internal pure returns (bytes32) {
        return x == bytes32(0) ? bytes32(uint256(1)) : x;
    }

    /// @dev An access by HOSP_A that must revert with `err` and leave both chains as they were.
    function _refused(
        address patient,
        bytes32 id,
        bytes32 category,
        bytes32 commitment,
        uint8 purpose,
        bytes32[] memory proof,
        bytes memory err
    ) internal {
        (bytes32 hp, uint64 cp) = consent.auditHead(P);
        (bytes32 hq, uint64 cq) = consent.auditHead(Q);
        vm.prank(HOSP_A);
        vm.expectRevert(err);
        consent.recordAccess(patient, id, category, commitment, purpose, proof);
        (bytes32 hp1, uint64 cp1) = consent.auditHead(P);
        (bytes32 hq1, uint64 cq1) = consent.auditHead(Q);
        assertEq(hp1, hp, "refused access moved P's head");
        assertEq(hq1, hq, "refused access moved Q's head");
        assertEq(cp1 + cq1, cp + cq, "refused access counted");
    }

    /// @dev The accepted access: the entry carries the bound category; the head follows.
    function _accepted(bytes32 id, bytes32 category, bytes32 commitment, uint8 purpose, bytes32[] memory proof)
        internal
    {
        (bytes32 h0, uint64 c0) = consent.auditHead(P);
        bytes32 want = _auditStep(h0, P, HOSP_A, id, category, purpose, uint64(block.timestamp), c0, false);
        vm.prank(HOSP_A);
        assertEq(consent.recordAccess(P, id, category, commitment, purpose, proof), want, "head of the accepted access");
    }

    function _mismatch(bytes32 id) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IRecordRegistry.RecordBindingMismatch.selector, id);
    }

    function _notAnchored(bytes32 id) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IRecordRegistry.RecordNotAnchored.selector, id);
    }

    /// A single record: accepted only with its anchored patient, category and commitment;
    /// RecordBindingMismatch for another patient, category or commitment; RecordNotAnchored for
    /// an id of the same namespace that was never anchored.
    function testFuzz_p1_singleRecordBinding(
        uint96 suffix,
        bytes32 commitment,
        bytes32 category,
        uint8 variant,
        bytes32 noise,
        uint8 purpose
    ) public {
        commitment = _nonZero(commitment);
        noise = _nonZero(noise);
        purpose = uint8(bound(purpose, 0, MAX_PURPOSE));
        bytes32 id = _anchorSingle(HOSP_B, P, suffix, commitment, category);
        bytes32[] memory none = _noProof();
        variant %= 5;
        if (variant == 0) {
            _accepted(id, category, commitment, purpose, none);
        } else if (variant == 1) {
            _refused(Q, id, category, commitment, purpose, none, _mismatch(id));
        } else if (variant == 2) {
            _refused(P, id, category ^ noise, commitment, purpose, none, _mismatch(id));
        } else if (variant == 3) {
            _refused(P, id, category, commitment ^ noise, purpose, none, _mismatch(id));
        } else {
            bytes32 other = _recordId(HOSP_B, uint96(uint256(noise)));
            vm.assume(other != id);
            _refused(P, other, category, commitment, purpose, none, _notAnchored(other));
        }
    }

    struct Tree {
        bytes28 batch;
        uint32 n;
        uint32 count;
        bytes32[] leaves;
    }

    function _patientOf(uint256 seed, uint256 i) internal pure returns (address) {
        return uint256(keccak256(abi.encode(seed, i, "patient"))) % 2 == 0 ? P : Q;
    }

    function _categoryOf(uint256 seed, uint256 i) internal pure returns (bytes32) {
        return uint256(keccak256(abi.encode(seed, i, "category"))) % 2 == 0 ? CAT : CAT2;
    }

    function _commitmentOf(uint256 seed, uint256 i) internal pure returns (bytes32) {
        return keccak256(abi.encode(seed, i, "blob"));
    }

    /// @dev HOSP_A anchors a batch of `n` leaves (each its own patient, category, commitment)
    /// with a count of at least `n`.
    function _anchorTree(uint64 number, uint256 n, uint256 extra, uint256 seed) internal returns (Tree memory t) {
        t.batch = _batchId(HOSP_A, number);
        t.n = uint32(n);
        t.count = uint32(n + extra);
        t.leaves = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            t.leaves[i] =
                _leaf(_patientOf(seed, i), _memberId(t.batch, uint32(i)), _commitmentOf(seed, i), _categoryOf(seed, i));
        }
        vm.prank(HOSP_A);
        records.anchorBatch(t.batch, Merkle.root(t.leaves), t.count, CAT);
    }

    /// A batch member (trees of 1..64 leaves, counts at or above the number of leaves): accepted
    /// only with its own leaf data and proof; RecordBindingMismatch for another patient,
    /// category or commitment, another leaf's proof, a truncated or padded proof, or an index
    /// below the count that has no leaf; RecordNotAnchored for an index at or above the count and
    /// for a batch number never anchored.
    function testFuzz_p1_batchMemberBinding(uint64 number, uint8 n, uint16 extra, uint256 seed, uint8 variant) public {
        // not the setUp batch (nor its neighbour, used as "another batch" below); batch numbers are 63-bit
        vm.assume((number & (type(uint64).max >> 1)) >> 1 != DEEP_SEED >> 1);
        Tree memory t = _anchorTree(number, bound(n, 1, 64), extra % 3 == 0 ? 0 : bound(extra, 1, 1000), seed);
        uint32 i = uint32(seed % t.n);
        Access memory a = Access(
            _patientOf(seed, i), _memberId(t.batch, i), _categoryOf(seed, i), _commitmentOf(seed, i), Merkle.proof(t.leaves, i)
        );
        assertEq(Merkle.process(a.proof, t.leaves[i]), Merkle.root(t.leaves), "test tree");
        variant %= 9;
        bytes memory err = _mismatch(a.id);
        if (variant == 0) {
            vm.prank(HOSP_A);
            consent.recordAccess(a.patient, a.id, a.category, a.commitment, TREAT, a.proof);
            return;
        } else if (variant == 1) {
            a.patient = a.patient == P ? Q : P;
        } else if (variant == 2) {
            a.category = a.category == CAT ? CAT2 : CAT;
        } else if (variant == 3) {
            a.commitment = keccak256(abi.encode(a.commitment));
        } else if (variant == 4) {
            // another leaf's proof (or, in a one-leaf tree, a one-hash proof)
            bytes32[] memory wrong = t.n > 1 ? Merkle.proof(t.leaves, (i + 1) % t.n) : _oneHash(seed);
            vm.assume(keccak256(abi.encode(wrong)) != keccak256(abi.encode(a.proof)));
            a.proof = wrong;
        } else if (variant == 5) {
            a.proof = _truncatedOrPadded(a.proof, seed);
        } else if (variant == 6 && t.count > t.n) {
            // an index below the count with no leaf: anchored, but nothing proves a binding for it
            a.id = _memberId(t.batch, t.n + uint32(seed % (t.count - t.n)));
            assertTrue(records.isAnchored(a.id), "index below the count is anchored");
            err = _mismatch(a.id);
        } else if (variant == 7 || variant == 6) {
            a.id = _memberId(t.batch, t.count + uint32(seed % 1000));
            err = _notAnchored(a.id);
        } else {
            a.id = _memberId(_batchId(HOSP_A, number ^ 1), i);
            err = _notAnchored(a.id);
        }
        _refused(a.patient, a.id, a.category, a.commitment, TREAT, a.proof, err);
    }

    struct Access {
        address patient;
        bytes32 id;
        bytes32 category;
        bytes32 commitment;
        bytes32[] proof;
    }

    function _oneHash(uint256 seed) internal pure returns (bytes32[] memory p) {
        p = new bytes32[](1);
        p[0] = keccak256(abi.encode(seed, "sibling"));
    }

    function _truncatedOrPadded(bytes32[] memory proof, uint256 seed) internal pure returns (bytes32[] memory p) {
        if (proof.length == 0) return _oneHash(seed);
        p = new bytes32[](proof.length - 1);
        for (uint256 k = 0; k < p.length; ++k) {
            p[k] = proof[k];
        }
    }

    /// The member accessed at depth 8 (256 leaves, one batch anchored in setUp): every leaf is
    /// accepted with its own 8-hash proof, and the entry binds the leaf's own patient and category.
    function testFuzz_p1_depth8Member(uint8 index) public {
        bytes32[] memory proof = deepProofs[index];
        assertEq(proof.length, 8, "depth 8");
        address patient = _patientOf(DEEP_SEED, index);
        (bytes32 h0, uint64 c0) = consent.auditHead(patient);
        bytes32 id = _memberId(deep.batch, index);
        bytes32 cat = _categoryOf(DEEP_SEED, index);
        bytes32 want = _auditStep(h0, patient, HOSP_A, id, cat, TREAT, uint64(block.timestamp), c0, false);
        vm.prank(HOSP_A);
        bytes32 head = consent.recordAccess(patient, id, cat, _commitmentOf(DEEP_SEED, index), TREAT, proof);
        assertEq(head, want, "entry binds the leaf's patient and category");
    }
}
