// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Fixture} from "../utils/Fixture.sol";
import {IInstitutionRegistry} from "../../contracts/interfaces/IInstitutionRegistry.sol";

/// @notice What every invariant handler shares: the deployment, a ghost clock, uniform fields from
/// fuzzed words, violation bookkeeping by property ("invN: ..." SECURITY.md invariant N, "pN: ..."
/// v2 property N of test-sol/README.md, "model: ..." a disagreement on a call's outcome), and
/// the consortium (threshold 1, so one active member's proposal executes at once) with its model
/// of statuses, roles and admission epochs.
abstract contract HandlerBase is Fixture {
    uint256 public now_; // the ghost clock (every entry point warps to it first)
    uint256 public ncalls;
    address[4] public insts;
    mapping(address inst => uint8) public mStatus; // 0 none, 1 active, 2 suspended, 3 removed
    mapping(address inst => uint8) public mRoles;
    mapping(address inst => uint32) public mEpoch; // admission epoch (1 at genesis, +1 per re-admission)

    /// @dev Violations by category: 0 = the model disagrees with the contract on a call's
    /// outcome, 1..8 = SECURITY.md invariant number, 11..19 = v2 property 1..9. The first
    /// message of each is kept.
    mapping(uint256 category => uint256) public violationCount;
    mapping(uint256 category => string) public firstViolation;
    uint256 public violationTotal;
    mapping(string name => uint256) public successes; // coverage: successful calls by kind

    constructor() {
        _deploy();
        now_ = block.timestamp;
        insts = [HOSP_A, HOSP_B, LAB, ER];
        mStatus[HOSP_A] = 1;
        mStatus[HOSP_B] = 1;
        mStatus[LAB] = 1;
        mStatus[ER] = 1;
        mRoles[HOSP_A] = ROLE_PROVIDER | ROLE_EMERGENCY;
        mRoles[HOSP_B] = ROLE_PROVIDER;
        mRoles[LAB] = ROLE_RESEARCHER;
        mRoles[ER] = ROLE_EMERGENCY;
        for (uint256 i = 0; i < 4; ++i) {
            mEpoch[insts[i]] = 1; // genesis members, admitted once
        }
    }

    modifier tick() {
        vm.warp(now_);
        ++ncalls;
        _beforeCall();
        _;
        _afterCall();
        _postCheck();
    }

    /// @dev Hooks around every handler call (the consent handlers record and replay logs).
    function _beforeCall() internal virtual {}

    function _afterCall() internal virtual {}

    /// @dev After every call: compare (a rotating sample of) the contracts' state with the model.
    function _postCheck() internal virtual;

    // ---------------------------------------------------------------- fields from fuzzed words

    /// @dev The fuzzer's words are often dictionary values (mostly zero bytes): hash them so every
    /// byte field is uniform. Edge values are drawn on purpose where they matter (_exp, ...).
    function _mix(uint256 seed) internal view returns (uint256) {
        return uint256(keccak256(abi.encode(seed, ncalls)));
    }

    function _b(uint256 seed, uint256 i) internal pure returns (uint256) {
        return (seed >> (8 * i)) & 0xff;
    }

    function _u32(uint256 seed, uint256 i) internal pure returns (uint256) {
        return (seed >> (8 * i)) & 0xffffffff;
    }

    /// @dev An expiry: one time in 16 exactly now (invalid), else 1 s .. `maxLife` ahead.
    function _exp(uint256 seed, uint256 i, uint256 maxLife) internal view returns (uint64) {
        if (_b(seed, i) % 16 == 0) return uint64(now_);
        return uint64(now_ + 1 + _u32(seed, i + 1) % maxLife);
    }

    // ---------------------------------------------------------------- bookkeeping

    function _violate(string memory what) internal {
        bytes memory b = bytes(what);
        // "invN: ..." (N = 1..8), "pN: ..." (v2 property N = 1..9, category 10 + N) or "model: ..."
        uint256 category = b[0] == "i" ? uint8(b[3]) - 48 : b[0] == "p" ? 10 + uint8(b[1]) - 48 : 0;
        if (violationCount[category]++ == 0) firstViolation[category] = what;
        ++violationTotal;
    }

    /// @dev Compare a call's outcome with the prediction: success when `want` is empty, else a
    /// revert with exactly `want` (the named error and its arguments). Returns the success.
    function _outcome(bool ok, bytes memory got, bytes memory want, string memory name) internal returns (bool) {
        if (want.length == 0) {
            if (!ok) _violate(string.concat("model: ", name, " reverted unexpectedly"));
        } else if (ok) {
            _violate(string.concat("model: ", name, " succeeded unexpectedly"));
        } else if (keccak256(got) != keccak256(want)) {
            _violate(string.concat("model: ", name, " reverted with another error or other arguments"));
        }
        return ok;
    }

    function _ok(string memory name) internal {
        ++successes[name];
    }

    function instAddress() external view returns (address) {
        return address(inst);
    }

    // ---------------------------------------------------------------- time

    function warp(uint256 seed) external tick {
        seed = _mix(seed);
        uint256 k = _b(seed, 0) % 4;
        if (k == 0) now_ += _u32(seed, 1) % 1 hours;
        else if (k == 1) now_ += _u32(seed, 1) % 1 days;
        else if (k == 2) now_ += 1;
        else now_ += _u32(seed, 1) % 3 days;
        vm.warp(now_);
    }

    // ---------------------------------------------------------------- consortium (threshold 1)

    function _member(address g) internal view returns (bool) {
        return mStatus[g] == 1 || mStatus[g] == 2;
    }

    function _activeCount() internal view returns (uint256 n) {
        for (uint256 i = 0; i < 4; ++i) {
            if (mStatus[insts[i]] == 1) ++n;
        }
    }

    function _proposer(address not_) internal view returns (address) {
        for (uint256 i = 0; i < 4; ++i) {
            if (mStatus[insts[i]] == 1 && insts[i] != not_) return insts[i];
        }
        return address(0);
    }

    function _propose(IInstitutionRegistry.ProposalKind kind, address subject, uint8 roles, bool expect)
        internal
        returns (bool ok)
    {
        address proposer = _proposer(subject);
        if (proposer == address(0)) return false;
        vm.prank(proposer);
        try inst.propose(kind, subject, roles, keccak256(abi.encode(subject, roles)), bytes32(0), 0) {
            ok = true;
            if (!expect) _violate("model: consortium proposal executed unexpectedly");
        } catch {
            if (expect) _violate("model: consortium proposal reverted unexpectedly");
        }
    }

    /// @notice Suspend, reinstate, remove, re-admit or change the roles of a member.
    function govern(uint256 seed) external tick {
        seed = _mix(seed);
        address subject = insts[_b(seed, 0) % 4];
        uint256 k = _b(seed, 1) % 5;
        if (k == 1 || k == 3) {
            // reinstate a suspended member / re-admit a removed one, when there is one
            uint8 want = k == 1 ? 2 : 3;
            for (uint256 i = 0; i < 4; ++i) {
                address x = insts[(_b(seed, 0) + i) % 4];
                if (mStatus[x] == want) {
                    subject = x;
                    break;
                }
            }
        }
        uint8 st = mStatus[subject];
        if (k == 0) {
            if (_propose(IInstitutionRegistry.ProposalKind.Suspend, subject, 0, st == 1 && _activeCount() >= 2)) {
                mStatus[subject] = 2;
                _ok("suspend");
            }
        } else if (k == 1) {
            if (_propose(IInstitutionRegistry.ProposalKind.Reinstate, subject, 0, st == 2)) {
                mStatus[subject] = 1;
                _ok("reinstate");
            }
        } else if (k == 2) {
            bool expect = st == 2 || (st == 1 && _activeCount() >= 2);
            if (_propose(IInstitutionRegistry.ProposalKind.Remove, subject, 0, expect)) {
                mStatus[subject] = 3;
                _ok("remove");
            }
        } else if (k == 3) {
            uint8 roles = uint8(_b(seed, 2) % 8);
            if (_propose(IInstitutionRegistry.ProposalKind.Admit, subject, roles, st == 3 && roles != 0)) {
                mStatus[subject] = 1;
                mRoles[subject] = roles;
                ++mEpoch[subject];
                _ok("readmit");
            }
        } else {
            uint8 roles = uint8(_b(seed, 2) % 8);
            if (_propose(IInstitutionRegistry.ProposalKind.ChangeRoles, subject, roles, _member(subject) && roles != 0)) {
                mRoles[subject] = roles;
                _ok("changeRoles");
            }
        }
    }
}
