"""The end-to-end sharing scenario (``careledger demo`` / ``make demo``).

It starts its own anvil, deploys the three contracts, starts three node processes (two
hospitals and a research institute) on loopback ports, each over its own directory, and plays
a realistic story through the SDK from separate directories (patients in directories of their
own; no directory is shared): a consortium voted in M-of-N, patients with keys and a guardian,
records published single and in a Merkle batch, gasless signed consent relayed by a node, a
second hospital reading through the issuer's node (which releases the key only after the
on-chain access entry), a research request rejected then approved for a limited time, a
revocation that stops the next access, break-glass in an emergency, the audit trail verified,
and crypto-shredding at the issuer's node.

Every record is synthetic. The function returns a ``DemoResult`` whose fields the test suite
asserts on.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils.address import to_checksum_address
from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from web3.types import TxReceipt

from careledger.actors import Patient, Provider, Researcher, verify_commitment
from careledger.audit import AuditLog
from careledger.chain import Chain, Devnet, NonceManager, Sender, SentTransaction
from careledger.codes import SCOPE_ALL, Category, Purpose, Role
from careledger.consent import ConsentSigner, SignedConsent
from careledger.contracts import CareLedger, GenesisMember, deploy
from careledger.crypto import EncryptionKeyPair
from careledger.errors import (
    AccessNotAuthorized,
    CareLedgerError,
    KeyNotShared,
    WrappedKeyNotFound,
)
from careledger.node.client import NodeClient
from careledger.node.process import NodeProcess, start_node_process
from careledger.node.state import NodeState
from careledger.store import Workspace

DAY = 24 * 3600
KEY_PASSWORD = "demo-only-password"


@dataclass
class DemoResult:
    """Outcomes the tests check."""

    workdir: Path
    steps: list[dict[str, Any]] = field(default_factory=list)
    records_published: int = 0
    batch_size: int = 0
    b_read_ok: bool = False
    researcher_read_ok: bool = False
    denied_after_revocation: str | None = None
    emergency_read_ok: bool = False
    guardian_grant_ok: bool = False
    chain_verified: bool = False
    history_entries: int = 0
    erased_unreadable: bool = False
    erased_anchor_verifies: bool = False
    patient_gas_spent_on_consent: int = -1
    seconds: float = 0.0
    anvil_pid: int | None = None
    node_pids: list[int] = field(default_factory=list)
    directories: dict[str, str] = field(default_factory=dict)
    keys_released: int = 0


class _Recorder:
    """Collects every mined transaction for the narrative table."""

    def __init__(self, names: dict[str, str]) -> None:
        self.names = names
        self.rows: list[dict[str, Any]] = []
        self.step = ""

    def __call__(self, sent: SentTransaction, receipt: TxReceipt) -> None:
        self.rows.append({
            "step": self.step,
            "who": self.names.get(str(receipt["from"]), str(receipt["from"])[:10]),
            "what": sent.description,
            "gas": int(receipt["gasUsed"]),
            "tx": sent.tx_hash.to_0x_hex(),
        })


def run_demo(workdir: Path, *, console: Console | None = None, batch_size: int = 100) -> DemoResult:
    """Play the scenario; return its outcomes. Starts and stops its own anvil."""
    out = console or Console()
    t0 = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    result = DemoResult(workdir=workdir, batch_size=batch_size)
    nodes: dict[str, NodeProcess] = {}
    with Devnet(accounts=12) as node:
        result.anvil_pid = node.pid
        try:
            _story(node, workdir, out, result, nodes)
        finally:
            for proc in nodes.values():
                proc.stop()
    result.seconds = time.monotonic() - t0
    out.print(Panel.fit(
        f"[bold green]Demo complete[/] in {result.seconds:.1f} s — "
        f"{result.records_published} records published ({result.batch_size} in one batch), "
        f"{len(result.steps)} transactions, {sum(s['gas'] for s in result.steps):,} gas in all.\n"
        f"Access denied after revocation: {'yes' if result.denied_after_revocation else 'NO'}; "
        f"hash chain verified: {'yes' if result.chain_verified else 'NO'}; "
        f"erased record unreadable: {'yes' if result.erased_unreadable else 'NO'} "
        f"(anchor still verifies: {'yes' if result.erased_anchor_verifies else 'NO'}).\n"
        f"Three node processes released {result.keys_released} keys, each after an on-chain "
        f"access entry. Every party's directory is under {workdir} (none shared).",
        title="Summary"))
    return result


def _story(node: Devnet, workdir: Path, out: Console, result: DemoResult,
           nodes: dict[str, NodeProcess]) -> None:
    chain = Chain(node.rpc_url, chain_id=node.chain_id)
    nonces = NonceManager(chain)
    dev = node.accounts
    roles = ["deployer", "Hospital A", "Hospital B", "Hospital C (emergency)", "Research Institute",
             "Relayer", "Patient Alice", "Patient Bob", "Patient Chloe", "Guardian Dan"]
    acct = {name: dev[i] for i, name in enumerate(roles)}
    names = {a.address: n for n, a in acct.items()}
    rec = _Recorder(names)

    def sender(name: str) -> Sender:
        return Sender.from_key(chain, acct[name].private_key, nonces=nonces, on_receipt=rec)

    # one directory per party: nothing below is shared between two of them
    enc: dict[str, EncryptionKeyPair] = {}
    home: dict[str, Path] = {}
    for name in roles[1:5] + roles[6:]:
        slug = name.lower().replace("(", "").replace(")", "").replace(" ", "-")
        home[name] = workdir / slug
        enc[name] = EncryptionKeyPair.generate()
        enc[name].save(home[name] / "encryption.key", KEY_PASSWORD)
    result.directories = {name: str(path) for name, path in home.items()}

    def workspace(name: str) -> Workspace:
        return Workspace.local(home[name] / "workspace")

    def step(title: str) -> None:
        rec.step = title
        out.rule(f"[bold cyan]{title}")

    # 1 -- consortium ----------------------------------------------------------------------
    step("1. Consortium: deploy, then admit members by a 2-of-N vote")
    deployment = deploy(sender("deployer"), [
        GenesisMember(acct["Hospital A"].address, Role.PROVIDER, enc["Hospital A"].public_bytes),
        GenesisMember(acct["Hospital B"].address, Role.PROVIDER, enc["Hospital B"].public_bytes),
    ], threshold=2)
    deployment.save(workdir / "deployments")
    ledger = CareLedger(chain, deployment)
    out.print(f"Contracts on chain {chain.chain_id}: InstitutionRegistry {deployment.institution_registry}, "
              f"ConsentRegistry {deployment.consent_registry}, RecordRegistry {deployment.record_registry}")
    registry = ledger.institutions
    for name, role in (("Hospital C (emergency)", Role.PROVIDER | Role.EMERGENCY),
                       ("Research Institute", Role.RESEARCHER)):
        rcpt = registry.propose_admit(acct[name].address, role,
                                      enc[name].public_bytes).transact(sender("Hospital A"))
        registry.approve(registry.proposal_id_from(rcpt)).transact(sender("Hospital B"))
        out.print(f"{name} admitted with roles {role!r} after 2 of 2 approvals "
                  f"(active: {ledger.institutions.is_active(acct[name].address)})")

    step("1b. Each hospital and the research institute start their node and publish its URL")
    for name in ("Hospital A", "Hospital B", "Research Institute"):
        deployment.save(home[name] / "deployments")
        proc = start_node_process(
            rpc_url=node.rpc_url, chain_id=chain.chain_id, deployments=home[name] / "deployments",
            workspace=home[name] / "workspace", enc_key=home[name] / "encryption.key",
            enc_password=KEY_PASSWORD, private_key=acct[name].private_key)
        nodes[name] = proc
        result.node_pids.append(proc.pid)
        registry.set_endpoint(proc.url).transact(sender(name))
        out.print(f"{name}: node pid {proc.pid} at {proc.url}, directory {home[name]}")

    hospital_a = Provider(ledger, sender("Hospital A"), workspace("Hospital A"), enc["Hospital A"])
    hospital_b = Provider(ledger, sender("Hospital B"), workspace("Hospital B"), enc["Hospital B"])
    hospital_c = Provider(ledger, sender("Hospital C (emergency)"), workspace("Hospital C (emergency)"),
                          enc["Hospital C (emergency)"])
    research = Researcher(ledger, sender("Research Institute"), workspace("Research Institute"),
                          enc["Research Institute"])
    alice = Patient(ledger, sender("Patient Alice"), workspace("Patient Alice"), enc["Patient Alice"])
    bob = Patient(ledger, sender("Patient Bob"), workspace("Patient Bob"), enc["Patient Bob"])
    chloe = Patient(ledger, sender("Patient Chloe"), workspace("Patient Chloe"), enc["Patient Chloe"])
    relay_node = NodeClient(nodes["Hospital B"].url)

    # 2 -- patients ------------------------------------------------------------------------
    step("2. Patients register their encryption keys; Chloe appoints a guardian")
    now = chain.w3.eth.get_block("latest")["timestamp"]
    for p in (alice, bob, chloe):
        p.register_key()
    chloe.set_guardian(acct["Guardian Dan"].address, now + 365 * DAY)
    dan_for_chloe = Patient(ledger, sender("Guardian Dan"), workspace("Guardian Dan"),
                            enc["Guardian Dan"], acting_for=chloe.patient)
    out.print("Alice, Bob and Chloe registered X25519 keys (separate from their wallet keys); "
              "Dan may act for Chloe for a year.")

    # 3 -- publication ---------------------------------------------------------------------
    step("3. Hospital A publishes records (encrypt → store → wrap → anchor)")
    synthetic = {
        "lab": (alice, Category.LAB, {"resourceType": "Observation", "code": "2345-7",
                                      "display": "Glucose", "value": 5.4, "unit": "mmol/L"}),
        "imaging": (alice, Category.IMAGING, {"resourceType": "ImagingStudy",
                                              "modality": "CT", "note": "synthetic study"}),
        "discharge": (alice, Category.DISCHARGE, {"resourceType": "Composition",
                                                  "title": "Discharge summary (synthetic)"}),
        "bob-note": (bob, Category.NOTE, {"resourceType": "Composition",
                                          "title": "Allergy note: penicillin (synthetic)"}),
        "chloe-med": (chloe, Category.MEDICATION, {"resourceType": "MedicationStatement",
                                                   "medication": "salbutamol (synthetic)"}),
    }
    published = {}
    for key, (patient, cat, body) in synthetic.items():
        published[key] = hospital_a.publish(patient.patient, json.dumps(body).encode(), cat)
    t = Table("record", "patient", "category", "CID (off chain)", "commitment (on chain)")
    for key, pub in published.items():
        ptr = pub.pointer
        t.add_row(key, names[ptr.patient], ptr.category, ptr.cid[:20] + "…", ptr.commitment[:18] + "…")
    out.print(t)

    readings = [(alice.patient, json.dumps({"resourceType": "Observation", "code": "8867-4",
                                            "display": "Heart rate", "value": 60 + (i % 40),
                                            "seq": i}).encode()) for i in range(result.batch_size)]
    with Progress(TextColumn("wearable batch"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=out, transient=False) as bar:
        task = bar.add_task("encrypt", total=len(readings))
        root, batch_ptrs, _ = hospital_a.publish_batch(
            readings, Category.VITALS, progress=lambda n: bar.update(task, completed=n))
    out.print(f"{len(batch_ptrs)} heart-rate readings anchored as one Merkle root 0x{root.hex()[:16]}…; "
              "per-record proofs stay off chain.")
    result.records_published = len(published) + len(batch_ptrs)

    # 4 -- signed consent ------------------------------------------------------------------
    step("4. Alice signs consent for Hospital B in her wallet (EIP-712); Hospital B's node relays it")
    alice_balance = chain.w3.eth.get_balance(to_checksum_address(alice.patient))
    signer = ConsentSigner(ledger.consent)
    unsigned = signer.grant_message(alice.patient, acct["Hospital B"].address, Category.LAB.code,
                                    [Purpose.TREAT], now + 30 * DAY, deadline=now + DAY)
    typed_data = unsigned.typed_data(signer.domain())
    (workdir / "alice-consent-typed-data.json").write_text(json.dumps(typed_data, indent=2))
    wallet_sig = Account.sign_typed_data(acct["Patient Alice"].private_key, full_message=typed_data)
    signed = SignedConsent.from_wallet(typed_data, wallet_sig.signature.to_0x_hex())
    relayed = relay_node.relay(signed)
    alice_after = chain.w3.eth.get_balance(to_checksum_address(alice.patient))
    result.patient_gas_spent_on_consent = alice_balance - alice_after
    out.print(f"Typed data written to {workdir / 'alice-consent-typed-data.json'}; relayed by "
              f"Hospital B's node in tx {str(relayed['txHash'])[:18]}…; Alice spent "
              f"{result.patient_gas_spent_on_consent} wei.")

    # 5 -- access through the issuer's node -----------------------------------------------
    step("5. Hospital B reads Alice's lab result through Hospital A's node")
    lab_id = published["lab"].record_id
    plain = hospital_b.access(lab_id, Purpose.TREAT)
    result.b_read_ok = json.loads(plain)["display"] == "Glucose"
    out.print("Hospital B found Hospital A's node from the record id (issuer) and the URL Hospital "
              "A published on chain, logged the access on chain, then the node released the key, "
              f"wrapped to Hospital B's registered key. Decrypted: {plain.decode()}")
    own = json.loads(alice.read(lab_id))
    out.print(f"Alice reads it too, by a signed request to the node (not a disclosure): {own['display']}")

    # 6 -- research request ----------------------------------------------------------------
    step("6. The research institute asks for Alice's vitals under HRESCH")
    req1 = research.request_access(alice.patient, Category.VITALS.code, Purpose.HRESCH,
                                   "cardiac rhythm study, protocol 2026-17")
    alice.reject_request(req1)
    out.print(f"Request #{req1}: rejected by Alice.")
    req2 = research.request_access(alice.patient, Category.VITALS.code, Purpose.HRESCH,
                                   "cardiac rhythm study, protocol 2026-17 (de-identified)")
    alice.approve_request(req2, now + 2 * 3600)
    out.print(f"Request #{req2}: approved by Alice for 2 hours.")
    sample = batch_ptrs[7]
    reading = json.loads(research.access(sample.record_id, Purpose.HRESCH))
    result.researcher_read_ok = reading["seq"] == 7
    out.print(f"Researcher read reading #7 (Merkle proof of {len(sample.proof)} hashes verified): "
              f"heart rate {reading['value']}.")

    # 7 -- guardian ------------------------------------------------------------------------
    step("7. Guardian Dan grants Hospital A treatment access to Chloe's records")
    dan_for_chloe.grant(acct["Hospital A"].address, SCOPE_ALL, [Purpose.TREAT], now + 90 * DAY)
    result.guardian_grant_ok = ledger.consent.is_authorized(
        chloe.patient, acct["Hospital A"].address, SCOPE_ALL, Purpose.TREAT)
    out.print(f"Hospital A authorised for Chloe: {result.guardian_grant_ok}")
    med = json.loads(hospital_a.access(published["chloe-med"].record_id, Purpose.TREAT))
    out.print(f"Hospital A read Chloe's {med['resourceType']} under the guardian's consent (logged)")

    # 8 -- revocation ----------------------------------------------------------------------
    step("8. Alice revokes Hospital B; its next access fails")
    revoke_msg = signer.revoke_message(alice.patient, acct["Hospital B"].address, Category.LAB.code,
                                       deadline=now + DAY)
    relay_node.relay(signer.sign(revoke_msg, Account.from_key(acct["Patient Alice"].private_key)))
    try:
        hospital_b.access(lab_id, Purpose.TREAT)
    except AccessNotAuthorized as exc:
        result.denied_after_revocation = str(exc)
        out.print(f"[red]Denied[/]: {exc}")

    # 9 -- break-glass ---------------------------------------------------------------------
    step("9. Emergency: Hospital C breaks the glass for Bob")
    bob_note = published["bob-note"].record_id
    hospital_c.break_glass(bob.patient, "unconscious-patient-ED", 24 * 3600)
    note = json.loads(hospital_c.access(bob_note, Purpose.ETREAT))
    result.emergency_read_ok = "penicillin" in note["title"]
    out.print("Hospital C read through Hospital A's node under break-glass (ETREAT only, 24 h, "
              f"no renewal, opening and access both in Bob's hash chain): {note['title']}")
    bob.close_break_glass(acct["Hospital C (emergency)"].address)
    out.print("Bob, awake again, closed the window; the closing is in his hash chain too.")

    # 10 -- audit --------------------------------------------------------------------------
    step("10. Alice, Bob and Chloe read who accessed what; the hash chains verify")
    audit = AuditLog(ledger, names=names)
    for patient in (alice, bob, chloe):
        t = Table("#", "date (UTC)", "what", "institution", "record", "category", "purpose",
                  "break-glass", title=f"History of {names[patient.patient]}")
        for e in audit.history(patient.patient):
            t.add_row(str(e.seq), e.date[:19], e.kind, names.get(e.accessor, e.accessor),
                      (e.record_id[:14] + "…") if e.record_id else "", e.category, e.purpose,
                      "yes" if e.via_break_glass else "")
        out.print(t)
        v = audit.verify(patient.patient)
        out.print(str(v))
        result.history_entries += v.entries
    result.chain_verified = all(audit.verify(p.patient).ok for p in (alice, bob, chloe))
    (workdir / "alice-history.csv").write_text(audit.export_csv(alice.patient))

    # 11 -- erasure ------------------------------------------------------------------------
    step("11. Alice erases her imaging study at Hospital A's node (crypto-shredding)")
    img = published["imaging"].record_id
    destroyed = alice.erase(img)
    unreadable = []
    a_ws = hospital_a.ws
    readers: list[Callable[[], bytes]] = [lambda: alice.read(img),
                                          lambda: a_ws.keys.get(img, 1, enc["Hospital A"].public_bytes).to_bytes()]
    for read in readers:
        try:
            read()
            unreadable.append(False)
        except (KeyNotShared, WrappedKeyNotFound):
            unreadable.append(True)
    result.erased_unreadable = all(unreadable)
    ptr = a_ws.index.get(img)
    verify_commitment(ledger, ptr, a_ws.blobs.get(ptr.cid))
    result.erased_anchor_verifies = True
    erased = ledger.records.logs("RecordErased", from_block=deployment.block)
    out.print(f"{destroyed} wrapped keys destroyed at the node, which recorded the erasure on chain "
              f"({len(erased)} RecordErased event); nobody can obtain the key any more; the anchor "
              "still proves the ciphertext existed.")
    result.keys_released = sum(_released(p.workspace) for p in nodes.values())

    # -- gas table -------------------------------------------------------------------------
    t = Table("step", "who", "what", "gas", "tx", title="Transactions")
    for r in rec.rows:
        t.add_row(r["step"].split(".")[0], r["who"], r["what"], f"{r['gas']:,}", r["tx"][:14] + "…")
    out.print(t)
    result.steps = rec.rows


def _released(workspace: Path) -> int:
    state = NodeState(workspace / "node.db")
    try:
        return len(state.releases())
    finally:
        state.close()


def main(workdir: str | None = None, batch_size: int = 100,
         console_factory: Callable[[], Console] | None = None) -> DemoResult:
    """Entry point used by the CLI."""
    import tempfile

    path = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="careledger-demo-"))
    console = console_factory() if console_factory else Console()
    try:
        return run_demo(path, console=console, batch_size=batch_size)
    except CareLedgerError as exc:
        console.print(f"[red]demo failed:[/] {exc}")
        raise

