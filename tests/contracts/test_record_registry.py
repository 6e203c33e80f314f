"""RecordRegistry: write-once single anchors in the issuer's namespace bound to (patient, id,
commitment, category), amendments, Merkle batches keyed by (issuer, batch number) and verified
against trees built in Python (contract_kit.Tree: OpenZeppelin standard leaves, sorted pairs),
checkBinding, and recordErased."""

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
    Tree,
    addr,
    assert_deploy_reverts,
    assert_view_reverts,
    batch_id,
    emitted,
    ev,
    h,
    hash_pair,
    leaf,
    member_id,
    record_id,
    reverts,
    verify,
)
from eth_abi import encode
from eth_utils import keccak

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


def assert_binds(
    records: Any,
    patient: Any,
    rid: bytes,
    commitment: bytes,
    cat: bytes,
    proof: list[bytes] | None = None,
) -> None:
    """checkBinding accepts exactly this binding (a view: no revert is the answer)."""
    records.checkBinding(patient, rid, commitment, cat, proof or [])


# -- deployment ------------------------------------------------------------------------------


def test_constructor_refuses_a_zero_institution_registry(project):
    assert_deploy_reverts(project.RecordRegistry, (ZERO_ADDRESS,), "ZeroAddress")


def test_wiring(records, registry):
    assert addr(records.institutions()) == addr(registry) and records.ROLE_PROVIDER() == 1


def test_commitment_of_is_gone(records):
    names = {a.name for a in records.contract_type.abi if a.type == "function"}
    assert "commitmentOf" not in names and {"bindingOf", "checkBinding", "recordErased"} <= names


# -- anchor ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", PROVIDERS)
def test_an_active_provider_anchors_a_first_version_bound_to_patient_and_category(
    records, actors, who
):
    issuer = actors.by(who)
    rid = record_id(issuer, 1)
    assert (records.isAnchored(rid), records.bindingOf(rid), addr(records.issuerOf(rid))) == (
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
    binding = leaf(actors.patient, rid, h("ciphertext"), LAB)
    assert (
        records.bindingOf(rid)
        == binding
        == records.leafHash(actors.patient, rid, h("ciphertext"), LAB)
    )
    assert records.isAnchored(rid) and addr(records.issuerOf(rid)) == addr(issuer)
    assert records.nextVersionOf(rid) == ZERO32
    assert_binds(records, actors.patient, rid, h("ciphertext"), LAB)
    # nothing else was anchored
    assert (
        not records.isAnchored(record_id(issuer, 2))
        and records.bindingOf(record_id(issuer, 2)) == ZERO32
    )


@pytest.mark.parametrize("who", NON_PROVIDER_MEMBERS)
def test_active_members_without_the_provider_role_cannot_anchor(records, actors, who):
    caller = actors.by(who)
    rid = record_id(caller, 1)
    with reverts(records.MissingRole, account=caller, role=1):
        records.anchor(actors.patient, rid, h("c"), LAB, ZERO32, sender=caller)
    with reverts(records.MissingRole, account=caller, role=1):
        records.anchorBatch(batch_id(caller, 1), h("root"), 3, LAB, sender=caller)
    assert not records.isAnchored(rid)
    assert records.batch(batch_id(caller, 1)).count == 0


@pytest.mark.parametrize("who", NOT_ACTIVE)
def test_suspended_removed_and_outsiders_cannot_anchor(records, actors, who):
    caller = actors.by(who)
    rid = record_id(caller, 1)
    with reverts(records.NotActiveInstitution, account=caller):
        records.anchor(actors.patient, rid, h("c"), LAB, ZERO32, sender=caller)
    with reverts(records.NotActiveInstitution, account=caller):
        records.anchorBatch(batch_id(caller, 1), h("root"), 3, LAB, sender=caller)
    assert not records.isAnchored(rid)
    assert records.batch(batch_id(caller, 1)).root == ZERO32


def test_a_record_id_outside_the_callers_namespace_is_refused(records, actors):
    a = actors
    foreign = record_id(a.clinic, 1)
    with reverts(records.RecordIdNotOwned, recordId=foreign, caller=a.hospital):
        records.anchor(a.patient, foreign, h("c"), LAB, ZERO32, sender=a.hospital)
    shifted = bytes(12) + bytes.fromhex(addr(a.hospital)[2:])  # the address, but not as the prefix
    with reverts(records.RecordIdNotOwned, recordId=shifted, caller=a.hospital):
        records.anchor(a.patient, shifted, h("c"), LAB, ZERO32, sender=a.hospital)
    assert not records.isAnchored(foreign)


def test_a_batch_member_id_cannot_be_anchored_as_a_single_record(records, actors):
    a = actors
    member = member_id(batch_id(a.hospital, 1), 0)
    with reverts(records.RecordIdNotOwned, recordId=member, caller=a.hospital):
        records.anchor(a.patient, member, h("c"), LAB, ZERO32, sender=a.hospital)
    flagged = record_id(a.hospital, 0)[:20] + (1 << 95).to_bytes(12, "big")  # only the flag set
    with reverts(records.RecordIdNotOwned, recordId=flagged, caller=a.hospital):
        records.anchor(a.patient, flagged, h("c"), LAB, ZERO32, sender=a.hospital)
    assert records.bindingOf(member) == ZERO32 and not records.isAnchored(member)


def test_the_largest_single_suffix_is_a_single_id(records, actors):
    a = actors
    rid = record_id(a.hospital, (1 << 95) - 1)
    records.anchor(a.patient, rid, h("c"), LAB, ZERO32, sender=a.hospital)
    assert records.isAnchored(rid)


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
    assert records.bindingOf(rid) == leaf(a.patient, rid, h("first"), LAB)
    assert addr(records.issuerOf(rid)) == addr(a.hospital)


# -- amendments ------------------------------------------------------------------------------


def test_amendments_form_a_version_chain_and_keep_every_binding(records, actors):
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
    assert [records.bindingOf(v) for v in (v1, v2, v3)] == [
        leaf(a.patient, v, h(n), LAB) for v, n in ((v1, "v1"), (v2, "v2"), (v3, "v3"))
    ]


def test_amending_an_unanchored_version_reverts_previous_version_not_found(records, actors):
    a = actors
    missing = record_id(a.hospital, 99)
    with reverts(records.PreviousVersionNotFound, previousVersion=missing):
        anchor(records, a.hospital, a.patient, 2, previous=missing)
    assert not records.isAnchored(record_id(a.hospital, 2))


def test_a_batch_member_cannot_be_amended_as_a_single_version(records, actors):
    a = actors
    b = batch_id(a.hospital, 1)
    records.anchorBatch(b, h("root"), 4, LAB, sender=a.hospital)
    member = member_id(b, 0)
    assert records.isAnchored(member)
    with reverts(records.PreviousVersionNotFound, previousVersion=member):
        anchor(records, a.hospital, a.patient, 2, previous=member)


def test_only_the_issuer_of_a_version_supersedes_it(records, actors):
    a = actors
    theirs, _ = anchor(records, a.clinic, a.patient, 1)
    with reverts(records.NotIssuer, recordId=theirs, issuer=a.clinic, caller=a.hospital):
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
    assert records.bindingOf(v1) == leaf(a.patient, v1, h("kept"), LAB)
    assert addr(records.issuerOf(v1)) == addr(a.hospital)
    assert_binds(records, a.patient, v1, h("kept"), LAB)
    with reverts(records.NotActiveInstitution, account=a.hospital):
        anchor(records, a.hospital, a.patient, 2, previous=v1)


# -- checkBinding (single records) -------------------------------------------------------------


def test_check_binding_refuses_every_other_patient_commitment_category_and_unknown_ids(
    records, actors
):
    a = actors
    rid, _ = anchor(records, a.clinic, a.patient, 1, h("c1"), IMAGING)
    assert_binds(records, a.patient, rid, h("c1"), IMAGING)
    for patient, commitment, cat in [
        (a.other_patient, h("c1"), IMAGING),
        (a.patient, h("c2"), IMAGING),
        (a.patient, h("c1"), LAB),
    ]:
        assert_view_reverts(
            records,
            "checkBinding",
            (patient, rid, commitment, cat, []),
            "RecordBindingMismatch",
            recordId=rid,
        )
    for unknown in (
        record_id(a.clinic, 2),
        record_id(a.hospital, 1),
        h("random id")[:20] + bytes(12),
    ):
        assert_view_reverts(
            records,
            "checkBinding",
            (a.patient, unknown, h("c1"), IMAGING, []),
            "RecordNotAnchored",
            recordId=unknown,
        )


# -- batches ---------------------------------------------------------------------------------


def batch_rows(
    a: Any, batch: bytes, n: int, cat: bytes = LAB
) -> list[tuple[Any, bytes, bytes, bytes]]:
    patients = [a.patient, a.other_patient, a.guardian]
    return [
        (addr(patients[i % 3]), member_id(batch, i), h(f"batch blob {batch.hex()} {i}"), cat)
        for i in range(n)
    ]


def tree_of(rows: list[tuple[Any, bytes, bytes, bytes]]) -> Tree:
    return Tree([leaf(*row) for row in rows])


@pytest.mark.parametrize("who", PROVIDERS)
def test_an_active_provider_anchors_a_batch_in_its_namespace(records, chain, actors, who):
    issuer = actors.by(who)
    b = batch_id(issuer, 7)
    root = tree_of(batch_rows(actors, b, 5)).root
    t = chain.pending_timestamp + 5
    chain.pending_timestamp = t
    tx = records.anchorBatch(b, root, 5, LAB, sender=issuer)
    assert emitted(tx) == [
        ev(records, "BatchAnchored", batchId=b, issuer=issuer, root=root, count=5, category=LAB)
    ]
    got = records.batch(b)
    assert (got.root, got.count, got.anchoredAt) == (root, 5, t)
    assert [records.isAnchored(member_id(b, i)) for i in (0, 4, 5, 2**32 - 1)] == [
        True,
        True,
        False,
        False,
    ]
    assert addr(records.issuerOf(member_id(b, 4))) == addr(issuer)
    assert records.issuerOf(member_id(b, 5)) == ZERO_ADDRESS
    assert records.bindingOf(member_id(b, 0)) == ZERO32  # batch members have no single binding
    assert records.batch(batch_id(issuer, 8)).root == ZERO32  # nothing else


def test_a_batch_id_must_carry_the_callers_address_and_the_batch_flag(records, actors):
    a = actors
    theirs = batch_id(a.clinic, 1)
    with reverts(records.BatchIdNotOwned, batchId=theirs, caller=a.hospital):
        records.anchorBatch(theirs, h("root"), 2, LAB, sender=a.hospital)
    unflagged = bytes.fromhex(addr(a.hospital)[2:]) + (1).to_bytes(8, "big")
    with reverts(records.BatchIdNotOwned, batchId=unflagged, caller=a.hospital):
        records.anchorBatch(unflagged, h("root"), 2, LAB, sender=a.hospital)
    assert records.batch(theirs).root == ZERO32 and records.batch(unflagged).root == ZERO32


def test_a_batch_needs_records_and_a_root(records, actors):
    b = batch_id(actors.hospital, 1)
    with reverts(records.EmptyBatch):
        records.anchorBatch(b, h("root"), 0, LAB, sender=actors.hospital)
    with reverts(records.ZeroRoot):
        records.anchorBatch(b, ZERO32, 1, LAB, sender=actors.hospital)
    assert records.batch(b).count == 0


def test_a_batch_id_is_write_once(records, actors):
    a = actors
    b = batch_id(a.hospital, 1)
    records.anchorBatch(b, h("root"), 2, LAB, sender=a.hospital)
    for root in (h("root"), h("other root")):
        with reverts(records.BatchAlreadyAnchored, batchId=b):
            records.anchorBatch(b, root, 9, IMAGING, sender=a.hospital)
    got = records.batch(b)
    assert (got.root, got.count) == (h("root"), 2)


def test_another_institution_copying_a_pending_batch_root_gains_nothing(records, actors):
    """v1: the root itself was the key, so a front-runner owned the honest issuer's batch. v2:
    the copy is anchored in the copier's own namespace and vouches for none of the issuer's
    records; the issuer's batch is anchored and verifies as if nothing happened."""
    a = actors
    honest = batch_id(a.hospital, 42)
    rows = batch_rows(a, honest, 4)
    tree = tree_of(rows)
    # the copier cannot take the honest batch id ...
    with reverts(records.BatchIdNotOwned, batchId=honest, caller=a.clinic):
        records.anchorBatch(honest, tree.root, 4, LAB, sender=a.clinic)
    # ... and copying the root under its own id gives it a batch that binds none of the rows
    copy = batch_id(a.clinic, 42)
    records.anchorBatch(copy, tree.root, 4, LAB, sender=a.clinic)
    for i, (patient, rid, commitment, cat) in enumerate(rows):
        stolen = member_id(copy, i)
        assert not records.verifyBatchRecord(tree.proof(i), patient, stolen, commitment, cat)
        assert_view_reverts(
            records,
            "checkBinding",
            (patient, stolen, commitment, cat, tree.proof(i)),
            "RecordBindingMismatch",
            recordId=stolen,
        )
        # the honest members are not anchored by the copy
        assert not records.isAnchored(rid)
        assert_view_reverts(
            records,
            "checkBinding",
            (patient, rid, commitment, cat, tree.proof(i)),
            "RecordNotAnchored",
            recordId=rid,
        )
    # the rightful issuer anchors its batch afterwards, unaffected
    records.anchorBatch(honest, tree.root, 4, LAB, sender=a.hospital)
    for i, row in enumerate(rows):
        assert records.verifyBatchRecord(tree.proof(i), *row)
        assert_binds(records, row[0], row[1], row[2], row[3], tree.proof(i))
        assert addr(records.issuerOf(row[1])) == addr(a.hospital)


def test_leaf_hash_is_the_openzeppelin_standard_leaf(records, actors):
    row = (addr(actors.patient), record_id(actors.hospital, 1), h("c"), LAB)
    expected = keccak(keccak(encode(["address", "bytes32", "bytes32", "bytes32"], list(row))))
    assert records.leafHash(*row) == expected == leaf(*row)


@pytest.mark.parametrize("size", [1, 2, 5])
def test_every_record_of_an_anchored_batch_verifies_and_binds_with_a_python_built_proof(
    records, actors, size
):
    b = batch_id(actors.hospital, size)
    rows = batch_rows(actors, b, size)
    tree = tree_of(rows)
    records.anchorBatch(b, tree.root, size, LAB, sender=actors.hospital)
    for i, row in enumerate(rows):
        assert records.verifyBatchRecord(tree.proof(i), *row), i
        assert_binds(records, *row, tree.proof(i))


def test_a_changed_field_or_a_wrong_proof_does_not_verify_or_bind(records, actors):
    a = actors
    b = batch_id(a.hospital, 1)
    rows = batch_rows(a, b, 5)
    tree = tree_of(rows)
    records.anchorBatch(b, tree.root, 5, LAB, sender=a.hospital)
    patient, rid, commitment, cat = rows[2]
    proof = tree.proof(2)
    assert records.verifyBatchRecord(proof, *rows[2])
    bad = [
        ((addr(a.stranger), rid, commitment, cat), proof),
        ((patient, rid, h("tampered blob"), cat), proof),
        ((patient, rid, commitment, IMAGING), proof),
        ((patient, member_id(b, 3), commitment, cat), proof),  # another member's id
        (rows[2], tree.proof(3)),
        (rows[2], proof[:-1]),
        (rows[2], []),
    ]
    for row, p in bad:
        assert not records.verifyBatchRecord(p, *row)
        assert_view_reverts(
            records, "checkBinding", (*row, p), "RecordBindingMismatch", recordId=row[1]
        )


def test_a_member_index_at_or_above_the_count_is_not_anchored(records, actors):
    a = actors
    b = batch_id(a.hospital, 1)
    rows = batch_rows(a, b, 4)
    tree = tree_of(rows)
    records.anchorBatch(b, tree.root, 3, LAB, sender=a.hospital)  # the issuer says 3 records
    assert records.verifyBatchRecord(tree.proof(2), *rows[2])
    assert not records.verifyBatchRecord(tree.proof(3), *rows[3])
    assert not records.isAnchored(rows[3][1])
    assert_view_reverts(
        records, "checkBinding", (*rows[3], tree.proof(3)), "RecordNotAnchored", recordId=rows[3][1]
    )


def test_a_valid_proof_against_a_batch_nobody_anchored_does_not_verify(records, actors):
    b = batch_id(actors.hospital, 1)
    rows = batch_rows(actors, b, 4)
    tree = tree_of(rows)
    assert verify(tree.proof(0), tree.root, leaf(*rows[0]))
    assert not records.verifyBatchRecord(tree.proof(0), *rows[0])
    assert_view_reverts(
        records, "checkBinding", (*rows[0], tree.proof(0)), "RecordNotAnchored", recordId=rows[0][1]
    )


def test_a_single_id_never_verifies_as_a_batch_member(records, actors):
    a = actors
    rid, _ = anchor(records, a.hospital, a.patient, 1, h("c"))
    tree = Tree([leaf(a.patient, rid, h("c"), LAB), h("filler")])
    records.anchorBatch(batch_id(a.hospital, 0), tree.root, 2, LAB, sender=a.hospital)
    assert not records.verifyBatchRecord(tree.proof(0), a.patient, rid, h("c"), LAB)


def test_an_inner_node_is_refused_as_a_leaf(records, actors):
    a = actors
    b = batch_id(a.hospital, 1)
    rows = batch_rows(a, b, 4)
    tree = tree_of(rows)
    records.anchorBatch(b, tree.root, 4, LAB, sender=a.hospital)
    left, right = tree.layers[0][0], tree.layers[0][1]
    inner = tree.layers[1][0]
    upper_proof = [tree.layers[1][1]]
    # the inner node with its own proof is a valid path to the root for raw MerkleProof ...
    assert hash_pair(left, right) == inner and verify(upper_proof, tree.root, inner)
    # ... but no record presented with that proof reaches it: leaves are double-hashed records
    attempts = [
        rows[0],
        (rows[0][0], inner, rows[0][2], rows[0][3]),
        (rows[0][0], rows[0][1], left, right),
        (rows[0][0], rows[0][1], inner, LAB),
        (rows[0][0], rows[0][1], rows[0][2], inner),
    ]
    for attempt in attempts:
        assert not records.verifyBatchRecord(upper_proof, *attempt), attempt
        assert records.leafHash(*attempt) != inner
    assert records.verifyBatchRecord(tree.proof(0), *rows[0])


def test_a_batch_cannot_vouch_for_a_record_id_in_another_issuers_namespace(records, actors):
    a = actors
    theirs, _ = anchor(records, a.clinic, a.patient, 1, h("clinic's real blob"))
    row = (addr(a.patient), theirs, h("forged blob"), LAB)
    b = batch_id(a.hospital, 1)
    tree = Tree([leaf(*row), leaf(*batch_rows(a, b, 1)[0])])
    records.anchorBatch(b, tree.root, 2, LAB, sender=a.hospital)
    assert records.bindingOf(theirs) == leaf(a.patient, theirs, h("clinic's real blob"), LAB)
    assert not records.verifyBatchRecord(tree.proof(0), *row)
    assert_view_reverts(
        records, "checkBinding", (*row, tree.proof(0)), "RecordBindingMismatch", recordId=theirs
    )


# -- recordErased ------------------------------------------------------------------------------


def test_the_issuer_records_the_erasure_of_a_single_record_and_of_a_batch_member(records, actors):
    a = actors
    rid, _ = anchor(records, a.hospital, a.patient, 1, h("c"))
    b = batch_id(a.hospital, 1)
    records.anchorBatch(b, h("root"), 2, LAB, sender=a.hospital)
    for target in (rid, member_id(b, 1)):
        tx = records.recordErased(target, sender=a.hospital)
        assert emitted(tx) == [ev(records, "RecordErased", recordId=target, issuer=a.hospital)]
    # the anchor still proves what existed
    assert records.isAnchored(rid) and records.bindingOf(rid) == leaf(a.patient, rid, h("c"), LAB)
    assert records.batch(b).root == h("root")


@pytest.mark.parametrize("who", ["clinic", "researcher", "emergency"])
def test_no_other_active_member_records_an_erasure(records, actors, who):
    a, caller = actors, actors.by(who)
    rid, _ = anchor(records, a.hospital, a.patient, 1)
    with reverts(records.NotIssuer, recordId=rid, issuer=a.hospital, caller=caller):
        records.recordErased(rid, sender=caller)


@pytest.mark.parametrize("who", NOT_ACTIVE)
def test_inactive_accounts_cannot_record_an_erasure(records, actors, who):
    caller = actors.by(who)
    with reverts(records.NotActiveInstitution, account=caller):
        records.recordErased(record_id(caller, 1), sender=caller)


def test_erasing_an_unanchored_record_reverts_record_not_anchored(records, actors):
    a = actors
    b = batch_id(a.hospital, 1)
    records.anchorBatch(b, h("root"), 2, LAB, sender=a.hospital)
    for rid in (record_id(a.hospital, 5), member_id(b, 2), member_id(batch_id(a.hospital, 2), 0)):
        with reverts(records.RecordNotAnchored, recordId=rid):
            records.recordErased(rid, sender=a.hospital)
