// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Fixture} from "./utils/Fixture.sol";
import {Merkle} from "./utils/Merkle.sol";
import {Vm} from "./utils/Vm.sol";
import {console} from "./utils/console.sol";
import {ConsentRegistry} from "../contracts/ConsentRegistry.sol";
import {InstitutionRegistry} from "../contracts/InstitutionRegistry.sol";
import {IConsentRegistry} from "../contracts/interfaces/IConsentRegistry.sol";

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
    bytes32 internal constant COMMIT = keccak256("careledger.test.blob");

    address internal patient = address(0x9a71e47);
    /// @dev The single record of the patient (category CAT) every measured access reads.
    bytes32 internal rec;
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
        rec = _anchorSingle(HOSP_B, patient, 0, COMMIT, CAT);
        // the state every probe relies on: a live SCOPE_ALL grant for the accessor and a
        // non-empty audit chain (so every measured access updates a non-zero slot)
        vm.prank(patient);
        consent.grant(patient, HOSP_A, SCOPE_ALL, ALL_PURPOSES, uint64(block.timestamp + 365 days));
        vm.prank(HOSP_A);
        consent.recordAccess(patient, rec, CAT, COMMIT, TREAT, _noProof());
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

    /// @dev The same access state before every measured call: the three contract accounts
    /// warm (touched here), every storage slot of all three cold (vm.cool cools storage, not the
    /// account).
    function _cool(ConsentRegistry c) internal {
        address i = c.institutions();
        InstitutionRegistry(i).threshold();
        records.ROLE_PROVIDER();
        vm.cool(address(c));
        vm.cool(i);
        vm.cool(address(records));
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

        // every argument in memory or on the stack: reading the test's own storage inside the
        // measured window would add a cold SLOAD to the first measurement only
        (address p, bytes32 recordId, bytes32[] memory none) = (patient, rec, _noProof());
        _cool(c);
        vm.prank(HOSP_A);
        g0 = gasleft();
        c.recordAccess(p, recordId, CAT, COMMIT, TREAT, none);
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

        IConsentRegistry.RequestDetails memory r = IConsentRegistry.RequestDetails(id, HOSP_B, patient, scope, TREAT);
        _cool(c);
        vm.prank(patient);
        g0 = gasleft();
        c.approveRequest(r, exp);
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
        c = new ConsentRegistry(inst, records);
        vm.prank(patient);
        c.grant(patient, HOSP_A, SCOPE_ALL, ALL_PURPOSES, uint64(block.timestamp + 365 days));
        vm.prank(HOSP_A);
        c.recordAccess(patient, rec, CAT, COMMIT, TREAT, _noProof());
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
    function testFuzz_inv8_sameGasAs1000GrantRegistry(bytes32 scope, uint96 suffix, uint8 purpose, uint64 life)
        public
    {
        purpose = uint8(bound(purpose, 0, MAX_PURPOSE));
        vm.assume(scope != bytes32(0) && scope != SCOPE_ALL);
        uint64 exp = uint64(block.timestamp + bound(life, 1, type(uint32).max - block.timestamp));
        // the accessed record is anchored with the fuzzed scope as its category
        bytes32 id = _recordId(HOSP_B, suffix);
        vm.assume(!records.isAnchored(id));
        vm.prank(HOSP_B);
        records.anchor(patient, id, COMMIT, scope, bytes32(0));
        uint256[3] memory a = this.probe(small, scope, id, purpose, exp);
        uint256[3] memory b = this.probe(big, scope, id, purpose, exp);
        assertApproxEq(a[0], b[0], TOLERANCE, "grant gas, 1 vs 1000 prior grants");
        assertApproxEq(a[1], b[1], TOLERANCE, "isAuthorized gas, 1 vs 1000 prior grants");
        assertApproxEq(a[2], b[2], TOLERANCE, "recordAccess gas, 1 vs 1000 prior grants");
    }

    function probe(ConsentRegistry c, bytes32 scope, bytes32 id, uint8 purpose, uint64 exp)
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
        bytes32[] memory none = _noProof();
        _cool(c);
        vm.prank(HOSP_B);
        g0 = gasleft();
        c.recordAccess(patient, id, scope, COMMIT, purpose, none);
        g[2] = g0 - gasleft();
    }
}

/// @notice The v2 gas table (run with -vv to print it). Each row is measured in its own test
/// function, i.e. its own transaction, against state prepared in setUp (an earlier transaction):
/// every storage slot and every other contract's account is cold, as in a real transaction; the
/// called contract's account is warmed first with a call that reads no storage (a real
/// transaction's target is warm, paid by the 21,000). Each row prints the execution gas of the
/// called contract's frame (forge's lastCallGas: everything the transaction executes, cold
/// accesses to the other registries included), the refund, and the receipt gas that follows:
/// execution + 21,000 + calldata (4 gas per zero byte, 16 per non-zero byte of the exact
/// calldata; EIP-7623's floor of 21,000 + 10 per token where higher) - min(refund, gas / 5).
/// No budget is asserted here: the figures are reported (test-sol/README.md lists them).
contract GasTableTest is Fixture {
    bytes32 internal constant CAT = keccak256(abi.encode("careledger.category", "LOINC:11502-2"));
    bytes32 internal constant COMMIT = keccak256("careledger.test.blob");
    uint8 internal constant DEPTH = 8;

    uint256 internal pk;
    address internal patient; // a patient with grants, records, an audit head and a used nonce
    address internal fresh; // a patient with a grant and a record, no audit entry yet
    bytes32 internal rec; // patient's single record
    bytes32 internal freshRec; // fresh's single record
    bytes28 internal batchId; // 256 members of patient, category CAT
    bytes32[] internal leaves;
    uint256 internal requestId;

    function setUp() public {
        _deploy();
        pk = _pk("gas-table-patient");
        patient = vm.addr(pk);
        fresh = address(0xf4e54);
        uint64 exp = uint64(block.timestamp + 365 days);
        rec = _anchorSingle(HOSP_B, patient, 1, COMMIT, CAT);
        freshRec = _anchorSingle(HOSP_B, fresh, 2, COMMIT, CAT);
        vm.prank(patient);
        consent.grant(patient, HOSP_A, SCOPE_ALL, ALL_PURPOSES, exp);
        vm.prank(fresh);
        consent.grant(fresh, HOSP_A, SCOPE_ALL, ALL_PURPOSES, exp);
        vm.prank(HOSP_A);
        consent.recordAccess(patient, rec, CAT, COMMIT, TREAT, _noProof());
        vm.prank(patient);
        consent.increaseNonce();
        vm.prank(HOSP_B);
        requestId = consent.requestAccess(patient, CAT, TREAT, bytes32(0));
        batchId = _batchId(HOSP_A, 1);
        for (uint256 i = 0; i < 256; ++i) {
            leaves.push(_leaf(patient, _memberId(batchId, uint32(i)), keccak256(abi.encode(i)), CAT));
        }
        vm.prank(HOSP_A);
        records.anchorBatch(batchId, Merkle.root(leaves), 256, CAT);
    }

    /// @dev Calldata gas of `data` (EIP-2028) and its EIP-7623 token count.
    function _calldata(bytes memory data) internal pure returns (uint256 gas, uint256 tokens) {
        for (uint256 i = 0; i < data.length; ++i) {
            if (data[i] == 0) {
                gas += 4;
                tokens += 1;
            } else {
                gas += 16;
                tokens += 4;
            }
        }
    }

    /// @dev Receipt gas of a transaction executing `exec` gas with `refund` on calldata `data`.
    function _receipt(uint256 exec, uint256 refund, bytes memory data) internal pure returns (uint256) {
        (uint256 cd, uint256 tokens) = _calldata(data);
        uint256 used = exec + 21_000 + cd;
        used -= refund < used / 5 ? refund : used / 5;
        uint256 floor = 21_000 + 10 * tokens;
        return used > floor ? used : floor;
    }

    function _report(string memory row, uint256 exec, uint256 refund, bytes memory data) internal view {
        (uint256 cd,) = _calldata(data);
        console.log(row);
        console.log("  execution gas", exec);
        if (refund != 0) console.log("  refund", refund);
        console.log("  calldata gas", cd);
        console.log("  receipt gas", _receipt(exec, refund, data));
    }

    /// @dev Send `data` to `target` as `from`, in this transaction's cold state; the called
    /// frame's execution gas and refund (lastCallGas).
    function _gas(address target, address from, bytes memory data) internal returns (uint256 exec, uint256 refund) {
        vm.prank(from);
        (bool ok, bytes memory ret) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(ret, 32), mload(ret))
            }
        }
        Vm.Gas memory g = vm.lastCallGas();
        exec = g.gasTotalUsed;
        refund = g.gasRefunded > 0 ? uint256(uint64(g.gasRefunded)) : 0;
    }

    function _consentRow(string memory row, address from, bytes memory data) internal {
        consent.SCOPE_ALL(); // warm the target account, no storage read
        (uint256 exec, uint256 refund) = _gas(address(consent), from, data);
        _report(row, exec, refund, data);
    }

    function _recordsRow(string memory row, bytes memory data) internal {
        records.ROLE_PROVIDER(); // warm the target account, no storage read
        (uint256 exec, uint256 refund) = _gas(address(records), HOSP_B, data);
        _report(row, exec, refund, data);
    }

    function test_gas_grant() public {
        _consentRow(
            "grant (new grant)",
            patient,
            abi.encodeCall(consent.grant, (patient, HOSP_B, CAT, 1, uint64(block.timestamp + 30 days)))
        );
    }

    function _grantBySig(address signer, uint256 signerPk) internal view returns (bytes memory) {
        GrantMsg memory m;
        m.patient = signer;
        m.grantee = HOSP_B;
        m.scope = CAT;
        m.purposes = 1;
        m.expiresAt = uint64(block.timestamp + 30 days);
        m.signer = signer;
        m.nonce = consent.nonces(signer);
        m.deadline = block.timestamp + 1 hours;
        bytes memory sig = _sign(signerPk, _domain(block.chainid, address(consent)), _grantHash(m));
        return abi.encodeCall(consent.grantBySig, (signer, HOSP_B, CAT, 1, m.expiresAt, signer, m.deadline, sig));
    }

    function test_gas_grantBySig() public {
        _consentRow("grantBySig (new grant, signer's nonce > 0)", address(0x7e1a7), _grantBySig(patient, pk));
    }

    function test_gas_grantBySigFirstSignature() public {
        uint256 k = _pk("gas-table-first-signer");
        _consentRow("grantBySig (new grant, signer's first signature)", address(0x7e1a7), _grantBySig(vm.addr(k), k));
    }

    function test_gas_revoke() public {
        _consentRow("revoke (refund 4,800 applied in the receipt)", patient, abi.encodeCall(consent.revoke, (patient, HOSP_A, SCOPE_ALL)));
    }

    function test_gas_anchor() public {
        _recordsRow(
            "anchor (first version)",
            abi.encodeCall(records.anchor, (patient, _recordId(HOSP_B, 3), COMMIT, CAT, bytes32(0)))
        );
    }

    function test_gas_amendment() public {
        _recordsRow("anchor (amendment)", abi.encodeCall(records.anchor, (patient, _recordId(HOSP_B, 3), COMMIT, CAT, rec)));
    }

    function test_gas_anchorBatch256() public {
        bytes memory data = abi.encodeCall(records.anchorBatch, (_batchId(HOSP_B, 2), keccak256("root"), 256, CAT));
        records.ROLE_PROVIDER();
        (uint256 exec, uint256 refund) = _gas(address(records), HOSP_B, data);
        _report("anchorBatch (256 records)", exec, refund, data);
        console.log("  per record, execution", exec / 256);
        console.log("  per record, receipt", _receipt(exec, refund, data) / 256);
    }

    function test_gas_recordAccessFirstForPatient() public {
        _consentRow(
            "recordAccess, single record (first entry of the patient)",
            HOSP_A,
            abi.encodeCall(consent.recordAccess, (fresh, freshRec, CAT, COMMIT, TREAT, _noProof()))
        );
    }

    function test_gas_recordAccessSubsequent() public {
        _consentRow(
            "recordAccess, single record (existing audit head)",
            HOSP_A,
            abi.encodeCall(consent.recordAccess, (patient, rec, CAT, COMMIT, TREAT, _noProof()))
        );
    }

    function test_gas_recordAccessBatchMemberDepth8() public {
        bytes32[] memory proof = Merkle.proof(leaves, 77);
        assertEq(proof.length, DEPTH, "depth");
        _consentRow(
            "recordAccess, batch member at depth 8 (existing audit head)",
            HOSP_A,
            abi.encodeCall(consent.recordAccess, (patient, _memberId(batchId, 77), CAT, keccak256(abi.encode(77)), TREAT, proof))
        );
    }

    function test_gas_requestAccess() public {
        _consentRow(
            "requestAccess (not the contract's first request)",
            HOSP_B,
            abi.encodeCall(consent.requestAccess, (patient, SCOPE_ALL, TREAT, keccak256("reason")))
        );
    }

    function test_gas_approveRequest() public {
        IConsentRegistry.RequestDetails memory r = IConsentRegistry.RequestDetails(requestId, HOSP_B, patient, CAT, TREAT);
        _consentRow(
            "approveRequest (new grant)",
            patient,
            abi.encodeCall(consent.approveRequest, (r, uint64(block.timestamp + 30 days)))
        );
    }

    function test_gas_breakGlassFirstForPatient() public {
        _consentRow(
            "breakGlass (first for the patient: new window, first audit entry)",
            ER,
            abi.encodeCall(consent.breakGlass, (fresh, keccak256("reason"), 24 hours))
        );
    }

    function test_gas_breakGlassExistingHead() public {
        _consentRow(
            "breakGlass (new window, existing audit head)",
            ER,
            abi.encodeCall(consent.breakGlass, (patient, keccak256("reason"), 24 hours))
        );
    }

    function test_gas_isAuthorized() public {
        _consentRow(
            "isAuthorized (authorised by a SCOPE_ALL grant)",
            OUTSIDER,
            abi.encodeCall(consent.isAuthorized, (patient, HOSP_A, CAT, TREAT))
        );
    }

    function test_gas_isAuthorizedRefused() public {
        _consentRow(
            "isAuthorized (refused, ETREAT: grant and break-glass slots read)",
            OUTSIDER,
            abi.encodeCall(consent.isAuthorized, (patient, ER, CAT, ETREAT))
        );
    }

    function test_gas_isAuthorizedForRecordWorst() public {
        _consentRow(
            "isAuthorizedForRecord (refused: SCOPE_ALL, category, record and break-glass slots read)",
            OUTSIDER,
            abi.encodeCall(consent.isAuthorizedForRecord, (patient, ER, rec, CAT, ETREAT))
        );
    }
}
