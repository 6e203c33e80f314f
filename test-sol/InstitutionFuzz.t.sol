// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Test} from "./utils/Test.sol";
import {Vm} from "./utils/Vm.sol";
import {NotActiveInstitution} from "../contracts/interfaces/CareLedgerErrors.sol";
import {InstitutionStatus} from "../contracts/interfaces/CareLedgerTypes.sol";
import {IInstitutionRegistry} from "../contracts/interfaces/IInstitutionRegistry.sol";
import {InstitutionRegistry} from "../contracts/InstitutionRegistry.sol";

/// @notice v2 property 5 (5,000 runs each): a rogue member can always be ejected. A Suspend or
/// Remove of an active member executes with min(threshold, active members - 1) live approvals
/// (in a 2-of-2 consortium either member alone; in N-of-N, N-1), never needing the subject's own
/// vote; every other kind of proposal still needs the threshold; after a suspension or removal
/// the threshold drops to the number of active members left (ThresholdChanged) when it was
/// above; the last active member can never be suspended or removed (LastActiveMember).
contract InstitutionFuzzTest is Test {
    uint8 internal constant PROVIDER = 1;

    function _member(uint256 i) internal pure returns (address) {
        return address(uint160(0xc0de0000 + i));
    }

    /// @dev Every t-of-n consortium (n = 2..8), deployed once in setUp: each fuzz run starts
    /// from this state, so no run pays for a deployment.
    mapping(uint256 key => InstitutionRegistry) internal _reg;

    function setUp() public {
        for (uint256 n = 2; n <= 8; ++n) {
            for (uint256 t = 1; t <= n; ++t) {
                _reg[n * 16 + t] = _deployConsortium(n, uint32(t));
            }
        }
    }

    function _consortium(uint256 n, uint32 threshold) internal view returns (InstitutionRegistry) {
        return _reg[n * 16 + threshold];
    }

    /// @dev A consortium of `n` active providers needing `threshold` approvals.
    function _deployConsortium(uint256 n, uint32 threshold) internal returns (InstitutionRegistry r) {
        address[] memory genesis = new address[](n);
        uint8[] memory roles = new uint8[](n);
        bytes32[] memory keys = new bytes32[](n);
        bytes32[] memory meta = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            (genesis[i], roles[i], keys[i]) = (_member(i), PROVIDER, keccak256(abi.encode("key", i)));
        }
        r = new InstitutionRegistry(genesis, roles, keys, meta, threshold, 30 days);
    }

    function _propose(InstitutionRegistry r, address by, IInstitutionRegistry.ProposalKind kind, address subject)
        internal
        returns (uint256 id)
    {
        vm.prank(by);
        id = r.propose(kind, subject, PROVIDER, keccak256("new key"), bytes32(0), kind == IInstitutionRegistry.ProposalKind.ChangeThreshold ? 1 : 0);
    }

    /// @dev Whether a ThresholdChanged(threshold) was logged since recordLogs.
    function _thresholdLogged(uint32 threshold) internal returns (bool seen) {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].topics[0] == IInstitutionRegistry.ThresholdChanged.selector) {
                assertEq(abi.decode(logs[i].data, (uint32)), threshold, "ThresholdChanged value");
                seen = true;
            }
        }
    }

    /// N-of-N (N = 2..8): the N-1 other members eject a rogue member (Suspend or Remove): the
    /// proposal is pending after N-2 approvals and executes at the (N-1)-th, without the
    /// rogue's vote; the threshold then drops to N-1 (ThresholdChanged(N-1)), the active count
    /// to N-1. For N = 2 the other member's proposal alone executes.
    function testFuzz_p5_nOfNEjectsWithNMinusOne(uint8 n, uint8 rogue, bool removeInstead, uint8 rotate) public {
        n = uint8(bound(n, 2, 8));
        rogue = uint8(rogue % n);
        InstitutionRegistry r = _consortium(n, n);
        IInstitutionRegistry.ProposalKind kind =
            removeInstead ? IInstitutionRegistry.ProposalKind.Remove : IInstitutionRegistry.ProposalKind.Suspend;
        address subject = _member(rogue);
        // the other members, in a rotated order
        address[] memory others = new address[](n - 1);
        for (uint256 k = 0; k < n - 1; ++k) {
            others[k] = _member((rogue + 1 + (k + rotate) % (n - 1)) % n);
        }
        vm.recordLogs();
        uint256 id = _propose(r, others[0], kind, subject);
        for (uint256 k = 1; k < n - 1; ++k) {
            assertFalse(r.proposal(id).executed, "executed before N-1 approvals");
            assertEq(r.statusOf(subject), uint8(InstitutionStatus.Active), "ejected before N-1 approvals");
            vm.prank(others[k]);
            r.approve(id);
        }
        assertTrue(r.proposal(id).executed, "not executed with N-1 approvals");
        assertEq(r.proposal(id).approvals, n - 1, "approvals");
        assertFalse(r.hasApproved(id, subject), "the rogue voted");
        assertEq(
            r.statusOf(subject),
            uint8(removeInstead ? InstitutionStatus.Removed : InstitutionStatus.Suspended),
            "rogue ejected"
        );
        assertEq(r.memberCount(), n - 1, "active members left");
        assertEq(r.threshold(), n - 1, "threshold dropped to the active members left");
        assertTrue(_thresholdLogged(n - 1), "ThresholdChanged emitted");
        vm.prank(subject);
        vm.expectRevert(abi.encodeWithSelector(NotActiveInstitution.selector, subject));
        r.propose(IInstitutionRegistry.ProposalKind.Suspend, others[0], 0, bytes32(0), bytes32(0), 0);
    }

    /// In a 2-of-2 consortium either member alone suspends or removes the other, in both
    /// directions; the survivor is then the last active member: suspending or removing it
    /// reverts LastActiveMember.
    function testFuzz_p5_twoOfTwoEitherMemberAlone(bool firstActs, bool removeInstead, bool lastRemove) public {
        InstitutionRegistry r = _consortium(2, 2);
        (address actor, address rogue) = firstActs ? (_member(0), _member(1)) : (_member(1), _member(0));
        IInstitutionRegistry.ProposalKind kind =
            removeInstead ? IInstitutionRegistry.ProposalKind.Remove : IInstitutionRegistry.ProposalKind.Suspend;
        uint256 id = _propose(r, actor, kind, rogue);
        assertTrue(r.proposal(id).executed, "one member ejects the other");
        assertEq(r.threshold(), 1, "threshold 1");
        assertEq(r.memberCount(), 1, "one active member");
        vm.prank(actor);
        vm.expectRevert(abi.encodeWithSelector(IInstitutionRegistry.LastActiveMember.selector, actor));
        r.propose(
            lastRemove ? IInstitutionRegistry.ProposalKind.Remove : IInstitutionRegistry.ProposalKind.Suspend,
            actor,
            0,
            bytes32(0),
            bytes32(0),
            0
        );
        assertEq(r.statusOf(actor), uint8(InstitutionStatus.Active), "last member still active");
    }

    /// N-of-N: only ejections of an active member get the reduced count. Admit, ChangeRoles and
    /// ChangeThreshold stay pending with N-1 approvals and execute at N; a Remove of an already
    /// suspended member needs the (dropped) threshold.
    function testFuzz_p5_otherProposalsNeedTheThreshold(uint8 n, uint8 which) public {
        n = uint8(bound(n, 2, 8));
        InstitutionRegistry r = _consortium(n, n);
        which %= 3;
        IInstitutionRegistry.ProposalKind kind = which == 0
            ? IInstitutionRegistry.ProposalKind.Admit
            : which == 1 ? IInstitutionRegistry.ProposalKind.ChangeRoles : IInstitutionRegistry.ProposalKind.ChangeThreshold;
        address subject = which == 0 ? address(0xadd) : _member(n - 1);
        uint256 id = _propose(r, _member(0), kind, subject);
        for (uint256 k = 1; k < n; ++k) {
            assertFalse(r.proposal(id).executed, "executed below the threshold");
            vm.prank(_member(k));
            r.approve(id);
        }
        assertTrue(r.proposal(id).executed, "executed at the threshold");
    }

    /// t-of-N (t < N): suspending one member needs min(t, N-1) approvals; the threshold drops
    /// (ThresholdChanged) only if it was above the active members left. Repeated ejections
    /// down to one member: each needs min(threshold, active - 1); the last one standing is
    /// LastActiveMember.
    function testFuzz_p5_thresholdFollowsActiveMembers(uint8 n, uint8 t) public {
        n = uint8(bound(n, 2, 8));
        t = uint8(bound(t, 1, n));
        InstitutionRegistry r = _consortium(n, t);
        // eject members n-1, n-2, ..., 1 in turn; member 0 proposes, the lowest others approve
        for (uint256 left = n; left > 1; --left) {
            address subject = _member(left - 1);
            uint32 threshold = r.threshold();
            uint256 needed = threshold < left - 1 ? threshold : left - 1;
            vm.recordLogs();
            uint256 id = _propose(r, _member(0), IInstitutionRegistry.ProposalKind.Suspend, subject);
            for (uint256 k = 1; k < needed; ++k) {
                assertFalse(r.proposal(id).executed, "executed below min(threshold, active - 1)");
                vm.prank(_member(k));
                r.approve(id);
            }
            assertTrue(r.proposal(id).executed, "not executed at min(threshold, active - 1)");
            uint32 want = threshold > left - 1 ? uint32(left - 1) : threshold;
            assertEq(r.threshold(), want, "threshold after the suspension");
            assertEq(_thresholdLogged(want), threshold > left - 1, "ThresholdChanged iff it dropped");
        }
        vm.prank(_member(0));
        vm.expectRevert(abi.encodeWithSelector(IInstitutionRegistry.LastActiveMember.selector, _member(0)));
        r.propose(IInstitutionRegistry.ProposalKind.Suspend, _member(0), 0, bytes32(0), bytes32(0), 0);
        vm.prank(_member(0));
        vm.expectRevert(abi.encodeWithSelector(IInstitutionRegistry.LastActiveMember.selector, _member(0)));
        r.propose(IInstitutionRegistry.ProposalKind.Remove, _member(0), 0, bytes32(0), bytes32(0), 0);
        // a suspended member can still be removed (not active: no LastActiveMember), and
        // re-admitted in a new epoch
        _propose(r, _member(0), IInstitutionRegistry.ProposalKind.Remove, _member(1));
        assertEq(r.statusOf(_member(1)), uint8(InstitutionStatus.Removed), "suspended member removed");
        _propose(r, _member(0), IInstitutionRegistry.ProposalKind.Admit, _member(1));
        (uint8 status,, uint32 epoch) = r.membership(_member(1));
        assertEq(status, uint8(InstitutionStatus.Active), "re-admitted");
        assertEq(epoch, 2, "second epoch");
    }
}
