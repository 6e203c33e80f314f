// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Fixture} from "./utils/Fixture.sol";
import {console} from "./utils/console.sol";
import {ConsentRegistry} from "../contracts/ConsentRegistry.sol";
import {InstitutionRegistry} from "../contracts/InstitutionRegistry.sol";

/// @notice SECURITY.md invariant 8: no mutating function's gas grows with the number of grants.
/// EVM gas is deterministic, so the test measures the gasleft() difference around each call
/// after N prior grants and requires the same number (within TOLERANCE) for every N. Before each
/// measured call every storage slot of both contracts is made cold again (vm.cool) and both
/// contract accounts are warm, the same state for every measurement, so that warm-slot discounts
/// from the setup do not blur the comparison; every measurement runs in a fresh call frame
/// (this.measure), so that the test's own memory growth (quadratic memory-expansion cost) does
/// not leak into the numbers. Each sweep step also adds an audit entry and an access request, so
/// the audit chain and the request list grow with N too. Run with -vv to see the numbers.
abstract contract GasProbe is Fixture {
    /// @dev "Equality within a few hundred gas"; in practice the measurements are identical.
    uint256 internal constant TOLERANCE = 200;
    bytes32 internal constant CAT = keccak256(abi.encode("careledger.category", "LOINC:11502-2"));

    address internal patient = address(0x9a71e47);
    address internal other = address(0x07e4);

    struct Gas {
        uint256 grant;
        uint256 revoke;
        uint256 isAuthorizedYes;
        uint256 isAuthorizedNo;
        uint256 recordAccess;
        uint256 grantBySig;
        uint256 requestAccess;
        uint256 approveRequest;
    }

    uint256 internal patientPk;

    function setUp() public virtual {
        _deploy();
        patientPk = _pk("gas-patient");
        patient = vm.addr(patientPk);
        // the state every probe relies on: a live SCOPE_ALL grant for the accessor and a
        // non-empty audit chain (so every measured access updates a non-zero slot)
        vm.prank(patient);
        consent.grant(patient, HOSP_A, SCOPE_ALL, ALL_PURPOSES, uint64(block.timestamp + 365 days));
        vm.prank(HOSP_A);
        consent.recordAccess(patient, _recordId(HOSP_B, 0), CAT, TREAT);
        // a non-zero nonce and a non-empty request list (so every measured signature and request
        // moves a non-zero length/nonce slot, as all but the very first ever do)
        vm.prank(patient);
        consent.increaseNonce();
        vm.prank(HOSP_B);
        consent.requestAccess(patient, CAT, TREAT, bytes32(0));
    }

    /// @dev The i-th prior grant: mostly the measured patient (same grantees, new scopes), also
    /// other patients to the measured grantee: every shape of "more grants" the registry could
    /// index by.
    function _priorGrant(ConsentRegistry c, uint256 i) internal {
        address p = i % 4 == 3 ? address(uint160(0x10000 + i)) : patient;
        uint256 k = i % 4;
        address g = k == 0 ? HOSP_A : k == 1 ? HOSP_B : k == 2 ? LAB : ER;
        vm.prank(p);
        c.grant(p, g, bytes32(0x5052494f52000000000000000000000000000000000000000000000000000000 | i), uint32(1 + i % 63), uint64(block.timestamp + 30 days));
    }

    /// @dev The same access state before every measured call: both contract accounts warm
    /// (touched here), every storage slot of both cold (vm.cool cools storage, not the account).
    function _cool(ConsentRegistry c) internal {
        address i = c.institutions();
        InstitutionRegistry(i).threshold();
        vm.cool(address(c));
        vm.cool(i);
    }

    /// @dev Gas of each operation on `c`, probe `k` (a scope no prior grant used), measured in a
    /// fresh call frame.
    function _measure(ConsentRegistry c, uint256 k) internal returns (Gas memory) {
        return this.measure(c, k);
    }

    function measure(ConsentRegistry c, uint256 k) external returns (Gas memory m) {
        require(msg.sender == address(this), "internal");
        bytes32 scope = keccak256(abi.encode("probe", k));
        uint64 exp = uint64(block.timestamp + 1 days);
        uint256 g0;

        _cool(c);
        vm.prank(patient);
        g0 = gasleft();
        c.grant(patient, HOSP_B, scope, 1, exp);
        m.grant = g0 - gasleft();

        _cool(c);
        vm.prank(patient);
        g0 = gasleft();
        c.revoke(patient, HOSP_B, scope);
        m.revoke = g0 - gasleft();

        _cool(c);
        g0 = gasleft();
        bool yes = c.isAuthorized(patient, HOSP_A, scope, TREAT);
        m.isAuthorizedYes = g0 - gasleft();

        _cool(c);
        g0 = gasleft();
        bool no = c.isAuthorized(patient, HOSP_B, scope, TREAT);
        m.isAuthorizedNo = g0 - gasleft();
        require(yes && !no, "probe answers");

        _cool(c);
        vm.prank(HOSP_A);
        g0 = gasleft();
        c.recordAccess(patient, _recordId(HOSP_B, uint96(k)), CAT, TREAT);
        m.recordAccess = g0 - gasleft();

        bytes memory sig = _sigFor(c, scope, exp);
        _cool(c);
        g0 = gasleft();
        c.grantBySig(patient, LAB, scope, 1, exp, patient, block.timestamp, sig);
        m.grantBySig = g0 - gasleft();

        _cool(c);
        vm.prank(HOSP_B);
        g0 = gasleft();
        uint256 id = c.requestAccess(patient, scope, TREAT, scope);
        m.requestAccess = g0 - gasleft();

        _cool(c);
        vm.prank(patient);
        g0 = gasleft();
        c.approveRequest(id, exp);
        m.approveRequest = g0 - gasleft();
    }

    function _sigFor(ConsentRegistry c, bytes32 scope, uint64 exp) internal view returns (bytes memory) {
        GrantMsg memory msg_;
        msg_.patient = patient;
        msg_.grantee = LAB;
        msg_.scope = scope;
        msg_.purposes = 1;
        msg_.expiresAt = exp;
        msg_.signer = patient;
        msg_.nonce = c.nonces(patient);
        msg_.deadline = block.timestamp;
        return _sign(patientPk, c.DOMAIN_SEPARATOR(), _grantHash(msg_));
    }

    function _same(Gas memory a, Gas memory b, string memory when) internal pure {
        assertApproxEq(a.grant, b.grant, TOLERANCE, string.concat("grant gas ", when));
        assertApproxEq(a.revoke, b.revoke, TOLERANCE, string.concat("revoke gas ", when));
        assertApproxEq(a.isAuthorizedYes, b.isAuthorizedYes, TOLERANCE, string.concat("isAuthorized (yes) gas ", when));
        assertApproxEq(a.isAuthorizedNo, b.isAuthorizedNo, TOLERANCE, string.concat("isAuthorized (no) gas ", when));
        assertApproxEq(a.recordAccess, b.recordAccess, TOLERANCE, string.concat("recordAccess gas ", when));
        assertApproxEq(a.grantBySig, b.grantBySig, TOLERANCE, string.concat("grantBySig gas ", when));
        assertApproxEq(a.requestAccess, b.requestAccess, TOLERANCE, string.concat("requestAccess gas ", when));
        assertApproxEq(a.approveRequest, b.approveRequest, TOLERANCE, string.concat("approveRequest gas ", when));
    }

    function _log(Gas memory m, string memory when) internal view {
        console.log(when);
        console.log("  grant", m.grant);
        console.log("  revoke", m.revoke);
        console.log("  isAuthorized (authorised)", m.isAuthorizedYes);
        console.log("  isAuthorized (refused)", m.isAuthorizedNo);
        console.log("  recordAccess", m.recordAccess);
        console.log("  grantBySig", m.grantBySig);
        console.log("  requestAccess", m.requestAccess);
        console.log("  approveRequest", m.approveRequest);
    }

    function _fresh() internal returns (ConsentRegistry c) {
        c = new ConsentRegistry(inst);
        vm.prank(patient);
        c.grant(patient, HOSP_A, SCOPE_ALL, ALL_PURPOSES, uint64(block.timestamp + 365 days));
        vm.prank(HOSP_A);
        c.recordAccess(patient, _recordId(HOSP_B, 0), CAT, TREAT);
        vm.prank(patient);
        c.increaseNonce();
    }

    function _diff(Gas memory a, Gas memory b) internal pure returns (uint256 d) {
        d = _max(d, _absDiff(a.grant, b.grant));
        d = _max(d, _absDiff(a.revoke, b.revoke));
        d = _max(d, _absDiff(a.isAuthorizedYes, b.isAuthorizedYes));
        d = _max(d, _absDiff(a.isAuthorizedNo, b.isAuthorizedNo));
        d = _max(d, _absDiff(a.recordAccess, b.recordAccess));
        d = _max(d, _absDiff(a.grantBySig, b.grantBySig));
        d = _max(d, _absDiff(a.requestAccess, b.requestAccess));
        d = _max(d, _absDiff(a.approveRequest, b.approveRequest));
    }

    function _absDiff(uint256 a, uint256 b) internal pure returns (uint256) {
        return a > b ? a - b : b - a;
    }

    function _max(uint256 a, uint256 b) internal pure returns (uint256) {
        return a > b ? a : b;
    }
}

/// @notice Invariant 8, swept: every N in 1..1000, and 10,000.
contract GasScalingTest is GasProbe {
    /// For every N in 1..1000: after N prior grants, grant, revoke, isAuthorized (authorised and
    /// refused), recordAccess, grantBySig, requestAccess and approveRequest cost what they cost
    /// after 1 (within TOLERANCE); the largest difference seen is logged.
    function test_inv8_gasFlatForEveryNUpTo1000() public {
        _priorGrant(consent, 0);
        Gas memory base = _measure(consent, 0);
        uint256 worst;
        for (uint256 n = 2; n <= 1000; ++n) {
            _priorGrant(consent, n - 1);
            Gas memory m = _measure(consent, n);
            _same(base, m, string.concat("after ", _u(n), " prior grants"));
            worst = _max(worst, _diff(base, m));
        }
        _log(base, "gas after 1 prior grant (and after each N up to 1000)");
        console.log("largest difference over N = 1..1000 (gas)", worst);
    }

    /// SECURITY.md's own number: with 1 and with 10,000 prior grants the gas differs by less than
    /// 5% (here: within TOLERANCE, i.e. not at all). The 9,999 extra grants are made with gas
    /// metering paused so they do not count against the test's gas limit.
    function test_inv8_gasWith10000PriorGrants() public {
        _priorGrant(consent, 0);
        Gas memory one = _measure(consent, 0);
        vm.pauseGasMetering();
        for (uint256 i = 1; i < 10_000; ++i) {
            _priorGrant(consent, i);
        }
        vm.resumeGasMetering();
        Gas memory many = _measure(consent, 1);
        _same(one, many, "with 10,000 vs 1 prior grants");
        _log(many, "gas after 10,000 prior grants");
    }
}

/// @notice Invariant 8, fuzzed (5,000 runs): a registry holding 1,000 grants and one holding a
/// single grant charge the same gas for the same operation on fuzzed arguments.
contract GasScalingFuzzTest is GasProbe {
    ConsentRegistry internal big;
    ConsentRegistry internal small;

    function setUp() public override {
        super.setUp();
        big = _fresh();
        small = _fresh();
        for (uint256 i = 0; i < 1000; ++i) {
            _priorGrant(big, i);
        }
        _priorGrant(small, 0);
    }

    /// Fuzzed probe on both registries, each in a fresh frame with cold state: identical gas.
    function testFuzz_inv8_sameGasAs1000GrantRegistry(bytes32 scope, uint96 rec, uint8 purpose, uint64 life) public {
        purpose = uint8(bound(purpose, 0, MAX_PURPOSE));
        vm.assume(scope != bytes32(0) && scope != SCOPE_ALL);
        uint64 exp = uint64(block.timestamp + bound(life, 1, 100 * 365 days));
        uint256[3] memory a = this.probe(small, scope, rec, purpose, exp);
        uint256[3] memory b = this.probe(big, scope, rec, purpose, exp);
        assertApproxEq(a[0], b[0], TOLERANCE, "grant gas, 1 vs 1000 prior grants");
        assertApproxEq(a[1], b[1], TOLERANCE, "isAuthorized gas, 1 vs 1000 prior grants");
        assertApproxEq(a[2], b[2], TOLERANCE, "recordAccess gas, 1 vs 1000 prior grants");
    }

    function probe(ConsentRegistry c, bytes32 scope, uint96 rec, uint8 purpose, uint64 exp)
        external
        returns (uint256[3] memory g)
    {
        require(msg.sender == address(this), "internal");
        _cool(c);
        vm.prank(patient);
        uint256 g0 = gasleft();
        c.grant(patient, HOSP_B, scope, uint32(1) << purpose, exp);
        g[0] = g0 - gasleft();
        _cool(c);
        g0 = gasleft();
        c.isAuthorized(patient, HOSP_B, scope, purpose);
        g[1] = g0 - gasleft();
        _cool(c);
        vm.prank(HOSP_B);
        g0 = gasleft();
        c.recordAccess(patient, _recordId(HOSP_B, rec), scope, purpose);
        g[2] = g0 - gasleft();
    }
}
