// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Test} from "../utils/Test.sol";
import {ConsentHandler} from "./ConsentHandler.sol";
import {ConsentRegistry} from "../../contracts/ConsentRegistry.sol";
import {InstitutionRegistry} from "../../contracts/InstitutionRegistry.sol";
import {IConsentRegistry} from "../../contracts/interfaces/IConsentRegistry.sol";

/// @notice Stateful invariants of the consent system (SECURITY.md 1, 2, 3, 4, 6, 7). The fuzzer
/// drives ConsentHandler through random call sequences (256 runs x 500 calls in the default
/// profile). Every handler call predicts its outcome from an independent model and records any
/// disagreement or property breach at once (with the property's number), then compares a
/// rotating sample of the contracts' state with the model; at the end of every run
/// `afterInvariant` compares the whole state (authorisation matrix, grants, guardians, keys,
/// requests, nonces, memberships, audit heads, the untouched second deployment).
///
/// forge 1.7 runs one campaign per `invariant_*` function, so all properties are checked by one
/// function (one campaign of 128,000 calls, every property after each call) rather than seven
/// (seven times the run time for the same coverage). A failure names its property:
/// "assertion failed: invN: ..." (SECURITY.md invariant N) or "model: ..." (model and contract
/// disagree on a call's outcome).
contract ConsentInvariantTest is Test {
    ConsentHandler internal h;
    ConsentRegistry internal consent;
    ConsentRegistry internal second;
    InstitutionRegistry internal inst;
    bytes32 internal constant SCOPE_ALL = keccak256("careledger.scope.ALL");
    address[5] internal signers; // P0, P1, G0, G1, S0
    address[5] internal grantees; // four members and a non-member
    bytes32[5] internal scopes;

    function setUp() public {
        h = new ConsentHandler();
        consent = ConsentRegistry(h.consentAddress());
        inst = InstitutionRegistry(h.instAddress());
        second = h.second();
        for (uint256 i = 0; i < 5; ++i) {
            signers[i] = h.signers(i);
            scopes[i] = h.scopes(i);
            grantees[i] = i < 4 ? h.insts(i) : address(0xdead);
        }
        targetContract(address(h));
        bytes4[] memory sel = new bytes4[](21);
        // weights: a selector listed twice is drawn twice as often
        sel[0] = h.grant.selector;
        sel[1] = h.grant.selector;
        sel[2] = h.revoke.selector;
        sel[3] = h.grantBySig.selector;
        sel[4] = h.grantBySig.selector;
        sel[5] = h.revokeBySig.selector;
        sel[6] = h.setGuardianBySig.selector;
        sel[7] = h.setGuardian.selector;
        sel[8] = h.removeGuardian.selector;
        sel[9] = h.increaseNonce.selector;
        sel[10] = h.replay.selector;
        sel[11] = h.requestAccess.selector;
        sel[12] = h.approveRequest.selector;
        sel[13] = h.rejectRequest.selector;
        sel[14] = h.breakGlass.selector;
        sel[15] = h.recordAccess.selector;
        sel[16] = h.recordAccess.selector;
        sel[17] = h.warp.selector;
        sel[18] = h.warpToEdge.selector;
        sel[19] = h.govern.selector;
        sel[20] = h.registerPatientKey.selector;
        targetSelector(FuzzSelector(address(h), sel));
    }

    /// @dev (patient, grantee, scope, purpose) number i of the 300 the model covers.
    function _combo(uint256 i) internal view returns (address p, address g, bytes32 s, uint8 purpose) {
        i %= 300;
        return (signers[i % 2], grantees[i / 2 % 5], scopes[i / 10 % 5], uint8(i / 50 % 6));
    }

    function _noViolations() internal view {
        if (h.violationTotal() == 0) return;
        // property breaches first, then plain model disagreements (category 0)
        for (uint256 i = 1; i <= 8; ++i) {
            uint256 c = i % 8;
            uint256 n = h.violationCount(c);
            if (n != 0) fail(string.concat(h.firstViolation(c), " (", _u(n), " in this category)"));
        }
    }

    /// SECURITY.md invariants 1, 2, 3, 4, 6 and 7, after every call of every run: the handler
    /// checked the call's outcome against the model and then a rotating sample of the state
    /// (ConsentHandler._postCheck); any breach is recorded with its invariant's number and fails
    /// here with that message.
    function invariant_consentProperties() public view {
        _noViolations();
    }

    /// End of each run: the whole matrix (isAuthorized, isAuthorizedForRecord, grants, guardians,
    /// keys, requests, statuses, roles, the second deployment) equals the model.
    function afterInvariant() public virtual {
        vm.warp(h.now_());
        _noViolations();
        for (uint256 i = 0; i < 300; ++i) {
            (address p, address g, bytes32 s, uint8 purpose) = _combo(i);
            (bool want,) = h.modelAuth(p, g, s, SCOPE_ALL, purpose);
            assertEq(consent.isAuthorized(p, g, s, purpose), want, "inv1: isAuthorized vs model (end of run)");
            bytes32 c = scopes[(i / 10 + 1) % 5];
            (want,) = h.modelAuth(p, g, s, c, purpose);
            assertEq(consent.isAuthorizedForRecord(p, g, s, c, purpose), want, "inv1: isAuthorizedForRecord vs model");
            if (purpose == 0) {
                IConsentRegistry.Grant memory got = consent.getGrant(p, g, s);
                (uint32 purposes, uint64 expiresAt) = h.modelGrant(p, g, s);
                assertEq(got.purposes, purposes, "inv2: grant purposes vs model (end of run)");
                assertEq(got.expiresAt, expiresAt, "inv2: grant expiry vs model (end of run)");
                assertEq(second.getGrant(p, g, s).purposes, 0, "inv4: second deployment grant");
            }
        }
        for (uint256 pi = 0; pi < 2; ++pi) {
            address p = signers[pi];
            assertEq(consent.patientKeyOf(p), h.mKey(p), "inv2: patient key vs model");
            for (uint256 gi = 0; gi < 5; ++gi) {
                address g = signers[gi];
                assertEq(consent.guardianExpiry(p, g), h.mGuardian(p, g), "inv2: guardian vs model");
                assertEq(second.guardianExpiry(p, g), 0, "inv4: second deployment guardian");
            }
        }
        uint256 n = h.requestCount();
        assertEq(consent.requestCount(), n, "model: request count");
        for (uint256 id = 0; id < n; ++id) {
            assertEq(consent.getRequest(id).status, h.modelRequestStatus(id), "inv2: request status vs model");
        }
        for (uint256 i = 0; i < 5; ++i) {
            assertEq(second.nonces(signers[i]), 0, "inv4: second deployment nonce");
        }
        for (uint256 i = 0; i < 4; ++i) {
            address a = grantees[i];
            assertEq(consent.nonces(a), h.mNonce(a), "inv3: institution nonce vs count");
            assertEq(inst.statusOf(a), h.mStatus(a), "inv6: institution status vs model");
            if (h.mStatus(a) != 3) assertEq(inst.institution(a).roles, h.mRoles(a), "inv6: roles vs model");
        }
        for (uint256 i = 0; i < 2; ++i) {
            (bytes32 head, uint64 count) = consent.auditHead(signers[i]);
            (bytes32 want, uint64 wantCount) = h.modelAudit(signers[i]);
            assertEq(head, want, "inv7: audit head vs recomputed chain (end of run)");
            assertEq(count, wantCount, "inv7: audit count (end of run)");
        }
        for (uint256 i = 0; i < 5; ++i) {
            assertEq(consent.nonces(signers[i]), h.mNonce(signers[i]), "inv3: nonce vs consumed count (end of run)");
        }
    }
}
