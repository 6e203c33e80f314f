// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Fixture} from "./utils/Fixture.sol";
import {Vm} from "./utils/Vm.sol";
import {MissingRole, NotActiveInstitution} from "../contracts/interfaces/CareLedgerErrors.sol";
import {IConsentRegistry} from "../contracts/interfaces/IConsentRegistry.sol";

/// @notice v2 property 2, stateless (5,000 runs each): break-glass windows are never renewed
/// while open (BreakGlassAlreadyOpen), a new one waits BREAK_GLASS_COOLDOWN after the previous
/// one ended by expiry or closing (BreakGlassCooldown), the durations opened within one
/// BREAK_GLASS_PERIOD add up to at most BREAK_GLASS_PERIOD_CAP (BreakGlassCapExceeded); closing
/// (patient or guardian, direct or signed) stops access in the same block; losing ROLE_EMERGENCY
/// or being suspended stops access through an open window; removal and re-admission never revive
/// a window. The same over random sequences: invariant/BreakGlassHandler.sol.
contract BreakGlassFuzzTest is Fixture {
    bytes32 internal constant CAT = keccak256(abi.encode("careledger.category", "LOINC:11502-2"));
    bytes32 internal constant COMMIT = keccak256("careledger.test.blob");
    uint256 internal PATIENT_PK;
    uint256 internal GUARDIAN_PK;
    address internal patient;
    address internal guardian;
    bytes32 internal REC;

    function setUp() public {
        _deploy();
        PATIENT_PK = _pk("break-glass-patient");
        GUARDIAN_PK = _pk("break-glass-guardian");
        patient = vm.addr(PATIENT_PK);
        guardian = vm.addr(GUARDIAN_PK);
        REC = _anchorSingle(HOSP_B, patient, 0xb6, COMMIT, CAT);
        vm.prank(patient);
        consent.setGuardian(guardian, uint64(block.timestamp + 3650 days));
    }

    function _open(address who, uint64 duration) internal {
        vm.prank(who);
        consent.breakGlass(patient, keccak256(abi.encode("careledger.reason", block.timestamp)), duration);
    }

    function _window(address who) internal view returns (IConsentRegistry.BreakGlassWindow memory) {
        return consent.breakGlassWindow(patient, who);
    }

    function _openRefused(address who, uint64 duration, bytes memory err) internal {
        vm.prank(who);
        vm.expectRevert(err);
        consent.breakGlass(patient, bytes32("reason"), duration);
    }

    function _canAccess(address who) internal returns (bool ok) {
        ok = consent.isAuthorized(patient, who, REC, ETREAT);
        vm.prank(who);
        if (ok) {
            consent.recordAccess(patient, REC, CAT, COMMIT, ETREAT, _noProof());
        } else {
            vm.expectRevert(
                abi.encodeWithSelector(IConsentRegistry.AccessNotAuthorized.selector, patient, who, REC, ETREAT)
            );
            consent.recordAccess(patient, REC, CAT, COMMIT, ETREAT, _noProof());
        }
    }

    function test_p2_limitsAreTheDocumentedOnes() public view {
        assertEq(consent.MAX_BREAK_GLASS(), 72 hours, "MAX_BREAK_GLASS");
        assertEq(consent.BREAK_GLASS_COOLDOWN(), 24 hours, "BREAK_GLASS_COOLDOWN");
        assertEq(consent.BREAK_GLASS_PERIOD(), 30 days, "BREAK_GLASS_PERIOD");
        assertEq(consent.BREAK_GLASS_PERIOD_CAP(), 7 days, "BREAK_GLASS_PERIOD_CAP");
        assertEq(consent.PURPOSE_ETREAT(), ETREAT, "PURPOSE_ETREAT");
    }

    /// While a window is open (any second before its expiry) it cannot be renewed or replaced:
    /// BreakGlassAlreadyOpen(patient, institution, expiresAt), whatever the new duration; the
    /// window and its budget are unchanged. Another institution's window is independent.
    function testFuzz_p2_neverRenewedWhileOpen(uint64 duration, uint64 dt, uint64 d2) public {
        duration = uint64(bound(duration, 1, MAX_BREAK_GLASS));
        _open(ER, duration);
        uint64 exp = uint64(T0) + duration;
        bytes memory err = abi.encodeWithSelector(IConsentRegistry.BreakGlassAlreadyOpen.selector, patient, ER, exp);
        vm.warp(T0 + bound(dt, 0, duration - 1));
        _openRefused(ER, uint64(bound(d2, 1, MAX_BREAK_GLASS)), err);
        vm.warp(exp - 1); // the window's last second
        _openRefused(ER, uint64(bound(d2, 1, MAX_BREAK_GLASS)), err);
        IConsentRegistry.BreakGlassWindow memory w = _window(ER);
        assertEq(w.expiresAt, exp, "window renewed");
        assertEq(w.usedInPeriod, duration, "budget changed");
        assertEq(w.openedAt, T0, "openedAt");
        _open(HOSP_A, 1 hours);
        assertTrue(_canAccess(HOSP_A), "another institution's window");
    }

    /// After a window ends, by expiry or by the patient closing it, the institution waits
    /// BREAK_GLASS_COOLDOWN: any earlier opening reverts BreakGlassCooldown(patient, institution,
    /// end + COOLDOWN); at that second it may open again.
    function testFuzz_p2_cooldownAfterEnd(uint64 duration, bool closeEarly, uint64 closeAt, uint64 dt) public {
        duration = uint64(bound(duration, 1, MAX_BREAK_GLASS));
        _open(ER, duration);
        uint256 end = T0 + duration;
        if (closeEarly) {
            vm.warp(T0 + bound(closeAt, 0, duration - 1));
            vm.prank(patient);
            consent.closeBreakGlass(patient, ER);
            end = block.timestamp;
        }
        bytes memory err =
            abi.encodeWithSelector(IConsentRegistry.BreakGlassCooldown.selector, patient, ER, uint64(end + BREAK_GLASS_COOLDOWN));
        vm.warp(end + bound(dt, 0, BREAK_GLASS_COOLDOWN - 1));
        assertFalse(_canAccess(ER), "access after the window ended");
        _openRefused(ER, 1 hours, err);
        vm.warp(end + BREAK_GLASS_COOLDOWN - 1); // the last second of the cooldown
        _openRefused(ER, 1 hours, err);
        vm.warp(end + BREAK_GLASS_COOLDOWN);
        _open(ER, 1 hours);
        assertTrue(_canAccess(ER), "window after the cooldown");
    }

    /// Random sequences of openings (durations up to MAX_BREAK_GLASS, gaps after the cooldown
    /// of up to 12 days): an opening succeeds exactly when the period's budget allows it, else
    /// BreakGlassCapExceeded(patient, institution, used, CAP); the durations opened in each
    /// period (recomputed here from the list of openings) never exceed the cap, and the stored
    /// period start and budget agree.
    function testFuzz_p2_periodCap(uint64[10] calldata durations, uint32[10] calldata gaps) public {
        uint64[10] memory at;
        uint64[10] memory len;
        uint256 opened;
        uint64 periodStart;
        uint64 used;
        uint256 end;
        for (uint256 i = 0; i < 10; ++i) {
            uint64 d = uint64(bound(durations[i], 1, MAX_BREAK_GLASS));
            if (i != 0) vm.warp(end + BREAK_GLASS_COOLDOWN + gaps[i] % 12 days);
            uint64 now_ = uint64(block.timestamp);
            if (opened == 0 || now_ >= periodStart + BREAK_GLASS_PERIOD) (periodStart, used) = (now_, 0);
            if (used + d > BREAK_GLASS_PERIOD_CAP) {
                _openRefused(
                    ER,
                    d,
                    abi.encodeWithSelector(
                        IConsentRegistry.BreakGlassCapExceeded.selector, patient, ER, used, BREAK_GLASS_PERIOD_CAP
                    )
                );
                end = now_; // time only moves forward: the next attempt is after this one
                continue;
            }
            _open(ER, d);
            (at[opened], len[opened]) = (now_, d);
            ++opened;
            used += d;
            end = now_ + d;
            IConsentRegistry.BreakGlassWindow memory w = _window(ER);
            assertEq(w.periodStart, periodStart, "period start");
            assertEq(w.usedInPeriod, used, "used in period");
            assertEq(w.expiresAt, end, "window expiry");
            _checkCap(at, len, opened);
        }
    }

    /// @dev Independently of the model above: walk the openings, a period starting at the first
    /// opening at or after the previous period's end; each period's sum is at most the cap.
    function _checkCap(uint64[10] memory at, uint64[10] memory len, uint256 n) internal pure {
        uint256 start = at[0];
        uint256 sum;
        for (uint256 k = 0; k < n; ++k) {
            if (at[k] >= start + BREAK_GLASS_PERIOD) (start, sum) = (at[k], 0);
            sum += len[k];
            assertLe(sum, BREAK_GLASS_PERIOD_CAP, "break-glass opened within one period above the cap");
            assertLe(len[k], MAX_BREAK_GLASS, "window above MAX_BREAK_GLASS");
        }
    }

    /// The patient or a live guardian closes an open window, directly or by a CloseBreakGlass
    /// signature: access stops in the same block (isAuthorized false, recordAccess
    /// AccessNotAuthorized), the window ends now, a BreakGlassClosed event names the closer;
    /// closing again reverts BreakGlassNotOpen; a stranger cannot close (NotPatientOrGuardian).
    function testFuzz_p2_closeStopsAccessAtOnce(bool byGuardian, bool bySig, uint64 duration, uint64 dt, address stranger)
        public
    {
        vm.assume(stranger != patient && stranger != guardian);
        duration = uint64(bound(duration, 2, MAX_BREAK_GLASS));
        _open(ER, duration);
        vm.warp(T0 + bound(dt, 1, duration - 1));
        assertTrue(_canAccess(ER), "open window");
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.NotPatientOrGuardian.selector, stranger, patient));
        consent.closeBreakGlass(patient, ER);

        address closer = byGuardian ? guardian : patient;
        vm.recordLogs();
        if (bySig) {
            uint256 deadline = block.timestamp + 1 hours;
            bytes memory sig = _sign(
                byGuardian ? GUARDIAN_PK : PATIENT_PK,
                consent.DOMAIN_SEPARATOR(),
                _closeStruct(patient, ER, closer, consent.nonces(closer), deadline)
            );
            vm.prank(stranger); // anyone relays
            consent.closeBreakGlassBySig(patient, ER, closer, deadline, sig);
        } else {
            vm.prank(closer);
            consent.closeBreakGlass(patient, ER);
        }
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs[0].topics[0], IConsentRegistry.BreakGlassClosed.selector, "BreakGlassClosed");
        (address closedBy,,) = abi.decode(logs[0].data, (address, uint64, bytes32));
        assertEq(closedBy, closer, "closedBy");
        assertFalse(_canAccess(ER), "access after closing, same block");
        assertEq(_window(ER).expiresAt, block.timestamp, "window ends now");
        vm.prank(closer);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.BreakGlassNotOpen.selector, patient, ER));
        consent.closeBreakGlass(patient, ER);
        vm.prank(patient);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.BreakGlassNotOpen.selector, patient, HOSP_A));
        consent.closeBreakGlass(patient, HOSP_A);
    }

    /// Access through an open window needs ROLE_EMERGENCY and an active membership at access
    /// time: losing the role (ChangeRoles) or being suspended stops it at once, and the
    /// institution cannot open another (MissingRole / NotActiveInstitution). Regaining the role or
    /// reinstatement (same admission epoch) lets the window count again until its own expiry.
    function testFuzz_p2_roleLossOrSuspensionStopsAccess(uint8 how, uint64 duration, uint64 dt) public {
        duration = uint64(bound(duration, 2, MAX_BREAK_GLASS));
        _open(ER, duration);
        vm.warp(T0 + bound(dt, 0, duration - 2));
        assertTrue(_canAccess(ER), "open window");
        how %= 3;
        bytes memory err;
        if (how == 0) {
            _changeRoles(ER, ROLE_RESEARCHER);
            err = abi.encodeWithSelector(MissingRole.selector, ER, ROLE_EMERGENCY);
        } else if (how == 1) {
            _changeRoles(ER, ROLE_PROVIDER | ROLE_RESEARCHER);
            err = abi.encodeWithSelector(MissingRole.selector, ER, ROLE_EMERGENCY);
        } else {
            _suspend(ER);
            err = abi.encodeWithSelector(NotActiveInstitution.selector, ER);
        }
        assertFalse(_canAccess(ER), "access through a window after losing the role or being suspended");
        _openRefused(ER, 1 hours, err);
        if (how == 2) _reinstate(ER);
        else _changeRoles(ER, ROLE_EMERGENCY);
        assertTrue(_canAccess(ER), "same-epoch window counts again while open");
        vm.warp(T0 + duration);
        assertFalse(_canAccess(ER), "window after its expiry");
    }

    /// Removal and re-admission (same second or later) never revive an open window: the new
    /// admission epoch has no window; the old one still counts as open for the renewal rule
    /// (BreakGlassAlreadyOpen), the patient may close it, and the cooldown then applies; a window
    /// opened in the new epoch authorises.
    function testFuzz_p2_readmissionDoesNotRevive(uint64 duration, uint64 dt) public {
        duration = uint64(bound(duration, 2, MAX_BREAK_GLASS));
        _open(ER, duration);
        vm.warp(T0 + bound(dt, 0, duration - 2));
        _remove(ER);
        _readmit(ER, ROLE_EMERGENCY);
        assertEq(_epochOf(ER), 2, "new epoch");
        assertEq(_window(ER).epoch, 1, "window of the old epoch");
        assertFalse(_canAccess(ER), "window revived by re-admission");
        _openRefused(
            ER, 1 hours, abi.encodeWithSelector(IConsentRegistry.BreakGlassAlreadyOpen.selector, patient, ER, uint64(T0 + duration))
        );
        vm.prank(patient);
        consent.closeBreakGlass(patient, ER);
        uint256 closedAt = block.timestamp;
        _openRefused(
            ER,
            1 hours,
            abi.encodeWithSelector(IConsentRegistry.BreakGlassCooldown.selector, patient, ER, uint64(closedAt + BREAK_GLASS_COOLDOWN))
        );
        vm.warp(closedAt + BREAK_GLASS_COOLDOWN);
        _open(ER, 1 hours);
        assertEq(_window(ER).epoch, 2, "window of the new epoch");
        assertTrue(_canAccess(ER), "new-epoch window");
    }

    /// What the cap bounds: the budget is per period as IConsentRegistry defines it (30 days from
    /// the first opening after the previous period ended), not per sliding 30 days. Windows at
    /// the end of one period and the start of the next give 14 days of break-glass (twice the
    /// cap) within 19 days; never more than twice the cap in any 30 days (invariant/BreakGlass).
    function test_p2_capIsPerPeriodNotSliding() public {
        _open(ER, 1); // starts period 1 at T0
        uint256 t = T0 + BREAK_GLASS_PERIOD - 8 days - 1; // leaves room for 72 h + 72 h + 23 h (with cooldowns) in period 1
        uint64[3] memory d = [uint64(72 hours), 72 hours, 24 hours - 1];
        uint256 first = t;
        for (uint256 period = 0; period < 2; ++period) {
            for (uint256 k = 0; k < 3; ++k) {
                vm.warp(t);
                _open(ER, d[k]);
                t += d[k] + BREAK_GLASS_COOLDOWN;
            }
            d[2] = 24 hours; // period 2 has its full 7 days
        }
        IConsentRegistry.BreakGlassWindow memory w = _window(ER);
        assertEq(w.usedInPeriod, BREAK_GLASS_PERIOD_CAP, "period 2 used its whole cap");
        uint256 span = uint256(w.expiresAt) - first;
        assertLe(span, 19 days, "14 days of windows within 19 days");
        vm.warp(t);
        _openRefused(
            ER,
            1,
            abi.encodeWithSelector(
                IConsentRegistry.BreakGlassCapExceeded.selector, patient, ER, BREAK_GLASS_PERIOD_CAP, BREAK_GLASS_PERIOD_CAP
            )
        );
    }
}
