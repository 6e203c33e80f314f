"""ConsentRegistry, direct paths: patient keys, guardians, grants, requests, break-glass,
authorisation over record / category / SCOPE_ALL at expiry boundaries, the record binding that
recordAccess checks first, admission epochs, the audit chain (accesses, break-glass openings and
closings), and no plaintext on chain. Signed (EIP-712) paths are in test_consent_signatures.py.

Time: a grant (guardian, break-glass) is live while block.timestamp < expiresAt. Transactions are
mined at exact timestamps (`chain.pending_timestamp = t`); views read the latest block, so a view
at time t is asked after `chain.mine(timestamp=t)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from contract_kit import (
    ADMIT,
    APPROVED,
    BREAK_GLASS_COOLDOWN,
    BREAK_GLASS_PERIOD,
    BREAK_GLASS_PERIOD_CAP,
    CHANGE_ROLES,
    DAY,
    ETREAT,
    HOPERAT,
    HOUR,
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
    ROLE_EMERGENCY,
    ROLE_PROVIDER,
    SCOPE_ALL,
    SUSPEND,
    TREAT,
    TYPE_STRINGS,
    TYPEHASH_GETTERS,
    ZERO32,
    ZERO_ADDRESS,
    Rec,
    Tree,
    addr,
    anchor_record,
    as_dict,
    assert_deploy_reverts,
    assert_view_reverts,
    batch_id,
    bit,
    category,
    closed_head,
    emitted,
    ev,
    h,
    leaf,
    member_id,
    next_head,
    opened_head,
    record_id,
    replay_audit_logs,
    reverts,
)
from eth_abi import encode
from eth_utils import keccak

FAR = 2**32 - 1  # the last second a uint32 expiry can hold (2106); no test reaches it
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


@dataclass(frozen=True)
class Recs:
    """Records anchored once per module (see `recs`)."""

    lab: Rec  # clinic's LAB record of `patient`
    img: Rec  # hospital's IMAGING record of `patient`
    lab2: Rec  # hospital's LAB record of `patient`
    other_lab: Rec  # clinic's LAB record of `other_patient`
    batch: tuple[Rec, ...]  # hospital's LAB batch 1: patient, other_patient, patient


@pytest.fixture(scope="module")
def cr(ledger: Any, actors: Any) -> Any:
    """The consent registry, with `guardian` appointed by `patient` (until FAR)."""
    ledger.consent.setGuardian(actors.guardian, FAR, sender=actors.patient)
    return ledger.consent


@pytest.fixture(scope="module")
def recs(ledger: Any, actors: Any) -> Recs:
    a, rr = actors, ledger.records
    lab = anchor_record(rr, a.clinic, a.patient, 1, LAB)
    img = anchor_record(rr, a.hospital, a.patient, 2, IMAGING)
    lab2 = anchor_record(rr, a.hospital, a.patient, 3, LAB)
    other_lab = anchor_record(rr, a.clinic, a.other_patient, 4, LAB)
    b = batch_id(a.hospital, 1)
    rows = [
        (addr(p), member_id(b, i), h(f"batch blob {i}"), LAB)
        for i, p in enumerate([a.patient, a.other_patient, a.patient])
    ]
    tree = Tree([leaf(*r) for r in rows])
    rr.anchorBatch(b, tree.root, len(rows), LAB, sender=a.hospital)
    batch = tuple(
        Rec(p, rid, cat, c, tuple(tree.proof(i))) for i, (p, rid, c, cat) in enumerate(rows)
    )
    return Recs(lab, img, lab2, other_lab, batch)


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


def access(cr: Any, rec: Rec, purpose: int, sender: Any) -> Any:
    return cr.recordAccess(*rec.access_args(purpose), sender=sender)


def stored(cr: Any, patient: Any, grantee: Any, scope: bytes) -> dict[str, Any]:
    return as_dict(cr.getGrant(patient, grantee, scope))


def expiries(**by_purpose: int) -> list[int]:
    """The six per-purpose expiries of a grant: expiries(TREAT=t) -> [t, 0, 0, 0, 0, 0]."""
    names = ["TREAT", "ETREAT", "HPAYMT", "HOPERAT", "HRESCH", "PUBHLTH"]
    return [by_purpose.get(n, 0) for n in names]


def grant_of(purposes: int, expires: int, granted_at: int, epoch: int = 1) -> dict[str, Any]:
    """What getGrant returns after grant(purposes, expires) at `granted_at`."""
    return {
        "purposes": purposes,
        "expiresAt": [expires if purposes >> p & 1 else 0 for p in range(6)],
        "grantedAt": granted_at,
        "epoch": epoch,
    }


NO_GRANT = {"purposes": 0, "expiresAt": [0] * 6, "grantedAt": 0, "epoch": 0}


def not_authorized(cr: Any, patient: Any, accessor: Any, rid: bytes, purpose: int) -> Any:
    return reverts(
        cr.AccessNotAuthorized, patient=patient, accessor=accessor, recordId=rid, purpose=purpose
    )


# -- deployment ------------------------------------------------------------------------------


def test_constructor_refuses_a_zero_institution_or_record_registry(project, registry, records):
    assert_deploy_reverts(project.ConsentRegistry, (ZERO_ADDRESS, records), "ZeroAddress")
    assert_deploy_reverts(project.ConsentRegistry, (registry, ZERO_ADDRESS), "ZeroAddress")


def test_constants_and_wiring_match_the_api(cr, registry, records):
    assert cr.SCOPE_ALL() == keccak(b"careledger.scope.ALL") == SCOPE_ALL
    assert cr.MAX_BREAK_GLASS() == MAX_BREAK_GLASS == 259_200
    assert (cr.BREAK_GLASS_COOLDOWN(), cr.BREAK_GLASS_PERIOD(), cr.BREAK_GLASS_PERIOD_CAP()) == (
        24 * HOUR,
        30 * DAY,
        7 * DAY,
    )
    assert (cr.PURPOSE_ETREAT(), cr.MAX_PURPOSE()) == (ETREAT, PUBHLTH)
    for name, getter in TYPEHASH_GETTERS.items():
        assert getattr(cr, getter)() == keccak(text=TYPE_STRINGS[name]), name
    assert addr(cr.institutions()) == addr(registry) and addr(cr.records()) == addr(records)
    assert cr.requestCount() == 0


def test_v1_entry_points_are_gone(cr):
    functions = {a.name: a for a in cr.contract_type.abi if a.type == "function"}
    assert not {"getRequest", "breakGlassExpiry"} & set(functions)
    assert [i.name for i in functions["registerPatientKey"].inputs] == ["encryptionKey"]


# -- patient keys ----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["patient", "guardian", "stranger", "hospital"])
def test_each_account_registers_and_rotates_only_its_own_key(cr, actors, who):
    a, caller = actors, actors.by(who)
    tx = cr.registerPatientKey(h("pk1"), sender=caller)
    assert emitted(tx) == [ev(cr, "PatientKeyRegistered", patient=caller, encryptionKey=h("pk1"))]
    cr.registerPatientKey(h("pk2"), sender=caller)
    assert cr.patientKeyOf(caller) == h("pk2")
    others = [x for x in (a.patient, a.guardian, a.other_patient) if addr(x) != addr(caller)]
    assert all(cr.patientKeyOf(x) == ZERO32 for x in others)


def test_a_guardian_cannot_register_the_patients_key(cr, actors):
    """v1: registerPatientKey(patient, key) by a live guardian replaced the patient's key, so the
    guardian could read every record published afterwards, even after its guardianship ended."""
    a = actors
    cr.registerPatientKey(h("patient's own key"), sender=a.patient)
    assert cr.isGuardian(a.patient, a.guardian)
    cr.registerPatientKey(h("guardian's key"), sender=a.guardian)  # its own key, nobody else's
    assert cr.patientKeyOf(a.patient) == h("patient's own key")
    assert cr.patientKeyOf(a.guardian) == h("guardian's key")


def test_a_zero_patient_key_is_refused(cr, actors):
    with reverts(cr.InvalidEncryptionKey):
        cr.registerPatientKey(ZERO32, sender=actors.patient)
    assert cr.patientKeyOf(actors.patient) == ZERO32


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
    cr.grant(p, actors.hospital, LAB, bit(TREAT), FAR, sender=g)
    assert cr.isAuthorized(p, actors.hospital, LAB, TREAT)
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


def test_after_its_guardianship_ends_a_guardian_has_no_path_to_new_records_keys(
    cr, chain, actors, records
):
    """The keys of records published after the guardianship are wrapped to patientKeyOf(patient),
    which only the patient sets; and the former guardian can no longer consent for anyone."""
    a = actors
    p, g = a.other_patient, a.stranger
    cr.registerPatientKey(h("other patient's key"), sender=p)
    t = soon(chain)
    cr.setGuardian(g, t + 100, sender=p)
    cr.registerPatientKey(h("guardian's key"), sender=g)  # while live: only its own key
    assert cr.patientKeyOf(p) == h("other patient's key")
    at(chain, t + 100)
    rid = cr.requestAccess(p, SCOPE_ALL, TREAT, h("r"), sender=a.hospital).return_value
    details = (rid, a.hospital, p, SCOPE_ALL, TREAT)
    with reverts(cr.NotPatientOrGuardian, actor=g, patient=p):
        cr.grant(p, a.hospital, SCOPE_ALL, bit(TREAT), FAR, sender=g)
    with reverts(cr.NotPatientOrGuardian, actor=g, patient=p):
        cr.approveRequest(details, FAR, sender=g)
    new = anchor_record(records, a.hospital, p, 77, LAB)  # published after the guardianship
    with not_authorized(cr, p, a.hospital, new.id, TREAT):
        access(cr, new, TREAT, a.hospital)
    assert cr.patientKeyOf(p) == h("other patient's key")
    assert cr.requestStatus(rid) == PENDING


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
    cr.setGuardian(a.stranger, FAR, sender=a.guardian)  # the guardian's own guardian
    assert cr.isGuardian(a.guardian, a.stranger) and not cr.isGuardian(a.patient, a.stranger)
    cr.setGuardian(a.other_patient, FAR, sender=a.patient)
    with reverts(cr.GuardianNotFound, patient=a.guardian, guardian=a.other_patient):
        cr.removeGuardian(a.other_patient, sender=a.guardian)
    assert cr.isGuardian(a.patient, a.other_patient) and cr.isGuardian(a.patient, a.guardian)


def test_a_patient_removes_a_guardian_who_then_cannot_act(cr, actors):
    a = actors
    tx = cr.removeGuardian(a.guardian, sender=a.patient)
    assert emitted(tx) == [ev(cr, "GuardianRemoved", patient=a.patient, guardian=a.guardian)]
    assert cr.guardianExpiry(a.patient, a.guardian) == 0
    assert not cr.isGuardian(a.patient, a.guardian)
    with reverts(cr.NotPatientOrGuardian, actor=a.guardian, patient=a.patient):
        grant(cr, a, a.hospital, SCOPE_ALL, bit(TREAT), sender=a.guardian)
    with reverts(cr.GuardianNotFound, patient=a.patient, guardian=a.guardian):
        cr.removeGuardian(a.guardian, sender=a.patient)


def test_an_expired_appointment_can_still_be_removed(cr, chain, actors):
    p, g = actors.other_patient, actors.stranger
    t = soon(chain)
    cr.setGuardian(g, t + 5, sender=p)
    at(chain, t + 50)
    tx = cr.removeGuardian(g, sender=p)
    assert emitted(tx) == [ev(cr, "GuardianRemoved", patient=p, guardian=g)]
    assert cr.guardianExpiry(p, g) == 0


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
    assert stored(cr, a.patient, a.hospital, LAB) == grant_of(purposes, t + 3600, t)
    assert [cr.isAuthorized(a.patient, a.hospital, LAB, p) for p in range(6)] == [
        True,
        False,
        True,
        False,
        False,
        False,
    ]
    # nothing else changed
    assert stored(cr, a.patient, a.hospital, SCOPE_ALL) == NO_GRANT
    assert stored(cr, a.patient, a.clinic, LAB) == NO_GRANT
    assert stored(cr, a.other_patient, a.hospital, LAB) == NO_GRANT


@pytest.mark.parametrize("who", NOT_CONSENTERS)
def test_nobody_else_grants(cr, actors, who):
    a, caller = actors, actors.by(who)
    with reverts(cr.NotPatientOrGuardian, actor=caller, patient=a.patient):
        grant(cr, a, a.hospital, SCOPE_ALL, bit(TREAT), sender=caller)
    assert stored(cr, a.patient, a.hospital, SCOPE_ALL) == NO_GRANT


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
        "expires_after_2106": (
            (p, hosp, LAB, bit(TREAT), 2**32),
            "InvalidExpiry",
            {"expiresAt": 2**32, "timestamp": t},
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
        "expires_after_2106",
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
    assert stored(cr, actors.patient, actors.hospital, LAB) == NO_GRANT


def test_every_purpose_at_once_one_second_ahead_and_the_last_uint32_second_are_accepted(
    cr, chain, actors
):
    a = actors
    t = soon(chain)
    grant(cr, a, a.hospital, SCOPE_ALL, bit(*range(6)), t + 1)
    assert stored(cr, a.patient, a.hospital, SCOPE_ALL) == grant_of(0b111111, t + 1, t)
    assert all(cr.isAuthorized(a.patient, a.hospital, h("any"), p) for p in range(6))
    t = soon(chain)
    grant(cr, a, a.clinic, LAB, bit(PUBHLTH), 2**32 - 1)
    assert stored(cr, a.patient, a.clinic, LAB) == grant_of(bit(PUBHLTH), 2**32 - 1, t)


def test_a_new_grant_replaces_the_old_one_on_the_same_scope(cr, chain, actors):
    a = actors
    grant(cr, a, a.hospital, LAB, bit(TREAT, HPAYMT), FAR)
    t = soon(chain)
    grant(cr, a, a.hospital, LAB, bit(PUBHLTH), t + 60)
    assert stored(cr, a.patient, a.hospital, LAB) == grant_of(bit(PUBHLTH), t + 60, t)
    assert not cr.isAuthorized(a.patient, a.hospital, LAB, TREAT)


def test_a_suspended_member_may_be_granted_but_is_authorised_only_once_reinstated(
    cr, registry, actors, recs
):
    a = actors
    tx = grant(cr, a, a.suspended, SCOPE_ALL, bit(TREAT))
    assert emitted(tx)[0][1] == "ConsentGranted"
    assert stored(cr, a.patient, a.suspended, SCOPE_ALL)["epoch"] == 1
    assert not cr.isAuthorized(a.patient, a.suspended, SCOPE_ALL, TREAT)
    with not_authorized(cr, a.patient, a.suspended, recs.lab.id, TREAT):
        access(cr, recs.lab, TREAT, a.suspended)
    registry.propose(REINSTATE, a.suspended, 0, ZERO32, ZERO32, 0, sender=a.hospital)
    assert cr.isAuthorized(a.patient, a.suspended, SCOPE_ALL, TREAT)
    access(cr, recs.lab, TREAT, a.suspended)
    assert cr.auditHead(a.patient).count == 1


@pytest.mark.parametrize("change", [SUSPEND, REMOVE])
def test_suspending_or_removing_a_grantee_ends_its_authorisation(
    cr, registry, actors, recs, change
):
    a = actors
    grant(cr, a, a.clinic, SCOPE_ALL, bit(TREAT))
    assert cr.isAuthorized(a.patient, a.clinic, LAB, TREAT)
    registry.propose(change, a.clinic, 0, ZERO32, ZERO32, 0, sender=a.hospital)
    assert not cr.isAuthorized(a.patient, a.clinic, LAB, TREAT)
    assert not cr.isAuthorizedForRecord(a.patient, a.clinic, recs.lab.id, LAB, TREAT)
    with not_authorized(cr, a.patient, a.clinic, recs.lab.id, TREAT):
        access(cr, recs.lab, TREAT, a.clinic)
    assert stored(cr, a.patient, a.clinic, SCOPE_ALL)["purposes"] == bit(TREAT)


# -- admission epochs ------------------------------------------------------------------------


def _remove_and_readmit_in_one_block(
    chain: Any, registry: Any, a: Any, who: Any, roles: int
) -> None:
    """Remove `who` and admit it again in a single block (threshold 1: each proposal executes).
    One sender with consecutive nonces, so the block holds them in this order."""
    nonce = a.hospital.nonce
    chain.provider.auto_mine = False
    try:
        # explicit gas and nonces: nothing is estimated or counted against the pending block
        t1 = registry.propose(
            REMOVE, who, 0, ZERO32, ZERO32, 0, sender=a.hospital, gas_limit=500_000, nonce=nonce
        )
        t2 = registry.propose(
            ADMIT,
            who,
            roles,
            h("new key"),
            ZERO32,
            0,
            sender=a.hospital,
            gas_limit=500_000,
            nonce=nonce + 1,
        )
        chain.mine()
    finally:
        chain.provider.auto_mine = True
    r1, r2 = (chain.provider.get_receipt(t.txn_hash) for t in (t1, t2))
    assert r1.status == r2.status == 1 and r1.block_number == r2.block_number
    # both succeeded, so the removal came first (an admission of an active member reverts)


def test_removal_and_readmission_in_the_same_block_do_not_revive_grants(
    cr, chain, registry, actors, recs
):
    """v1 compared the grant's time with activeSince: a removal and re-admission within the same
    second kept every old grant alive. v2 ties each grant to the grantee's admission epoch."""
    a = actors
    grant(cr, a, a.clinic, SCOPE_ALL, bit(TREAT, HRESCH))
    grant(cr, a, a.clinic, recs.lab.id, bit(TREAT))
    assert cr.isAuthorizedForRecord(a.patient, a.clinic, recs.lab.id, LAB, TREAT)
    _remove_and_readmit_in_one_block(chain, registry, a, a.clinic, ROLE_PROVIDER)
    assert tuple(registry.membership(a.clinic)) == (1, ROLE_PROVIDER, 2)
    assert stored(cr, a.patient, a.clinic, SCOPE_ALL)["epoch"] == 1
    assert not any(cr.isAuthorized(a.patient, a.clinic, SCOPE_ALL, p) for p in range(6))
    assert not cr.isAuthorizedForRecord(a.patient, a.clinic, recs.lab.id, LAB, TREAT)
    with not_authorized(cr, a.patient, a.clinic, recs.lab.id, TREAT):
        access(cr, recs.lab, TREAT, a.clinic)
    # consent given in the new epoch counts
    grant(cr, a, a.clinic, LAB, bit(TREAT))
    assert stored(cr, a.patient, a.clinic, LAB)["epoch"] == 2
    access(cr, recs.lab, TREAT, a.clinic)


def test_removal_and_readmission_do_not_revive_an_open_break_glass_window(
    cr, chain, registry, actors, recs
):
    a = actors
    cr.breakGlass(a.patient, h("r"), 3600, sender=a.emergency)
    assert cr.isAuthorized(a.patient, a.emergency, SCOPE_ALL, ETREAT)
    _remove_and_readmit_in_one_block(chain, registry, a, a.emergency, ROLE_EMERGENCY)
    assert cr.breakGlassWindow(a.patient, a.emergency).epoch == 1
    assert not cr.isAuthorized(a.patient, a.emergency, SCOPE_ALL, ETREAT)
    with not_authorized(cr, a.patient, a.emergency, recs.lab.id, ETREAT):
        access(cr, recs.lab, ETREAT, a.emergency)


# -- revoke ----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", CONSENTERS)
def test_patient_or_guardian_revokes_and_access_stops(cr, actors, recs, who):
    a, caller = actors, actors.by(who)
    grant(cr, a, a.hospital, LAB, bit(TREAT))
    grant(cr, a, a.hospital, IMAGING, bit(TREAT))
    tx = cr.revoke(a.patient, a.hospital, LAB, sender=caller)
    assert emitted(tx) == [
        ev(cr, "ConsentRevoked", patient=a.patient, grantee=a.hospital, scope=LAB, actor=caller)
    ]
    assert stored(cr, a.patient, a.hospital, LAB) == NO_GRANT
    assert not cr.isAuthorized(a.patient, a.hospital, LAB, TREAT)
    with not_authorized(cr, a.patient, a.hospital, recs.lab.id, TREAT):
        access(cr, recs.lab, TREAT, a.hospital)
    assert cr.isAuthorized(a.patient, a.hospital, IMAGING, TREAT)  # the other scope stays


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
    assert stored(cr, a.patient, a.hospital, LAB) == NO_GRANT


# -- access requests -------------------------------------------------------------------------


def request(
    cr: Any,
    a: Any,
    requester: Any,
    scope: bytes = LAB,
    purpose: int = HRESCH,
    reason: bytes | None = None,
    patient: Any = None,
) -> tuple[int, Any, Any, bytes, int]:
    """Make a request; return its details (requestId, requester, patient, scope, purpose)."""
    patient = patient or a.patient
    rid = cr.requestCount() + 1
    cr.requestAccess(patient, scope, purpose, reason or h("reason"), sender=requester)
    return (rid, requester, patient, scope, purpose)


@pytest.mark.parametrize("who", INSTITUTIONS)
def test_any_active_institution_requests_access_with_ids_from_one(cr, actors, who):
    a, caller = actors, actors.by(who)
    tx = cr.requestAccess(a.patient, LAB, HRESCH, h("study 42"), sender=caller)
    assert tx.return_value == 1
    assert emitted(tx) == [
        ev(
            cr,
            "AccessRequested",
            requestId=1,
            patient=a.patient,
            requester=caller,
            scope=LAB,
            purpose=HRESCH,
            reasonHash=h("study 42"),
        )
    ]
    assert cr.requestStatus(1) == PENDING and cr.requestCount() == 1
    assert not cr.isAuthorized(a.patient, caller, LAB, HRESCH)  # a request grants nothing
    tx = cr.requestAccess(a.other_patient, IMAGING, TREAT, h("again"), sender=caller)
    assert tx.return_value == 2 and cr.requestCount() == 2
    assert_view_reverts(cr, "requestStatus", (3,), "RequestNotFound", requestId=3)


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
    assert cr.requestCount() == 0


@pytest.mark.parametrize("who", CONSENTERS)
def test_patient_or_guardian_approves_a_request_into_a_grant(cr, chain, actors, who):
    a, caller = actors, actors.by(who)
    req = request(cr, a, a.researcher, LAB, HRESCH)
    t = soon(chain)
    tx = cr.approveRequest(req, t + 3600, sender=caller)
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
            requestId=req[0],
            patient=a.patient,
            expiresAt=t + 3600,
            actor=caller,
        ),
    ]
    assert cr.requestStatus(req[0]) == APPROVED
    assert stored(cr, a.patient, a.researcher, LAB) == grant_of(bit(HRESCH), t + 3600, t)
    assert cr.isAuthorizedForRecord(a.patient, a.researcher, record_id(a.hospital, 3), LAB, HRESCH)
    assert stored(cr, a.patient, a.researcher, SCOPE_ALL) == NO_GRANT


def test_approving_hresch_for_a_year_does_not_extend_a_one_day_treat_grant(cr, chain, actors, recs):
    """v1 stored one expiry per grant: approving HRESCH for 365 days moved TREAT's expiry too."""
    a = actors
    t = soon(chain)
    grant(cr, a, a.hospital, LAB, bit(TREAT), t + DAY)
    req = request(cr, a, a.hospital, LAB, HRESCH)
    t2 = soon(chain)
    tx = cr.approveRequest(req, t2 + 365 * DAY, sender=a.patient)
    assert emitted(tx)[0][2]["purposes"] == bit(HRESCH)
    assert stored(cr, a.patient, a.hospital, LAB) == {
        "purposes": bit(TREAT, HRESCH),
        "expiresAt": expiries(TREAT=t + DAY, HRESCH=t2 + 365 * DAY),
        "grantedAt": t2,
        "epoch": 1,
    }
    at(chain, t + DAY - 1)
    access(cr, recs.lab, TREAT, a.hospital)
    at(chain, t + DAY)
    with not_authorized(cr, a.patient, a.hospital, recs.lab.id, TREAT):
        access(cr, recs.lab, TREAT, a.hospital)
    access(cr, recs.lab, HRESCH, a.hospital)
    chain.mine(timestamp=t + 200 * DAY)
    assert not cr.isAuthorized(a.patient, a.hospital, LAB, TREAT)
    assert cr.isAuthorized(a.patient, a.hospital, LAB, HRESCH)


def test_approval_sets_only_the_requested_purpose_whether_longer_or_shorter(cr, chain, actors):
    a = actors
    grant(cr, a, a.hospital, LAB, bit(TREAT, HPAYMT, HOPERAT), FAR)
    req = request(cr, a, a.hospital, LAB, HOPERAT)
    t = soon(chain)
    cr.approveRequest(req, t + 600, sender=a.patient)  # shortens HOPERAT, keeps the others
    assert stored(cr, a.patient, a.hospital, LAB) == {
        "purposes": bit(TREAT, HPAYMT, HOPERAT),
        "expiresAt": expiries(TREAT=FAR, HPAYMT=FAR, HOPERAT=t + 600),
        "grantedAt": t,
        "epoch": 1,
    }


def test_approval_after_the_old_grant_expired_authorises_only_the_requested_purpose(
    cr, chain, actors
):
    a = actors
    t = soon(chain)
    grant(cr, a, a.hospital, LAB, bit(TREAT), t + 60)
    req = request(cr, a, a.hospital, LAB, HOPERAT)
    t2 = at(chain, t + 60)  # the old grant died at this block
    cr.approveRequest(req, t2 + 600, sender=a.patient)
    assert stored(cr, a.patient, a.hospital, LAB)["expiresAt"] == expiries(
        TREAT=t + 60, HOPERAT=t2 + 600
    )
    assert not cr.isAuthorized(a.patient, a.hospital, LAB, TREAT)
    assert cr.isAuthorized(a.patient, a.hospital, LAB, HOPERAT)


def test_approval_for_a_readmitted_requester_drops_the_purposes_of_its_earlier_epoch(
    cr, chain, registry, actors
):
    a = actors
    grant(cr, a, a.clinic, LAB, bit(TREAT, HPAYMT), FAR)
    req = request(cr, a, a.clinic, LAB, HRESCH)
    registry.propose(REMOVE, a.clinic, 0, ZERO32, ZERO32, 0, sender=a.hospital)
    registry.propose(ADMIT, a.clinic, ROLE_PROVIDER, h("k"), ZERO32, 0, sender=a.hospital)
    t = soon(chain)
    cr.approveRequest(req, t + 600, sender=a.patient)
    assert stored(cr, a.patient, a.clinic, LAB) == grant_of(bit(HRESCH), t + 600, t, epoch=2)
    assert [cr.isAuthorized(a.patient, a.clinic, LAB, p) for p in (TREAT, HPAYMT, HRESCH)] == [
        False,
        False,
        True,
    ]


@pytest.mark.parametrize("who", NOT_CONSENTERS)
def test_nobody_else_approves_or_rejects_a_request(cr, actors, who):
    a, caller = actors, actors.by(who)
    req = request(cr, a, a.hospital)
    with reverts(cr.NotPatientOrGuardian, actor=caller, patient=a.patient):
        cr.approveRequest(req, FAR, sender=caller)
    with reverts(cr.NotPatientOrGuardian, actor=caller, patient=a.patient):
        cr.rejectRequest(req, sender=caller)
    assert cr.requestStatus(req[0]) == PENDING
    assert stored(cr, a.patient, a.hospital, LAB) == NO_GRANT


@pytest.mark.parametrize("who", CONSENTERS)
def test_patient_or_guardian_rejects_a_request(cr, actors, who):
    a, caller = actors, actors.by(who)
    req = request(cr, a, a.researcher)
    tx = cr.rejectRequest(req, sender=caller)
    assert emitted(tx) == [
        ev(cr, "AccessRequestRejected", requestId=req[0], patient=a.patient, actor=caller)
    ]
    assert cr.requestStatus(req[0]) == REJECTED
    assert stored(cr, a.patient, a.researcher, LAB) == NO_GRANT


def test_unknown_requests_revert_request_not_found(cr, actors):
    a = actors
    req = request(cr, a, a.hospital)
    for rid in (0, req[0] + 1):
        details = (rid, *req[1:])
        with reverts(cr.RequestNotFound, requestId=rid):
            cr.approveRequest(details, FAR, sender=a.patient)
        with reverts(cr.RequestNotFound, requestId=rid):
            cr.rejectRequest(details, sender=a.patient)
        assert_view_reverts(cr, "requestStatus", (rid,), "RequestNotFound", requestId=rid)


@pytest.mark.parametrize("field", ["requester", "patient", "scope", "purpose"])
def test_details_that_differ_from_the_request_revert_request_mismatch(cr, actors, field):
    a = actors
    req = request(cr, a, a.researcher, LAB, HRESCH)
    index = ["requestId", "requester", "patient", "scope", "purpose"].index(field)
    other = {
        "requester": a.hospital,
        "patient": a.other_patient,
        "scope": SCOPE_ALL,
        "purpose": TREAT,
    }[field]
    forged = list(req)
    forged[index] = other
    # the patient named in the forged details answers (for `patient`: another patient)
    answerer = a.other_patient if field == "patient" else a.patient
    with reverts(cr.RequestMismatch, requestId=req[0]):
        cr.approveRequest(tuple(forged), FAR, sender=answerer)
    with reverts(cr.RequestMismatch, requestId=req[0]):
        cr.rejectRequest(tuple(forged), sender=answerer)
    assert cr.requestStatus(req[0]) == PENDING
    assert stored(cr, a.patient, a.researcher, LAB) == NO_GRANT
    assert stored(cr, a.other_patient, a.researcher, LAB) == NO_GRANT


@pytest.mark.parametrize("first", ["approve", "reject"])
def test_an_answered_request_is_no_longer_pending(cr, actors, first):
    a = actors
    req = request(cr, a, a.hospital)
    if first == "approve":
        cr.approveRequest(req, FAR, sender=a.patient)
    else:
        cr.rejectRequest(req, sender=a.patient)
    status = APPROVED if first == "approve" else REJECTED
    with reverts(cr.RequestNotPending, requestId=req[0], status=status):
        cr.approveRequest(req, FAR, sender=a.guardian)
    with reverts(cr.RequestNotPending, requestId=req[0], status=status):
        cr.rejectRequest(req, sender=a.patient)
    assert cr.requestStatus(req[0]) == status


@pytest.mark.parametrize("offset", [0, -1, "2**32"])
def test_approval_with_a_bad_expiry_reverts_and_leaves_the_request_pending(
    cr, chain, actors, offset
):
    a = actors
    req = request(cr, a, a.hospital)
    t = soon(chain)
    expires = 2**32 if offset == "2**32" else t + offset
    with reverts(cr.InvalidExpiry, expiresAt=expires, timestamp=t):
        cr.approveRequest(req, expires, sender=a.patient)
    assert cr.requestStatus(req[0]) == PENDING


def test_approval_for_a_requester_removed_since_reverts_not_member(cr, registry, actors):
    a = actors
    req = request(cr, a, a.clinic)
    registry.propose(REMOVE, a.clinic, 0, ZERO32, ZERO32, 0, sender=a.hospital)
    with reverts(cr.NotMember, account=a.clinic):
        cr.approveRequest(req, FAR, sender=a.patient)
    assert cr.requestStatus(req[0]) == PENDING
    cr.rejectRequest(req, sender=a.patient)  # rejecting still works
    assert cr.requestStatus(req[0]) == REJECTED


# -- break-glass -----------------------------------------------------------------------------


def reason(code: str, salt: bytes = b"\x42" * 16) -> bytes:
    """keccak256(abi.encode("careledger.reason", code, salt)) with a 16-byte salt."""
    return keccak(encode(["string", "string", "bytes16"], ["careledger.reason", code, salt]))


def window(cr: Any, patient: Any, institution: Any) -> dict[str, Any]:
    return as_dict(cr.breakGlassWindow(patient, institution))


def test_an_emergency_institution_breaks_glass_for_etreat_only(cr, chain, actors, recs):
    a = actors
    t = soon(chain)
    why = reason("unconscious")
    tx = cr.breakGlass(a.patient, why, 3600, sender=a.emergency)
    head = opened_head(ZERO32, a.patient, a.emergency, why, t + 3600, t, 0)
    assert emitted(tx) == [
        ev(
            cr,
            "BreakGlassOpened",
            patient=a.patient,
            institution=a.emergency,
            reasonHash=why,
            expiresAt=t + 3600,
            seq=0,
            head=head,
        )
    ]
    assert window(cr, a.patient, a.emergency) == {
        "openedAt": t,
        "expiresAt": t + 3600,
        "periodStart": t,
        "usedInPeriod": 3600,
        "epoch": 1,
    }
    assert as_dict(cr.auditHead(a.patient)) == {"head": head, "count": 1}
    assert [cr.isAuthorized(a.patient, a.emergency, LAB, p) for p in range(6)] == [
        False,
        True,
        False,
        False,
        False,
        False,
    ]
    assert not cr.isAuthorized(a.other_patient, a.emergency, LAB, ETREAT)
    assert window(cr, a.other_patient, a.emergency)["openedAt"] == 0
    with not_authorized(cr, a.patient, a.emergency, recs.img.id, TREAT):
        access(cr, recs.img, TREAT, a.emergency)
    t2 = soon(chain)
    tx = access(cr, recs.img, ETREAT, a.emergency)
    head = next_head(head, a.patient, a.emergency, recs.img.id, IMAGING, ETREAT, t2, 1, True)
    assert emitted(tx) == [
        ev(
            cr,
            "AccessRecorded",
            patient=a.patient,
            accessor=a.emergency,
            recordId=recs.img.id,
            category=IMAGING,
            purpose=ETREAT,
            timestamp=t2,
            seq=1,
            viaBreakGlass=True,
            head=head,
        )
    ]


@pytest.mark.parametrize("who", ["hospital", "researcher"])
def test_active_members_without_the_emergency_role_cannot_break_glass(cr, actors, who):
    caller = actors.by(who)
    with reverts(cr.MissingRole, account=caller, role=ROLE_EMERGENCY):
        cr.breakGlass(actors.patient, h("r"), 3600, sender=caller)
    assert window(cr, actors.patient, caller)["openedAt"] == 0
    assert cr.auditHead(actors.patient).count == 0


@pytest.mark.parametrize("who", NOT_INSTITUTIONS)
def test_suspended_removed_and_outsiders_cannot_break_glass(cr, actors, who):
    caller = actors.by(who)  # `suspended` and `removed` do hold the EMERGENCY role
    with reverts(cr.NotActiveInstitution, account=caller):
        cr.breakGlass(actors.patient, h("r"), 3600, sender=caller)
    assert window(cr, actors.patient, caller)["openedAt"] == 0


def test_break_glass_lasts_at_most_72_hours(cr, chain, actors):
    a = actors
    soon(chain)
    with reverts(cr.BreakGlassTooLong, duration=MAX_BREAK_GLASS + 1, max=MAX_BREAK_GLASS):
        cr.breakGlass(a.patient, h("r"), MAX_BREAK_GLASS + 1, sender=a.emergency)
    t = soon(chain)
    cr.breakGlass(a.patient, h("r"), MAX_BREAK_GLASS, sender=a.emergency)
    assert window(cr, a.patient, a.emergency)["expiresAt"] == t + MAX_BREAK_GLASS


def test_break_glass_needs_a_duration_and_a_patient(cr, actors):
    with reverts(cr.ZeroDuration):
        cr.breakGlass(actors.patient, h("r"), 0, sender=actors.emergency)
    with reverts(cr.ZeroAddress):
        cr.breakGlass(ZERO_ADDRESS, h("r"), 60, sender=actors.emergency)
    assert window(cr, actors.patient, actors.emergency)["openedAt"] == 0


def test_break_glass_expires_at_its_boundary(cr, chain, actors):
    a = actors
    t = soon(chain)
    cr.breakGlass(a.patient, h("r"), 100, sender=a.emergency)
    seen = []
    for when in (t + 99, t + 100, t + 101):
        chain.mine(timestamp=when)
        seen.append(cr.isAuthorized(a.patient, a.emergency, SCOPE_ALL, ETREAT))
    assert seen == [True, False, False]


def test_break_glass_access_at_expiry_minus_one_is_logged_and_at_expiry_refused(
    cr, chain, actors, recs
):
    a = actors
    t = soon(chain)
    cr.breakGlass(a.patient, h("r"), 100, sender=a.emergency)
    at(chain, t + 99)
    access(cr, recs.lab, ETREAT, a.emergency)
    at(chain, t + 100)
    with not_authorized(cr, a.patient, a.emergency, recs.lab.id, ETREAT):
        access(cr, recs.lab, ETREAT, a.emergency)
    assert cr.auditHead(a.patient).count == 2  # the opening and one access


def test_an_open_window_cannot_be_renewed_and_a_new_one_waits_out_the_cooldown(cr, chain, actors):
    """v1 let an institution call breakGlass again and again: endless access without consent."""
    a = actors
    t = soon(chain)
    cr.breakGlass(a.patient, h("r1"), 3600, sender=a.emergency)
    for when in (t, t + 1, t + 3599):
        at(chain, when)
        with reverts(
            cr.BreakGlassAlreadyOpen, patient=a.patient, institution=a.emergency, expiresAt=t + 3600
        ):
            cr.breakGlass(a.patient, h("r2"), 60, sender=a.emergency)
    available = t + 3600 + BREAK_GLASS_COOLDOWN
    for when in (t + 3600, available - 1):
        at(chain, when)
        with reverts(
            cr.BreakGlassCooldown, patient=a.patient, institution=a.emergency, availableAt=available
        ):
            cr.breakGlass(a.patient, h("r2"), 60, sender=a.emergency)
    assert window(cr, a.patient, a.emergency)["expiresAt"] == t + 3600
    assert cr.auditHead(a.patient).count == 1
    at(chain, available)
    cr.breakGlass(a.patient, h("r2"), 60, sender=a.emergency)
    assert window(cr, a.patient, a.emergency) == {
        "openedAt": available,
        "expiresAt": available + 60,
        "periodStart": t,
        "usedInPeriod": 3660,
        "epoch": 1,
    }
    # the window on one patient does not hold back another patient's
    cr.breakGlass(a.other_patient, h("r3"), 60, sender=a.emergency)


def test_break_glass_time_is_capped_per_period_counting_the_full_duration(cr, chain, actors):
    a = actors
    t0 = soon(chain)
    cr.breakGlass(a.patient, h("r"), MAX_BREAK_GLASS, sender=a.emergency)
    t1 = at(chain, t0 + MAX_BREAK_GLASS + BREAK_GLASS_COOLDOWN)
    cr.breakGlass(a.patient, h("r"), MAX_BREAK_GLASS, sender=a.emergency)
    used = 2 * MAX_BREAK_GLASS
    t2 = at(chain, t1 + MAX_BREAK_GLASS + BREAK_GLASS_COOLDOWN)
    with reverts(
        cr.BreakGlassCapExceeded,
        patient=a.patient,
        institution=a.emergency,
        used=used,
        cap=BREAK_GLASS_PERIOD_CAP,
    ):
        cr.breakGlass(a.patient, h("r"), BREAK_GLASS_PERIOD_CAP - used + 1, sender=a.emergency)
    # exactly up to the cap; closing early gives nothing back
    cr.breakGlass(a.patient, h("r"), BREAK_GLASS_PERIOD_CAP - used, sender=a.emergency)
    closed = at(chain, t2 + 10)
    cr.closeBreakGlass(a.patient, a.emergency, sender=a.patient)
    at(chain, closed + BREAK_GLASS_COOLDOWN)
    with reverts(
        cr.BreakGlassCapExceeded,
        patient=a.patient,
        institution=a.emergency,
        used=BREAK_GLASS_PERIOD_CAP,
        cap=BREAK_GLASS_PERIOD_CAP,
    ):
        cr.breakGlass(a.patient, h("r"), 1, sender=a.emergency)
    at(chain, t0 + BREAK_GLASS_PERIOD - 1)
    with reverts(
        cr.BreakGlassCapExceeded,
        patient=a.patient,
        institution=a.emergency,
        used=BREAK_GLASS_PERIOD_CAP,
        cap=BREAK_GLASS_PERIOD_CAP,
    ):
        cr.breakGlass(a.patient, h("r"), 1, sender=a.emergency)
    # a new period starts at the first opening after the previous one ended
    t3 = at(chain, t0 + BREAK_GLASS_PERIOD)
    cr.breakGlass(a.patient, h("r"), 60, sender=a.emergency)
    assert window(cr, a.patient, a.emergency) == {
        "openedAt": t3,
        "expiresAt": t3 + 60,
        "periodStart": t3,
        "usedInPeriod": 60,
        "epoch": 1,
    }


@pytest.mark.parametrize("who", CONSENTERS)
def test_patient_or_guardian_closes_a_window_and_access_stops_at_once(cr, chain, actors, recs, who):
    a, closer = actors, actors.by(who)
    t = soon(chain)
    cr.breakGlass(a.patient, h("r"), 3600, sender=a.emergency)
    opened = cr.auditHead(a.patient).head
    t2 = soon(chain)
    tx = cr.closeBreakGlass(a.patient, a.emergency, sender=closer)
    head = closed_head(opened, a.patient, a.emergency, closer, t2, 1)
    assert emitted(tx) == [
        ev(
            cr,
            "BreakGlassClosed",
            patient=a.patient,
            institution=a.emergency,
            closedBy=closer,
            seq=1,
            head=head,
        )
    ]
    assert window(cr, a.patient, a.emergency) == {
        "openedAt": t,
        "expiresAt": t2,
        "periodStart": t,
        "usedInPeriod": 3600,
        "epoch": 1,
    }
    assert as_dict(cr.auditHead(a.patient)) == {"head": head, "count": 2}
    assert not cr.isAuthorized(a.patient, a.emergency, SCOPE_ALL, ETREAT)  # in the closing block
    with not_authorized(cr, a.patient, a.emergency, recs.lab.id, ETREAT):
        access(cr, recs.lab, ETREAT, a.emergency)
    # the cooldown runs from the closing
    at(chain, t2 + BREAK_GLASS_COOLDOWN - 1)
    with reverts(
        cr.BreakGlassCooldown,
        patient=a.patient,
        institution=a.emergency,
        availableAt=t2 + BREAK_GLASS_COOLDOWN,
    ):
        cr.breakGlass(a.patient, h("r"), 60, sender=a.emergency)
    at(chain, t2 + BREAK_GLASS_COOLDOWN)
    cr.breakGlass(a.patient, h("r"), 60, sender=a.emergency)


@pytest.mark.parametrize("who", NOT_CONSENTERS)
def test_nobody_else_closes_a_window(cr, actors, who):
    a, caller = actors, actors.by(who)  # the emergency institution itself included
    cr.breakGlass(a.patient, h("r"), 3600, sender=a.emergency)
    with reverts(cr.NotPatientOrGuardian, actor=caller, patient=a.patient):
        cr.closeBreakGlass(a.patient, a.emergency, sender=caller)
    assert cr.isAuthorized(a.patient, a.emergency, SCOPE_ALL, ETREAT)
    assert cr.auditHead(a.patient).count == 1


def test_an_expired_guardian_cannot_close_a_window(cr, chain, actors):
    a = actors
    t = soon(chain)
    cr.setGuardian(a.stranger, t + 60, sender=a.patient)
    cr.breakGlass(a.patient, h("r"), 3600, sender=a.emergency)
    at(chain, t + 60)
    with reverts(cr.NotPatientOrGuardian, actor=a.stranger, patient=a.patient):
        cr.closeBreakGlass(a.patient, a.emergency, sender=a.stranger)


def test_closing_a_window_that_is_not_open_reverts_break_glass_not_open(cr, chain, actors):
    a = actors
    with reverts(cr.BreakGlassNotOpen, patient=a.patient, institution=a.emergency):
        cr.closeBreakGlass(a.patient, a.emergency, sender=a.patient)  # never opened
    t = soon(chain)
    cr.breakGlass(a.patient, h("r"), 100, sender=a.emergency)
    with reverts(cr.BreakGlassNotOpen, patient=a.patient, institution=a.hospital):
        cr.closeBreakGlass(a.patient, a.hospital, sender=a.patient)  # another institution's
    at(chain, t + 100)
    with reverts(cr.BreakGlassNotOpen, patient=a.patient, institution=a.emergency):
        cr.closeBreakGlass(a.patient, a.emergency, sender=a.patient)  # expired
    assert window(cr, a.patient, a.emergency)["expiresAt"] == t + 100
    assert cr.auditHead(a.patient).count == 1


def test_a_window_is_closed_once(cr, actors):
    a = actors
    cr.breakGlass(a.patient, h("r"), 3600, sender=a.emergency)
    cr.closeBreakGlass(a.patient, a.emergency, sender=a.guardian)
    with reverts(cr.BreakGlassNotOpen, patient=a.patient, institution=a.emergency):
        cr.closeBreakGlass(a.patient, a.emergency, sender=a.patient)
    assert cr.auditHead(a.patient).count == 2


def test_losing_the_emergency_role_stops_access_through_an_open_window(cr, registry, actors, recs):
    a = actors
    cr.breakGlass(a.patient, h("r"), 3600, sender=a.emergency)
    access(cr, recs.lab, ETREAT, a.emergency)
    registry.propose(CHANGE_ROLES, a.emergency, ROLE_PROVIDER, ZERO32, ZERO32, 0, sender=a.hospital)
    assert not cr.isAuthorized(a.patient, a.emergency, SCOPE_ALL, ETREAT)
    with not_authorized(cr, a.patient, a.emergency, recs.lab.id, ETREAT):
        access(cr, recs.lab, ETREAT, a.emergency)
    with reverts(cr.MissingRole, account=a.emergency, role=ROLE_EMERGENCY):
        cr.breakGlass(a.other_patient, h("r"), 60, sender=a.emergency)
    # the role is checked at access time: given back while the window is open, it counts again
    registry.propose(
        CHANGE_ROLES, a.emergency, ROLE_EMERGENCY, ZERO32, ZERO32, 0, sender=a.hospital
    )
    access(cr, recs.lab, ETREAT, a.emergency)
    assert cr.auditHead(a.patient).count == 3


def test_a_grant_covering_etreat_is_used_before_break_glass(cr, chain, actors, recs):
    a = actors
    cr.breakGlass(a.patient, h("r"), 100, sender=a.emergency)
    grant(cr, a, a.emergency, SCOPE_ALL, bit(ETREAT))
    before = cr.auditHead(a.patient).head
    t = soon(chain)
    tx = access(cr, recs.lab, ETREAT, a.emergency)
    assert not emitted(tx)[0][2]["viaBreakGlass"]
    assert cr.auditHead(a.patient).head == next_head(
        before, a.patient, a.emergency, recs.lab.id, LAB, ETREAT, t, 1, False
    )


def test_suspension_ends_an_open_break_glass(cr, registry, actors, recs):
    a = actors
    cr.breakGlass(a.patient, h("r"), 3600, sender=a.emergency)
    registry.propose(SUSPEND, a.emergency, 0, ZERO32, ZERO32, 0, sender=a.hospital)
    assert not cr.isAuthorized(a.patient, a.emergency, SCOPE_ALL, ETREAT)
    with not_authorized(cr, a.patient, a.emergency, recs.lab.id, ETREAT):
        access(cr, recs.lab, ETREAT, a.emergency)


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


def test_record_access_at_expiry_minus_one_succeeds_and_at_expiry_reverts(cr, chain, actors, recs):
    a = actors
    t = soon(chain)
    grant(cr, a, a.hospital, LAB, bit(TREAT), t + 100)
    at(chain, t + 99)
    access(cr, recs.lab, TREAT, a.hospital)
    for when in (t + 100, t + 101):
        at(chain, when)
        with not_authorized(cr, a.patient, a.hospital, recs.lab.id, TREAT):
            access(cr, recs.lab, TREAT, a.hospital)
    assert cr.auditHead(a.patient).count == 1


# -- recordAccess checks the record's binding first ------------------------------------------


def test_a_lab_grantee_cannot_log_an_imaging_record_as_lab(cr, records, actors, recs):
    """v1 took the category from the caller: a LAB grant opened every record called LAB."""
    a = actors
    grant(cr, a, a.researcher, LAB, bit(HRESCH))
    img = recs.img
    with reverts(records.RecordBindingMismatch, recordId=img.id):
        cr.recordAccess(a.patient, img.id, LAB, img.commitment, HRESCH, [], sender=a.researcher)
    # under its real category, consent is checked for IMAGING, which was not granted
    with not_authorized(cr, a.patient, a.researcher, img.id, HRESCH):
        access(cr, img, HRESCH, a.researcher)
    access(cr, recs.lab, HRESCH, a.researcher)  # a real LAB record passes
    assert cr.auditHead(a.patient).count == 1


def test_a_grantee_cannot_log_another_patients_record_under_the_granting_patient(
    cr, records, actors, recs
):
    """v1 took the patient from the caller: one patient's SCOPE_ALL grant opened anyone's records."""
    a = actors
    grant(cr, a, a.hospital, SCOPE_ALL, bit(TREAT))  # by `patient`
    theirs = recs.other_lab  # `other_patient`'s record
    with reverts(records.RecordBindingMismatch, recordId=theirs.id):
        cr.recordAccess(a.patient, theirs.id, LAB, theirs.commitment, TREAT, [], sender=a.hospital)
    with not_authorized(cr, a.other_patient, a.hospital, theirs.id, TREAT):
        access(cr, theirs, TREAT, a.hospital)  # its own patient granted nothing
    member = recs.batch[1]  # a batch member of `other_patient`
    with reverts(records.RecordBindingMismatch, recordId=member.id):
        cr.recordAccess(
            a.patient,
            member.id,
            LAB,
            member.commitment,
            TREAT,
            list(member.proof),
            sender=a.hospital,
        )
    assert cr.auditHead(a.patient).count == cr.auditHead(a.other_patient).count == 0


def test_a_random_or_unanchored_id_reverts_record_not_anchored(cr, records, actors, recs):
    a = actors
    grant(cr, a, a.hospital, SCOPE_ALL, bit(TREAT))
    for rid in (
        h("a random id"),
        record_id(a.clinic, 999),
        member_id(batch_id(a.hospital, 1), 3),  # index == count
        member_id(batch_id(a.hospital, 2), 0),  # batch never anchored
    ):
        with reverts(records.RecordNotAnchored, recordId=rid):
            cr.recordAccess(a.patient, rid, LAB, h("c"), TREAT, [], sender=a.hospital)
    assert cr.auditHead(a.patient).count == 0


def test_a_wrong_commitment_or_proof_reverts_record_binding_mismatch(cr, records, actors, recs):
    a = actors
    grant(cr, a, a.hospital, SCOPE_ALL, bit(TREAT))
    lab = recs.lab
    with reverts(records.RecordBindingMismatch, recordId=lab.id):
        cr.recordAccess(a.patient, lab.id, LAB, h("other blob"), TREAT, [], sender=a.hospital)
    first, third = recs.batch[0], recs.batch[2]
    for proof in ([], list(third.proof), list(first.proof)[:-1]):
        with reverts(records.RecordBindingMismatch, recordId=first.id):
            cr.recordAccess(
                a.patient, first.id, LAB, first.commitment, TREAT, proof, sender=a.hospital
            )
    assert cr.auditHead(a.patient).count == 0


def test_batch_members_are_accessed_with_their_proof(cr, chain, actors, recs):
    a = actors
    grant(cr, a, a.clinic, LAB, bit(TREAT))
    t = soon(chain)
    tx = access(cr, recs.batch[2], TREAT, a.clinic)
    assert emitted(tx)[0][2]["recordId"] == recs.batch[2].id
    assert cr.auditHead(a.patient).head == next_head(
        ZERO32, a.patient, a.clinic, recs.batch[2].id, LAB, TREAT, t, 0, False
    )


def test_the_binding_is_checked_before_consent_and_the_purpose_before_both(
    cr, records, actors, recs
):
    a = actors
    img = recs.img  # nobody holds any grant
    with reverts(records.RecordBindingMismatch, recordId=img.id):
        cr.recordAccess(a.patient, img.id, LAB, img.commitment, TREAT, [], sender=a.stranger)
    with reverts(cr.InvalidPurpose, purpose=6):
        cr.recordAccess(a.patient, h("a random id"), LAB, h("c"), 6, [], sender=a.stranger)


# -- record access and the audit chain ------------------------------------------------------


def test_the_audit_head_recomputed_in_python_equals_the_chain_over_several_accesses(
    cr, chain, actors, recs
):
    a = actors
    grant(cr, a, a.hospital, recs.lab.id, bit(TREAT))
    grant(cr, a, a.clinic, IMAGING, bit(TREAT, HOPERAT))
    grant(cr, a, a.researcher, SCOPE_ALL, bit(HRESCH))
    t0 = soon(chain)
    cr.breakGlass(a.patient, h("r"), 3600, sender=a.emergency)
    head = opened_head(ZERO32, a.patient, a.emergency, h("r"), t0 + 3600, t0, 0)
    accesses = [
        (a.hospital, recs.lab, TREAT, False),
        (a.clinic, recs.img, HOPERAT, False),
        (a.researcher, recs.lab, HRESCH, False),
        (a.emergency, recs.img, ETREAT, True),
        (a.researcher, recs.batch[0], HRESCH, False),
        (a.hospital, recs.lab, TREAT, False),  # the same access again is a new entry
    ]
    receipts = []
    for seq, (who, rec, purpose, via) in enumerate(accesses, start=1):
        t = soon(chain, 7)
        tx = access(cr, rec, purpose, who)
        head = next_head(head, a.patient, who, rec.id, rec.category, purpose, t, seq, via)
        assert emitted(tx) == [
            ev(
                cr,
                "AccessRecorded",
                patient=a.patient,
                accessor=who,
                recordId=rec.id,
                category=rec.category,
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
    assert head[24:] == b"\x00" * 8  # 192-bit head, zero-padded
    # an auditor holding only the logs gets the same head
    assert replay_audit_logs(chain, cr, a.patient) == (head, len(accesses) + 1)


def test_openings_and_closings_are_entries_of_the_hash_chain(cr, chain, actors, recs):
    a = actors
    t1 = soon(chain)
    cr.breakGlass(a.patient, reason("trauma"), 3600, sender=a.emergency)
    t2 = soon(chain)
    access(cr, recs.img, ETREAT, a.emergency)
    t3 = soon(chain)
    cr.closeBreakGlass(a.patient, a.emergency, sender=a.guardian)
    grant(cr, a, a.hospital, LAB, bit(TREAT))
    t4 = soon(chain)
    access(cr, recs.lab, TREAT, a.hospital)
    t5 = at(chain, t3 + BREAK_GLASS_COOLDOWN)
    cr.breakGlass(a.patient, reason("stroke"), 60, sender=a.emergency)
    t6 = soon(chain)
    cr.closeBreakGlass(a.patient, a.emergency, sender=a.patient)
    head = opened_head(ZERO32, a.patient, a.emergency, reason("trauma"), t1 + 3600, t1, 0)
    head = next_head(head, a.patient, a.emergency, recs.img.id, IMAGING, ETREAT, t2, 1, True)
    head = closed_head(head, a.patient, a.emergency, a.guardian, t3, 2)
    head = next_head(head, a.patient, a.hospital, recs.lab.id, LAB, TREAT, t4, 3, False)
    head = opened_head(head, a.patient, a.emergency, reason("stroke"), t5 + 60, t5, 4)
    head = closed_head(head, a.patient, a.emergency, a.patient, t6, 5)
    assert as_dict(cr.auditHead(a.patient)) == {"head": head, "count": 6}
    assert replay_audit_logs(chain, cr, a.patient) == (head, 6)
    # the other patient's chain is untouched
    assert as_dict(cr.auditHead(a.other_patient)) == {"head": ZERO32, "count": 0}


def test_each_patient_has_its_own_audit_chain(cr, chain, actors, recs):
    a = actors
    grant(cr, a, a.hospital, SCOPE_ALL, bit(TREAT))
    grant(cr, a, a.hospital, SCOPE_ALL, bit(TREAT), patient=a.other_patient)
    access(cr, recs.lab, TREAT, a.hospital)
    before = as_dict(cr.auditHead(a.patient))
    t = soon(chain)
    access(cr, recs.other_lab, TREAT, a.hospital)
    assert as_dict(cr.auditHead(a.patient)) == before
    assert as_dict(cr.auditHead(a.other_patient)) == {
        "head": next_head(
            ZERO32, a.other_patient, a.hospital, recs.other_lab.id, LAB, TREAT, t, 0, False
        ),
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
def test_record_access_without_authorisation_reverts_and_leaves_the_head(cr, actors, recs, who):
    a, caller = actors, actors.by(who)
    grant(cr, a, a.clinic, SCOPE_ALL, bit(TREAT))  # someone else's grant
    with not_authorized(cr, a.patient, caller, recs.lab.id, TREAT):
        access(cr, recs.lab, TREAT, caller)
    assert as_dict(cr.auditHead(a.patient)) == {"head": ZERO32, "count": 0}


def test_record_access_with_an_unknown_purpose_reverts_invalid_purpose(cr, actors, recs):
    a = actors
    grant(cr, a, a.hospital, SCOPE_ALL, bit(*range(6)))
    with reverts(cr.InvalidPurpose, purpose=6):
        access(cr, recs.lab, 6, a.hospital)


# -- no health data on chain ------------------------------------------------------------------


def _words(data: bytes) -> list[bytes]:
    assert len(data) % 32 == 0
    return [data[i : i + 32] for i in range(0, len(data), 32)]


def test_grant_request_break_glass_and_access_transactions_carry_only_addresses_codes_and_hashes(
    cr, chain, actors, recs
):
    a = actors
    canaries = [
        "Jane Q. Patient",
        "HIV positive",
        "suspected HIV exposure follow-up",
        "11502-2",
        "unconscious",
    ]
    why = keccak(text=canaries[2])  # the reason text stays off chain; only its hash is sent
    code = reason("unconscious")
    t = soon(chain)
    txs = [
        cr.registerPatientKey(h("x25519 public key"), sender=a.patient),
        grant(cr, a, a.hospital, LAB, bit(TREAT), t + 3600),
        cr.requestAccess(a.patient, LAB, HRESCH, why, sender=a.researcher),
        access(cr, recs.lab, TREAT, a.hospital),
        cr.breakGlass(a.patient, code, 3600, sender=a.emergency),
        cr.closeBreakGlass(a.patient, a.emergency, sender=a.patient),
    ]
    heads = {bytes(e.head) for tx in txs for e in tx.events if "head" in e.event_arguments}
    people = {
        bytes(12) + bytes.fromhex(addr(x)[2:])
        for x in (a.patient, a.hospital, a.researcher, a.emergency, cr)
    }
    hashes = {h("x25519 public key"), LAB, why, code, recs.lab.id, recs.lab.commitment} | heads
    topics0 = {
        keccak(text=s)
        for s in (
            "PatientKeyRegistered(address,bytes32)",
            "ConsentGranted(address,address,bytes32,uint32,uint64,address)",
            "AccessRequested(uint256,address,address,bytes32,uint8,bytes32)",
            "AccessRecorded(address,address,bytes32,bytes32,uint8,uint64,uint64,bool,bytes32)",
            "BreakGlassOpened(address,address,bytes32,uint64,uint64,bytes32)",
            "BreakGlassClosed(address,address,address,uint64,bytes32)",
        )
    }

    def allowed(word: bytes) -> bool:
        small = int.from_bytes(word, "big") < 2**64  # codes, masks, counters, timestamps, offsets
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
