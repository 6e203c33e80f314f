"""ConsentRegistry, signed paths: grantBySig, revokeBySig, setGuardianBySig with EIP-712
signatures made by eth-account (`encode_typed_data` + sign), submitted by a relayer.

Replay, wrong signer, tampering, deadline, high-s twin, increaseNonce, another chain id, another
deployment, an expired guardian, and an EIP-1271 contract wallet
(contracts/test/MockContractWallet.sol).
"""

from __future__ import annotations

from typing import Any

import pytest
from contract_kit import (
    DOMAIN_NAME,
    DOMAIN_VERSION,
    HPAYMT,
    LAB,
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

FAR = 2**40


@pytest.fixture(scope="module")
def cr(ledger: Any, actors: Any) -> Any:
    """The consent registry with `guardian` appointed by `patient` (until FAR)."""
    ledger.consent.setGuardian(actors.guardian, FAR, sender=actors.patient)
    return ledger.consent


@pytest.fixture(scope="module")
def cr2(project: Any, ledger: Any, actors: Any) -> Any:
    """A second ConsentRegistry on the same chain and consortium."""
    return project.ConsentRegistry.deploy(ledger.registry, sender=actors.deployer)


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


# -- the domain ------------------------------------------------------------------------------


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
def test_a_signature_by_another_key_than_the_signer_is_refused(cr, chain, actors, key):
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
def test_a_signer_who_is_neither_patient_nor_guardian_is_refused(cr, chain, actors, signer):
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
        "expiresAt": FAR + 1,
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


def test_a_signature_submitted_exactly_at_its_deadline_passes(cr, chain, actors):
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
