// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/// @notice The cheatcodes this suite uses, declared by the project itself (forge-std is not
/// available offline). Signatures are forge's own (forge 1.7); the cheatcode contract lives at
/// address(uint160(uint256(keccak256("hevm cheat code")))).
interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    /// @dev The gas of the last call made from the test (forge's `lastCallGas`).
    struct Gas {
        uint64 gasLimit;
        uint64 gasTotalUsed;
        uint64 gasMemoryUsed;
        int64 gasRefunded;
        uint64 gasRemaining;
    }

    // keys and signatures
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function addr(uint256 privateKey) external pure returns (address keyAddr);

    // environment
    function chainId(uint256 newChainId) external;
    function warp(uint256 newTimestamp) external;
    function roll(uint256 newHeight) external;

    // caller
    function prank(address msgSender) external;
    function startPrank(address msgSender) external;
    function stopPrank() external;

    // expectations and fuzzing
    function expectRevert() external;
    function expectRevert(bytes4 revertData) external;
    function expectRevert(bytes calldata revertData) external;
    function assume(bool condition) external pure;
    /// @dev The next event emitted by `emitter` must equal the one emitted after this call.
    function expectEmit(address emitter) external;

    // logs
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory logs);

    // gas: mark an account and its storage cold again (as at the start of a transaction)
    function cool(address target) external;
    function pauseGasMetering() external;
    function lastCallGas() external view returns (Gas memory gas);
    function resumeGasMetering() external;

    // misc
    function label(address account, string calldata newLabel) external;
}
