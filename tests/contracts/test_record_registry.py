"""RecordRegistry: write-once anchors in the issuer's namespace, amendments, Merkle batches
verified against a tree built in Python (careledger.contracts.merkle, OpenZeppelin standard-tree leaves)."""

from __future__ import annotations

from typing import Any

import pytest
from contract_kit import (
    IMAGING,
    LAB,
    REINSTATE,
    REMOVE,
    SUSPEND,
    ZERO32,
    ZERO_ADDRESS,
    addr,
    assert_deploy_reverts,
    emitted,
    ev,
    h,
    record_id,
    reverts,
)
from eth_abi import encode
from eth_utils import keccak

from careledger.contracts import merkle

PROVIDERS = ["hospital", "clinic"]
NON_PROVIDER_MEMBERS = ["researcher", "emergency"]
NOT_ACTIVE = [
    "suspended",
    "removed",
    "stranger",
    "patient",
    "guardian",
]  # `suspended`, `removed` hold PROVIDER


def anchor(
    records: Any,
    issuer: Any,
    patient: Any,
    n: int,
    commitment: bytes | None = None,
    cat: bytes = LAB,
    previous: bytes = ZERO32,
) -> tuple[bytes, Any]:
    rid = record_id(issuer, n)
    tx = records.anchor(patient, rid, commitment or h(f"blob {n}"), cat, previous, sender=issuer)
    return rid, tx


# -- deployment ------------------------------------------------------------------------------


def test_constructor_refuses_a_zero_institution_registry(project):
    assert_deploy_reverts(project.RecordRegistry, (ZERO_ADDRESS,), "ZeroAddress")


def test_wiring(records, registry):
    assert addr(records.institutions()) == addr(registry) and records.ROLE_PROVIDER() == 1


# -- anchor ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", PROVIDERS)
def test_an_active_provider_anchors_a_first_version_in_its_namespace(records, actors, who):
    issuer = actors.by(who)
    rid = record_id(issuer, 1)
    assert (records.isAnchored(rid), records.commitmentOf(rid), addr(records.issuerOf(rid))) == (
        False,
        ZERO32,
        ZERO_ADDRESS,
    )
    tx = records.anchor(actors.patient, rid, h("ciphertext"), LAB, ZERO32, sender=issuer)
    assert emitted(tx) == [
        ev(
            records,
            "RecordAnchored",
            recordId=rid,
            patient=actors.patient,
            issuer=issuer,
            commitment=h("ciphertext"),
            category=LAB,
            previousVersion=ZERO32,
        )
    ]
    assert records.isAnchored(rid) and records.commitmentOf(rid) == h("ciphertext")
    assert addr(records.issuerOf(rid)) == addr(issuer) and records.nextVersionOf(rid) == ZERO32


@pytest.mark.parametrize("who", NON_PROVIDER_MEMBERS)
def test_active_members_without_the_provider_role_cannot_anchor(records, actors, who):
    caller = actors.by(who)
    rid = record_id(caller, 1)
    with reverts(records.MissingRole, account=caller, role=1):
        records.anchor(actors.patient, rid, h("c"), LAB, ZERO32, sender=caller)
    with reverts(records.MissingRole, account=caller, role=1):
        records.anchorBatch(h("root"), 3, LAB, sender=caller)
    assert not records.isAnchored(rid)


@pytest.mark.parametrize("who", NOT_ACTIVE)
def test_suspended_removed_and_outsiders_cannot_anchor(records, actors, who):
    caller = actors.by(who)
    rid = record_id(caller, 1)
    with reverts(records.NotActiveInstitution, account=caller):
        records.anchor(actors.patient, rid, h("c"), LAB, ZERO32, sender=caller)
    with reverts(records.NotActiveInstitution, account=caller):
        records.anchorBatch(h("root"), 3, LAB, sender=caller)
    assert not records.isAnchored(rid)
    assert records.batch(h("root")).issuer == ZERO_ADDRESS


def test_a_record_id_outside_the_callers_namespace_is_refused(records, actors):
    a = actors
    foreign = record_id(a.clinic, 1)
    with reverts(records.RecordIdNotOwned, recordId=foreign, caller=a.hospital):
        records.anchor(a.patient, foreign, h("c"), LAB, ZERO32, sender=a.hospital)
    shifted = bytes(12) + bytes.fromhex(addr(a.hospital)[2:])  # the address, but not as the prefix
    with reverts(records.RecordIdNotOwned, recordId=shifted, caller=a.hospital):
        records.anchor(a.patient, shifted, h("c"), LAB, ZERO32, sender=a.hospital)
    assert not records.isAnchored(foreign)


def test_a_zero_commitment_or_patient_is_refused(records, actors):
    a = actors
    rid = record_id(a.hospital, 1)
    with reverts(records.ZeroCommitment):
        records.anchor(a.patient, rid, ZERO32, LAB, ZERO32, sender=a.hospital)
    with reverts(records.ZeroAddress):
        records.anchor(ZERO_ADDRESS, rid, h("c"), LAB, ZERO32, sender=a.hospital)
    assert not records.isAnchored(rid)


def test_an_anchor_is_write_once(records, actors):
    a = actors
    rid, _ = anchor(records, a.hospital, a.patient, 1, h("first"))
    for patient, commitment in [(a.patient, h("second")), (a.other_patient, h("first"))]:
        with reverts(records.AlreadyAnchored, recordId=rid):
            records.anchor(patient, rid, commitment, IMAGING, ZERO32, sender=a.hospital)
    assert records.commitmentOf(rid) == h("first") and addr(records.issuerOf(rid)) == addr(
        a.hospital
    )


# -- amendments ------------------------------------------------------------------------------


def test_amendments_form_a_version_chain_and_keep_every_commitment(records, actors):
    a = actors
    v1, _ = anchor(records, a.hospital, a.patient, 1, h("v1"))
    v2, tx = anchor(records, a.hospital, a.patient, 2, h("v2"), previous=v1)
    assert emitted(tx) == [
        ev(
            records,
            "RecordAnchored",
            recordId=v2,
            patient=a.patient,
            issuer=a.hospital,
            commitment=h("v2"),
            category=LAB,
            previousVersion=v1,
        )
    ]
    v3, _ = anchor(records, a.hospital, a.patient, 3, h("v3"), previous=v2)
    assert [records.nextVersionOf(v) for v in (v1, v2, v3)] == [v2, v3, ZERO32]
    assert [records.commitmentOf(v) for v in (v1, v2, v3)] == [h("v1"), h("v2"), h("v3")]


def test_amending_an_unanchored_version_reverts_previous_version_not_found(records, actors):
    a = actors
    missing = record_id(a.hospital, 99)
    with reverts(records.PreviousVersionNotFound, previousVersion=missing):
        anchor(records, a.hospital, a.patient, 2, previous=missing)
    assert not records.isAnchored(record_id(a.hospital, 2))


def test_only_the_issuer_of_a_version_supersedes_it(records, actors):
    a = actors
    theirs, _ = anchor(records, a.clinic, a.patient, 1)
    with reverts(records.NotIssuer, previousVersion=theirs, issuer=a.clinic, caller=a.hospital):
        anchor(records, a.hospital, a.patient, 2, previous=theirs)
    assert records.nextVersionOf(theirs) == ZERO32


def test_a_version_is_superseded_at_most_once(records, actors):
    a = actors
    v1, _ = anchor(records, a.hospital, a.patient, 1)
    v2, _ = anchor(records, a.hospital, a.patient, 2, previous=v1)
    with reverts(records.VersionAlreadySuperseded, previousVersion=v1, nextVersion=v2):
        anchor(records, a.hospital, a.patient, 3, previous=v1)
    assert records.nextVersionOf(v1) == v2 and not records.isAnchored(record_id(a.hospital, 3))


def test_a_researcher_cannot_amend(records, actors):
    a = actors
    v1, _ = anchor(records, a.hospital, a.patient, 1)
    with reverts(records.MissingRole, account=a.researcher, role=1):
        records.anchor(a.patient, record_id(a.researcher, 2), h("c"), LAB, v1, sender=a.researcher)


def test_a_suspended_issuer_cannot_amend_its_own_record_until_reinstated(records, registry, actors):
    a = actors
    v1, _ = anchor(records, a.hospital, a.patient, 1)
    registry.propose(SUSPEND, a.hospital, 0, ZERO32, ZERO32, 0, sender=a.clinic)
    with reverts(records.NotActiveInstitution, account=a.hospital):
        anchor(records, a.hospital, a.patient, 2, previous=v1)
    registry.propose(REINSTATE, a.hospital, 0, ZERO32, ZERO32, 0, sender=a.clinic)
    v2, _ = anchor(records, a.hospital, a.patient, 2, previous=v1)
    assert records.nextVersionOf(v1) == v2


def test_a_removed_issuers_anchors_stay_but_it_cannot_add_any(records, registry, actors):
    a = actors
    v1, _ = anchor(records, a.hospital, a.patient, 1, h("kept"))
    registry.propose(REMOVE, a.hospital, 0, ZERO32, ZERO32, 0, sender=a.clinic)
    assert records.commitmentOf(v1) == h("kept") and addr(records.issuerOf(v1)) == addr(a.hospital)
    with reverts(records.NotActiveInstitution, account=a.hospital):
        anchor(records, a.hospital, a.patient, 2, previous=v1)


# -- batches ---------------------------------------------------------------------------------


def batch_records(a: Any, issuer: Any, n: int) -> list[tuple[str, bytes, bytes, bytes]]:
    patients = [a.patient, a.other_patient, a.guardian]
    return [
        (addr(patients[i % 3]), record_id(issuer, 100 + i), h(f"batch blob {i}"), LAB)
        for i in range(n)
    ]


def tree_of(rows: list[tuple[str, bytes, bytes, bytes]]) -> merkle.MerkleTree:
    return merkle.MerkleTree.build([merkle.leaf_hash(*row) for row in rows])


@pytest.mark.parametrize("who", PROVIDERS)
def test_an_active_provider_anchors_a_batch_root(records, chain, actors, who):
    issuer = actors.by(who)
    root = tree_of(batch_records(actors, issuer, 5)).root
    t = chain.pending_timestamp + 5
    chain.pending_timestamp = t
    tx = records.anchorBatch(root, 5, LAB, sender=issuer)
    assert emitted(tx) == [
        ev(records, "BatchAnchored", root=root, issuer=issuer, count=5, category=LAB)
    ]
    b = records.batch(root)
    assert (addr(b.issuer), b.count, b.anchoredAt, b.category) == (addr(issuer), 5, t, LAB)


def test_a_batch_needs_records_and_a_root(records, actors):
    with reverts(records.EmptyBatch):
        records.anchorBatch(h("root"), 0, LAB, sender=actors.hospital)
    with reverts(records.ZeroRoot):
        records.anchorBatch(ZERO32, 1, LAB, sender=actors.hospital)
    assert records.batch(h("root")).count == 0


def test_a_batch_root_is_write_once_for_every_issuer(records, actors):
    a = actors
    records.anchorBatch(h("root"), 2, LAB, sender=a.hospital)
    for who in (a.hospital, a.clinic):
        with reverts(records.BatchAlreadyAnchored, root=h("root")):
            records.anchorBatch(h("root"), 9, IMAGING, sender=who)
    b = records.batch(h("root"))
    assert (addr(b.issuer), b.count, b.category) == (addr(a.hospital), 2, LAB)


def test_leaf_hash_is_the_openzeppelin_standard_leaf(records, actors):
    row = (addr(actors.patient), record_id(actors.hospital, 1), h("c"), LAB)
    expected = keccak(keccak(encode(["address", "bytes32", "bytes32", "bytes32"], list(row))))
    assert records.leafHash(*row) == expected == merkle.leaf_hash(*row)


@pytest.mark.parametrize("size", [1, 2, 5])
def test_every_record_of_an_anchored_batch_verifies_with_a_python_built_proof(
    records, actors, size
):
    rows = batch_records(actors, actors.hospital, size)
    tree = tree_of(rows)
    records.anchorBatch(tree.root, size, LAB, sender=actors.hospital)
    for i, row in enumerate(rows):
        assert records.verifyBatchRecord(tree.root, tree.proof(i), *row), i


def test_a_changed_field_or_a_wrong_proof_does_not_verify(records, actors):
    a = actors
    rows = batch_records(a, a.hospital, 5)
    tree = tree_of(rows)
    records.anchorBatch(tree.root, 5, LAB, sender=a.hospital)
    patient, rid, commitment, cat = rows[2]
    proof = tree.proof(2)
    assert records.verifyBatchRecord(tree.root, proof, *rows[2])
    assert not records.verifyBatchRecord(tree.root, proof, addr(a.stranger), rid, commitment, cat)
    assert not records.verifyBatchRecord(
        tree.root, proof, patient, record_id(a.hospital, 1), commitment, cat
    )
    assert not records.verifyBatchRecord(tree.root, proof, patient, rid, h("tampered blob"), cat)
    assert not records.verifyBatchRecord(tree.root, proof, patient, rid, commitment, IMAGING)
    assert not records.verifyBatchRecord(tree.root, tree.proof(3), *rows[2])
    assert not records.verifyBatchRecord(tree.root, proof[:-1], *rows[2])


def test_a_valid_proof_against_a_root_nobody_anchored_does_not_verify(records, actors):
    rows = batch_records(actors, actors.hospital, 4)
    tree = tree_of(rows)
    assert merkle.verify(tree.proof(0), tree.root, merkle.leaf_hash(*rows[0]))
    assert not records.verifyBatchRecord(tree.root, tree.proof(0), *rows[0])


def test_an_inner_node_is_refused_as_a_leaf(records, actors):
    a = actors
    rows = batch_records(a, a.hospital, 4)
    tree = tree_of(rows)
    records.anchorBatch(tree.root, 4, LAB, sender=a.hospital)
    left, right = tree.layers[0][0], tree.layers[0][1]
    inner = tree.layers[1][0]
    upper_proof = [tree.layers[1][1]]
    # the inner node with its own proof is a valid path to the root for raw MerkleProof ...
    assert merkle.hash_pair(left, right) == inner and merkle.verify(upper_proof, tree.root, inner)
    # ... but no record presented with that proof reaches it: leaves are double-hashed records
    attempts = [
        rows[0],
        (rows[0][0], inner, rows[0][2], rows[0][3]),
        (rows[0][0], left, right, LAB),
        (rows[0][0], rows[0][1], inner, LAB),
        (rows[0][0], rows[0][1], rows[0][2], inner),
    ]
    for attempt in attempts:
        assert not records.verifyBatchRecord(tree.root, upper_proof, *attempt), attempt
        assert records.leafHash(*attempt) != inner
    assert not records.verifyBatchRecord(tree.root, [], *rows[0])
    assert records.verifyBatchRecord(tree.root, tree.proof(0), *rows[0])


def test_a_batch_cannot_vouch_for_a_record_id_in_another_issuers_namespace(records, actors):
    a = actors
    theirs, _ = anchor(records, a.clinic, a.patient, 1, h("clinic's real blob"))
    row = (addr(a.patient), theirs, h("forged blob"), LAB)
    tree = merkle.MerkleTree.build(
        [merkle.leaf_hash(*row), merkle.leaf_hash(*batch_records(a, a.hospital, 1)[0])]
    )
    records.anchorBatch(tree.root, 2, LAB, sender=a.hospital)
    assert records.commitmentOf(theirs) == h("clinic's real blob")
    assert not records.verifyBatchRecord(tree.root, tree.proof(0), *row)
