"""Merkle batches compatible with OpenZeppelin ``MerkleProof`` (sorted-pair keccak256).

Leaves are double-hashed like OpenZeppelin's standard tree,
``keccak256(bytes.concat(keccak256(abi.encode(patient, recordId, commitment, category))))``,
so an inner node (a hash of 64 bytes) can never pass as a leaf (a hash of a 32-byte hash).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

from eth_abi.abi import encode
from eth_utils.crypto import keccak

from careledger.errors import InvalidInput

LEAF_TYPES = ["address", "bytes32", "bytes32", "bytes32"]


_ADDRESS_PAD = bytes(12)


def leaf_hash(patient: str, record_id: bytes, commitment: bytes, category: bytes) -> bytes:
    """The leaf of one record, as ``RecordRegistry.leafHash`` computes it."""
    if (isinstance(patient, str) and len(patient) == 42 and patient[:2] in ("0x", "0X")
            and len(record_id) == len(commitment) == len(category) == 32):
        try:  # abi.encode of (address, bytes32, bytes32, bytes32) by hand: 4 words, 10x faster
            raw = bytes.fromhex(patient[2:])
        except ValueError:
            raw = b""
        if len(raw) == 20:
            return keccak(keccak(_ADDRESS_PAD + raw + bytes(record_id) + bytes(commitment)
                                 + bytes(category)))
    return keccak(keccak(encode(LEAF_TYPES, [patient, record_id, commitment, category])))


def hash_pair(a: bytes, b: bytes) -> bytes:
    """OpenZeppelin ``Hashes.commutativeKeccak256``."""
    return keccak(a + b) if a < b else keccak(b + a)


@dataclass(frozen=True)
class MultiProof:
    """An OpenZeppelin multiproof (``MerkleProof.multiProofVerify``) of some leaves of a tree.

    ``members``: the leaf indices proven, in the multiproof's leaf order (increasing: the tree's
    leaves right to left); ``proof``: the sibling nodes they do not give; ``flags``: per hash step,
    whether its second operand comes from the leaves and hashes (True) or from ``proof``.
    """

    members: tuple[int, ...]
    proof: tuple[bytes, ...]
    flags: tuple[bool, ...]


def _sibling(j: int) -> int:
    return j - 1 if j % 2 == 0 else j + 1


@dataclass(frozen=True)
class MerkleTree:
    """OpenZeppelin's complete tree (the ``@openzeppelin/merkle-tree`` shape, leaves in the order
    given, not sorted): an array of 2n-1 nodes, the root at 0, the children of node j at 2j+1 and
    2j+2, leaf i at 2n-2-i. ``proof(i)`` verifies with ``MerkleProof.verify``, ``multiproof``
    with ``MerkleProof.multiProofVerify``: a complete tree admits multiproofs of any leaves."""

    nodes: tuple[bytes, ...]

    @classmethod
    def build(cls, leaves: Sequence[bytes]) -> MerkleTree:
        """Build the tree over leaf hashes (a one-leaf tree is its leaf).

        Raises:
            InvalidInput: no leaves, or a leaf that is not 32 bytes.
        """
        if not leaves:
            raise InvalidInput("a Merkle batch needs at least one record")
        if any(len(leaf) != 32 for leaf in leaves):
            raise InvalidInput("Merkle leaves are 32-byte hashes")
        n = len(leaves)
        nodes: list[bytes] = [b""] * (n - 1) + [bytes(x) for x in reversed(leaves)]
        for j in range(n - 2, -1, -1):
            nodes[j] = hash_pair(nodes[2 * j + 1], nodes[2 * j + 2])
        return cls(tuple(nodes))

    @property
    def count(self) -> int:
        """How many leaves."""
        return (len(self.nodes) + 1) // 2

    @property
    def root(self) -> bytes:
        """The root anchored on chain."""
        return self.nodes[0]

    def proof(self, index: int) -> list[bytes]:
        """Sibling hashes from leaf ``index`` up to the root."""
        if not 0 <= index < self.count:
            raise InvalidInput(f"leaf index {index} out of range")
        proof = []
        j = len(self.nodes) - 1 - index
        while j > 0:
            proof.append(self.nodes[_sibling(j)])
            j = (j - 1) // 2
        return proof

    def multiproof(self, indices: Sequence[int]) -> MultiProof:
        """The multiproof of leaves ``indices`` (any order, no repeats), as OpenZeppelin's
        ``getMultiProof`` builds it."""
        return _multiproof(dict(enumerate(self.nodes)), len(self.nodes), indices)


def _multiproof(nodes: dict[int, bytes], size: int, indices: Sequence[int]) -> MultiProof:
    """``getMultiProof`` over the known ``nodes`` (tree index -> hash) of a tree of ``size``
    nodes: the leaves' tree indices in decreasing order form a queue; each step pairs the head
    with its sibling (next in the queue, else from the proof) and queues the parent."""
    n = (size + 1) // 2
    members = sorted(set(indices))
    if len(members) != len(indices) or not members or not 0 <= members[0] <= members[-1] < n:
        raise InvalidInput("a multiproof needs distinct leaf indices of the tree")
    queue = deque(size - 1 - i for i in members)
    proof: list[bytes] = []
    flags: list[bool] = []
    while queue and queue[0] > 0:
        j = queue.popleft()
        s = _sibling(j)
        if queue and queue[0] == s:
            flags.append(True)
            queue.popleft()
        else:
            flags.append(False)
            proof.append(nodes[s])
        queue.append((j - 1) // 2)
    return MultiProof(tuple(members), tuple(proof), tuple(flags))


def process_multiproof(leaves: Sequence[bytes], proof: Sequence[bytes],
                       flags: Sequence[bool]) -> bytes | None:
    """Off-chain ``MerkleProof.processMultiProof``: the root ``leaves`` (in the multiproof's
    order) reach, or None where OpenZeppelin reverts (lengths that do not fit)."""
    if len(leaves) + len(proof) != len(flags) + 1:
        return None
    if not flags:
        return leaves[0] if leaves else proof[0]
    queue = deque(leaves)
    hashes: deque[bytes] = deque()
    rest = iter(proof)
    last = b""
    for flag in flags:
        a = queue.popleft() if queue else hashes.popleft()
        b = (queue.popleft() if queue else hashes.popleft()) if flag else next(rest)
        last = hash_pair(a, b)
        hashes.append(last)
    return last if next(rest, None) is None else None


def multiproof_from_proofs(count: int, members: dict[int, tuple[bytes, Sequence[bytes]]],
                           root: bytes) -> MultiProof | None:
    """A multiproof of some leaves of a ``count``-leaf tree built by ``MerkleTree.build``, from
    each leaf's own proof (what a holder of the records, not of the whole batch, has):
    ``members`` maps leaf index to (leaf, proof). The nodes on the leaves' paths are recomputed
    and their siblings taken from the proofs; None if a proof does not fit this tree's shape or
    does not reach ``root`` (a batch built otherwise: prove its leaves one by one)."""
    size = 2 * count - 1
    nodes: dict[int, bytes] = {}
    for index, (leaf, path) in members.items():
        if not 0 <= index < count:
            return None
        j = size - 1 - index
        node = leaf
        if nodes.setdefault(j, node) != node:
            return None
        for sibling in path:
            if j == 0 or nodes.setdefault(_sibling(j), sibling) != sibling:
                return None
            node = hash_pair(node, sibling)
            j = (j - 1) // 2
            if nodes.setdefault(j, node) != node:
                return None
        if j != 0 or node != root:
            return None
    multi = _multiproof(nodes, size, list(members))
    if process_multiproof([members[i][0] for i in multi.members], multi.proof,
                          multi.flags) != root:
        return None
    return multi


def process_proof(proof: Sequence[bytes], leaf: bytes) -> bytes:
    """Off-chain ``MerkleProof.processProof``: the root ``proof`` leads ``leaf`` to."""
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node


def verify(proof: Sequence[bytes], root: bytes, leaf: bytes) -> bool:
    """Off-chain ``MerkleProof.verify``."""
    return process_proof(proof, leaf) == root
