// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Vm} from "./Vm.sol";

/// @notice Minimal test base: the cheatcode handle, assertions that revert with a message (forge
/// counts a reverting test as failed), `bound`, and the target hooks forge's invariant engine
/// reads by ABI (the same names and types as forge-std's StdInvariant).
abstract contract Test {
    Vm internal constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    address[] private _targetContracts;
    FuzzSelector[] private _targetSelectors;
    address[] private _excludeSenders;

    // ---------------------------------------------------------------- invariant targets

    function targetContract(address target) internal {
        _targetContracts.push(target);
    }

    function targetSelector(FuzzSelector memory selector) internal {
        _targetSelectors.push(selector);
    }

    function excludeSender(address sender) internal {
        _excludeSenders.push(sender);
    }

    function targetContracts() public view returns (address[] memory) {
        return _targetContracts;
    }

    function targetSelectors() public view returns (FuzzSelector[] memory) {
        return _targetSelectors;
    }

    function excludeSenders() public view returns (address[] memory) {
        return _excludeSenders;
    }

    // ---------------------------------------------------------------- assertions

    function fail(string memory what) internal pure {
        revert(string.concat("assertion failed: ", what));
    }

    function assertTrue(bool condition, string memory what) internal pure {
        if (!condition) fail(what);
    }

    function assertFalse(bool condition, string memory what) internal pure {
        if (condition) fail(what);
    }

    function assertEq(uint256 a, uint256 b, string memory what) internal pure {
        if (a != b) fail(string.concat(what, ": ", _u(a), " != ", _u(b)));
    }

    function assertEq(bytes32 a, bytes32 b, string memory what) internal pure {
        if (a != b) fail(string.concat(what, ": ", _h(a), " != ", _h(b)));
    }

    function assertEq(address a, address b, string memory what) internal pure {
        if (a != b) fail(string.concat(what, ": ", _h(bytes32(uint256(uint160(a)))), " != ", _h(bytes32(uint256(uint160(b))))));
    }

    function assertEq(bool a, bool b, string memory what) internal pure {
        if (a != b) fail(string.concat(what, a ? ": true != false" : ": false != true"));
    }

    function assertLe(uint256 a, uint256 b, string memory what) internal pure {
        if (a > b) fail(string.concat(what, ": ", _u(a), " > ", _u(b)));
    }

    /// @dev |a - b| <= tolerance.
    function assertApproxEq(uint256 a, uint256 b, uint256 tolerance, string memory what) internal pure {
        uint256 d = a > b ? a - b : b - a;
        if (d > tolerance) fail(string.concat(what, ": ", _u(a), " vs ", _u(b), " (tolerance ", _u(tolerance), ")"));
    }

    // ---------------------------------------------------------------- fuzz helpers

    /// @dev Map x into [lo, hi] without rejecting inputs (uniform enough for fuzzing).
    function bound(uint256 x, uint256 lo, uint256 hi) internal pure returns (uint256) {
        require(lo <= hi, "bound: lo > hi");
        if (x >= lo && x <= hi) return x;
        uint256 size = hi - lo + 1;
        if (size == 0) return x; // full range
        return lo + (x % size);
    }

    function _u(uint256 v) internal pure returns (string memory) {
        if (v == 0) return "0";
        uint256 len;
        for (uint256 t = v; t != 0; t /= 10) ++len;
        bytes memory out = new bytes(len);
        for (; v != 0; v /= 10) out[--len] = bytes1(uint8(48 + v % 10));
        return string(out);
    }

    function _h(bytes32 v) internal pure returns (string memory) {
        bytes memory out = new bytes(66);
        out[0] = "0";
        out[1] = "x";
        bytes16 digits = "0123456789abcdef";
        for (uint256 i = 0; i < 32; ++i) {
            out[2 + 2 * i] = digits[uint8(v[i]) >> 4];
            out[3 + 2 * i] = digits[uint8(v[i]) & 15];
        }
        return string(out);
    }
}
