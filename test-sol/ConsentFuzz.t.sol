// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Fixture} from "./utils/Fixture.sol";
import {Vm} from "./utils/Vm.sol";
import {MissingRole, NotActiveInstitution} from "../contracts/interfaces/CareLedgerErrors.sol";
import {IConsentRegistry} from "../contracts/interfaces/IConsentRegistry.sol";
import {IInstitutionRegistry} from "../contracts/interfaces/IInstitutionRegistry.sol";
import {ConsentRegistry} from "../contracts/ConsentRegistry.sol";
import {InstitutionRegistry} from "../contracts/InstitutionRegistry.sol";
import {RecordRegistry} from "../contracts/RecordRegistry.sol";
import {MockContractWallet} from "../contracts/test/MockContractWallet.sol";

/// @notice Stateless fuzz properties of ConsentRegistry for SECURITY.md invariants 1-4, 6 and 7
/// (5,000 runs each in the default profile).
contract ConsentFuzzTest is Fixture {
    uint256 internal PATIENT_PK;
    uint256 internal GUARDIAN_PK;
    address internal patient;
    address internal guardian;
    bytes32 internal constant CAT = keccak256(abi.encode("careledger.category", "LOINC:11502-2"));

    function setUp() public {
        _deploy();
        PATIENT_PK = _pk("patient");
        GUARDIAN_PK = _pk("guardian");
        patient = vm.addr(PATIENT_PK);
        guardian = vm.addr(GUARDIAN_PK);
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
        for (uint8 p = 0; p <= MAX_PURPOSE; ++p) {
            if (p == ETREAT && consent.breakGlassExpiry(patient, grantee) > block.timestamp) continue;
            vm.prank(grantee);
            vm.expectRevert(
                abi.encodeWithSelector(IConsentRegistry.AccessNotAuthorized.selector, patient, grantee, scope, p)
            );
            consent.recordAccess(patient, scope, scope, p);
        }
    }

    /// A grant authorises at expiresAt - 1 and never from expiresAt on (one comparison, `<`).
    function testFuzz_inv1_expiryBoundary(uint256 granteeSeed, uint256 scopeSeed, uint32 lifetime, uint64 after_)
        public
    {
        address grantee = _grantee(granteeSeed);
        bytes32 scope = _scope(scopeSeed);
        uint64 expiresAt = uint64(block.timestamp + bound(lifetime, 1, type(uint32).max));
        vm.prank(patient);
        consent.grant(patient, grantee, scope, uint32(1) << TREAT, expiresAt);

        vm.warp(expiresAt - 1);
        assertTrue(consent.isAuthorized(patient, grantee, scope, TREAT), "authorised at expiry - 1");
        vm.warp(expiresAt);
        assertFalse(consent.isAuthorized(patient, grantee, scope, TREAT), "authorised at expiry");
        vm.warp(uint256(expiresAt) + 1 + bound(after_, 0, type(uint64).max - uint256(expiresAt) - 1));
        assertFalse(consent.isAuthorized(patient, grantee, scope, TREAT), "authorised after expiry");
        vm.prank(grantee);
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.AccessNotAuthorized.selector, patient, grantee, scope, TREAT)
        );
        consent.recordAccess(patient, scope, scope, TREAT);
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
        vm.prank(HOSP_B);
        uint256 id = consent.requestAccess(patient, SCOPE_ALL, requested, keccak256("why"));
        vm.prank(patient);
        consent.approveRequest(id, uint64(block.timestamp + 1 days));
        for (uint8 p = 0; p <= MAX_PURPOSE; ++p) {
            assertEq(consent.isAuthorized(patient, HOSP_B, SCOPE_ALL, p), p == requested, "purpose after approval");
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

    /// Every consent-changing entry point, called by anyone who is neither the patient nor a live
    /// guardian, reverts NotPatientOrGuardian(caller, patient) and changes nothing.
    function testFuzz_inv2_strangerCannotChangeConsents(address caller, uint256 which, uint256 scopeSeed) public {
        vm.assume(caller != patient && caller != guardian);
        bytes32 scope = _scope(scopeSeed);
        // a live grant and a pending request to act on
        vm.prank(patient);
        consent.grant(patient, HOSP_B, scope, 1, uint64(block.timestamp + 1 days));
        vm.prank(HOSP_A);
        uint256 id = consent.requestAccess(patient, scope, TREAT, bytes32(0));
        IConsentRegistry.Grant memory before = consent.getGrant(patient, HOSP_B, scope);

        bytes memory err = abi.encodeWithSelector(IConsentRegistry.NotPatientOrGuardian.selector, caller, patient);
        vm.prank(caller);
        vm.expectRevert(err);
        which %= 5;
        if (which == 0) consent.grant(patient, HOSP_B, scope, ALL_PURPOSES, uint64(block.timestamp + 9 days));
        else if (which == 1) consent.revoke(patient, HOSP_B, scope);
        else if (which == 2) consent.approveRequest(id, uint64(block.timestamp + 9 days));
        else if (which == 3) consent.rejectRequest(id);
        else consent.registerPatientKey(patient, keccak256("evil key"));

        IConsentRegistry.Grant memory afterG = consent.getGrant(patient, HOSP_B, scope);
        assertEq(keccak256(abi.encode(afterG)), keccak256(abi.encode(before)), "grant changed");
        assertEq(consent.getRequest(id).status, 0, "request changed");
        assertEq(consent.patientKeyOf(patient), bytes32(0), "patient key changed");
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

    /// The three signed types share one nonce per signer: a Grant signature cannot be reused as a
    /// Revoke or SetGuardian one and vice versa (different typehash), and after one of them is
    /// used, the others signed for the same nonce are void.
    function testFuzz_inv3_oneNonceAcrossTypes(uint256 scopeSeed, uint8 firstKind) public {
        bytes32 scope = _scope(scopeSeed);
        vm.prank(patient);
        consent.grant(patient, HOSP_A, scope, 1, uint64(block.timestamp + 1 days));
        uint256 n = consent.nonces(patient);
        uint256 deadline = block.timestamp + 1 days;
        uint64 exp = uint64(block.timestamp + 2 days);
        bytes32 ds = consent.DOMAIN_SEPARATOR();
        bytes memory gSig = _sign(PATIENT_PK, ds, _grantStruct(patient, HOSP_B, scope, 1, exp, patient, n, deadline));
        bytes memory rSig = _sign(PATIENT_PK, ds, _revokeStruct(patient, HOSP_A, scope, patient, n, deadline));
        bytes memory sSig = _sign(PATIENT_PK, ds, _guardianStruct(patient, guardian, exp, n, deadline));
        bytes memory bad = abi.encodeWithSelector(IConsentRegistry.InvalidSignature.selector, patient);

        // cross-type reuse is rejected while the nonce is still current
        vm.expectRevert(bad);
        consent.revokeBySig(patient, HOSP_A, scope, patient, deadline, gSig);
        vm.expectRevert(bad);
        consent.setGuardianBySig(patient, guardian, exp, deadline, rSig);

        uint256 first = firstKind % 3;
        if (first == 0) consent.grantBySig(patient, HOSP_B, scope, 1, exp, patient, deadline, gSig);
        else if (first == 1) consent.revokeBySig(patient, HOSP_A, scope, patient, deadline, rSig);
        else consent.setGuardianBySig(patient, guardian, exp, deadline, sSig);
        assertEq(consent.nonces(patient), n + 1, "one nonce consumed");

        if (first != 0) {
            vm.expectRevert(bad);
            consent.grantBySig(patient, HOSP_B, scope, 1, exp, patient, deadline, gSig);
        }
        if (first != 1) {
            vm.expectRevert(bad);
            consent.revokeBySig(patient, HOSP_A, scope, patient, deadline, rSig);
        }
        if (first != 2) {
            vm.expectRevert(bad);
            consent.setGuardianBySig(patient, guardian, exp, deadline, sSig);
        }
        assertEq(consent.nonces(patient), n + 1, "nothing else consumed");
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
        ConsentRegistry second = new ConsentRegistry(inst);
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

    /// Valid up to and including the deadline second; SignatureExpired(deadline, now) after it,
    /// for all three signed types.
    function testFuzz_inv4_deadline(uint32 window, uint64 late, uint8 kind) public {
        uint256 deadline = block.timestamp + bound(window, 0, 365 days);
        uint64 exp = uint64(deadline + 30 days);
        bytes32 ds = consent.DOMAIN_SEPARATOR();
        vm.prank(patient);
        consent.grant(patient, HOSP_A, CAT, 1, exp);
        kind %= 3;
        bytes memory sig;
        if (kind == 0) sig = _sign(PATIENT_PK, ds, _grantStruct(patient, HOSP_B, CAT, 1, exp, patient, 0, deadline));
        else if (kind == 1) sig = _sign(PATIENT_PK, ds, _revokeStruct(patient, HOSP_A, CAT, patient, 0, deadline));
        else sig = _sign(PATIENT_PK, ds, _guardianStruct(patient, guardian, exp, 0, deadline));

        uint256 t = deadline + 1 + bound(late, 0, 100 * 365 days);
        vm.warp(t);
        vm.expectRevert(abi.encodeWithSelector(IConsentRegistry.SignatureExpired.selector, deadline, t));
        _submit(kind, sig, exp, deadline);
        assertEq(consent.nonces(patient), 0, "expired consumed a nonce");

        vm.warp(deadline);
        _submit(kind, sig, exp, deadline);
        assertEq(consent.nonces(patient), 1, "at the deadline it is valid");
    }

    function _submit(uint256 kind, bytes memory sig, uint64 exp, uint256 deadline) internal {
        if (kind == 0) consent.grantBySig(patient, HOSP_B, CAT, 1, exp, patient, deadline, sig);
        else if (kind == 1) consent.revokeBySig(patient, HOSP_A, CAT, patient, deadline, sig);
        else consent.setGuardianBySig(patient, guardian, exp, deadline, sig);
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
        assertEq(consent.DOMAIN_SEPARATOR(), _ds(), "domain separator");
        assertEq(consent.GRANT_TYPEHASH(), GRANT_TYPEHASH, "grant typehash");
        assertEq(consent.REVOKE_TYPEHASH(), REVOKE_TYPEHASH, "revoke typehash");
        assertEq(consent.SET_GUARDIAN_TYPEHASH(), SET_GUARDIAN_TYPEHASH, "set-guardian typehash");
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
        vm.prank(HOSP_A);
        vm.expectRevert(
            abi.encodeWithSelector(IConsentRegistry.AccessNotAuthorized.selector, patient, HOSP_A, scope, purpose)
        );
        consent.recordAccess(patient, scope, CAT, purpose);
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
        vm.warp(block.timestamp + duration - 1);
        assertEq(consent.isAuthorized(patient, ER, CAT, ETREAT), true, "break-glass live");
        vm.warp(block.timestamp + 1);
        assertEq(consent.isAuthorized(patient, ER, CAT, ETREAT), false, "break-glass expired");
    }

    // ================================================================ 7. audit chain

    /// After any sequence of authorised accesses (different institutions, records, categories,
    /// purposes, grant or break-glass, time passing), the stored head equals the chain recomputed
    /// here, and equals the chain recomputed from the emitted AccessRecorded logs.
    function testFuzz_inv7_auditChain(uint256[8] calldata seeds) public {
        vm.prank(patient);
        consent.grant(patient, HOSP_A, SCOPE_ALL, ALL_PURPOSES, uint64(block.timestamp + 400 days));
        vm.prank(patient);
        consent.grant(patient, HOSP_B, CAT, uint32((1 << TREAT) | (1 << 4)), uint64(block.timestamp + 400 days));
        vm.prank(ER);
        consent.breakGlass(patient, bytes32("code"), 72 hours);

        bytes32 head;
        vm.recordLogs();
        for (uint256 i = 0; i < seeds.length; ++i) {
            uint256 s = seeds[i];
            vm.warp(block.timestamp + (s & 0xffff));
            uint256 who = (s >> 16) % 3;
            address accessor = who == 0 ? HOSP_A : who == 1 ? HOSP_B : ER;
            bytes32 recordId = _recordId(HOSP_B, uint96(s >> 32));
            bytes32 category = who == 1 ? CAT : bytes32(s >> 128);
            uint8 purpose = who == 0 ? uint8((s >> 24) % 6) : who == 1 ? ((s >> 24) & 1 == 0 ? 0 : 4) : ETREAT;
            bool viaGlass = who == 2;
            if (viaGlass && consent.breakGlassExpiry(patient, ER) <= block.timestamp) continue;
            (, uint64 count) = consent.auditHead(patient);
            head = _auditStep(
                head, patient, accessor, recordId, category, purpose, uint64(block.timestamp), count, viaGlass
            );
            vm.prank(accessor);
            bytes32 returned = consent.recordAccess(patient, recordId, category, purpose);
            assertEq(returned, head, "returned head");
            (bytes32 stored,) = consent.auditHead(patient);
            assertEq(stored, head, "stored head");
        }

        // recompute from the logs alone
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bytes32 fromLogs;
        uint64 n;
        bytes32 sig = IConsentRegistry.AccessRecorded.selector;
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].emitter != address(consent) || logs[i].topics[0] != sig) continue;
            assertEq(address(uint160(uint256(logs[i].topics[1]))), patient, "log patient");
            (bytes32 category, uint8 purpose, uint64 ts, uint64 seq, bool glass, bytes32 logged) =
                abi.decode(logs[i].data, (bytes32, uint8, uint64, uint64, bool, bytes32));
            assertEq(seq, n, "log seq");
            fromLogs = _auditStep(
                fromLogs,
                patient,
                address(uint160(uint256(logs[i].topics[2]))),
                logs[i].topics[3],
                category,
                purpose,
                ts,
                seq,
                glass
            );
            assertEq(logged, fromLogs, "logged head");
            ++n;
        }
        (bytes32 finalHead, uint64 finalCount) = consent.auditHead(patient);
        assertEq(finalHead, fromLogs, "head from logs");
        assertEq(finalCount, n, "count from logs");
    }

    /// An unauthorised access attempt leaves the audit chain untouched.
    function testFuzz_inv7_rejectedAccessLeavesChain(address accessor, bytes32 recordId, uint8 purpose) public {
        vm.prank(patient);
        consent.grant(patient, HOSP_A, SCOPE_ALL, 1, uint64(block.timestamp + 1 days));
        vm.prank(HOSP_A);
        consent.recordAccess(patient, recordId, CAT, TREAT);
        (bytes32 h0, uint64 c0) = consent.auditHead(patient);
        vm.assume(accessor != HOSP_A);
        vm.prank(accessor);
        vm.expectRevert(
            purpose > MAX_PURPOSE
                ? abi.encodeWithSelector(IConsentRegistry.InvalidPurpose.selector, purpose)
                : abi.encodeWithSelector(IConsentRegistry.AccessNotAuthorized.selector, patient, accessor, recordId, purpose)
        );
        consent.recordAccess(patient, recordId, CAT, purpose);
        (bytes32 h1, uint64 c1) = consent.auditHead(patient);
        assertEq(h1, h0, "head");
        assertEq(c1, c0, "count");
    }
}
