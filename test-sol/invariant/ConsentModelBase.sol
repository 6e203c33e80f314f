// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {HandlerBase} from "./HandlerBase.sol";
import {Vm} from "../utils/Vm.sol";
import {MissingRole, NotActiveInstitution, ZeroAddress} from "../../contracts/interfaces/CareLedgerErrors.sol";
import {IConsentRegistry} from "../../contracts/interfaces/IConsentRegistry.sol";

/// @notice What the two consent-side handlers (ConsentHandler, BreakGlassHandler) share: the
/// guardian and break-glass models with exact error predictions, the audit hash chain kept
/// twice (from the model's own entries, and from the emitted AccessRecorded, BreakGlassOpened and
/// BreakGlassClosed logs alone, v2 property 6), and a ghost of every break-glass opening that
/// checks the caps independently of the model (v2 property 2).
abstract contract ConsentModelBase is HandlerBase {
    /// @dev A break-glass window as the model predicts it (IConsentRegistry.BreakGlassWindow).
    struct Window {
        uint64 openedAt;
        uint64 expiresAt;
        uint64 periodStart;
        uint64 used;
        uint32 epoch;
    }

    /// @dev The ghost of one (patient, institution): every opening, and when the last one ended.
    struct Openings {
        uint64[] at;
        uint64[] len;
        uint64 lastEnd; // expiry, or closing time if closed earlier
    }

    mapping(address patient => mapping(address guardian => uint64)) public mGuardian;
    mapping(address patient => mapping(address inst => Window)) internal mWin;
    mapping(address patient => mapping(address inst => Openings)) internal ghost;
    uint256 public maxSlidingSum; // the most break-glass seconds opened within any 30 days seen

    // the chain from the model's entries, and the chain from the logs
    mapping(address patient => bytes32) public mHead;
    mapping(address patient => uint64) public mCount;
    mapping(address patient => bytes32) public lHead;
    mapping(address patient => uint64) public lCount;

    // ---------------------------------------------------------------- hooks: logs

    function _beforeCall() internal virtual override {
        vm.recordLogs();
    }

    /// @dev Advance the log chain from the consent registry's entry events of this call only:
    /// kind 0 from AccessRecorded (its own timestamp), kinds 1 and 2 from BreakGlassOpened and
    /// BreakGlassClosed (the block's timestamp, now_). Each event's seq and head must be the next
    /// seq and the recomputed head.
    function _afterCall() internal virtual override {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            Vm.Log memory l = logs[i];
            if (l.emitter != address(consent)) continue;
            bytes32 t = l.topics[0];
            address p = address(uint160(uint256(l.topics[1])));
            bytes32 next;
            uint64 seq;
            bytes32 logged;
            if (t == IConsentRegistry.AccessRecorded.selector) (next, seq, logged) = _fromAccess(lHead[p], l);
            else if (t == IConsentRegistry.BreakGlassOpened.selector) (next, seq, logged) = _fromOpened(lHead[p], l);
            else if (t == IConsentRegistry.BreakGlassClosed.selector) (next, seq, logged) = _fromClosed(lHead[p], l);
            else continue;
            if (seq != lCount[p]) _violate("p6: an entry event's seq is not the number of earlier entries");
            if (logged != next) _violate("p6: an entry event's head differs from the chain recomputed from the logs");
            lHead[p] = next;
            ++lCount[p];
        }
    }

    function _addr(Vm.Log memory l, uint256 i) internal pure returns (address) {
        return address(uint160(uint256(l.topics[i])));
    }

    function _fromAccess(bytes32 h, Vm.Log memory l) internal pure returns (bytes32, uint64, bytes32) {
        (bytes32 cat, uint8 purpose, uint64 ts, uint64 seq, bool glass, bytes32 logged) =
            abi.decode(l.data, (bytes32, uint8, uint64, uint64, bool, bytes32));
        return (_auditStep(h, _addr(l, 1), _addr(l, 2), l.topics[3], cat, purpose, ts, seq, glass), seq, logged);
    }

    function _fromOpened(bytes32 h, Vm.Log memory l) internal view returns (bytes32, uint64, bytes32) {
        (bytes32 reason, uint64 exp, uint64 seq, bytes32 logged) = abi.decode(l.data, (bytes32, uint64, uint64, bytes32));
        return (_openedStep(h, _addr(l, 1), _addr(l, 2), reason, exp, uint64(now_), seq), seq, logged);
    }

    function _fromClosed(bytes32 h, Vm.Log memory l) internal view returns (bytes32, uint64, bytes32) {
        (address closer, uint64 seq, bytes32 logged) = abi.decode(l.data, (address, uint64, bytes32));
        return (_closedStep(h, _addr(l, 1), _addr(l, 2), closer, uint64(now_), seq), seq, logged);
    }

    /// @dev The stored head and count equal both recomputations.
    function _checkAudit(address p) internal {
        (bytes32 head, uint64 count) = consent.auditHead(p);
        if (head != mHead[p] || count != mCount[p]) _violate("p6: stored audit head or count differs from the model's chain");
        if (head != lHead[p] || count != lCount[p]) {
            _violate("p6: stored audit head or count differs from the chain recomputed from the logs");
        }
    }

    function _chainAccess(address p, address who, bytes32 id, bytes32 cat, uint8 purpose, bool glass)
        internal
        returns (bytes32)
    {
        Entry memory e;
        (e.kind, e.actor, e.subject, e.detail, e.purpose) = (ENTRY_ACCESS, who, id, cat, purpose);
        e.viaBreakGlass = glass;
        return _chain(p, e);
    }

    /// @dev Append `e` (its time and seq filled in here) to the model's chain of `p`.
    function _chain(address p, Entry memory e) internal returns (bytes32 head) {
        (e.timestamp, e.seq) = (uint64(now_), mCount[p]);
        head = _step(mHead[p], p, e);
        mHead[p] = head;
        ++mCount[p];
    }

    // ---------------------------------------------------------------- guardians

    function _permitted(address actor, address p) internal view returns (bool) {
        return actor == p || now_ < mGuardian[p][actor];
    }

    function _notPermitted(address actor, address p) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IConsentRegistry.NotPatientOrGuardian.selector, actor, p);
    }

    // ---------------------------------------------------------------- break-glass

    /// @dev The outcome of `who` opening a window of `d` seconds on `p` now: the exact error, or
    /// empty and the window it stores (checks in the contract's documented order).
    function _predictOpen(address who, address p, uint64 d) internal view returns (bytes memory err, Window memory w) {
        if (mStatus[who] != 1) return (abi.encodeWithSelector(NotActiveInstitution.selector, who), w);
        if (mRoles[who] & ROLE_EMERGENCY == 0) {
            return (abi.encodeWithSelector(MissingRole.selector, who, ROLE_EMERGENCY), w);
        }
        if (p == address(0)) return (abi.encodeWithSelector(ZeroAddress.selector), w);
        if (d == 0) return (abi.encodeWithSelector(IConsentRegistry.ZeroDuration.selector), w);
        if (d > MAX_BREAK_GLASS) {
            return (abi.encodeWithSelector(IConsentRegistry.BreakGlassTooLong.selector, d, MAX_BREAK_GLASS), w);
        }
        w = mWin[p][who];
        uint64 t = uint64(now_);
        if (t < w.expiresAt) {
            return (abi.encodeWithSelector(IConsentRegistry.BreakGlassAlreadyOpen.selector, p, who, w.expiresAt), w);
        }
        if (w.openedAt != 0 && t < w.expiresAt + BREAK_GLASS_COOLDOWN) {
            uint64 at = w.expiresAt + BREAK_GLASS_COOLDOWN;
            return (abi.encodeWithSelector(IConsentRegistry.BreakGlassCooldown.selector, p, who, at), w);
        }
        if (t >= w.periodStart + BREAK_GLASS_PERIOD) (w.periodStart, w.used) = (t, 0);
        if (w.used + d > BREAK_GLASS_PERIOD_CAP) {
            bytes4 sel = IConsentRegistry.BreakGlassCapExceeded.selector;
            return (abi.encodeWithSelector(sel, p, who, w.used, BREAK_GLASS_PERIOD_CAP), w);
        }
        (w.openedAt, w.expiresAt, w.used, w.epoch) = (t, t + d, w.used + d, mEpoch[who]);
    }

    /// @dev The outcome of `actor` closing `inst`'s window on `p` now.
    function _predictClose(address actor, address p, address inst) internal view returns (bytes memory) {
        if (!_permitted(actor, p)) return _notPermitted(actor, p);
        if (now_ >= mWin[p][inst].expiresAt) {
            return abi.encodeWithSelector(IConsentRegistry.BreakGlassNotOpen.selector, p, inst);
        }
        return "";
    }

    /// @dev Whether `g`'s window on `p` authorises ETREAT now: open, opened in g's current epoch,
    /// g active with ROLE_EMERGENCY at this moment.
    function _glassLive(address p, address g) internal view returns (bool) {
        Window storage w = mWin[p][g];
        return now_ < w.expiresAt && w.epoch == mEpoch[g] && mStatus[g] == 1 && mRoles[g] & ROLE_EMERGENCY != 0;
    }

    /// @dev A successful opening: model, chain, and the ghost's checks of the caps.
    function _opened(address who, address p, Window memory w, bytes32 reason) internal {
        mWin[p][who] = w;
        Entry memory e;
        (e.kind, e.actor, e.subject, e.detail) = (ENTRY_OPENED, who, reason, bytes32(uint256(w.expiresAt)));
        (e.purpose, e.viaBreakGlass) = (ETREAT, true);
        _chain(p, e);
        Openings storage o = ghost[p][who];
        uint64 d = w.expiresAt - uint64(now_);
        uint256 n = o.at.length;
        if (d > MAX_BREAK_GLASS) _violate("p2: a break-glass window longer than MAX_BREAK_GLASS");
        if (n != 0 && now_ < o.lastEnd) _violate("p2: a break-glass window was renewed while open");
        if (n != 0 && now_ < uint256(o.lastEnd) + BREAK_GLASS_COOLDOWN) {
            _violate("p2: a break-glass window opened within the cooldown after the previous one ended");
        }
        o.at.push(uint64(now_));
        o.len.push(d);
        o.lastEnd = uint64(now_) + d;
        // each period (30 days from the first opening after the previous period ended) sums to at most the cap
        uint256 start = o.at[0];
        uint256 sum;
        for (uint256 i = 0; i <= n; ++i) {
            if (o.at[i] >= start + BREAK_GLASS_PERIOD) (start, sum) = (o.at[i], 0);
            sum += o.len[i];
        }
        if (sum > BREAK_GLASS_PERIOD_CAP) _violate("p2: break-glass opened within one period exceeds the cap");
        // within any 30 days (sliding): at most twice the cap (two periods can meet)
        uint256 sliding;
        for (uint256 i = n + 1; i > 0 && now_ < uint256(o.at[i - 1]) + BREAK_GLASS_PERIOD; --i) {
            sliding += o.len[i - 1];
        }
        if (sliding > maxSlidingSum) maxSlidingSum = sliding;
        if (sliding > 2 * uint256(BREAK_GLASS_PERIOD_CAP)) _violate("p2: break-glass within 30 days exceeds twice the cap");
    }

    /// @dev A successful closing by `closer`: the window ends now; an entry of the chain.
    function _closed(address p, address inst, address closer) internal {
        mWin[p][inst].expiresAt = uint64(now_);
        ghost[p][inst].lastEnd = uint64(now_);
        Entry memory e;
        (e.kind, e.actor, e.subject) = (ENTRY_CLOSED, inst, bytes32(uint256(uint160(closer))));
        (e.purpose, e.viaBreakGlass) = (ETREAT, true);
        _chain(p, e);
        if (consent.isAuthorized(p, inst, SCOPE_ALL, ETREAT) && !_grantCovers(p, inst)) {
            _violate("p2: a closed break-glass window still authorises in the same block");
        }
    }

    /// @dev Whether a live ETREAT grant (not break-glass) authorises `inst` on `p`'s SCOPE_ALL
    /// (the consent handler's grants; none in the break-glass handler).
    function _grantCovers(address p, address inst) internal view virtual returns (bool);

    /// @dev The stored window equals the model's.
    function _checkWindow(address p, address inst) internal {
        IConsentRegistry.BreakGlassWindow memory got = consent.breakGlassWindow(p, inst);
        Window storage w = mWin[p][inst];
        if (
            got.openedAt != w.openedAt || got.expiresAt != w.expiresAt || got.periodStart != w.periodStart
                || got.usedInPeriod != w.used || got.epoch != w.epoch
        ) _violate("p2: a stored break-glass window differs from the model");
    }
}
