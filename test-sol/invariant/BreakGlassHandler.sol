// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ConsentModelBase} from "./ConsentModelBase.sol";
import {IConsentRegistry} from "../../contracts/interfaces/IConsentRegistry.sol";

/// @notice The break-glass campaign's only target (v2 property 2, with the audit chain of
/// property 6): emergency institutions open, use and lose windows on two patients while patients,
/// guardians (one live, one that expires), strangers and institutions try to close them, the
/// consortium suspends, reinstates, removes, re-admits and re-roles members, and time jumps by
/// seconds to weeks and onto every edge (a window's expiry, its cooldown's end, its period's
/// end). Every opening's outcome is predicted exactly (BreakGlassAlreadyOpen, BreakGlassCooldown,
/// BreakGlassCapExceeded with their arguments, ...); a ghost of all openings checks the caps
/// independently; no consent is ever granted, so every authorised ETREAT access is through a
/// window, which must be open, of the institution's current epoch, with ROLE_EMERGENCY now.
contract BreakGlassHandler is ConsentModelBase {
    uint256[2] internal patientPks;
    address[2] public patients;
    uint256 internal guardianPk;
    address public guardian; // of patient 0 for ten years, of patient 1 for ten days
    address internal constant STRANGER = address(uint160(uint256(keccak256("careledger.test.STRANGER"))));
    bytes32 internal constant CAT = keccak256(abi.encode("careledger.category", "LOINC:11502-2"));
    bytes32 internal constant COMMIT = keccak256("careledger.test.blob");
    bytes32[2] internal recs; // one record of each patient
    address[5] internal callers; // the four members and a non-member

    constructor() {
        patientPks = [_pk("bg-patient-0"), _pk("bg-patient-1")];
        patients = [vm.addr(patientPks[0]), vm.addr(patientPks[1])];
        guardianPk = _pk("bg-guardian");
        guardian = vm.addr(guardianPk);
        callers = [HOSP_A, HOSP_B, LAB, ER, OUTSIDER];
        for (uint256 i = 0; i < 2; ++i) {
            recs[i] = _recordId(HOSP_B, uint96(100 + i));
            vm.prank(HOSP_B);
            records.anchor(patients[i], recs[i], COMMIT, CAT, bytes32(0));
            uint64 exp = uint64(block.timestamp + (i == 0 ? 3650 days : 10 days));
            vm.prank(patients[i]);
            consent.setGuardian(guardian, exp);
            mGuardian[patients[i]][guardian] = exp;
        }
    }

    function _grantCovers(address, address) internal pure override returns (bool) {
        return false; // no grants in this campaign
    }

    /// @dev After every call: one window (rotating over 2 patients x 4 members), its ETREAT
    /// answer, and both audit chains.
    function _postCheck() internal override {
        uint256 k = ncalls;
        address p = patients[k % 2];
        address g = insts[(k >> 1) % 4];
        _checkWindow(p, g);
        if (consent.isAuthorized(p, g, CAT, ETREAT) != _glassLive(p, g)) {
            _violate("p2: ETREAT authorisation differs from the window model (open, epoch, role, active)");
        }
        (uint8 status,, uint32 epoch) = inst.membership(g);
        if (status != mStatus[g] || epoch != mEpoch[g]) _violate("p4: membership differs from the model");
        _checkAudit(patients[0]);
        _checkAudit(patients[1]);
    }

    /// @notice End of each run (called by the test): every window, every answer, both chains.
    function endOfRun() external {
        vm.warp(now_);
        for (uint256 i = 0; i < 2; ++i) {
            for (uint256 j = 0; j < 4; ++j) {
                _checkWindow(patients[i], insts[j]);
                for (uint8 purpose = 0; purpose <= MAX_PURPOSE; ++purpose) {
                    bool want = purpose == ETREAT && _glassLive(patients[i], insts[j]);
                    if (consent.isAuthorized(patients[i], insts[j], CAT, purpose) != want) {
                        _violate("p2: authorisation differs from the window model (end of run)");
                    }
                }
            }
            _checkAudit(patients[i]);
        }
    }

    // ================================================================ actions

    /// @notice Open a window: mostly an emergency member, durations on every edge (0, the
    /// maximum, one above it, exactly the budget left, one above it).
    function open(uint256 seed) external tick {
        seed = _mix(seed);
        address who = _b(seed, 0) < 200 ? (_b(seed, 1) % 2 == 0 ? ER : HOSP_A) : callers[_b(seed, 1) % 5];
        address p = _b(seed, 2) < 4 ? address(0) : patients[_b(seed, 2) % 2];
        _tryOpen(who, p, seed);
    }

    function _tryOpen(address who, address p, uint256 seed) internal {
        uint64 d = _duration(seed, p, who);
        (bytes memory want, Window memory w) = _predictOpen(who, p, d);
        bytes32 reason = keccak256(abi.encode("careledger.reason", seed));
        vm.prank(who);
        (bool ok, bytes memory ret) = address(consent).call(abi.encodeCall(consent.breakGlass, (p, reason, d)));
        if (_outcome(ok, ret, want, "breakGlass")) {
            _opened(who, p, w, reason);
            if (!consent.isAuthorized(p, who, CAT, ETREAT)) _violate("p2: a window just opened does not authorise");
            _ok("open");
        } else if (ret.length >= 4) {
            bytes4 sel = bytes4(ret);
            if (sel == IConsentRegistry.BreakGlassAlreadyOpen.selector) _ok("refused: already open");
            else if (sel == IConsentRegistry.BreakGlassCooldown.selector) _ok("refused: cooldown");
            else if (sel == IConsentRegistry.BreakGlassCapExceeded.selector) _ok("refused: cap");
        }
        if (p != address(0)) _checkWindow(p, who);
    }

    function _duration(uint256 seed, address p, address who) internal view returns (uint64) {
        uint256 k = _b(seed, 3) % 8;
        uint64 left = BREAK_GLASS_PERIOD_CAP - mWin[p][who].used;
        if (now_ >= mWin[p][who].periodStart + BREAK_GLASS_PERIOD) left = BREAK_GLASS_PERIOD_CAP;
        if (k == 0) return _b(seed, 4) < 64 ? 0 : MAX_BREAK_GLASS + 1;
        if (k == 1) return MAX_BREAK_GLASS;
        if (k == 2 && left != 0 && left <= MAX_BREAK_GLASS) return left;
        if (k == 3 && left < MAX_BREAK_GLASS) return left + 1;
        return uint64(1 + _u32(seed, 5) % MAX_BREAK_GLASS);
    }

    /// @dev The window most worth closing: mostly one that is open now.
    function _target(uint256 seed) internal view returns (address p, address g) {
        p = patients[_b(seed, 1) % 2];
        g = insts[_b(seed, 2) % 4];
        if (_b(seed, 3) < 192) {
            for (uint256 i = 0; i < 8; ++i) {
                uint256 j = (_b(seed, 4) + i) % 8;
                if (now_ < mWin[patients[j % 2]][insts[j / 2]].expiresAt) return (patients[j % 2], insts[j / 2]);
            }
        }
    }

    /// @notice The patient, its guardian (live or expired), a stranger or an institution closes a window.
    function close(uint256 seed) external tick {
        seed = _mix(seed);
        (address p, address g) = _target(seed);
        uint256 x = _b(seed, 5) % 8;
        address actor = x < 4 ? p : x < 6 ? guardian : x == 6 ? STRANGER : g;
        bytes memory want = _predictClose(actor, p, g);
        vm.prank(actor);
        (bool ok, bytes memory ret) = address(consent).call(abi.encodeCall(consent.closeBreakGlass, (p, g)));
        if (_outcome(ok, ret, want, "closeBreakGlass")) {
            _closed(p, g, actor);
            _ok("close");
        }
        _checkWindow(p, g);
    }

    /// @notice A CloseBreakGlass signature of the patient or its guardian, relayed by anyone;
    /// one in four is submitted after its deadline (SignatureExpired).
    function closeBySig(uint256 seed) external tick {
        seed = _mix(seed);
        (address p, address g) = _target(seed);
        bool byGuardian = _b(seed, 5) % 2 == 0;
        (uint256 pk, address signer) = byGuardian ? (guardianPk, guardian) : (patientPks[p == patients[0] ? 0 : 1], p);
        uint256 deadline = _b(seed, 6) < 64 ? now_ - 1 : now_ + 1 hours;
        bytes memory sig =
            _sign(pk, _domain(block.chainid, address(consent)), _closeStruct(p, g, signer, consent.nonces(signer), deadline));
        bytes memory want = deadline < now_
            ? abi.encodeWithSelector(IConsentRegistry.SignatureExpired.selector, deadline, now_)
            : _predictClose(signer, p, g);
        vm.prank(STRANGER);
        (bool ok, bytes memory ret) =
            address(consent).call(abi.encodeCall(consent.closeBreakGlassBySig, (p, g, signer, deadline, sig)));
        if (_outcome(ok, ret, want, "closeBreakGlassBySig")) {
            _closed(p, g, signer);
            _ok("closeBySig");
        }
        _checkWindow(p, g);
    }

    /// @notice An institution records an access (mostly ETREAT): authorised exactly through a
    /// live window (there are no grants); the entry is viaBreakGlass.
    function access(uint256 seed) external tick {
        seed = _mix(seed);
        uint256 i = _b(seed, 0) % 2;
        address p = patients[i];
        address who = _b(seed, 1) < 160 ? (_b(seed, 2) % 2 == 0 ? ER : HOSP_A) : callers[_b(seed, 2) % 5];
        if (_b(seed, 6) < 160) {
            (p, who) = _target(seed); // mostly a window that is open (its institution may have lost the right)
            i = p == patients[0] ? 0 : 1;
        }
        uint8 purpose = _b(seed, 3) < 224 ? ETREAT : uint8(_b(seed, 4) % 6);
        bool live = purpose == ETREAT && _glassLive(p, who);
        bytes memory want = live
            ? bytes("")
            : abi.encodeWithSelector(IConsentRegistry.AccessNotAuthorized.selector, p, who, recs[i], purpose);
        vm.prank(who);
        (bool ok, bytes memory ret) =
            address(consent).call(abi.encodeCall(consent.recordAccess, (p, recs[i], CAT, COMMIT, purpose, _noProof())));
        if (_outcome(ok, ret, want, "recordAccess")) {
            if (!live) _violate("p2: access without an open window of the current epoch, active, with ROLE_EMERGENCY");
            bytes32 head = _chainAccess(p, who, recs[i], CAT, purpose, true);
            if (abi.decode(ret, (bytes32)) != head) _violate("p6: returned audit head differs from the recomputed chain");
            _ok("access");
        }
    }

    /// @notice Time: seconds, hours, days, weeks, or onto an edge of a window (expiry, cooldown
    /// end, period end: one second before, at, or after).
    function jump(uint256 seed) external tick {
        seed = _mix(seed);
        uint256 k = _b(seed, 0) % 16;
        uint256 r = _u32(seed, 1);
        if (k < 6) {
            now_ += r % 6 hours;
        } else if (k < 10) {
            now_ += r % 1 days;
        } else if (k < 12) {
            now_ += 1 days + r % 3 days;
        } else if (k == 12) {
            now_ += 4 days + r % 8 days;
        } else {
            (address p, address g) = (patients[_b(seed, 5) % 2], insts[_b(seed, 6) % 4]);
            Window storage w = mWin[p][g];
            uint256 e = _b(seed, 7) % 3;
            uint256 target = e == 0 ? w.expiresAt : e == 1 ? w.expiresAt + BREAK_GLASS_COOLDOWN : w.periodStart + BREAK_GLASS_PERIOD;
            if (w.openedAt == 0) return;
            target = target - 1 + _b(seed, 8) % 3;
            if (target <= now_) return;
            now_ = target;
            vm.warp(now_);
            // the edge itself: the institution tries to open again at this very second
            _tryOpen(g, p, seed);
            _ok("edge");
        }
        vm.warp(now_);
    }
}
