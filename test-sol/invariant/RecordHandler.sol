// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {HandlerBase} from "./HandlerBase.sol";
import {IRecordRegistry} from "../../contracts/interfaces/IRecordRegistry.sol";

/// @notice Invariant handler of RecordRegistry (SECURITY.md 5 and 6): anchors, amendments and
/// batches by members, non-providers, suspended, removed and re-admitted members, outsiders and
/// strangers, over a small id space so that re-anchoring and double amendments are attempted
/// often. Outcomes are predicted from a model; any disagreement or breach is recorded.
contract RecordHandler is HandlerBase {
    uint256 public constant SUFFIXES = 16; // record ids per issuer namespace
    uint256 public constant ROOTS = 8; // batch roots

    address internal constant STRANGER = address(uint160(uint256(keccak256("careledger.test.STRANGER"))));

    struct Anchor {
        bytes32 commitment;
        bytes32 next;
        address issuer;
        address patient;
    }

    struct Batch {
        address issuer;
        uint32 count;
        uint64 anchoredAt;
        bytes32 category;
    }

    mapping(bytes32 recordId => Anchor) internal mAnchor;
    bytes32[] public anchored; // every anchored id, in order (only grows)
    mapping(bytes32 root => Batch) internal mBatch;
    mapping(bytes32 recordId => uint256) public anchorSuccesses; // write-once: at most 1

    /// @dev Every id the handler may use: SUFFIXES per namespace of the four members.
    function idAt(uint256 i) public view returns (bytes32) {
        i %= 4 * SUFFIXES;
        return _recordId(insts[i / SUFFIXES], uint96(i % SUFFIXES + 1));
    }

    function rootAt(uint256 i) public pure returns (bytes32) {
        return keccak256(abi.encode("careledger.test.root", i % ROOTS));
    }

    function anchoredCount() external view returns (uint256) {
        return anchored.length;
    }

    function modelAnchor(bytes32 id) external view returns (Anchor memory) {
        return mAnchor[id];
    }

    function modelBatch(bytes32 root) external view returns (Batch memory) {
        return mBatch[root];
    }

    function recordsAddress() external view returns (address) {
        return address(records);
    }

    /// @dev Institutions and would-be institutions: the four members, a non-member, a stranger.
    function _caller(uint256 x) internal view returns (address) {
        x %= 6;
        return x < 4 ? insts[x] : x == 4 ? OUTSIDER : STRANGER;
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

    function _provider(address who) internal view returns (bool) {
        return mStatus[who] == 1 && mRoles[who] & ROLE_PROVIDER != 0;
    }

    /// @dev After every call: one anchored id (rotating) and one batch root against the model,
    /// and one member's status.
    function _postCheck() internal override {
        uint256 k = ncalls;
        if (anchored.length != 0) _checkAnchor(anchored[k % anchored.length]);
        _checkAnchor(idAt(k));
        _checkBatch(rootAt(k));
        address member = insts[k % 4];
        if (inst.statusOf(member) != mStatus[member]) _violate("inv6: institution status differs from the model");
    }

    function _checkAnchor(bytes32 id) internal {
        Anchor storage m = mAnchor[id];
        if (records.commitmentOf(id) != m.commitment) _violate("inv5: a commitment changed after anchoring");
        if (records.nextVersionOf(id) != m.next) _violate("inv5: a successor changed after it was set");
        if (records.issuerOf(id) != m.issuer) _violate("inv5: the issuer of an anchor changed");
        if (records.isAnchored(id) != (m.commitment != bytes32(0))) _violate("inv5: isAnchored differs from the model");
    }

    function _checkBatch(bytes32 root) internal {
        Batch storage m = mBatch[root];
        (address issuer, uint32 count, uint64 at, bytes32 category) = records.batch(root);
        if (issuer != m.issuer || count != m.count || at != m.anchoredAt || category != m.category) {
            _violate("inv5: a batch header changed after anchoring");
        }
    }

    // ================================================================ anchors

    function anchor(uint256 seed) external tick {
        seed = _mix(seed);
        // half the time a genesis provider (whatever its status and roles are by now)
        address who = _b(seed, 0) < 128 ? (_b(seed, 7) % 2 == 0 ? HOSP_A : HOSP_B) : _caller(_b(seed, 0));
        // mostly an id of the caller's own namespace; sometimes another's (must be refused)
        bytes32 id = _b(seed, 1) < 200 && who != OUTSIDER && who != STRANGER
            ? _recordId(who, uint96(_b(seed, 2) % SUFFIXES + 1))
            : idAt(_b(seed, 2));
        bytes32 commitment = _b(seed, 3) < 16 ? bytes32(0) : keccak256(abi.encode("blob", seed));
        address patient = _b(seed, 4) < 8 ? address(0) : address(uint160(uint256(keccak256(abi.encode(seed % 5)))));
        bytes32 prev;
        uint256 mode = _b(seed, 5) % 4;
        if (mode == 1 && anchored.length != 0) prev = _latestOf(who, _u32(seed, 6));
        else if (mode == 2) prev = idAt(_b(seed, 6));
        else if (mode == 3) prev = keccak256(abi.encode("never anchored", seed));

        bool expect = _provider(who) && patient != address(0) && address(bytes20(id)) == who
            && commitment != bytes32(0) && mAnchor[id].commitment == bytes32(0)
            && (prev == bytes32(0)
                || (mAnchor[prev].commitment != bytes32(0) && mAnchor[prev].issuer == who && mAnchor[prev].next == bytes32(0)));
        vm.prank(who);
        try records.anchor(patient, id, commitment, keccak256(abi.encode("category", seed % 3)), prev) {
            if (!_provider(who)) _violate("inv6: an inactive or non-provider institution anchored a record");
            if (mAnchor[id].commitment != bytes32(0)) _violate("inv5: a record id was anchored twice");
            if (prev != bytes32(0) && mAnchor[prev].next != bytes32(0)) _violate("inv5: a version was superseded twice");
            if (!expect) _violate("model: anchor succeeded unexpectedly");
            if (++anchorSuccesses[id] > 1) _violate("inv5: a record id was anchored twice");
            mAnchor[id] = Anchor(commitment, bytes32(0), who, patient);
            if (prev != bytes32(0)) mAnchor[prev].next = id;
            anchored.push(id);
            _ok(prev == bytes32(0) ? "anchor" : "amend");
        } catch {
            if (expect) _violate("model: anchor reverted unexpectedly");
        }
        _checkAnchor(id);
        if (prev != bytes32(0)) _checkAnchor(prev);
    }

    function anchorBatch(uint256 seed) external tick {
        seed = _mix(seed);
        address who = _caller(_b(seed, 0));
        bytes32 root = _b(seed, 1) < 8 ? bytes32(0) : rootAt(_b(seed, 2));
        uint32 count = _b(seed, 3) < 16 ? 0 : uint32(_u32(seed, 4));
        bytes32 category = keccak256(abi.encode("category", seed % 3));
        bool expect = _provider(who) && root != bytes32(0) && count != 0 && mBatch[root].issuer == address(0);
        vm.prank(who);
        try records.anchorBatch(root, count, category) {
            if (!_provider(who)) _violate("inv6: an inactive or non-provider institution anchored a batch");
            if (mBatch[root].issuer != address(0)) _violate("inv5: a batch root was anchored twice");
            if (!expect) _violate("model: anchorBatch succeeded unexpectedly");
            mBatch[root] = Batch(who, count, uint64(now_), category);
            _ok("anchorBatch");
        } catch {
            if (expect) _violate("model: anchorBatch reverted unexpectedly");
        }
        _checkBatch(root);
    }
}
