// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {HandlerBase} from "./HandlerBase.sol";
import {ConsentRegistry} from "../../contracts/ConsentRegistry.sol";
import {IConsentRegistry} from "../../contracts/interfaces/IConsentRegistry.sol";

/// @notice The invariant fuzzer's only target. Each entry point draws every argument from one
/// random word, calls the real contracts as some actor (patients, guardians, a stranger,
/// institutions, a non-member), predicts the outcome from an independent model of the consent
/// state, and records a violation when the contracts disagree with the model or break one of
/// SECURITY.md's invariants; after every call it compares a rotating sample of the contracts'
/// state with the model (_postCheck). ConsentInvariants.t.sol fails on any recorded violation and
/// compares the whole state at the end of each run.
contract ConsentHandler is HandlerBase {
    // ---------------------------------------------------------------- world
    ConsentRegistry public second; // a second deployment: signatures for one are void on the other
    uint256 public homeChain;

    uint256[5] internal pks; // P0, P1 (patients), G0, G1 (guardian candidates), S0 (stranger)
    address[5] public signers;
    address[5] internal grantees; // the four members and a non-member
    bytes32[5] public scopes;

    // ---------------------------------------------------------------- model
    struct G {
        uint32 purposes;
        uint64 expiresAt;
        uint64 grantedAt;
    }

    struct Req {
        address requester;
        address patient;
        bytes32 scope;
        uint8 purpose;
        uint8 status;
    }

    mapping(bytes32 key => G) internal mGrant;
    mapping(address patient => mapping(address guardian => uint64)) public mGuardian;
    mapping(address patient => mapping(address inst => uint64)) public mGlass;
    mapping(address signer => uint256) public mNonce;
    mapping(address patient => bytes32) public mHead;
    mapping(address patient => uint64) public mCount;
    mapping(address patient => bytes32) public mKey;
    Req[] internal mReqs;
    bytes[] internal sigCalls; // successful signed calls, replayed later

    /// @dev Recently granted (patient, grantee, scope): revocations and accesses aim at them.
    struct Granted {
        address p;
        address g;
        bytes32 s;
        uint32 purposes;
    }

    Granted[] internal granted;
    uint256 internal grantedCursor;
    uint256 internal sigCursor;

    /// @dev Pass-through of an EIP-712 attempt (kept in memory: the legacy code generator has
    /// only 16 stack slots).
    struct Sig {
        uint256 pk;
        address signer;
        address patient;
        address target; // grantee or guardian
        bytes32 scope;
        uint32 purposes;
        uint64 expiresAt;
        uint256 nonce;
        uint256 deadline;
        uint8 variant;
        address relayer;
    }

    constructor() {
        second = new ConsentRegistry(inst);
        homeChain = block.chainid;
        string[5] memory names = ["patient-0", "patient-1", "guardian-0", "guardian-1", "stranger"];
        for (uint256 i = 0; i < 5; ++i) {
            pks[i] = _pk(names[i]);
            signers[i] = vm.addr(pks[i]);
        }
        grantees = [HOSP_A, HOSP_B, LAB, ER, OUTSIDER];
        scopes = [
            SCOPE_ALL,
            keccak256(abi.encode("careledger.category", "LOINC:11502-2")),
            keccak256(abi.encode("careledger.category", "LOINC:18748-4")),
            _recordId(HOSP_B, 1),
            _recordId(HOSP_A, 2)
        ];
    }

    /// @dev After every call: a rotating sample of the contracts' state against the model (the
    /// whole state is compared at the end of each run by the test's afterInvariant). Any
    /// difference is recorded under its invariant's number.
    function _postCheck() internal override {
        uint256 k = ncalls;
        for (uint256 j = 0; j < 2; ++j) {
            uint256 i = (k * 2 + j) % 300;
            (address p, address g, bytes32 s, uint8 purpose) =
                (signers[i % 2], grantees[i / 2 % 5], scopes[i / 10 % 5], uint8(i / 50 % 6));
            (bool want,) = modelAuth(p, g, s, SCOPE_ALL, purpose);
            if (consent.isAuthorized(p, g, s, purpose) != want) _violate("inv1: isAuthorized differs from the model");
            if (j == 0) {
                IConsentRegistry.Grant memory got = consent.getGrant(p, g, s);
                G storage m = mGrant[_key(p, g, s)];
                if (got.purposes != m.purposes || got.expiresAt != m.expiresAt) {
                    _violate("inv2: a stored grant differs from the model (changed by someone not permitted?)");
                }
                address guardian = signers[k % 5];
                if (consent.guardianExpiry(p, guardian) != mGuardian[p][guardian]) {
                    _violate("inv2: a guardian differs from the model");
                }
            }
        }
        address signer = signers[k % 5];
        if (consent.nonces(signer) != mNonce[signer]) _violate("inv3: nonce differs from the consumed count");
        if (second.nonces(signer) != 0) _violate("inv4: the second deployment consumed a nonce");
        address member = insts[k % 4];
        if (inst.statusOf(member) != mStatus[member]) _violate("inv6: institution status differs from the model");
        for (uint256 i = 0; i < 2; ++i) {
            (bytes32 head, uint64 count) = consent.auditHead(signers[i]);
            if (head != mHead[signers[i]] || count != mCount[signers[i]]) {
                _violate("inv7: stored audit head differs from the recomputed chain");
            }
        }
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

    function _permitted(address actor, address p) internal view returns (bool) {
        return actor == p || now_ < mGuardian[p][actor];
    }

    function _liveM(address p, address g, bytes32 s, uint8 purpose) internal view returns (bool) {
        G storage x = mGrant[_key(p, g, s)];
        // a grant from before the grantee's (re-)admission counts for nothing
        return (x.purposes >> purpose) & 1 == 1 && now_ < x.expiresAt && x.grantedAt >= mSince[g];
    }

    /// @notice The specification of docs/contract-api.md, on the model state.
    function modelAuth(address p, address g, bytes32 rec, bytes32 cat, uint8 purpose)
        public
        view
        returns (bool ok, bool glass)
    {
        if (purpose > MAX_PURPOSE) return (false, false);
        ok = _liveM(p, g, rec, purpose) || _liveM(p, g, cat, purpose) || _liveM(p, g, SCOPE_ALL, purpose);
        if (!ok && purpose == ETREAT && now_ < mGlass[p][g]) (ok, glass) = (true, true);
        if (mStatus[g] != 1) (ok, glass) = (false, false);
    }

    function modelGrant(address p, address g, bytes32 s) public view returns (uint32, uint64) {
        G storage x = mGrant[_key(p, g, s)];
        return (x.purposes, x.expiresAt);
    }

    /// @notice Model audit head and count of a patient, in one call.
    function modelAudit(address p) external view returns (bytes32, uint64) {
        return (mHead[p], mCount[p]);
    }

    function consentAddress() external view returns (address) {
        return address(consent);
    }

    function requestCount() external view returns (uint256) {
        return mReqs.length;
    }

    function modelRequestStatus(uint256 id) external view returns (uint8) {
        return mReqs[id].status;
    }

    /// @dev After a change of (p, g, s): the stored grant and every purpose's answer agree with
    /// the model.
    function _checkKey(address p, address g, bytes32 s) internal {
        IConsentRegistry.Grant memory got = consent.getGrant(p, g, s);
        G storage want = mGrant[_key(p, g, s)];
        if (got.purposes != want.purposes || got.expiresAt != want.expiresAt) _violate("model: stored grant differs");
        for (uint8 purpose = 0; purpose <= MAX_PURPOSE; ++purpose) {
            (bool ok,) = modelAuth(p, g, s, SCOPE_ALL, purpose);
            if (consent.isAuthorized(p, g, s, purpose) != ok) _violate("inv1: isAuthorized differs from the model");
        }
    }

    // ================================================================ time

    /// @notice Jump to an expiry edge (one second before, at, or after) of a grant, guardian or
    /// break-glass window that ends within three days.
    function warpToEdge(uint256 seed) external tick {
        seed = _mix(seed);
        address p = _patient(_b(seed, 0));
        address g = grantees[_b(seed, 2) % 5];
        bytes32 s = scopes[_b(seed, 3) % 5];
        address guardian = _guardianCandidate(_b(seed, 2));
        uint256 target;
        uint256 k = _b(seed, 1) % 3;
        if (k == 0) target = mGrant[_key(p, g, s)].expiresAt;
        else if (k == 1) target = mGuardian[p][guardian];
        else target = mGlass[p][g];
        if (target == 0) return;
        target = target - 1 + (_b(seed, 4) % 3);
        if (target <= now_ || target > now_ + 3 days) return;
        now_ = target;
        vm.warp(now_);
        // the edge itself: the contract must flip exactly when the model does
        if (k == 1) {
            bool live = now_ < mGuardian[p][guardian];
            if (consent.isGuardian(p, guardian) != live) {
                _violate("inv2: guardian liveness at its expiry edge differs from the model");
            }
            // and the guardian acts at the edge: allowed exactly while live
            bytes32 key = keccak256(abi.encode("edge", seed));
            vm.prank(guardian);
            try consent.registerPatientKey(p, key) {
                if (!_permitted(guardian, p)) _violate("inv2: a guardian acted at or after its expiry");
                mKey[p] = key;
            } catch {
                if (_permitted(guardian, p)) _violate("model: a live guardian was refused at its expiry edge");
            }
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
        bool expect = _permitted(actor, p) && purposes != 0 && purposes < 64 && exp > now_ && _member(g);
        vm.prank(actor);
        try consent.grant(p, g, s, purposes, exp) {
            if (!_permitted(actor, p)) _violate("inv2: grant by neither the patient nor a live guardian");
            if (!expect) _violate("model: grant succeeded unexpectedly");
            mGrant[_key(p, g, s)] = G(purposes, exp, uint64(now_));
            _rememberGrant(p, g, s, purposes);
            _ok("grant");
        } catch {
            if (expect) _violate("model: grant reverted unexpectedly");
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
        bool expect = _permitted(actor, p) && mGrant[_key(p, g, s)].purposes != 0;
        vm.prank(actor);
        try consent.revoke(p, g, s) {
            if (!_permitted(actor, p)) _violate("inv2: revoke by neither the patient nor a live guardian");
            if (!expect) _violate("model: revoke succeeded unexpectedly");
            delete mGrant[_key(p, g, s)];
            _ok("revoke");
        } catch {
            if (expect) _violate("model: revoke reverted unexpectedly");
        }
        _checkKey(p, g, s);
    }

    function registerPatientKey(uint256 seed) external tick {
        seed = _mix(seed);
        address p = _patient(_b(seed, 1));
        address actor = _actorFor(p, _b(seed, 0));
        bytes32 key = _b(seed, 2) < 16 ? bytes32(0) : keccak256(abi.encode(seed));
        bool expect = _permitted(actor, p) && key != bytes32(0);
        vm.prank(actor);
        try consent.registerPatientKey(p, key) {
            if (!_permitted(actor, p)) _violate("inv2: patient key set by neither the patient nor a live guardian");
            if (!expect) _violate("model: registerPatientKey succeeded unexpectedly");
            mKey[p] = key;
            _ok("registerPatientKey");
        } catch {
            if (expect) _violate("model: registerPatientKey reverted unexpectedly");
        }
    }

    // ================================================================ guardians

    function setGuardian(uint256 seed) external tick {
        seed = _mix(seed);
        address actor = _b(seed, 0) < 160 ? _patient(_b(seed, 3)) : _actor(_b(seed, 4));
        address g = _guardianCandidate(_b(seed, 1));
        uint64 exp = _exp(seed, 5, 20 days);
        bool expect = g != address(0) && g != actor && exp > now_;
        vm.prank(actor);
        try consent.setGuardian(g, exp) {
            if (!expect) _violate("model: setGuardian succeeded unexpectedly");
            mGuardian[actor][g] = exp;
            _ok("setGuardian");
        } catch {
            if (expect) _violate("model: setGuardian reverted unexpectedly");
        }
    }

    function removeGuardian(uint256 seed) external tick {
        seed = _mix(seed);
        address actor = _b(seed, 0) < 160 ? _patient(_b(seed, 3)) : _actor(_b(seed, 4));
        address g = _guardianCandidate(_b(seed, 1));
        bool expect = mGuardian[actor][g] != 0;
        vm.prank(actor);
        try consent.removeGuardian(g) {
            if (!expect) _violate("model: removeGuardian succeeded unexpectedly");
            delete mGuardian[actor][g];
            _ok("removeGuardian");
        } catch {
            if (expect) _violate("model: removeGuardian reverted unexpectedly");
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

    /// @dev Submit `payload` to the registry (under a changed chain id for variant 5) and check the
    /// nonce moved exactly when the call succeeded. Returns success.
    function _submitSigned(Sig memory a, bytes memory payload, bool expect, string memory name)
        internal
        returns (bool ok)
    {
        if (a.variant == 5) vm.chainId(homeChain + 7);
        vm.prank(a.relayer);
        (ok,) = address(consent).call(payload);
        if (a.variant == 5) vm.chainId(homeChain);
        if (ok) {
            if (a.variant >= 4) {
                if (a.variant == 8) _violate("inv3: a signature for a wrong nonce was accepted");
                else if (a.variant == 9 || a.variant == 10) _violate("inv4: a forged or malleated signature was accepted");
                else _violate("inv4: a signature for another chain, contract or past its deadline was accepted");
            }
            if (!expect) _violate(string.concat("model: ", name, " succeeded unexpectedly"));
            ++mNonce[a.signer];
            _remember(payload);
            _ok(name);
        } else if (expect) {
            _violate(string.concat("model: ", name, " reverted unexpectedly"));
        }
        if (consent.nonces(a.signer) != mNonce[a.signer]) _violate("inv3: nonce differs from the consumed count");
        // the same payload never works on the second deployment (unless it was signed for it)
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
        uint256 pIdx = _b(seed, 1) % 2;
        _sigBase(a, seed, _b(seed, 0) < 128 ? pIdx : _b(seed, 0) % 5);
        a.patient = signers[pIdx];
        a.target = grantees[_b(seed, 2) % 5];
        a.scope = scopes[_b(seed, 3) % 5];
        a.purposes = uint32(_b(seed, 4) % 66);
        a.expiresAt = _exp(seed, 5, 31 days);
        bytes memory sig = _digestFor(
            a, _grantStruct(a.patient, a.target, a.scope, a.purposes, a.expiresAt, a.signer, a.nonce, a.deadline)
        );
        bool expect = a.variant < 4 && _permitted(a.signer, a.patient) && a.purposes != 0 && a.purposes < 64
            && a.expiresAt > now_ && _member(a.target);
        bytes memory payload = abi.encodeCall(
            consent.grantBySig, (a.patient, a.target, a.scope, a.purposes, a.expiresAt, a.signer, a.deadline, sig)
        );
        if (_submitSigned(a, payload, expect, "grantBySig")) {
            if (!_permitted(a.signer, a.patient)) _violate("inv2: signed grant by neither the patient nor a guardian");
            mGrant[_key(a.patient, a.target, a.scope)] = G(a.purposes, a.expiresAt, uint64(now_));
            _rememberGrant(a.patient, a.target, a.scope, a.purposes);
        }
        _checkKey(a.patient, a.target, a.scope);
    }

    function revokeBySig(uint256 seed) external tick {
        seed = _mix(seed);
        Sig memory a;
        uint256 pIdx = _b(seed, 1) % 2;
        _sigBase(a, seed, _b(seed, 0) < 128 ? pIdx : _b(seed, 0) % 5);
        a.patient = signers[pIdx];
        a.target = grantees[_b(seed, 2) % 5];
        a.scope = scopes[_b(seed, 3) % 5];
        if (_b(seed, 4) < 160 && granted.length != 0) {
            Granted storage k = granted[_b(seed, 6) % granted.length];
            (a.patient, a.target, a.scope) = (k.p, k.g, k.s);
        }
        bytes memory sig =
            _digestFor(a, _revokeStruct(a.patient, a.target, a.scope, a.signer, a.nonce, a.deadline));
        bool expect = a.variant < 4 && _permitted(a.signer, a.patient)
            && mGrant[_key(a.patient, a.target, a.scope)].purposes != 0;
        bytes memory payload =
            abi.encodeCall(consent.revokeBySig, (a.patient, a.target, a.scope, a.signer, a.deadline, sig));
        if (_submitSigned(a, payload, expect, "revokeBySig")) {
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
        bool expect =
            a.variant < 4 && a.target != address(0) && a.target != a.patient && a.expiresAt > now_;
        bytes memory payload =
            abi.encodeCall(consent.setGuardianBySig, (a.patient, a.target, a.expiresAt, a.deadline, sig));
        if (_submitSigned(a, payload, expect, "setGuardianBySig")) mGuardian[a.patient][a.target] = a.expiresAt;
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
        bool expect = mStatus[who] == 1 && purpose <= MAX_PURPOSE;
        vm.prank(who);
        try consent.requestAccess(p, s, purpose, keccak256(abi.encode(seed))) returns (uint256 id) {
            if (mStatus[who] != 1) _violate("inv6: an inactive or unknown institution requested access");
            if (!expect) _violate("model: requestAccess succeeded unexpectedly");
            if (id != mReqs.length) _violate("model: request id");
            mReqs.push(Req(who, p, s, purpose, 0));
            _ok("requestAccess");
        } catch {
            if (expect) _violate("model: requestAccess reverted unexpectedly");
        }
    }

    function approveRequest(uint256 seed) external tick {
        seed = _mix(seed);
        if (mReqs.length == 0) return;
        uint256 id = _u32(seed, 0) % mReqs.length;
        Req storage r = mReqs[id];
        address actor = _b(seed, 4) < 128 ? r.patient : _actor(_b(seed, 5));
        uint64 exp = _exp(seed, 6, 31 days);
        bool expect = r.status == 0 && _permitted(actor, r.patient) && exp > now_ && _member(r.requester);
        vm.prank(actor);
        try consent.approveRequest(id, exp) {
            if (!_permitted(actor, r.patient)) _violate("inv2: request approved by neither the patient nor a guardian");
            if (!expect) _violate("model: approveRequest succeeded unexpectedly");
            bytes32 k = _key(r.patient, r.requester, r.scope);
            uint32 purposes = uint32(1) << r.purpose;
            if (now_ < mGrant[k].expiresAt && mGrant[k].grantedAt >= mSince[r.requester]) {
                purposes |= mGrant[k].purposes;
            }
            mGrant[k] = G(purposes, exp, uint64(now_));
            r.status = 1;
            _ok("approveRequest");
        } catch {
            if (expect) _violate("model: approveRequest reverted unexpectedly");
        }
        _checkKey(r.patient, r.requester, r.scope);
    }

    function rejectRequest(uint256 seed) external tick {
        seed = _mix(seed);
        if (mReqs.length == 0) return;
        uint256 id = _u32(seed, 0) % mReqs.length;
        Req storage r = mReqs[id];
        address actor = _b(seed, 4) < 128 ? r.patient : _actor(_b(seed, 5));
        bool expect = r.status == 0 && _permitted(actor, r.patient);
        vm.prank(actor);
        try consent.rejectRequest(id) {
            if (!_permitted(actor, r.patient)) _violate("inv2: request rejected by neither the patient nor a guardian");
            if (!expect) _violate("model: rejectRequest succeeded unexpectedly");
            r.status = 2;
            _ok("rejectRequest");
        } catch {
            if (expect) _violate("model: rejectRequest reverted unexpectedly");
        }
    }

    // ================================================================ break-glass and access

    function breakGlass(uint256 seed) external tick {
        seed = _mix(seed);
        address who = _caller(_b(seed, 0));
        address p = _patient(_b(seed, 1));
        uint256 d = _b(seed, 6);
        // edges: 0 and MAX_BREAK_GLASS + 1 are refused, MAX_BREAK_GLASS is the longest allowed
        uint64 duration = d < 8 ? 0 : d < 16 ? 72 hours + 1 : d < 24 ? 72 hours : uint64(1 + _u32(seed, 2) % 72 hours);
        bool allowed = mStatus[who] == 1 && mRoles[who] & ROLE_EMERGENCY != 0;
        bool expect = allowed && duration > 0 && duration <= 72 hours;
        vm.prank(who);
        try consent.breakGlass(p, bytes32(seed), duration) {
            if (!allowed) _violate("inv6: break-glass by an inactive or non-emergency institution");
            if (!expect) _violate("model: breakGlass succeeded unexpectedly");
            mGlass[p][who] = uint64(now_ + duration);
            _ok("breakGlass");
        } catch {
            if (expect) _violate("model: breakGlass reverted unexpectedly");
        }
    }

    struct Access {
        address who;
        address p;
        bytes32 rec;
        bytes32 cat;
        uint8 purpose;
        bool expect;
        bool glass;
    }

    function recordAccess(uint256 seed) external tick {
        seed = _mix(seed);
        Access memory a;
        a.who = _caller(_b(seed, 0));
        a.p = _patient(_b(seed, 1));
        a.rec = scopes[_b(seed, 2) % 5];
        a.cat = scopes[_b(seed, 3) % 5];
        a.purpose = uint8(_b(seed, 4) % 7);
        if (_b(seed, 5) < 144 && granted.length != 0) {
            // aim at something the patient granted (it may since have expired or been revoked)
            Granted storage k = granted[_b(seed, 6) % granted.length];
            (a.p, a.who) = (k.p, k.g);
            if (_b(seed, 7) % 2 == 0) a.rec = k.s;
            else a.cat = k.s;
            if ((k.purposes >> a.purpose) & 1 == 0) a.purpose = _lowestBit(k.purposes);
        } else if (_b(seed, 5) < 200) {
            // an emergency member, ETREAT: break-glass decides when no grant does
            a.who = _b(seed, 6) % 2 == 0 ? ER : HOSP_A;
            a.purpose = ETREAT;
        }
        (a.expect, a.glass) = modelAuth(a.p, a.who, a.rec, a.cat, a.purpose);
        if (consent.isAuthorizedForRecord(a.p, a.who, a.rec, a.cat, a.purpose) != a.expect) {
            _violate("inv1: isAuthorizedForRecord differs from the model");
        }
        vm.prank(a.who);
        try consent.recordAccess(a.p, a.rec, a.cat, a.purpose) returns (bytes32 head) {
            if (!a.expect) _violate("inv1: access recorded without a live grant or break-glass of an active member");
            _chain(a, head);
            _ok(a.glass ? "recordAccess(break-glass)" : "recordAccess");
        } catch {
            if (a.expect) _violate("model: authorised recordAccess reverted");
        }
    }

    /// @dev Advance the model's chain by this access; the contract's returned head must match.
    function _chain(Access memory a, bytes32 head) internal {
        bytes32 want = _auditStep(mHead[a.p], a.p, a.who, a.rec, a.cat, a.purpose, uint64(now_), mCount[a.p], a.glass);
        if (head != want) _violate("inv7: returned audit head differs from the recomputed chain");
        mHead[a.p] = want;
        ++mCount[a.p];
    }
}
