// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ConsentModelBase} from "./ConsentModelBase.sol";
import {Merkle} from "../utils/Merkle.sol";
import {InvalidEncryptionKey, NotActiveInstitution, NotMember, ZeroAddress} from "../../contracts/interfaces/CareLedgerErrors.sol";
import {ConsentRegistry} from "../../contracts/ConsentRegistry.sol";
import {IConsentRegistry} from "../../contracts/interfaces/IConsentRegistry.sol";
import {IRecordRegistry} from "../../contracts/interfaces/IRecordRegistry.sol";

/// @notice The consent campaign's only target. Each entry point draws every argument from one
/// random word, calls the real contracts as some actor (patients, guardians, a stranger,
/// institutions, a non-member), predicts the outcome from an independent model of the v2 consent
/// state (one expiry per purpose, admission epochs, bounded break-glass, bound records, request
/// digests), and records a violation when the contract disagrees (on success, or on the exact
/// custom error and its arguments) or breaks a property; after every call it compares a rotating
/// sample of the state with the model (_postCheck). ConsentInvariants.t.sol fails on any recorded
/// violation and compares the whole state at the end of each run (endOfRun).
contract ConsentHandler is ConsentModelBase {
    // ---------------------------------------------------------------- world
    ConsentRegistry public second; // a second deployment: signatures for one are void on the other
    uint256 public homeChain;

    uint256[5] internal pks; // P0, P1 (patients), G0, G1 (guardian candidates), S0 (stranger)
    address[5] public signers;
    address[5] public grantees; // the four members and a non-member
    bytes32[5] public scopes; // SCOPE_ALL, CAT1, CAT2, record 0 (single), record 1 (batch member)

    bytes32 internal constant CAT1 = keccak256(abi.encode("careledger.category", "LOINC:11502-2"));
    bytes32 internal constant CAT2 = keccak256(abi.encode("careledger.category", "LOINC:18748-4"));

    /// @dev The anchored records: 0, 2 single (HOSP_B), 3 single (HOSP_A), 1 and 4-7 members 0-4
    /// of HOSP_A's batch 7 (count 6: index 5 is anchored but has no leaf).
    struct Rec {
        bytes32 id;
        address patient;
        bytes32 cat;
        bytes32 commit;
    }

    Rec[8] internal recs;
    mapping(uint256 r => bytes32[]) internal recProof;
    bytes28 internal batchId;
    bytes32 internal batchRoot;
    bytes32[4] internal unanchoredIds; // never-anchored single, leafless member, member >= count, member of no batch

    // ---------------------------------------------------------------- model
    struct G {
        uint64[6] exp; // per purpose, 0 = not granted
        uint32 epoch;
        uint64 grantedAt;
        bool exists; // a word is stored (revoke finds it)
    }

    struct Req {
        address requester;
        address patient;
        bytes32 scope;
        uint8 purpose;
        uint8 status;
    }

    mapping(bytes32 key => G) internal mGrant;
    mapping(address signer => uint256) public mNonce;
    mapping(address account => bytes32) public mKey;
    Req[] internal mReqs; // request id i is mReqs[i - 1]
    bytes[] internal sigCalls; // successful signed calls, replayed later

    /// @dev Recently granted (patient, grantee, scope): revocations and accesses aim at them.
    struct Granted {
        address p;
        address g;
        bytes32 s;
        uint32 purposes;
    }

    Granted[] internal granted;
    address internal lastOpenedOn; // the last break-glass window opened: closings aim at it
    address internal lastOpenedBy;
    uint256 internal grantedCursor;
    uint256 internal sigCursor;

    /// @dev Pass-through of an EIP-712 attempt (kept in memory: the legacy code generator has
    /// only 16 stack slots).
    struct Sig {
        uint256 pk;
        address signer;
        address patient;
        address target; // grantee, guardian or institution
        bytes32 scope;
        uint32 purposes;
        uint64 expiresAt;
        uint256 nonce;
        uint256 deadline;
        uint8 variant;
        address relayer;
        bytes32 key;
        bool approve;
    }

    constructor() {
        second = new ConsentRegistry(inst, records);
        homeChain = block.chainid;
        string[5] memory names = ["patient-0", "patient-1", "guardian-0", "guardian-1", "stranger"];
        for (uint256 i = 0; i < 5; ++i) {
            pks[i] = _pk(names[i]);
            signers[i] = vm.addr(pks[i]);
        }
        grantees = [HOSP_A, HOSP_B, LAB, ER, OUTSIDER];
        _anchorRecords();
        scopes = [SCOPE_ALL, CAT1, CAT2, recs[0].id, recs[1].id];
    }

    function _anchorRecords() internal {
        (address p0, address p1) = (signers[0], signers[1]);
        recs[0] = Rec(_recordId(HOSP_B, 1), p0, CAT1, keccak256("blob-0"));
        recs[2] = Rec(_recordId(HOSP_B, 2), p1, CAT1, keccak256("blob-2"));
        recs[3] = Rec(_recordId(HOSP_A, 3), p0, CAT2, keccak256("blob-3"));
        for (uint256 r = 0; r < 4; ++r) {
            if (r == 1) continue;
            vm.prank(address(bytes20(recs[r].id)));
            records.anchor(recs[r].patient, recs[r].id, recs[r].commit, recs[r].cat, bytes32(0));
        }
        batchId = _batchId(HOSP_A, 7);
        uint8[5] memory member = [1, 4, 5, 6, 7];
        address[5] memory who = [p1, p0, p1, p0, p1];
        bytes32[5] memory cats = [CAT2, CAT1, CAT1, CAT2, CAT2];
        bytes32[] memory leaves = new bytes32[](5);
        for (uint256 i = 0; i < 5; ++i) {
            bytes32 id = _memberId(batchId, uint32(i));
            recs[member[i]] = Rec(id, who[i], cats[i], keccak256(abi.encode("member", i)));
            leaves[i] = _leaf(who[i], id, recs[member[i]].commit, cats[i]);
        }
        batchRoot = Merkle.root(leaves);
        for (uint256 i = 0; i < 5; ++i) {
            bytes32[] memory proof = Merkle.proof(leaves, i);
            for (uint256 j = 0; j < proof.length; ++j) {
                recProof[member[i]].push(proof[j]);
            }
        }
        vm.prank(HOSP_A);
        records.anchorBatch(batchId, batchRoot, 6, CAT2);
        unanchoredIds = [
            _recordId(HOSP_B, 99),
            _memberId(batchId, 5),
            _memberId(batchId, 6),
            _memberId(_batchId(HOSP_A, 8), 0)
        ];
    }

    // ================================================================ checks after every call

    /// @dev A rotating sample of the contracts' state against the model (the whole state is
    /// compared by endOfRun).
    function _postCheck() internal override {
        uint256 k = ncalls;
        for (uint256 j = 0; j < 2; ++j) {
            (address p, address g, bytes32 s, uint8 purpose) = _combo(k * 2 + j);
            (bool want,) = modelAuth(p, g, s, SCOPE_ALL, purpose);
            if (consent.isAuthorized(p, g, s, purpose) != want) _violate("inv1: isAuthorized differs from the model");
            if (j == 0) _checkGrant(p, g, s);
        }
        address signer = signers[k % 5];
        if (consent.nonces(signer) != mNonce[signer]) _violate("inv3: nonce differs from the consumed count");
        if (second.nonces(signer) != 0) _violate("inv4: the second deployment consumed a nonce");
        address p0 = signers[k % 2];
        if (consent.guardianExpiry(p0, signer) != mGuardian[p0][signer]) _violate("inv2: a guardian differs from the model");
        if (consent.patientKeyOf(signer) != mKey[signer]) _violate("p8: a registered key differs from the model");
        address member = insts[k % 4];
        (uint8 status,, uint32 epoch) = inst.membership(member);
        if (status != mStatus[member]) _violate("inv6: institution status differs from the model");
        if (epoch != mEpoch[member]) _violate("p4: admission epoch differs from the model");
        _checkWindow(p0, (k >> 1) % 2 == 0 ? ER : HOSP_A);
        _checkAudit(signers[0]);
        _checkAudit(signers[1]);
    }

    function _combo(uint256 i) internal view returns (address p, address g, bytes32 s, uint8 purpose) {
        i %= 300;
        return (signers[i % 2], grantees[i / 2 % 5], scopes[i / 10 % 5], uint8(i / 50 % 6));
    }

    function _checkGrant(address p, address g, bytes32 s) internal {
        IConsentRegistry.Grant memory got = consent.getGrant(p, g, s);
        G storage m = mGrant[_key(p, g, s)];
        uint32 purposes;
        bool same = got.epoch == m.epoch && got.grantedAt == m.grantedAt;
        for (uint8 q = 0; q <= MAX_PURPOSE; ++q) {
            if (m.exp[q] != 0) purposes |= uint32(1) << q;
            if (got.expiresAt[q] != m.exp[q]) same = false;
        }
        if (!same || got.purposes != purposes) _violate("p3: a stored grant differs from the model (per-purpose expiry, epoch)");
    }

    /// @notice End of each run (called by the test, not by the fuzzer): the whole matrix and every
    /// stored value against the model; violations are recorded like the others.
    function endOfRun() external {
        vm.warp(now_);
        for (uint256 i = 0; i < 300; ++i) {
            (address p, address g, bytes32 s, uint8 purpose) = _combo(i);
            (bool want,) = modelAuth(p, g, s, SCOPE_ALL, purpose);
            if (consent.isAuthorized(p, g, s, purpose) != want) _violate("inv1: isAuthorized vs model (end of run)");
            bytes32 c = scopes[(i / 10 + 1) % 5];
            (want,) = modelAuth(p, g, s, c, purpose);
            if (consent.isAuthorizedForRecord(p, g, s, c, purpose) != want) {
                _violate("inv1: isAuthorizedForRecord vs model (end of run)");
            }
            if (purpose == 0) {
                _checkGrant(p, g, s);
                if (second.getGrant(p, g, s).purposes != 0) _violate("inv4: second deployment holds a grant");
            }
        }
        for (uint256 i = 0; i < 5; ++i) {
            address a = signers[i];
            if (consent.nonces(a) != mNonce[a]) _violate("inv3: nonce vs consumed count (end of run)");
            if (second.nonces(a) != 0) _violate("inv4: second deployment nonce (end of run)");
            if (consent.patientKeyOf(a) != mKey[a]) _violate("p8: registered key vs model (end of run)");
            for (uint256 pi = 0; pi < 2; ++pi) {
                if (consent.guardianExpiry(signers[pi], a) != mGuardian[signers[pi]][a]) {
                    _violate("inv2: guardian vs model (end of run)");
                }
            }
        }
        if (consent.requestCount() != mReqs.length) _violate("p9: request count (end of run)");
        for (uint256 id = 1; id <= mReqs.length; ++id) {
            if (consent.requestStatus(id) != mReqs[id - 1].status) _violate("p9: request status vs model (end of run)");
        }
        for (uint256 i = 0; i < 4; ++i) {
            address a = insts[i];
            if (consent.nonces(a) != mNonce[a]) _violate("inv3: institution nonce vs count (end of run)");
            (uint8 status, uint8 roles, uint32 epoch) = inst.membership(a);
            if (status != mStatus[a] || epoch != mEpoch[a]) _violate("p4: membership vs model (end of run)");
            if (status != 3 && roles != mRoles[a]) _violate("inv6: roles vs model (end of run)");
            for (uint256 pi = 0; pi < 2; ++pi) {
                _checkWindow(signers[pi], a);
            }
        }
        _checkAudit(signers[0]);
        _checkAudit(signers[1]);
    }

    // ================================================================ model helpers

    /// @dev Who acts for patient `p`: half the time `p`, a quarter a guardian candidate, else anyone.
    function _actorFor(address p, uint256 x) internal view returns (address) {
        if (x < 128) return p;
        if (x < 192) return signers[2 + x % 3];
        return _actor(x);
    }

    function _patient(uint256 x) internal view returns (address) {
        return signers[x % 2];
    }

    /// @dev Anyone who may call: the five key holders and the four members.
    function _actor(uint256 x) internal view returns (address) {
        x %= 9;
        return x < 5 ? signers[x] : insts[x - 5];
    }

    /// @dev Institutions and would-be institutions: the four members, the non-member, a stranger.
    function _caller(uint256 x) internal view returns (address) {
        x %= 6;
        return x < 4 ? insts[x] : x == 4 ? OUTSIDER : signers[4];
    }

    function _guardianCandidate(uint256 x) internal view returns (address) {
        x %= 6;
        return x < 5 ? signers[(x + 2) % 5] : address(0);
    }

    function _key(address p, address g, bytes32 s) internal pure returns (bytes32) {
        return keccak256(abi.encode(p, g, s));
    }

    function _live(address p, address g, bytes32 s, uint8 purpose) internal view returns (bool) {
        G storage x = mGrant[_key(p, g, s)];
        return now_ < x.exp[purpose] && x.epoch == mEpoch[g];
    }

    /// @notice The specification (IConsentRegistry.isAuthorizedForRecord) on the model state.
    function modelAuth(address p, address g, bytes32 rec, bytes32 cat, uint8 purpose)
        public
        view
        returns (bool ok, bool glass)
    {
        if (purpose > MAX_PURPOSE || mStatus[g] != 1) return (false, false);
        if (_live(p, g, SCOPE_ALL, purpose) || _live(p, g, cat, purpose) || _live(p, g, rec, purpose)) {
            return (true, false);
        }
        if (purpose == ETREAT && _glassLive(p, g)) return (true, true);
        return (false, false);
    }

    function _grantCovers(address p, address inst_) internal view override returns (bool) {
        return mStatus[inst_] == 1 && _live(p, inst_, SCOPE_ALL, ETREAT);
    }

    function consentAddress() external view returns (address) {
        return address(consent);
    }

    function requestCount() external view returns (uint256) {
        return mReqs.length;
    }

    /// @dev After a change of (p, g, s): the stored grant and every purpose's answer agree with the model.
    function _checkKey(address p, address g, bytes32 s) internal {
        _checkGrant(p, g, s);
        for (uint8 purpose = 0; purpose <= MAX_PURPOSE; ++purpose) {
            (bool ok,) = modelAuth(p, g, s, SCOPE_ALL, purpose);
            if (consent.isAuthorized(p, g, s, purpose) != ok) _violate("inv1: isAuthorized differs from the model");
        }
    }

    /// @dev The model's write of a grant: purposes in the mask expire at `exp`, the others are cleared.
    function _writeGrant(address p, address g, bytes32 s, uint32 purposes, uint64 exp) internal {
        G storage x = mGrant[_key(p, g, s)];
        for (uint8 q = 0; q <= MAX_PURPOSE; ++q) {
            x.exp[q] = (purposes >> q) & 1 == 1 ? exp : 0;
        }
        (x.epoch, x.grantedAt, x.exists) = (mEpoch[g], uint64(now_), true);
        _rememberGrant(p, g, s, purposes);
    }

    /// @dev The error of grant(p, g, s, purposes, exp) by a permitted actor (empty on success).
    function _grantErr(address g, uint32 purposes, uint64 exp) internal view returns (bytes memory) {
        if (purposes == 0) return abi.encodeWithSelector(IConsentRegistry.NoPurposes.selector);
        if (purposes >= 64) return abi.encodeWithSelector(IConsentRegistry.InvalidPurposes.selector, purposes);
        if (exp <= now_ || exp > type(uint32).max) {
            return abi.encodeWithSelector(IConsentRegistry.InvalidExpiry.selector, exp, now_);
        }
        if (mStatus[g] != 1 && mStatus[g] != 2) return abi.encodeWithSelector(NotMember.selector, g);
        return "";
    }

    function _revokeErr(address p, address g, bytes32 s) internal view returns (bytes memory) {
        if (!mGrant[_key(p, g, s)].exists) {
            return abi.encodeWithSelector(IConsentRegistry.GrantNotFound.selector, p, g, s);
        }
        return "";
    }

    /// @dev Call the consent registry as `actor` with `payload`; (success, revert data).
    function _callAs(address actor, bytes memory payload) internal returns (bool ok, bytes memory ret) {
        vm.prank(actor);
        (ok, ret) = address(consent).call(payload);
    }

    // ================================================================ time

    /// @notice Jump to an edge (one second before, at, or after) of a grant's purpose expiry, a
    /// guardian's expiry, a break-glass window's expiry or its cooldown's end, within three days.
    function warpToEdge(uint256 seed) external tick {
        seed = _mix(seed);
        address p = _patient(_b(seed, 0));
        address g = grantees[_b(seed, 2) % 5];
        bytes32 s = scopes[_b(seed, 3) % 5];
        address guardian = _guardianCandidate(_b(seed, 2));
        uint256 target;
        uint256 k = _b(seed, 1) % 4;
        if (k == 0) target = mGrant[_key(p, g, s)].exp[_b(seed, 5) % 6];
        else if (k == 1) target = mGuardian[p][guardian];
        else if (k == 2) target = mWin[p][g].expiresAt;
        else target = mWin[p][g].openedAt == 0 ? 0 : mWin[p][g].expiresAt + BREAK_GLASS_COOLDOWN;
        if (target == 0) return;
        target = target - 1 + (_b(seed, 4) % 3);
        if (target <= now_ || target > now_ + 3 days) return;
        now_ = target;
        vm.warp(now_);
        if (k == 1) {
            // the guardian acts at the edge: allowed exactly while live (revoking a scope never granted)
            if (consent.isGuardian(p, guardian) != (now_ < mGuardian[p][guardian])) {
                _violate("inv2: guardian liveness at its expiry edge differs");
            }
            bytes32 never = keccak256("careledger.test.never-granted");
            bytes memory want = _permitted(guardian, p)
                ? abi.encodeWithSelector(IConsentRegistry.GrantNotFound.selector, p, HOSP_B, never)
                : _notPermitted(guardian, p);
            (bool ok, bytes memory ret) = _callAs(guardian, abi.encodeCall(consent.revoke, (p, HOSP_B, never)));
            _outcome(ok, ret, want, "guardian at its expiry edge");
        } else {
            _checkKey(p, g, k == 0 ? s : SCOPE_ALL);
        }
        _ok("warpToEdge");
    }

    // ================================================================ grants (direct)

    function grant(uint256 seed) external tick {
        seed = _mix(seed);
        address p = _patient(_b(seed, 1));
        address actor = _actorFor(p, _b(seed, 0));
        address g = grantees[_b(seed, 2) % 5];
        bytes32 s = scopes[_b(seed, 3) % 5];
        uint32 purposes = uint32(_b(seed, 4) % 70); // 64..69 carry an invalid bit
        uint64 exp = _exp(seed, 5, 31 days);
        bytes memory want = _permitted(actor, p) ? _grantErr(g, purposes, exp) : _notPermitted(actor, p);
        (bool ok, bytes memory ret) = _callAs(actor, abi.encodeCall(consent.grant, (p, g, s, purposes, exp)));
        if (_outcome(ok, ret, want, "grant")) {
            if (!_permitted(actor, p)) _violate("inv2: grant by neither the patient nor a live guardian");
            _writeGrant(p, g, s, purposes, exp);
            _ok("grant");
        }
        _checkKey(p, g, s);
    }

    function revoke(uint256 seed) external tick {
        seed = _mix(seed);
        address p = _patient(_b(seed, 1));
        address actor = _actorFor(p, _b(seed, 0));
        address g = grantees[_b(seed, 2) % 5];
        bytes32 s = scopes[_b(seed, 3) % 5];
        if (_b(seed, 4) < 160 && granted.length != 0) {
            Granted storage k = granted[_b(seed, 5) % granted.length];
            (p, g, s) = (k.p, k.g, k.s);
        }
        bytes memory want = _permitted(actor, p) ? _revokeErr(p, g, s) : _notPermitted(actor, p);
        (bool ok, bytes memory ret) = _callAs(actor, abi.encodeCall(consent.revoke, (p, g, s)));
        if (_outcome(ok, ret, want, "revoke")) {
            if (!_permitted(actor, p)) _violate("inv2: revoke by neither the patient nor a live guardian");
            delete mGrant[_key(p, g, s)];
            _ok("revoke");
        }
        _checkKey(p, g, s);
    }

    /// @notice Anyone registers its own key (v2: only for msg.sender).
    function registerPatientKey(uint256 seed) external tick {
        seed = _mix(seed);
        address actor = _actorFor(_patient(_b(seed, 1)), _b(seed, 0));
        bytes32 key = _b(seed, 2) < 16 ? bytes32(0) : keccak256(abi.encode(seed));
        bytes memory want = key == bytes32(0) ? abi.encodeWithSelector(InvalidEncryptionKey.selector) : bytes("");
        (bool ok, bytes memory ret) = _callAs(actor, abi.encodeCall(consent.registerPatientKey, (key)));
        if (_outcome(ok, ret, want, "registerPatientKey")) {
            mKey[actor] = key;
            _ok("registerPatientKey");
        }
        for (uint256 i = 0; i < 2; ++i) {
            if (consent.patientKeyOf(signers[i]) != mKey[signers[i]]) {
                _violate("p8: a patient's key changed by someone other than the patient");
            }
        }
    }

    // ================================================================ guardians

    function setGuardian(uint256 seed) external tick {
        seed = _mix(seed);
        address actor = _b(seed, 0) < 160 ? _patient(_b(seed, 3)) : _actor(_b(seed, 4));
        address g = _guardianCandidate(_b(seed, 1));
        uint64 exp = _exp(seed, 5, 20 days);
        bytes memory want = _setGuardianErr(actor, g, exp);
        (bool ok, bytes memory ret) = _callAs(actor, abi.encodeCall(consent.setGuardian, (g, exp)));
        if (_outcome(ok, ret, want, "setGuardian")) {
            mGuardian[actor][g] = exp;
            _ok("setGuardian");
        }
    }

    function _setGuardianErr(address p, address g, uint64 exp) internal view returns (bytes memory) {
        if (g == address(0)) return abi.encodeWithSelector(ZeroAddress.selector);
        if (g == p) return abi.encodeWithSelector(IConsentRegistry.CannotGuardSelf.selector, p);
        if (exp <= now_) return abi.encodeWithSelector(IConsentRegistry.InvalidExpiry.selector, exp, now_);
        return "";
    }

    function _removeGuardianErr(address p, address g) internal view returns (bytes memory) {
        if (mGuardian[p][g] == 0) return abi.encodeWithSelector(IConsentRegistry.GuardianNotFound.selector, p, g);
        return "";
    }

    function removeGuardian(uint256 seed) external tick {
        seed = _mix(seed);
        address actor = _b(seed, 0) < 160 ? _patient(_b(seed, 3)) : _actor(_b(seed, 4));
        address g = _guardianCandidate(_b(seed, 1));
        (bool ok, bytes memory ret) = _callAs(actor, abi.encodeCall(consent.removeGuardian, (g)));
        if (_outcome(ok, ret, _removeGuardianErr(actor, g), "removeGuardian")) {
            delete mGuardian[actor][g];
            _ok("removeGuardian");
        }
    }

    // ================================================================ signed (EIP-712)

    /// @dev Fill the attempt's signer, nonce, deadline and relayer from the seed. Variants:
    /// 0-3 honest; 4 signed for another chain id; 5 submitted after a chain-id change (fork);
    /// 6 signed for the second deployment; 7 past its deadline; 8 a wrong nonce (next or last);
    /// 9 high-s twin; 10 signed by another key.
    function _sigBase(Sig memory a, uint256 seed, uint256 signerIdx) internal view {
        a.pk = pks[signerIdx];
        a.signer = signers[signerIdx];
        a.variant = uint8(_b(seed, 10) % 11);
        a.nonce = mNonce[a.signer];
        a.deadline = now_ + _u32(seed, 11) % 2 days;
        a.relayer = address(uint160(uint256(keccak256(abi.encode(seed, "relayer")))));
        if (a.variant == 7) a.deadline = now_ - 1 - (_b(seed, 15) % 2 == 0 ? 0 : _b(seed, 15)); // half: 1 s late
        if (a.variant == 8) a.nonce = _b(seed, 15) % 2 == 0 || a.nonce == 0 ? a.nonce + 1 : a.nonce - 1;
    }

    /// @dev The signer: the patient half the time, else any of the five key holders.
    function _sigSigner(Sig memory a, uint256 seed) internal view {
        uint256 pIdx = _b(seed, 1) % 2;
        _sigBase(a, seed, _b(seed, 0) < 128 ? pIdx : _b(seed, 0) % 5);
        a.patient = signers[pIdx];
    }

    function _digestFor(Sig memory a, bytes32 structHash) internal view returns (bytes memory sig) {
        bytes32 ds = _domain(homeChain, address(consent));
        if (a.variant == 4) ds = _domain(homeChain + 1 + (a.deadline % 1000), address(consent));
        if (a.variant == 6) ds = _domain(homeChain, address(second));
        uint256 pk = a.variant == 10 ? pks[(_indexOf(a.signer) + 1) % 5] : a.pk;
        sig = _sign(pk, ds, structHash);
        if (a.variant == 9) sig = _highS(sig);
    }

    function _indexOf(address who) internal view returns (uint256) {
        for (uint256 i = 0; i < 5; ++i) {
            if (signers[i] == who) return i;
        }
        return 0;
    }

    /// @dev The error of a signed call before the form's own checks: SignatureExpired, then (for
    /// forms that check it before the signature) NotPatientOrGuardian, then InvalidSignature.
    function _sigErr(Sig memory a, bool permittedFirst) internal view returns (bytes memory) {
        if (a.variant == 7) return abi.encodeWithSelector(IConsentRegistry.SignatureExpired.selector, a.deadline, now_);
        if (permittedFirst && !_permitted(a.signer, a.patient)) return _notPermitted(a.signer, a.patient);
        if (a.variant >= 4) return abi.encodeWithSelector(IConsentRegistry.InvalidSignature.selector, a.signer);
        return "";
    }

    /// @dev Submit `payload` (under a changed chain id for variant 5), compare with the predicted
    /// error, check the nonce moved exactly when the call succeeded, and that the payload never
    /// works on the second deployment. Returns success.
    function _submitSigned(Sig memory a, bytes memory payload, bytes memory want, string memory name)
        internal
        returns (bool ok)
    {
        if (a.variant == 5) vm.chainId(homeChain + 7);
        bytes memory ret;
        (ok, ret) = _callAs(a.relayer, payload);
        if (a.variant == 5) vm.chainId(homeChain);
        if (_outcome(ok, ret, want, name)) {
            if (a.variant >= 4) {
                if (a.variant == 8) _violate("inv3: a signature for a wrong nonce was accepted");
                else if (a.variant == 9 || a.variant == 10) _violate("inv4: a forged or malleated signature was accepted");
                else _violate("inv4: a signature for another chain, contract or past its deadline was accepted");
            }
            ++mNonce[a.signer];
            _remember(payload);
            _ok(name);
        }
        if (consent.nonces(a.signer) != mNonce[a.signer]) _violate("inv3: nonce differs from the consumed count");
        if (a.variant != 6) {
            (bool other,) = address(second).call(payload);
            if (other) _violate("inv4: a signature for one deployment was accepted by another");
        }
    }

    function _rememberGrant(address p, address g, bytes32 s, uint32 purposes) internal {
        Granted memory k = Granted(p, g, s, purposes);
        if (granted.length < 32) granted.push(k);
        else granted[grantedCursor++ % 32] = k;
    }

    function _lowestBit(uint32 x) internal pure returns (uint8 i) {
        while (x != 0 && x & 1 == 0) {
            x >>= 1;
            ++i;
        }
    }

    function _remember(bytes memory payload) internal {
        if (sigCalls.length < 24) sigCalls.push(payload);
        else sigCalls[sigCursor++ % 24] = payload;
    }

    function grantBySig(uint256 seed) external tick {
        seed = _mix(seed);
        Sig memory a;
        _sigSigner(a, seed);
        a.target = grantees[_b(seed, 2) % 5];
        a.scope = scopes[_b(seed, 3) % 5];
        a.purposes = uint32(_b(seed, 4) % 66);
        a.expiresAt = _exp(seed, 5, 31 days);
        bytes memory sig = _digestFor(
            a, _grantStruct(a.patient, a.target, a.scope, a.purposes, a.expiresAt, a.signer, a.nonce, a.deadline)
        );
        bytes memory want = _sigErr(a, true);
        if (want.length == 0) want = _grantErr(a.target, a.purposes, a.expiresAt);
        bytes memory payload = abi.encodeCall(
            consent.grantBySig, (a.patient, a.target, a.scope, a.purposes, a.expiresAt, a.signer, a.deadline, sig)
        );
        if (_submitSigned(a, payload, want, "grantBySig")) {
            if (!_permitted(a.signer, a.patient)) _violate("inv2: signed grant by neither the patient nor a guardian");
            _writeGrant(a.patient, a.target, a.scope, a.purposes, a.expiresAt);
        }
        _checkKey(a.patient, a.target, a.scope);
    }

    function revokeBySig(uint256 seed) external tick {
        seed = _mix(seed);
        Sig memory a;
        _sigSigner(a, seed);
        a.target = grantees[_b(seed, 2) % 5];
        a.scope = scopes[_b(seed, 3) % 5];
        if (_b(seed, 4) < 160 && granted.length != 0) {
            Granted storage k = granted[_b(seed, 6) % granted.length];
            (a.patient, a.target, a.scope) = (k.p, k.g, k.s);
        }
        bytes memory sig = _digestFor(a, _revokeStruct(a.patient, a.target, a.scope, a.signer, a.nonce, a.deadline));
        bytes memory want = _sigErr(a, true);
        if (want.length == 0) want = _revokeErr(a.patient, a.target, a.scope);
        bytes memory payload =
            abi.encodeCall(consent.revokeBySig, (a.patient, a.target, a.scope, a.signer, a.deadline, sig));
        if (_submitSigned(a, payload, want, "revokeBySig")) {
            if (!_permitted(a.signer, a.patient)) _violate("inv2: signed revoke by neither the patient nor a guardian");
            delete mGrant[_key(a.patient, a.target, a.scope)];
        }
        _checkKey(a.patient, a.target, a.scope);
    }

    function setGuardianBySig(uint256 seed) external tick {
        seed = _mix(seed);
        Sig memory a;
        uint256 pIdx = _b(seed, 1) % 2;
        _sigBase(a, seed, pIdx);
        a.patient = signers[pIdx];
        a.target = _guardianCandidate(_b(seed, 2));
        a.expiresAt = _exp(seed, 5, 20 days);
        bytes memory sig = _digestFor(a, _guardianStruct(a.patient, a.target, a.expiresAt, a.nonce, a.deadline));
        bytes memory want = _sigErr(a, false);
        if (want.length == 0) want = _setGuardianErr(a.patient, a.target, a.expiresAt);
        bytes memory payload =
            abi.encodeCall(consent.setGuardianBySig, (a.patient, a.target, a.expiresAt, a.deadline, sig));
        if (_submitSigned(a, payload, want, "setGuardianBySig")) mGuardian[a.patient][a.target] = a.expiresAt;
    }

    /// @notice RemoveGuardian, signed by the patient (or, variant 10, by another key).
    function removeGuardianBySig(uint256 seed) external tick {
        seed = _mix(seed);
        Sig memory a;
        uint256 pIdx = _b(seed, 1) % 2;
        _sigBase(a, seed, pIdx);
        a.patient = signers[pIdx];
        a.target = _guardianCandidate(_b(seed, 2));
        bytes memory sig = _digestFor(a, _removeGuardianStruct(a.patient, a.target, a.nonce, a.deadline));
        bytes memory want = _sigErr(a, false);
        if (want.length == 0) want = _removeGuardianErr(a.patient, a.target);
        bytes memory payload = abi.encodeCall(consent.removeGuardianBySig, (a.patient, a.target, a.deadline, sig));
        if (_submitSigned(a, payload, want, "removeGuardianBySig")) delete mGuardian[a.patient][a.target];
    }

    /// @notice RegisterKey, signed by the patient; a guardian candidate's key signs it in
    /// variant 10 (P1's "other key" is G0's): InvalidSignature(patient).
    function registerPatientKeyBySig(uint256 seed) external tick {
        seed = _mix(seed);
        Sig memory a;
        uint256 pIdx = _b(seed, 1) % 2;
        _sigBase(a, seed, pIdx);
        a.patient = signers[pIdx];
        a.key = _b(seed, 2) < 16 ? bytes32(0) : keccak256(abi.encode(seed, "key"));
        bytes memory sig = _digestFor(a, _registerKeyStruct(a.patient, a.key, a.nonce, a.deadline));
        bytes memory want = _sigErr(a, false);
        if (want.length == 0 && a.key == bytes32(0)) want = abi.encodeWithSelector(InvalidEncryptionKey.selector);
        bytes memory payload = abi.encodeCall(consent.registerPatientKeyBySig, (a.patient, a.key, a.deadline, sig));
        if (_submitSigned(a, payload, want, "registerPatientKeyBySig")) mKey[a.patient] = a.key;
    }

    function increaseNonce(uint256 seed) external tick {
        seed = _mix(seed);
        address actor = _actor(_b(seed, 0));
        vm.prank(actor);
        uint256 n = consent.increaseNonce();
        ++mNonce[actor];
        if (n != mNonce[actor] || consent.nonces(actor) != n) _violate("inv3: increaseNonce did not add exactly one");
        _ok("increaseNonce");
    }

    /// @notice Submit an already-used signed call again, here and on the second deployment.
    function replay(uint256 seed) external tick {
        seed = _mix(seed);
        if (sigCalls.length == 0) return;
        bytes memory payload = sigCalls[seed % sigCalls.length];
        vm.prank(address(uint160(seed >> 96)));
        (bool ok,) = address(consent).call(payload);
        if (ok) _violate("inv3: a used signature authorised a second state change");
        (ok,) = address(second).call(payload);
        if (ok) _violate("inv4: a signature for one deployment was accepted by another");
        _ok("replay");
    }

    // ================================================================ requests

    function requestAccess(uint256 seed) external tick {
        seed = _mix(seed);
        address who = _caller(_b(seed, 0));
        address p = _patient(_b(seed, 1));
        bytes32 s = scopes[_b(seed, 2) % 5];
        uint8 purpose = uint8(_b(seed, 3) % 7);
        bytes memory want = mStatus[who] != 1
            ? abi.encodeWithSelector(NotActiveInstitution.selector, who)
            : purpose > MAX_PURPOSE ? abi.encodeWithSelector(IConsentRegistry.InvalidPurpose.selector, purpose) : bytes("");
        (bool ok, bytes memory ret) =
            _callAs(who, abi.encodeCall(consent.requestAccess, (p, s, purpose, keccak256(abi.encode(seed)))));
        if (_outcome(ok, ret, want, "requestAccess")) {
            if (mStatus[who] != 1) _violate("inv6: an inactive or unknown institution requested access");
            if (abi.decode(ret, (uint256)) != mReqs.length + 1) _violate("p9: request ids are not 1, 2, 3, ...");
            mReqs.push(Req(who, p, s, purpose, 0));
            _ok("requestAccess");
        }
    }

    /// @dev A request's details: usually the stored ones; one time in eight one field differs;
    /// one in sixteen an id that does not exist (0 or past the count).
    function _requestFor(uint256 seed) internal view returns (IConsentRegistry.RequestDetails memory d) {
        uint256 n = mReqs.length;
        uint256 id = n == 0 || _b(seed, 12) < 16 ? (_b(seed, 13) % 2 == 0 ? 0 : n + 1 + _b(seed, 13)) : 1 + _u32(seed, 0) % n;
        if (id == 0 || id > n) return IConsentRegistry.RequestDetails(id, HOSP_A, signers[0], SCOPE_ALL, 0);
        Req storage r = mReqs[id - 1];
        d = IConsentRegistry.RequestDetails(id, r.requester, r.patient, r.scope, r.purpose);
        if (_b(seed, 14) < 32) {
            uint256 f = _b(seed, 14) % 4;
            if (f == 0) d.requester = d.requester == HOSP_A ? HOSP_B : HOSP_A;
            else if (f == 1) d.patient = d.patient == signers[0] ? signers[1] : signers[0];
            else if (f == 2) d.scope = scopes[(_indexOfScope(d.scope) + 1) % 5];
            else d.purpose = (d.purpose + 1) % 6;
        }
    }

    function _indexOfScope(bytes32 s) internal view returns (uint256) {
        for (uint256 i = 0; i < 5; ++i) {
            if (scopes[i] == s) return i;
        }
        return 0;
    }

    /// @dev The error of answering `d` as `actor` (approve with `exp`, or reject), in the
    /// contract's order: RequestNotFound, RequestMismatch, RequestNotPending, NotPatientOrGuardian,
    /// then for approvals InvalidExpiry and NotMember.
    function _answerErr(IConsentRegistry.RequestDetails memory d, address actor, bool approve, uint64 exp)
        internal
        view
        returns (bytes memory)
    {
        uint256 id = d.requestId;
        if (id == 0 || id > mReqs.length) return abi.encodeWithSelector(IConsentRegistry.RequestNotFound.selector, id);
        Req storage r = mReqs[id - 1];
        if (r.requester != d.requester || r.patient != d.patient || r.scope != d.scope || r.purpose != d.purpose) {
            return abi.encodeWithSelector(IConsentRegistry.RequestMismatch.selector, id);
        }
        if (r.status != 0) return abi.encodeWithSelector(IConsentRegistry.RequestNotPending.selector, id, r.status);
        if (!_permitted(actor, r.patient)) return _notPermitted(actor, r.patient);
        if (!approve) return "";
        if (exp <= now_ || exp > type(uint32).max) {
            return abi.encodeWithSelector(IConsentRegistry.InvalidExpiry.selector, exp, now_);
        }
        if (mStatus[r.requester] != 1 && mStatus[r.requester] != 2) {
            return abi.encodeWithSelector(NotMember.selector, r.requester);
        }
        return "";
    }

    /// @dev The model's approval: only the requested purpose is set; the others keep their
    /// expiries if the grant is of the requester's current epoch, else they are cleared.
    function _applyAnswer(IConsentRegistry.RequestDetails memory d, address actor, bool approve, uint64 exp) internal {
        Req storage r = mReqs[d.requestId - 1];
        if (!_permitted(actor, r.patient)) _violate("inv2: request answered by neither the patient nor a guardian");
        r.status = approve ? 1 : 2;
        if (!approve) return;
        G storage x = mGrant[_key(r.patient, r.requester, r.scope)];
        uint64[6] memory before = x.exp;
        if (x.epoch != mEpoch[r.requester]) delete x.exp;
        x.exp[r.purpose] = exp;
        (x.epoch, x.grantedAt, x.exists) = (mEpoch[r.requester], uint64(now_), true);
        _rememberGrant(r.patient, r.requester, r.scope, uint32(1) << r.purpose);
        // v2 property 3: every other purpose's expiry is the one stored before (same epoch) or gone
        IConsentRegistry.Grant memory got = consent.getGrant(r.patient, r.requester, r.scope);
        for (uint8 q = 0; q <= MAX_PURPOSE; ++q) {
            if (q == r.purpose) continue;
            if (got.expiresAt[q] > before[q]) _violate("p3: approving one purpose extended another");
        }
    }

    function answerRequest(uint256 seed) external tick {
        seed = _mix(seed);
        IConsentRegistry.RequestDetails memory d = _requestFor(seed);
        address actor = _b(seed, 4) < 128 ? d.patient : _actor(_b(seed, 5));
        bool approve = _b(seed, 7) % 3 != 0;
        uint64 exp = _exp(seed, 8, 31 days);
        bytes memory want = _answerErr(d, actor, approve, exp);
        bytes memory payload = approve
            ? abi.encodeCall(consent.approveRequest, (d, exp))
            : abi.encodeCall(consent.rejectRequest, (d));
        (bool ok, bytes memory ret) = _callAs(actor, payload);
        if (_outcome(ok, ret, want, approve ? "approveRequest" : "rejectRequest")) {
            _applyAnswer(d, actor, approve, exp);
            _ok(approve ? "approveRequest" : "rejectRequest");
        }
        if (d.requestId != 0 && d.requestId <= mReqs.length) {
            Req storage r = mReqs[d.requestId - 1];
            if (consent.requestStatus(d.requestId) != r.status) _violate("p9: request status differs from the model");
            _checkKey(r.patient, r.requester, r.scope);
        }
    }

    function answerRequestBySig(uint256 seed) external tick {
        seed = _mix(seed);
        Sig memory a;
        _sigSigner(a, seed);
        IConsentRegistry.RequestDetails memory d = _requestFor(seed);
        a.approve = _b(seed, 7) % 3 != 0;
        a.expiresAt = _exp(seed, 8, 31 days);
        bytes memory sig = _digestFor(a, _answerStruct(d, a.approve, a.expiresAt, a.signer, a.nonce, a.deadline));
        bytes memory want = _sigErr(a, false);
        if (want.length == 0) want = _answerErr(d, a.signer, a.approve, a.expiresAt);
        bytes memory payload =
            abi.encodeCall(consent.answerRequestBySig, (d, a.approve, a.expiresAt, a.signer, a.deadline, sig));
        if (_submitSigned(a, payload, want, "answerRequestBySig")) _applyAnswer(d, a.signer, a.approve, a.expiresAt);
    }

    // ================================================================ break-glass

    function breakGlass(uint256 seed) external tick {
        seed = _mix(seed);
        address who = _b(seed, 5) < 160 ? (_b(seed, 0) % 2 == 0 ? ER : HOSP_A) : _caller(_b(seed, 0));
        address p = _b(seed, 1) < 8 ? address(0) : _patient(_b(seed, 1));
        uint256 d = _b(seed, 6);
        // edges: 0 and MAX_BREAK_GLASS + 1 are refused, MAX_BREAK_GLASS is the longest allowed
        uint64 duration = d < 8 ? 0 : d < 16 ? MAX_BREAK_GLASS + 1 : d < 48 ? MAX_BREAK_GLASS : uint64(1 + _u32(seed, 2) % MAX_BREAK_GLASS);
        (bytes memory want, Window memory w) = _predictOpen(who, p, duration);
        bytes32 reason = keccak256(abi.encode("careledger.reason", seed));
        (bool ok, bytes memory ret) = _callAs(who, abi.encodeCall(consent.breakGlass, (p, reason, duration)));
        if (_outcome(ok, ret, want, "breakGlass")) {
            if (mStatus[who] != 1 || mRoles[who] & ROLE_EMERGENCY == 0) {
                _violate("inv6: break-glass by an inactive or non-emergency institution");
            }
            _opened(who, p, w, reason);
            (lastOpenedOn, lastOpenedBy) = (p, who);
            _ok("breakGlass");
        }
        if (p != address(0)) _checkWindow(p, who);
    }

    function closeBreakGlass(uint256 seed) external tick {
        seed = _mix(seed);
        address p = _patient(_b(seed, 1));
        address target = _b(seed, 2) % 4 == 0 ? HOSP_B : _b(seed, 2) % 2 == 0 ? ER : HOSP_A;
        if (_b(seed, 3) < 192 && lastOpenedBy != address(0)) (p, target) = (lastOpenedOn, lastOpenedBy);
        address actor = _actorFor(p, _b(seed, 0));
        bytes memory want = _predictClose(actor, p, target);
        (bool ok, bytes memory ret) = _callAs(actor, abi.encodeCall(consent.closeBreakGlass, (p, target)));
        if (_outcome(ok, ret, want, "closeBreakGlass")) {
            _closed(p, target, actor);
            _ok("closeBreakGlass");
        }
        _checkWindow(p, target);
    }

    function closeBreakGlassBySig(uint256 seed) external tick {
        seed = _mix(seed);
        Sig memory a;
        _sigSigner(a, seed);
        a.target = _b(seed, 2) % 4 == 0 ? HOSP_B : _b(seed, 2) % 2 == 0 ? ER : HOSP_A;
        if (_b(seed, 3) < 192 && lastOpenedOn == a.patient) a.target = lastOpenedBy;
        bytes memory sig = _digestFor(a, _closeStruct(a.patient, a.target, a.signer, a.nonce, a.deadline));
        bytes memory want = _sigErr(a, true);
        if (want.length == 0) want = _predictClose(a.signer, a.patient, a.target);
        bytes memory payload = abi.encodeCall(consent.closeBreakGlassBySig, (a.patient, a.target, a.signer, a.deadline, sig));
        if (_submitSigned(a, payload, want, "closeBreakGlassBySig")) _closed(a.patient, a.target, a.signer);
        _checkWindow(a.patient, a.target);
    }

    // ================================================================ access

    struct Access {
        address who;
        address p;
        bytes32 id;
        bytes32 cat;
        bytes32 commit;
        uint8 purpose;
        bytes32[] proof;
        bool expect;
        bool glass;
    }

    /// @dev A record of patient `p` that scope `s` covers (any of p's records if none does).
    function _recordFor(address p, bytes32 s, uint256 x) internal view returns (uint256) {
        uint256[8] memory c;
        uint256 n;
        for (uint256 r = 0; r < 8; ++r) {
            Rec storage rec = recs[r];
            if (rec.patient == p && (s == SCOPE_ALL || s == rec.cat || s == rec.id)) c[n++] = r;
        }
        if (n == 0) {
            for (uint256 r = 0; r < 8; ++r) {
                if (recs[r].patient == p) c[n++] = r;
            }
        }
        return c[x % n];
    }

    /// @dev The binding check's outcome for these values (RecordRegistry.checkBinding), computed
    /// from the records this handler anchored and an independent Merkle recomputation.
    function _bindingErr(Access memory a) internal view returns (bytes memory) {
        bytes32 leaf = _leaf(a.p, a.id, a.commit, a.cat);
        for (uint256 r = 0; r < 8; ++r) {
            Rec storage rec = recs[r];
            if (rec.id != a.id) continue;
            bool single = uint256(a.id) & BATCH_FLAG == 0;
            bool bound = single ? leaf == _leaf(rec.patient, rec.id, rec.commit, rec.cat) : Merkle.process(a.proof, leaf) == batchRoot;
            return bound ? bytes("") : abi.encodeWithSelector(IRecordRegistry.RecordBindingMismatch.selector, a.id);
        }
        if (a.id == unanchoredIds[1]) {
            // a member index below the count with no leaf: anchored, never bound
            return abi.encodeWithSelector(IRecordRegistry.RecordBindingMismatch.selector, a.id);
        }
        return abi.encodeWithSelector(IRecordRegistry.RecordNotAnchored.selector, a.id);
    }

    function recordAccess(uint256 seed) external tick {
        seed = _mix(seed);
        Access memory a;
        a.who = _caller(_b(seed, 0));
        uint256 r = _b(seed, 2) % 8;
        a.purpose = uint8(_b(seed, 4) % 7);
        if (_b(seed, 5) < 144 && granted.length != 0) {
            // aim at something the patient granted (it may since have expired or been revoked)
            Granted storage k = granted[_b(seed, 6) % granted.length];
            a.who = k.g;
            r = _recordFor(k.p, k.s, _b(seed, 7));
            if ((k.purposes >> a.purpose) & 1 == 0) a.purpose = _lowestBit(k.purposes);
        } else if (_b(seed, 5) < 200) {
            // an emergency member, ETREAT: break-glass decides when no grant does
            a.who = _b(seed, 6) % 2 == 0 ? ER : HOSP_A;
            a.purpose = ETREAT;
        }
        (a.p, a.id, a.cat, a.commit) = (recs[r].patient, recs[r].id, recs[r].cat, recs[r].commit);
        a.proof = recProof[r];
        _corrupt(a, seed, r);
        bytes memory want = a.purpose > MAX_PURPOSE
            ? abi.encodeWithSelector(IConsentRegistry.InvalidPurpose.selector, a.purpose)
            : _bindingErr(a);
        (a.expect, a.glass) = modelAuth(a.p, a.who, a.id, a.cat, a.purpose);
        if (consent.isAuthorizedForRecord(a.p, a.who, a.id, a.cat, a.purpose) != a.expect) {
            _violate("inv1: isAuthorizedForRecord differs from the model");
        }
        if (want.length == 0 && !a.expect) {
            want = abi.encodeWithSelector(IConsentRegistry.AccessNotAuthorized.selector, a.p, a.who, a.id, a.purpose);
        }
        (bool ok, bytes memory ret) =
            _callAs(a.who, abi.encodeCall(consent.recordAccess, (a.p, a.id, a.cat, a.commit, a.purpose, a.proof)));
        if (_outcome(ok, ret, want, "recordAccess")) {
            if (!a.expect) _violate("inv1: access recorded without a live grant or break-glass of an active member");
            if (_bindingErr(a).length != 0) _violate("p1: an access entry for a record not bound to that patient, category and commitment");
            bytes32 head = _chainAccess(a.p, a.who, a.id, a.cat, a.purpose, a.glass);
            if (abi.decode(ret, (bytes32)) != head) _violate("p6: returned audit head differs from the recomputed chain");
            _ok(a.glass ? "recordAccess(break-glass)" : "recordAccess");
        }
    }

    /// @dev One access in eight is corrupted: another patient, category, commitment, another
    /// record's proof, an id never anchored (or leafless), or another record's id.
    function _corrupt(Access memory a, uint256 seed, uint256 r) internal view {
        uint256 c = _b(seed, 8);
        if (c >= 32) return;
        c %= 6;
        if (c == 0) a.p = a.p == signers[0] ? signers[1] : signers[0];
        else if (c == 1) a.cat = a.cat == CAT1 ? CAT2 : CAT1;
        else if (c == 2) a.commit = keccak256(abi.encode(a.commit));
        else if (c == 3) a.proof = recProof[[1, 4, 5, 6, 7][(r + _b(seed, 9)) % 5]];
        else if (c == 4) a.id = unanchoredIds[_b(seed, 9) % 4];
        else a.id = recs[(r + 1 + _b(seed, 9) % 7) % 8].id;
    }
}
