// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC1271} from "@openzeppelin/contracts/interfaces/IERC1271.sol";
import {ECDSA} from "@openzeppelin/contracts/utils/cryptography/ECDSA.sol";

/// @title MockContractWallet — a test-only EIP-1271 smart-contract wallet
/// @notice Never deployed outside tests. Approves a digest when its owner EOA signed it (unless
/// `refuseAll` is set, to model a wallet that withdraws its approval) and forwards calls from
/// its owner, so the wallet can act as a patient directly too.
contract MockContractWallet is IERC1271 {
    /// @notice The value EIP-1271 returns for a refused signature (anything but the magic value).
    bytes4 internal constant INVALID = 0xffffffff;

    address public immutable owner;
    bool public refuseAll;

    /// @notice Only the owner may configure the wallet or call through it.
    error NotOwner(address caller);

    constructor(address owner_) {
        owner = owner_;
    }

    /// @notice Make `isValidSignature` refuse every signature (or accept its owner's again).
    function setRefuseAll(bool refuse) external {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        refuseAll = refuse;
    }

    /// @notice Call `target` with `data` as this wallet; bubbles up the target's revert data.
    function execute(address target, bytes calldata data) external returns (bytes memory result) {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        bool ok;
        (ok, result) = target.call(data);
        if (!ok) {
            assembly ("memory-safe") {
                revert(add(result, 32), mload(result))
            }
        }
    }

    /// @inheritdoc IERC1271
    function isValidSignature(bytes32 hash, bytes calldata signature) external view returns (bytes4) {
        if (refuseAll) return INVALID;
        (address recovered, ECDSA.RecoverError err,) = ECDSA.tryRecoverCalldata(hash, signature);
        if (err != ECDSA.RecoverError.NoError || recovered != owner) return INVALID;
        return IERC1271.isValidSignature.selector;
    }
}
