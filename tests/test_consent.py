"""Signed consents (EIP-712) against a real anvil: typed data, wallet signatures, the relayer.

One deployment per module; every test runs inside an ``evm_snapshot``/``evm_revert`` pair and
uses fresh patients (new random keys without any ether, so "the patient pays no gas" is exact).
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_account.signers.local import LocalAccount

from careledger.chain import Chain, Devnet, NonceManager, Sender
from careledger.codes import SCOPE_ALL, Category, Purpose, RequestStatus, Role
from careledger.consent import (
    ConsentSigner,
    Eip712Domain,
    GrantConsent,
    Relayer,
    RevokeConsent,
    SetGuardianConsent,
    SignedConsent,
    normalize_signature,
    parse_typed_data,
    recover_signer,
    sign_consent,
)
from careledger.consent.examples import frontend_examples, render_example
from careledger.consent.signing import SECP256K1_N
from careledger.contracts import CareLedger, ConsentRegistry, GenesisMember, deploy
from careledger.errors import (
    CareLedgerError,
    ChainIdMismatch,
    ContractRevert,
    DomainMismatch,
    InvalidSignature,
    MalformedTypedData,
    MalleableSignature,
    NotPatientOrGuardian,
    SignatureExpired,
    SignatureMismatch,
    WrongPassword,
)

EXAMPLES = Path(__file__).resolve().parents[1] / "frontend-notes" / "examples"
DAY = 24 * 3600
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Env:
    """A deployment with named dev accounts (institutions are genesis members)."""

    node: Devnet
    chain: Chain
    nonces: NonceManager
    ledger: CareLedger
    hospital_a: str
    hospital_b: str
    relayer_key: str
    attacker_key: str
    funded_key: str
    base_keys: dict[str, str]

    @property
    def registry(self) -> ConsentRegistry:
        return self.ledger.consent

    def sender(self, key: str) -> Sender:
        return Sender.from_key(self.chain, key, nonces=self.nonces)

    def relayer(self) -> Relayer:
        return Relayer(self.sender(self.relayer_key), self.registry)

    def signer(self) -> ConsentSigner:
        return ConsentSigner(self.registry)

    def now(self) -> int:
        return int(self.chain.w3.eth.get_block("latest")["timestamp"])

    def rpc(self, method: str, params: list[Any]) -> Any:
        return self.chain.w3.provider.make_request(method, params)  # type: ignore[arg-type]

    def granted_events(self, patient: str) -> list[Any]:
        return self.registry.logs("ConsentGranted", from_block=self.ledger.deployment.block,
                                  patient=patient)


@pytest.fixture(scope="module")
def base(devnet: Devnet) -> Env:
    chain = Chain(devnet.rpc_url, chain_id=devnet.chain_id)
    nonces = NonceManager(chain)
    acct = devnet.accounts
    deployer = Sender.from_key(chain, acct[0].private_key, nonces=nonces)
    genesis = [GenesisMember(acct[i].address, Role.PROVIDER, os.urandom(32)) for i in (1, 2)]
    dep = deploy(deployer, genesis, threshold=1)
    return Env(devnet, chain, nonces, CareLedger(chain, dep), acct[1].address, acct[2].address,
               relayer_key=acct[5].private_key, attacker_key=acct[11].private_key,
               funded_key=acct[6].private_key,
               base_keys={"hospital_a": acct[1].private_key, "hospital_b": acct[2].private_key})


@pytest.fixture
def env(base: Env) -> Iterator[Env]:
    snapshot = base.rpc("evm_snapshot", [])["result"]
    base.nonces.reset()
    yield base
    base.rpc("evm_revert", [snapshot])
    base.nonces.reset()  # the revert rewound every account's nonce


def patient() -> LocalAccount:
    """A fresh patient without any ether."""
    acct: LocalAccount = Account.create()
    return acct


def signed_grant(env: Env, who: LocalAccount, *, scope: bytes = SCOPE_ALL,
                 deadline: int | None = None, for_patient: str | None = None) -> SignedConsent:
    s = env.signer()
    msg = s.grant_message(for_patient or who.address, env.hospital_b, scope,
                          [Purpose.TREAT, Purpose.HRESCH], env.now() + 30 * DAY,
                          deadline=deadline if deadline is not None else env.now() + DAY,
                          signer=who.address)
    return s.sign(msg, who)


# -- types and domain ------------------------------------------------------------------------


def test_type_strings_and_domain_equal_the_deployed_contract(env: Env) -> None:
    fns = env.registry.contract.functions
    assert bytes(fns.GRANT_TYPEHASH().call()) == GrantConsent.typehash()
    assert bytes(fns.REVOKE_TYPEHASH().call()) == RevokeConsent.typehash()
    assert bytes(fns.SET_GUARDIAN_TYPEHASH().call()) == SetGuardianConsent.typehash()
    assert GrantConsent.type_string() == (
        "Grant(address patient,address grantee,bytes32 scope,uint32 purposes,uint64 expiresAt,"
        "address signer,uint256 nonce,uint256 deadline)")
    assert RevokeConsent.type_string() == (
        "Revoke(address patient,address grantee,bytes32 scope,address signer,uint256 nonce,"
        "uint256 deadline)")
    assert SetGuardianConsent.type_string() == (
        "SetGuardian(address patient,address guardian,uint64 expiresAt,uint256 nonce,"
        "uint256 deadline)")
    domain = Eip712Domain.from_chain(env.registry)
    assert domain == Eip712Domain(env.chain.chain_id, env.registry.address)
    assert domain.separator() == bytes(fns.DOMAIN_SEPARATOR().call())


def test_sdk_digest_equals_eth_account_for_every_type() -> None:
    p, a, b = patient(), patient().address, patient().address
    domain = Eip712Domain(31337, patient().address)
    msgs = [GrantConsent(p.address, a, Category.LAB.code, 0b101, 2**64 - 1, b, 2**200, 2**256 - 1),
            RevokeConsent(p.address, a, SCOPE_ALL, p.address, 0, 2**60),
            SetGuardianConsent(p.address, b, 12345, 3, 7)]
    for m in msgs:
        td = m.typed_data(domain)
        assert json.loads(json.dumps(td)) == td  # plain JSON
        assert _hash_eip191_message(encode_typed_data(full_message=td)) == m.digest(domain)
        # numbers above 2**53 travel as decimal strings, and parse back
        assert all(not isinstance(v, int) or v <= 2**53 - 1 for v in td["message"].values())
        assert parse_typed_data(json.dumps(td)) == (m, domain)


# -- relaying --------------------------------------------------------------------------------


def test_wallet_signed_grant_is_relayed_and_the_patient_pays_no_gas(env: Env, tmp_path: Path) -> None:
    p = patient()
    s = env.signer()
    expires = env.now() + 30 * DAY
    msg = s.grant_message(p.address, env.hospital_b, Category.LAB.code, [Purpose.TREAT], expires,
                          deadline=env.now() + DAY)
    typed = json.loads(json.dumps(msg.typed_data(s.domain())))  # what the page sends the wallet
    wallet_sig = Account.sign_typed_data(p.key, full_message=typed).signature.to_0x_hex()
    # the page posts {typedData, signature}; the relayer reads it back from a file
    payload = tmp_path / "payload.json"
    payload.write_text(json.dumps({"typedData": typed, "signature": wallet_sig}))
    signed = SignedConsent.load(payload)
    assert signed.signer == p.address and signed.message == msg

    result = env.relayer().submit(signed)
    assert result.applied_by_us and result.gas_used > 0
    grant = env.registry.grant_of(p.address, env.hospital_b, Category.LAB.code)
    assert (grant.purposes, grant.expiry(Purpose.TREAT)) == (Purpose.TREAT.bit, expires)
    assert env.registry.is_authorized(p.address, env.hospital_b, Category.LAB.code, 0)
    assert env.chain.w3.eth.get_balance(p.address) == 0  # no ether, no transaction
    assert env.chain.w3.eth.get_transaction_count(p.address) == 0
    assert env.registry.nonce(p.address) == 1
    tx = env.chain.w3.eth.get_transaction(result.tx_hash)
    assert tx["from"] == env.sender(env.relayer_key).address


def test_signed_consent_file_round_trip(env: Env, tmp_path: Path) -> None:
    p = patient()
    signed = signed_grant(env, p)
    path = signed.save(tmp_path / "sub" / "consent.json")
    assert SignedConsent.load(path) == signed
    assert json.loads(path.read_text()) == signed.to_json()
    # wallets that return v as 0/1 are accepted (normalised to 27/28)
    raw = bytearray(signed.signature)
    raw[64] -= 27
    again = SignedConsent.from_wallet(signed.typed_data(), "0x" + raw.hex())
    assert again.signature == signed.signature


def test_replayed_signed_consent_is_success_without_applying_twice(env: Env) -> None:
    p = patient()
    signed = signed_grant(env, p)
    relayer = env.relayer()
    first = relayer.submit(signed)
    second = relayer.submit(signed)
    assert first.applied_by_us and not second.applied_by_us
    assert second.gas_used == 0 and second.tx_hash == first.tx_hash
    assert len(env.granted_events(p.address)) == 1
    assert env.registry.nonce(p.address) == 1
    # submitted directly (no relayer logic), the replay reverts with the named error
    direct = env.sender(env.attacker_key)
    with pytest.raises(InvalidSignature):
        signed.message.to_tx(env.registry, signed.signature).transact(direct)


def test_front_run_by_an_attacker_counts_as_success_applied_once(env: Env) -> None:
    p = patient()
    signed = signed_grant(env, p)
    attacker = env.sender(env.attacker_key)
    theirs = signed.message.to_tx(env.registry, signed.signature).transact(attacker)
    result = env.relayer().submit(signed)
    assert not result.applied_by_us and result.gas_used == 0
    assert result.tx_hash == theirs["transactionHash"].to_0x_hex()
    assert len(env.granted_events(p.address)) == 1


def test_front_run_after_our_estimate_is_success_and_reports_our_reverted_tx(env: Env) -> None:
    p = patient()
    signed = signed_grant(env, p)
    attacker = env.sender(env.attacker_key)
    theirs = signed.message.to_tx(env.registry, signed.signature).transact(attacker)
    # a fixed gas limit skips the estimate, as if the attacker landed between it and ours
    result = env.relayer().submit(signed, gas=300_000)
    assert not result.applied_by_us
    assert result.our_tx_hash is not None and result.gas_used > 0
    assert env.chain.w3.eth.get_transaction_receipt(result.our_tx_hash)["status"] == 0
    assert result.tx_hash == theirs["transactionHash"].to_0x_hex()
    assert len(env.granted_events(p.address)) == 1


def test_concurrent_submissions_from_many_threads_all_apply(env: Env) -> None:
    patients = [patient() for _ in range(8)]
    signed = [signed_grant(env, p) for p in patients]
    relayer = env.relayer()
    results: list[Any] = [None] * len(signed)

    def run(i: int) -> None:
        results[i] = relayer.submit(signed[i])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(signed))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r is not None and r.applied_by_us for r in results)
    assert len({r.tx_hash for r in results}) == len(signed)
    for p in patients:
        assert env.registry.grant_of(p.address, env.hospital_b, SCOPE_ALL).purposes != 0


def test_revoke_by_signature_and_its_replay(env: Env) -> None:
    p = patient()
    relayer = env.relayer()
    relayer.submit(signed_grant(env, p))
    signed = env.signer().revoke(p, env.hospital_b, SCOPE_ALL)
    assert relayer.submit(signed).applied_by_us
    assert env.registry.grant_of(p.address, env.hospital_b, SCOPE_ALL).purposes == 0
    again = relayer.submit(signed)
    assert not again.applied_by_us and again.gas_used == 0


# -- refusals --------------------------------------------------------------------------------


def test_expired_deadline_is_refused_locally_and_on_chain(env: Env) -> None:
    p = patient()
    signed = signed_grant(env, p, deadline=env.now() - 1)
    relayer = env.relayer()
    before = env.chain.w3.eth.get_transaction_count(relayer.sender.address)
    with pytest.raises(SignatureExpired) as local:
        relayer.submit(signed)
    assert isinstance(local.value, PermissionError)
    assert local.value.error_args["deadline"] == signed.message.deadline
    with pytest.raises(SignatureExpired) as onchain:
        relayer.submit(signed, local_checks=False)
    assert onchain.value.error_args["deadline"] == signed.message.deadline
    assert env.chain.w3.eth.get_transaction_count(relayer.sender.address) == before  # no gas spent
    assert env.registry.grant_of(p.address, env.hospital_b, SCOPE_ALL).purposes == 0


def test_increase_nonce_voids_an_outstanding_signature(env: Env) -> None:
    p: LocalAccount = Account.from_key(env.funded_key)
    signed = signed_grant(env, p)
    env.registry.increase_nonce().transact(env.sender(env.funded_key))
    with pytest.raises(InvalidSignature):
        env.relayer().submit(signed)
    assert env.registry.grant_of(p.address, env.hospital_b, SCOPE_ALL).purposes == 0


def test_wrong_signer_and_tampered_messages_are_refused(env: Env) -> None:
    p, stranger = patient(), patient()
    s = env.signer()
    msg = s.grant_message(p.address, env.hospital_b, SCOPE_ALL, [Purpose.TREAT],
                          env.now() + DAY, deadline=env.now() + DAY)
    # the SDK refuses to sign a message naming another signer
    with pytest.raises(SignatureMismatch):
        s.sign(msg, stranger)
    # a wallet signature from the wrong account is refused before submission
    td = msg.typed_data(s.domain())
    wrong = Account.sign_typed_data(stranger.key, full_message=td).signature.to_0x_hex()
    with pytest.raises(SignatureMismatch):
        SignedConsent.from_wallet(td, wrong)
    # a message changed after signing (more purposes) is refused locally ...
    good = s.sign(msg, p)
    tampered_td = json.loads(json.dumps(td))
    tampered_td["message"]["purposes"] = 0b111111
    with pytest.raises(SignatureMismatch):
        SignedConsent.from_wallet(tampered_td, good.signature_hex)
    # ... and on chain
    tampered = replace(good, message=replace(msg, purposes=0b111111))
    with pytest.raises(InvalidSignature):
        env.relayer().submit(tampered, local_checks=False)
    # a stranger signing for the patient as itself: valid signature, not a guardian
    as_self = s.sign(replace(msg, signer=stranger.address, nonce=0), stranger)
    with pytest.raises(NotPatientOrGuardian):
        env.relayer().submit(as_self)
    # typed data with other types is not a consent
    odd = json.loads(json.dumps(td))
    odd["types"]["Grant"][3]["type"] = "uint256"
    with pytest.raises(MalformedTypedData):
        SignedConsent.from_wallet(odd, good.signature_hex)
    assert env.registry.grant_of(p.address, env.hospital_b, SCOPE_ALL).purposes == 0


def test_signature_for_another_chain_or_contract_is_refused(env: Env) -> None:
    p = patient()
    s = env.signer()
    msg = s.grant_message(p.address, env.hospital_b, SCOPE_ALL, [Purpose.TREAT],
                          env.now() + DAY, deadline=env.now() + DAY)
    relayer = env.relayer()
    other_chain = sign_consent(msg, Eip712Domain(env.chain.chain_id + 1, env.registry.address), p)
    other_contract = sign_consent(msg, Eip712Domain(env.chain.chain_id, env.hospital_a), p)
    with pytest.raises(ChainIdMismatch):
        relayer.submit(other_chain)
    with pytest.raises(DomainMismatch):
        relayer.submit(other_contract)
    for signed in (other_chain, other_contract):
        with pytest.raises(InvalidSignature):
            relayer.submit(signed, local_checks=False)
    assert env.registry.nonce(p.address) == 0


def test_signature_for_one_deployment_is_refused_by_a_second_deployment(env: Env) -> None:
    p = patient()
    signed = signed_grant(env, p)
    deployer = env.sender(env.node.accounts[0].private_key)
    genesis = [GenesisMember(env.hospital_a, Role.PROVIDER, os.urandom(32)),
               GenesisMember(env.hospital_b, Role.PROVIDER, os.urandom(32))]
    second = CareLedger(env.chain, deploy(deployer, genesis, threshold=1)).consent
    relayer = Relayer(env.sender(env.relayer_key), second)
    with pytest.raises(DomainMismatch):
        relayer.submit(signed)
    with pytest.raises(InvalidSignature):
        relayer.submit(signed, local_checks=False)
    # the same message signed for the second deployment is accepted there
    assert relayer.submit(sign_consent(signed.message, ConsentSigner(second).domain(), p)).applied_by_us


def test_high_s_signature_is_refused(env: Env) -> None:
    p = patient()
    signed = signed_grant(env, p)
    r, s, v = (signed.signature[:32], int.from_bytes(signed.signature[32:64], "big"),
               signed.signature[64])
    flipped = r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])  # 27 <-> 28
    # the malleable twin still recovers to the patient: only the s check stops it
    assert recover_signer(signed.message, signed.domain, flipped) == p.address
    with pytest.raises(MalleableSignature):
        normalize_signature(flipped)
    with pytest.raises(MalleableSignature):
        SignedConsent.from_wallet(signed.typed_data(), "0x" + flipped.hex())
    with pytest.raises(CareLedgerError) as exc:  # OpenZeppelin ECDSA refuses high s
        env.relayer().submit(replace(signed, signature=flipped), local_checks=False)
    assert isinstance(exc.value, (ContractRevert, CareLedgerError))
    assert env.registry.nonce(p.address) == 0
    assert env.relayer().submit(signed).applied_by_us  # the canonical one still works


def test_guardian_signs_a_grant_for_the_patient(env: Env) -> None:
    p, guardian = patient(), patient()
    signer = env.signer()
    relayer = env.relayer()
    appoint = signer.set_guardian(p, guardian.address, env.now() + 365 * DAY)
    assert relayer.submit(appoint).applied_by_us
    assert env.registry.is_guardian(p.address, guardian.address)
    assert not relayer.submit(appoint).applied_by_us  # replay: already applied
    signed = signer.grant(guardian, env.hospital_a, SCOPE_ALL, [Purpose.TREAT],
                          env.now() + 30 * DAY, patient=p.address)
    assert signed.signer == guardian.address and signed.message.patient == p.address
    assert relayer.submit(signed).applied_by_us
    assert env.registry.is_authorized(p.address, env.hospital_a, SCOPE_ALL, 0)
    (event,) = env.granted_events(p.address)
    assert event["args"]["actor"] == guardian.address
    assert env.chain.w3.eth.get_balance(guardian.address) == 0
    assert env.registry.nonce(guardian.address) == 1 and env.registry.nonce(p.address) == 1


def test_keystore_signing_and_wrong_password(env: Env, tmp_path: Path) -> None:
    p = patient()
    keystore = tmp_path / "patient.json"
    keystore.write_text(json.dumps(Account.encrypt(p.key, "right", kdf="pbkdf2", iterations=2)))
    s = env.signer()
    msg = s.grant_message(p.address, env.hospital_b, SCOPE_ALL, [Purpose.TREAT],
                          env.now() + DAY, deadline=env.now() + DAY)
    assert s.sign_with_keystore(msg, keystore, "right") == s.sign(msg, p)
    with pytest.raises(WrongPassword):
        s.sign_with_keystore(msg, keystore, "wrong")


# -- frontend notes --------------------------------------------------------------------------


def test_frontend_example_files_match_what_the_sdk_generates() -> None:
    generated = frontend_examples()
    on_disk = {f.name for f in EXAMPLES.glob("*.json")}
    assert on_disk == set(generated), "run `python tools/gen_frontend_examples.py`"
    for name, data in generated.items():
        assert (EXAMPLES / name).read_text() == render_example(data), (
            f"{name} drifted: run `python tools/gen_frontend_examples.py`")
    payload = SignedConsent.from_json(generated["relay-payload.json"])
    assert payload.message == parse_typed_data(generated["grant.json"])[0]


# -- v2: every patient action has a signed form; contract wallets sign too ---------------------


def test_every_patient_action_is_relayed_from_a_wallet_without_ether(env: Env) -> None:
    p = patient()
    s, relayer = env.signer(), env.relayer()
    key = os.urandom(32)
    assert relayer.submit(s.sign(s.register_key_message(p.address, key), p)).applied_by_us
    assert env.registry.patient_key(p.address) == key
    guardian = Account.create().address
    assert relayer.submit(s.sign(s.guardian_message(p.address, guardian, env.now() + DAY), p)).applied_by_us
    assert env.registry.is_guardian(p.address, guardian)
    assert relayer.submit(s.sign(s.remove_guardian_message(p.address, guardian), p)).applied_by_us
    assert not env.registry.is_guardian(p.address, guardian)
    # a request answered by signature: approve one, reject another
    hospital = env.sender(env.base_keys["hospital_a"])
    receipt = env.registry.request_access(p.address, SCOPE_ALL, Purpose.HRESCH,
                                          b"\x01" * 32).transact(hospital)
    first = env.registry.request(env.registry.request_id_from(receipt)).details
    receipt = env.registry.request_access(p.address, SCOPE_ALL, Purpose.PUBHLTH,
                                          b"\x02" * 32).transact(hospital)
    second = env.registry.request(env.registry.request_id_from(receipt)).details
    answer = s.sign(s.answer_message(first, True, env.now() + DAY), p)
    assert relayer.submit(answer).applied_by_us
    assert relayer.submit(s.sign(s.answer_message(second, False), p)).applied_by_us
    assert env.registry.request_status(first.request_id) is RequestStatus.APPROVED
    assert env.registry.request_status(second.request_id) is RequestStatus.REJECTED
    assert env.registry.is_authorized(p.address, env.hospital_a, SCOPE_ALL, Purpose.HRESCH)
    replay = relayer.submit(answer)  # already applied: success, nothing sent
    assert not replay.applied_by_us and replay.gas_used == 0
    # an emergency window the patient closes by signature
    er = env.node.accounts[3]
    env.ledger.institutions.propose_admit(er.address, Role.PROVIDER | Role.EMERGENCY,
                                          os.urandom(32)).transact(hospital)
    env.registry.break_glass(p.address, b"\x03" * 32, 3600).transact(env.sender(er.private_key))
    assert env.registry.break_glass_window(p.address, er.address).open_at(env.now())
    close = s.sign(s.close_break_glass_message(p.address, er.address), p)
    assert relayer.submit(close).applied_by_us
    assert not env.registry.break_glass_window(p.address, er.address).open_at(env.now())
    assert env.chain.w3.eth.get_balance(p.address) == 0


def test_a_contract_wallet_patient_signs_through_eip1271(env: Env) -> None:
    from careledger.contracts.artifacts import artifact_from_build

    owner = patient()
    art = artifact_from_build(ROOT / ".build", "MockContractWallet")
    receipt = env.sender(env.funded_key).deploy(art["abi"], art["bytecode"], owner.address)
    wallet = str(receipt["contractAddress"])
    s = env.signer()
    msg = s.grant_message(wallet, env.hospital_b, SCOPE_ALL, [Purpose.TREAT], env.now() + DAY,
                          signer=wallet)
    digest = msg.digest(s.domain())
    signature = bytes(owner.unsafe_sign_hash(digest).signature)
    with pytest.raises(SignatureMismatch):  # offline, a contract's signature cannot be checked
        SignedConsent.create(msg, s.domain(), signature)
    signed = SignedConsent.create(msg, s.domain(), signature, registry=env.registry)
    result = env.relayer().submit(signed)
    assert result.applied_by_us
    assert env.registry.is_authorized(wallet, env.hospital_b, SCOPE_ALL, Purpose.TREAT)
    # the wallet withdraws its approval: the relayer refuses before spending gas
    other = s.grant_message(wallet, env.hospital_b, Category.LAB.code, [Purpose.TREAT],
                            env.now() + DAY, signer=wallet)
    bad = bytes(patient().unsafe_sign_hash(other.digest(s.domain())).signature)
    with pytest.raises(SignatureMismatch):
        SignedConsent.create(other, s.domain(), bad, registry=env.registry)


def test_a_mistyped_checksummed_address_in_typed_data_is_refused() -> None:
    from careledger.consent import GrantConsent
    from careledger.consent.domain import parse_address
    from careledger.errors import InvalidInput, MalformedTypedData

    good = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    typo = good.replace("7970C", "7971C")  # one digit: eth_utils.is_address still says yes
    fields: dict[str, Any] = {"patient": good, "grantee": good, "scope": SCOPE_ALL, "purposes": 1,
                              "expires_at": 2**40, "signer": good, "nonce": 0, "deadline": 2**40}
    assert GrantConsent(**fields).patient == good
    assert GrantConsent(**{**fields, "grantee": good.lower()}).grantee == good  # no checksum: fine
    with pytest.raises(InvalidInput, match="EIP-55"):
        GrantConsent(**{**fields, "grantee": typo})
    with pytest.raises(MalformedTypedData, match="EIP-55"):
        parse_address(typo, "grantee")
