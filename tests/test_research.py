"""A study across two hospitals' nodes with 50 synthetic patients (Synthea, never real data;
children aged 0-4, whose histories are short enough to generate in seconds): forty consent, ten do
not (one of them gave a research grant that is not a study consent), one withdraws while the
dataset is being built. Each hospital publishes its records of all patients in one batch, so the
access entries prove their records by one multiproof per batch. The dataset holds exactly
the consenting patients' records, de-identified (every planted identifier of the input is gone),
k-anonymous as reported; every decrypted record has its on-chain access entry; the dataset's
hashes are anchored and verify; each contributor earned one point, nobody else any."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from careledger.actors import Institution, Patient, Provider
from careledger.codes import Category, Purpose
from careledger.contracts import study_scope
from careledger.crypto import EncryptionKeyPair
from careledger.errors import CommitmentMismatch, NotStudyInstitute
from careledger.store import Workspace
from conftest import World
from nodes import start_node

PATIENTS = 50
CONSENTING = 40


@pytest.fixture(scope="module")
def synthea(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    out = tmp_path_factory.mktemp("synthea-research")
    exe = shutil.which("synthea") or str(Path(sys.executable).parent / "synthea")
    subprocess.run([exe, "-p", str(PATIENTS + 10), "-s", "7", "-r", "20260101", "-a", "0-4", "-o",
                    str(out), "--threads", "2"], cwd=out, check=True, capture_output=True,
                   timeout=600)
    bundles = [json.loads(f.read_text()) for f in sorted((out / "fhir").glob("*.json"))
               if "Information" not in f.name]
    full = [b for b in bundles if len(_pick(b)[1]) == 3]  # a Patient and three clinical records
    assert len(full) >= PATIENTS
    return full[:PATIENTS]


def _pick(bundle: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The Patient resource and three clinical resources of a Synthea bundle."""
    resources = [e["resource"] for e in bundle["entry"]]
    person = next(r for r in resources if r["resourceType"] == "Patient")
    clinical = [r for r in resources if r["resourceType"] in ("Observation", "Condition",
                                                             "Immunization")][:3]
    return person, clinical


def _identifiers(person: dict[str, Any]) -> list[str]:
    """The direct identifiers planted in a Synthea Patient: names, ids, phone, address, birth date."""
    found = [person["birthDate"]]
    for name in person.get("name", []):
        found += name.get("given", []) + [name.get("family", "")]
    found += [i["value"] for i in person.get("identifier", []) if len(i.get("value", "")) > 4]
    found += [t["value"] for t in person.get("telecom", [])]
    for a in person.get("address", []):
        found += a.get("line", []) + [a.get("city", ""), a.get("postalCode", "")]
    return [f for f in found if f and len(f) >= 4]


def test_a_study_across_two_nodes(world: World, synthea: list[dict[str, Any]],
                                  tmp_path: Path) -> None:
    from eth_utils.crypto import keccak

    from careledger.chain import Sender
    from careledger.research.deid import quasi_identifiers
    from careledger.research.study import build_dataset, verify_dataset

    ledger = world.ledger
    keys = [keccak(f"research patient {i}".encode()) for i in range(PATIENTS)]
    senders = [Sender.from_key(world.chain, k, nonces=world.nonces) for k in keys]
    patients = [s.address for s in senders]
    for p in patients:  # gas money for their own transactions (the devnet's faucet)
        world.chain.w3.provider.make_request("anvil_setBalance", [p, hex(10**20)])  # type: ignore[arg-type]
    for i, s in enumerate(senders):
        Patient(ledger, s, Workspace.local(tmp_path / f"p{i}"), EncryptionKeyPair.generate()).register_key()

    nodes = [start_node(world, "hospital_a", tmp_path / "hospital-a"),
             start_node(world, "hospital_b", tmp_path / "hospital-b")]
    try:
        providers = []
        for name, node in zip(("hospital_a", "hospital_b"), nodes, strict=True):
            ledger.institutions.set_endpoint(node.url).transact(world.sender(name))
            providers.append(Provider(ledger, world.sender(name), Workspace.local(node.workdir / "ws"),
                                      world.enc[name]))  # type: ignore[arg-type]
        # each patient's Patient resource and one more at hospital A, two at hospital B: one
        # batch of all patients at each
        originals: dict[str, list[dict[str, Any]]] = {}
        at_a: list[tuple[str, bytes]] = []
        at_b: list[tuple[str, bytes]] = []
        for patient, bundle in zip(patients, synthea, strict=True):
            person, clinical = _pick(bundle)
            originals[patient] = [person, *clinical]
            at_a += [(patient, json.dumps(r).encode()) for r in [person, *clinical[:1]]]
            at_b += [(patient, json.dumps(r).encode()) for r in clinical[1:]]
        providers[0].publish_batch(at_a, Category.NOTE)
        providers[1].publish_batch(at_b, Category.LAB)

        lab = Institution(ledger, world.sender("researcher"), Workspace.local(tmp_path / "lab"),
                          world.enc["researcher"])  # type: ignore[arg-type]
        study_id = ledger.consent.study_id_from(
            lab.transact(ledger.consent.register_study(b"\x11" * 32)))
        scope = study_scope(study_id)
        until = world.now() + 30 * 86400
        consenting, never = patients[:CONSENTING], patients[CONSENTING]
        withdraws = consenting[-1]
        for i, s in enumerate(senders):
            if patients[i] in consenting:
                ledger.consent.grant(patients[i], lab.address, scope, 1 << Purpose.HRESCH,
                                     until).transact(s)
        # a research grant on every record is not a study consent
        ledger.consent.grant(never, lab.address, Category.LAB.code, 1 << Purpose.HRESCH,
                             until).transact(senders[CONSENTING])

        def withdraw_midway(message: str) -> None:
            if "records at" in message:  # after the listing, before the access entries
                ledger.consent.revoke(withdraws, lab.address, scope).transact(
                    senders[CONSENTING - 1])

        other = Institution(ledger, world.sender("hospital_b"), Workspace.local(tmp_path / "hb"),
                            world.enc["hospital_b"])  # type: ignore[arg-type]
        with pytest.raises(NotStudyInstitute):
            build_dataset(other, study_id, tmp_path / "nope")

        out = tmp_path / "dataset"
        build = build_dataset(lab, study_id, out, k=5, progress=withdraw_midway)
    finally:
        for node in nodes:
            node.stop()

    # exactly the consenting patients, minus the one who withdrew and those k suppressed
    assert build.consenting == sorted(consenting, key=lambda a: int(a, 16))
    assert build.dropped.get(withdraws) == "consent withdrawn before the access"
    accessed = [p for p in consenting if p != withdraws]
    suppressed = {p for p, why in build.dropped.items() if why.startswith("suppressed")}
    assert set(build.contributors) == set(accessed) - suppressed and build.contributors
    assert build.records == 4 * len(accessed)

    # every decrypted record has its access entry (purpose HRESCH, by the institute); nobody
    # else's chain moved
    entries = ledger.consent.logs("AccessRecorded", from_block=ledger.deployment.block,
                                  accessor=lab.address)
    per_patient: dict[str, int] = {}
    for e in entries:
        assert int(e["args"]["purpose"]) == Purpose.HRESCH
        per_patient[e["args"]["patient"]] = per_patient.get(e["args"]["patient"], 0) + 1
    assert per_patient == {p: 4 for p in accessed}
    for p in [*patients[CONSENTING:], withdraws]:
        assert ledger.consent.audit_head(p)[1] == 0
    # 156 entries in two transactions (100 per call)
    assert len(build.access_txs) == 2

    # no identifier of any input survives, in either file
    text = (out / "bundle.json").read_text() + (out / "data.csv").read_text()
    for patient in patients:
        for planted in _identifiers(originals[patient][0]):
            assert planted not in text, planted
    for patient in patients:
        assert patient not in text and patient.lower() not in text
    bundle = json.loads((out / "bundle.json").read_text())
    people = [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient"]
    assert len(people) == len(build.contributors)
    assert bundle["entry"][-1]["resource"]["resourceType"] == "Provenance"

    # k holds as reported
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kAnonymity"]["k"] == 5 and manifest["kAnonymity"]["achieved"] >= 5
    sizes = manifest["kAnonymity"]["classSizes"]
    assert sizes and min(sizes) >= 5 and sum(sizes) == manifest["patients"] == len(build.contributors)
    if not any(manifest["kAnonymity"]["generalisation"].values()):
        # no generalisation: the exported Patients' own quasi-identifiers form the classes
        classes: dict[tuple[str, ...], int] = {}
        for person in people:
            row = quasi_identifiers(person)
            key = tuple(row[q] for q in ("birth_year", "gender", "zip3", "state"))
            classes[key] = classes.get(key, 0) + 1
        assert min(classes.values()) >= 5

    # anchored: the folder verifies against the chain, a changed file does not
    assert build.dataset_id is not None
    verify_dataset(ledger, build.dataset_id, out)
    (out / "data.csv").write_text((out / "data.csv").read_text() + "tampered\n")
    with pytest.raises(CommitmentMismatch):
        verify_dataset(ledger, build.dataset_id, out)

    # one point per contributor, none for anybody else
    for p in patients:
        assert ledger.research.points_of(p) == (1 if p in build.contributors else 0), p

    # the same through the CLI: points with the dataset that earned them, the study list, and a
    # verification that names the file that changed
    from click.testing import CliRunner

    from careledger.cli import main

    ledger.deployment.save(tmp_path / "deployments")
    env = {"CARELEDGER_RPC_URL": world.node.rpc_url}
    base = ["--deployments", str(tmp_path / "deployments")]
    r = CliRunner().invoke(main, [*base, "research", "points", build.contributors[0], "--json"], env=env)
    assert r.exit_code == 0, r.output
    shown = json.loads(r.output)
    assert shown["points"] == 1 and shown["datasets"] == [{"dataset": build.dataset_id, "study": study_id}]
    r = CliRunner().invoke(main, [*base, "research", "studies", "--json"], env=env)
    assert r.exit_code == 0 and json.loads(r.output)[0]["state"] == "open", r.output
    r = CliRunner().invoke(main, [*base, "research", "verify", str(build.dataset_id), str(out)], env=env)
    assert r.exit_code == 1 and "data.csv is not the file the manifest names" in r.output, r.output


def test_access_transactions_keep_patients_whole_and_neighbours_together() -> None:
    """Patients in the order of their first record (their records' place in the batches), whole
    where they fit, each transaction sorted by patient as the contract requires."""
    from careledger.contracts import StudyAccessItem
    from careledger.research.study import _batches

    batch = b"\xaa" * 20 + b"\x80" + b"\x00" * 7
    patients = [f"0x{n:040x}" for n in (0x30, 0x10, 0x20, 0x40)]  # imported in this order
    items = [StudyAccessItem(p, batch + (2 * i + k).to_bytes(4, "big"), b"\x01" * 32, b"\x02" * 32)
             for i, p in enumerate(patients) for k in range(2)]
    items += [StudyAccessItem(patients[3], batch + (100 + k).to_bytes(4, "big"), b"\x01" * 32,
                              b"\x02" * 32) for k in range(3)]  # a fifth record of the last
    txs = _batches(sorted(items, key=lambda i: (int(i.patient, 16), i.record_id)), 4)
    assert [[i.patient[-2:] for i in tx] for tx in txs] == [
        ["10", "10", "30", "30"],  # the first two imported, sorted by address
        ["20", "20"],
        ["40", "40", "40", "40"], ["40"]]  # five records: more than one transaction
    assert sum(len(tx) for tx in txs) == len(items)
