"""Stateful property test: the consent system on a real anvil against a plain Python model.

Hypothesis drives random sequences of grants (direct and signed), revocations, guardian
changes, access requests and answers, break-glass openings and closings, suspensions, time
jumps and accesses to anchored records;
after every step the chain must agree with the model. Each example starts from the same
snapshot (``evm_snapshot`` / ``evm_revert``). Every transaction's timestamp is pinned with
``evm_setNextBlockTimestamp`` so the model knows the exact block time of each check.

Default: 50 examples x 20 steps. CARELEDGER_SLOW=1: 200 x 50.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_abi import decode as abi_decode
from eth_account import Account
from eth_utils.crypto import keccak
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from careledger.codes import SCOPE_ALL, Category, Purpose
from careledger.consent import ConsentSigner, Relayer
from careledger.contracts import ContractTx, RequestDetails, new_record_id
from careledger.errors import ContractRevert
from conftest import SLOW, World, build_world

PATIENTS = ["alice", "bob"]
INSTITUTIONS = ["hospital_a", "hospital_b", "emergency", "researcher"]
SCOPE_NAMES = ["ALL", "LAB", "REC"]
#: patient -> (record id, commitment) of one LAB record anchored for it by hospital_a
RECS: dict[str, tuple[bytes, bytes]] = {}
MAX_BREAK_GLASS = 72 * 3600
COOLDOWN = 24 * 3600
PERIOD = 30 * 86400
PERIOD_CAP = 7 * 86400


def scope_of(patient: str, name: str) -> bytes:
    return {"ALL": SCOPE_ALL, "LAB": Category.LAB.code}.get(name) or RECS[patient][0]


@dataclass
class Window:
    opened_at: int = 0
    expires_at: int = 0
    period_start: int = 0
    used: int = 0


@dataclass
class Model:
    now: int
    # (patient, institution, scope) -> {purpose code: expiry}
    grants: dict[tuple[str, str, str], dict[int, int]] = field(default_factory=dict)
    guardians: dict[str, int] = field(default_factory=dict)  # alice/bob -> expiry of "guardian"
    glass: dict[tuple[str, str], Window] = field(default_factory=dict)
    suspended: set[str] = field(default_factory=set)
    entries: dict[str, int] = field(default_factory=dict)  # hash-chain entries per patient

    def live(self, expiry: int, at: int) -> bool:
        return at < expiry

    def may_act(self, actor: str, patient: str, at: int) -> bool:
        return actor == patient or (actor == "guardian" and self.live(self.guardians.get(patient, 0), at))

    def authorized(self, patient: str, inst: str, scopes: list[str], purpose: int, at: int) -> bool:
        if inst in self.suspended:
            return False
        for s in scopes:
            if self.live(self.grants.get((patient, inst, s), {}).get(purpose, 0), at):
                return True
        window = self.glass.get((patient, inst), Window())
        return purpose == int(Purpose.ETREAT) and inst == "emergency" and self.live(window.expires_at, at)

    def may_open(self, patient: str, inst: str, duration: int, at: int) -> bool:
        w = self.glass.get((patient, inst), Window())
        if inst != "emergency" or inst in self.suspended or not 0 < duration <= MAX_BREAK_GLASS:
            return False
        if at < w.expires_at or (w.opened_at and at < w.expires_at + COOLDOWN):
            return False
        used = 0 if at >= w.period_start + PERIOD else w.used
        return used + duration <= PERIOD_CAP

    def open(self, patient: str, inst: str, duration: int, at: int) -> None:
        w = self.glass.setdefault((patient, inst), Window())
        if at >= w.period_start + PERIOD:
            w.period_start, w.used = at, 0
        w.opened_at, w.expires_at, w.used = at, at + duration, w.used + duration
        self.entries[patient] = self.entries.get(patient, 0) + 1


_WORLD: dict[str, Any] = {}


@pytest.fixture(scope="module")
def model_world(devnet, tmp_path_factory: pytest.TempPathFactory) -> World:  # type: ignore[no-untyped-def]
    world = build_world(devnet, tmp_path_factory.mktemp("model"))
    # the "suspended" genesis member acts as the consortium's admin here: reinstate it first
    world.ledger.institutions.propose_reinstate(world.addr("suspended")).transact(
        world.sender("hospital_a"))
    for patient in PATIENTS:  # access entries are accepted only for anchored, bound records
        rid, commitment = new_record_id(world.addr("hospital_a")), keccak(text=f"{patient} lab")
        world.ledger.records.anchor(world.addr(patient), rid, commitment,
                                    Category.LAB.code).transact(world.sender("hospital_a"))
        RECS[patient] = (rid, commitment)
    return world


class ConsentMachine(RuleBasedStateMachine):
    world: World

    @initialize()
    def start(self) -> None:
        w = self.world
        self.rpc = w.chain.w3.provider.make_request
        self.snapshot = self.rpc("evm_snapshot", [])["result"]  # type: ignore[arg-type]
        self.m = Model(now=w.now())
        self.signer = ConsentSigner(w.ledger.consent)
        self.relayer = Relayer(w.sender("relayer"), w.ledger.consent)
        self.consent = w.ledger.consent
        self.inst = w.ledger.institutions

    def teardown(self) -> None:
        if hasattr(self, "snapshot"):
            self.rpc("evm_revert", [self.snapshot])  # type: ignore[arg-type]
            self.world.nonces.reset()  # the revert rewound every account's nonce

    # -- helpers ---------------------------------------------------------------------------

    def _tx(self, actor: str, tx: ContractTx, allowed: bool) -> None:
        self.m.now += 1
        self.rpc("evm_setNextBlockTimestamp", [self.m.now])  # type: ignore[arg-type]
        try:
            tx.transact(self.world.sender(actor), gas=400_000)
        except ContractRevert:
            assert not allowed, f"{actor}: {tx.description} refused but the model allows it"
            self.m.now -= 1  # nothing was mined
            return
        assert allowed, f"{actor}: {tx.description} succeeded but the model refuses it"

    # -- rules -----------------------------------------------------------------------------

    @rule(actor=st.sampled_from(PATIENTS + ["guardian", "stranger"]), patient=st.sampled_from(PATIENTS),
          grantee=st.sampled_from(INSTITUTIONS), scope=st.sampled_from(SCOPE_NAMES),
          mask=st.integers(0, 63), duration=st.integers(2, 200_000))
    def grant(self, actor: str, patient: str, grantee: str, scope: str, mask: int, duration: int) -> None:
        w = self.world
        at = self.m.now + 1
        ok = self.m.may_act(actor, patient, at) and mask != 0
        self._tx(actor, self.consent.grant(w.addr(patient), w.addr(grantee),
                                           scope_of(patient, scope), mask, self.m.now + duration), ok)
        if ok:  # a grant replaces every purpose
            self.m.grants[(patient, grantee, scope)] = {
                p: at - 1 + duration for p in range(6) if mask >> p & 1}

    @rule(signer=st.sampled_from(PATIENTS + ["guardian", "stranger"]), patient=st.sampled_from(PATIENTS),
          grantee=st.sampled_from(INSTITUTIONS), scope=st.sampled_from(SCOPE_NAMES),
          mask=st.integers(1, 63), duration=st.integers(2, 200_000))
    def grant_by_sig(self, signer: str, patient: str, grantee: str, scope: str, mask: int,
                     duration: int) -> None:
        w = self.world
        at = self.m.now + 1
        ok = self.m.may_act(signer, patient, at)
        msg = self.signer.grant_message(w.addr(patient), w.addr(grantee), scope_of(patient, scope),
                                        [p for p in Purpose if mask & p.bit], self.m.now + duration,
                                        deadline=self.m.now + 1000, signer=w.addr(signer))
        signed = self.signer.sign(msg, Account.from_key(w.keys[signer]))
        self.m.now += 1
        self.rpc("evm_setNextBlockTimestamp", [self.m.now])  # type: ignore[arg-type]
        try:
            self.relayer.submit(signed)
        except ContractRevert:
            assert not ok, "signed grant refused but the model allows it"
            self.m.now -= 1
            return
        assert ok, f"signed grant by {signer} for {patient} accepted but the model refuses it"
        self.m.grants[(patient, grantee, scope)] = {
            p: at - 1 + duration for p in range(6) if mask >> p & 1}

    @rule(actor=st.sampled_from(PATIENTS + ["guardian", "stranger"]), patient=st.sampled_from(PATIENTS),
          grantee=st.sampled_from(INSTITUTIONS), scope=st.sampled_from(SCOPE_NAMES))
    def revoke(self, actor: str, patient: str, grantee: str, scope: str) -> None:
        w = self.world
        exists = bool(self.m.grants.get((patient, grantee, scope)))
        ok = self.m.may_act(actor, patient, self.m.now + 1) and exists
        self._tx(actor, self.consent.revoke(w.addr(patient), w.addr(grantee),
                                            scope_of(patient, scope)), ok)
        if ok:
            del self.m.grants[(patient, grantee, scope)]

    @rule(patient=st.sampled_from(PATIENTS), duration=st.integers(2, 100_000), remove=st.booleans())
    def guardian(self, patient: str, duration: int, remove: bool) -> None:
        w = self.world
        if remove:
            ok = self.m.guardians.get(patient, 0) != 0
            self._tx(patient, self.consent.remove_guardian(w.addr("guardian")), ok)
            if ok:
                del self.m.guardians[patient]
        else:
            self._tx(patient, self.consent.set_guardian(w.addr("guardian"), self.m.now + duration), True)
            self.m.guardians[patient] = self.m.now - 1 + duration

    @rule(inst=st.sampled_from(INSTITUTIONS), patient=st.sampled_from(PATIENTS),
          scope=st.sampled_from(SCOPE_NAMES), purpose=st.sampled_from(list(Purpose)),
          answer=st.sampled_from(["approve", "reject", "none"]), by=st.sampled_from(PATIENTS + ["guardian"]),
          duration=st.integers(2, 100_000))
    def request(self, inst: str, patient: str, scope: str, purpose: Purpose, answer: str, by: str,
                duration: int) -> None:
        w = self.world
        ok = inst not in self.m.suspended
        before = w.ledger.consent.request_count()
        self._tx(inst, self.consent.request_access(w.addr(patient), scope_of(patient, scope),
                                                   purpose, b"\x01" * 32), ok)
        if not ok or answer == "none":
            return
        details = RequestDetails(before + 1, w.addr(inst), w.addr(patient),
                                 scope_of(patient, scope), purpose)
        allowed = self.m.may_act(by, patient, self.m.now + 1)
        if answer == "reject":
            self._tx(by, self.consent.reject_request(details), allowed)
            return
        self._tx(by, self.consent.approve_request(details, self.m.now + duration), allowed)
        if allowed:  # only the requested purpose changes; the others keep their own expiries
            self.m.grants.setdefault((patient, inst, scope), {})[int(purpose)] = (
                self.m.now - 1 + duration)

    @rule(inst=st.sampled_from(INSTITUTIONS), patient=st.sampled_from(PATIENTS),
          duration=st.integers(0, MAX_BREAK_GLASS + 10))
    def break_glass(self, inst: str, patient: str, duration: int) -> None:
        w = self.world
        at = self.m.now + 1
        ok = self.m.may_open(patient, inst, duration, at)
        self._tx(inst, self.consent.break_glass(w.addr(patient), b"\x07" * 32, duration), ok)
        if ok:
            self.m.open(patient, inst, duration, at)

    @rule(by=st.sampled_from(PATIENTS + ["guardian", "stranger"]), patient=st.sampled_from(PATIENTS),
          inst=st.sampled_from(INSTITUTIONS))
    def close_break_glass(self, by: str, patient: str, inst: str) -> None:
        w = self.world
        at = self.m.now + 1
        window = self.m.glass.get((patient, inst), Window())
        ok = self.m.may_act(by, patient, at) and at < window.expires_at
        self._tx(by, self.consent.close_break_glass(w.addr(patient), w.addr(inst)), ok)
        if ok:
            window.expires_at = at
            self.m.entries[patient] = self.m.entries.get(patient, 0) + 1

    @rule(inst=st.sampled_from(INSTITUTIONS), suspend=st.booleans())
    def membership(self, inst: str, suspend: bool) -> None:
        w = self.world
        if suspend == (inst in self.m.suspended):
            return  # the registry refuses a no-op status change; not what this rule is about
        change = self.inst.propose_suspend if suspend else self.inst.propose_reinstate
        self._tx("suspended", change(w.addr(inst)), True)
        (self.m.suspended.add if suspend else self.m.suspended.discard)(inst)

    @rule(seconds=st.integers(1, 150_000))
    def time_passes(self, seconds: int) -> None:
        self.m.now += seconds
        self.rpc("evm_setNextBlockTimestamp", [self.m.now])  # type: ignore[arg-type]
        self.rpc("evm_mine", [])  # type: ignore[arg-type]

    @rule(inst=st.sampled_from(INSTITUTIONS), patient=st.sampled_from(PATIENTS),
          purpose=st.sampled_from(list(Purpose)))
    def access(self, inst: str, patient: str, purpose: Purpose) -> None:
        w = self.world
        ok = self.m.authorized(patient, inst, ["REC", "LAB", "ALL"], int(purpose), self.m.now + 1)
        rid, commitment = RECS[patient]
        self._tx(inst, self.consent.record_access(w.addr(patient), rid, Category.LAB.code,
                                                  commitment, purpose), ok)
        if ok:
            self.m.entries[patient] = self.m.entries.get(patient, 0) + 1

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def chain_agrees_with_model(self) -> None:
        if not hasattr(self, "m"):
            return
        w = self.world
        block = w.chain.w3.eth.get_block("latest")
        at = int(block["timestamp"])
        # one JSON-RPC batch per check instead of 50 round trips, every call at that block; the
        # calldata is the same at every step, so it is ABI-encoded once (``_calls``)
        calls, cases = _calls(w)
        replies = w.chain.w3.provider.make_batch_request(  # type: ignore[attr-defined]
            [("eth_call", [{"to": to, "data": data}, hex(int(block["number"]))])
             for to, data, _ in calls])
        assert isinstance(replies, list) and len(replies) == len(calls), replies
        results = []
        for (_, _, types), reply in zip(calls, replies, strict=True):
            assert "error" not in reply, reply
            results.append(abi_decode(types, bytes.fromhex(reply["result"][2:])))
        for p, (_, count) in zip(PATIENTS, results[:len(PATIENTS)], strict=True):
            assert count == self.m.entries.get(p, 0), p
        for (p, i, s, u), (got,) in zip(cases, results[len(PATIENTS):], strict=True):
            expect = self.m.authorized(p, i, [s, "ALL"], int(u), at)
            assert bool(got) == expect, (p, i, s, u.name, at)


_CASES = [(p, i, s, u) for p in PATIENTS for i in INSTITUTIONS for s in ("ALL", "REC")
          for u in (Purpose.TREAT, Purpose.ETREAT, Purpose.HRESCH)]
_CALLS: dict[str, list[tuple[str, str, list[str]]]] = {}


def _calls(w: World) -> tuple[list[tuple[str, str, list[str]]], list[tuple[str, str, str, Purpose]]]:
    """``(to, calldata, output types)`` of ``auditHead`` for each patient, then ``isAuthorized``
    for each of ``_CASES``, encoded by web3 from the contract's ABI (once per deployment)."""
    contract = w.ledger.consent.contract
    key = str(contract.address)
    if key not in _CALLS:
        def call(fn: str, *args: object) -> tuple[str, str, list[str]]:
            outputs = next(e["outputs"] for e in contract.abi
                           if e.get("type") == "function" and e.get("name") == fn)
            return (contract.address, contract.encode_abi(fn, args=list(args)),
                    [o["type"] for o in outputs])

        _CALLS[key] = ([call("auditHead", w.addr(p)) for p in PATIENTS]
                       + [call("isAuthorized", w.addr(p), w.addr(i), scope_of(p, s), int(u))
                          for p, i, s, u in _CASES])
    return _CALLS[key], _CASES


def test_consent_system_matches_the_model(model_world: World) -> None:
    ConsentMachine.world = model_world
    examples, steps = (200, 50) if SLOW else (50, 20)
    ConsentMachine.TestCase.settings = settings(
        max_examples=examples, stateful_step_count=steps, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much], derandomize=not SLOW,
    )
    ConsentMachine.TestCase().runTest()

