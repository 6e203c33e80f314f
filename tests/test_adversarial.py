"""Adversarial scenarios through the SDK, against real anvils (issue 6, part 2).

The contract-level rows of SECURITY.md have their own ape and forge tests; these check that
they hold end to end through the flows an integrator calls.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from careledger.actors import Patient, Provider, Researcher
from careledger.audit import AuditLog
from careledger.chain import Devnet
from careledger.codes import SCOPE_ALL, Category, Purpose, Role, reason_hash
from careledger.consent import ConsentSigner, Relayer
from careledger.contracts import new_batch_id, new_record_id
from careledger.errors import (
    AccessNotAuthorized,
    BatchIdNotOwned,
    BreakGlassAlreadyOpen,
    BreakGlassCooldown,
    InvalidSignature,
    MissingRole,
    NotActiveInstitution,
    NotIssuer,
    NotThePatient,
    RecordBindingMismatch,
    RecordNotAnchored,
    WrappedKeyNotFound,
)
from careledger.store import Workspace
from conftest import World, build_world
from nodes import Parties, parties

DAY = 86400


def _actors(world: World) -> tuple[Workspace, Provider, Provider, Patient]:
    """Parties that never read across institutions: each in its own directory, no node."""
    a = Provider(world.ledger, world.sender("hospital_a"), Workspace.local(world.workdir / "a"),
                 world.enc["hospital_a"])  # type: ignore[arg-type]
    b = Provider(world.ledger, world.sender("hospital_b"), Workspace.local(world.workdir / "b"),
                 world.enc["hospital_b"])  # type: ignore[arg-type]
    alice = Patient(world.ledger, world.sender("alice"), Workspace.local(world.workdir / "alice"),
                    world.enc["alice"])  # type: ignore[arg-type]
    alice.register_key()
    return a.ws, a, b, alice


@pytest.fixture
def party(world: World, tmp_path: Path) -> Iterator[Parties]:
    """Hospital A with its node, hospital B and Alice: three directories, nothing shared."""
    with parties(world, tmp_path) as p:
        yield p


def _own(world: World, name: str, root: Path) -> Provider:
    return Provider(world.ledger, world.sender(name), Workspace.local(root / name),
                    world.enc[name])  # type: ignore[arg-type]


def test_access_racing_a_revocation_fails_and_releases_nothing(world: World, party: Parties) -> None:
    """The revocation is mined first, in the same block: the access reverts, no plaintext."""
    a, b, alice = party.a, party.b, party.alice
    pub = a.publish(alice.patient, b"HbA1c 6.1 %", Category.LAB)
    alice.grant(b.address, Category.LAB.code, [Purpose.TREAT], world.now() + DAY)
    rpc = world.chain.w3.provider.make_request
    rpc("evm_setAutomine", [False])  # type: ignore[arg-type]
    outcome: dict[str, object] = {}
    try:
        assert alice.sender is not None
        revoke = world.ledger.consent.revoke(alice.patient, b.address,
                                             Category.LAB.code).send(alice.sender)

        def read() -> None:
            try:
                outcome["plaintext"] = b.access(pub.record_id, Purpose.TREAT)
            except Exception as exc:  # noqa: BLE001 - inspected below
                outcome["error"] = exc

        reader = threading.Thread(target=read)
        reader.start()
        reader.join(timeout=1.0)  # estimated against the pending revoke, or sent and waiting
        rpc("evm_mine", [])  # type: ignore[arg-type]
        reader.join(timeout=30)
        assert not reader.is_alive()
    finally:
        rpc("evm_setAutomine", [True])  # type: ignore[arg-type]
    assert alice.sender.wait(revoke)["status"] == 1
    assert "plaintext" not in outcome
    assert isinstance(outcome["error"], AccessNotAuthorized), outcome
    assert world.ledger.consent.audit_head(alice.patient)[1] == 0  # nothing was logged
    assert not world.ledger.consent.is_authorized(alice.patient, b.address, Category.LAB.code, 0)
    assert party.node.releases() == []  # and no key left the node


def test_suspended_institution_is_refused_everywhere(world: World, party: Parties,
                                                     tmp_path: Path) -> None:
    a, alice = party.a, party.alice
    s = _own(world, "suspended", tmp_path)
    pub = a.publish(alice.patient, b"x-ray report", Category.IMAGING)
    alice.grant(s.address, SCOPE_ALL, [Purpose.TREAT, Purpose.ETREAT], world.now() + DAY)

    with pytest.raises(NotActiveInstitution):
        s.publish(alice.patient, b"forged result", Category.LAB)
    with pytest.raises(NotActiveInstitution):
        s.publish_batch([(alice.patient, b"r1"), (alice.patient, b"r2")], Category.VITALS)
    with pytest.raises(NotActiveInstitution):
        s.request_access(alice.patient, SCOPE_ALL, Purpose.HRESCH, "study")
    with pytest.raises(NotActiveInstitution):
        s.break_glass(alice.patient, "trauma", 3600)
    with pytest.raises(AccessNotAuthorized):  # the patient's grant exists, but counts for nothing
        s.access(pub.record_id, Purpose.TREAT)
    assert party.node.releases() == []  # and the issuer's node released nothing
    inst = world.ledger.institutions
    assert s.sender is not None
    for tx in (inst.propose_admit(world.addr("stranger"), Role.PROVIDER, b"\x01" * 32),
               inst.approve(0),
               inst.update_encryption_key(b"\x02" * 32)):
        with pytest.raises(NotActiveInstitution):
            tx.transact(s.sender)
    assert world.ledger.consent.audit_head(alice.patient)[1] == 0


def test_a_provider_cannot_supersede_another_providers_record(world: World) -> None:
    ws, a, _b, alice = _actors(world)
    pub = a.publish(alice.patient, b"discharge letter v1", Category.NOTE)
    b_view = Provider(world.ledger, world.sender("hospital_b"), ws, world.enc["hospital_b"])  # type: ignore[arg-type]
    with pytest.raises(NotIssuer):
        b_view.amend(pub.record_id, b"discharge letter, forged v2")
    assert world.ledger.records.next_version_of(bytes.fromhex(pub.record_id[2:])) == b"\x00" * 32
    v2 = a.amend(pub.record_id, b"discharge letter v2")  # the issuer still can
    assert world.ledger.records.next_version_of(bytes.fromhex(pub.record_id[2:])).hex() == v2.record_id[2:]


def test_researcher_cannot_read_beyond_its_research_grant(world: World, party: Parties,
                                                          tmp_path: Path) -> None:
    a, alice = party.a, party.alice
    r = Researcher(world.ledger, world.sender("researcher"), Workspace.local(tmp_path / "r"),
                   world.enc["researcher"])  # type: ignore[arg-type]
    lab = a.publish(alice.patient, b"cholesterol 5.2", Category.LAB)
    note = a.publish(alice.patient, b"psychiatric note", Category.NOTE)
    rid = r.request_access(alice.patient, Category.LAB.code, Purpose.HRESCH, "lipid study")
    alice.approve_request(rid, world.now() + DAY)
    assert r.access(lab.record_id, Purpose.HRESCH) == b"cholesterol 5.2"
    with pytest.raises(AccessNotAuthorized):  # another category
        r.access(note.record_id, Purpose.HRESCH)
    with pytest.raises(AccessNotAuthorized):  # another purpose on the granted category
        r.access(lab.record_id, Purpose.TREAT)
    with pytest.raises(MissingRole):  # break-glass needs the EMERGENCY role
        r.break_glass(alice.patient, "curiosity", 60)
    assert world.ledger.consent.audit_head(alice.patient)[1] == 1  # only the granted read


def test_cross_chain_replay_on_a_second_anvil_with_another_chain_id(tmp_path: Path) -> None:
    """Same deployer, same nonces: the registry has the same address on both chains, so only
    the chain id in the EIP-712 domain stands between a signature and its replay."""
    with Devnet(accounts=20) as home_node, Devnet(accounts=20, chain_id=31_338) as other_node:
        home = build_world(home_node, tmp_path / "home")
        other = build_world(other_node, tmp_path / "other")
        assert other.ledger.consent.address == home.ledger.consent.address
        assert other.chain.chain_id != home.chain.chain_id
        alice = Account.from_key(home.keys["alice"])
        signer = ConsentSigner(home.ledger.consent)
        msg = signer.grant_message(alice.address, home.addr("hospital_b"), SCOPE_ALL,
                                   [Purpose.TREAT], home.now() + DAY, deadline=home.now() + DAY)
        signed = signer.sign(msg, alice)
        relayer = Relayer(other.sender("relayer"), other.ledger.consent)
        with pytest.raises(InvalidSignature):
            relayer.submit(signed, local_checks=False)
        assert other.ledger.consent.nonce(alice.address) == 0
        assert not other.ledger.consent.is_authorized(alice.address, other.addr("hospital_b"),
                                                      SCOPE_ALL, 0)
        # and on its own chain it works
        Relayer(home.sender("relayer"), home.ledger.consent).submit(signed)
        assert home.ledger.consent.is_authorized(alice.address, home.addr("hospital_b"), SCOPE_ALL, 0)


def test_a_removed_and_readmitted_institution_starts_with_no_consent(world: World,
                                                                    party: Parties) -> None:
    a, b, alice = party.a, party.b, party.alice
    pub = a.publish(alice.patient, b"old consent, new membership", Category.LAB)
    alice.grant(b.address, SCOPE_ALL, [Purpose.TREAT], world.now() + 30 * DAY)
    consent, inst = world.ledger.consent, world.ledger.institutions
    assert consent.is_authorized(alice.patient, b.address, SCOPE_ALL, 0)
    admin = world.sender("hospital_a")
    inst.propose_remove(b.address).transact(admin)
    assert not consent.is_authorized(alice.patient, b.address, SCOPE_ALL, 0)
    world.chain.w3.provider.make_request("evm_increaseTime", [60])  # type: ignore[arg-type]
    inst.propose_admit(b.address, Role.PROVIDER,
                       world.enc["hospital_b"].public_bytes).transact(admin)  # type: ignore[attr-defined]
    assert world.ledger.institutions.is_active(b.address)
    # the grant is still stored and unexpired, but predates the re-admission: it counts for nothing
    assert consent.grant_of(alice.patient, b.address, SCOPE_ALL).purposes != 0
    assert not consent.is_authorized(alice.patient, b.address, SCOPE_ALL, 0)
    with pytest.raises(AccessNotAuthorized):
        b.access(pub.record_id, Purpose.TREAT)
    alice.grant(b.address, SCOPE_ALL, [Purpose.TREAT], world.now() + 30 * DAY)  # consent anew
    assert b.access(pub.record_id, Purpose.TREAT) == b"old consent, new membership"


# -- contracts v2: each class of the attack review, end to end through the SDK --------------


def test_a_lab_grantee_cannot_log_an_imaging_record_as_lab(world: World, party: Parties) -> None:
    ws, a, b, alice = party.ws, party.a, party.b, party.alice
    pub = a.publish(alice.patient, b"CT thorax", Category.IMAGING)
    alice.grant(b.address, Category.LAB.code, [Purpose.TREAT], world.now() + DAY)
    ptr = ws.index.get(pub.record_id)
    assert b.sender is not None
    with pytest.raises(RecordBindingMismatch):  # the chain knows the record is IMAGING
        world.ledger.consent.record_access(alice.patient, ptr.id_bytes, Category.LAB.code,
                                           ptr.commitment_bytes, Purpose.TREAT).transact(b.sender)
    forged = ws.index.get(pub.record_id)  # an edited index at the node is refused the same way
    forged.category = Category.LAB.name
    ws.index.put(forged)
    with pytest.raises(RecordBindingMismatch):
        b.access(pub.record_id, Purpose.TREAT)
    assert party.node.releases() == []
    assert world.ledger.consent.audit_head(alice.patient)[1] == 0


def test_no_access_entry_for_another_patients_record_or_a_random_id(world: World) -> None:
    ws, a, b, alice = _actors(world)
    bob = Patient(world.ledger, world.sender("bob"), ws, world.enc["bob"])  # type: ignore[arg-type]
    bob.register_key()
    bobs = ws.index.get(a.publish(bob.patient, b"bob's lab", Category.LAB).record_id)
    alice.grant(b.address, SCOPE_ALL, [Purpose.TREAT], world.now() + DAY)
    assert b.sender is not None
    with pytest.raises(RecordBindingMismatch):  # Bob's record logged under Alice's grant
        world.ledger.consent.record_access(alice.patient, bobs.id_bytes, Category.LAB.code,
                                           bobs.commitment_bytes, Purpose.TREAT).transact(b.sender)
    random_id = new_record_id(a.address)
    with pytest.raises(RecordNotAnchored):
        world.ledger.consent.record_access(alice.patient, random_id, Category.LAB.code,
                                           b"\x01" * 32, Purpose.TREAT).transact(b.sender)
    assert world.ledger.consent.audit_head(alice.patient)[1] == 0


def test_a_copied_batch_root_vouches_for_nothing_of_the_rightful_issuer(world: World) -> None:
    _ws, a, b, alice = _actors(world)
    root, ptrs, _ = a.publish_batch([(alice.patient, b"r1"), (alice.patient, b"r2")],
                                    Category.VITALS)
    thief = new_batch_id(b.address)  # hospital B anchors the same root in its own namespace
    assert b.sender is not None
    world.ledger.records.anchor_batch(thief, root, 2, Category.VITALS.code).transact(b.sender)
    assert world.ledger.records.batch(ptrs[0].id_bytes[:28]).root == root  # A's batch is A's
    with pytest.raises(BatchIdNotOwned):
        world.ledger.records.anchor_batch(ptrs[0].id_bytes[:28], b"\x09" * 32, 2,
                                          Category.VITALS.code).transact(b.sender)
    stolen = ptrs[0]  # the copied root vouches for no id of B's batch: its leaves name A's ids
    assert not world.ledger.records.verify_batch_record(
        stolen.proof_bytes, alice.patient, thief + bytes(4), stolen.commitment_bytes,
        Category.VITALS.code)
    assert world.ledger.records.verify_batch_record(  # and A's own records stay A's
        stolen.proof_bytes, alice.patient, stolen.id_bytes, stolen.commitment_bytes,
        Category.VITALS.code)


def test_a_guardian_never_sets_the_patients_key(world: World) -> None:
    ws, _a, _b, alice = _actors(world)
    alice.set_guardian(world.addr("guardian"), world.now() + DAY)
    dan = Patient(world.ledger, world.sender("guardian"), ws, world.enc["guardian"],  # type: ignore[arg-type]
                  acting_for=alice.patient)
    with pytest.raises(NotThePatient):
        dan.register_key()
    assert world.ledger.consent.patient_key(alice.patient) == world.enc["alice"].public_bytes  # type: ignore[attr-defined]


def test_approving_one_purpose_never_extends_another(world: World) -> None:
    ws, _a, _b, alice = _actors(world)
    r = Researcher(world.ledger, world.sender("researcher"), ws, world.enc["researcher"])  # type: ignore[arg-type]
    one_day = world.now() + DAY
    alice.grant(r.address, Category.LAB.code, [Purpose.TREAT], one_day)
    req = r.request_access(alice.patient, Category.LAB.code, Purpose.HRESCH, "cohort study")
    alice.approve_request(req, world.now() + 365 * DAY)
    grant = world.ledger.consent.grant_of(alice.patient, r.address, Category.LAB.code)
    assert grant.expiry(Purpose.TREAT) == one_day
    assert grant.expiry(Purpose.HRESCH) > world.now() + 300 * DAY


def test_break_glass_is_bounded_closable_and_in_the_hash_chain(world: World, party: Parties,
                                                                tmp_path: Path) -> None:
    a, alice = party.a, party.alice
    er = _own(world, "emergency", tmp_path)
    pub = a.publish(alice.patient, b"allergy: penicillin", Category.ALLERGY)
    opening = er.break_glass(alice.patient, "unconscious-patient", 3600)
    assert len(opening.salt) == 16
    with pytest.raises(BreakGlassAlreadyOpen):
        er.break_glass(alice.patient, "unconscious-patient", 3600)
    assert er.access(pub.record_id, Purpose.ETREAT) == b"allergy: penicillin"
    alice.close_break_glass(er.address)
    with pytest.raises(AccessNotAuthorized):
        er.access(pub.record_id, Purpose.ETREAT)
    with pytest.raises(BreakGlassCooldown):
        er.break_glass(alice.patient, "unconscious-patient", 3600)
    log = AuditLog(world.ledger)
    kinds = [e.kind for e in log.history(alice.patient)]
    assert kinds == ["break-glass opened", "access", "break-glass closed"]
    assert log.verify(alice.patient).ok
    [event] = log.break_glass_events(alice.patient)
    assert event.closed_by == alice.patient and event.institution == er.address
    # the reason is on chain only as a salted hash
    assert event.reason_hash == "0x" + reason_hash("unconscious-patient", opening.salt).hex()


def test_erasing_a_record_shreds_every_version(world: World, party: Parties) -> None:
    a, alice = party.a, party.alice
    v1 = a.publish(alice.patient, b"discharge v1", Category.DISCHARGE)
    v2 = a.amend(v1.record_id, b"discharge v2")
    v3 = a.amend(v2.record_id, b"discharge v3")
    assert alice.erase(v2.record_id) >= 6  # patient + issuer copies of three versions
    for pub in (v1, v2, v3):
        with pytest.raises(WrappedKeyNotFound):
            alice.read(pub.record_id)
