// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {HandlerBase} from "./HandlerBase.sol";
import {Merkle} from "../utils/Merkle.sol";
import {MissingRole, NotActiveInstitution, ZeroAddress} from "../../contracts/interfaces/CareLedgerErrors.sol";
import {IRecordRegistry} from "../../contracts/interfaces/IRecordRegistry.sol";

/// @notice Invariant handler of RecordRegistry (SECURITY.md 5 and 6, v2 property 1): single
/// anchors, amendments, batches (real Merkle trees of 1-8 leaves, sometimes with a leaf that
/// names a single id or another namespace's id, counts above the number of leaves), binding
/// checks with right and wrong data and proofs, and erasures, by members (providers or not),
/// suspended, removed and re-admitted members, a non-member and a stranger, over a small id
/// space so that re-anchoring, double amendments, foreign namespaces and wrong id kinds are
/// attempted constantly. Every outcome is predicted exactly (the named error and arguments)
/// from a model; any disagreement or breach is recorded.
contract RecordHandler is HandlerBase {
    uint256 public constant SUFFIXES = 16; // single ids per issuer namespace
    uint256 public constant BATCHES = 4; // batch numbers per issuer namespace

    address internal constant STRANGER = address(uint160(uint256(keccak256("careledger.test.STRANGER"))));

    struct Anchor {
        bytes32 leaf;
        bytes32 next;
        address issuer;
        address patient;
        bytes32 commitment;
        bytes32 category;
    }

    struct Batch {
        bytes32 root;
        uint32 count;
        uint64 anchoredAt;
    }

    /// @dev One leaf of an anchored batch: the values it binds (its id is usually the member id
    /// of its index, sometimes another id: a single id of the issuer or a foreign member id).
    struct Leaf {
        bytes32 id;
        address patient;
        bytes32 commitment;
        bytes32 category;
    }

    mapping(bytes32 recordId => Anchor) internal mAnchor;
    bytes32[] public anchored; // every anchored single id, in order (only grows)
    mapping(bytes28 batchId => Batch) internal mBatch;
    mapping(bytes28 batchId => Leaf[]) internal mLeaves;
    bytes28[] public batchesAnchored;
    mapping(bytes32 recordId => uint256) public anchorSuccesses; // write-once: at most 1
    mapping(bytes28 batchId => uint256) public batchSuccesses; // write-once: at most 1

    /// @dev Every single id the handler may use: SUFFIXES per namespace of the four members.
    function idAt(uint256 i) public view returns (bytes32) {
        i %= 4 * SUFFIXES;
        return _recordId(insts[i / SUFFIXES], uint96(i % SUFFIXES + 1));
    }

    /// @dev Every batch id the handler may use: BATCHES per namespace of the four members.
    function batchAt(uint256 i) public view returns (bytes28) {
        i %= 4 * BATCHES;
        return _batchId(insts[i / BATCHES], uint64(i % BATCHES + 1));
    }

    function anchoredCount() external view returns (uint256) {
        return anchored.length;
    }

    function recordsAddress() external view returns (address) {
        return address(records);
    }

    /// @dev Institutions and would-be institutions: the four members, a non-member, a stranger.
    function _caller(uint256 x) internal view returns (address) {
        x %= 6;
        return x < 4 ? insts[x] : x == 4 ? OUTSIDER : STRANGER;
    }

    function _patientAt(uint256 x) internal pure returns (address) {
        return address(uint160(uint256(keccak256(abi.encode("careledger.test.patient", x % 3)))));
    }

    function _categoryAt(uint256 x) internal pure returns (bytes32) {
        return keccak256(abi.encode("category", x % 3));
    }

    function _isMember(bytes32 id) internal pure returns (bool) {
        return uint256(id) & BATCH_FLAG != 0;
    }

    /// @dev A version to amend: the caller's most recent unsuperseded one among the last 8
    /// anchors, else any anchored id (which the contract must then refuse).
    function _latestOf(address who, uint256 r) internal view returns (bytes32) {
        uint256 n = anchored.length;
        for (uint256 i = 0; i < 8 && i < n; ++i) {
            bytes32 id = anchored[n - 1 - i];
            if (mAnchor[id].issuer == who && mAnchor[id].next == bytes32(0)) return id;
        }
        return anchored[r % n];
    }

    function _providerErr(address who) internal view returns (bytes memory) {
        if (mStatus[who] != 1) return abi.encodeWithSelector(NotActiveInstitution.selector, who);
        if (mRoles[who] & ROLE_PROVIDER == 0) return abi.encodeWithSelector(MissingRole.selector, who, ROLE_PROVIDER);
        return "";
    }

    // ================================================================ checks

    /// @dev After every call: one anchored id (rotating), one id of the id space, one batch and
    /// one member's status and epoch against the model.
    function _postCheck() internal override {
        uint256 k = ncalls;
        if (anchored.length != 0) _checkAnchor(anchored[k % anchored.length]);
        _checkAnchor(idAt(k));
        _checkBatch(batchAt(k));
        address member = insts[k % 4];
        (uint8 status,, uint32 epoch) = inst.membership(member);
        if (status != mStatus[member]) _violate("inv6: institution status differs from the model");
        if (epoch != mEpoch[member]) _violate("p4: admission epoch differs from the model");
    }

    /// @dev A single id against its anchor in the model; a member id against its batch
    /// (anchored iff the batch exists and the index is below its count; never a single binding).
    function _checkAnchor(bytes32 id) internal {
        Anchor storage m = mAnchor[id];
        bool anchored_ = m.leaf != bytes32(0);
        address issuer = m.issuer;
        if (_isMember(id)) {
            Batch storage b = mBatch[bytes28(id)];
            anchored_ = b.root != bytes32(0) && uint32(uint256(id)) < b.count;
            issuer = anchored_ ? address(bytes20(id)) : address(0);
        }
        if (records.bindingOf(id) != m.leaf) _violate("inv5: a binding changed after anchoring");
        if (records.nextVersionOf(id) != m.next) _violate("inv5: a successor changed after it was set");
        if (records.issuerOf(id) != issuer) _violate("inv5: the issuer of an anchor changed");
        if (records.isAnchored(id) != anchored_) _violate("inv5: isAnchored differs from the model");
    }

    function _checkBatch(bytes28 b) internal {
        Batch storage m = mBatch[b];
        (bytes32 root, uint32 count, uint64 at) = records.batch(b);
        if (root != m.root || count != m.count || at != m.anchoredAt) _violate("inv5: a batch header changed after anchoring");
        // members at the edges of the count
        if (m.count != 0) {
            if (!records.isAnchored(_memberId(b, m.count - 1))) _violate("p1: the last member of a batch is not anchored");
            if (m.count != type(uint32).max && records.isAnchored(_memberId(b, m.count))) {
                _violate("p1: a member at the batch's count is anchored");
            }
        } else if (records.isAnchored(_memberId(b, 0))) {
            _violate("p1: a member of a batch never anchored is anchored");
        }
    }

    /// @notice End of each run (called by the test): every id of the id space, every anchored
    /// id and batch equals the model; each id and batch id anchored at most once.
    function endOfRun() external {
        for (uint256 i = 0; i < 4 * SUFFIXES; ++i) {
            _checkAnchor(idAt(i));
            if (anchorSuccesses[idAt(i)] > 1) _violate("inv5: a record id was anchored twice");
        }
        for (uint256 i = 0; i < anchored.length; ++i) {
            _checkAnchor(anchored[i]);
            if (!records.isAnchored(anchored[i])) _violate("inv5: an anchored id is no longer anchored");
        }
        for (uint256 i = 0; i < 4 * BATCHES; ++i) {
            _checkBatch(batchAt(i));
            if (batchSuccesses[batchAt(i)] > 1) _violate("p1: a batch id was anchored twice");
        }
        for (uint256 i = 0; i < 4; ++i) {
            address a = insts[i];
            (uint8 status, uint8 roles, uint32 epoch) = inst.membership(a);
            if (status != mStatus[a] || epoch != mEpoch[a]) _violate("inv6: membership vs model (end of run)");
            if (status != 3 && roles != mRoles[a]) _violate("inv6: roles vs model (end of run)");
        }
    }

    // ================================================================ anchors

    struct A {
        address who;
        address patient;
        bytes32 id;
        bytes32 commitment;
        bytes32 category;
        bytes32 prev;
    }

    function _anchorErr(A memory a) internal view returns (bytes memory) {
        bytes memory err = _providerErr(a.who);
        if (err.length != 0) return err;
        if (a.patient == address(0)) return abi.encodeWithSelector(ZeroAddress.selector);
        if (address(bytes20(a.id)) != a.who || _isMember(a.id)) {
            return abi.encodeWithSelector(IRecordRegistry.RecordIdNotOwned.selector, a.id, a.who);
        }
        if (a.commitment == bytes32(0)) return abi.encodeWithSelector(IRecordRegistry.ZeroCommitment.selector);
        if (mAnchor[a.id].leaf != bytes32(0)) return abi.encodeWithSelector(IRecordRegistry.AlreadyAnchored.selector, a.id);
        if (a.prev == bytes32(0)) return "";
        Anchor storage p = mAnchor[a.prev];
        if (p.leaf == bytes32(0)) return abi.encodeWithSelector(IRecordRegistry.PreviousVersionNotFound.selector, a.prev);
        if (p.issuer != a.who) return abi.encodeWithSelector(IRecordRegistry.NotIssuer.selector, a.prev, p.issuer, a.who);
        if (p.next != bytes32(0)) {
            return abi.encodeWithSelector(IRecordRegistry.VersionAlreadySuperseded.selector, a.prev, p.next);
        }
        return "";
    }

    function anchor(uint256 seed) external tick {
        seed = _mix(seed);
        A memory a;
        // half the time a genesis provider (whatever its status and roles are by now)
        a.who = _b(seed, 0) < 128 ? (_b(seed, 7) % 2 == 0 ? HOSP_A : HOSP_B) : _caller(_b(seed, 0));
        // mostly a single id of the caller's own namespace; sometimes another's, or a member id
        uint256 kind = _b(seed, 1);
        if (kind < 200 && a.who != OUTSIDER && a.who != STRANGER) a.id = _recordId(a.who, uint96(_b(seed, 2) % SUFFIXES + 1));
        else if (kind < 232) a.id = idAt(_b(seed, 2));
        else a.id = _memberId(batchAt(_b(seed, 2)), uint32(_b(seed, 3) % 4));
        a.commitment = _b(seed, 3) < 16 ? bytes32(0) : keccak256(abi.encode("blob", seed));
        a.patient = _b(seed, 4) < 8 ? address(0) : _patientAt(seed);
        a.category = _categoryAt(seed >> 8);
        uint256 mode = _b(seed, 5) % 8;
        if (mode >= 4 && mode < 6 && anchored.length != 0) a.prev = _latestOf(a.who, _u32(seed, 6));
        else if (mode == 6) a.prev = idAt(_b(seed, 6));
        else if (mode == 7) a.prev = keccak256(abi.encode("never anchored", seed));

        bytes memory want = _anchorErr(a);
        vm.prank(a.who);
        (bool ok, bytes memory ret) =
            address(records).call(abi.encodeCall(records.anchor, (a.patient, a.id, a.commitment, a.category, a.prev)));
        if (_outcome(ok, ret, want, "anchor")) {
            if (_providerErr(a.who).length != 0) _violate("inv6: an inactive or non-provider institution anchored a record");
            if (mAnchor[a.id].leaf != bytes32(0)) _violate("inv5: a record id was anchored twice");
            if (address(bytes20(a.id)) != a.who) _violate("p1: a record was anchored in another institution's namespace");
            if (_isMember(a.id)) _violate("p1: a batch-member id was anchored as a single record");
            if (a.prev != bytes32(0) && mAnchor[a.prev].next != bytes32(0)) _violate("inv5: a version was superseded twice");
            ++anchorSuccesses[a.id];
            mAnchor[a.id] = Anchor(_leaf(a.patient, a.id, a.commitment, a.category), bytes32(0), a.who, a.patient, a.commitment, a.category);
            if (a.prev != bytes32(0)) mAnchor[a.prev].next = a.id;
            anchored.push(a.id);
            _ok(a.prev == bytes32(0) ? "anchor" : "amend");
        }
        _checkAnchor(a.id);
        if (a.prev != bytes32(0)) _checkAnchor(a.prev);
    }

    // ================================================================ batches

    struct B {
        address who;
        bytes28 batchId;
        bytes32 root;
        uint32 count;
        bytes32 category;
        uint256 n;
    }

    function _batchErr(B memory b) internal view returns (bytes memory) {
        bytes memory err = _providerErr(b.who);
        if (err.length != 0) return err;
        if (address(bytes20(b.batchId)) != b.who || uint256(bytes32(b.batchId)) & BATCH_FLAG == 0) {
            return abi.encodeWithSelector(IRecordRegistry.BatchIdNotOwned.selector, b.batchId, b.who);
        }
        if (b.root == bytes32(0)) return abi.encodeWithSelector(IRecordRegistry.ZeroRoot.selector);
        if (b.count == 0) return abi.encodeWithSelector(IRecordRegistry.EmptyBatch.selector);
        if (mBatch[b.batchId].root != bytes32(0)) {
            return abi.encodeWithSelector(IRecordRegistry.BatchAlreadyAnchored.selector, b.batchId);
        }
        return "";
    }

    function anchorBatch(uint256 seed) external tick {
        seed = _mix(seed);
        B memory b;
        b.who = _b(seed, 0) < 128 ? (_b(seed, 7) % 2 == 0 ? HOSP_A : HOSP_B) : _caller(_b(seed, 0));
        uint256 kind = _b(seed, 1);
        if (kind < 208 && b.who != OUTSIDER && b.who != STRANGER) b.batchId = _batchId(b.who, uint64(_b(seed, 2) % BATCHES + 1));
        else if (kind < 232) b.batchId = batchAt(_b(seed, 2));
        else b.batchId = _unflagged(batchAt(_b(seed, 2)));
        b.n = 1 + _b(seed, 3) % 8;
        Leaf[] memory leaves = _tree(b, seed);
        b.root = _b(seed, 4) < 8 ? bytes32(0) : _rootOf(leaves);
        uint256 c = _b(seed, 5);
        b.count = c < 16 ? 0 : c < 64 ? uint32(b.n + 1 + _b(seed, 6) % 4) : uint32(b.n);
        b.category = _categoryAt(seed >> 16);
        bytes memory want = _batchErr(b);
        vm.prank(b.who);
        (bool ok, bytes memory ret) =
            address(records).call(abi.encodeCall(records.anchorBatch, (b.batchId, b.root, b.count, b.category)));
        if (_outcome(ok, ret, want, "anchorBatch")) {
            if (_providerErr(b.who).length != 0) _violate("inv6: an inactive or non-provider institution anchored a batch");
            if (mBatch[b.batchId].root != bytes32(0)) _violate("p1: a batch id was anchored twice");
            if (address(bytes20(b.batchId)) != b.who) _violate("p1: a batch was anchored in another institution's namespace");
            ++batchSuccesses[b.batchId];
            mBatch[b.batchId] = Batch(b.root, b.count, uint64(now_));
            for (uint256 i = 0; i < leaves.length; ++i) {
                mLeaves[b.batchId].push(leaves[i]);
            }
            batchesAnchored.push(b.batchId);
            _ok("anchorBatch");
        }
        _checkBatch(b.batchId);
    }

    /// @dev n leaves for members 0..n-1; one time in eight one leaf names another id instead:
    /// a single id of the issuer, or a member of another batch.
    function _tree(B memory b, uint256 seed) internal view returns (Leaf[] memory leaves) {
        leaves = new Leaf[](b.n);
        for (uint256 i = 0; i < b.n; ++i) {
            uint256 s = uint256(keccak256(abi.encode(seed, i)));
            leaves[i] = Leaf(_memberId(b.batchId, uint32(i)), _patientAt(s), keccak256(abi.encode("leaf", s)), _categoryAt(s >> 8));
        }
        if (_b(seed, 8) < 32) {
            uint256 j = _b(seed, 9) % b.n;
            leaves[j].id = _b(seed, 9) % 2 == 0
                ? _recordId(address(bytes20(b.batchId)), uint96(_b(seed, 10) % SUFFIXES + 1))
                : _memberId(batchAt(_b(seed, 10)), uint32(j));
        }
    }

    function _leafHashes(Leaf[] memory leaves) internal pure returns (bytes32[] memory h) {
        h = new bytes32[](leaves.length);
        for (uint256 i = 0; i < leaves.length; ++i) {
            h[i] = _leaf(leaves[i].patient, leaves[i].id, leaves[i].commitment, leaves[i].category);
        }
    }

    function _rootOf(Leaf[] memory leaves) internal pure returns (bytes32) {
        return Merkle.root(_leafHashes(leaves));
    }

    // ================================================================ bindings

    struct C {
        address patient;
        bytes32 id;
        bytes32 commitment;
        bytes32 category;
        bytes32[] proof;
    }

    /// @dev RecordRegistry.checkBinding on the model: single ids by their stored binding only;
    /// members by their batch (exists, index below count) and the Merkle proof.
    function _bindingErr(C memory c) internal view returns (bytes memory) {
        bytes32 leaf = _leaf(c.patient, c.id, c.commitment, c.category);
        if (!_isMember(c.id)) {
            bytes32 bound = mAnchor[c.id].leaf;
            if (bound == bytes32(0)) return abi.encodeWithSelector(IRecordRegistry.RecordNotAnchored.selector, c.id);
            if (bound != leaf) return abi.encodeWithSelector(IRecordRegistry.RecordBindingMismatch.selector, c.id);
            return "";
        }
        Batch storage b = mBatch[bytes28(c.id)];
        if (b.root == bytes32(0) || uint32(uint256(c.id)) >= b.count) {
            return abi.encodeWithSelector(IRecordRegistry.RecordNotAnchored.selector, c.id);
        }
        if (Merkle.process(c.proof, leaf) != b.root) {
            return abi.encodeWithSelector(IRecordRegistry.RecordBindingMismatch.selector, c.id);
        }
        return "";
    }

    /// @notice Check a binding: an anchored single record or a leaf of an anchored batch, with
    /// its own data and proof or with one of them wrong, a leaf that names another id, an index
    /// at or above the count, an id or batch never anchored.
    function checkBinding(uint256 seed) external tick {
        seed = _mix(seed);
        C memory c;
        uint256 k = _b(seed, 0) % 4;
        if (k == 0 && anchored.length != 0) {
            Anchor storage a = mAnchor[anchored[_u32(seed, 1) % anchored.length]];
            (c.patient, c.id, c.commitment, c.category) = (a.patient, anchored[_u32(seed, 1) % anchored.length], a.commitment, a.category);
        } else if (k != 3 && batchesAnchored.length != 0) {
            bytes28 bid = batchesAnchored[_u32(seed, 1) % batchesAnchored.length];
            Leaf[] storage leaves = mLeaves[bid];
            uint256 i = _b(seed, 5) % leaves.length;
            Leaf memory l = leaves[i];
            (c.patient, c.id, c.commitment, c.category) = (l.patient, _b(seed, 6) < 32 ? l.id : _memberId(bid, uint32(i)), l.commitment, l.category);
            c.proof = Merkle.proof(_leafHashes(leaves), i);
            if (_b(seed, 7) < 32) c.id = _memberId(bid, uint32(leaves.length + _b(seed, 8) % 6)); // at or past the leaves
        } else {
            c.id = _b(seed, 1) % 2 == 0 ? idAt(_b(seed, 2)) : _memberId(batchAt(_b(seed, 2)), uint32(_b(seed, 3) % 9));
            (c.patient, c.commitment, c.category) = (_patientAt(seed), keccak256(abi.encode("leaf", seed)), _categoryAt(seed));
        }
        uint256 w = _b(seed, 9);
        if (w < 24) c.patient = _patientAt(uint160(c.patient) + 1);
        else if (w < 48) c.category = _categoryAt(uint256(c.category) + 1);
        else if (w < 72) c.commitment = keccak256(abi.encode(c.commitment));
        else if (w < 96 && c.proof.length != 0) c.proof[_b(seed, 10) % c.proof.length] = keccak256(abi.encode(seed));
        bytes memory want = _bindingErr(c);
        (bool ok, bytes memory ret) =
            address(records).call(abi.encodeCall(records.checkBinding, (c.patient, c.id, c.commitment, c.category, c.proof)));
        if (_outcome(ok, ret, want, "checkBinding")) {
            if (want.length != 0) _violate("p1: checkBinding accepted a record not bound to these values");
            _ok(_isMember(c.id) ? "checkBinding(member)" : "checkBinding(single)");
        }
        bool verifies = _isMember(c.id) && want.length == 0;
        if (records.verifyBatchRecord(c.proof, c.patient, c.id, c.commitment, c.category) != verifies) {
            _violate("p1: verifyBatchRecord differs from the model");
        }
    }

    /// @notice Record an erasure: only the active issuer of an anchored record.
    function recordErased(uint256 seed) external tick {
        seed = _mix(seed);
        bytes32 id = _b(seed, 1) % 2 == 0 ? idAt(_b(seed, 2)) : _memberId(batchAt(_b(seed, 2)), uint32(_b(seed, 3) % 9));
        if (_b(seed, 1) < 128 && anchored.length != 0) id = anchored[_u32(seed, 4) % anchored.length];
        address issuer = address(bytes20(id));
        address who = _b(seed, 0) < 160 ? issuer : _caller(_b(seed, 0));
        bool isAnchored = _isMember(id)
            ? mBatch[bytes28(id)].root != bytes32(0) && uint32(uint256(id)) < mBatch[bytes28(id)].count
            : mAnchor[id].leaf != bytes32(0);
        bytes memory want = mStatus[who] != 1
            ? abi.encodeWithSelector(NotActiveInstitution.selector, who)
            : issuer != who
                ? abi.encodeWithSelector(IRecordRegistry.NotIssuer.selector, id, issuer, who)
                : !isAnchored ? abi.encodeWithSelector(IRecordRegistry.RecordNotAnchored.selector, id) : bytes("");
        vm.prank(who);
        (bool ok, bytes memory ret) = address(records).call(abi.encodeCall(records.recordErased, (id)));
        if (_outcome(ok, ret, want, "recordErased")) _ok("recordErased");
        _checkAnchor(id);
    }
}
