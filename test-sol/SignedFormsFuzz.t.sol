// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Fixture} from "./utils/Fixture.sol";
import {Vm} from "./utils/Vm.sol";
import {IConsentRegistry} from "../contracts/interfaces/IConsentRegistry.sol";
import {ConsentRegistry} from "../contracts/ConsentRegistry.sol";
import {MockContractWallet} from "../contracts/test/MockContractWallet.sol";

/// @notice v2 property 7 and SECURITY.md invariants 3 and 4 over every signed form (5,000 runs
/// each): Grant, Revoke, SetGuardian, RemoveGuardian, RegisterKey, AnswerRequest (approve and
/// reject) and CloseBreakGlass. Each applies once (a replay reverts InvalidSignature), shares the
/// signer's one nonce with every other form, expires after its deadline (SignatureExpired), is
/// void on another chain id, after a fork, on a second deployment, with a high-s twin or another
/// key (InvalidSignature); the patient-only forms refuse a guardian's signature, the
/// patient-or-guardian forms refuse a stranger (NotPatientOrGuardian); EIP-1271 wallet patients
/// sign the new forms too.
contract SignedFormsFuzzTest is Fixture {
    uint256 internal constant KINDS = 8;
    uint8 internal constant K_GRANT = 0;
    uint8 internal constant K_REVOKE = 1;
    uint8 internal constant K_SET_GUARDIAN = 2;
    uint8 internal constant K_REMOVE_GUARDIAN = 3;
    uint8 internal constant K_REGISTER_KEY = 4;
    uint8 internal constant K_APPROVE = 5;
    uint8 internal constant K_REJECT = 6;
    uint8 internal constant K_CLOSE = 7;

    bytes32 internal constant CAT = keccak256(abi.encode("careledger.category", "LOINC:11502-2"));
    bytes32 internal constant KEY = keccak256("careledger.test.x25519");
    address internal constant G2 = address(0x6a2);
    uint64 internal constant EXP = uint64(T0 + 400 days);

    uint256 internal PATIENT_PK;
    uint256 internal GUARDIAN_PK;
    uint256 internal STRANGER_PK;
    address internal patient;
    address internal guardian;
    address internal stranger;
    ConsentRegistry internal second;
    IConsentRegistry.RequestDetails internal req;

    function setUp() public {
        _deploy();
        second = new ConsentRegistry(inst, records);
        PATIENT_PK = _pk("signed-forms-patient");
        GUARDIAN_PK = _pk("signed-forms-guardian");
        STRANGER_PK = _pk("signed-forms-stranger");
        guardian = vm.addr(GUARDIAN_PK);
        stranger = vm.addr(STRANGER_PK);
        _prepare(vm.addr(PATIENT_PK));
    }

    /// @dev State on which every form applies for patient `p`: a live guardian, a grant to
    /// HOSP_A on CAT (to revoke), a pending request of HOSP_B (to answer), an open ER window (to close).
    function _prepare(address p) internal {
        patient = p;
        vm.startPrank(p);
        consent.setGuardian(guardian, EXP);
        consent.grant(p, HOSP_A, CAT, 1, EXP);
        vm.stopPrank();
        vm.prank(HOSP_B);
        uint256 id = consent.requestAccess(p, CAT, TREAT, keccak256("why"));
        req = IConsentRegistry.RequestDetails(id, HOSP_B, p, CAT, TREAT);
        vm.prank(ER);
        consent.breakGlass(p, keccak256("reason"), MAX_BREAK_GLASS);
    }

    // ================================================================ the eight forms

    function _patientOnly(uint256 kind) internal pure returns (bool) {
        return kind == K_SET_GUARDIAN || kind == K_REMOVE_GUARDIAN || kind == K_REGISTER_KEY;
    }

    function _structHash(uint256 kind, address signer, uint256 nonce, uint256 deadline) internal view returns (bytes32) {
        if (kind == K_GRANT) return _grantStruct(patient, HOSP_B, CAT, 1, EXP, signer, nonce, deadline);
        if (kind == K_REVOKE) return _revokeStruct(patient, HOSP_A, CAT, signer, nonce, deadline);
        if (kind == K_SET_GUARDIAN) return _guardianStruct(patient, G2, EXP, nonce, deadline);
        if (kind == K_REMOVE_GUARDIAN) return _removeGuardianStruct(patient, guardian, nonce, deadline);
        if (kind == K_REGISTER_KEY) return _registerKeyStruct(patient, KEY, nonce, deadline);
        if (kind == K_APPROVE) return _answerStruct(req, true, EXP, signer, nonce, deadline);
        if (kind == K_REJECT) return _answerStruct(req, false, EXP, signer, nonce, deadline);
        return _closeStruct(patient, ER, signer, nonce, deadline);
    }

    function _payload(uint256 kind, address signer, uint256 deadline, bytes memory sig)
        internal
        view
        returns (bytes memory)
    {
        IConsentRegistry c = consent;
        if (kind == K_GRANT) return abi.encodeCall(c.grantBySig, (patient, HOSP_B, CAT, 1, EXP, signer, deadline, sig));
        if (kind == K_REVOKE) return abi.encodeCall(c.revokeBySig, (patient, HOSP_A, CAT, signer, deadline, sig));
        if (kind == K_SET_GUARDIAN) return abi.encodeCall(c.setGuardianBySig, (patient, G2, EXP, deadline, sig));
        if (kind == K_REMOVE_GUARDIAN) return abi.encodeCall(c.removeGuardianBySig, (patient, guardian, deadline, sig));
        if (kind == K_REGISTER_KEY) return abi.encodeCall(c.registerPatientKeyBySig, (patient, KEY, deadline, sig));
        if (kind == K_APPROVE) return abi.encodeCall(c.answerRequestBySig, (req, true, EXP, signer, deadline, sig));
        if (kind == K_REJECT) return abi.encodeCall(c.answerRequestBySig, (req, false, EXP, signer, deadline, sig));
        return abi.encodeCall(c.closeBreakGlassBySig, (patient, ER, signer, deadline, sig));
    }

    /// @dev Whether the form's change is in place (false before, true after it applied).
    function _applied(uint256 kind) internal view returns (bool) {
        if (kind == K_GRANT) return consent.getGrant(patient, HOSP_B, CAT).purposes == 1;
        if (kind == K_REVOKE) return consent.getGrant(patient, HOSP_A, CAT).purposes == 0;
        if (kind == K_SET_GUARDIAN) return consent.guardianExpiry(patient, G2) == EXP;
        if (kind == K_REMOVE_GUARDIAN) return consent.guardianExpiry(patient, guardian) == 0;
        if (kind == K_REGISTER_KEY) return consent.patientKeyOf(patient) == KEY;
        if (kind == K_APPROVE) {
            return consent.requestStatus(req.requestId) == 1 && consent.isAuthorized(patient, HOSP_B, CAT, TREAT);
        }
        if (kind == K_REJECT) return consent.requestStatus(req.requestId) == 2;
        return !consent.isAuthorized(patient, ER, CAT, ETREAT)
            && consent.breakGlassWindow(patient, ER).expiresAt == block.timestamp;
    }

    function _signed(uint256 kind, uint256 pk, bytes32 ds, address signer, uint256 nonce, uint256 deadline)
        internal
        view
        returns (bytes memory)
    {
        return _payload(kind, signer, deadline, _sign(pk, ds, _structHash(kind, signer, nonce, deadline)));
    }

    function _ds() internal view returns (bytes32) {
        return _domain(block.chainid, address(consent));
    }

    /// @dev Submit `payload` to `target` expecting exactly `err`.
    function _refused(address target, bytes memory payload, bytes memory err) internal {
        vm.expectRevert(err);
        (bool ok,) = target.call(payload);
        ok; // the cheatcode checked the revert data
    }

    function _invalid(address signer) internal pure returns (bytes memory) {
        return abi.encodeWithSelector(IConsentRegistry.InvalidSignature.selector, signer);
    }

    function _call(address relayer, bytes memory payload) internal {
        vm.prank(relayer);
        (bool ok, bytes memory ret) = address(consent).call(payload);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
    }

    // ================================================================ apply once, one nonce

    /// Every form, signed by the patient (or, where allowed, a live guardian) and relayed by
    /// anyone, applies once and consumes one nonce; a replay by anyone reverts
    /// InvalidSignature(signer) and changes nothing; the actor recorded is the signer.
    function testFuzz_p7_signedFormAppliesOnce(uint8 kind, address relayer1, address relayer2, bool byGuardian) public {
        kind = uint8(kind % KINDS);
        bool g = byGuardian && !_patientOnly(kind);
        (uint256 pk, address signer) = g ? (GUARDIAN_PK, guardian) : (PATIENT_PK, patient);
        uint256 n = consent.nonces(signer);
        bytes memory payload = _signed(kind, pk, _ds(), signer, n, block.timestamp + 1 hours);
        assertFalse(_applied(kind), "applied before");
        vm.recordLogs();
        _call(relayer1, payload);
        assertTrue(_applied(kind), "applied");
        assertEq(consent.nonces(signer), n + 1, "one nonce consumed");
        _checkActor(kind, signer);
        vm.prank(relayer2);
        _refused(address(consent), payload, _invalid(signer));
        assertEq(consent.nonces(signer), n + 1, "replay consumed a nonce");
        assertTrue(_applied(kind), "replay undid the change");
    }

    /// @dev The signer is the actor of the event the form emits.
    function _checkActor(uint256 kind, address signer) internal {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        bytes32 topic = kind == K_GRANT
            ? IConsentRegistry.ConsentGranted.selector
            : kind == K_REVOKE
                ? IConsentRegistry.ConsentRevoked.selector
                : kind == K_APPROVE
                    ? IConsentRegistry.AccessRequestApproved.selector
                    : kind == K_REJECT ? IConsentRegistry.AccessRequestRejected.selector : bytes32(0);
        if (kind == K_CLOSE) topic = IConsentRegistry.BreakGlassClosed.selector;
        if (topic == bytes32(0)) return; // the patient-only forms name the patient in their event
        for (uint256 i = 0; i < logs.length; ++i) {
            if (logs[i].topics[0] != topic) continue;
            bytes memory d = logs[i].data;
            // the actor / closedBy is the first data word for Closed, the last for the others
            uint256 at = kind == K_CLOSE ? 32 : d.length;
            address actor;
            assembly ("memory-safe") {
                actor := mload(add(d, at))
            }
            assertEq(actor, signer, "event actor is the signer");
            return;
        }
        fail("form emitted no event");
    }

    /// All forms share one nonce per signer: a signature of one form is not valid as another
    /// (different typehash or fields), and once one is used, it and the others signed for the
    /// same nonce are void (InvalidSignature(patient)): each run checks the used form and three
    /// others (every pair of forms over the runs).
    function testFuzz_inv3_oneNonceAcrossTypes(uint8 first, uint8 other) public {
        first = uint8(first % KINDS);
        other = uint8(other % KINDS);
        uint256 n = consent.nonces(patient);
        uint256 deadline = block.timestamp + 1 days;
        bytes32 ds = _ds();
        bytes memory sig = _sign(PATIENT_PK, ds, _structHash(first, patient, n, deadline));
        if (other != first) {
            // cross-form reuse while the nonce is still current
            _refused(address(consent), _payload(other, patient, deadline, sig), _invalid(patient));
        }
        _call(address(this), _payload(first, patient, deadline, sig));
        assertEq(consent.nonces(patient), n + 1, "one nonce consumed");
        _refused(address(consent), _payload(first, patient, deadline, sig), _invalid(patient));
        for (uint256 j = 0; j < 3; ++j) {
            uint256 k = (other + 3 * j) % KINDS;
            if (k == first) continue;
            bytes memory sigK = _sign(PATIENT_PK, ds, _structHash(k, patient, n, deadline));
            _refused(address(consent), _payload(k, patient, deadline, sigK), _invalid(patient));
        }
        assertEq(consent.nonces(patient), n + 1, "nothing else consumed");
    }

    // ================================================================ deadline, chain, contract, key

    /// Every form is valid up to and including its deadline second and reverts
    /// SignatureExpired(deadline, now) at any later second, consuming nothing.
    function testFuzz_inv4_deadline(uint8 kind, uint32 window, uint64 late) public {
        kind = uint8(kind % KINDS);
        // the ER window (72 h) must still be open at the deadline for CloseBreakGlass
        uint256 maxWindow = kind == K_CLOSE ? MAX_BREAK_GLASS - 1 : 365 days;
        uint256 deadline = block.timestamp + bound(window, 0, maxWindow);
        bytes memory payload = _signed(kind, PATIENT_PK, _ds(), patient, consent.nonces(patient), deadline);
        uint256 t = deadline + 1 + bound(late, 0, 100 * 365 days);
        vm.warp(t);
        _refused(
            address(consent), payload, abi.encodeWithSelector(IConsentRegistry.SignatureExpired.selector, deadline, t)
        );
        assertEq(consent.nonces(patient), 0, "expired consumed a nonce");
        vm.warp(deadline);
        _call(address(this), payload);
        assertTrue(_applied(kind), "valid at the deadline");
    }

    /// Every form is void when signed for another chain id, after the chain id changes (fork),
    /// when signed for a second deployment (and, signed here, on that deployment), with the
    /// high-s twin, or signed by another key: InvalidSignature(signer) (on the second deployment a
    /// guardian, unknown there, gets NotPatientOrGuardian). Nothing applies or is consumed on
    /// either deployment; the honest signature then applies here.
    function testFuzz_inv4_signedFormsBoundToChainAndContract(
        uint8 kind,
        uint64 otherChain,
        uint8 variant,
        bool byGuardian
    ) public {
        kind = uint8(kind % KINDS);
        vm.assume(otherChain != block.chainid && otherChain != 0);
        bool g = byGuardian && !_patientOnly(kind);
        (uint256 pk, address signer) = g ? (GUARDIAN_PK, guardian) : (PATIENT_PK, patient);
        uint256 deadline = block.timestamp + 1 hours;
        uint256 home = block.chainid;
        bytes32 sh = _structHash(kind, signer, 0 + consent.nonces(signer), deadline);
        bytes memory honest = _payload(kind, signer, deadline, _sign(pk, _ds(), sh));
        variant %= 5;
        if (variant == 0) {
            bytes memory sig = _sign(pk, _domain(otherChain, address(consent)), sh);
            _refused(address(consent), _payload(kind, signer, deadline, sig), _invalid(signer));
        } else if (variant == 1) {
            vm.chainId(otherChain);
            _refused(address(consent), honest, _invalid(signer));
            vm.chainId(home);
        } else if (variant == 2) {
            bytes memory sig = _sign(pk, _domain(home, address(second)), sh);
            _refused(address(consent), _payload(kind, signer, deadline, sig), _invalid(signer));
            bool guardianFirst = g && (kind == K_GRANT || kind == K_REVOKE || kind == K_CLOSE);
            _refused(
                address(second),
                honest,
                guardianFirst
                    ? abi.encodeWithSelector(IConsentRegistry.NotPatientOrGuardian.selector, signer, patient)
                    : _invalid(signer)
            );
        } else if (variant == 3) {
            _refused(address(consent), _payload(kind, signer, deadline, _highS(_sign(pk, _ds(), sh))), _invalid(signer));
        } else {
            _refused(address(consent), _payload(kind, signer, deadline, _sign(STRANGER_PK, _ds(), sh)), _invalid(signer));
        }
        assertFalse(_applied(kind), "a void signature applied");
        assertEq(consent.nonces(signer), 0, "nonce consumed");
        assertEq(second.nonces(signer), 0, "second deployment nonce consumed");
        _call(address(this), honest);
        assertTrue(_applied(kind), "the honest signature applies");
    }

    // ================================================================ who may sign

    /// The patient-only forms (SetGuardian, RemoveGuardian, RegisterKey) refuse a guardian's
    /// signature over the patient's message: InvalidSignature(patient) (a guardian can no
    /// longer set the patient's key). The patient-or-guardian forms refuse a stranger's valid
    /// signature, and a guardian's once its appointment expired: NotPatientOrGuardian(signer, patient).
    function testFuzz_p7_whoMaySign(uint8 kind, bool expiredGuardian) public {
        kind = uint8(kind % KINDS);
        uint256 deadline = block.timestamp + 2 hours;
        bytes32 ds = _ds();
        if (_patientOnly(kind)) {
            bytes32 sh = _structHash(kind, patient, consent.nonces(patient), deadline);
            _refused(address(consent), _payload(kind, patient, deadline, _sign(GUARDIAN_PK, ds, sh)), _invalid(patient));
        } else {
            (uint256 pk, address signer) = (STRANGER_PK, stranger);
            if (expiredGuardian) {
                vm.prank(patient);
                consent.setGuardian(guardian, uint64(block.timestamp + 1 hours));
                vm.warp(block.timestamp + 1 hours);
                (pk, signer) = (GUARDIAN_PK, guardian);
            }
            _refused(
                address(consent),
                _signed(kind, pk, ds, signer, consent.nonces(signer), deadline),
                abi.encodeWithSelector(IConsentRegistry.NotPatientOrGuardian.selector, signer, patient)
            );
        }
        assertFalse(_applied(kind), "refused form applied");
    }

    /// An answer signature is bound to approve/reject and to its expiry: flipping either voids it.
    function testFuzz_p7_answerBoundToDecisionAndExpiry(bool approve, uint32 delta) public {
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory sig = _sign(PATIENT_PK, _ds(), _answerStruct(req, approve, EXP, patient, 0, deadline));
        _refused(
            address(consent),
            abi.encodeCall(consent.answerRequestBySig, (req, !approve, EXP, patient, deadline, sig)),
            _invalid(patient)
        );
        uint64 other = uint64(EXP - 1 - bound(delta, 0, 300 days));
        _refused(
            address(consent),
            abi.encodeCall(consent.answerRequestBySig, (req, approve, other, patient, deadline, sig)),
            _invalid(patient)
        );
        consent.answerRequestBySig(req, approve, EXP, patient, deadline, sig);
        assertEq(consent.requestStatus(req.requestId), approve ? 1 : 2, "answered as signed");
        if (approve) assertEq(consent.getGrant(patient, HOSP_B, CAT).expiresAt[TREAT], EXP, "signed expiry");
    }

    // ================================================================ EIP-1271 wallets

    /// A contract-wallet patient (EIP-1271, MockContractWallet) signs RemoveGuardian,
    /// RegisterKey, AnswerRequest and CloseBreakGlass through its owner: refused with
    /// InvalidSignature(wallet) while the wallet withdraws approval or for another key; applied
    /// once otherwise; the replay reverts InvalidSignature(wallet).
    function testFuzz_p7_contractWalletPatient(uint256 ownerPk, uint8 pick, bool refuse) public {
        ownerPk = bound(ownerPk, 1, SECP256K1_N - 1);
        uint8 kind = [K_REMOVE_GUARDIAN, K_REGISTER_KEY, K_APPROVE, K_REJECT, K_CLOSE][pick % 5];
        MockContractWallet wallet = new MockContractWallet(vm.addr(ownerPk));
        address w = address(wallet);
        _prepare(w);
        uint256 deadline = block.timestamp + 1 hours;
        bytes memory good = _signed(kind, ownerPk, _ds(), w, 0, deadline);
        if (refuse) {
            vm.prank(vm.addr(ownerPk));
            wallet.setRefuseAll(true);
            _refused(address(consent), good, _invalid(w));
            vm.prank(vm.addr(ownerPk));
            wallet.setRefuseAll(false);
        } else {
            _refused(address(consent), _signed(kind, ownerPk == 1 ? 2 : ownerPk - 1, _ds(), w, 0, deadline), _invalid(w));
        }
        assertFalse(_applied(kind), "refused wallet signature applied");
        _call(address(this), good);
        assertTrue(_applied(kind), "wallet signature applied");
        assertEq(consent.nonces(w), 1, "wallet nonce");
        _refused(address(consent), good, _invalid(w));
    }
}
