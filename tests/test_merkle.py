"""The SDK's Merkle trees against OpenZeppelin's own JavaScript library
(``@openzeppelin/merkle-tree`` 1.0.8, ``SimpleMerkleTree`` with ``sortLeaves: false``, run with
node): same roots, same single proofs, same multiproofs; multiproofs rebuilt from single proofs
(what a study's institute holds) equal the ones built from the whole tree; a tree of another
shape falls back to one proof per member, still accepted by OpenZeppelin's algorithm."""

from __future__ import annotations

import json
import random
import subprocess
from pathlib import Path

import pytest
from eth_utils.crypto import keccak

from careledger.contracts import StudyAccessItem, batch_member_id, batch_proofs
from careledger.contracts.merkle import (
    MerkleTree,
    hash_pair,
    multiproof_from_proofs,
    process_multiproof,
    verify,
)
from careledger.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[1]
OZ = """
import { SimpleMerkleTree } from "@openzeppelin/merkle-tree";
let data = "";
process.stdin.on("data", (c) => (data += c));
process.stdin.on("end", () => {
  const out = JSON.parse(data).map((c) => {
    const t = SimpleMerkleTree.of(c.leaves, { sortLeaves: false });
    return { root: t.root, proofs: c.leaves.map((_, i) => t.getProof(i)),
             multi: t.getMultiProof(c.indices) };
  });
  process.stdout.write(JSON.stringify(out));
});
"""


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _leaves(n: int, seed: int) -> list[bytes]:
    return [keccak(keccak(f"{seed}/{i}".encode())) for i in range(n)]


def test_trees_proofs_and_multiproofs_equal_openzeppelins(tmp_path: Path) -> None:
    rng = random.Random(20261202)
    cases = []
    for n in [*range(1, 18), 31, 32, 33, 100, 255, 256, 257]:
        leaves = _leaves(n, n)
        k = rng.randint(1, n)
        cases.append((leaves, sorted(rng.sample(range(n), k))))
    script = ROOT / ".oz-merkle-test.mjs"  # resolved against the project's node_modules
    script.write_text(OZ)
    try:
        run = subprocess.run(["node", str(script)], input=json.dumps(
            [{"leaves": [_hex(x) for x in leaves], "indices": idx} for leaves, idx in cases]),
            capture_output=True, text=True, check=True, cwd=ROOT, timeout=120)
    finally:
        script.unlink()
    for (leaves, indices), oz in zip(cases, json.loads(run.stdout), strict=True):
        tree = MerkleTree.build(leaves)
        assert _hex(tree.root) == oz["root"]
        for i in range(len(leaves)):
            assert [_hex(x) for x in tree.proof(i)] == oz["proofs"][i]
            assert verify(tree.proof(i), tree.root, leaves[i])
        multi = tree.multiproof(indices)
        # OpenZeppelin returns the leaves in its order; ours are leaf indices in that order
        assert [_hex(leaves[i]) for i in multi.members] == oz["multi"]["leaves"]
        assert [_hex(x) for x in multi.proof] == oz["multi"]["proof"]
        assert list(multi.flags) == oz["multi"]["proofFlags"]
        assert process_multiproof([leaves[i] for i in multi.members], multi.proof,
                                  multi.flags) == tree.root
        # the same multiproof from the members' own proofs only
        rebuilt = multiproof_from_proofs(
            len(leaves), {i: (leaves[i], tree.proof(i)) for i in indices}, tree.root)
        assert rebuilt == multi


def test_a_multiproof_fails_when_anything_changes() -> None:
    leaves = _leaves(23, 7)
    tree = MerkleTree.build(leaves)
    multi = tree.multiproof([2, 3, 9, 20])
    given = [leaves[i] for i in multi.members]
    assert process_multiproof(given, multi.proof, multi.flags) == tree.root
    assert process_multiproof([given[1], given[0], *given[2:]], multi.proof,
                              multi.flags) == tree.root  # 2 and 3 are siblings: commutative
    assert process_multiproof([given[0], given[2], given[1], given[3]], multi.proof,
                              multi.flags) != tree.root
    assert process_multiproof([keccak(b"x"), *given[1:]], multi.proof, multi.flags) != tree.root
    assert process_multiproof(given, multi.proof[:-1], multi.flags) is None  # lengths: revert
    with pytest.raises(InvalidInput):
        tree.multiproof([3, 3])
    with pytest.raises(InvalidInput):
        tree.multiproof([23])
    # a proof that does not reach the root, or leaf indices off this tree: no multiproof
    assert multiproof_from_proofs(23, {2: (leaves[2], tree.proof(3))}, tree.root) is None
    assert multiproof_from_proofs(23, {23: (leaves[2], tree.proof(2))}, tree.root) is None


def _legacy_tree(leaves: list[bytes]) -> tuple[bytes, list[list[bytes]]]:
    """The shape the SDK built before multiproofs: layers pairing (2i, 2i+1), an odd last node
    carried up (OpenZeppelin's multiproof cannot express it)."""
    layers = [list(leaves)]
    while len(layers[-1]) > 1:
        prev = layers[-1]
        layers.append([hash_pair(prev[i], prev[i + 1]) if i + 1 < len(prev) else prev[i]
                       for i in range(0, len(prev), 2)])
    proofs = []
    for index in range(len(leaves)):
        path, i = [], index
        for layer in layers[:-1]:
            if i ^ 1 < len(layer):
                path.append(layer[i ^ 1])
            i //= 2
        proofs.append(path)
    return layers[-1][0], proofs


def test_batch_proofs_group_per_batch_and_fall_back_for_another_shape() -> None:
    patient = "0x" + "11" * 20
    category = keccak(b"LAB")
    batch_a, batch_b = b"\xaa" * 20 + b"\x80" + b"\x00" * 7, b"\xbb" * 20 + b"\x80" + b"\x01" * 7

    def items_of(batch: bytes, n: int) -> list[StudyAccessItem]:
        return [StudyAccessItem(patient, batch_member_id(batch, i), keccak(bytes([i]) + batch),
                                category) for i in range(n)]

    a_all, b_all = items_of(batch_a, 9), items_of(batch_b, 5)
    tree_a = MerkleTree.build([x.leaf for x in a_all])
    legacy_root, legacy_proofs = _legacy_tree([x.leaf for x in b_all])
    single = StudyAccessItem(patient, b"\xaa" * 20 + b"\x00" * 12, keccak(b"s"), category)
    items = [StudyAccessItem(x.patient, x.record_id, x.commitment, x.category,
                             tuple(tree_a.proof(i))) for i, x in enumerate(a_all) if i % 2 == 0]
    items += [single]
    items += [StudyAccessItem(x.patient, x.record_id, x.commitment, x.category,
                              tuple(legacy_proofs[i])) for i, x in enumerate(b_all)]
    proofs = batch_proofs(items, {batch_a: 9, batch_b: 5})
    # batch A: one multiproof naming its items in leaf order; the single record in none;
    # batch B (the legacy shape): one proof per member, each a valid one-leaf multiproof
    assert proofs[0].order == (0, 1, 2, 3, 4)
    assert process_multiproof([items[p].leaf for p in proofs[0].order], proofs[0].proof,
                              proofs[0].flags) == tree_a.root
    assert [p.order for p in proofs[1:]] == [(6,), (7,), (8,), (9,), (10,)]
    for p in proofs[1:]:
        assert process_multiproof([items[p.order[0]].leaf], p.proof, p.flags) == legacy_root
    encoded = proofs[0].encoded()
    assert encoded[0] == bytes.fromhex("00000001000200030004")
    # a member whose proof does not reach its batch's root is named
    broken = [items[0], StudyAccessItem(patient, items[1].record_id, keccak(b"other"),
                                        category, items[1].proof)]
    with pytest.raises(InvalidInput, match="0x" + items[1].record_id.hex()):
        batch_proofs(broken, {batch_a: 9})
