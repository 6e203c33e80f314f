// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Hashes} from "@openzeppelin/contracts/utils/cryptography/Hashes.sol";

/// @notice Merkle trees for the tests, in the shape the SDK builds (careledger.contracts.merkle):
/// OpenZeppelin's complete tree (the npm package merkle-tree's shape, leaves not sorted): an array of
/// 2n-1 nodes, leaf i at index 2n-2-i, the children of node j at 2j+1 and 2j+2, sorted-pair
/// hashing (`Hashes.commutativeKeccak256`) over already double-hashed leaves
/// (`RecordRegistry.leafHash`). Single proofs verify with `MerkleProof.verify`, multiproofs with
/// `MerkleProof.multiProofVerify`.
library Merkle {
    /// @dev Every node of the tree over `leaves` (the root at 0).
    function tree(bytes32[] memory leaves) internal pure returns (bytes32[] memory t) {
        uint256 n = leaves.length;
        require(n != 0, "Merkle: no leaves");
        t = new bytes32[](2 * n - 1);
        for (uint256 i = 0; i < n; ++i) {
            t[2 * n - 2 - i] = leaves[i];
        }
        for (uint256 j = n - 1; j > 0;) {
            --j;
            t[j] = Hashes.commutativeKeccak256(t[2 * j + 1], t[2 * j + 2]);
        }
    }

    /// @dev The root of `leaves` (the leaf itself for a one-leaf tree).
    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        return tree(leaves)[0];
    }

    /// @dev The sibling path of leaf `index`, bottom-up.
    function proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory path) {
        require(index < leaves.length, "Merkle: index out of range");
        bytes32[] memory t = tree(leaves);
        bytes32[] memory buf = new bytes32[](256);
        uint256 n;
        for (uint256 j = t.length - 1 - index; j > 0; j = (j - 1) / 2) {
            buf[n++] = t[_sibling(j)];
        }
        path = new bytes32[](n);
        for (uint256 i = 0; i < n; ++i) {
            path[i] = buf[i];
        }
    }

    /// @dev The multiproof of the leaves `members` (strictly increasing leaf indices: the
    /// multiproof's leaf order), as OpenZeppelin's `getMultiProof` builds it.
    function multiProof(bytes32[] memory leaves, uint256[] memory members)
        internal
        pure
        returns (bytes32[] memory proof_, bool[] memory flags)
    {
        bytes32[] memory t = tree(leaves);
        uint256[] memory queue = new uint256[](members.length + t.length);
        uint256 head;
        uint256 tail;
        for (uint256 k = 0; k < members.length; ++k) {
            require(members[k] < leaves.length && (k == 0 || members[k] > members[k - 1]), "Merkle: members");
            queue[tail++] = t.length - 1 - members[k];
        }
        bytes32[] memory pbuf = new bytes32[](t.length);
        bool[] memory fbuf = new bool[](t.length);
        uint256 np;
        uint256 nf;
        while (head < tail && queue[head] > 0) {
            uint256 j = queue[head++];
            uint256 s = _sibling(j);
            if (head < tail && queue[head] == s) {
                fbuf[nf++] = true;
                ++head;
            } else {
                fbuf[nf++] = false;
                pbuf[np++] = t[s];
            }
            queue[tail++] = (j - 1) / 2;
        }
        proof_ = new bytes32[](np);
        for (uint256 i = 0; i < np; ++i) {
            proof_[i] = pbuf[i];
        }
        flags = new bool[](nf);
        for (uint256 i = 0; i < nf; ++i) {
            flags[i] = fbuf[i];
        }
    }

    /// @dev The root a proof leads to (what MerkleProof.processProof computes), recomputed here.
    function process(bytes32[] memory path, bytes32 leaf) internal pure returns (bytes32 h) {
        h = leaf;
        for (uint256 i = 0; i < path.length; ++i) {
            h = Hashes.commutativeKeccak256(h, path[i]);
        }
    }

    function _sibling(uint256 j) private pure returns (uint256) {
        return j % 2 == 0 ? j - 1 : j + 1;
    }
}
