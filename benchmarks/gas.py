"""Gas of every CareLedger operation, measured through the SDK on a fresh anvil.

Each row is the receipt's ``gasUsed`` of a real transaction (refunds applied, as a payer sees
it), except ``isAuthorized``, whose execution gas is measured by mining a transaction that
calls the view: ``gasUsed - 21000 - calldata cost`` (and the ``eth_estimateGas`` figure, an
upper bound, beside it). Budgets are those of issue 11 (contracts v2).

    .venv/bin/python benchmarks/gas.py          # own anvil, prints the table, writes results/gas.json
    .venv/bin/python benchmarks/gas.py --quick  # smoke run, writes results/quick/gas.json
"""

from __future__ import annotations

import secrets
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    YEAR,
    Env,
    calldata,
    exec_gas,
    fmt_int,
    gas_breakdown,
    machine_facts,
    md_table,
    quick_results,
    write_json,
)

from careledger.actors import Institution, Patient, Provider
from careledger.codes import SCOPE_ALL, Category, Purpose
from careledger.consent import ConsentSigner, Relayer
from careledger.contracts import new_batch_id
from careledger.contracts.merkle import MerkleTree
from careledger.store import Workspace

#: Issue 11's budgets (contracts v2): operation key -> (budget, wording).
BUDGETS: dict[str, tuple[int, str]] = {
    "grant": (55_000, "≤ 55,000"),
    "grant_update": (55_000, "≤ 55,000"),
    "grant_by_sig_first": (90_000, "≤ 90,000 (signer's first signature)"),
    "grant_by_sig_next": (70_000, "≤ 70,000 (nonce slot exists)"),
    "revoke": (30_000, "≤ 30,000"),
    "anchor": (60_000, "≤ 60,000"),
    "anchor_amend": (80_000, "≤ 80,000"),
    "anchor_batch_256": (300, "≤ 300 per record at 256"),
    "record_access_first": (70_000, "≤ 70,000 (first for the patient)"),
    "record_access_next": (50_000, "≤ 50,000 (audit head exists)"),
    "record_access_category": (50_000, "≤ 50,000"),
    "record_access_record": (50_000, "≤ 50,000"),
    "record_access_batch_d8": (60_000, "≤ 60,000 (batch member, proof depth 8)"),
    "is_authorized": (12_000, "≤ 12,000"),
    "is_authorized_all": (12_000, "≤ 12,000"),
    "is_authorized_false": (12_000, "≤ 12,000"),
    "request_access": (60_000, "≤ 60,000"),
    "break_glass": (60_000, "≤ 60,000"),
    "break_glass_first": (60_000, "≤ 60,000"),
}

BATCH_SIZES = (1, 16, 256, 1024)
#: anvil flags for the gas run: room for EAS's 1,024-item multiTimestamp, and opcode traces
TRACING_ARGS = ["--gas-limit", "60000000", "--steps-tracing"]
IS_AUTH_SIG = "isAuthorized(address,address,bytes32,uint8)"
IS_AUTH_TYPES = ["address", "address", "bytes32", "uint8"]


class Scenario:
    """Actors of one deployment, built through the SDK (shared by gas, EAS and throughput)."""

    def __init__(self, env: Env, workdir: Path) -> None:
        self.env = env
        led = env.ledger
        self.ws = Workspace.local(workdir)
        #: the last receipt of each sender (for flows that return something else)
        self.last: dict[str, Any] = {}

        def sender(who: Any) -> Any:
            return env.sender(who, on_receipt=lambda sent, rc: self.last.__setitem__(rc["from"], rc))

        self.provider = Provider(led, sender("hospital_a"), self.ws, env.enc["hospital_a"])
        self.reader = Institution(led, sender("hospital_b"), self.ws, env.enc["hospital_b"])
        self.research = Institution(led, sender("research"), self.ws, env.enc["research"])
        self.emergency = Institution(led, sender("emergency"), self.ws, env.enc["emergency"])
        self.relayer = Relayer(sender("relayer"), led.consent)
        self.signer = ConsentSigner(led.consent)
        from careledger.crypto import EncryptionKeyPair

        self.patients = [Patient(led, sender(p), self.ws, EncryptionKeyPair.generate())
                         for p in env.patients]
        self.register_receipt: dict[str, Any] = {}

    def patient(self, i: int) -> Patient:
        p = self.patients[i]
        if p.patient not in self.register_receipt:
            self.register_receipt[p.patient] = p.register_key()
        return p


def row(key: str, operation: str, gas: Any, note: str = "", *, per: int = 1,
        estimate: int | None = None, tx: str | None = None) -> dict[str, Any]:
    """One result row; ``gas`` may be a receipt (its gasUsed and hash are taken)."""
    if not isinstance(gas, int):
        tx = tx or gas["transactionHash"].to_0x_hex()
        gas = int(gas["gasUsed"])
    budget = BUDGETS.get(key)
    value = gas / per
    out: dict[str, Any] = {"key": key, "operation": operation, "gas": round(value, 1),
                           "tx_gas": gas, "note": note, "tx": tx}
    if estimate is not None:
        out["estimate_exec_gas"] = estimate
    if budget is not None:
        out["budget"] = budget[0]
        out["budget_text"] = budget[1]
        out["pass"] = value <= budget[0]
    return out


def measure(env: Env, workdir: Path, *, quick: bool = False) -> dict[str, Any]:
    """All CareLedger rows on ``env`` (its own patients 0..4 are used here)."""
    sc = Scenario(env, workdir)
    led = env.ledger
    cr = led.consent.address
    hosp_b = env.actors["hospital_b"].address
    research = env.actors["research"].address
    rows: list[dict[str, Any]] = []
    now = env.now()
    exp = now + YEAR
    alice, bob, carol = sc.patient(0), sc.patient(1), sc.patient(2)
    lab = Category.LAB.code

    # --- consent: direct grant, re-grant, revoke ------------------------------------------------
    scope = secrets.token_bytes(32)
    r = alice.grant(hosp_b, scope, [Purpose.TREAT], exp)
    rows.append(row("grant", "grant (direct, new grant)", r,
                    "Patient.grant; new (patient, grantee, scope) slot"))
    r = alice.grant(hosp_b, scope, [Purpose.TREAT, Purpose.HOPERAT], exp + 1)
    rows.append(row("grant_update", "grant (direct, update of a live grant)", r,
                    "Patient.grant on an existing slot"))
    r = alice.revoke(hosp_b, scope)
    rows.append(row("revoke", "revoke (direct)", r,
                    "Patient.revoke; clears the slot (refund applied)"))

    # --- signed consent through the relayer ------------------------------------------------------
    acct = sc.env.sender(env.patients[3]).account  # a patient that never signed before
    res = sc.relayer.submit(sc.signer.grant(acct, hosp_b, secrets.token_bytes(32),
                                            [Purpose.TREAT], exp))
    rows.append(row("grant_by_sig_first", "grantBySig (relayed, signer's first signature)",
                    res.gas_used, "ConsentSigner.grant + Relayer.submit; nonce slot 0 → 1",
                    tx=res.tx_hash))
    res = sc.relayer.submit(sc.signer.grant(acct, hosp_b, secrets.token_bytes(32),
                                            [Purpose.TREAT], exp))
    rows.append(row("grant_by_sig_next", "grantBySig (relayed, subsequent signature)",
                    res.gas_used, "nonce slot exists", tx=res.tx_hash))
    sc_scope = secrets.token_bytes(32)
    sc.relayer.submit(sc.signer.grant(acct, hosp_b, sc_scope, [Purpose.TREAT], exp))
    res = sc.relayer.submit(sc.signer.revoke(acct, hosp_b, sc_scope))
    rows.append(row("revoke_by_sig", "revokeBySig (relayed)", res.gas_used, "no budget set",
                    tx=res.tx_hash))

    # --- anchors -----------------------------------------------------------------------------------
    pub = sc.provider.publish(alice.patient, b"synthetic lab result " + secrets.token_bytes(64), "LAB")
    assert pub.receipt is not None
    rows.append(row("anchor", "anchor (single, via Provider.publish)", pub.receipt))
    am = sc.provider.amend(pub.record_id, b"amended lab result " + secrets.token_bytes(64))
    assert am.receipt is not None
    rows.append(row("anchor_amend", "anchor (amendment, via Provider.amend)",
                    am.receipt, "new version + successor link on the old one"))
    prov_sender = sc.provider.sender
    assert prov_sender is not None
    for n in BATCH_SIZES:
        leaves = [secrets.token_bytes(32) for _ in range(n)]
        root = MerkleTree.build(leaves).root
        rc = led.records.anchor_batch(new_batch_id(prov_sender.address), root, n,
                                      lab).transact(prov_sender)
        rows.append(row(f"anchor_batch_{n}", f"anchorBatch, per record at {n:,}", rc, per=n,
                        note=f"one tx of {int(rc['gasUsed']):,} gas / {n}"))

    # --- access log --------------------------------------------------------------------------------
    alice.grant(hosp_b, SCOPE_ALL, [Purpose.TREAT], exp)
    ptr = sc.ws.index.get(pub.record_id)
    r = sc.reader.log_access(ptr, Purpose.TREAT)
    rows.append(row("record_access_first", "recordAccess (first for the patient)", r,
                    "Institution.log_access; audit slot 0 → head"))
    r = sc.reader.log_access(ptr, Purpose.TREAT)
    rows.append(row("record_access_next", "recordAccess (subsequent)", r,
                    "audit head exists; grant on ALL (3 grant slots read)"))
    # a grant on the record's category: found at the second lookup
    bob.grant(hosp_b, lab, [Purpose.TREAT], exp)
    pub_b = sc.provider.publish(bob.patient, b"bob lab " + secrets.token_bytes(32), "LAB")
    ptr_b = sc.ws.index.get(pub_b.record_id)
    sc.reader.log_access(ptr_b, Purpose.TREAT)
    r = sc.reader.log_access(ptr_b, Purpose.TREAT)
    rows.append(row("record_access_category", "recordAccess (subsequent, category grant)",
                    r, "2 grant slots read"))
    carol_pub = sc.provider.publish(carol.patient, b"carol lab " + secrets.token_bytes(32), "LAB")
    carol.grant(hosp_b, carol_pub.pointer.id_bytes, [Purpose.TREAT], exp)
    ptr_c = sc.ws.index.get(carol_pub.record_id)
    sc.reader.log_access(ptr_c, Purpose.TREAT)
    r = sc.reader.log_access(ptr_c, Purpose.TREAT)
    rows.append(row("record_access_record", "recordAccess (subsequent, grant on the record id)",
                    r, "1 grant slot read"))
    # a batch member at proof depth 8 (a batch of 256), audit head exists
    _, members, _ = sc.provider.publish_batch(
        [(alice.patient, b"vital " + secrets.token_bytes(8)) for _ in range(256)], "LAB")
    assert len(members[0].proof) == 8
    r = sc.reader.log_access(members[0], Purpose.TREAT)
    rows.append(row("record_access_batch_d8", "recordAccess (batch member, depth 8, subsequent)",
                    r, "Merkle proof of 8 hashes checked in RecordRegistry.checkBinding"))

    # --- isAuthorized execution ---------------------------------------------------------------------
    probe = sc.env.sender("relayer")
    g_scope = secrets.token_bytes(32)
    carol.grant(hosp_b, g_scope, [Purpose.TREAT], exp)
    for key, label, args in [
        ("is_authorized", "isAuthorized execution (grant on the scope)",
         [carol.patient, hosp_b, g_scope, 0]),
        ("is_authorized_all", "isAuthorized execution (grant on ALL, 2 slot reads)",
         [alice.patient, hosp_b, secrets.token_bytes(32), 0]),
        ("is_authorized_false", "isAuthorized execution (no grant: false)",
         [carol.patient, research, secrets.token_bytes(32), 0]),
    ]:
        g = exec_gas(env.chain, probe, cr, calldata(IS_AUTH_SIG, IS_AUTH_TYPES, args))
        rows.append(row(key, label, g["measured"], "gasUsed − 21,000 − calldata of a mined call",
                        estimate=g["estimate"], tx=g["tx_hash"]))

    # --- the rest of the API, for completeness (no budgets) ------------------------------------------
    p4 = sc.patient(4)
    rows.append(row("register_patient_key", "registerPatientKey (first)",
                    sc.register_receipt[p4.patient]))
    guardian = env.patients[5].address
    r = p4.set_guardian(guardian, exp)
    rows.append(row("set_guardian", "setGuardian", r))
    rid = sc.research.request_access(p4.patient, SCOPE_ALL, Purpose.HRESCH, "cohort study")
    rows.append(row("request_access", "requestAccess", sc.last[research]))
    r = p4.approve_request(rid, exp)
    rows.append(row("approve_request", "approveRequest (creates the grant)", r))
    rid2 = sc.research.request_access(p4.patient, lab, Purpose.HRESCH, "second study")
    r = p4.reject_request(rid2)
    rows.append(row("reject_request", "rejectRequest", r))
    r = sc.emergency.break_glass(p4.patient, "unconscious-ED", 6 * 3600).receipt
    rows.append(row("break_glass_first", "breakGlass (no hash-chain entry yet for the patient)", r,
                    "window slot and audit slot both new"))
    r = sc.emergency.break_glass(alice.patient, "unconscious-ED", 6 * 3600).receipt
    rows.append(row("break_glass", "breakGlass (patient's hash chain exists)", r,
                    "window slot new, audit slot updated"))
    pub4 = sc.provider.publish(p4.patient, b"p4 note " + secrets.token_bytes(16), "NOTE")
    r = sc.emergency.log_access(sc.ws.index.get(pub4.record_id), Purpose.ETREAT)
    rows.append(row("record_access_break_glass", "recordAccess via break-glass (first for patient)",
                    r))
    r = p4.remove_guardian(guardian)
    rows.append(row("remove_guardian", "removeGuardian", r))
    for r_ in rows:  # where the gas goes, from the opcode trace (anvil --steps-tracing)
        if r_.get("tx") and ("budget" in r_ or r_["key"].startswith("record_access")):
            try:
                r_["breakdown"] = gas_breakdown(env.rpc, r_["tx"])
            except RuntimeError as exc:  # tracing off
                r_["breakdown"] = {"error": str(exc)}
    return {"rows": rows, "deployment": {"consent_registry": cr,
                                         "record_registry": led.records.address,
                                         "institution_registry": led.institutions.address}}


def table(result: dict[str, Any]) -> str:
    rows = []
    for r in result["rows"]:
        status = "—" if "pass" not in r else ("pass" if r["pass"] else "**OVER**")
        gas = f"{r['gas']:,.1f}" if r["gas"] != int(r["gas"]) else fmt_int(r["gas"])
        rows.append([r["operation"], gas, r.get("budget_text", "—"), status])
    return md_table(["operation", "gas", "budget (issue 11)", "status"], rows)


def main() -> None:
    quick = "--quick" in sys.argv
    if quick:
        quick_results()
    with Env(extra_args=TRACING_ARGS) as env, tempfile.TemporaryDirectory(prefix="careledger-bench-") as tmp:
        result = measure(env, Path(tmp), quick=quick)
        result["machine"] = machine_facts(env.node.rpc_url)
    write_json("gas", result)
    print(table(result))


if __name__ == "__main__":
    main()
