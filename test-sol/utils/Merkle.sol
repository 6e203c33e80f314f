// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

/// @notice Merkle trees for the tests, built the way OpenZeppelin `MerkleProof` verifies them:
/// sorted-pair hashing (`Hashes.commutativeKeccak256`) over already double-hashed leaves
/// (`RecordRegistry.leafHash`). Layers are built bottom-up pairing (2i, 2i+1); an odd last node
/// is carried up unchanged, so a tree of 2^d leaves has proofs of exactly d hashes.
library Merkle {
    /// @dev The root of `leaves` (the leaf itself for a one-leaf tree).
    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        require(leaves.length != 0, "Merkle: no leaves");
        bytes32[] memory layer = leaves;
        while (layer.length > 1) layer = _up(layer);
        return layer[0];
    }

    /// @dev The sibling path of leaf `index`, bottom-up.
    function proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory path) {
        require(index < leaves.length, "Merkle: index out of range");
        bytes32[] memory buf = new bytes32[](64);
        uint256 n;
        bytes32[] memory layer = leaves;
        while (layer.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < layer.length) buf[n++] = layer[sibling];
            layer = _up(layer);
            index >>= 1;
        }
        path = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            path[i] = buf[i];
        }
    }

    /// @dev The root a proof leads to (what MerkleProof.processProof computes), recomputed here.
    function process(bytes32[] memory path, bytes32 leaf) internal pure returns (bytes32 h) {
        h = leaf;
        for (uint256 i = 0; i < path.length; ++i) {
            h = Hashes.commutativeKeccak256(h, path[i]);
        }
    }

    function _up(bytes32[] memory layer) private pure returns (bytes32[] memory next) {
        uint256 n = layer.length;
        next = new bytes32[]((n + 1) / 2);
        for (uint256 i = 0; i < n; i += 2) {
            next[i / 2] = i + 1 < n ? Hashes.commutativeKeccak256(layer[i], layer[i + 1]) : layer[i];
        }
    }
}
