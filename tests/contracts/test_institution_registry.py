"""InstitutionRegistry: genesis, M-of-N proposals of every kind, expiry, who may vote or act,
admission epochs, node endpoints, and ejecting a member (Suspend / Remove need
min(threshold, active members - 1) approvals; the threshold drops to the members left)."""

from __future__ import annotations

from typing import Any

import pytest
from contract_kit import (
    ADMIT,
    CHANGE_ROLES,
    CHANGE_THRESHOLD,
    REINSTATE,
    REMOVE,
    ROLE_EMERGENCY,
    ROLE_PROVIDER,
    ROLE_RESEARCHER,
    STATUS_ACTIVE,
    STATUS_NONE,
    STATUS_REMOVED,
    STATUS_SUSPENDED,
    SUSPEND,
    ZERO32,
    ZERO_ADDRESS,
    addr,
    as_dict,
    assert_deploy_reverts,
    assert_view_reverts,
    emitted,
    ev,
    h,
    reverts,
)

from conftest import ALL_ROLES, PROPOSAL_LIFETIME, Actors, deploy_registry, fund

# The council: six genesis members, threshold 2; `suspended` and `removed` voted out in the
# fixture, leaving four active members (hospital, clinic, researcher, emergency).
COUNCIL = {
    "hospital": ROLE_PROVIDER,
    "clinic": ROLE_PROVIDER,
    "researcher": ROLE_RESEARCHER,
    "emergency": ROLE_EMERGENCY,
    "suspended": ALL_ROLES,
    "removed": ALL_ROLES,
}
ACTIVE = ["hospital", "researcher", "emergency"]  # one of each role (clinic votes second)
INACTIVE = ["suspended", "removed", "stranger", "patient", "guardian"]


@pytest.fixture(scope="module")
def council(project: Any, chain: Any, actors: Actors) -> Any:
    fund(chain, actors)
    reg = deploy_registry(project, actors, COUNCIL, threshold=2)
    reg.propose(SUSPEND, actors.suspended, 0, ZERO32, ZERO32, 0, sender=actors.hospital)
    reg.approve(0, sender=actors.clinic)
    reg.propose(REMOVE, actors.removed, 0, ZERO32, ZERO32, 0, sender=actors.hospital)
    reg.approve(1, sender=actors.clinic)
    return reg


def propose(
    reg: Any,
    kind: int,
    subject: Any,
    sender: Any,
    *,
    roles: int = 0,
    key: bytes = ZERO32,
    meta: bytes = ZERO32,
    threshold: int = 0,
) -> tuple[int, Any]:
    pid = reg.proposalCount()
    subject_addr = ZERO_ADDRESS if subject is None else addr(subject)
    tx = reg.propose(kind, subject_addr, roles, key, meta, threshold, sender=sender)
    return pid, tx


# -- genesis ---------------------------------------------------------------------------------


def test_genesis_admits_every_member_with_its_roles_key_and_metadata(project, chain, actors):
    reg = deploy_registry(
        project,
        actors,
        {"hospital": ROLE_PROVIDER, "emergency": ROLE_EMERGENCY | ROLE_PROVIDER},
        threshold=2,
        lifetime=3600,
    )
    receipt = reg.creation_metadata.receipt
    ts = chain.blocks[receipt.block_number].timestamp
    assert emitted(receipt) == [
        ev(
            reg,
            "InstitutionAdmitted",
            account=actors.hospital,
            roles=ROLE_PROVIDER,
            encryptionKey=h("x25519:hospital"),
            metadataHash=h("metadata:hospital"),
            epoch=1,
        ),
        ev(
            reg,
            "InstitutionAdmitted",
            account=actors.emergency,
            roles=ROLE_EMERGENCY | ROLE_PROVIDER,
            encryptionKey=h("x25519:emergency"),
            metadataHash=h("metadata:emergency"),
            epoch=1,
        ),
        ev(reg, "ThresholdChanged", threshold=2),
    ]
    assert as_dict(reg.institution(actors.hospital)) == {
        "status": STATUS_ACTIVE,
        "roles": ROLE_PROVIDER,
        "admittedAt": ts,
        "epoch": 1,
        "encryptionKey": h("x25519:hospital"),
        "metadataHash": h("metadata:hospital"),
    }
    assert (reg.memberCount(), reg.threshold(), reg.proposalLifetime(), reg.proposalCount()) == (
        2,
        2,
        3600,
        0,
    )
    assert reg.encryptionKeyOf(actors.emergency) == h("x25519:emergency")
    assert reg.hasRole(actors.emergency, ROLE_EMERGENCY | ROLE_PROVIDER)
    assert not reg.hasRole(actors.hospital, ROLE_EMERGENCY)
    assert reg.statusOf(actors.stranger) == STATUS_NONE and not reg.isActive(actors.stranger)
    assert tuple(reg.membership(actors.emergency)) == (
        STATUS_ACTIVE,
        ROLE_EMERGENCY | ROLE_PROVIDER,
        1,
    )
    assert tuple(reg.membership(actors.stranger)) == (STATUS_NONE, 0, 0)
    assert reg.endpointOf(actors.hospital) == ""


def _genesis(a: Actors, case: str) -> tuple[tuple[Any, ...], str, dict[str, Any]]:
    one, two = a.hospital.address, a.clinic.address
    k, m = h("k"), h("m")
    cases: dict[str, tuple[tuple[Any, ...], str, dict[str, Any]]] = {
        "empty": (([], [], [], [], 1, 60), "EmptyGenesis", {}),
        "roles_short": (([one, two], [1], [k, k], [m, m], 1, 60), "GenesisLengthMismatch", {}),
        "keys_short": (([one, two], [1, 1], [k], [m, m], 1, 60), "GenesisLengthMismatch", {}),
        "metadata_long": (([one], [1], [k], [m, m], 1, 60), "GenesisLengthMismatch", {}),
        "zero_lifetime": (([one], [1], [k], [m], 1, 0), "InvalidLifetime", {}),
        "lifetime_over_a_year": (([one], [1], [k], [m], 1, 365 * 86400 + 1), "InvalidLifetime", {}),
        "zero_address": (([one, ZERO_ADDRESS], [1, 1], [k, k], [m, m], 1, 60), "ZeroAddress", {}),
        "duplicate": (
            ([one, one], [1, 2], [k, k], [m, m], 1, 60),
            "AlreadyMember",
            {"account": one},
        ),
        "no_roles": (([one], [0], [k], [m], 1, 60), "InvalidRoles", {"roles": 0}),
        "unknown_role": (([one], [8], [k], [m], 1, 60), "InvalidRoles", {"roles": 8}),
        "zero_key": (([one], [1], [ZERO32], [m], 1, 60), "InvalidEncryptionKey", {}),
        "zero_threshold": (
            ([one, two], [1, 1], [k, k], [m, m], 0, 60),
            "InvalidThreshold",
            {"threshold": 0, "members": 2},
        ),
        "threshold_above_members": (
            ([one, two], [1, 1], [k, k], [m, m], 3, 60),
            "InvalidThreshold",
            {"threshold": 3, "members": 2},
        ),
    }
    return cases[case]


@pytest.mark.parametrize(
    "case",
    [
        "empty",
        "roles_short",
        "keys_short",
        "metadata_long",
        "zero_lifetime",
        "lifetime_over_a_year",
        "zero_address",
        "duplicate",
        "no_roles",
        "unknown_role",
        "zero_key",
        "zero_threshold",
        "threshold_above_members",
    ],
)
def test_genesis_validation_refuses_a_bad_consortium(project, actors, case):
    args, error, expected = _genesis(actors, case)
    assert_deploy_reverts(project.InstitutionRegistry, args, error, **expected)


def test_genesis_with_threshold_equal_to_members_deploys(project, actors):
    reg = deploy_registry(project, actors, {"hospital": 1, "clinic": 1}, threshold=2)
    assert (reg.threshold(), reg.memberCount()) == (2, 2)


# -- proposals -------------------------------------------------------------------------------


def test_propose_stores_the_proposal_and_counts_the_proposers_approval(council, chain, actors):
    pid = council.proposalCount()
    t = chain.pending_timestamp + 5
    chain.pending_timestamp = t
    tx = council.propose(
        ADMIT, actors.newcomer, ROLE_RESEARCHER, h("nk"), h("nm"), 0, sender=actors.hospital
    )
    assert tx.return_value == pid
    assert emitted(tx) == [
        ev(
            council,
            "ProposalCreated",
            proposalId=pid,
            kind=ADMIT,
            subject=actors.newcomer,
            proposer=actors.hospital,
            expiresAt=t + PROPOSAL_LIFETIME,
        ),
        ev(council, "ProposalApproved", proposalId=pid, member=actors.hospital, approvals=1),
    ]
    assert as_dict(council.proposal(pid)) == {
        "kind": ADMIT,
        "subject": addr(actors.newcomer),
        "roles": ROLE_RESEARCHER,
        "expiresAt": t + PROPOSAL_LIFETIME,
        "approvals": 1,
        "executed": False,
        "encryptionKey": h("nk"),
        "metadataHash": h("nm"),
        "newThreshold": 0,
        "proposer": addr(actors.hospital),
    }
    assert council.proposalCount() == pid + 1
    assert council.hasApproved(pid, actors.hospital) and not council.hasApproved(pid, actors.clinic)
    assert council.statusOf(actors.newcomer) == STATUS_NONE  # 1 of 2: not executed


PROVIDER_RESEARCHER = ROLE_PROVIDER | ROLE_RESEARCHER
# case: (kind, subject, (roles, encryptionKey, metadataHash, newThreshold) of the proposal)
KIND_CASES = {
    "admit": (ADMIT, "newcomer", (PROVIDER_RESEARCHER, h("nk"), h("nm"), 0)),
    "suspend": (SUSPEND, "researcher", (0, ZERO32, ZERO32, 0)),
    "reinstate": (REINSTATE, "suspended", (0, ZERO32, ZERO32, 0)),
    "remove_active": (REMOVE, "emergency", (0, ZERO32, ZERO32, 0)),
    "remove_suspended": (REMOVE, "suspended", (0, ZERO32, ZERO32, 0)),
    "change_roles": (CHANGE_ROLES, "clinic", (PROVIDER_RESEARCHER, ZERO32, ZERO32, 0)),
    "change_threshold": (CHANGE_THRESHOLD, None, (0, ZERO32, ZERO32, 3)),
}


@pytest.mark.parametrize("case", list(KIND_CASES))
def test_each_kind_executes_when_the_second_approval_reaches_the_threshold(
    council, chain, actors, case
):
    a = actors
    kind, subject_name, (roles, key, meta, threshold) = KIND_CASES[case]
    subject = actors.by(subject_name) if subject_name else None
    pid, _ = propose(
        council, kind, subject, a.hospital, roles=roles, key=key, meta=meta, threshold=threshold
    )
    members = council.memberCount()
    chain.pending_timestamp = t = chain.pending_timestamp + 3
    tx = council.approve(pid, sender=a.clinic)
    effect = {
        "admit": ev(
            council,
            "InstitutionAdmitted",
            account=a.newcomer,
            roles=PROVIDER_RESEARCHER,
            encryptionKey=h("nk"),
            metadataHash=h("nm"),
            epoch=1,
        ),
        "suspend": ev(council, "InstitutionSuspended", account=a.researcher),
        "reinstate": ev(council, "InstitutionReinstated", account=a.suspended),
        "remove_active": ev(council, "InstitutionRemoved", account=a.emergency),
        "remove_suspended": ev(council, "InstitutionRemoved", account=a.suspended),
        "change_roles": ev(
            council, "RolesChanged", account=a.clinic, roles=ROLE_PROVIDER | ROLE_RESEARCHER
        ),
        "change_threshold": ev(council, "ThresholdChanged", threshold=3),
    }[case]
    assert emitted(tx) == [
        ev(council, "ProposalApproved", proposalId=pid, member=a.clinic, approvals=2),
        effect,
        ev(council, "ProposalExecuted", proposalId=pid),
    ]
    assert council.proposal(pid).executed
    delta = {"admit": 1, "suspend": -1, "reinstate": 1, "remove_active": -1}.get(case, 0)
    assert council.memberCount() == members + delta
    if case == "admit":
        assert as_dict(council.institution(a.newcomer)) == {
            "status": STATUS_ACTIVE,
            "roles": ROLE_PROVIDER | ROLE_RESEARCHER,
            "admittedAt": t,
            "epoch": 1,
            "encryptionKey": h("nk"),
            "metadataHash": h("nm"),
        }
        assert council.hasRole(a.newcomer, ROLE_RESEARCHER)
    elif case == "suspend":
        assert council.statusOf(a.researcher) == STATUS_SUSPENDED and not council.isActive(
            a.researcher
        )
        assert not council.hasRole(a.researcher, ROLE_RESEARCHER)
        assert (
            council.institution(a.researcher).roles == ROLE_RESEARCHER
        )  # roles kept for reinstatement
    elif case == "reinstate":
        assert council.statusOf(a.suspended) == STATUS_ACTIVE and council.hasRole(
            a.suspended, ALL_ROLES
        )
    elif case in ("remove_active", "remove_suspended"):
        assert council.statusOf(subject) == STATUS_REMOVED and not council.isActive(subject)
    elif case == "change_roles":
        assert council.hasRole(a.clinic, ROLE_PROVIDER | ROLE_RESEARCHER)
    else:
        assert council.threshold() == 3


def test_threshold_one_executes_on_the_proposal_itself(registry, actors):
    pid = registry.proposalCount()
    tx = registry.propose(
        CHANGE_ROLES, actors.clinic, ROLE_EMERGENCY, ZERO32, ZERO32, 0, sender=actors.researcher
    )
    names = [e[1] for e in emitted(tx)]
    assert names == ["ProposalCreated", "ProposalApproved", "RolesChanged", "ProposalExecuted"]
    assert registry.proposal(pid).executed and registry.hasRole(actors.clinic, ROLE_EMERGENCY)


def test_with_threshold_three_two_approvals_do_not_execute_and_the_third_does(council, actors):
    a = actors
    pid, _ = propose(council, CHANGE_THRESHOLD, None, a.hospital, threshold=3)
    council.approve(pid, sender=a.clinic)
    assert council.threshold() == 3
    pid, _ = propose(council, SUSPEND, a.emergency, a.hospital)
    tx = council.approve(pid, sender=a.clinic)
    assert emitted(tx) == [
        ev(council, "ProposalApproved", proposalId=pid, member=a.clinic, approvals=2)
    ]
    assert council.isActive(a.emergency) and not council.proposal(pid).executed
    tx = council.approve(pid, sender=a.researcher)
    assert [e[1] for e in emitted(tx)] == [
        "ProposalApproved",
        "InstitutionSuspended",
        "ProposalExecuted",
    ]
    assert council.statusOf(a.emergency) == STATUS_SUSPENDED and council.memberCount() == 3


def test_a_lowered_threshold_lets_the_next_approval_execute_an_older_proposal(council, actors):
    a = actors
    pid_admit, _ = propose(council, ADMIT, a.newcomer, a.hospital, roles=ROLE_PROVIDER, key=h("nk"))
    pid, _ = propose(council, CHANGE_THRESHOLD, None, a.hospital, threshold=1)
    council.approve(pid, sender=a.researcher)
    assert council.threshold() == 1
    council.approve(pid_admit, sender=a.emergency)
    assert council.isActive(a.newcomer)


# -- approval errors -------------------------------------------------------------------------


def test_approving_an_unknown_proposal_reverts_proposal_not_found(council, actors):
    pid = council.proposalCount()
    with reverts(council.ProposalNotFound, proposalId=pid):
        council.approve(pid, sender=actors.clinic)
    assert_view_reverts(council, "proposal", (pid,), "ProposalNotFound", proposalId=pid)


def test_approving_an_executed_proposal_reverts(council, actors):
    pid, _ = propose(council, CHANGE_ROLES, actors.clinic, actors.hospital, roles=ALL_ROLES)
    council.approve(pid, sender=actors.clinic)
    with reverts(council.ProposalAlreadyExecuted, proposalId=pid):
        council.approve(pid, sender=actors.researcher)


def test_a_member_approves_once_and_the_proposer_already_has(council, actors):
    a = actors
    pid, _ = propose(council, CHANGE_THRESHOLD, None, a.hospital, threshold=3)
    council.approve(pid, sender=a.clinic)  # executes: threshold 3
    pid, _ = propose(council, CHANGE_ROLES, a.clinic, a.hospital, roles=ALL_ROLES)
    with reverts(council.AlreadyApproved, proposalId=pid, member=a.hospital):
        council.approve(pid, sender=a.hospital)
    council.approve(pid, sender=a.researcher)
    with reverts(council.AlreadyApproved, proposalId=pid, member=a.researcher):
        council.approve(pid, sender=a.researcher)
    assert council.proposal(pid).approvals == 2 and not council.proposal(pid).executed


def test_a_proposal_is_live_until_one_second_before_expires_at(council, chain, actors):
    a = actors
    t0 = chain.pending_timestamp + 10
    chain.pending_timestamp = t0
    late, _ = propose(council, CHANGE_ROLES, a.clinic, a.hospital, roles=ALL_ROLES)
    just_in_time, _ = propose(council, CHANGE_ROLES, a.researcher, a.hospital, roles=ALL_ROLES)
    expires = t0 + PROPOSAL_LIFETIME
    assert council.proposal(late).expiresAt == expires
    chain.pending_timestamp = expires - 1
    council.approve(just_in_time, sender=a.clinic)
    assert council.proposal(just_in_time).executed
    chain.pending_timestamp = expires
    with reverts(council.ProposalExpired, proposalId=late, expiredAt=expires):
        council.approve(late, sender=a.clinic)
    chain.pending_timestamp = expires + 1
    with reverts(council.ProposalExpired, proposalId=late, expiredAt=expires):
        council.approve(late, sender=a.emergency)
    assert (
        not council.proposal(late).executed and council.institution(a.clinic).roles == ROLE_PROVIDER
    )


# -- who may act -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ACTIVE)
def test_every_active_member_whatever_its_role_proposes_approves_and_rotates_its_key(
    council, actors, who
):
    member = actors.by(who)
    pid, tx = propose(council, CHANGE_ROLES, actors.clinic, member, roles=ALL_ROLES)
    assert emitted(tx)[1] == ev(
        council, "ProposalApproved", proposalId=pid, member=member, approvals=1
    )
    other, _ = propose(
        council,
        CHANGE_ROLES,
        actors.hospital if who != "hospital" else actors.researcher,
        actors.clinic,
        roles=ALL_ROLES,
    )
    council.approve(other, sender=member)
    assert council.proposal(other).executed
    tx = council.updateEncryptionKey(h("rotated"), h("meta2"), sender=member)
    assert emitted(tx) == [
        ev(
            council,
            "EncryptionKeyUpdated",
            account=member,
            encryptionKey=h("rotated"),
            metadataHash=h("meta2"),
        )
    ]
    assert council.encryptionKeyOf(member) == h("rotated")
    assert council.institution(member).metadataHash == h("meta2")


@pytest.mark.parametrize("who", INACTIVE)
def test_suspended_removed_and_outsiders_can_neither_propose_nor_approve_nor_rotate_keys(
    council, actors, who
):
    caller = actors.by(who)
    pid, _ = propose(council, CHANGE_ROLES, actors.clinic, actors.hospital, roles=ALL_ROLES)
    with reverts(council.NotActiveInstitution, account=caller):
        council.propose(
            CHANGE_ROLES, actors.researcher, ALL_ROLES, ZERO32, ZERO32, 0, sender=caller
        )
    with reverts(council.NotActiveInstitution, account=caller):
        council.approve(pid, sender=caller)
    with reverts(council.NotActiveInstitution, account=caller):
        council.updateEncryptionKey(h("k"), h("m"), sender=caller)
    with reverts(council.NotActiveInstitution, account=caller):
        council.setEndpoint("https://node.example", sender=caller)
    assert council.endpointOf(caller) == ""
    assert council.proposal(pid).approvals == 1
    assert council.proposalCount() == pid + 1


def test_update_encryption_key_refuses_a_zero_key(council, actors):
    with reverts(council.InvalidEncryptionKey):
        council.updateEncryptionKey(ZERO32, h("m"), sender=actors.hospital)
    assert council.encryptionKeyOf(actors.hospital) == h("x25519:hospital")


def test_an_approval_stops_counting_when_its_member_is_suspended(council, actors):
    # propose(council, kind, subject, proposer): the proposer's approval is the first
    a = actors
    pid, _ = propose(council, CHANGE_ROLES, a.clinic, a.researcher, roles=ALL_ROLES)
    assert council.proposal(pid).approvals == 1
    sid, _ = propose(council, SUSPEND, a.researcher, a.hospital)
    council.approve(sid, sender=a.emergency)
    assert not council.isActive(a.researcher)
    with reverts(council.NotActiveInstitution, account=a.researcher):
        council.approve(pid, sender=a.researcher)
    # two approvals cast (researcher, hospital), only one by a member who is still active
    council.approve(pid, sender=a.hospital)
    assert council.proposal(pid).approvals == 1 and not council.proposal(pid).executed
    assert as_dict(council.institution(a.clinic))["roles"] == ROLE_PROVIDER
    council.approve(pid, sender=a.emergency)
    assert council.proposal(pid).executed and council.proposal(pid).approvals == 2
    assert as_dict(council.institution(a.clinic))["roles"] == ALL_ROLES


def test_an_approval_counts_again_when_its_member_is_reinstated(council, actors):
    a = actors
    pid, _ = propose(council, CHANGE_ROLES, a.clinic, a.researcher, roles=ALL_ROLES)
    sid, _ = propose(council, SUSPEND, a.researcher, a.hospital)
    council.approve(sid, sender=a.emergency)
    rid, _ = propose(council, REINSTATE, a.researcher, a.hospital)
    council.approve(rid, sender=a.emergency)
    assert council.isActive(a.researcher)
    council.approve(pid, sender=a.hospital)  # researcher (active again) + hospital
    assert council.proposal(pid).executed and council.proposal(pid).approvals == 2


def test_a_removed_member_can_be_admitted_again_and_then_acts(council, actors):
    a = actors
    pid, _ = propose(council, ADMIT, a.removed, a.hospital, roles=ROLE_EMERGENCY, key=h("fresh"))
    council.approve(pid, sender=a.clinic)
    assert as_dict(council.institution(a.removed))["roles"] == ROLE_EMERGENCY
    assert council.isActive(a.removed) and council.encryptionKeyOf(a.removed) == h("fresh")
    council.updateEncryptionKey(h("again"), ZERO32, sender=a.removed)
    assert council.encryptionKeyOf(a.removed) == h("again")


# -- validation of proposals ------------------------------------------------------------------


def _bad_proposal(a: Actors, case: str) -> tuple[tuple[Any, ...], str, dict[str, Any]]:
    k = h("k")
    cases: dict[str, tuple[tuple[Any, ...], str, dict[str, Any]]] = {
        "admit_active": (
            (ADMIT, a.clinic, 1, k, ZERO32, 0),
            "AlreadyMember",
            {"account": a.clinic},
        ),
        "admit_suspended": (
            (ADMIT, a.suspended, 1, k, ZERO32, 0),
            "AlreadyMember",
            {"account": a.suspended},
        ),
        "admit_zero_address": ((ADMIT, ZERO_ADDRESS, 1, k, ZERO32, 0), "ZeroAddress", {}),
        "admit_no_roles": ((ADMIT, a.newcomer, 0, k, ZERO32, 0), "InvalidRoles", {"roles": 0}),
        "admit_unknown_role": ((ADMIT, a.newcomer, 9, k, ZERO32, 0), "InvalidRoles", {"roles": 9}),
        "admit_zero_key": ((ADMIT, a.newcomer, 1, ZERO32, ZERO32, 0), "InvalidEncryptionKey", {}),
        "suspend_outsider": (
            (SUSPEND, a.stranger, 0, ZERO32, ZERO32, 0),
            "NotMember",
            {"account": a.stranger},
        ),
        "suspend_removed": (
            (SUSPEND, a.removed, 0, ZERO32, ZERO32, 0),
            "NotMember",
            {"account": a.removed},
        ),
        "suspend_suspended": (
            (SUSPEND, a.suspended, 0, ZERO32, ZERO32, 0),
            "InvalidStatus",
            {"account": a.suspended, "status": STATUS_SUSPENDED},
        ),
        "reinstate_active": (
            (REINSTATE, a.clinic, 0, ZERO32, ZERO32, 0),
            "InvalidStatus",
            {"account": a.clinic, "status": STATUS_ACTIVE},
        ),
        "reinstate_removed": (
            (REINSTATE, a.removed, 0, ZERO32, ZERO32, 0),
            "NotMember",
            {"account": a.removed},
        ),
        "remove_removed": (
            (REMOVE, a.removed, 0, ZERO32, ZERO32, 0),
            "NotMember",
            {"account": a.removed},
        ),
        "remove_zero_address": ((REMOVE, ZERO_ADDRESS, 0, ZERO32, ZERO32, 0), "ZeroAddress", {}),
        "change_roles_outsider": (
            (CHANGE_ROLES, a.stranger, 1, ZERO32, ZERO32, 0),
            "NotMember",
            {"account": a.stranger},
        ),
        "change_roles_to_none": (
            (CHANGE_ROLES, a.clinic, 0, ZERO32, ZERO32, 0),
            "InvalidRoles",
            {"roles": 0},
        ),
        "change_roles_unknown": (
            (CHANGE_ROLES, a.clinic, 0x80, ZERO32, ZERO32, 0),
            "InvalidRoles",
            {"roles": 0x80},
        ),
        "threshold_zero": (
            (CHANGE_THRESHOLD, ZERO_ADDRESS, 0, ZERO32, ZERO32, 0),
            "InvalidThreshold",
            {"threshold": 0, "members": 4},
        ),
        "threshold_above_members": (
            (CHANGE_THRESHOLD, ZERO_ADDRESS, 0, ZERO32, ZERO32, 5),
            "InvalidThreshold",
            {"threshold": 5, "members": 4},
        ),
    }
    return cases[case]


@pytest.mark.parametrize(
    "case",
    [
        "admit_active",
        "admit_suspended",
        "admit_zero_address",
        "admit_no_roles",
        "admit_unknown_role",
        "admit_zero_key",
        "suspend_outsider",
        "suspend_removed",
        "suspend_suspended",
        "reinstate_active",
        "reinstate_removed",
        "remove_removed",
        "remove_zero_address",
        "change_roles_outsider",
        "change_roles_to_none",
        "change_roles_unknown",
        "threshold_zero",
        "threshold_above_members",
    ],
)
def test_a_proposal_that_does_not_apply_reverts_with_the_reason(council, actors, case):
    args, error, expected = _bad_proposal(actors, case)
    count = council.proposalCount()
    with reverts(getattr(council, error), **expected):
        council.propose(*args, sender=actors.hospital)
    assert council.proposalCount() == count


# -- the threshold never exceeds the active members -----------------------------------------


@pytest.mark.parametrize("kind", [SUSPEND, REMOVE])
def test_at_unanimity_the_other_members_eject_one_and_the_threshold_drops(council, actors, kind):
    """v1 refused to suspend or remove anyone at threshold == members (InvalidThreshold): a
    unanimous consortium could never eject a rogue member. v2 needs the others only."""
    a = actors
    pid, _ = propose(council, CHANGE_THRESHOLD, None, a.hospital, threshold=4)
    council.approve(pid, sender=a.clinic)
    assert (council.threshold(), council.memberCount()) == (4, 4)
    pid, _ = propose(council, kind, a.emergency, a.hospital)
    council.approve(pid, sender=a.clinic)
    assert council.isActive(a.emergency) and not council.proposal(pid).executed  # 2 of 3
    tx = council.approve(pid, sender=a.researcher)
    effect = "InstitutionSuspended" if kind == SUSPEND else "InstitutionRemoved"
    assert emitted(tx) == [
        ev(council, "ProposalApproved", proposalId=pid, member=a.researcher, approvals=3),
        ev(council, effect, account=a.emergency),
        ev(council, "ThresholdChanged", threshold=3),
        ev(council, "ProposalExecuted", proposalId=pid),
    ]
    assert (council.threshold(), council.memberCount()) == (3, 3)
    assert council.statusOf(a.emergency) == (
        STATUS_SUSPENDED if kind == SUSPEND else STATUS_REMOVED
    )


def test_at_unanimity_other_kinds_still_need_every_member(council, actors):
    a = actors
    pid, _ = propose(council, CHANGE_THRESHOLD, None, a.hospital, threshold=4)
    council.approve(pid, sender=a.clinic)
    pid, _ = propose(council, CHANGE_ROLES, a.emergency, a.hospital, roles=ALL_ROLES)
    council.approve(pid, sender=a.clinic)
    council.approve(pid, sender=a.researcher)
    assert not council.proposal(pid).executed
    council.approve(pid, sender=a.emergency)
    assert council.proposal(pid).executed
    # a suspended member's removal changes no active count: the full threshold applies
    pid, _ = propose(council, REMOVE, a.suspended, a.hospital)
    for who in (a.clinic, a.researcher):
        council.approve(pid, sender=who)
    assert council.statusOf(a.suspended) == STATUS_SUSPENDED
    tx = council.approve(pid, sender=a.emergency)
    assert [e[1] for e in emitted(tx)] == [
        "ProposalApproved",
        "InstitutionRemoved",
        "ProposalExecuted",
    ]
    assert council.statusOf(a.suspended) == STATUS_REMOVED and council.threshold() == 4


def test_an_ejection_below_the_threshold_needs_only_the_other_active_members(council, actors):
    a = actors
    tid, _ = propose(council, CHANGE_THRESHOLD, None, a.hospital, threshold=3)
    council.approve(tid, sender=a.clinic)
    first, _ = propose(council, SUSPEND, a.researcher, a.hospital)
    second, _ = propose(council, SUSPEND, a.emergency, a.hospital)
    council.approve(first, sender=a.clinic)
    assert not council.proposal(first).executed  # min(3, 3) = 3
    council.approve(first, sender=a.emergency)
    assert (council.threshold(), council.memberCount()) == (3, 3)
    # 3 active, threshold 3: ejecting emergency needs min(3, 2) = 2 (hospital, clinic)
    tx = council.approve(second, sender=a.clinic)
    assert [e[1] for e in emitted(tx)] == [
        "ProposalApproved",
        "InstitutionSuspended",
        "ThresholdChanged",
        "ProposalExecuted",
    ]
    assert (council.threshold(), council.memberCount()) == (2, 2)
    assert not council.isActive(a.emergency)


@pytest.mark.parametrize("kind", [SUSPEND, REMOVE])
def test_in_a_two_of_two_consortium_one_member_ejects_a_rogue_other(project, chain, actors, kind):
    a = actors
    reg = deploy_registry(project, actors, {"hospital": ROLE_PROVIDER, "clinic": ROLE_PROVIDER}, 2)
    tx = reg.propose(kind, a.clinic, 0, ZERO32, ZERO32, 0, sender=a.hospital)
    effect = "InstitutionSuspended" if kind == SUSPEND else "InstitutionRemoved"
    assert emitted(tx)[1:] == [
        ev(reg, "ProposalApproved", proposalId=0, member=a.hospital, approvals=1),
        ev(reg, effect, account=a.clinic),
        ev(reg, "ThresholdChanged", threshold=1),
        ev(reg, "ProposalExecuted", proposalId=0),
    ]
    assert (reg.threshold(), reg.memberCount(), reg.isActive(a.clinic)) == (1, 1, False)
    # the rogue can no longer act; the remaining member governs alone
    with reverts(reg.NotActiveInstitution, account=a.clinic):
        reg.propose(SUSPEND, a.hospital, 0, ZERO32, ZERO32, 0, sender=a.clinic)
    reg.propose(ADMIT, a.newcomer, ROLE_PROVIDER, h("nk"), ZERO32, 0, sender=a.hospital)
    assert reg.isActive(a.newcomer)


@pytest.mark.parametrize("kind", [SUSPEND, REMOVE])
def test_the_last_active_member_can_be_neither_suspended_nor_removed(project, actors, kind):
    a = actors
    reg = deploy_registry(project, actors, {"hospital": ROLE_PROVIDER}, 1)
    with reverts(reg.LastActiveMember, account=a.hospital):
        reg.propose(kind, a.hospital, 0, ZERO32, ZERO32, 0, sender=a.hospital)
    assert reg.isActive(a.hospital) and reg.proposalCount() == 0


def test_execution_refuses_to_eject_the_member_that_became_the_last(council, actors):
    a = actors
    # researcher proposes to suspend hospital (1 of 2: pending)
    pid, _ = propose(council, SUSPEND, a.hospital, a.researcher)
    for subject in (a.clinic, a.researcher):
        sid, _ = propose(council, SUSPEND, subject, a.hospital)
        council.approve(sid, sender=a.emergency)  # 2 of min(2, active - 1)
    sid, _ = propose(council, SUSPEND, a.emergency, a.hospital)  # min(2, 1): executes at once
    assert council.proposal(sid).executed and council.threshold() == 1
    assert council.memberCount() == 1 and council.isActive(a.hospital)
    with reverts(council.LastActiveMember, account=a.hospital):
        council.approve(pid, sender=a.hospital)
    assert council.isActive(a.hospital) and not council.proposal(pid).executed


def test_execution_revalidates_a_threshold_change_against_the_members_left(council, actors):
    a = actors
    raise_to_four, _ = propose(council, CHANGE_THRESHOLD, None, a.hospital, threshold=4)
    sid, _ = propose(council, SUSPEND, a.researcher, a.clinic)
    council.approve(sid, sender=a.emergency)
    assert council.memberCount() == 3
    with reverts(council.InvalidThreshold, threshold=4, members=3):
        council.approve(raise_to_four, sender=a.clinic)
    assert council.threshold() == 2 and not council.proposal(raise_to_four).executed


def test_execution_revalidates_an_admission_already_done_by_another_proposal(council, actors):
    a = actors
    first, _ = propose(council, ADMIT, a.newcomer, a.hospital, roles=ROLE_PROVIDER, key=h("k1"))
    second, _ = propose(council, ADMIT, a.newcomer, a.clinic, roles=ALL_ROLES, key=h("k2"))
    council.approve(first, sender=a.clinic)
    with reverts(council.AlreadyMember, account=a.newcomer):
        council.approve(second, sender=a.hospital)
    assert council.institution(a.newcomer).roles == ROLE_PROVIDER


# -- views -----------------------------------------------------------------------------------


def test_has_role_needs_active_status_and_every_bit_of_a_non_empty_mask(council, actors):
    a = actors
    assert council.hasRole(a.clinic, ROLE_PROVIDER)
    assert not council.hasRole(a.clinic, ROLE_PROVIDER | ROLE_RESEARCHER)
    assert not council.hasRole(a.clinic, 0)
    assert not council.hasRole(a.suspended, ROLE_PROVIDER)
    assert not council.hasRole(a.removed, ROLE_EMERGENCY)
    assert not council.hasRole(a.stranger, ROLE_PROVIDER)
    assert as_dict(council.institution(a.stranger)) == {
        "status": 0,
        "roles": 0,
        "admittedAt": 0,
        "epoch": 0,
        "encryptionKey": ZERO32,
        "metadataHash": ZERO32,
    }
    assert [council.statusOf(x) for x in (a.hospital, a.suspended, a.removed, a.stranger)] == [
        STATUS_ACTIVE,
        STATUS_SUSPENDED,
        STATUS_REMOVED,
        STATUS_NONE,
    ]


# -- admission epochs ------------------------------------------------------------------------


def test_suspension_and_reinstatement_keep_the_epoch_and_readmission_increments_it(
    council, chain, actors
):
    a = actors
    assert tuple(council.membership(a.researcher)) == (STATUS_ACTIVE, ROLE_RESEARCHER, 1)
    sid, _ = propose(council, SUSPEND, a.researcher, a.hospital)
    council.approve(sid, sender=a.clinic)
    assert tuple(council.membership(a.researcher)) == (STATUS_SUSPENDED, ROLE_RESEARCHER, 1)
    rid, _ = propose(council, REINSTATE, a.researcher, a.hospital)
    council.approve(rid, sender=a.clinic)
    assert tuple(council.membership(a.researcher)) == (STATUS_ACTIVE, ROLE_RESEARCHER, 1)
    xid, _ = propose(council, REMOVE, a.researcher, a.hospital)
    council.approve(xid, sender=a.clinic)
    assert tuple(council.membership(a.researcher)) == (STATUS_REMOVED, ROLE_RESEARCHER, 1)
    aid, _ = propose(
        council, ADMIT, a.researcher, a.hospital, roles=ROLE_PROVIDER, key=h("k2"), meta=h("m2")
    )
    chain.pending_timestamp = t = chain.pending_timestamp + 3
    tx = council.approve(aid, sender=a.clinic)
    assert emitted(tx)[1] == ev(
        council,
        "InstitutionAdmitted",
        account=a.researcher,
        roles=ROLE_PROVIDER,
        encryptionKey=h("k2"),
        metadataHash=h("m2"),
        epoch=2,
    )
    assert as_dict(council.institution(a.researcher)) == {
        "status": STATUS_ACTIVE,
        "roles": ROLE_PROVIDER,
        "admittedAt": t,
        "epoch": 2,
        "encryptionKey": h("k2"),
        "metadataHash": h("m2"),
    }
    assert tuple(council.membership(a.researcher)) == (STATUS_ACTIVE, ROLE_PROVIDER, 2)
    # the removed-in-the-fixture member comes back in epoch 2 as well
    aid, _ = propose(council, ADMIT, a.removed, a.hospital, roles=ROLE_EMERGENCY, key=h("k3"))
    council.approve(aid, sender=a.clinic)
    assert tuple(council.membership(a.removed)) == (STATUS_ACTIVE, ROLE_EMERGENCY, 2)
    assert council.institution(a.clinic).epoch == 1
    names = {x.name for x in council.contract_type.abi if x.type == "function"}
    assert "activeSince" not in names


def test_membership_reports_status_roles_and_epoch_of_every_kind_of_account(council, actors):
    a = actors
    assert [
        tuple(council.membership(x)) for x in (a.hospital, a.suspended, a.removed, a.stranger)
    ] == [
        (STATUS_ACTIVE, ROLE_PROVIDER, 1),
        (STATUS_SUSPENDED, ALL_ROLES, 1),
        (STATUS_REMOVED, ALL_ROLES, 1),
        (STATUS_NONE, 0, 0),
    ]


# -- node endpoints ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["https://node.hospital.example", "http://127.0.0.1:8545/api", "https://" + "a" * 248],
)
def test_an_active_member_sets_its_own_endpoint(council, actors, url):
    a = actors
    tx = council.setEndpoint(url, sender=a.researcher)
    assert emitted(tx) == [ev(council, "EndpointUpdated", account=a.researcher, url=url)]
    assert council.endpointOf(a.researcher) == url
    assert council.endpointOf(a.hospital) == "" and council.endpointOf(a.stranger) == ""
    council.setEndpoint("https://moved.example", sender=a.researcher)
    assert council.endpointOf(a.researcher) == "https://moved.example"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "https:/x",
        "ftp://node.example",
        "HTTPS://node.example",
        " https://node.example",
        "node.example",
        "https://" + "a" * 249,  # 257 bytes
    ],
)
def test_an_endpoint_that_is_not_a_short_http_url_is_refused(council, actors, url):
    a = actors
    council.setEndpoint("https://kept.example", sender=a.hospital)
    with reverts(council.InvalidEndpoint):
        council.setEndpoint(url, sender=a.hospital)
    assert council.endpointOf(a.hospital) == "https://kept.example"
