// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {Vm} from "./utils/Vm.sol";
import {
    InvalidEncryptionKey, MissingRole, NotActiveInstitution, NotMember
} from "../contracts/interfaces/CareLedgerErrors.sol";
import {IConsentRegistry} from "../contracts/interfaces/IConsentRegistry.sol";
import {IRecordRegistry} from "../contracts/interfaces/IRecordRegistry.sol";
import {IInstitutionRegistry} from "../contracts/interfaces/IInstitutionRegistry.sol";
import {ConsentRegistry} from "../contracts/ConsentRegistry.sol";
import {InstitutionRegistry} from "../contracts/InstitutionRegistry.sol";
import {RecordRegistry} from "../contracts/RecordRegistry.sol";
import {MockContractWallet} from "../contracts/test/MockContractWallet.sol";

/// @notice Stateless fuzz properties of ConsentRegistry for SECURITY.md invariants 1-4, 6 and 7
/// and the v2 properties 3 (purpose expiries), 4 (admission epochs), 6 (audit chain with
/// break-glass entries), 8 (only the patient registers its key) and 9 (requests) of
/// test-sol/README.md (5,000 runs each in the default profile). Accesses are to records anchored
/// for the patient (v2 binds every access to an anchored record).
contract ConsentFuzzTest is Fixture {
    uint256 internal PATIENT_PK;
    uint256 internal GUARDIAN_PK;
    address internal patient;
    address internal guardian;
    bytes32 internal constant CAT = keccak256(abi.encode("careledger.category", "LOINC:11502-2"));
    bytes32 internal constant COMMIT = keccak256("careledger.test.blob");
    uint8 internal constant HRESCH = 4;
    /// @dev A single record of the patient in category CAT, anchored by HOSP_B in setUp.
    bytes32 internal REC;
    /// @dev A second deployment on the same registries (signatures must not carry over).
    ConsentRegistry internal secondDeployment;

    function setUp() public {
        _deploy();
        PATIENT_PK = _pk("patient");
        GUARDIAN_PK = _pk("guardian");
        patient = vm.addr(PATIENT_PK);
        guardian = vm.addr(GUARDIAN_PK);
        REC = _anchorSingle(HOSP_B, patient, 0x5ec, COMMIT, CAT);
        secondDeployment = new ConsentRegistry(inst, records);
    }

    // ================================================================ helpers

    function _scope(uint256 seed) internal pure returns (bytes32) {
        uint256 k = seed % 3;
        if (k == 0) return SCOPE_ALL;
        if (k == 1) return CAT;
        return _recordId(HOSP_B, uint96(seed >> 8));
    }

    function _purposes(uint32 raw) internal pure returns (uint32) {
        uint32 p = raw & ALL_PURPOSES;
        return p == 0 ? 1 : p;
    }

    function _grantee(uint256 seed) internal pure returns (address) {
        uint256 k = seed % 4;
        return k == 0 ? HOSP_A : k == 1 ? HOSP_B : k == 2 ? LAB : ER;
    }

    /// @dev The patient's consent to `grantee`, signed by `pk` (the patient or a guardian) under
    /// the domain separator `ds`.
    function _signGrant(
        uint256 pk,
        bytes32 ds,
        address grantee,
        bytes32 scope,
        uint32 purposes,
        uint64 expiresAt,
        uint256 nonce,
        uint256 deadline
    ) internal view returns (bytes memory) {
        GrantMsg memory m;
        m.patient = patient;
        m.grantee = grantee;
        m.scope = scope;
        m.purposes = purposes;
        m.expiresAt = expiresAt;
        m.signer = vm.addr(pk);
        m.nonce = nonce;
        m.deadline = deadline;
        return _sign(pk, ds, _grantHash(m));
    }

    function _ds() internal view returns (bytes32) {
        return _domain(block.chainid, address(consent));
    }

    /// @dev A record the scope covers, anchored for the patient in category CAT: REC for
    /// SCOPE_ALL and CAT, the scope itself (anchored here if needed) for a record-id scope.
    function _target(bytes32 scope) internal returns (bytes32) {
        if (scope == SCOPE_ALL || scope == CAT) return REC;
        if (!records.isAnchored(scope)) {
            vm.prank(HOSP_B);
            records.anchor(patient, scope, COMMIT, CAT, bytes32(0));
        }
        return scope;
    }

    /// @dev `who` records an access to `rec` (a single record of the patient, category CAT).
    function _access(address who, bytes32 rec, uint8 purpose) internal returns (bytes32) {
        vm.prank(who);
        return consent.recordAccess(patient, rec, CAT, COMMIT, purpose, _noProof());
    }

    function _notAuthorised(address who, bytes32 rec, uint8 purpose) internal {
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.AccessNotAuthorized.selector, patient, who, rec, purpose));
        _access(who, rec, purpose);
    }

    function _details(uint256 id, address requester, bytes32 scope, uint8 purpose)
        internal
        view
        returns (IConsentRegistry.RequestDetails memory)
    {
        return IConsentRegistry.RequestDetails(id, requester, patient, scope, purpose);
    }

    function _request(address requester, bytes32 scope, uint8 purpose)
        internal
        returns (IConsentRegistry.RequestDetails memory)
    {
        vm.prank(requester);
        uint256 id = consent.requestAccess(patient, scope, purpose, keccak256("why"));
        return _details(id, requester, scope, purpose);
    }

    function _anyAuthorised(address grantee, bytes32 scope) internal view returns (bool) {
        for (uint8 p = 0; p <= MAX_PURPOSE; ++p) {
            if (consent.isAuthorized(patient, grantee, scope, p)) return true;
        }
        return false;
    }

    // ================================================================ 1. revoked or expired never authorises

    /// Grant, revoke, then anything later (time passes, the grantee is suspended and reinstated,
    /// other grants are made and revoked): the revoked grant never authorises, for any purpose.
    function testFuzz_inv1_revokedGrantNeverAuthorises(
        uint256 granteeSeed,
        uint256 scopeSeed,
        uint32 purposes,
        uint32 lifetime,
        uint32 later,
        bool bounce
    ) public {
        address grantee = _grantee(granteeSeed);
        bytes32 scope = _scope(scopeSeed);
        purposes = _purposes(purposes);
        uint64 expiresAt = uint64(block.timestamp + bound(lifetime, 1, 365 days * 50));

        vm.prank(patient);
        consent.grant(patient, grantee, scope, purposes, expiresAt);
        assertTrue(_anyAuthorised(grantee, scope), "live grant authorises");
        vm.prank(patient);
        consent.revoke(patient, grantee, scope);

        vm.warp(block.timestamp + bound(later, 0, 365 days * 60));
        if (bounce) {
            _suspend(grantee);
            _reinstate(grantee);
        }
        // an unrelated grant of another grantee on the same scope does not revive it
        address other = grantee == HOSP_A ? HOSP_B : HOSP_A;
        vm.prank(patient);
        consent.grant(patient, other, scope, ALL_PURPOSES, uint64(block.timestamp + 1 days));

        assertFalse(_anyAuthorised(grantee, scope), "revoked grant authorises");
        IConsentRegistry.Grant memory g = consent.getGrant(patient, grantee, scope);
        assertEq(g.purposes, 0, "revoked grant has purposes");
        bytes32 rec = _target(scope);
        for (uint8 p = 0; p <= MAX_PURPOSE; ++p) {
            _notAuthorised(grantee, rec, p);
        }
    }

    /// A grant authorises at expiresAt - 1 and never from expiresAt on (one comparison, `<`).
    function testFuzz_inv1_expiryBoundary(uint256 granteeSeed, uint256 scopeSeed, uint32 lifetime, uint64 after_)
        public
    {
        address grantee = _grantee(granteeSeed);
        bytes32 scope = _scope(scopeSeed);
        // expiries are stored as uint32: the latest valid one is type(uint32).max
        uint64 expiresAt = uint64(block.timestamp + bound(lifetime, 1, type(uint32).max - block.timestamp));
        vm.prank(patient);
        consent.grant(patient, grantee, scope, uint32(1) << TREAT, expiresAt);

        vm.warp(expiresAt - 1);
        assertTrue(consent.isAuthorized(patient, grantee, scope, TREAT), "authorised at expiry - 1");
        vm.warp(expiresAt);
        assertFalse(consent.isAuthorized(patient, grantee, scope, TREAT), "authorised at expiry");
        vm.warp(uint256(expiresAt) + 1 + bound(after_, 0, type(uint64).max - uint256(expiresAt) - 1));
        assertFalse(consent.isAuthorized(patient, grantee, scope, TREAT), "authorised after expiry");
        _notAuthorised(grantee, _target(scope), TREAT);
    }

    /// An expiry after 2106 (above uint32) or not in the future reverts InvalidExpiry(expiresAt, now).
    function testFuzz_inv1_expiryMustFitUint32(uint64 expiresAt, bool past) public {
        if (past) expiresAt = uint64(bound(expiresAt, 0, block.timestamp));
        else expiresAt = uint64(bound(expiresAt, uint256(type(uint32).max) + 1, type(uint64).max));
        vm.prank(patient);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.InvalidExpiry.selector, expiresAt, block.timestamp));
        consent.grant(patient, HOSP_A, CAT, 1, expiresAt);
    }

    /// Approving a request after the old grant expired does not revive the old purposes: only the
    /// requested purpose becomes live (approval adds to what is *live*).
    function testFuzz_inv1_approvalDoesNotReviveExpiredPurposes(uint32 oldPurposes, uint8 requested, uint32 lifetime)
        public
    {
        oldPurposes = _purposes(oldPurposes);
        requested = uint8(bound(requested, 0, MAX_PURPOSE));
        uint64 expiresAt = uint64(block.timestamp + bound(lifetime, 1, 30 days));
        vm.prank(patient);
        consent.grant(patient, HOSP_B, SCOPE_ALL, oldPurposes, expiresAt);
        vm.warp(expiresAt);
        IConsentRegistry.RequestDetails memory r = _request(HOSP_B, SCOPE_ALL, requested);
        vm.prank(patient);
        consent.approveRequest(r, uint64(block.timestamp + 1 days));
        IConsentRegistry.Grant memory g = consent.getGrant(patient, HOSP_B, SCOPE_ALL);
        for (uint8 p = 0; p <= MAX_PURPOSE; ++p) {
            assertEq(consent.isAuthorized(patient, HOSP_B, SCOPE_ALL, p), p == requested, "purpose after approval");
            if (p != requested) {
                // the other purposes keep their own (expired) expiry: never extended
                assertEq(g.expiresAt[p], (oldPurposes >> p) & 1 == 1 ? expiresAt : 0, "other purpose's expiry");
            }
        }
    }

    /// A revoke signed by the patient and relayed by anyone has the same effect as a direct revoke.
    function testFuzz_inv1_revokedBySigNeverAuthorises(uint256 scopeSeed, uint32 purposes, address relayer, uint32 later)
        public
    {
        bytes32 scope = _scope(scopeSeed);
        vm.prank(patient);
        consent.grant(patient, HOSP_A, scope, _purposes(purposes), uint64(block.timestamp + 10 days));
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory sig = _sign(
            PATIENT_PK,
            consent.DOMAIN_SEPARATOR(),
            _revokeStruct(patient, HOSP_A, scope, patient, consent.nonces(patient), deadline)
        );
        vm.prank(relayer);
        consent.revokeBySig(patient, HOSP_A, scope, patient, deadline, sig);
        vm.warp(block.timestamp + bound(later, 0, 20 days));
        assertFalse(_anyAuthorised(HOSP_A, scope), "revoked-by-signature grant authorises");
    }

    // ================================================================ 2. only patient or live guardian

    /// Every consent-changing entry point (grant, revoke, approve, reject, closeBreakGlass),
    /// called by anyone who is neither the patient nor a live guardian, reverts
    /// NotPatientOrGuardian(caller, patient) and changes nothing; registerPatientKey by that
    /// caller registers the caller's own key, never the patient's.
    function testFuzz_inv2_strangerCannotChangeConsents(address caller, uint256 which, uint256 scopeSeed) public {
        vm.assume(caller != patient && caller != guardian);
        bytes32 scope = _scope(scopeSeed);
        // a live grant, a pending request and an open break-glass window to act on
        vm.prank(patient);
        consent.grant(patient, HOSP_B, scope, 1, uint64(block.timestamp + 1 days));
        IConsentRegistry.RequestDetails memory r = _request(HOSP_A, scope, TREAT);
        vm.prank(ER);
        consent.breakGlass(patient, keccak256("reason"), 1 hours);
        IConsentRegistry.Grant memory before = consent.getGrant(patient, HOSP_B, scope);

        bytes memory err = abi.encodeWithSelector(IConsentRegistry.NotPatientOrGuardian.selector, caller, patient);
        vm.prank(caller);
        vm.expectRevert(err);
        which %= 5;
        if (which == 0) consent.grant(patient, HOSP_B, scope, ALL_PURPOSES, uint64(block.timestamp + 9 days));
        else if (which == 1) consent.revoke(patient, HOSP_B, scope);
        else if (which == 2) consent.approveRequest(r, uint64(block.timestamp + 9 days));
        else if (which == 3) consent.rejectRequest(r);
        else consent.closeBreakGlass(patient, ER);

        IConsentRegistry.Grant memory afterG = consent.getGrant(patient, HOSP_B, scope);
        assertEq(keccak256(abi.encode(afterG)), keccak256(abi.encode(before)), "grant changed");
        assertEq(consent.requestStatus(r.requestId), 0, "request changed");
        assertEq(consent.breakGlassWindow(patient, ER).expiresAt, block.timestamp + 1 hours, "window changed");
        assertTrue(consent.isAuthorized(patient, ER, REC, ETREAT), "window closed by a stranger");

        vm.prank(caller);
        consent.registerPatientKey(keccak256("evil key"));
        assertEq(consent.patientKeyOf(patient), bytes32(0), "patient key changed");
        assertEq(consent.patientKeyOf(caller), keccak256("evil key"), "caller's own key");
    }

    /// A guardian acts only while live: before expiry it may grant, from expiry on (or once
    /// removed) it reverts NotPatientOrGuardian.
    function testFuzz_inv2_guardianOnlyWhileLive(uint32 lifetime, uint32 after_, bool removeInstead) public {
        uint64 gExp = uint64(block.timestamp + bound(lifetime, 1, 365 days));
        vm.prank(patient);
        consent.setGuardian(guardian, gExp);

        vm.warp(gExp - 1);
        vm.prank(guardian);
        consent.grant(patient, HOSP_A, SCOPE_ALL, 1, uint64(block.timestamp + 1 days));
        assertTrue(consent.isAuthorized(patient, HOSP_A, SCOPE_ALL, TREAT), "guardian grant");

        if (removeInstead) {
            vm.prank(patient);
            consent.removeGuardian(guardian);
        } else {
            vm.warp(uint256(gExp) + bound(after_, 0, 365 days));
        }
        bytes memory err = abi.encodeWithSelector(IConsentRegistry.NotPatientOrGuardian.selector, guardian, patient);
        vm.prank(guardian);
        vm.expectRevert(err);
        consent.revoke(patient, HOSP_A, SCOPE_ALL);
        vm.prank(guardian);
        vm.expectRevert(err);
        consent.grant(patient, HOSP_B, SCOPE_ALL, 1, uint64(block.timestamp + 1 days));
        // nor by signature
        uint256 deadline = block.timestamp;
        bytes memory sig = _sign(
            GUARDIAN_PK,
            consent.DOMAIN_SEPARATOR(),
            _grantStruct(patient, HOSP_B, SCOPE_ALL, 1, uint64(block.timestamp + 1 days), guardian, 0, deadline)
        );
        vm.expectRevert(err);
        consent.grantBySig(patient, HOSP_B, SCOPE_ALL, 1, uint64(block.timestamp + 1 days), guardian, deadline, sig);
    }

    /// Guardians cannot appoint or remove guardians of the patient: setGuardian/removeGuardian act on
    /// msg.sender's own guardians only, and setGuardianBySig needs the patient's own signature.
    function testFuzz_inv2_guardianCannotAppointGuardians(address other) public {
        vm.assume(other != address(0) && other != guardian && other != patient);
        vm.prank(patient);
        consent.setGuardian(guardian, uint64(block.timestamp + 30 days));
        vm.prank(guardian);
        consent.setGuardian(other, uint64(block.timestamp + 30 days));
        assertEq(consent.guardianExpiry(patient, other), 0, "guardian appointed a guardian of the patient");
        uint256 deadline = block.timestamp + 1;
        bytes memory sig = _sign(
            GUARDIAN_PK,
            consent.DOMAIN_SEPARATOR(),
            _guardianStruct(patient, other, uint64(block.timestamp + 30 days), consent.nonces(patient), deadline)
        );
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.InvalidSignature.selector, patient));
        consent.setGuardianBySig(patient, other, uint64(block.timestamp + 30 days), deadline, sig);
    }

    /// A signature by any key that is not the patient's nor a live guardian's never changes consents
    /// (as its own signer: NotPatientOrGuardian; claiming to be the patient: InvalidSignature).
    function testFuzz_inv2_inv4_randomKeyNeverAuthorises(uint256 pk, uint256 scopeSeed, bool claimPatient) public {
        pk = bound(pk, 1, SECP256K1_N - 1);
        address signer = vm.addr(pk);
        vm.assume(signer != patient && signer != guardian);
        bytes32 scope = _scope(scopeSeed);
        uint64 exp = uint64(block.timestamp + 1 days);
        uint256 deadline = block.timestamp + 1 hours;
        address claimed = claimPatient ? patient : signer;
        bytes memory sig = _sign(
            pk,
            consent.DOMAIN_SEPARATOR(),
            _grantStruct(patient, HOSP_A, scope, ALL_PURPOSES, exp, claimed, consent.nonces(claimed), deadline)
        );
        vm.expectRevert(
            claimPatient
                ? abi.encodeWithSelector(IConsentRegistry.InvalidSignature.selector, patient)
                : abi.encodeWithSelector(IConsentRegistry.NotPatientOrGuardian.selector, signer, patient)
        );
        consent.grantBySig(patient, HOSP_A, scope, ALL_PURPOSES, exp, claimed, deadline, sig);
        assertFalse(_anyAuthorised(HOSP_A, scope), "random key authorised");
    }

    // ================================================================ 3. (signer, nonce) once; nonces only increase

    /// A signed grant applies once: the second submission (by anyone) reverts InvalidSignature,
    /// the nonce advanced by exactly one, and the state equals the single application.
    function testFuzz_inv3_signatureAppliesOnce(
        uint256 scopeSeed,
        uint32 purposes,
        uint32 lifetime,
        address relayer1,
        address relayer2,
        bool byGuardian
    ) public {
        uint256 pk = PATIENT_PK;
        if (byGuardian) {
            vm.prank(patient);
            consent.setGuardian(guardian, uint64(block.timestamp + 400 days));
            pk = GUARDIAN_PK;
        }
        bytes32 scope = _scope(scopeSeed);
        purposes = _purposes(purposes);
        uint64 exp = uint64(block.timestamp + bound(lifetime, 1, 365 days));
        uint256 n0 = consent.nonces(vm.addr(pk));
        bytes memory sig = _signGrant(pk, _ds(), HOSP_B, scope, purposes, exp, n0, block.timestamp + 1 days);

        vm.prank(relayer1);
        consent.grantBySig(patient, HOSP_B, scope, purposes, exp, vm.addr(pk), block.timestamp + 1 days, sig);
        assertEq(consent.nonces(vm.addr(pk)), n0 + 1, "nonce consumed once");
        assertEq(consent.getGrant(patient, HOSP_B, scope).purposes, purposes, "applied with the signed purposes");

        // the patient revokes, then someone replays the consumed signature
        vm.prank(patient);
        consent.revoke(patient, HOSP_B, scope);
        vm.prank(relayer2);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.InvalidSignature.selector, vm.addr(pk)));
        consent.grantBySig(patient, HOSP_B, scope, purposes, exp, vm.addr(pk), block.timestamp + 1 days, sig);
        assertEq(consent.nonces(vm.addr(pk)), n0 + 1, "replay moved the nonce");
        assertEq(consent.getGrant(patient, HOSP_B, scope).purposes, 0, "replay re-granted");
    }

    /// Nonces only increase, by exactly one per successful signed change or increaseNonce, and a
    /// failed submission (bad signature, expired, wrong nonce) consumes nothing.
    function testFuzz_inv3_noncesOnlyIncrease(uint8[12] calldata ops, uint256 garbage) public {
        uint256 expected = consent.nonces(patient);
        for (uint256 i = 0; i < ops.length; ++i) {
            uint256 before = consent.nonces(patient);
            if (_nonceStep(ops[i] % 5, before, uint256(keccak256(abi.encode(garbage, i))))) ++expected;
            assertEq(consent.nonces(patient), expected, "nonce");
            assertLe(before, consent.nonces(patient), "nonce decreased");
        }
    }

    /// One step of the nonce sequence; true when it must consume a nonce.
    function _nonceStep(uint256 op, uint256 nonce, uint256 garbage) internal returns (bool consumes) {
        uint256 deadline = block.timestamp + 1 hours;
        uint64 exp = uint64(block.timestamp + 1 days);
        bytes memory bad = abi.encodeWithSelector(IConsentRegistry.InvalidSignature.selector, patient);
        if (op == 0) {
            vm.prank(patient);
            assertEq(consent.increaseNonce(), nonce + 1, "increaseNonce returns the new nonce");
            return true;
        }
        bytes memory sig;
        if (op == 1) {
            sig = _signGrant(PATIENT_PK, _ds(), LAB, CAT, 1, exp, nonce, deadline);
            consent.grantBySig(patient, LAB, CAT, 1, exp, patient, deadline, sig);
            return true;
        }
        if (op == 2) {
            // signed for a future nonce: invalid now
            sig = _signGrant(PATIENT_PK, _ds(), LAB, CAT, 1, exp, nonce + 1 + garbage % 5, deadline);
        } else if (op == 3) {
            // signed for a past nonce (if any)
            if (nonce == 0) return false;
            sig = _signGrant(PATIENT_PK, _ds(), LAB, CAT, 1, exp, nonce - 1 - garbage % nonce, deadline);
        } else {
            // garbage signature bytes
            sig = abi.encodePacked(keccak256(abi.encode(garbage)), bytes32(garbage >> 1), uint8(27 + garbage % 2));
        }
        vm.expectRevert(bad);
        consent.grantBySig(patient, LAB, CAT, 1, exp, patient, deadline, sig);
        return false;
    }

    /// increaseNonce voids every signature the caller signed and has not yet sent.
    function testFuzz_inv3_increaseNonceVoidsOutstanding(uint256 scopeSeed, uint8 bumps) public {
        bytes32 scope = _scope(scopeSeed);
        uint64 exp = uint64(block.timestamp + 1 days);
        uint256 deadline = block.timestamp + 1 days;
        bytes memory sig =
            _signGrant(PATIENT_PK, _ds(), HOSP_A, scope, 1, exp, consent.nonces(patient), deadline);
        uint256 k = bound(bumps, 1, 8);
        for (uint256 i = 0; i < k; ++i) {
            vm.prank(patient);
            consent.increaseNonce();
        }
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.InvalidSignature.selector, patient));
        consent.grantBySig(patient, HOSP_A, scope, 1, exp, patient, deadline, sig);
    }

    // ================================================================ 4. other chain, other contract, deadline

    /// A signature made for another chainId is invalid here; a signature made here is invalid once
    /// the chain id changes (fork), and valid again for that chain's domain.
    function testFuzz_inv4_otherChainRejected(uint64 otherChain, uint256 scopeSeed) public {
        vm.assume(otherChain != block.chainid && otherChain != 0);
        bytes32 scope = _scope(scopeSeed);
        uint64 exp = uint64(block.timestamp + 1 days);
        uint256 deadline = block.timestamp + 1 days;
        uint256 home = block.chainid;
        bytes memory foreign = _signGrant(PATIENT_PK, _domain(otherChain, address(consent)), HOSP_A, scope, 1, exp, 0, deadline);
        bytes memory local = _signGrant(PATIENT_PK, _domain(home, address(consent)), HOSP_A, scope, 1, exp, 0, deadline);
        bytes memory bad = abi.encodeWithSelector(IConsentRegistry.InvalidSignature.selector, patient);

        vm.expectRevert(bad);
        consent.grantBySig(patient, HOSP_A, scope, 1, exp, patient, deadline, foreign);

        vm.chainId(otherChain);
        assertEq(consent.DOMAIN_SEPARATOR(), _domain(otherChain, address(consent)), "domain follows chain id");
        vm.expectRevert(bad);
        consent.grantBySig(patient, HOSP_A, scope, 1, exp, patient, deadline, local);
        assertEq(consent.nonces(patient), 0, "nothing consumed");
        assertFalse(_anyAuthorised(HOSP_A, scope), "foreign signature authorised");
        // the signature made for this chain is the one that works here
        consent.grantBySig(patient, HOSP_A, scope, 1, exp, patient, deadline, foreign);
        vm.chainId(home);
    }

    /// A signature for one deployment is invalid on a second deployment (same chain, same
    /// institutions), in both directions, and using it on one does not burn the other's nonce.
    function testFuzz_inv4_otherContractRejected(uint256 scopeSeed, uint32 purposes) public {
        ConsentRegistry second = secondDeployment;
        bytes32 scope = _scope(scopeSeed);
        purposes = _purposes(purposes);
        uint64 exp = uint64(block.timestamp + 1 days);
        uint256 deadline = block.timestamp + 1 days;
        bytes memory forFirst = _signGrant(PATIENT_PK, _ds(), HOSP_A, scope, purposes, exp, 0, deadline);
        bytes memory forSecond = _signGrant(PATIENT_PK, _domain(block.chainid, address(second)), HOSP_A, scope, purposes, exp, 0, deadline);
        bytes memory bad = abi.encodeWithSelector(IConsentRegistry.InvalidSignature.selector, patient);

        vm.expectRevert(bad);
        second.grantBySig(patient, HOSP_A, scope, purposes, exp, patient, deadline, forFirst);
        vm.expectRevert(bad);
        consent.grantBySig(patient, HOSP_A, scope, purposes, exp, patient, deadline, forSecond);

        consent.grantBySig(patient, HOSP_A, scope, purposes, exp, patient, deadline, forFirst);
        vm.expectRevert(bad);
        second.grantBySig(patient, HOSP_A, scope, purposes, exp, patient, deadline, forFirst);
        assertEq(second.nonces(patient), 0, "second deployment nonce");
        assertEq(second.getGrant(patient, HOSP_A, scope).purposes, 0, "second deployment granted");
        assertTrue(second.DOMAIN_SEPARATOR() != consent.DOMAIN_SEPARATOR(), "distinct domains");
    }

    /// Malleability: the high-s twin of a valid signature is rejected and burns nothing.
    function testFuzz_inv4_highSRejected(uint256 scopeSeed, uint32 purposes) public {
        bytes32 scope = _scope(scopeSeed);
        purposes = _purposes(purposes);
        uint64 exp = uint64(block.timestamp + 1 days);
        uint256 deadline = block.timestamp + 1 days;
        bytes memory sig = _signGrant(PATIENT_PK, _ds(), HOSP_A, scope, purposes, exp, 0, deadline);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.InvalidSignature.selector, patient));
        consent.grantBySig(patient, HOSP_A, scope, purposes, exp, patient, deadline, _highS(sig));
        assertEq(consent.nonces(patient), 0, "nonce");
        consent.grantBySig(patient, HOSP_A, scope, purposes, exp, patient, deadline, sig);
    }

    /// Changing any signed field after signing invalidates the signature.
    function testFuzz_inv4_tamperedFieldRejected(uint8 field, uint256 delta) public {
        delta = bound(delta, 1, type(uint32).max);
        uint64 exp = uint64(block.timestamp + 1 days);
        uint256 deadline = block.timestamp + 1 days;
        bytes memory sig = _signGrant(PATIENT_PK, _ds(), HOSP_A, CAT, 1, exp, 0, deadline);
        address grantee = HOSP_A;
        bytes32 scope = CAT;
        uint32 purposes = 1;
        field %= 5;
        if (field == 0) grantee = HOSP_B;
        else if (field == 1) scope = bytes32(uint256(CAT) ^ delta);
        else if (field == 2) purposes = uint32(1 | ((delta % 31 + 1) << 1));
        else if (field == 3) exp = uint64(exp + delta);
        else deadline = deadline + delta;
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.InvalidSignature.selector, patient));
        consent.grantBySig(patient, grantee, scope, purposes, exp, patient, deadline, sig);
    }

    /// EIP-1271 patients (a contract wallet, MockContractWallet): the owner's signature applies
    /// once; a replay, a signature for another chain id, by another key, or after the wallet
    /// withdrew its approval is refused with InvalidSignature(wallet).
    function testFuzz_inv3_inv4_contractWalletPatient(uint256 ownerPk, uint64 otherChain, uint8 variant) public {
        ownerPk = bound(ownerPk, 1, SECP256K1_N - 1);
        vm.assume(otherChain != block.chainid && otherChain != 0);
        address owner = vm.addr(ownerPk);
        MockContractWallet wallet = new MockContractWallet(owner);
        address w = address(wallet);
        uint64 exp = uint64(block.timestamp + 1 days);
        uint256 deadline = block.timestamp + 1 days;
        bytes32 sh = _grantStruct(w, HOSP_A, CAT, 1, exp, w, 0, deadline);
        bytes memory bad = abi.encodeWithSelector(IConsentRegistry.InvalidSignature.selector, w);

        variant %= 3;
        bytes memory wrong;
        if (variant == 0) wrong = _sign(ownerPk, _domain(otherChain, address(consent)), sh);
        else if (variant == 1) wrong = _sign(ownerPk == 1 ? 2 : ownerPk - 1, _ds(), sh);
        else {
            wrong = _sign(ownerPk, _ds(), sh);
            vm.prank(owner);
            wallet.setRefuseAll(true);
        }
        vm.expectRevert(bad);
        consent.grantBySig(w, HOSP_A, CAT, 1, exp, w, deadline, wrong);
        if (variant == 2) {
            vm.prank(owner);
            wallet.setRefuseAll(false);
        }

        bytes memory good = _sign(ownerPk, _ds(), sh);
        consent.grantBySig(w, HOSP_A, CAT, 1, exp, w, deadline, good);
        assertEq(consent.nonces(w), 1, "wallet nonce");
        assertTrue(consent.isAuthorized(w, HOSP_A, CAT, TREAT), "wallet grant applied");
        vm.prank(w);
        consent.revoke(w, HOSP_A, CAT);
        vm.expectRevert(bad);
        consent.grantBySig(w, HOSP_A, CAT, 1, exp, w, deadline, good);
    }

    function test_inv4_domainSeparatorIsEip712() public view {
        assertEq(consent.DOMAIN_SEPARATOR(), _ds(), "domain separator (name, version 2, chain, contract)");
        assertEq(consent.GRANT_TYPEHASH(), GRANT_TYPEHASH, "grant typehash");
        assertEq(consent.REVOKE_TYPEHASH(), REVOKE_TYPEHASH, "revoke typehash");
        assertEq(consent.SET_GUARDIAN_TYPEHASH(), SET_GUARDIAN_TYPEHASH, "set-guardian typehash");
        assertEq(consent.REMOVE_GUARDIAN_TYPEHASH(), REMOVE_GUARDIAN_TYPEHASH, "remove-guardian typehash");
        assertEq(consent.REGISTER_KEY_TYPEHASH(), REGISTER_KEY_TYPEHASH, "register-key typehash");
        assertEq(consent.ANSWER_REQUEST_TYPEHASH(), ANSWER_REQUEST_TYPEHASH, "answer-request typehash");
        assertEq(consent.CLOSE_BREAK_GLASS_TYPEHASH(), CLOSE_BREAK_GLASS_TYPEHASH, "close-break-glass typehash");
        assertEq(consent.institutions(), address(inst), "institutions");
        assertEq(consent.records(), address(records), "records");
    }

    // ================================================================ 6. requests and break-glass: active only

    /// Only active institutions request access: outsiders, suspended and removed members revert
    /// NotActiveInstitution; a reinstated member may request again.
    function testFuzz_inv6_onlyActiveRequests(address caller, uint8 purpose) public {
        purpose = uint8(bound(purpose, 0, MAX_PURPOSE));
        vm.assume(caller != HOSP_A && caller != HOSP_B && caller != LAB && caller != ER);
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(NotActiveInstitution.selector, caller));
        consent.requestAccess(patient, CAT, purpose, bytes32(0));

        _suspend(LAB);
        vm.prank(LAB);
        vm.expectRevert(abi.encodeWithSelector(NotActiveInstitution.selector, LAB));
        consent.requestAccess(patient, CAT, purpose, bytes32(0));
        _reinstate(LAB);
        vm.prank(LAB);
        consent.requestAccess(patient, CAT, purpose, bytes32(0));
        assertEq(consent.requestCount(), 1, "one request");
    }

    /// A suspended grantee is never authorised (even with a live grant or break-glass), and is
    /// again after reinstatement while the grant is live.
    function testFuzz_inv6_suspendedGranteeNotAuthorised(uint256 scopeSeed, uint8 purpose, bool glass) public {
        bytes32 scope = _scope(scopeSeed);
        purpose = uint8(bound(purpose, 0, MAX_PURPOSE));
        vm.prank(patient);
        consent.grant(patient, HOSP_A, scope, ALL_PURPOSES, uint64(block.timestamp + 1 days));
        if (glass) {
            vm.prank(HOSP_A);
            consent.breakGlass(patient, keccak256("ER"), 1 hours);
        }
        _suspend(HOSP_A);
        assertFalse(consent.isAuthorized(patient, HOSP_A, scope, purpose), "suspended authorised");
        _notAuthorised(HOSP_A, _target(scope), purpose);
        vm.prank(HOSP_A);
        vm.expectRevert(abi.encodeWithSelector(NotActiveInstitution.selector, HOSP_A));
        consent.breakGlass(patient, keccak256("ER"), 1 hours);
        _reinstate(HOSP_A);
        assertTrue(consent.isAuthorized(patient, HOSP_A, scope, purpose), "reinstated");
    }

    /// Break-glass: only active EMERGENCY members (others revert MissingRole, non-members
    /// NotActiveInstitution); ETREAT only; expires after `duration`; never 0 or over 72 hours.
    function testFuzz_inv6_breakGlass(address caller, uint64 duration, uint8 purpose) public {
        vm.assume(caller != HOSP_A && caller != ER);
        duration = uint64(bound(duration, 1, 72 hours));
        purpose = uint8(bound(purpose, 0, MAX_PURPOSE));
        vm.prank(caller);
        vm.expectRevert(
            caller == HOSP_B || caller == LAB
                ? abi.encodeWithSelector(MissingRole.selector, caller, ROLE_EMERGENCY)
                : abi.encodeWithSelector(NotActiveInstitution.selector, caller)
        );
        consent.breakGlass(patient, bytes32("code"), duration);
        vm.prank(ER);
        vm.expectRevert(IConsentRegistry.ZeroDuration.selector);
        consent.breakGlass(patient, bytes32("code"), 0);
        vm.prank(ER);
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.BreakGlassTooLong.selector, uint64(72 hours + 1), uint64(72 hours))
        );
        consent.breakGlass(patient, bytes32("code"), 72 hours + 1);

        vm.prank(ER);
        consent.breakGlass(patient, bytes32("code"), duration);
        assertEq(consent.isAuthorized(patient, ER, CAT, purpose), purpose == ETREAT, "break-glass purpose");
        if (purpose != ETREAT) _notAuthorised(ER, REC, purpose);
        else _access(ER, REC, ETREAT);
        vm.warp(block.timestamp + duration - 1);
        assertEq(consent.isAuthorized(patient, ER, CAT, ETREAT), true, "break-glass live");
        vm.warp(block.timestamp + 1);
        assertEq(consent.isAuthorized(patient, ER, CAT, ETREAT), false, "break-glass expired");
    }

    // ================================================================ 7. audit chain (v2: accesses, openings, closings)

    /// @dev The chain as the test recomputes it; `times[seq]` is the block time of entry `seq`
    /// (the events of kinds 1 and 2 carry no timestamp: an auditor reads it from the block).
    struct Chain {
        bytes32 head;
        uint64 count;
        uint64[] times;
        bytes28 batch;
        bytes32[] leaves;
    }

    /// After any sequence of accesses (grants: single records and batch members, any category
    /// and purpose; break-glass), break-glass openings and closings, with time passing, the
    /// stored head and count equal the chain recomputed here entry by entry, and equal the chain
    /// recomputed from the AccessRecorded, BreakGlassOpened and BreakGlassClosed logs alone.
    function testFuzz_inv7_auditChain(uint256[10] calldata seeds) public {
        vm.prank(patient);
        consent.grant(patient, HOSP_A, SCOPE_ALL, ALL_PURPOSES, uint64(block.timestamp + 400 days));
        vm.prank(patient);
        consent.grant(patient, HOSP_B, CAT, uint32((1 << TREAT) | (1 << HRESCH)), uint64(block.timestamp + 400 days));
        Chain memory c;
        c.times = new uint64[](seeds.length + 1);
        c.batch = _batchId(HOSP_A, 77);
        c.leaves = new bytes32[](4);
        for (uint256 k = 0; k < 4; ++k) {
            c.leaves[k] = _leaf(patient, _memberId(c.batch, uint32(k)), _blob(k), _cat(k));
        }
        vm.prank(HOSP_A);
        records.anchorBatch(c.batch, Merkle.root(c.leaves), 4, CAT);

        vm.recordLogs();
        _open(c, 6 hours);
        for (uint256 i = 0; i < seeds.length; ++i) {
            uint256 s = seeds[i];
            vm.warp(block.timestamp + (s & 0xffff));
            _chainOp(c, s, i);
            (bytes32 stored, uint64 count) = consent.auditHead(patient);
            assertEq(stored, c.head, "stored head");
            assertEq(count, c.count, "stored count");
        }
        _checkLogs(c);
    }

    function _blob(uint256 k) internal pure returns (bytes32) {
        return keccak256(abi.encode("blob", k));
    }

    function _cat(uint256 k) internal pure returns (bytes32) {
        return keccak256(abi.encode("category", k));
    }

    function _chainOp(Chain memory c, uint256 s, uint256 i) internal {
        uint256 op = (s >> 16) % 6;
        uint64 windowEnd = consent.breakGlassWindow(patient, ER).expiresAt;
        bool open = block.timestamp < windowEnd;
        if (op == 0) _opSingle(c, s, i);
        else if (op == 1) _opMember(c, uint32((s >> 24) % 4));
        else if (op == 2) _accessEntry(c, HOSP_B, REC, CAT, COMMIT, (s >> 24) & 1 == 0 ? TREAT : HRESCH, false);
        else if (op == 3 && open) _accessEntry(c, ER, REC, CAT, COMMIT, ETREAT, true);
        else if (op == 4 && open) _opClose(c, (s >> 24) & 1 == 0 ? patient : guardian);
        else if (op == 5 && block.timestamp >= uint256(windowEnd) + BREAK_GLASS_COOLDOWN) {
            _open(c, uint64(1 hours + (s >> 24) % 5 hours));
        }
    }

    /// @dev HOSP_A (SCOPE_ALL grant) accesses a fresh single record of any category.
    function _opSingle(Chain memory c, uint256 s, uint256 i) internal {
        bytes32 category = bytes32(s >> 128);
        bytes32 id = _recordId(HOSP_B, uint96(uint256(keccak256(abi.encode(s, i)))));
        vm.prank(HOSP_B);
        records.anchor(patient, id, COMMIT, category, bytes32(0));
        _accessEntry(c, HOSP_A, id, category, COMMIT, uint8((s >> 24) % 6), false);
    }

    /// @dev HOSP_A accesses batch member k with its proof.
    function _opMember(Chain memory c, uint32 k) internal {
        bytes32 id = _memberId(c.batch, k);
        c.times[c.count] = uint64(block.timestamp);
        c.head = _auditStep(c.head, patient, HOSP_A, id, _cat(k), TREAT, uint64(block.timestamp), c.count++, false);
        vm.prank(HOSP_A);
        bytes32 h = consent.recordAccess(patient, id, _cat(k), _blob(k), TREAT, Merkle.proof(c.leaves, k));
        assertEq(h, c.head, "returned head (batch member)");
    }

    function _accessEntry(
        Chain memory c,
        address who,
        bytes32 id,
        bytes32 category,
        bytes32 commit,
        uint8 purpose,
        bool glass
    ) internal {
        c.times[c.count] = uint64(block.timestamp);
        c.head = _auditStep(c.head, patient, who, id, category, purpose, uint64(block.timestamp), c.count++, glass);
        vm.prank(who);
        assertEq(consent.recordAccess(patient, id, category, commit, purpose, _noProof()), c.head, "returned head");
    }

    /// @dev The patient or its guardian closes ER's window.
    function _opClose(Chain memory c, address closer) internal {
        if (closer == guardian) {
            vm.prank(patient);
            consent.setGuardian(guardian, uint64(block.timestamp + 1 days));
        }
        c.times[c.count] = uint64(block.timestamp);
        c.head = _closedStep(c.head, patient, ER, closer, uint64(block.timestamp), c.count++);
        vm.prank(closer);
        consent.closeBreakGlass(patient, ER);
    }

    function _open(Chain memory c, uint64 duration) internal {
        bytes32 reason = keccak256(abi.encode("careledger.reason", c.count, duration));
        uint64 exp = uint64(block.timestamp) + duration;
        c.times[c.count] = uint64(block.timestamp);
        c.head = _openedStep(c.head, patient, ER, reason, exp, uint64(block.timestamp), c.count++);
        vm.prank(ER);
        consent.breakGlass(patient, reason, duration);
    }

    /// @dev Recompute the chain from the recorded logs of the three entry events only.
    function _checkLogs(Chain memory c) internal {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bytes32 h;
        uint64 n;
        for (uint256 i = 0; i < logs.length; ++i) {
            Vm.Log memory l = logs[i];
            if (l.emitter != address(consent)) continue;
            bytes32 t = l.topics[0];
            uint64 seq;
            bytes32 logged;
            if (t == IConsentRegistry.AccessRecorded.selector) (h, seq, logged) = _fromAccessLog(h, l);
            else if (t == IConsentRegistry.BreakGlassOpened.selector) (h, seq, logged) = _fromOpenedLog(h, l, c.times);
            else if (t == IConsentRegistry.BreakGlassClosed.selector) (h, seq, logged) = _fromClosedLog(h, l, c.times);
            else continue;
            assertEq(_topicAddr(l, 1), patient, "log patient");
            assertEq(seq, n++, "log seq");
            assertEq(logged, h, "logged head");
        }
        (bytes32 finalHead, uint64 finalCount) = consent.auditHead(patient);
        assertEq(finalHead, h, "head from logs");
        assertEq(finalCount, n, "count from logs");
        assertEq(finalHead, c.head, "head recomputed entry by entry");
    }

    function _fromOpenedLog(bytes32 h, Vm.Log memory l, uint64[] memory times)
        internal
        pure
        returns (bytes32, uint64, bytes32)
    {
        (bytes32 reason, uint64 exp, uint64 seq, bytes32 logged) = abi.decode(l.data, (bytes32, uint64, uint64, bytes32));
        h = _openedStep(h, _topicAddr(l, 1), _topicAddr(l, 2), reason, exp, times[seq], seq);
        return (h, seq, logged);
    }

    function _fromClosedLog(bytes32 h, Vm.Log memory l, uint64[] memory times)
        internal
        pure
        returns (bytes32, uint64, bytes32)
    {
        (address closer, uint64 seq, bytes32 logged) = abi.decode(l.data, (address, uint64, bytes32));
        h = _closedStep(h, _topicAddr(l, 1), _topicAddr(l, 2), closer, times[seq], seq);
        return (h, seq, logged);
    }

    function _fromAccessLog(bytes32 h, Vm.Log memory l) internal pure returns (bytes32, uint64, bytes32) {
        (bytes32 category, uint8 purpose, uint64 ts, uint64 seq, bool glass, bytes32 logged) =
            abi.decode(l.data, (bytes32, uint8, uint64, uint64, bool, bytes32));
        h = _auditStep(h, _topicAddr(l, 1), _topicAddr(l, 2), l.topics[3], category, purpose, ts, seq, glass);
        return (h, seq, logged);
    }

    function _topicAddr(Vm.Log memory l, uint256 i) internal pure returns (address) {
        return address(uint160(uint256(l.topics[i])));
    }

    /// A refused access (invalid purpose, unknown record, wrong binding, or no authorisation)
    /// leaves the audit chain untouched, and each reverts with its named error.
    function testFuzz_inv7_rejectedAccessLeavesChain(address accessor, bytes32 other, uint8 purpose, uint8 variant)
        public
    {
        vm.prank(patient);
        consent.grant(patient, HOSP_A, SCOPE_ALL, 1, uint64(block.timestamp + 1 days));
        _access(HOSP_A, REC, TREAT);
        (bytes32 h0, uint64 c0) = consent.auditHead(patient);
        bytes32 rec = REC;
        bytes32 commit = COMMIT;
        bytes memory err;
        variant %= 3;
        if (purpose > MAX_PURPOSE) {
            err = abi.encodeWithSelector(IConsentRegistry.InvalidPurpose.selector, purpose);
        } else if (variant == 1) {
            commit = other == COMMIT ? ~other : other;
            err = abi.encodeWithSelector(IRecordRegistry.RecordBindingMismatch.selector, REC);
        } else if (variant == 2) {
            rec = _recordId(HOSP_B, uint96(uint256(other)));
            vm.assume(rec != REC);
            err = abi.encodeWithSelector(IRecordRegistry.RecordNotAnchored.selector, rec);
        } else {
            vm.assume(accessor != HOSP_A);
            err = abi.encodeWithSelector(IConsentRegistry.AccessNotAuthorized.selector, patient, accessor, REC, purpose);
        }
        vm.prank(accessor);
        vm.expectRevert(err);
        consent.recordAccess(patient, rec, CAT, commit, purpose, _noProof());
        (bytes32 h1, uint64 c1) = consent.auditHead(patient);
        assertEq(h1, h0, "head");
        assertEq(c1, c0, "count");
    }

    // ================================================================ v2-3. one purpose's approval never extends another

    /// Approving a request for purpose q sets only q's expiry (later or earlier than before);
    /// every other purpose of the same grant keeps its own expiry, and each purpose authorises
    /// exactly until its own expiry.
    function testFuzz_p3_approvalSetsOnlyRequestedPurpose(
        uint32 purposes,
        uint32 life,
        uint8 q,
        uint32 approvedLife,
        uint256 scopeSeed
    ) public {
        purposes = _purposes(purposes);
        q = uint8(bound(q, 0, MAX_PURPOSE));
        bytes32 scope = _scope(scopeSeed);
        uint64 e1 = uint64(block.timestamp + bound(life, 1, 400 days));
        uint64 e2 = uint64(block.timestamp + bound(approvedLife, 1, 400 days));
        vm.prank(patient);
        consent.grant(patient, HOSP_B, scope, purposes, e1);
        IConsentRegistry.RequestDetails memory r = _request(HOSP_B, scope, q);
        vm.prank(patient);
        consent.approveRequest(r, e2);

        uint64[6] memory want;
        for (uint8 p = 0; p <= MAX_PURPOSE; ++p) {
            want[p] = p == q ? e2 : ((purposes >> p) & 1 == 1 ? e1 : 0);
        }
        IConsentRegistry.Grant memory g = consent.getGrant(patient, HOSP_B, scope);
        for (uint8 p = 0; p <= MAX_PURPOSE; ++p) {
            assertEq(g.expiresAt[p], want[p], "expiry per purpose after approval");
            assertEq((g.purposes >> p) & 1 == 1, want[p] != 0, "purpose bit");
        }
        assertEq(g.epoch, 1, "grant epoch");
        assertEq(g.grantedAt, block.timestamp, "grantedAt");
        uint64[4] memory times = [e1 - 1, e1, e2 - 1, e2];
        for (uint256 t = 0; t < 4; ++t) {
            vm.warp(times[t]);
            for (uint8 p = 0; p <= MAX_PURPOSE; ++p) {
                assertEq(consent.isAuthorized(patient, HOSP_B, scope, p), times[t] < want[p], "authorised until own expiry");
            }
        }
    }

    /// The v1 bug, as a regression: approving HRESCH for 365 days does not extend a 1-day TREAT
    /// grant (TREAT stops after 1 day, HRESCH goes on).
    function test_p3_hreschApprovalDoesNotExtendTreat() public {
        vm.prank(patient);
        consent.grant(patient, LAB, SCOPE_ALL, uint32(1) << TREAT, uint64(block.timestamp + 1 days));
        IConsentRegistry.RequestDetails memory r = _request(LAB, SCOPE_ALL, HRESCH);
        vm.prank(patient);
        consent.approveRequest(r, uint64(block.timestamp + 365 days));
        IConsentRegistry.Grant memory g = consent.getGrant(patient, LAB, SCOPE_ALL);
        assertEq(g.expiresAt[TREAT], T0 + 1 days, "TREAT expiry untouched");
        assertEq(g.expiresAt[HRESCH], T0 + 365 days, "HRESCH expiry");
        vm.warp(T0 + 1 days - 1);
        _access(LAB, REC, TREAT);
        vm.warp(T0 + 1 days);
        assertFalse(consent.isAuthorized(patient, LAB, SCOPE_ALL, TREAT), "TREAT extended by the HRESCH approval");
        _notAuthorised(LAB, REC, TREAT);
        _access(LAB, REC, HRESCH);
    }

    /// grant() replaces the whole grant: after approvals set purposes one by one, a grant leaves
    /// exactly its purposes, all at its expiry, and clears every other.
    function testFuzz_p3_grantReplacesAllPurposes(uint32 first, uint8 q, uint32 second, uint32 l1, uint32 l2, uint32 l3)
        public
    {
        first = _purposes(first);
        second = _purposes(second);
        q = uint8(bound(q, 0, MAX_PURPOSE));
        vm.prank(patient);
        consent.grant(patient, HOSP_A, CAT, first, uint64(block.timestamp + bound(l1, 1, 100 days)));
        IConsentRegistry.RequestDetails memory r = _request(HOSP_A, CAT, q);
        vm.prank(patient);
        consent.approveRequest(r, uint64(block.timestamp + bound(l2, 1, 100 days)));
        uint64 e3 = uint64(block.timestamp + bound(l3, 1, 100 days));
        vm.prank(patient);
        consent.grant(patient, HOSP_A, CAT, second, e3);
        IConsentRegistry.Grant memory g = consent.getGrant(patient, HOSP_A, CAT);
        assertEq(g.purposes, second, "purposes replaced");
        for (uint8 p = 0; p <= MAX_PURPOSE; ++p) {
            assertEq(g.expiresAt[p], (second >> p) & 1 == 1 ? e3 : 0, "expiry replaced");
            assertEq(consent.isAuthorized(patient, HOSP_A, CAT, p), (second >> p) & 1 == 1, "authorised iff granted now");
        }
    }

    // ================================================================ v2-4. admission epochs

    /// Grants made before a removal never authorise after re-admission, even when removal and
    /// re-admission happen in the same second as the grant (no warp): the stored grant keeps
    /// its old epoch and authorises nothing; between removal and re-admission the institution
    /// cannot receive grants (NotMember); a grant made after re-admission authorises at once.
    function testFuzz_p4_grantsBeforeRemovalNeverAuthorise(
        uint256 granteeSeed,
        uint256 scopeSeed,
        uint32 purposes,
        bool warpFirst,
        uint32 dt
    ) public {
        address grantee = _grantee(granteeSeed);
        bytes32 scope = _scope(scopeSeed);
        purposes = _purposes(purposes);
        uint64 exp = uint64(block.timestamp + 30 days);
        vm.prank(patient);
        consent.grant(patient, grantee, scope, purposes, exp);
        if (warpFirst) vm.warp(block.timestamp + bound(dt, 0, 10 days));
        uint32 e0 = _epochOf(grantee);
        (, uint8 roles,) = inst.membership(grantee);
        _remove(grantee);
        vm.prank(patient);
        vm.expectRevert(abi.encodeWithSelector(NotMember.selector, grantee));
        consent.grant(patient, grantee, scope, purposes, exp);
        _readmit(grantee, roles);
        assertEq(_epochOf(grantee), e0 + 1, "re-admission moves the epoch");

        bytes32 rec = _target(scope);
        for (uint8 p = 0; p <= MAX_PURPOSE; ++p) {
            assertFalse(consent.isAuthorized(patient, grantee, scope, p), "pre-removal grant authorises");
            _notAuthorised(grantee, rec, p);
        }
        IConsentRegistry.Grant memory g = consent.getGrant(patient, grantee, scope);
        assertEq(g.epoch, e0, "stored grant keeps its epoch");
        assertEq(g.purposes, purposes, "stored grant kept");

        vm.prank(patient);
        consent.grant(patient, grantee, scope, purposes, exp);
        uint8 lowest = 0;
        while ((purposes >> lowest) & 1 == 0) ++lowest;
        assertTrue(consent.isAuthorized(patient, grantee, scope, lowest), "post-admission grant authorises");
        _access(grantee, rec, lowest);
    }

    /// Suspension and reinstatement keep the epoch: a grant authorises nothing while its grantee
    /// is suspended and again once reinstated (same second).
    function testFuzz_p4_suspensionKeepsEpochAndGrants(uint256 granteeSeed, uint256 scopeSeed, uint8 purpose) public {
        address grantee = _grantee(granteeSeed);
        bytes32 scope = _scope(scopeSeed);
        purpose = uint8(bound(purpose, 0, MAX_PURPOSE));
        vm.prank(patient);
        consent.grant(patient, grantee, scope, uint32(1) << purpose, uint64(block.timestamp + 1 days));
        uint32 e0 = _epochOf(grantee);
        _suspend(grantee);
        assertFalse(consent.isAuthorized(patient, grantee, scope, purpose), "suspended authorised");
        _reinstate(grantee);
        assertEq(_epochOf(grantee), e0, "suspension kept the epoch");
        assertTrue(consent.isAuthorized(patient, grantee, scope, purpose), "reinstated grantee's grant");
    }

    /// Approving a request after the requester's re-admission keeps none of the purposes of its
    /// earlier epoch: only the requested purpose is set, in the new epoch.
    function testFuzz_p4_approvalAfterReadmissionDropsOldPurposes(uint32 purposes, uint8 q) public {
        purposes = _purposes(purposes);
        q = uint8(bound(q, 0, MAX_PURPOSE));
        vm.prank(patient);
        consent.grant(patient, LAB, SCOPE_ALL, purposes, uint64(block.timestamp + 300 days));
        _remove(LAB);
        _readmit(LAB, ROLE_RESEARCHER);
        IConsentRegistry.RequestDetails memory r = _request(LAB, SCOPE_ALL, q);
        uint64 e2 = uint64(block.timestamp + 2 days);
        vm.prank(patient);
        consent.approveRequest(r, e2);
        IConsentRegistry.Grant memory g = consent.getGrant(patient, LAB, SCOPE_ALL);
        assertEq(g.epoch, 2, "approval in the new epoch");
        assertEq(g.purposes, uint32(1) << q, "only the requested purpose");
        for (uint8 p = 0; p <= MAX_PURPOSE; ++p) {
            assertEq(g.expiresAt[p], p == q ? e2 : 0, "old-epoch purposes cleared");
            assertEq(consent.isAuthorized(patient, LAB, SCOPE_ALL, p), p == q, "authorised purposes");
        }
    }

    // ================================================================ v2-8. only the patient registers its key

    /// registerPatientKey(key) registers for msg.sender only: a stranger or a live guardian
    /// registers its own key and never the patient's; the patient's call sets the patient's;
    /// a zero key reverts InvalidEncryptionKey().
    function testFuzz_p8_onlyPatientRegistersKey(address caller, bytes32 key, bytes32 own, bool appointed) public {
        vm.assume(caller != patient && caller != address(0));
        key = key == bytes32(0) ? bytes32(uint256(1)) : key;
        own = own == bytes32(0) ? bytes32(uint256(2)) : own;
        if (appointed) {
            vm.prank(patient);
            consent.setGuardian(caller, uint64(block.timestamp + 30 days));
            assertTrue(consent.isGuardian(patient, caller), "guardian live");
        }
        vm.recordLogs();
        vm.prank(caller);
        consent.registerPatientKey(key);
        Vm.Log[] memory logs = vm.getRecordedLogs();
        assertEq(logs.length, 1, "one event");
        assertEq(logs[0].topics[0], IConsentRegistry.PatientKeyRegistered.selector, "PatientKeyRegistered");
        assertEq(_topicAddr(logs[0], 1), caller, "registered for the caller");
        assertEq(consent.patientKeyOf(caller), key, "caller's own key");
        assertEq(consent.patientKeyOf(patient), bytes32(0), "patient's key set by someone else");

        vm.prank(patient);
        consent.registerPatientKey(own);
        assertEq(consent.patientKeyOf(patient), own, "patient's key");
        assertEq(consent.patientKeyOf(caller), key, "caller's key untouched");
        vm.prank(caller);
        vm.expectRevert(InvalidEncryptionKey.selector);
        consent.registerPatientKey(bytes32(0));
    }

    // ================================================================ v2-9. requests

    /// Request ids start at 1 and run sequentially; each request is pending and its details are
    /// in its AccessRequested event; id 0 and ids above the count are RequestNotFound(id) for the
    /// status view, approve and reject.
    function testFuzz_p9_requestIdsStartAtOne(uint8 n, uint256 seed, uint256 unknown) public {
        n = uint8(bound(n, 1, 8));
        for (uint256 i = 1; i <= n; ++i) {
            uint256 s = uint256(keccak256(abi.encode(seed, i)));
            address who = _grantee(s);
            bytes32 scope = _scope(s >> 8);
            uint8 purpose = uint8((s >> 16) % 6);
            vm.recordLogs();
            vm.prank(who);
            uint256 id = consent.requestAccess(patient, scope, purpose, bytes32(s));
            assertEq(id, i, "sequential id from 1");
            assertEq(consent.requestCount(), i, "request count");
            assertEq(consent.requestStatus(id), 0, "pending");
            Vm.Log[] memory logs = vm.getRecordedLogs();
            assertEq(logs[0].topics[0], IConsentRegistry.AccessRequested.selector, "AccessRequested");
            assertEq(uint256(logs[0].topics[1]), id, "event id");
            assertEq(_topicAddr(logs[0], 2), patient, "event patient");
            assertEq(_topicAddr(logs[0], 3), who, "event requester");
            (bytes32 es, uint8 ep, bytes32 er) = abi.decode(logs[0].data, (bytes32, uint8, bytes32));
            assertEq(es, scope, "event scope");
            assertEq(ep, purpose, "event purpose");
            assertEq(er, bytes32(s), "event reason hash");
        }
        uint256 bad = unknown % 2 == 0 ? 0 : bound(unknown, n + 1, type(uint256).max);
        bytes memory err = abi.encodeWithSelector(IConsentRegistry.RequestNotFound.selector, bad);
        vm.expectRevert(err);
        consent.requestStatus(bad);
        vm.prank(patient);
        vm.expectRevert(err);
        consent.approveRequest(_details(bad, HOSP_A, CAT, TREAT), uint64(block.timestamp + 1 days));
        vm.prank(patient);
        vm.expectRevert(err);
        consent.rejectRequest(_details(bad, HOSP_A, CAT, TREAT));
    }

    /// Details that differ from the request's in any field revert RequestMismatch(id) for
    /// approve, reject and the signed answer, and change nothing; the right details then answer
    /// it once; a second answer (any form) reverts RequestNotPending(id, status).
    function testFuzz_p9_requestMismatchAndAnsweredOnce(uint8 field, uint256 delta, bool approve, uint8 purpose)
        public
    {
        purpose = uint8(bound(purpose, 0, MAX_PURPOSE));
        IConsentRegistry.RequestDetails memory r = _request(HOSP_B, CAT, purpose);
        IConsentRegistry.RequestDetails memory bad = _details(r.requestId, HOSP_B, CAT, purpose);
        delta = bound(delta, 1, type(uint160).max);
        field %= 4;
        if (field == 0) bad.requester = address(uint160(HOSP_B) ^ uint160(delta));
        else if (field == 1) bad.patient = address(uint160(patient) ^ uint160(delta));
        else if (field == 2) bad.scope = bytes32(uint256(CAT) ^ delta);
        else bad.purpose = uint8((purpose + 1 + delta % 5) % 6);
        uint64 exp = uint64(block.timestamp + 1 days);
        bytes memory err = abi.encodeWithSelector(IConsentRegistry.RequestMismatch.selector, r.requestId);
        vm.prank(patient);
        vm.expectRevert(err);
        if (approve) consent.approveRequest(bad, exp);
        else consent.rejectRequest(bad);
        bytes memory sig = _sign(PATIENT_PK, _ds(), _answerStruct(bad, approve, exp, patient, 0, block.timestamp));
        vm.expectRevert(err);
        consent.answerRequestBySig(bad, approve, exp, patient, block.timestamp, sig);
        assertEq(consent.requestStatus(r.requestId), 0, "still pending");
        assertEq(consent.getGrant(patient, HOSP_B, CAT).purposes, 0, "nothing granted");
        assertEq(consent.nonces(patient), 0, "nothing consumed");

        vm.prank(patient);
        if (approve) consent.approveRequest(r, exp);
        else consent.rejectRequest(r);
        uint8 status = approve ? 1 : 2;
        assertEq(consent.requestStatus(r.requestId), status, "answered");
        assertEq(consent.isAuthorized(patient, HOSP_B, CAT, purpose), approve, "approval grants the purpose");

        err = abi.encodeWithSelector(IConsentRegistry.RequestNotPending.selector, r.requestId, status);
        vm.prank(patient);
        vm.expectRevert(err);
        consent.approveRequest(r, exp);
        vm.prank(patient);
        vm.expectRevert(err);
        consent.rejectRequest(r);
        sig = _sign(PATIENT_PK, _ds(), _answerStruct(r, !approve, exp, patient, 0, block.timestamp));
        vm.expectRevert(err);
        consent.answerRequestBySig(r, !approve, exp, patient, block.timestamp, sig);
    }

    /// Approving a request of an institution removed since it asked reverts NotMember(requester);
    /// an approval's expiry must be in the future (InvalidExpiry).
    function testFuzz_p9_approveNeedsMemberAndFutureExpiry(uint64 exp, bool removed) public {
        IConsentRegistry.RequestDetails memory r = _request(LAB, CAT, TREAT);
        if (removed) {
            _remove(LAB);
            exp = uint64(bound(exp, block.timestamp + 1, type(uint32).max));
            vm.prank(patient);
            vm.expectRevert(abi.encodeWithSelector(NotMember.selector, LAB));
            consent.approveRequest(r, exp);
        } else {
            exp = uint64(bound(exp, 0, block.timestamp));
            vm.prank(patient);
            vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.InvalidExpiry.selector, exp, block.timestamp));
            consent.approveRequest(r, exp);
        }
        assertEq(consent.requestStatus(r.requestId), 0, "still pending");
    }
}
