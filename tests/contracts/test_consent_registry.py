"""ConsentRegistry, direct paths: patient keys, guardians, grants, requests, break-glass,
authorisation over record / category / SCOPE_ALL at expiry boundaries, the audit chain, and no
plaintext on chain. Signed (EIP-712) paths are in test_consent_signatures.py.

Time: a grant (guardian, break-glass) is live while block.timestamp < expiresAt. Transactions are
mined at exact timestamps (`chain.pending_timestamp = t`); views read the latest block, so a view
at time t is asked after `chain.mine(timestamp=t)`.
"""

from __future__ import annotations

from typing import Any

import pytest
from contract_kit import (
    APPROVED,
    ETREAT,
    HOPERAT,
    HPAYMT,
    HRESCH,
    IMAGING,
    LAB,
    MAX_BREAK_GLASS,
    PENDING,
    PUBHLTH,
    REINSTATE,
    REJECTED,
    REMOVE,
    SCOPE_ALL,
    SUSPEND,
    TREAT,
    TYPE_STRINGS,
    ZERO32,
    ZERO_ADDRESS,
    addr,
    as_dict,
    assert_deploy_reverts,
    assert_view_reverts,
    bit,
    category,
    emitted,
    ev,
    h,
    next_head,
    record_id,
    reverts,
)
from eth_utils import keccak

FAR = 2**40  # an expiry no test reaches
CONSENTERS = ["patient", "guardian"]
# everyone else: institutions of each role and status, outsiders, another patient
NOT_CONSENTERS = [
    "stranger",
    "hospital",
    "researcher",
    "emergency",
    "suspended",
    "removed",
    "other_patient",
]
INSTITUTIONS = ["hospital", "researcher", "emergency"]  # one active member of each role
NOT_INSTITUTIONS = ["suspended", "removed", "stranger", "patient", "guardian"]


@pytest.fixture(scope="module")
def cr(ledger: Any, actors: Any) -> Any:
    """The consent registry, with `guardian` appointed by `patient` (until FAR)."""
    ledger.consent.setGuardian(actors.guardian, FAR, sender=actors.patient)
    return ledger.consent


def soon(chain: Any, dt: int = 10) -> int:
    """Set the next block's timestamp a little ahead and return it."""
    t = chain.pending_timestamp + dt
    chain.pending_timestamp = t
    return t


def at(chain: Any, t: int) -> int:
    chain.pending_timestamp = t
    return t


def grant(
    cr: Any,
    a: Any,
    grantee: Any,
    scope: bytes,
    purposes: int,
    expires: int = FAR,
    *,
    patient: Any = None,
    sender: Any = None,
) -> Any:
    patient = patient or a.patient
    return cr.grant(patient, grantee, scope, purposes, expires, sender=sender or patient)


# -- deployment ------------------------------------------------------------------------------


def test_constructor_refuses_a_zero_institution_registry(project):
    assert_deploy_reverts(project.ConsentRegistry, (ZERO_ADDRESS,), "ZeroAddress")


def test_constants_and_wiring_match_the_api(cr, registry):
    assert cr.SCOPE_ALL() == keccak(b"careledger.scope.ALL") == SCOPE_ALL
    assert cr.MAX_BREAK_GLASS() == MAX_BREAK_GLASS == 259_200
    assert cr.GRANT_TYPEHASH() == keccak(text=TYPE_STRINGS["Grant"])
    assert cr.REVOKE_TYPEHASH() == keccak(text=TYPE_STRINGS["Revoke"])
    assert cr.SET_GUARDIAN_TYPEHASH() == keccak(text=TYPE_STRINGS["SetGuardian"])
    assert addr(cr.institutions()) == addr(registry)
    assert cr.requestCount() == 0


# -- patient keys ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", CONSENTERS)
def test_patient_or_guardian_registers_and_rotates_the_patient_key(cr, actors, who):
    caller = actors.by(who)
    tx = cr.registerPatientKey(actors.patient, h("pk1"), sender=caller)
    assert emitted(tx) == [
        ev(cr, "PatientKeyRegistered", patient=actors.patient, encryptionKey=h("pk1"))
    ]
    cr.registerPatientKey(actors.patient, h("pk2"), sender=caller)
    assert cr.patientKeyOf(actors.patient) == h("pk2")


@pytest.mark.parametrize("who", NOT_CONSENTERS)
def test_nobody_else_registers_a_patient_key(cr, actors, who):
    caller = actors.by(who)
    with reverts(cr.NotPatientOrGuardian, actor=caller, patient=actors.patient):
        cr.registerPatientKey(actors.patient, h("evil"), sender=caller)
    assert cr.patientKeyOf(actors.patient) == ZERO32


def test_a_zero_patient_key_is_refused(cr, actors):
    with reverts(cr.InvalidEncryptionKey):
        cr.registerPatientKey(actors.patient, ZERO32, sender=actors.patient)


# -- guardians -------------------------------------------------------------------------------


def test_a_patient_appoints_a_guardian_and_changes_its_expiry(cr, chain, actors):
    p, g = actors.other_patient, actors.stranger
    t = soon(chain)
    tx = cr.setGuardian(g, t + 100, sender=p)
    assert emitted(tx) == [ev(cr, "GuardianSet", patient=p, guardian=g, expiresAt=t + 100)]
    assert cr.guardianExpiry(p, g) == t + 100 and cr.isGuardian(p, g)
    cr.setGuardian(g, t + 50, sender=p)
    assert cr.guardianExpiry(p, g) == t + 50
    assert not cr.isGuardian(g, p) and not cr.isGuardian(p, actors.guardian)


def test_a_patient_cannot_guard_itself(cr, actors):
    with reverts(cr.CannotGuardSelf, patient=actors.patient):
        cr.setGuardian(actors.patient, FAR, sender=actors.patient)


def test_a_zero_guardian_is_refused(cr, actors):
    with reverts(cr.ZeroAddress):
        cr.setGuardian(ZERO_ADDRESS, FAR, sender=actors.patient)


@pytest.mark.parametrize("offset", [-1, 0])
def test_a_guardian_expiry_must_lie_in_the_future(cr, chain, actors, offset):
    t = soon(chain)
    with reverts(cr.InvalidExpiry, expiresAt=t + offset, timestamp=t):
        cr.setGuardian(actors.stranger, t + offset, sender=actors.other_patient)
    t = soon(chain)
    cr.setGuardian(actors.stranger, t + 1, sender=actors.other_patient)
    assert cr.guardianExpiry(actors.other_patient, actors.stranger) == t + 1


def test_a_guardian_acts_until_one_second_before_its_expiry(cr, chain, actors):
    p, g = actors.other_patient, actors.stranger
    t = soon(chain)
    expires = t + 100
    cr.setGuardian(g, expires, sender=p)
    at(chain, expires - 1)
    cr.registerPatientKey(p, h("by guardian"), sender=g)
    assert cr.patientKeyOf(p) == h("by guardian")
    at(chain, expires)
    with reverts(cr.NotPatientOrGuardian, actor=g, patient=p):
        cr.grant(p, actors.hospital, SCOPE_ALL, bit(TREAT), FAR, sender=g)
    chain.mine(timestamp=expires + 1)
    assert not cr.isGuardian(p, g)
    assert cr.guardianExpiry(p, g) == expires


def test_is_guardian_at_expiry_minus_one_expiry_and_plus_one(cr, chain, actors):
    p, g = actors.other_patient, actors.stranger
    t = soon(chain)
    cr.setGuardian(g, t + 50, sender=p)
    seen = []
    for when in (t + 49, t + 50, t + 51):
        chain.mine(timestamp=when)
        seen.append(cr.isGuardian(p, g))
    assert seen == [True, False, False]


@pytest.mark.parametrize("who", ["guardian", *NOT_CONSENTERS])
def test_set_and_remove_guardian_act_only_on_the_callers_own_guardians(cr, actors, who):
    a, caller = actors, actors.by(who)
    tx = cr.setGuardian(a.patient, FAR, sender=caller)  # appoints a guardian of its own
    assert emitted(tx) == [ev(cr, "GuardianSet", patient=caller, guardian=a.patient, expiresAt=FAR)]
    assert cr.isGuardian(caller, a.patient)
    with reverts(cr.GuardianNotFound, patient=caller, guardian=a.guardian):
        cr.removeGuardian(a.guardian, sender=caller)
    assert cr.guardianExpiry(a.patient, a.guardian) == FAR


def test_a_guardian_cannot_appoint_or_remove_guardians_of_the_patient(cr, actors):
    a = actors
    cr.setGuardian(
        a.stranger, FAR, sender=a.guardian
    )  # the guardian's own guardian, not the patient's
    assert cr.isGuardian(a.guardian, a.stranger) and not cr.isGuardian(a.patient, a.stranger)
    cr.setGuardian(a.other_patient, FAR, sender=a.patient)
    with reverts(cr.GuardianNotFound, patient=a.guardian, guardian=a.other_patient):
        cr.removeGuardian(a.other_patient, sender=a.guardian)
    assert cr.isGuardian(a.patient, a.other_patient) and cr.isGuardian(a.patient, a.guardian)


def test_a_patient_removes_a_guardian_who_then_cannot_act(cr, actors):
    a = actors
    tx = cr.removeGuardian(a.guardian, sender=a.patient)
    assert emitted(tx) == [ev(cr, "GuardianRemoved", patient=a.patient, guardian=a.guardian)]
    assert cr.guardianExpiry(a.patient, a.guardian) == 0 and not cr.isGuardian(
        a.patient, a.guardian
    )
    with reverts(cr.NotPatientOrGuardian, actor=a.guardian, patient=a.patient):
        grant(cr, a, a.hospital, SCOPE_ALL, bit(TREAT), sender=a.guardian)
    with reverts(cr.GuardianNotFound, patient=a.patient, guardian=a.guardian):
        cr.removeGuardian(a.guardian, sender=a.patient)


def test_removing_someone_who_is_not_a_guardian_reverts(cr, actors):
    with reverts(cr.GuardianNotFound, patient=actors.patient, guardian=actors.stranger):
        cr.removeGuardian(actors.stranger, sender=actors.patient)


def test_a_guardian_of_one_patient_has_no_power_over_another(cr, actors):
    a = actors
    with reverts(cr.NotPatientOrGuardian, actor=a.guardian, patient=a.other_patient):
        grant(cr, a, a.hospital, SCOPE_ALL, bit(TREAT), patient=a.other_patient, sender=a.guardian)


# -- grants ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", CONSENTERS)
def test_patient_or_guardian_grants(cr, chain, actors, who):
    a, caller = actors, actors.by(who)
    t = soon(chain)
    purposes = bit(TREAT, HPAYMT)
    tx = grant(cr, a, a.hospital, LAB, purposes, t + 3600, sender=caller)
    assert emitted(tx) == [
        ev(
            cr,
            "ConsentGranted",
            patient=a.patient,
            grantee=a.hospital,
            scope=LAB,
            purposes=purposes,
            expiresAt=t + 3600,
            actor=caller,
        )
    ]
    assert as_dict(cr.getGrant(a.patient, a.hospital, LAB)) == {
        "purposes": purposes,
        "expiresAt": t + 3600,
        "grantedAt": t,
    }
    assert [cr.isAuthorized(a.patient, a.hospital, LAB, p) for p in range(6)] == [
        True,
        False,
        True,
        False,
        False,
        False,
    ]


@pytest.mark.parametrize("who", NOT_CONSENTERS)
def test_nobody_else_grants(cr, actors, who):
    a, caller = actors, actors.by(who)
    with reverts(cr.NotPatientOrGuardian, actor=caller, patient=a.patient):
        grant(cr, a, a.hospital, SCOPE_ALL, bit(TREAT), sender=caller)
    assert as_dict(cr.getGrant(a.patient, a.hospital, SCOPE_ALL))["purposes"] == 0


def _bad_grant(a: Any, case: str, t: int) -> tuple[tuple[Any, ...], str, dict[str, Any]]:
    p, hosp = a.patient, a.hospital
    cases = {
        "no_purposes": ((p, hosp, LAB, 0, FAR), "NoPurposes", {}),
        "purpose_bit_6": ((p, hosp, LAB, 1 << 6, FAR), "InvalidPurposes", {"purposes": 1 << 6}),
        "purpose_bit_31": (
            (p, hosp, LAB, bit(TREAT) | 1 << 31, FAR),
            "InvalidPurposes",
            {"purposes": bit(TREAT) | 1 << 31},
        ),
        "zero_scope": ((p, hosp, ZERO32, bit(TREAT), FAR), "InvalidScope", {}),
        "zero_grantee": ((p, ZERO_ADDRESS, LAB, bit(TREAT), FAR), "ZeroAddress", {}),
        "expires_now": (
            (p, hosp, LAB, bit(TREAT), t),
            "InvalidExpiry",
            {"expiresAt": t, "timestamp": t},
        ),
        "expired": (
            (p, hosp, LAB, bit(TREAT), t - 1),
            "InvalidExpiry",
            {"expiresAt": t - 1, "timestamp": t},
        ),
        "grantee_outsider": (
            (p, a.stranger, LAB, bit(TREAT), FAR),
            "NotMember",
            {"account": a.stranger},
        ),
        "grantee_removed": (
            (p, a.removed, LAB, bit(TREAT), FAR),
            "NotMember",
            {"account": a.removed},
        ),
        "grantee_patient": ((p, p, LAB, bit(TREAT), FAR), "NotMember", {"account": p}),
    }
    return cases[case]


@pytest.mark.parametrize(
    "case",
    [
        "no_purposes",
        "purpose_bit_6",
        "purpose_bit_31",
        "zero_scope",
        "zero_grantee",
        "expires_now",
        "expired",
        "grantee_outsider",
        "grantee_removed",
        "grantee_patient",
    ],
)
def test_an_invalid_grant_reverts_with_the_reason(cr, chain, actors, case):
    t = soon(chain)
    args, error, expected = _bad_grant(actors, case, t)
    with reverts(getattr(cr, error), **expected):
        cr.grant(*args, sender=actors.patient)
    assert as_dict(cr.getGrant(actors.patient, actors.hospital, LAB))["purposes"] == 0


def test_every_purpose_at_once_and_an_expiry_one_second_ahead_are_accepted(cr, chain, actors):
    a = actors
    t = soon(chain)
    grant(cr, a, a.hospital, SCOPE_ALL, bit(*range(6)), t + 1)
    assert as_dict(cr.getGrant(a.patient, a.hospital, SCOPE_ALL)) == {
        "purposes": 0b111111,
        "expiresAt": t + 1,
        "grantedAt": t,
    }
    assert all(cr.isAuthorized(a.patient, a.hospital, h("any"), p) for p in range(6))


def test_a_new_grant_replaces_the_old_one_on_the_same_scope(cr, chain, actors):
    a = actors
    grant(cr, a, a.hospital, LAB, bit(TREAT, HPAYMT), FAR)
    t = soon(chain)
    grant(cr, a, a.hospital, LAB, bit(PUBHLTH), t + 60)
    assert as_dict(cr.getGrant(a.patient, a.hospital, LAB)) == {
        "purposes": bit(PUBHLTH),
        "expiresAt": t + 60,
        "grantedAt": t,
    }
    assert not cr.isAuthorized(a.patient, a.hospital, LAB, TREAT)


def test_a_suspended_member_may_be_granted_but_is_authorised_only_once_reinstated(
    cr, registry, actors
):
    a = actors
    tx = grant(cr, a, a.suspended, SCOPE_ALL, bit(TREAT))
    assert emitted(tx)[0][1] == "ConsentGranted"
    rid = record_id(a.hospital, 1)
    assert not cr.isAuthorized(a.patient, a.suspended, SCOPE_ALL, TREAT)
    with reverts(
        cr.AccessNotAuthorized, patient=a.patient, accessor=a.suspended, recordId=rid, purpose=TREAT
    ):
        cr.recordAccess(a.patient, rid, LAB, TREAT, sender=a.suspended)
    registry.propose(REINSTATE, a.suspended, 0, ZERO32, ZERO32, 0, sender=a.hospital)
    assert cr.isAuthorized(a.patient, a.suspended, SCOPE_ALL, TREAT)
    cr.recordAccess(a.patient, rid, LAB, TREAT, sender=a.suspended)
    assert cr.auditHead(a.patient).count == 1


@pytest.mark.parametrize("change", [SUSPEND, REMOVE])
def test_suspending_or_removing_a_grantee_ends_its_authorisation(cr, registry, actors, change):
    a = actors
    grant(cr, a, a.clinic, SCOPE_ALL, bit(TREAT))
    assert cr.isAuthorized(a.patient, a.clinic, LAB, TREAT)
    registry.propose(change, a.clinic, 0, ZERO32, ZERO32, 0, sender=a.hospital)
    assert not cr.isAuthorized(a.patient, a.clinic, LAB, TREAT)
    assert not cr.isAuthorizedForRecord(a.patient, a.clinic, record_id(a.clinic, 1), LAB, TREAT)
    assert as_dict(cr.getGrant(a.patient, a.clinic, SCOPE_ALL))["purposes"] == bit(TREAT)


# -- revoke ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", CONSENTERS)
def test_patient_or_guardian_revokes_and_access_stops(cr, actors, who):
    a, caller = actors, actors.by(who)
    grant(cr, a, a.hospital, LAB, bit(TREAT))
    tx = cr.revoke(a.patient, a.hospital, LAB, sender=caller)
    assert emitted(tx) == [
        ev(cr, "ConsentRevoked", patient=a.patient, grantee=a.hospital, scope=LAB, actor=caller)
    ]
    assert as_dict(cr.getGrant(a.patient, a.hospital, LAB)) == {
        "purposes": 0,
        "expiresAt": 0,
        "grantedAt": 0,
    }
    assert not cr.isAuthorized(a.patient, a.hospital, LAB, TREAT)
    rid = record_id(a.clinic, 7)
    with reverts(
        cr.AccessNotAuthorized, patient=a.patient, accessor=a.hospital, recordId=rid, purpose=TREAT
    ):
        cr.recordAccess(a.patient, rid, LAB, TREAT, sender=a.hospital)


@pytest.mark.parametrize("who", NOT_CONSENTERS)
def test_nobody_else_revokes(cr, actors, who):
    a, caller = actors, actors.by(who)
    grant(cr, a, a.hospital, LAB, bit(TREAT))
    with reverts(cr.NotPatientOrGuardian, actor=caller, patient=a.patient):
        cr.revoke(a.patient, a.hospital, LAB, sender=caller)
    assert cr.isAuthorized(a.patient, a.hospital, LAB, TREAT)


def test_revoking_what_was_never_granted_or_already_revoked_reverts_grant_not_found(cr, actors):
    a = actors
    with reverts(cr.GrantNotFound, patient=a.patient, grantee=a.hospital, scope=LAB):
        cr.revoke(a.patient, a.hospital, LAB, sender=a.patient)
    grant(cr, a, a.hospital, LAB, bit(TREAT))
    cr.revoke(a.patient, a.hospital, LAB, sender=a.patient)
    with reverts(cr.GrantNotFound, patient=a.patient, grantee=a.hospital, scope=LAB):
        cr.revoke(a.patient, a.hospital, LAB, sender=a.guardian)


def test_an_expired_grant_can_still_be_revoked(cr, chain, actors):
    a = actors
    t = soon(chain)
    grant(cr, a, a.hospital, LAB, bit(TREAT), t + 5)
    at(chain, t + 100)
    tx = cr.revoke(a.patient, a.hospital, LAB, sender=a.patient)
    assert emitted(tx)[0][1] == "ConsentRevoked"


# -- access requests -------------------------------------------------------------------------


def request(
    cr: Any,
    a: Any,
    requester: Any,
    scope: bytes = LAB,
    purpose: int = HRESCH,
    reason: bytes | None = None,
    patient: Any = None,
) -> int:
    rid = cr.requestCount()
    cr.requestAccess(patient or a.patient, scope, purpose, reason or h("reason"), sender=requester)
    return rid


@pytest.mark.parametrize("who", INSTITUTIONS)
def test_any_active_institution_requests_access(cr, chain, actors, who):
    a, caller = actors, actors.by(who)
    t = soon(chain)
    tx = cr.requestAccess(a.patient, LAB, HRESCH, h("study 42"), sender=caller)
    assert tx.return_value == 0
    assert emitted(tx) == [
        ev(
            cr,
            "AccessRequested",
            requestId=0,
            patient=a.patient,
            requester=caller,
            scope=LAB,
            purpose=HRESCH,
            reasonHash=h("study 42"),
        )
    ]
    assert as_dict(cr.getRequest(0)) == {
        "requester": addr(caller),
        "patient": addr(a.patient),
        "scope": LAB,
        "purpose": HRESCH,
        "status": PENDING,
        "createdAt": t,
        "reasonHash": h("study 42"),
    }
    assert cr.requestCount() == 1
    assert not cr.isAuthorized(a.patient, caller, LAB, HRESCH)  # a request grants nothing


@pytest.mark.parametrize("who", NOT_INSTITUTIONS)
def test_suspended_removed_and_outsiders_cannot_request(cr, actors, who):
    caller = actors.by(who)
    with reverts(cr.NotActiveInstitution, account=caller):
        cr.requestAccess(actors.patient, LAB, TREAT, h("r"), sender=caller)
    assert cr.requestCount() == 0


@pytest.mark.parametrize("case", ["zero_patient", "zero_scope", "purpose_6", "purpose_255"])
def test_an_invalid_request_reverts_with_the_reason(cr, actors, case):
    p = actors.patient
    args, error, expected = {
        "zero_patient": ((ZERO_ADDRESS, LAB, TREAT), "ZeroAddress", {}),
        "zero_scope": ((p, ZERO32, TREAT), "InvalidScope", {}),
        "purpose_6": ((p, LAB, 6), "InvalidPurpose", {"purpose": 6}),
        "purpose_255": ((p, LAB, 255), "InvalidPurpose", {"purpose": 255}),
    }[case]
    with reverts(getattr(cr, error), **expected):
        cr.requestAccess(*args, h("r"), sender=actors.hospital)


@pytest.mark.parametrize("who", CONSENTERS)
def test_patient_or_guardian_approves_a_request_into_a_grant(cr, chain, actors, who):
    a, caller = actors, actors.by(who)
    rid = request(cr, a, a.researcher, LAB, HRESCH)
    t = soon(chain)
    tx = cr.approveRequest(rid, t + 3600, sender=caller)
    assert emitted(tx) == [
        ev(
            cr,
            "ConsentGranted",
            patient=a.patient,
            grantee=a.researcher,
            scope=LAB,
            purposes=bit(HRESCH),
            expiresAt=t + 3600,
            actor=caller,
        ),
        ev(
            cr,
            "AccessRequestApproved",
            requestId=rid,
            patient=a.patient,
            expiresAt=t + 3600,
            actor=caller,
        ),
    ]
    assert cr.getRequest(rid).status == APPROVED
    assert as_dict(cr.getGrant(a.patient, a.researcher, LAB)) == {
        "purposes": bit(HRESCH),
        "expiresAt": t + 3600,
        "grantedAt": t,
    }
    assert cr.isAuthorizedForRecord(a.patient, a.researcher, record_id(a.hospital, 3), LAB, HRESCH)


def test_approval_adds_the_purpose_to_the_live_grant_and_sets_the_new_expiry(cr, chain, actors):
    a = actors
    grant(cr, a, a.hospital, LAB, bit(TREAT, HPAYMT), FAR)
    rid = request(cr, a, a.hospital, LAB, HOPERAT)
    t = soon(chain)
    cr.approveRequest(rid, t + 600, sender=a.patient)
    assert as_dict(cr.getGrant(a.patient, a.hospital, LAB)) == {
        "purposes": bit(TREAT, HPAYMT, HOPERAT),
        "expiresAt": t + 600,
        "grantedAt": t,
    }


def test_approval_after_the_old_grant_expired_grants_only_the_requested_purpose(cr, chain, actors):
    a = actors
    t = soon(chain)
    grant(cr, a, a.hospital, LAB, bit(TREAT), t + 5)
    rid = request(cr, a, a.hospital, LAB, HOPERAT)
    t2 = at(chain, t + 5)  # the old grant died at this block
    cr.approveRequest(rid, t2 + 600, sender=a.patient)
    assert as_dict(cr.getGrant(a.patient, a.hospital, LAB))["purposes"] == bit(HOPERAT)


@pytest.mark.parametrize("who", NOT_CONSENTERS)
def test_nobody_else_approves_or_rejects_a_request(cr, actors, who):
    a, caller = actors, actors.by(who)
    rid = request(cr, a, a.hospital)
    with reverts(cr.NotPatientOrGuardian, actor=caller, patient=a.patient):
        cr.approveRequest(rid, FAR, sender=caller)
    with reverts(cr.NotPatientOrGuardian, actor=caller, patient=a.patient):
        cr.rejectRequest(rid, sender=caller)
    assert cr.getRequest(rid).status == PENDING


@pytest.mark.parametrize("who", CONSENTERS)
def test_patient_or_guardian_rejects_a_request(cr, actors, who):
    a, caller = actors, actors.by(who)
    rid = request(cr, a, a.researcher)
    tx = cr.rejectRequest(rid, sender=caller)
    assert emitted(tx) == [
        ev(cr, "AccessRequestRejected", requestId=rid, patient=a.patient, actor=caller)
    ]
    assert cr.getRequest(rid).status == REJECTED
    assert as_dict(cr.getGrant(a.patient, a.researcher, LAB))["purposes"] == 0


def test_unknown_requests_revert_request_not_found(cr, actors):
    with reverts(cr.RequestNotFound, requestId=0):
        cr.approveRequest(0, FAR, sender=actors.patient)
    with reverts(cr.RequestNotFound, requestId=0):
        cr.rejectRequest(0, sender=actors.patient)
    assert_view_reverts(cr, "getRequest", (0,), "RequestNotFound", requestId=0)


@pytest.mark.parametrize("first", ["approve", "reject"])
def test_an_answered_request_is_no_longer_pending(cr, actors, first):
    a = actors
    rid = request(cr, a, a.hospital)
    if first == "approve":
        cr.approveRequest(rid, FAR, sender=a.patient)
    else:
        cr.rejectRequest(rid, sender=a.patient)
    status = APPROVED if first == "approve" else REJECTED
    with reverts(cr.RequestNotPending, requestId=rid, status=status):
        cr.approveRequest(rid, FAR, sender=a.guardian)
    with reverts(cr.RequestNotPending, requestId=rid, status=status):
        cr.rejectRequest(rid, sender=a.patient)


def test_approval_with_a_past_expiry_reverts_and_leaves_the_request_pending(cr, chain, actors):
    a = actors
    rid = request(cr, a, a.hospital)
    t = soon(chain)
    with reverts(cr.InvalidExpiry, expiresAt=t, timestamp=t):
        cr.approveRequest(rid, t, sender=a.patient)
    assert cr.getRequest(rid).status == PENDING


def test_approval_for_a_requester_removed_since_reverts_not_member(cr, registry, actors):
    a = actors
    rid = request(cr, a, a.clinic)
    registry.propose(REMOVE, a.clinic, 0, ZERO32, ZERO32, 0, sender=a.hospital)
    with reverts(cr.NotMember, account=a.clinic):
        cr.approveRequest(rid, FAR, sender=a.patient)
    assert cr.getRequest(rid).status == PENDING


# -- break-glass -----------------------------------------------------------------------------


def test_an_emergency_institution_breaks_glass_for_etreat_only(cr, chain, actors):
    a = actors
    t = soon(chain)
    tx = cr.breakGlass(a.patient, h("code:unconscious"), 3600, sender=a.emergency)
    assert emitted(tx) == [
        ev(
            cr,
            "BreakGlassOpened",
            patient=a.patient,
            institution=a.emergency,
            reasonCode=h("code:unconscious"),
            expiresAt=t + 3600,
        )
    ]
    assert cr.breakGlassExpiry(a.patient, a.emergency) == t + 3600
    assert [cr.isAuthorized(a.patient, a.emergency, LAB, p) for p in range(6)] == [
        False,
        True,
        False,
        False,
        False,
        False,
    ]
    assert not cr.isAuthorized(a.other_patient, a.emergency, LAB, ETREAT)
    rid = record_id(a.hospital, 9)
    with reverts(
        cr.AccessNotAuthorized, patient=a.patient, accessor=a.emergency, recordId=rid, purpose=TREAT
    ):
        cr.recordAccess(a.patient, rid, LAB, TREAT, sender=a.emergency)
    t2 = soon(chain)
    tx = cr.recordAccess(a.patient, rid, LAB, ETREAT, sender=a.emergency)
    head = next_head(ZERO32, a.patient, a.emergency, rid, LAB, ETREAT, t2, 0, True)
    assert emitted(tx) == [
        ev(
            cr,
            "AccessRecorded",
            patient=a.patient,
            accessor=a.emergency,
            recordId=rid,
            category=LAB,
            purpose=ETREAT,
            timestamp=t2,
            seq=0,
            viaBreakGlass=True,
            head=head,
        )
    ]


@pytest.mark.parametrize("who", ["hospital", "researcher"])
def test_active_members_without_the_emergency_role_cannot_break_glass(cr, actors, who):
    caller = actors.by(who)
    with reverts(cr.MissingRole, account=caller, role=4):
        cr.breakGlass(actors.patient, h("r"), 3600, sender=caller)
    assert cr.breakGlassExpiry(actors.patient, caller) == 0


@pytest.mark.parametrize("who", NOT_INSTITUTIONS)
def test_suspended_removed_and_outsiders_cannot_break_glass(cr, actors, who):
    caller = actors.by(who)  # `suspended` and `removed` do hold the EMERGENCY role
    with reverts(cr.NotActiveInstitution, account=caller):
        cr.breakGlass(actors.patient, h("r"), 3600, sender=caller)
    assert cr.breakGlassExpiry(actors.patient, caller) == 0


def test_break_glass_lasts_at_most_72_hours(cr, chain, actors):
    a = actors
    t = soon(chain)
    with reverts(cr.BreakGlassTooLong, duration=MAX_BREAK_GLASS + 1, max=MAX_BREAK_GLASS):
        cr.breakGlass(a.patient, h("r"), MAX_BREAK_GLASS + 1, sender=a.emergency)
    t = soon(chain)
    cr.breakGlass(a.patient, h("r"), MAX_BREAK_GLASS, sender=a.emergency)
    assert cr.breakGlassExpiry(a.patient, a.emergency) == t + MAX_BREAK_GLASS


def test_break_glass_needs_a_duration_and_a_patient(cr, actors):
    with reverts(cr.ZeroDuration):
        cr.breakGlass(actors.patient, h("r"), 0, sender=actors.emergency)
    with reverts(cr.ZeroAddress):
        cr.breakGlass(ZERO_ADDRESS, h("r"), 60, sender=actors.emergency)


def test_break_glass_expires_at_its_boundary(cr, chain, actors):
    a = actors
    t = soon(chain)
    cr.breakGlass(a.patient, h("r"), 100, sender=a.emergency)
    seen = []
    for when in (t + 99, t + 100, t + 101):
        chain.mine(timestamp=when)
        seen.append(cr.isAuthorized(a.patient, a.emergency, SCOPE_ALL, ETREAT))
    assert seen == [True, False, False]


def test_break_glass_access_at_expiry_minus_one_is_logged_and_at_expiry_refused(cr, chain, actors):
    a = actors
    t = soon(chain)
    cr.breakGlass(a.patient, h("r"), 100, sender=a.emergency)
    rid = record_id(a.hospital, 1)
    at(chain, t + 99)
    cr.recordAccess(a.patient, rid, LAB, ETREAT, sender=a.emergency)
    at(chain, t + 100)
    with reverts(
        cr.AccessNotAuthorized,
        patient=a.patient,
        accessor=a.emergency,
        recordId=rid,
        purpose=ETREAT,
    ):
        cr.recordAccess(a.patient, rid, LAB, ETREAT, sender=a.emergency)
    assert cr.auditHead(a.patient).count == 1


def test_a_grant_covering_etreat_is_used_before_break_glass(cr, chain, actors):
    a = actors
    cr.breakGlass(a.patient, h("r"), 100, sender=a.emergency)
    grant(cr, a, a.emergency, SCOPE_ALL, bit(ETREAT))
    rid = record_id(a.hospital, 1)
    t = soon(chain)
    tx = cr.recordAccess(a.patient, rid, LAB, ETREAT, sender=a.emergency)
    assert not emitted(tx)[0][2]["viaBreakGlass"]
    assert cr.auditHead(a.patient).head == next_head(
        ZERO32, a.patient, a.emergency, rid, LAB, ETREAT, t, 0, False
    )


def test_suspension_ends_an_open_break_glass(cr, registry, actors):
    a = actors
    cr.breakGlass(a.patient, h("r"), 3600, sender=a.emergency)
    registry.propose(SUSPEND, a.emergency, 0, ZERO32, ZERO32, 0, sender=a.hospital)
    assert not cr.isAuthorized(a.patient, a.emergency, SCOPE_ALL, ETREAT)
    rid = record_id(a.hospital, 1)
    with reverts(
        cr.AccessNotAuthorized,
        patient=a.patient,
        accessor=a.emergency,
        recordId=rid,
        purpose=ETREAT,
    ):
        cr.recordAccess(a.patient, rid, LAB, ETREAT, sender=a.emergency)


# -- authorisation over record / category / SCOPE_ALL -----------------------------------------


def test_a_record_grant_covers_that_record_whatever_its_category_and_nothing_else(cr, actors):
    a = actors
    r1, r2 = record_id(a.clinic, 1), record_id(a.clinic, 2)
    grant(cr, a, a.hospital, r1, bit(TREAT))
    assert cr.isAuthorizedForRecord(a.patient, a.hospital, r1, LAB, TREAT)
    assert cr.isAuthorizedForRecord(a.patient, a.hospital, r1, IMAGING, TREAT)
    assert not cr.isAuthorizedForRecord(a.patient, a.hospital, r2, LAB, TREAT)
    assert cr.isAuthorized(a.patient, a.hospital, r1, TREAT)
    assert not cr.isAuthorized(a.patient, a.hospital, r2, TREAT)
    assert not cr.isAuthorized(a.patient, a.hospital, SCOPE_ALL, TREAT)
    assert not cr.isAuthorized(a.patient, a.hospital, r1, HPAYMT)


def test_a_category_grant_covers_every_record_of_that_category_only(cr, actors):
    a = actors
    r1, r2 = record_id(a.clinic, 1), record_id(a.hospital, 2)
    grant(cr, a, a.hospital, LAB, bit(TREAT))
    assert cr.isAuthorizedForRecord(a.patient, a.hospital, r1, LAB, TREAT)
    assert cr.isAuthorizedForRecord(a.patient, a.hospital, r2, LAB, TREAT)
    assert not cr.isAuthorizedForRecord(a.patient, a.hospital, r1, IMAGING, TREAT)
    assert cr.isAuthorized(a.patient, a.hospital, LAB, TREAT)
    assert not cr.isAuthorized(a.patient, a.hospital, IMAGING, TREAT)


def test_scope_all_covers_every_record_and_category(cr, actors):
    a = actors
    grant(cr, a, a.researcher, SCOPE_ALL, bit(HRESCH))
    for rid, cat in [
        (record_id(a.clinic, 1), LAB),
        (record_id(a.hospital, 5), IMAGING),
        (h("x"), category("z")),
    ]:
        assert cr.isAuthorizedForRecord(a.patient, a.researcher, rid, cat, HRESCH)
        assert cr.isAuthorized(a.patient, a.researcher, rid, HRESCH)
        assert not cr.isAuthorizedForRecord(a.patient, a.researcher, rid, cat, TREAT)


def test_only_the_granted_purposes_of_the_granted_patient_and_grantee_authorise(cr, actors):
    a = actors
    grant(cr, a, a.hospital, SCOPE_ALL, bit(TREAT, HRESCH))
    assert [cr.isAuthorized(a.patient, a.hospital, LAB, p) for p in (*range(6), 6, 31, 255)] == [
        True,
        False,
        False,
        False,
        True,
        False,
        False,
        False,
        False,
    ]
    assert not cr.isAuthorized(a.patient, a.clinic, LAB, TREAT)
    assert not cr.isAuthorized(a.other_patient, a.hospital, LAB, TREAT)
    assert not cr.isAuthorized(a.patient, a.stranger, LAB, TREAT)


@pytest.mark.parametrize("scope", ["record", "category", "all"])
def test_a_grant_is_live_at_expiry_minus_one_and_dead_at_expiry_and_after(cr, chain, actors, scope):
    a = actors
    rid = record_id(a.clinic, 1)
    granted = {"record": rid, "category": LAB, "all": SCOPE_ALL}[scope]
    t = soon(chain)
    grant(cr, a, a.hospital, granted, bit(TREAT), t + 100)
    seen = []
    for when in (t + 99, t + 100, t + 101):
        chain.mine(timestamp=when)
        seen.append(
            (
                cr.isAuthorizedForRecord(a.patient, a.hospital, rid, LAB, TREAT),
                cr.isAuthorized(a.patient, a.hospital, granted, TREAT),
            )
        )
    assert seen == [(True, True), (False, False), (False, False)]


def test_record_access_at_expiry_minus_one_succeeds_and_at_expiry_reverts(cr, chain, actors):
    a = actors
    rid = record_id(a.clinic, 1)
    t = soon(chain)
    grant(cr, a, a.hospital, LAB, bit(TREAT), t + 100)
    at(chain, t + 99)
    cr.recordAccess(a.patient, rid, LAB, TREAT, sender=a.hospital)
    at(chain, t + 100)
    with reverts(
        cr.AccessNotAuthorized, patient=a.patient, accessor=a.hospital, recordId=rid, purpose=TREAT
    ):
        cr.recordAccess(a.patient, rid, LAB, TREAT, sender=a.hospital)
    at(chain, t + 101)
    with reverts(
        cr.AccessNotAuthorized, patient=a.patient, accessor=a.hospital, recordId=rid, purpose=TREAT
    ):
        cr.recordAccess(a.patient, rid, LAB, TREAT, sender=a.hospital)
    assert cr.auditHead(a.patient).count == 1


# -- record access and the audit chain ------------------------------------------------------


def test_the_audit_head_recomputed_in_python_equals_the_chain_over_several_accesses(
    cr, chain, actors
):
    a = actors
    r_lab, r_img = record_id(a.clinic, 1), record_id(a.hospital, 2)
    grant(cr, a, a.hospital, r_lab, bit(TREAT))
    grant(cr, a, a.clinic, IMAGING, bit(TREAT, HOPERAT))
    grant(cr, a, a.researcher, SCOPE_ALL, bit(HRESCH))
    cr.breakGlass(a.patient, h("r"), 3600, sender=a.emergency)
    accesses = [
        (a.hospital, r_lab, LAB, TREAT, False),
        (a.clinic, r_img, IMAGING, HOPERAT, False),
        (a.researcher, r_lab, LAB, HRESCH, False),
        (a.emergency, r_img, IMAGING, ETREAT, True),
        (a.hospital, r_lab, LAB, TREAT, False),  # the same access again is a new entry
    ]
    head, receipts = ZERO32, []
    for seq, (who, rid, cat, purpose, via) in enumerate(accesses):
        t = soon(chain, 7)
        tx = cr.recordAccess(a.patient, rid, cat, purpose, sender=who)
        head = next_head(head, a.patient, who, rid, cat, purpose, t, seq, via)
        assert emitted(tx) == [
            ev(
                cr,
                "AccessRecorded",
                patient=a.patient,
                accessor=who,
                recordId=rid,
                category=cat,
                purpose=purpose,
                timestamp=t,
                seq=seq,
                viaBreakGlass=via,
                head=head,
            )
        ]
        receipts.append(tx)
        assert as_dict(cr.auditHead(a.patient)) == {"head": head, "count": seq + 1}
    assert receipts[-1].return_value == head
    # an auditor holding only the logs gets the same head
    replay = ZERO32
    for tx in receipts:
        e = emitted(tx)[0][2]
        replay = next_head(
            replay,
            e["patient"],
            e["accessor"],
            e["recordId"],
            e["category"],
            e["purpose"],
            e["timestamp"],
            e["seq"],
            bool(e["viaBreakGlass"]),
        )
        assert replay == e["head"]
    assert replay == cr.auditHead(a.patient).head
    assert head[24:] == b"\x00" * 8  # 192-bit head, zero-padded


def test_each_patient_has_its_own_audit_chain(cr, chain, actors):
    a = actors
    rid = record_id(a.clinic, 1)
    grant(cr, a, a.hospital, SCOPE_ALL, bit(TREAT))
    grant(cr, a, a.hospital, SCOPE_ALL, bit(TREAT), patient=a.other_patient)
    cr.recordAccess(a.patient, rid, LAB, TREAT, sender=a.hospital)
    before = as_dict(cr.auditHead(a.patient))
    t = soon(chain)
    cr.recordAccess(a.other_patient, rid, LAB, TREAT, sender=a.hospital)
    assert as_dict(cr.auditHead(a.patient)) == before
    assert as_dict(cr.auditHead(a.other_patient)) == {
        "head": next_head(ZERO32, a.other_patient, a.hospital, rid, LAB, TREAT, t, 0, False),
        "count": 1,
    }


@pytest.mark.parametrize(
    "who",
    [
        "stranger",
        "hospital",
        "researcher",
        "emergency",
        "suspended",
        "removed",
        "patient",
        "guardian",
    ],
)
def test_record_access_without_authorisation_reverts_and_leaves_the_head(cr, actors, who):
    a, caller = actors, actors.by(who)
    grant(cr, a, a.clinic, SCOPE_ALL, bit(TREAT))  # someone else's grant
    rid = record_id(a.clinic, 4)
    with reverts(
        cr.AccessNotAuthorized, patient=a.patient, accessor=caller, recordId=rid, purpose=TREAT
    ):
        cr.recordAccess(a.patient, rid, LAB, TREAT, sender=caller)
    assert as_dict(cr.auditHead(a.patient)) == {"head": ZERO32, "count": 0}


def test_record_access_with_an_unknown_purpose_reverts_invalid_purpose(cr, actors):
    a = actors
    grant(cr, a, a.hospital, SCOPE_ALL, bit(*range(6)))
    with reverts(cr.InvalidPurpose, purpose=6):
        cr.recordAccess(a.patient, record_id(a.clinic, 1), LAB, 6, sender=a.hospital)


# -- no health data on chain ------------------------------------------------------------------


def _words(data: bytes) -> list[bytes]:
    assert len(data) % 32 == 0
    return [data[i : i + 32] for i in range(0, len(data), 32)]


def test_grant_request_and_access_transactions_carry_only_addresses_codes_and_hashes(
    cr, chain, actors
):
    a = actors
    canaries = ["Jane Q. Patient", "HIV positive", "suspected HIV exposure follow-up", "11502-2"]
    reason = keccak(text=canaries[2])  # the reason text stays off chain; only its hash is sent
    rid = record_id(a.clinic, 0xC0FFEE)
    t = soon(chain)
    txs = [
        cr.registerPatientKey(a.patient, h("x25519 public key"), sender=a.patient),
        grant(cr, a, a.hospital, LAB, bit(TREAT), t + 3600),
        cr.requestAccess(a.patient, LAB, HRESCH, reason, sender=a.researcher),
        cr.recordAccess(a.patient, rid, LAB, TREAT, sender=a.hospital),
    ]
    head = cr.auditHead(a.patient).head
    people = {
        bytes(12) + bytes.fromhex(addr(x)[2:]) for x in (a.patient, a.hospital, a.researcher, cr)
    }
    hashes = {h("x25519 public key"), LAB, reason, rid, head}
    topics0 = {
        keccak(text=s)
        for s in (
            "PatientKeyRegistered(address,bytes32)",
            "ConsentGranted(address,address,bytes32,uint32,uint64,address)",
            "AccessRequested(uint256,address,address,bytes32,uint8,bytes32)",
            "AccessRecorded(address,address,bytes32,bytes32,uint8,uint64,uint64,bool,bytes32)",
        )
    }

    def allowed(word: bytes) -> bool:
        small = int.from_bytes(word, "big") < 2**64  # codes, masks, counters, timestamps
        return small or word in people or word in hashes

    for tx in txs:
        calldata = bytes(tx.transaction.data)
        blobs = [calldata] + [bytes(log["data"]) for log in tx.logs]
        blobs += [bytes(t) for log in tx.logs for t in log["topics"]]
        for canary in canaries:
            for blob in blobs:
                assert canary.encode() not in blob
        assert all(allowed(w) for w in _words(calldata[4:])), calldata.hex()
        for log in tx.logs:
            topics = [bytes(t) for t in log["topics"]]
            assert topics[0] in topics0
            assert all(allowed(w) for w in topics[1:] + _words(bytes(log["data"])))
