"""ConsentRegistry, signed paths: every patient action's EIP-712 form (Grant, Revoke, SetGuardian,
RemoveGuardian, RegisterKey, AnswerRequest, CloseBreakGlass) signed by eth-account
(`encode_typed_data(full_message=...)` + sign) and submitted by a relayer.

Each form: relayed success, replay, deadline, wrong key, high-s twin, another chain id, another
deployment, increaseNonce, tampered fields, a signer who may not sign, and an EIP-1271 contract
wallet (contracts/test/MockContractWallet.sol). Grant-specific cases follow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from contract_kit import (
    APPROVED,
    DOMAIN_NAME,
    DOMAIN_VERSION,
    ETREAT,
    HPAYMT,
    HRESCH,
    LAB,
    PENDING,
    REJECTED,
    SCOPE_ALL,
    TREAT,
    ZERO32,
    addr,
    as_dict,
    bit,
    digest,
    emitted,
    ev,
    high_s,
    reverts,
    sign,
    typed,
)

FAR = 2**32 - 1


@pytest.fixture(scope="module")
def cr(ledger: Any, actors: Any) -> Any:
    """The consent registry with `guardian` appointed by `patient` (until FAR)."""
    ledger.consent.setGuardian(actors.guardian, FAR, sender=actors.patient)
    return ledger.consent


@pytest.fixture(scope="module")
def cr2(project: Any, ledger: Any, actors: Any) -> Any:
    """A second ConsentRegistry on the same chain, consortium and record registry."""
    return project.ConsentRegistry.deploy(ledger.registry, ledger.records, sender=actors.deployer)


@pytest.fixture(scope="module")
def wallet(project: Any, actors: Any) -> Any:
    """An EIP-1271 contract wallet owned by the EOA `wallet_owner`."""
    # From the compiled manifest, not `project.MockContractWallet`: ape lists sources by walking
    # contracts/ with a 500-file cap, and contracts/.cache (OpenZeppelin) can use it all up, so
    # a contract in a subfolder may be compiled yet not found by name.
    from ape.contracts import ContractContainer

    wallet_type = project.manifest.contract_types["MockContractWallet"]
    return ContractContainer(wallet_type).deploy(actors.wallet_owner, sender=actors.deployer)


def grant_sig(
    cr: Any,
    chain: Any,
    key: Any,
    *,
    patient: Any,
    grantee: Any,
    scope: bytes = LAB,
    purposes: int = bit(TREAT),
    expires: int = FAR,
    signer: Any,
    deadline: int = FAR,
    nonce: int | None = None,
    chain_id: int | None = None,
    contract: Any = None,
) -> tuple[tuple, bytes]:
    """(grantBySig arguments without the signature, signature by ``key``)."""
    message = {
        "patient": patient,
        "grantee": grantee,
        "scope": scope,
        "purposes": purposes,
        "expiresAt": expires,
        "signer": signer,
        "nonce": cr.nonces(signer) if nonce is None else nonce,
        "deadline": deadline,
    }
    signable = typed("Grant", message, contract=contract or cr, chain_id=chain_id or chain.chain_id)
    return (patient, grantee, scope, purposes, expires, signer, deadline), sign(key, signable)


def revoke_sig(
    cr: Any,
    chain: Any,
    key: Any,
    *,
    patient: Any,
    grantee: Any,
    scope: bytes = LAB,
    signer: Any,
    deadline: int = FAR,
) -> tuple[tuple, bytes]:
    message = {
        "patient": patient,
        "grantee": grantee,
        "scope": scope,
        "signer": signer,
        "nonce": cr.nonces(signer),
        "deadline": deadline,
    }
    signable = typed("Revoke", message, contract=cr, chain_id=chain.chain_id)
    return (patient, grantee, scope, signer, deadline), sign(key, signable)


def guardian_sig(
    cr: Any,
    chain: Any,
    key: Any,
    *,
    patient: Any,
    guardian: Any,
    expires: int = FAR,
    deadline: int = FAR,
) -> tuple[tuple, bytes]:
    message = {
        "patient": patient,
        "guardian": guardian,
        "expiresAt": expires,
        "nonce": cr.nonces(patient),
        "deadline": deadline,
    }
    signable = typed("SetGuardian", message, contract=cr, chain_id=chain.chain_id)
    return (patient, guardian, expires, deadline), sign(key, signable)


# -- every signed form -------------------------------------------------------------------------


@dataclass
class Ctx:
    cr: Any
    chain: Any
    a: Any
    wallet: Any = None
    request: tuple[Any, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)

    def as_patient(self, patient: Any, method: str, *args: Any) -> Any:
        """Call `method` of the registry as `patient` (through the wallet for the wallet)."""
        if self.wallet is not None and addr(patient) == addr(self.wallet):
            data = getattr(self.cr, method).encode_input(*args)
            return self.wallet.execute(self.cr, data, sender=self.a.wallet_owner)
        return getattr(self.cr, method)(*args, sender=patient)


# form -> whether the message names a signer (patient or live guardian) besides the patient
SIGNER_FORMS = ["Grant", "Revoke", "AnswerRequest", "CloseBreakGlass"]
PATIENT_ONLY_FORMS = ["SetGuardian", "RemoveGuardian", "RegisterKey"]
FORMS = SIGNER_FORMS + PATIENT_ONLY_FORMS
FUNCTIONS = {
    "Grant": "grantBySig",
    "Revoke": "revokeBySig",
    "SetGuardian": "setGuardianBySig",
    "RemoveGuardian": "removeGuardianBySig",
    "RegisterKey": "registerPatientKeyBySig",
    "AnswerRequest": "answerRequestBySig",
    "CloseBreakGlass": "closeBreakGlassBySig",
}


def prepare(form: str, ctx: Ctx, patient: Any) -> None:
    """State the action needs to succeed for `patient`."""
    a = ctx.a
    if form == "Revoke":
        ctx.as_patient(patient, "grant", patient, a.hospital, LAB, bit(TREAT), FAR)
    elif form == "RemoveGuardian":
        ctx.as_patient(patient, "setGuardian", a.stranger, FAR)
    elif form == "AnswerRequest":
        rid = ctx.cr.requestCount() + 1
        ctx.cr.requestAccess(patient, LAB, HRESCH, b"\x01" * 32, sender=a.researcher)
        ctx.request = (rid, addr(a.researcher), addr(patient), LAB, HRESCH)
    elif form == "CloseBreakGlass":
        ctx.cr.breakGlass(patient, b"\x02" * 32, 3600, sender=a.emergency)


def message(
    form: str, ctx: Ctx, patient: Any, signer: Any, deadline: int, nonce: int | None = None
) -> tuple[dict[str, Any], tuple[Any, ...]]:
    """(EIP-712 message, call arguments before the signature) of `form`."""
    a, cr = ctx.a, ctx.cr
    n = cr.nonces(signer) if nonce is None else nonce
    if form == "Grant":
        m = {
            "patient": patient,
            "grantee": a.hospital,
            "scope": LAB,
            "purposes": bit(TREAT),
            "expiresAt": FAR,
            "signer": signer,
            "nonce": n,
            "deadline": deadline,
        }
        return m, (patient, a.hospital, LAB, bit(TREAT), FAR, signer, deadline)
    if form == "Revoke":
        m = {
            "patient": patient,
            "grantee": a.hospital,
            "scope": LAB,
            "signer": signer,
            "nonce": n,
            "deadline": deadline,
        }
        return m, (patient, a.hospital, LAB, signer, deadline)
    if form == "SetGuardian":
        m = {
            "patient": patient,
            "guardian": a.stranger,
            "expiresAt": FAR,
            "nonce": n,
            "deadline": deadline,
        }
        return m, (patient, a.stranger, FAR, deadline)
    if form == "RemoveGuardian":
        m = {"patient": patient, "guardian": a.stranger, "nonce": n, "deadline": deadline}
        return m, (patient, a.stranger, deadline)
    if form == "RegisterKey":
        m = {"patient": patient, "encryptionKey": b"\x07" * 32, "nonce": n, "deadline": deadline}
        return m, (patient, b"\x07" * 32, deadline)
    if form == "AnswerRequest":
        rid, requester, p, scope, purpose = ctx.request
        m = {
            "requestId": rid,
            "requester": requester,
            "patient": p,
            "scope": scope,
            "purpose": purpose,
            "approve": True,
            "expiresAt": FAR,
            "signer": signer,
            "nonce": n,
            "deadline": deadline,
        }
        return m, (ctx.request, True, FAR, signer, deadline)
    assert form == "CloseBreakGlass"
    m = {
        "patient": patient,
        "institution": a.emergency,
        "signer": signer,
        "nonce": n,
        "deadline": deadline,
    }
    return m, (patient, a.emergency, signer, deadline)


def signed(
    form: str,
    ctx: Ctx,
    key: Any,
    patient: Any,
    signer: Any,
    *,
    deadline: int = FAR,
    chain_id: int | None = None,
    contract: Any = None,
    nonce: int | None = None,
) -> tuple[tuple[Any, ...], bytes]:
    """(call arguments, signature by `key`) for `form`."""
    m, args = message(form, ctx, patient, signer, deadline, nonce)
    signable = typed(
        form,
        m,
        contract=contract or ctx.cr,
        chain_id=ctx.chain.chain_id if chain_id is None else chain_id,
    )
    return args, sign(key, signable)


def submit(
    form: str, ctx: Ctx, args: tuple[Any, ...], sig: bytes, sender: Any, cr: Any = None
) -> Any:
    return getattr(cr or ctx.cr, FUNCTIONS[form])(*args, sig, sender=sender)


def expected_events(form: str, ctx: Ctx, patient: Any, signer: Any) -> list[Any]:
    a, cr = ctx.a, ctx.cr
    if form == "Grant":
        return [
            ev(
                cr,
                "ConsentGranted",
                patient=patient,
                grantee=a.hospital,
                scope=LAB,
                purposes=bit(TREAT),
                expiresAt=FAR,
                actor=signer,
            )
        ]
    if form == "Revoke":
        return [
            ev(cr, "ConsentRevoked", patient=patient, grantee=a.hospital, scope=LAB, actor=signer)
        ]
    if form == "SetGuardian":
        return [ev(cr, "GuardianSet", patient=patient, guardian=a.stranger, expiresAt=FAR)]
    if form == "RemoveGuardian":
        return [ev(cr, "GuardianRemoved", patient=patient, guardian=a.stranger)]
    if form == "RegisterKey":
        return [ev(cr, "PatientKeyRegistered", patient=patient, encryptionKey=b"\x07" * 32)]
    if form == "AnswerRequest":
        rid = ctx.request[0]
        return [
            ev(
                cr,
                "ConsentGranted",
                patient=patient,
                grantee=a.researcher,
                scope=LAB,
                purposes=bit(HRESCH),
                expiresAt=FAR,
                actor=signer,
            ),
            ev(
                cr,
                "AccessRequestApproved",
                requestId=rid,
                patient=patient,
                expiresAt=FAR,
                actor=signer,
            ),
        ]
    # CloseBreakGlass: the head is checked in test_consent_registry; here the rest
    (head, count) = ctx.cr.auditHead(patient)
    return [
        ev(
            cr,
            "BreakGlassClosed",
            patient=patient,
            institution=a.emergency,
            closedBy=signer,
            seq=count - 1,
            head=head,
        )
    ]


def applied(form: str, ctx: Ctx, patient: Any) -> bool:
    """Whether the form's change is in place for `patient`."""
    a, cr = ctx.a, ctx.cr
    if form == "Grant":
        return cr.isAuthorized(patient, a.hospital, LAB, TREAT)
    if form == "Revoke":
        return as_dict(cr.getGrant(patient, a.hospital, LAB))["purposes"] == 0
    if form == "SetGuardian":
        return cr.guardianExpiry(patient, a.stranger) == FAR
    if form == "RemoveGuardian":
        return cr.guardianExpiry(patient, a.stranger) == 0
    if form == "RegisterKey":
        return cr.patientKeyOf(patient) == b"\x07" * 32
    if form == "AnswerRequest":
        return cr.requestStatus(ctx.request[0]) == APPROVED
    return not cr.isAuthorized(patient, a.emergency, SCOPE_ALL, ETREAT)


@pytest.fixture
def ctx(cr: Any, chain: Any, actors: Any) -> Ctx:
    return Ctx(cr, chain, actors)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("relayer", ["stranger", "hospital"])
def test_anyone_relays_each_patient_signed_form(ctx, actors, form, relayer):
    a = actors
    prepare(form, ctx, a.patient)
    assert not applied(form, ctx, a.patient)
    args, sig = signed(form, ctx, a.patient, a.patient, a.patient)
    tx = submit(form, ctx, args, sig, actors.by(relayer))
    assert emitted(tx) == expected_events(form, ctx, a.patient, a.patient)
    assert applied(form, ctx, a.patient)
    assert (
        ctx.cr.nonces(a.patient),
        ctx.cr.nonces(a.guardian),
        ctx.cr.nonces(actors.by(relayer)),
    ) == (1, 0, 0)


@pytest.mark.parametrize("form", SIGNER_FORMS)
def test_a_live_guardian_signs_with_its_own_nonce(ctx, actors, form):
    a = actors
    prepare(form, ctx, a.patient)
    args, sig = signed(form, ctx, a.guardian, a.patient, a.guardian)
    tx = submit(form, ctx, args, sig, a.stranger)
    assert emitted(tx) == expected_events(form, ctx, a.patient, a.guardian)
    assert applied(form, ctx, a.patient)
    assert (ctx.cr.nonces(a.guardian), ctx.cr.nonces(a.patient)) == (1, 0)


@pytest.mark.parametrize("form", PATIENT_ONLY_FORMS)
def test_only_the_patient_signs_its_guardians_and_key_not_its_guardian(ctx, actors, form):
    a = actors
    prepare(form, ctx, a.patient)
    args, sig = signed(form, ctx, a.guardian, a.patient, a.patient)  # the guardian's key
    with reverts(ctx.cr.InvalidSignature, signer=a.patient):
        submit(form, ctx, args, sig, a.guardian)
    assert not applied(form, ctx, a.patient)
    assert ctx.cr.nonces(a.patient) == ctx.cr.nonces(a.guardian) == 0


@pytest.mark.parametrize("form", SIGNER_FORMS)
@pytest.mark.parametrize("who", ["stranger", "hospital", "emergency", "other_patient"])
def test_a_signer_who_is_neither_patient_nor_guardian_is_refused(ctx, actors, form, who):
    a, signer = actors, actors.by(who)
    prepare(form, ctx, a.patient)
    args, sig = signed(form, ctx, signer, a.patient, signer)  # a valid signature of its own
    with reverts(ctx.cr.NotPatientOrGuardian, actor=signer, patient=a.patient):
        submit(form, ctx, args, sig, a.stranger)
    assert not applied(form, ctx, a.patient) and ctx.cr.nonces(signer) == 0


@pytest.mark.parametrize("form", FORMS)
def test_a_replayed_signature_reverts_invalid_signature(ctx, actors, form):
    a = actors
    prepare(form, ctx, a.patient)
    args, sig = signed(form, ctx, a.patient, a.patient, a.patient)
    submit(form, ctx, args, sig, a.stranger)
    with reverts(ctx.cr.InvalidSignature, signer=a.patient):
        submit(form, ctx, args, sig, a.hospital)
    assert ctx.cr.nonces(a.patient) == 1


@pytest.mark.parametrize("form", FORMS)
def test_a_signature_expires_one_second_after_its_deadline(ctx, chain, actors, form):
    a = actors
    prepare(form, ctx, a.patient)
    deadline = chain.pending_timestamp + 100
    args, sig = signed(form, ctx, a.patient, a.patient, a.patient, deadline=deadline)
    chain.pending_timestamp = deadline + 1
    with reverts(ctx.cr.SignatureExpired, deadline=deadline, timestamp=deadline + 1):
        submit(form, ctx, args, sig, a.stranger)
    assert ctx.cr.nonces(a.patient) == 0 and not applied(form, ctx, a.patient)


@pytest.mark.parametrize("form", FORMS)
def test_a_signature_submitted_exactly_at_its_deadline_passes(ctx, chain, actors, form):
    a = actors
    prepare(form, ctx, a.patient)
    deadline = chain.pending_timestamp + 100
    args, sig = signed(form, ctx, a.patient, a.patient, a.patient, deadline=deadline)
    chain.pending_timestamp = deadline
    submit(form, ctx, args, sig, a.stranger)
    assert applied(form, ctx, a.patient)


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("key", ["stranger", "hospital"])
def test_a_signature_by_another_key_than_the_signer_is_refused(ctx, actors, form, key):
    a = actors
    prepare(form, ctx, a.patient)
    args, sig = signed(form, ctx, actors.by(key), a.patient, a.patient)
    with reverts(ctx.cr.InvalidSignature, signer=a.patient):
        submit(form, ctx, args, sig, a.stranger)
    assert ctx.cr.nonces(a.patient) == 0 and not applied(form, ctx, a.patient)


@pytest.mark.parametrize("form", FORMS)
def test_the_high_s_twin_and_a_truncated_signature_are_refused(ctx, actors, form):
    a = actors
    prepare(form, ctx, a.patient)
    args, sig = signed(form, ctx, a.patient, a.patient, a.patient)
    for bad in (high_s(sig), sig[:64], b""):
        with reverts(ctx.cr.InvalidSignature, signer=a.patient):
            submit(form, ctx, args, bad, a.stranger)
    submit(form, ctx, args, sig, a.stranger)
    assert applied(form, ctx, a.patient)


@pytest.mark.parametrize("form", FORMS)
def test_a_signature_for_another_chain_or_deployment_or_nonce_is_refused(
    ctx, chain, cr2, actors, form
):
    a = actors
    prepare(form, ctx, a.patient)
    assert chain.chain_id != 1
    for kwargs in ({"chain_id": 1}, {"contract": cr2}, {"nonce": 1}):
        args, sig = signed(form, ctx, a.patient, a.patient, a.patient, **kwargs)
        with reverts(ctx.cr.InvalidSignature, signer=a.patient):
            submit(form, ctx, args, sig, a.stranger)
    assert ctx.cr.nonces(a.patient) == 0 and not applied(form, ctx, a.patient)


@pytest.mark.parametrize("form", FORMS)
def test_increase_nonce_voids_an_outstanding_signature_of_each_form(ctx, actors, form):
    a = actors
    prepare(form, ctx, a.patient)
    args, sig = signed(form, ctx, a.patient, a.patient, a.patient)
    ctx.cr.increaseNonce(sender=a.patient)
    with reverts(ctx.cr.InvalidSignature, signer=a.patient):
        submit(form, ctx, args, sig, a.stranger)
    assert not applied(form, ctx, a.patient)


# field -> a different value, per form (the signature was made over the original)
TAMPER = {
    "RemoveGuardian": {1: "guardian", 2: "deadline"},
    "RegisterKey": {0: "patient", 1: "key", 2: "deadline"},
    "CloseBreakGlass": {1: "institution", 3: "deadline"},
    "AnswerRequest": {0: "request", 1: "approve", 2: "expiresAt", 4: "deadline"},
}


def _tampered(
    form: str, a: Any, args: tuple[Any, ...], index: int, what: str, sub: int | None = None
) -> tuple[Any, ...]:
    out = list(args)
    other = {
        "guardian": a.guardian,
        "deadline": FAR + 1,
        "patient": a.other_patient,
        "key": b"\x08" * 32,
        "institution": a.hospital,
        "approve": False,
        "expiresAt": FAR - 1,
    }
    if what == "request":
        request = list(args[0])
        request[sub] = {
            0: request[0] + 1,
            1: a.hospital,
            2: a.other_patient,
            3: SCOPE_ALL,
            4: TREAT,
        }[sub]
        out[0] = tuple(request)
    else:
        out[index] = other[what]
    return tuple(out)


TAMPER_CASES = [
    (form, index, what, sub)
    for form, fields in TAMPER.items()
    for index, what in fields.items()
    for sub in ([0, 1, 2, 3, 4] if what == "request" else [None])
]


@pytest.mark.parametrize("form,index,what,sub", TAMPER_CASES)
def test_a_tampered_signed_message_is_refused(ctx, actors, form, index, what, sub):
    a = actors
    prepare(form, ctx, a.patient)
    args, sig = signed(form, ctx, a.patient, a.patient, a.patient)
    # a patient-signed form names its signer through `patient`: swapped, the other one is asked
    expected = a.other_patient if what == "patient" else a.patient
    with reverts(ctx.cr.InvalidSignature, signer=expected):
        submit(form, ctx, _tampered(form, a, args, index, what, sub), sig, a.stranger)
    submit(form, ctx, args, sig, a.stranger)  # the untampered message still passes
    assert applied(form, ctx, a.patient)


@pytest.mark.parametrize("form", FORMS)
def test_a_contract_wallet_patient_signs_each_form_through_eip1271(ctx, actors, wallet, form):
    a = actors
    ctx.wallet = wallet
    prepare(form, ctx, wallet)
    args, sig = signed(form, ctx, a.stranger, wallet, wallet)
    with reverts(ctx.cr.InvalidSignature, signer=wallet):  # not the owner's signature
        submit(form, ctx, args, sig, a.stranger)
    args, sig = signed(form, ctx, a.wallet_owner, wallet, wallet)
    wallet.setRefuseAll(True, sender=a.wallet_owner)
    with reverts(ctx.cr.InvalidSignature, signer=wallet):  # the wallet withdrew its approval
        submit(form, ctx, args, sig, a.stranger)
    wallet.setRefuseAll(False, sender=a.wallet_owner)
    tx = submit(form, ctx, args, sig, a.stranger)
    assert emitted(tx) == expected_events(form, ctx, wallet, wallet)
    assert applied(form, ctx, wallet) and ctx.cr.nonces(wallet) == 1
    with reverts(ctx.cr.InvalidSignature, signer=wallet):
        submit(form, ctx, args, sig, a.stranger)  # replay


# -- answerRequestBySig, closeBreakGlassBySig, registerPatientKeyBySig, removeGuardianBySig -----


@pytest.mark.parametrize("who", ["patient", "guardian"])
def test_a_signed_rejection_answers_the_request_without_a_grant(ctx, actors, who):
    a, signer = actors, actors.by(who)
    prepare("AnswerRequest", ctx, a.patient)
    m, _ = message("AnswerRequest", ctx, a.patient, signer, FAR)
    m = {**m, "approve": False, "expiresAt": 0}  # the expiry is ignored when rejecting
    sig = sign(signer, typed("AnswerRequest", m, contract=ctx.cr, chain_id=ctx.chain.chain_id))
    tx = ctx.cr.answerRequestBySig(ctx.request, False, 0, signer, FAR, sig, sender=a.stranger)
    assert emitted(tx) == [
        ev(
            ctx.cr,
            "AccessRequestRejected",
            requestId=ctx.request[0],
            patient=a.patient,
            actor=signer,
        )
    ]
    assert ctx.cr.requestStatus(ctx.request[0]) == REJECTED
    assert as_dict(ctx.cr.getGrant(a.patient, a.researcher, LAB))["purposes"] == 0
    assert ctx.cr.nonces(signer) == 1


def test_a_signed_answer_is_checked_like_a_direct_one(ctx, chain, registry, actors):
    a, cr = actors, ctx.cr
    prepare("AnswerRequest", ctx, a.patient)
    rid = ctx.request[0]

    def answer(details: tuple, approve: bool = True, expires: int = FAR) -> Any:
        m = {
            "requestId": details[0],
            "requester": details[1],
            "patient": details[2],
            "scope": details[3],
            "purpose": details[4],
            "approve": approve,
            "expiresAt": expires,
            "signer": a.patient,
            "nonce": cr.nonces(a.patient),
            "deadline": FAR,
        }
        sig = sign(a.patient, typed("AnswerRequest", m, contract=cr, chain_id=chain.chain_id))
        return cr.answerRequestBySig(
            details, approve, expires, a.patient, FAR, sig, sender=a.stranger
        )

    # signed over details that are not the request's: RequestMismatch
    with reverts(cr.RequestMismatch, requestId=rid):
        answer((rid, ctx.request[1], ctx.request[2], SCOPE_ALL, ctx.request[4]))
    with reverts(cr.RequestNotFound, requestId=rid + 1):
        answer((rid + 1, *ctx.request[1:]))
    t = chain.pending_timestamp + 10
    chain.pending_timestamp = t
    with reverts(cr.InvalidExpiry, expiresAt=t, timestamp=t):
        answer(ctx.request, True, t)
    assert cr.nonces(a.patient) == 0 and cr.requestStatus(rid) == PENDING
    answer(ctx.request)
    with reverts(cr.RequestNotPending, requestId=rid, status=APPROVED):
        answer(ctx.request, False)


def test_a_signed_close_of_a_window_that_is_not_open_reverts_and_keeps_the_nonce(ctx, actors):
    a, cr = actors, ctx.cr
    args, sig = signed("CloseBreakGlass", ctx, a.patient, a.patient, a.patient)
    with reverts(cr.BreakGlassNotOpen, patient=a.patient, institution=a.emergency):
        submit("CloseBreakGlass", ctx, args, sig, a.stranger)
    assert cr.nonces(a.patient) == 0


def test_a_signed_close_stops_break_glass_access_at_once(ctx, chain, actors, records):
    a, cr = actors, ctx.cr
    prepare("CloseBreakGlass", ctx, a.patient)
    rid = bytes.fromhex(addr(a.hospital)[2:]) + (5).to_bytes(12, "big")
    records.anchor(a.patient, rid, b"\x09" * 32, LAB, ZERO32, sender=a.hospital)
    cr.recordAccess(a.patient, rid, LAB, b"\x09" * 32, ETREAT, [], sender=a.emergency)
    args, sig = signed("CloseBreakGlass", ctx, a.guardian, a.patient, a.guardian)
    submit("CloseBreakGlass", ctx, args, sig, a.stranger)
    with reverts(
        cr.AccessNotAuthorized,
        patient=a.patient,
        accessor=a.emergency,
        recordId=rid,
        purpose=ETREAT,
    ):
        cr.recordAccess(a.patient, rid, LAB, b"\x09" * 32, ETREAT, [], sender=a.emergency)


def test_an_expired_guardians_signed_close_or_answer_is_refused(ctx, chain, actors):
    a, cr = actors, ctx.cr
    t = chain.pending_timestamp + 10
    chain.pending_timestamp = t
    cr.setGuardian(a.stranger, t + 20, sender=a.patient)
    forms = ("CloseBreakGlass", "AnswerRequest")
    submissions = []
    for form in forms:  # signed while the guardianship is live
        prepare(form, ctx, a.patient)
        submissions.append((form, *signed(form, ctx, a.stranger, a.patient, a.stranger)))
    chain.pending_timestamp = max(t + 20, chain.pending_timestamp)  # expired, whatever the pace
    for form, args, sig in submissions:
        with reverts(cr.NotPatientOrGuardian, actor=a.stranger, patient=a.patient):
            submit(form, ctx, args, sig, a.hospital)
    assert cr.nonces(a.stranger) == 0


def test_a_signed_zero_key_is_refused_and_keeps_the_nonce(ctx, chain, actors):
    a, cr = actors, ctx.cr
    m = {"patient": a.patient, "encryptionKey": ZERO32, "nonce": 0, "deadline": FAR}
    sig = sign(a.patient, typed("RegisterKey", m, contract=cr, chain_id=chain.chain_id))
    with reverts(cr.InvalidEncryptionKey):
        cr.registerPatientKeyBySig(a.patient, ZERO32, FAR, sig, sender=a.stranger)
    assert cr.nonces(a.patient) == 0 and cr.patientKeyOf(a.patient) == ZERO32


def test_a_signed_removal_of_someone_who_is_not_a_guardian_reverts(ctx, actors):
    a, cr = actors, ctx.cr
    args, sig = signed("RemoveGuardian", ctx, a.patient, a.patient, a.patient)  # names stranger
    with reverts(cr.GuardianNotFound, patient=a.patient, guardian=a.stranger):
        submit("RemoveGuardian", ctx, args, sig, a.hospital)
    assert cr.nonces(a.patient) == 0 and cr.isGuardian(a.patient, a.guardian)


def test_a_signed_guardian_removal_ends_the_guardians_power(ctx, actors):
    a, cr = actors, ctx.cr
    m = {"patient": a.patient, "guardian": a.guardian, "nonce": 0, "deadline": FAR}
    sig = sign(a.patient, typed("RemoveGuardian", m, contract=cr, chain_id=ctx.chain.chain_id))
    cr.removeGuardianBySig(a.patient, a.guardian, FAR, sig, sender=a.stranger)
    assert not cr.isGuardian(a.patient, a.guardian)
    with reverts(cr.NotPatientOrGuardian, actor=a.guardian, patient=a.patient):
        cr.grant(a.patient, a.hospital, LAB, bit(TREAT), FAR, sender=a.guardian)


def test_a_guardian_cannot_sign_the_patients_key_before_or_after_its_guardianship_ends(ctx, actors):
    """The gasless key registration is the patient's alone: a guardian's signature never moves
    the key that new records are wrapped to, while it is live or after it was removed."""
    a, cr = actors, ctx.cr
    cr.registerPatientKey(b"\x05" * 32, sender=a.patient)
    args, sig = signed("RegisterKey", ctx, a.guardian, a.patient, a.patient)
    with reverts(cr.InvalidSignature, signer=a.patient):
        submit("RegisterKey", ctx, args, sig, a.guardian)
    cr.removeGuardian(a.guardian, sender=a.patient)
    with reverts(cr.InvalidSignature, signer=a.patient):
        submit("RegisterKey", ctx, args, sig, a.guardian)
    assert cr.patientKeyOf(a.patient) == b"\x05" * 32 and cr.nonces(a.patient) == 0


# -- grant-specific and legacy signed paths ----------------------------------------------------


# -- the domain---------------------------------------------------------------------------


def test_the_domain_separator_is_the_one_eth_account_builds(cr, chain):
    signable = typed(
        "Grant",
        {
            "patient": cr,
            "grantee": cr,
            "scope": LAB,
            "purposes": 1,
            "expiresAt": 1,
            "signer": cr,
            "nonce": 0,
            "deadline": 0,
        },
        contract=cr,
        chain_id=chain.chain_id,
    )
    assert cr.DOMAIN_SEPARATOR() == signable.header
    domain = cr.eip712Domain()
    assert (
        domain.fields,
        domain.name,
        domain.version,
        domain.chainId,
        addr(domain.verifyingContract),
        domain.salt,
        list(domain.extensions),
    ) == (b"\x0f", DOMAIN_NAME, DOMAIN_VERSION, chain.chain_id, addr(cr), ZERO32, [])


# -- grantBySig ------------------------------------------------------------------------------


@pytest.mark.parametrize("relayer", ["stranger", "hospital", "suspended"])
def test_anyone_relays_a_patient_signed_grant(cr, chain, actors, relayer):
    a = actors
    args, sig = grant_sig(
        cr,
        chain,
        a.patient,
        patient=a.patient,
        grantee=a.hospital,
        purposes=bit(TREAT, HPAYMT),
        signer=a.patient,
    )
    tx = cr.grantBySig(*args, sig, sender=actors.by(relayer))
    assert emitted(tx) == [
        ev(
            cr,
            "ConsentGranted",
            patient=a.patient,
            grantee=a.hospital,
            scope=LAB,
            purposes=bit(TREAT, HPAYMT),
            expiresAt=FAR,
            actor=a.patient,
        )
    ]
    assert as_dict(cr.getGrant(a.patient, a.hospital, LAB))["purposes"] == bit(TREAT, HPAYMT)
    assert cr.nonces(a.patient) == 1


def test_a_live_guardian_signs_a_grant_with_its_own_nonce(cr, chain, actors):
    a = actors
    args, sig = grant_sig(
        cr, chain, a.guardian, patient=a.patient, grantee=a.clinic, signer=a.guardian
    )
    tx = cr.grantBySig(*args, sig, sender=a.stranger)
    assert emitted(tx)[0][2]["actor"] == addr(a.guardian)
    assert cr.isAuthorized(a.patient, a.clinic, LAB, TREAT)
    assert (cr.nonces(a.guardian), cr.nonces(a.patient)) == (1, 0)


def test_a_replayed_grant_signature_reverts_invalid_signature(cr, chain, actors):
    a = actors
    args, sig = grant_sig(
        cr, chain, a.patient, patient=a.patient, grantee=a.hospital, signer=a.patient
    )
    cr.grantBySig(*args, sig, sender=a.stranger)
    cr.revoke(a.patient, a.hospital, LAB, sender=a.patient)
    with reverts(cr.InvalidSignature, signer=a.patient):
        cr.grantBySig(*args, sig, sender=a.stranger)
    assert not cr.isAuthorized(a.patient, a.hospital, LAB, TREAT) and cr.nonces(a.patient) == 1


@pytest.mark.parametrize("key", ["stranger", "guardian", "hospital"])
def test_for_a_grant_a_signature_by_another_key_than_the_signer_is_refused(cr, chain, actors, key):
    a = actors
    args, sig = grant_sig(
        cr, chain, actors.by(key), patient=a.patient, grantee=a.hospital, signer=a.patient
    )
    with reverts(cr.InvalidSignature, signer=a.patient):
        cr.grantBySig(*args, sig, sender=a.stranger)
    assert cr.nonces(a.patient) == 0


@pytest.mark.parametrize(
    "signer",
    ["stranger", "hospital", "researcher", "emergency", "suspended", "removed", "other_patient"],
)
def test_for_a_grant_a_signer_who_is_neither_patient_nor_guardian_is_refused(
    cr, chain, actors, signer
):
    a, who = actors, actors.by(signer)
    args, sig = grant_sig(cr, chain, who, patient=a.patient, grantee=a.hospital, signer=who)
    with reverts(cr.NotPatientOrGuardian, actor=who, patient=a.patient):
        cr.grantBySig(*args, sig, sender=who)


@pytest.mark.parametrize(
    "field", ["patient", "grantee", "scope", "purposes", "expiresAt", "deadline"]
)
def test_a_tampered_grant_is_refused(cr, chain, actors, field):
    a = actors
    args, sig = grant_sig(
        cr, chain, a.guardian, patient=a.patient, grantee=a.hospital, signer=a.guardian
    )
    cr.setGuardian(a.guardian, FAR, sender=a.other_patient)  # so `patient` can be swapped
    index = ["patient", "grantee", "scope", "purposes", "expiresAt", "signer", "deadline"].index(
        field
    )
    other = {
        "patient": a.other_patient,
        "grantee": a.clinic,
        "scope": SCOPE_ALL,
        "purposes": bit(TREAT, HPAYMT),
        "expiresAt": FAR - 1,
        "deadline": FAR + 1,
    }[field]
    tampered = list(args)
    tampered[index] = other
    with reverts(cr.InvalidSignature, signer=a.guardian):
        cr.grantBySig(*tampered, sig, sender=a.stranger)
    cr.grantBySig(*args, sig, sender=a.stranger)  # the untampered message still passes
    assert cr.isAuthorized(a.patient, a.hospital, LAB, TREAT)


def test_a_signature_is_valid_at_its_deadline_and_expired_one_second_later(cr, chain, actors):
    a = actors
    deadline = chain.pending_timestamp + 100
    args, sig = grant_sig(
        cr,
        chain,
        a.patient,
        patient=a.patient,
        grantee=a.hospital,
        signer=a.patient,
        deadline=deadline,
    )
    chain.pending_timestamp = deadline + 1
    with reverts(cr.SignatureExpired, deadline=deadline, timestamp=deadline + 1):
        cr.grantBySig(*args, sig, sender=a.stranger)
    assert cr.nonces(a.patient) == 0


def test_for_a_grant_a_signature_submitted_exactly_at_its_deadline_passes(cr, chain, actors):
    a = actors
    deadline = chain.pending_timestamp + 100
    args, sig = grant_sig(
        cr,
        chain,
        a.patient,
        patient=a.patient,
        grantee=a.hospital,
        signer=a.patient,
        deadline=deadline,
    )
    chain.pending_timestamp = deadline
    cr.grantBySig(*args, sig, sender=a.stranger)
    assert cr.isAuthorized(a.patient, a.hospital, LAB, TREAT)


def test_the_high_s_twin_of_a_valid_signature_is_refused(cr, chain, actors):
    a = actors
    args, sig = grant_sig(
        cr, chain, a.patient, patient=a.patient, grantee=a.hospital, signer=a.patient
    )
    twin = high_s(sig)
    message = {
        "patient": a.patient,
        "grantee": a.hospital,
        "scope": LAB,
        "purposes": bit(TREAT),
        "expiresAt": FAR,
        "signer": a.patient,
        "nonce": 0,
        "deadline": FAR,
    }
    hashed = digest(typed("Grant", message, contract=cr, chain_id=chain.chain_id))
    # the twin is a real signature of the patient for the ecrecover precompile ...
    recovered = chain.provider.web3.eth.call(
        {
            "to": "0x0000000000000000000000000000000000000001",
            "data": hashed + bytes(31) + twin[64:] + twin[:64],
        }
    )
    assert addr("0x" + bytes(recovered)[12:].hex()) == addr(a.patient)
    # ... which the registry refuses (OpenZeppelin ECDSA: s must be in the lower half order)
    with reverts(cr.InvalidSignature, signer=a.patient):
        cr.grantBySig(*args, twin, sender=a.stranger)
    cr.grantBySig(*args, sig, sender=a.stranger)
    assert cr.nonces(a.patient) == 1


@pytest.mark.parametrize("length", [0, 64, 66])
def test_a_signature_of_the_wrong_length_is_refused(cr, chain, actors, length):
    a = actors
    args, sig = grant_sig(
        cr, chain, a.patient, patient=a.patient, grantee=a.hospital, signer=a.patient
    )
    bad = (sig + b"\x00")[:length]
    with reverts(cr.InvalidSignature, signer=a.patient):
        cr.grantBySig(*args, bad, sender=a.stranger)


def test_increase_nonce_voids_every_outstanding_signature(cr, chain, actors):
    a = actors
    grant_args, grant_signature = grant_sig(
        cr, chain, a.patient, patient=a.patient, grantee=a.hospital, signer=a.patient
    )
    guard_args, guard_signature = guardian_sig(
        cr, chain, a.patient, patient=a.patient, guardian=a.stranger
    )
    tx = cr.increaseNonce(sender=a.patient)
    assert tx.return_value == 1
    assert emitted(tx) == [ev(cr, "NonceIncreased", signer=a.patient, newNonce=1)]
    assert cr.nonces(a.patient) == 1
    with reverts(cr.InvalidSignature, signer=a.patient):
        cr.grantBySig(*grant_args, grant_signature, sender=a.stranger)
    with reverts(cr.InvalidSignature, signer=a.patient):
        cr.setGuardianBySig(*guard_args, guard_signature, sender=a.stranger)
    fresh_args, fresh = grant_sig(
        cr, chain, a.patient, patient=a.patient, grantee=a.hospital, signer=a.patient
    )
    cr.grantBySig(*fresh_args, fresh, sender=a.stranger)
    assert cr.nonces(a.patient) == 2 and cr.isAuthorized(a.patient, a.hospital, LAB, TREAT)


def test_increase_nonce_touches_only_the_callers_nonce(cr, actors):
    a = actors
    cr.increaseNonce(sender=a.stranger)
    cr.increaseNonce(sender=a.stranger)
    assert (cr.nonces(a.stranger), cr.nonces(a.patient), cr.nonces(a.guardian)) == (2, 0, 0)


def test_a_signature_for_another_chain_id_is_refused(cr, chain, actors):
    a = actors
    assert chain.chain_id != 1
    args, sig = grant_sig(
        cr, chain, a.patient, patient=a.patient, grantee=a.hospital, signer=a.patient, chain_id=1
    )
    with reverts(cr.InvalidSignature, signer=a.patient):
        cr.grantBySig(*args, sig, sender=a.stranger)


def test_a_signature_for_a_second_deployment_is_refused_here_and_accepted_there(
    cr, cr2, chain, actors
):
    a = actors
    args, sig = grant_sig(
        cr2, chain, a.patient, patient=a.patient, grantee=a.hospital, signer=a.patient
    )
    with reverts(cr.InvalidSignature, signer=a.patient):
        cr.grantBySig(*args, sig, sender=a.stranger)
    cr2.grantBySig(*args, sig, sender=a.stranger)
    assert cr2.isAuthorized(a.patient, a.hospital, LAB, TREAT)
    assert not cr.isAuthorized(a.patient, a.hospital, LAB, TREAT)


def test_a_guardian_signature_dies_with_the_guardianship(cr, chain, actors):
    a = actors
    t = chain.pending_timestamp + 10
    chain.pending_timestamp = t
    cr.setGuardian(a.stranger, t + 100, sender=a.other_patient)
    args, sig = grant_sig(
        cr, chain, a.stranger, patient=a.other_patient, grantee=a.hospital, signer=a.stranger
    )
    chain.pending_timestamp = t + 100
    with reverts(cr.NotPatientOrGuardian, actor=a.stranger, patient=a.other_patient):
        cr.grantBySig(*args, sig, sender=a.hospital)


def test_a_signed_grant_is_validated_like_a_direct_one(cr, chain, actors):
    a = actors
    args, sig = grant_sig(
        cr, chain, a.patient, patient=a.patient, grantee=a.stranger, signer=a.patient
    )
    with reverts(cr.NotMember, account=a.stranger):
        cr.grantBySig(*args, sig, sender=a.hospital)
    args, sig = grant_sig(
        cr, chain, a.patient, patient=a.patient, grantee=a.hospital, signer=a.patient, purposes=0
    )
    with reverts(cr.NoPurposes):
        cr.grantBySig(*args, sig, sender=a.hospital)
    assert cr.nonces(a.patient) == 0


# -- revokeBySig -----------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["patient", "guardian"])
def test_a_relayer_submits_a_signed_revoke(cr, chain, actors, who):
    a, signer = actors, actors.by(who)
    cr.grant(a.patient, a.hospital, LAB, bit(TREAT), FAR, sender=a.patient)
    args, sig = revoke_sig(cr, chain, signer, patient=a.patient, grantee=a.hospital, signer=signer)
    tx = cr.revokeBySig(*args, sig, sender=a.stranger)
    assert emitted(tx) == [
        ev(cr, "ConsentRevoked", patient=a.patient, grantee=a.hospital, scope=LAB, actor=signer)
    ]
    assert not cr.isAuthorized(a.patient, a.hospital, LAB, TREAT) and cr.nonces(signer) == 1
    with reverts(cr.InvalidSignature, signer=signer):  # replay
        cr.revokeBySig(*args, sig, sender=a.stranger)


def test_a_signed_revoke_by_a_wrong_key_expired_or_high_s_is_refused(cr, chain, actors):
    a = actors
    cr.grant(a.patient, a.hospital, LAB, bit(TREAT), FAR, sender=a.patient)
    args, sig = revoke_sig(
        cr, chain, a.stranger, patient=a.patient, grantee=a.hospital, signer=a.patient
    )
    with reverts(cr.InvalidSignature, signer=a.patient):
        cr.revokeBySig(*args, sig, sender=a.stranger)
    args, sig = revoke_sig(
        cr, chain, a.patient, patient=a.patient, grantee=a.hospital, signer=a.patient
    )
    with reverts(cr.InvalidSignature, signer=a.patient):
        cr.revokeBySig(*args, high_s(sig), sender=a.stranger)
    deadline = chain.pending_timestamp + 5
    args, sig = revoke_sig(
        cr,
        chain,
        a.patient,
        patient=a.patient,
        grantee=a.hospital,
        signer=a.patient,
        deadline=deadline,
    )
    chain.pending_timestamp = deadline + 1
    with reverts(cr.SignatureExpired, deadline=deadline, timestamp=deadline + 1):
        cr.revokeBySig(*args, sig, sender=a.stranger)
    args, sig = revoke_sig(
        cr, chain, a.stranger, patient=a.patient, grantee=a.hospital, signer=a.stranger
    )
    with reverts(cr.NotPatientOrGuardian, actor=a.stranger, patient=a.patient):
        cr.revokeBySig(*args, sig, sender=a.stranger)
    assert cr.isAuthorized(a.patient, a.hospital, LAB, TREAT) and cr.nonces(a.patient) == 0


def test_a_valid_signed_revoke_of_nothing_reverts_grant_not_found_and_keeps_the_nonce(
    cr, chain, actors
):
    a = actors
    args, sig = revoke_sig(
        cr, chain, a.patient, patient=a.patient, grantee=a.hospital, signer=a.patient
    )
    with reverts(cr.GrantNotFound, patient=a.patient, grantee=a.hospital, scope=LAB):
        cr.revokeBySig(*args, sig, sender=a.stranger)
    assert cr.nonces(a.patient) == 0


# -- setGuardianBySig ------------------------------------------------------------------------


def test_a_relayer_submits_a_patient_signed_guardian_appointment(cr, chain, actors):
    a = actors
    args, sig = guardian_sig(
        cr, chain, a.other_patient, patient=a.other_patient, guardian=a.stranger, expires=FAR - 1
    )
    tx = cr.setGuardianBySig(*args, sig, sender=a.hospital)
    assert emitted(tx) == [
        ev(cr, "GuardianSet", patient=a.other_patient, guardian=a.stranger, expiresAt=FAR - 1)
    ]
    assert (
        cr.guardianExpiry(a.other_patient, a.stranger) == FAR - 1
        and cr.nonces(a.other_patient) == 1
    )
    with reverts(cr.InvalidSignature, signer=a.other_patient):
        cr.setGuardianBySig(*args, sig, sender=a.hospital)


def test_only_the_patient_signs_a_guardian_appointment_not_its_guardian(cr, chain, actors):
    a = actors
    args, sig = guardian_sig(cr, chain, a.guardian, patient=a.patient, guardian=a.stranger)
    with reverts(cr.InvalidSignature, signer=a.patient):
        cr.setGuardianBySig(*args, sig, sender=a.guardian)
    assert not cr.isGuardian(a.patient, a.stranger)


def test_a_signed_guardian_appointment_is_checked_like_a_direct_one(cr, chain, actors):
    a = actors
    args, sig = guardian_sig(cr, chain, a.patient, patient=a.patient, guardian=a.patient)
    with reverts(cr.CannotGuardSelf, patient=a.patient):
        cr.setGuardianBySig(*args, sig, sender=a.stranger)
    args, sig = guardian_sig(cr, chain, a.patient, patient=a.patient, guardian=a.stranger)
    with reverts(cr.InvalidSignature, signer=a.patient):
        cr.setGuardianBySig(*args, high_s(sig), sender=a.stranger)
    t = chain.pending_timestamp + 10
    args, sig = guardian_sig(
        cr, chain, a.patient, patient=a.patient, guardian=a.stranger, expires=t, deadline=t
    )
    chain.pending_timestamp = t
    with reverts(cr.InvalidExpiry, expiresAt=t, timestamp=t):
        cr.setGuardianBySig(*args, sig, sender=a.stranger)
    chain.pending_timestamp = t + 1
    with reverts(cr.SignatureExpired, deadline=t, timestamp=t + 1):
        cr.setGuardianBySig(*args, sig, sender=a.stranger)
    assert cr.nonces(a.patient) == 0


# -- EIP-1271 contract wallets --------------------------------------------------------------


def test_a_contract_wallet_patient_grants_with_its_owners_signature(cr, chain, actors, wallet):
    a = actors
    args, sig = grant_sig(
        cr, chain, a.wallet_owner, patient=wallet, grantee=a.hospital, signer=wallet
    )
    tx = cr.grantBySig(*args, sig, sender=a.stranger)
    assert emitted(tx) == [
        ev(
            cr,
            "ConsentGranted",
            patient=wallet,
            grantee=a.hospital,
            scope=LAB,
            purposes=bit(TREAT),
            expiresAt=FAR,
            actor=wallet,
        )
    ]
    assert cr.nonces(wallet) == 1 and cr.isAuthorized(wallet, a.hospital, LAB, TREAT)
    args, sig = revoke_sig(
        cr, chain, a.wallet_owner, patient=wallet, grantee=a.hospital, signer=wallet
    )
    cr.revokeBySig(*args, sig, sender=a.stranger)
    assert not cr.isAuthorized(wallet, a.hospital, LAB, TREAT)
    args, sig = guardian_sig(cr, chain, a.wallet_owner, patient=wallet, guardian=a.guardian)
    cr.setGuardianBySig(*args, sig, sender=a.stranger)
    assert cr.isGuardian(wallet, a.guardian) and cr.nonces(wallet) == 3


def test_a_contract_wallet_refuses_a_stranger_signature_and_everything_when_it_says_so(
    cr, chain, actors, wallet
):
    a = actors
    args, sig = grant_sig(cr, chain, a.stranger, patient=wallet, grantee=a.hospital, signer=wallet)
    with reverts(cr.InvalidSignature, signer=wallet):
        cr.grantBySig(*args, sig, sender=a.stranger)
    args, sig = grant_sig(
        cr, chain, a.wallet_owner, patient=wallet, grantee=a.hospital, signer=wallet
    )
    wallet.setRefuseAll(True, sender=a.wallet_owner)
    with reverts(cr.InvalidSignature, signer=wallet):
        cr.grantBySig(*args, sig, sender=a.stranger)
    wallet.setRefuseAll(False, sender=a.wallet_owner)
    cr.grantBySig(*args, sig, sender=a.stranger)
    assert cr.isAuthorized(wallet, a.hospital, LAB, TREAT)


def test_the_wallet_owner_eoa_is_not_the_wallet(cr, chain, actors, wallet):
    a = actors
    args, sig = grant_sig(
        cr, chain, a.wallet_owner, patient=wallet, grantee=a.hospital, signer=a.wallet_owner
    )
    with reverts(cr.NotPatientOrGuardian, actor=a.wallet_owner, patient=wallet):
        cr.grantBySig(*args, sig, sender=a.stranger)


def test_a_contract_wallet_cancels_its_signatures_with_increase_nonce(cr, chain, actors, wallet):
    a = actors
    args, sig = grant_sig(
        cr, chain, a.wallet_owner, patient=wallet, grantee=a.hospital, signer=wallet
    )
    with reverts(wallet.NotOwner, caller=a.stranger):  # the wallet is no open proxy
        wallet.execute(cr, cr.increaseNonce.encode_input(), sender=a.stranger)
    tx = wallet.execute(cr, cr.increaseNonce.encode_input(), sender=a.wallet_owner)
    assert emitted(tx) == [ev(cr, "NonceIncreased", signer=wallet, newNonce=1)]
    assert cr.nonces(wallet) == 1
    with reverts(cr.InvalidSignature, signer=wallet):
        cr.grantBySig(*args, sig, sender=a.stranger)


def test_a_contract_wallet_guardian_signs_for_its_patient(cr, chain, actors, wallet):
    a = actors
    cr.setGuardian(wallet, FAR, sender=a.other_patient)
    args, sig = grant_sig(
        cr, chain, a.wallet_owner, patient=a.other_patient, grantee=a.clinic, signer=wallet
    )
    tx = cr.grantBySig(*args, sig, sender=a.stranger)
    assert emitted(tx)[0][2]["actor"] == addr(wallet)
    assert cr.isAuthorized(a.other_patient, a.clinic, LAB, TREAT)
