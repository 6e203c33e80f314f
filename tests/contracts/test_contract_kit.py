"""The suite's own checks are strict: a revert with other arguments, another error, a missing
argument or no revert at all fails them (ape.reverts alone lets some of these through)."""

from __future__ import annotations

import pytest
from contract_kit import (
    ENTRY_ACCESS,
    ETREAT,
    TREAT,
    assert_deploy_reverts,
    assert_view_reverts,
    chain_step,
    closed_head,
    emitted,
    ev,
    next_head,
    opened_head,
    reverts,
)


def test_reverts_demands_the_error_and_every_argument(registry, actors):
    a = actors
    with reverts(registry.NotActiveInstitution, account=a.stranger):
        registry.approve(0, sender=a.stranger)
    for error, args in [
        (registry.NotActiveInstitution, {"account": a.hospital}),  # wrong argument
        (registry.NotActiveInstitution, {}),  # argument left out
        (registry.NotActiveInstitution, {"acount": a.stranger}),  # misspelt
        (registry.ProposalNotFound, {"proposalId": 0}),
    ]:  # other error
        with pytest.raises(AssertionError), reverts(error, **args):
            registry.approve(0, sender=a.stranger)
    with pytest.raises(AssertionError), reverts(registry.NotActiveInstitution, account=a.stranger):
        registry.threshold()  # no revert at all


def test_view_and_deploy_revert_checks_compare_the_exact_revert_data(project, registry):
    assert_view_reverts(registry, "proposal", (7,), "ProposalNotFound", proposalId=7)
    with pytest.raises(AssertionError):
        assert_view_reverts(registry, "proposal", (7,), "ProposalNotFound", proposalId=8)
    with pytest.raises(AssertionError):
        assert_view_reverts(registry, "threshold", (), "ProposalNotFound", proposalId=0)
    with pytest.raises(AssertionError):
        assert_deploy_reverts(
            project.InstitutionRegistry, ([], [], [], [], 1, 60), "InvalidLifetime"
        )


def test_events_are_compared_whole(consent, actors):
    a = actors
    tx = consent.increaseNonce(sender=a.stranger)
    assert emitted(tx) == [ev(consent, "NonceIncreased", signer=a.stranger, newNonce=1)]
    assert emitted(tx) != [ev(consent, "NonceIncreased", signer=a.stranger, newNonce=2)]
    assert emitted(tx) != [ev(consent, "NonceIncreased", signer=a.stranger)]
    assert emitted(tx) != []


def test_the_python_audit_step_depends_on_every_entry_field(actors):
    a = actors
    base = {
        "previous": b"\x00" * 32,
        "patient": a.patient,
        "accessor": a.hospital,
        "record": b"\x01" * 32,
        "cat": b"\x02" * 32,
        "purpose": TREAT,
        "timestamp": 1000,
        "seq": 0,
        "via_break_glass": False,
    }
    head = next_head(**base)
    changed = [
        {**base, k: v}
        for k, v in [
            ("previous", b"\x03" * 32),
            ("patient", a.other_patient),
            ("accessor", a.clinic),
            ("record", b"\x04" * 32),
            ("cat", b"\x05" * 32),
            ("purpose", 1),
            ("timestamp", 1001),
            ("seq", 1),
            ("via_break_glass", True),
        ]
    ]
    assert len({next_head(**c) for c in changed} | {head}) == 10


def test_the_three_entry_kinds_never_collide_and_follow_the_v2_layout(actors):
    a = actors
    prev, subject, t = b"\x07" * 32, b"\x01" * 32, 1000
    access = next_head(prev, a.patient, a.emergency, subject, bytes(32), ETREAT, t, 3, True)
    assert access == chain_step(
        prev, a.patient, ENTRY_ACCESS, a.emergency, subject, bytes(32), ETREAT, t, 3, True
    )
    opened = opened_head(prev, a.patient, a.emergency, subject, 0, t, 3)
    closer = bytes(12) + bytes.fromhex(a.patient.address[2:])
    closed = closed_head(prev, a.patient, a.emergency, a.patient, t, 3)
    # same fields but the kind: three different heads
    assert len({access, opened, closed}) == 3
    assert closed == chain_step(
        prev, a.patient, 2, a.emergency, closer, bytes(32), ETREAT, t, 3, True
    )
    assert opened == chain_step(
        prev, a.patient, 1, a.emergency, subject, bytes(32), ETREAT, t, 3, True
    )
