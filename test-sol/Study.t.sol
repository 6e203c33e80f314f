// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {console} from "./utils/console.sol";
import {IConsentRegistry} from "../contracts/interfaces/IConsentRegistry.sol";
import {IRecordRegistry} from "../contracts/interfaces/IRecordRegistry.sol";
import {IResearchRegistry} from "../contracts/interfaces/IResearchRegistry.sol";
import {ResearchRegistry} from "../contracts/ResearchRegistry.sol";
import {MissingRole, NotActiveInstitution} from "../contracts/interfaces/CareLedgerErrors.sol";

/// @notice Research studies (ConsentRegistry.registerStudy / recordStudyAccess) and datasets with
/// points (ResearchRegistry). A study access batch writes, per record, exactly the entry a single
/// recordAccess would (the chain recomputed here entry by entry), needs each patient's live
/// study-bound HRESCH grant (a SCOPE_ALL grant or another study's does not count), checks every
/// record's binding, and is all-or-nothing. Gas per entry and per credited patient at 100 are
/// measured (and bounded) here.
contract StudyTest is Fixture {
    uint8 internal constant HRESCH = 4;
    bytes32 internal constant CAT = keccak256(abi.encode("careledger.category", "11502-2"));
    bytes32 internal constant PROTOCOL = keccak256("protocol v1");

    ResearchRegistry internal research;
    bytes28 internal batchId;
    bytes32[] internal leaves;
    address[] internal patients; // ascending
    uint256 internal constant PATIENTS = 20;
    uint256 internal constant PER_PATIENT = 5; // 100 records in one batch of HOSP_A

    function setUp() public {
        _deploy();
        research = new ResearchRegistry(consent);
        address[] memory sorted = _contributors(PATIENTS);
        for (uint256 p = 0; p < PATIENTS; ++p) {
            patients.push(sorted[p]);
        }
        batchId = _batchId(HOSP_A, 7);
        for (uint256 i = 0; i < PATIENTS * PER_PATIENT; ++i) {
            leaves.push(_leaf(patients[i / PER_PATIENT], _memberId(batchId, uint32(i)), _commitment(i), CAT));
        }
        vm.prank(HOSP_A);
        records.anchorBatch(batchId, Merkle.root(leaves), uint32(leaves.length), CAT);
    }

    function _commitment(uint256 i) internal pure returns (bytes32) {
        return keccak256(abi.encode("blob", i));
    }

    function _register() internal returns (uint256 id) {
        vm.prank(LAB);
        id = consent.registerStudy(PROTOCOL);
    }

    function _consent(address patient, uint256 studyId) internal {
        bytes32 scope = consent.studyScope(studyId);
        vm.prank(patient);
        consent.grant(patient, LAB, scope, uint32(1) << HRESCH, uint64(block.timestamp + 30 days));
    }

    /// @dev Items for records [from, to) of the batch (grouped by patient, ascending).
    function _items(uint256 from, uint256 to) internal view returns (IRecordRegistry.Binding[] memory items) {
        items = new IRecordRegistry.Binding[](to - from);
        for (uint256 i = from; i < to; ++i) {
            items[i - from] =
                IRecordRegistry.Binding(patients[i / PER_PATIENT], _memberId(batchId, uint32(i)), _commitment(i), CAT);
        }
    }

    /// @dev One multiproof of every batch member among `items`, whatever their order: the leaves
    /// in increasing leaf index (the tree's right-to-left order), `order` naming their items.
    function _proofs(IRecordRegistry.Binding[] memory items)
        internal
        view
        returns (IRecordRegistry.BatchProof[] memory proofs_)
    {
        uint256[] memory members = new uint256[](items.length);
        uint256[] memory at = new uint256[](items.length);
        uint256 m;
        for (uint256 i = 0; i < items.length; ++i) {
            if (uint256(items[i].recordId) & (1 << 95) == 0) continue; // a single record
            uint256 leaf = uint32(uint256(items[i].recordId));
            uint256 k = m++;
            while (k > 0 && members[k - 1] > leaf) {
                (members[k], at[k]) = (members[k - 1], at[k - 1]);
                --k;
            }
            (members[k], at[k]) = (leaf, i);
        }
        if (m == 0) return new IRecordRegistry.BatchProof[](0);
        uint256[] memory sorted = new uint256[](m);
        bytes memory order = new bytes(2 * m);
        for (uint256 k = 0; k < m; ++k) {
            sorted[k] = members[k];
            order[2 * k] = bytes1(uint8(at[k] >> 8));
            order[2 * k + 1] = bytes1(uint8(at[k]));
        }
        (bytes32[] memory proof, bool[] memory flags) = Merkle.multiProof(leaves, sorted);
        proofs_ = new IRecordRegistry.BatchProof[](1);
        proofs_[0] = IRecordRegistry.BatchProof(order, proof, flags);
    }

    /// @dev recordStudyAccess of `items` with their multiproof, by LAB.
    function _access(uint256 id, IRecordRegistry.Binding[] memory items) internal {
        IRecordRegistry.BatchProof[] memory proofs_ = _proofs(items);
        vm.prank(LAB);
        consent.recordStudyAccess(id, items, proofs_);
    }

    // ---------------------------------------------------------------- studies

    function test_aResearcherRegistersAndClosesAStudy() public {
        vm.expectEmit(address(consent));
        emit IConsentRegistry.StudyRegistered(1, LAB, PROTOCOL);
        uint256 id = _register();
        assertEq(id, 1, "check 1");
        assertEq(consent.studyCount(), 1, "check 2");
        IConsentRegistry.Study memory s = consent.study(1);
        assertEq(s.institute, LAB, "check 3");
        assertEq(s.protocolHash, PROTOCOL, "check 4");
        assertEq(s.registeredAt, block.timestamp, "check 5");
        assertEq(s.closedAt, 0, "check 6");
        assertEq(consent.studyScope(1), keccak256(abi.encode("careledger.study", uint256(1))), "check 7");
        vm.prank(HOSP_A);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.NotStudyInstitute.selector, 1, HOSP_A));
        consent.closeStudy(1);
        vm.prank(LAB);
        consent.closeStudy(1);
        assertEq(consent.study(1).closedAt, block.timestamp, "check 8");
        vm.prank(LAB);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.StudyIsClosed.selector, 1));
        consent.closeStudy(1);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.StudyNotFound.selector, 2));
        consent.study(2);
    }

    function test_onlyActiveResearchersRegister() public {
        vm.prank(HOSP_B);
        vm.expectRevert(abi.encodeWithSelector(MissingRole.selector, HOSP_B, ROLE_RESEARCHER));
        consent.registerStudy(PROTOCOL);
        vm.prank(OUTSIDER);
        vm.expectRevert(abi.encodeWithSelector(NotActiveInstitution.selector, OUTSIDER));
        consent.registerStudy(PROTOCOL);
        vm.prank(LAB);
        vm.expectRevert(IConsentRegistry.InvalidScope.selector);
        consent.registerStudy(bytes32(0));
    }

    // ---------------------------------------------------------------- study access

    function test_aBatchWritesTheEntriesSingleAccessesWould() public {
        uint256 id = _register();
        for (uint256 p = 0; p < PATIENTS; ++p) {
            _consent(patients[p], id);
        }
        // patient 0 already has a history: the batch continues it
        vm.prank(patients[0]);
        consent.grant(patients[0], HOSP_B, SCOPE_ALL, 1, uint64(block.timestamp + 1 days));
        vm.prank(HOSP_B);
        consent.recordAccess(patients[0], _memberId(batchId, 0), CAT, _commitment(0), TREAT, Merkle.proof(leaves, 0));
        (bytes32 head0,) = consent.auditHead(patients[0]);

        vm.expectEmit(address(consent));
        emit IConsentRegistry.StudyAccessRecorded(id, LAB, uint32(PATIENTS), uint32(leaves.length));
        _access(id, _items(0, leaves.length));

        for (uint256 p = 0; p < PATIENTS; ++p) {
            bytes32 h = p == 0 ? head0 : bytes32(0);
            uint64 seq = p == 0 ? 1 : 0;
            for (uint256 k = 0; k < PER_PATIENT; ++k) {
                uint256 i = p * PER_PATIENT + k;
                h = _auditStep(
                    h, patients[p], LAB, _memberId(batchId, uint32(i)), CAT, HRESCH, uint64(block.timestamp), seq, false
                );
                ++seq;
            }
            (bytes32 head, uint64 count) = consent.auditHead(patients[p]);
            assertEq(head, h, "check 9");
            assertEq(count, seq, "check 10");
        }
    }

    function _refused(uint256 id, IRecordRegistry.Binding[] memory items, address caller, bytes memory err)
        internal
    {
        _refused(id, items, _proofs(items), caller, err);
    }

    function _refused(
        uint256 id,
        IRecordRegistry.Binding[] memory items,
        IRecordRegistry.BatchProof[] memory proofs_,
        address caller,
        bytes memory err
    ) internal {
        bytes32[] memory before = new bytes32[](PATIENTS);
        for (uint256 p = 0; p < PATIENTS; ++p) {
            (before[p],) = consent.auditHead(patients[p]);
        }
        vm.prank(caller);
        vm.expectRevert(err);
        consent.recordStudyAccess(id, items, proofs_);
        for (uint256 p = 0; p < PATIENTS; ++p) {
            (bytes32 h,) = consent.auditHead(patients[p]);
            assertEq(h, before[p], "check 11");
        }
    }

    function test_everyRefusalLeavesEveryChainAsItWas() public {
        uint256 id = _register();
        for (uint256 p = 0; p < PATIENTS; ++p) {
            if (p != 3) _consent(patients[p], id);
        }
        IRecordRegistry.Binding[] memory all = _items(0, leaves.length);
        // patient 3 did not consent to this study
        _refused(
            id,
            all,
            LAB,
            abi.encodeWithSelector(
                IConsentRegistry.AccessNotAuthorized.selector, patients[3], LAB, _memberId(batchId, 15), HRESCH
            )
        );
        IRecordRegistry.Binding[] memory two = _items(0, 10); // patients 0 and 1
        // out of order: patient 1's records, then patient 0's
        IRecordRegistry.Binding[] memory swapped = _items(0, 10);
        for (uint256 k = 0; k < 5; ++k) {
            (swapped[k], swapped[k + 5]) = (two[k + 5], two[k]);
        }
        _refused(id, swapped, LAB, abi.encodeWithSelector(IConsentRegistry.BadStudyBatch.selector, 5));
        // a patient's records split in two groups
        IRecordRegistry.Binding[] memory split = _items(0, 10);
        (split[4], split[5]) = (split[5], split[4]);
        _refused(id, split, LAB, abi.encodeWithSelector(IConsentRegistry.BadStudyBatch.selector, 5));
        _refused(id, new IRecordRegistry.Binding[](0), LAB, abi.encodeWithSelector(IConsentRegistry.BadStudyBatch.selector, 0));
        // another institution, an unknown study
        _refused(id, two, HOSP_A, abi.encodeWithSelector(IConsentRegistry.NotStudyInstitute.selector, id, HOSP_A));
        _refused(9, two, LAB, abi.encodeWithSelector(IConsentRegistry.StudyNotFound.selector, 9));
        // a record not bound as claimed
        IRecordRegistry.Binding[] memory wrong = _items(0, 10);
        wrong[7].commitment = keccak256("another blob");
        // (a multiproof fails as a whole: the error names its first leaf's record)
        _refused(id, wrong, LAB, abi.encodeWithSelector(IRecordRegistry.RecordBindingMismatch.selector, wrong[0].recordId));
        // the institute suspended; then reinstated, it may go on
        _suspend(LAB);
        _refused(id, two, LAB, abi.encodeWithSelector(NotActiveInstitution.selector, LAB));
        _reinstate(LAB);
        _access(id, two);
        // closed
        vm.prank(LAB);
        consent.closeStudy(id);
        _refused(id, _items(10, 15), LAB, abi.encodeWithSelector(IConsentRegistry.StudyIsClosed.selector, id));
    }

    /// Multiproofs: every batch member proven exactly once, each proof well formed and leading
    /// to its batch's root; several proofs per batch and single records mixed in are accepted.
    function test_multiproofsProveEveryBatchMemberOnce() public {
        uint256 id = _register();
        for (uint256 p = 0; p < PATIENTS; ++p) {
            _consent(patients[p], id);
        }
        IRecordRegistry.Binding[] memory items = _items(0, 10);
        IRecordRegistry.BatchProof[] memory good = _proofs(items);
        bytes memory missing0 = abi.encodeWithSelector(IRecordRegistry.MissingBatchProof.selector, items[0].recordId);
        // no proof at all; a proof of the first five only
        _refused(id, items, new IRecordRegistry.BatchProof[](0), LAB, missing0);
        IRecordRegistry.BatchProof[] memory half = _proofs(_items(0, 5));
        _refused(
            id,
            items,
            half,
            LAB,
            abi.encodeWithSelector(IRecordRegistry.MissingBatchProof.selector, items[5].recordId)
        );
        // malformed order: empty, odd, an index out of range, an item proven twice
        bytes memory bad0 = abi.encodeWithSelector(IRecordRegistry.BadBatchProof.selector, 0);
        IRecordRegistry.BatchProof[] memory bad = _proofs(items);
        bad[0].order = "";
        _refused(id, items, bad, LAB, bad0);
        bad = _proofs(items);
        bad[0].order = bytes.concat(bad[0].order, hex"00");
        _refused(id, items, bad, LAB, bad0);
        bad = _proofs(items);
        bad[0].order[19] = 0x0a; // item 10 of 10
        _refused(id, items, bad, LAB, bad0);
        bad = _proofs(items);
        bad[0].order[19] = 0x00; // item 0 twice
        _refused(id, items, bad, LAB, bad0);
        IRecordRegistry.BatchProof[] memory twice = new IRecordRegistry.BatchProof[](2);
        (twice[0], twice[1]) = (good[0], good[0]);
        _refused(id, items, twice, LAB, abi.encodeWithSelector(IRecordRegistry.BadBatchProof.selector, 1));
        // a tampered sibling, leaves in another order, flags that do not fit the proof
        bad = _proofs(items);
        bad[0].proof[0] = keccak256("not a node");
        bytes memory mismatch0 = abi.encodeWithSelector(IRecordRegistry.RecordBindingMismatch.selector, items[0].recordId);
        _refused(id, items, bad, LAB, mismatch0);
        bad = _proofs(items);
        (bad[0].order[1], bad[0].order[5]) = (bad[0].order[5], bad[0].order[1]); // not siblings
        _refused(
            id,
            items,
            bad,
            LAB,
            abi.encodeWithSelector(IRecordRegistry.RecordBindingMismatch.selector, items[2].recordId)
        );
        bad = _proofs(items);
        bad[0].flags = new bool[](1);
        _refused(id, items, bad, LAB, abi.encodeWithSignature("MerkleProofInvalidMultiproof()"));
        // a member past the batch's count is refused even with a proof that would otherwise hold
        IRecordRegistry.Binding[] memory past = _items(0, 1);
        past[0].recordId = _memberId(batchId, uint32(leaves.length));
        _refused(
            id,
            past,
            _proofs(_items(0, 1)),
            LAB,
            abi.encodeWithSelector(IRecordRegistry.RecordNotAnchored.selector, past[0].recordId)
        );
    }

    /// Two multiproofs of one batch, and a single record of patient 1 among them: accepted.
    function test_multiproofsMayBeSplitAndMixedWithSingles() public {
        uint256 id = _register();
        for (uint256 p = 0; p < PATIENTS; ++p) {
            _consent(patients[p], id);
        }
        IRecordRegistry.Binding[] memory items = _items(0, 10);
        bytes32 single = _recordId(HOSP_A, 77);
        vm.prank(HOSP_A);
        records.anchor(patients[1], single, keccak256("single blob"), CAT, bytes32(0));
        IRecordRegistry.Binding[] memory mixed = new IRecordRegistry.Binding[](11);
        for (uint256 i = 0; i < 10; ++i) {
            mixed[i < 5 ? i : i + 1] = items[i];
        }
        mixed[5] = IRecordRegistry.Binding(patients[1], single, keccak256("single blob"), CAT);
        IRecordRegistry.Binding[] memory firstFive = _items(0, 5);
        IRecordRegistry.Binding[] memory nextFive = _items(5, 10);
        IRecordRegistry.BatchProof[] memory two = new IRecordRegistry.BatchProof[](2);
        two[0] = _proofs(firstFive)[0];
        two[1] = _proofs(nextFive)[0];
        for (uint256 k = 0; k < 5; ++k) {
            two[1].order[2 * k + 1] = bytes1(uint8(6 + k)); // items 6..10 of `mixed`
        }
        vm.expectEmit(address(consent));
        emit IConsentRegistry.StudyAccessRecorded(id, LAB, 2, 11);
        vm.prank(LAB);
        consent.recordStudyAccess(id, mixed, two);
        (, uint64 count) = consent.auditHead(patients[1]);
        assertEq(count, 6, "patient 1: five batch members and the single record");
    }

    function test_onlyAConsentBoundToTheStudyCounts() public {
        uint256 first = _register();
        uint256 second = _register();
        address p = patients[0];
        IRecordRegistry.Binding[] memory items = _items(0, 5);
        bytes memory denied =
            abi.encodeWithSelector(IConsentRegistry.AccessNotAuthorized.selector, p, LAB, items[0].recordId, HRESCH);
        // a research grant on every record is not a study consent
        vm.prank(p);
        consent.grant(p, LAB, SCOPE_ALL, ALL_PURPOSES, uint64(block.timestamp + 30 days));
        _refused(first, items, LAB, denied);
        // consent to the second study does not open the first
        _consent(p, second);
        _refused(first, items, LAB, denied);
        _access(second, items);
        // revoked: refused from the next block
        bytes32 secondScope = consent.studyScope(second);
        vm.prank(p);
        consent.revoke(p, LAB, secondScope);
        _refused(second, items, LAB, denied);
        // expired
        _consent(p, second);
        vm.warp(block.timestamp + 30 days);
        _refused(second, items, LAB, denied);
    }

    /// forge-config: default.fuzz.runs = 5000
    function testFuzz_aBatchIsAllOrNothing(uint256 seed, uint8 from, uint8 length) public {
        uint256 id = _register();
        uint256 start = uint256(from) % leaves.length;
        uint256 end = start + 1 + uint256(length) % (leaves.length - start);
        for (uint256 p = 0; p < PATIENTS; ++p) {
            if (uint256(keccak256(abi.encode(seed, p))) % 8 != 0) _consent(patients[p], id);
        }
        IRecordRegistry.Binding[] memory items = _items(start, end);
        bool allConsented = true;
        for (uint256 i = 0; i < items.length; ++i) {
            uint256 p = (start + i) / PER_PATIENT;
            if (uint256(keccak256(abi.encode(seed, p))) % 8 == 0) allConsented = false;
        }
        bytes32[] memory before = new bytes32[](PATIENTS);
        for (uint256 p = 0; p < PATIENTS; ++p) {
            (before[p],) = consent.auditHead(patients[p]);
        }
        vm.prank(LAB);
        (bool ok,) = address(consent).call(abi.encodeCall(consent.recordStudyAccess, (id, items, _proofs(items))));
        assertEq(ok, allConsented, "check 12");
        for (uint256 p = 0; p < PATIENTS; ++p) {
            (bytes32 h, uint64 count) = consent.auditHead(patients[p]);
            uint256 mine = 0;
            for (uint256 i = start; i < end; ++i) {
                if (i / PER_PATIENT == p) ++mine;
            }
            if (!ok || mine == 0) {
                assertEq(h, before[p], "check 13");
            } else {
                assertEq(count, mine, "check 14");
            }
        }
    }

    /// Gas of one study access entry at 100 entries (20 patients × 5 records of one batch of
    /// 100, proofs of depth 7), for patients with and without an earlier history entry. As in
    /// GasScaling.t.sol's table: each measured call in a cold state (every account and slot cold
    /// but the target's account, which a transaction's 21,000 pays for), the called frame's
    /// execution gas (lastCallGas), plus 21,000 and the exact calldata's cost: receipt gas.
    function test_gasPerEntryAt100() public {
        uint256 id = _register();
        for (uint256 p = 0; p < PATIENTS; ++p) {
            _consent(patients[p], id);
        }
        IRecordRegistry.Binding[] memory items = _items(0, leaves.length);
        bytes memory data = abi.encodeCall(consent.recordStudyAccess, (id, items, _proofs(items)));
        uint256 fresh = _receiptGas(address(consent), data);
        uint256 again = _receiptGas(address(consent), data);
        console.log("study access, 100 entries (5 per patient): receipt gas per entry, fresh chains", fresh / 100);
        console.log("study access, 100 entries (5 per patient): receipt gas per entry, existing chains", again / 100);
        console.log("study access, 100 entries: calldata gas per entry", _calldataGas(data) / 100);
        assertLe(again / 100, 15_000, "at most 15,000 gas per entry at 100 entries");
    }

    /// @dev Receipt gas of `data` sent by LAB to `target` in a cold state (see above).
    function _receiptGas(address target, bytes memory data) internal returns (uint256) {
        vm.cool(address(consent));
        vm.cool(address(records));
        vm.cool(address(inst));
        vm.cool(address(research));
        consent.SCOPE_ALL(); // warm the target's account (research: its constant), no storage read
        research.POINTS_PER_DATASET();
        vm.prank(LAB);
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
        return vm.lastCallGas().gasTotalUsed + 21_000 + _calldataGas(data);
    }

    function _calldataGas(bytes memory data) internal pure returns (uint256 gas) {
        for (uint256 i = 0; i < data.length; ++i) {
            gas += data[i] == 0 ? 4 : 16;
        }
    }

    // ---------------------------------------------------------------- datasets and points

    /// @dev `n` addresses as real ones look (20 non-zero bytes: calldata priced as a real
    /// transaction's), ascending.
    function _contributors(uint256 n) internal pure returns (address[] memory list) {
        list = new address[](n);
        for (uint256 i = 0; i < n; ++i) {
            address a = address(uint160(uint256(keccak256(abi.encode("patient", i)))));
            uint256 k = i;
            while (k > 0 && list[k - 1] > a) {
                list[k] = list[k - 1];
                --k;
            }
            list[k] = a;
        }
    }

    function test_aDatasetCreditsEachContributorOnce() public {
        uint256 id = _register();
        address[] memory c = _contributors(3);
        vm.expectEmit(address(research));
        emit IResearchRegistry.DatasetAnchored(1, id, keccak256("data"), keccak256("manifest"), 3);
        vm.expectEmit(address(research));
        emit IResearchRegistry.PointsCredited(c[0]);
        vm.prank(LAB);
        assertEq(research.anchorDataset(id, keccak256("data"), keccak256("manifest"), c), 1, "check 15");
        vm.prank(LAB);
        address[] memory two = new address[](2);
        (two[0], two[1]) = (c[0], c[1]);
        research.anchorDataset(id, keccak256("data 2"), keccak256("manifest 2"), two);
        assertEq(research.pointsOf(c[0]), 2, "check 16");
        assertEq(research.pointsOf(c[2]), 1, "check 17");
        IResearchRegistry.Dataset memory d = research.dataset(2);
        assertEq(d.studyId, id, "check 18");
        assertEq(d.datasetHash, keccak256("data 2"), "check 19");
        assertEq(d.contributors, 2, "check 20");
        assertEq(research.datasetCount(), 2, "check 21");
        vm.expectRevert(abi.encodeWithSelector(IResearchRegistry.DatasetNotFound.selector, 3));
        research.dataset(3);
    }

    function test_datasetRefusals() public {
        uint256 id = _register();
        address[] memory c = _contributors(3);
        vm.prank(HOSP_A);
        vm.expectRevert(abi.encodeWithSelector(IResearchRegistry.NotDatasetInstitute.selector, id, HOSP_A));
        research.anchorDataset(id, keccak256("d"), bytes32(0), c);
        vm.prank(LAB);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.StudyNotFound.selector, 5));
        research.anchorDataset(5, keccak256("d"), bytes32(0), c);
        vm.prank(LAB);
        vm.expectRevert(abi.encodeWithSelector(IResearchRegistry.BadDataset.selector, 0));
        research.anchorDataset(id, bytes32(0), bytes32(0), c);
        vm.prank(LAB);
        vm.expectRevert(abi.encodeWithSelector(IResearchRegistry.BadDataset.selector, 0));
        research.anchorDataset(id, keccak256("d"), bytes32(0), new address[](0));
        (c[1], c[2]) = (c[2], c[1]);
        vm.prank(LAB);
        vm.expectRevert(abi.encodeWithSelector(IResearchRegistry.BadDataset.selector, 2));
        research.anchorDataset(id, keccak256("d"), bytes32(0), c);
        c[2] = c[1]; // a patient twice
        vm.prank(LAB);
        vm.expectRevert(abi.encodeWithSelector(IResearchRegistry.BadDataset.selector, 2));
        research.anchorDataset(id, keccak256("d"), bytes32(0), c);
        // an element that is not an address (bits above 160 set: the ABI's own check)
        c = _contributors(3);
        bytes memory data = abi.encodeCall(research.anchorDataset, (id, keccak256("d"), bytes32(0), c));
        data[4 + 32 * 6 + 11] = 0x01; // contributors[1]: a byte of its 12-byte zero padding
        vm.prank(LAB);
        (bool ok, bytes memory err) = address(research).call(data);
        assertEq(ok, false, "a dirty address is refused");
        assertEq(keccak256(err), keccak256(abi.encodeWithSelector(IResearchRegistry.BadDataset.selector, 1)), "by index");
        _suspend(LAB);
        vm.prank(LAB);
        vm.expectRevert(abi.encodeWithSelector(IResearchRegistry.NotDatasetInstitute.selector, id, LAB));
        research.anchorDataset(id, keccak256("d"), bytes32(0), _contributors(1));
        assertEq(research.datasetCount(), 0, "check 22");
    }

    /// Receipt gas per credited patient in a dataset of 100 first-time contributors (bounded:
    /// 25,000), measured as test_gasPerEntryAt100 is.
    function test_gasPerCreditedPatientAt100() public {
        uint256 id = _register();
        bytes memory data =
            abi.encodeCall(research.anchorDataset, (id, keccak256("d"), keccak256("m"), _contributors(100)));
        uint256 perPatient = _receiptGas(address(research), data) / 100;
        console.log("dataset of 100 first-time contributors: receipt gas per credited patient", perPatient);
        assertLe(perPatient, 25_000, "at most 25,000 gas per credited patient");
    }
}
