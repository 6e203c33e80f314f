"""Scaling: does anything get dearer as the registry fills up?

Gas of grant, revoke, isAuthorized (execution) and recordAccess after 1, 100, 1,000 and
10,000 prior grants, made either by the same patient (to other scopes and institutions) or by
other patients (signed consents relayed with ``grantBySig``, each from a different patient).
Prior grants are real transactions, signed locally and sent in JSON-RPC batches, mined many
per block (no storage writes behind the contracts' back).

Audit history: ``AuditLog.history`` and ``AuditLog.verify`` query time for one patient as
their own access count grows (10, 100, 1,000), and for a patient with 10 accesses while the
rest of the chain grows.

    .venv/bin/python benchmarks/scaling.py [--quick]
"""

from __future__ import annotations

import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from coincurve import PrivateKey
from common import (
    YEAR,
    Env,
    calldata,
    exec_gas,
    machine_facts,
    md_table,
    write_json,
)
from eth_abi import encode
from eth_utils import keccak, to_checksum_address
from gas import IS_AUTH_SIG, IS_AUTH_TYPES

from careledger.actors import Patient
from careledger.audit import AuditLog
from careledger.codes import SCOPE_ALL, Category, Purpose
from careledger.contracts import new_record_id
from careledger.crypto import EncryptionKeyPair
from careledger.store import Workspace

GRANT_SIG = "grant(address,address,bytes32,uint32,uint64)"
GRANT_TYPES = ["address", "address", "bytes32", "uint32", "uint64"]
GRANT_BY_SIG = "grantBySig(address,address,bytes32,uint32,uint64,address,uint256,bytes)"
GRANT_BY_SIG_TYPES = ["address", "address", "bytes32", "uint32", "uint64", "address", "uint256", "bytes"]
ACCESS_SIG = "recordAccess(address,bytes32,bytes32,bytes32,uint8,bytes32[])"
ACCESS_TYPES = ["address", "bytes32", "bytes32", "bytes32", "uint8", "bytes32[]"]
GRANT_TYPEHASH = keccak(text="Grant(address patient,address grantee,bytes32 scope,uint32 purposes,"
                        "uint64 expiresAt,address signer,uint256 nonce,uint256 deadline)")


def _patient_key() -> tuple[PrivateKey, str]:
    key = PrivateKey()
    address = to_checksum_address(keccak(key.public_key.format(compressed=False)[1:])[-20:])
    return key, address


class Filler:
    """Adds prior grants to a deployment, fast, with real transactions."""

    def __init__(self, env: Env, patient: str) -> None:
        self.env = env
        self.patient = patient
        self.cr = env.ledger.consent.address
        self.grantees = [env.actors[n].address for n in ("hospital_a", "research", "emergency")]
        self.exp = env.now() + 2 * YEAR
        self.domain_separator = env.ledger.consent.domain_separator()
        self.deadline = env.now() + 30 * 86_400
        self.count = 0

    def same_patient(self, n: int) -> None:
        """``n`` direct grants by the probe patient, to other scopes and institutions."""
        actor = next(p for p in self.env.patients if p.address == self.patient)
        bulk = self.env.bulk(actor)
        calls = []
        for i in range(n):
            grantee = self.grantees[(self.count + i) % len(self.grantees)]
            calls.append((self.cr, calldata(GRANT_SIG, GRANT_TYPES, [
                self.patient, grantee, secrets.token_bytes(32), 1, self.exp]), 120_000))
        bulk.send_many(calls)
        self.count += n

    def other_patients(self, n: int) -> None:
        """``n`` grants, each signed by a new patient (EIP-712) and relayed by one relayer."""
        bulk = self.env.bulk("relayer")
        calls = []
        for i in range(n):
            key, patient = _patient_key()
            grantee = self.grantees[(self.count + i) % len(self.grantees)]
            scope = secrets.token_bytes(32)
            struct = keccak(encode(
                ["bytes32", "address", "address", "bytes32", "uint32", "uint64", "address", "uint256",
                 "uint256"],
                [GRANT_TYPEHASH, patient, grantee, scope, 1, self.exp, patient, 0, self.deadline]))
            digest = keccak(b"\x19\x01" + self.domain_separator + struct)
            sig = key.sign_recoverable(digest, hasher=None)
            signature = sig[:64] + bytes([sig[64] + 27])
            calls.append((self.cr, calldata(GRANT_BY_SIG, GRANT_BY_SIG_TYPES, [
                patient, grantee, scope, 1, self.exp, patient, self.deadline, signature]), 150_000))
        bulk.send_many(calls)
        self.count += n


def _median_time(fn: Any, runs: int) -> dict[str, float]:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times),
            "runs": runs}


def _anchor(env: Env, patient: str) -> tuple[bytes, bytes]:
    """One LAB record anchored for ``patient`` by hospital A: ``(record id, commitment)``."""
    record, commitment = new_record_id(env.actors["hospital_a"].address), secrets.token_bytes(32)
    env.ledger.records.anchor(patient, record, commitment, Category.LAB.code).transact(
        env.sender("hospital_a"))
    return record, commitment


def _access_many(env: Env, patient: str, n: int) -> None:
    bulk = env.bulk("hospital_b")
    record, commitment = _anchor(env, patient)
    bulk.send_many([(env.ledger.consent.address, calldata(ACCESS_SIG, ACCESS_TYPES, [
        patient, record, Category.LAB.code, commitment, 0, []]), 150_000) for _ in range(n)])


def run_mode(mode: str, levels: list[int], workdir: Path, history_runs: int) -> dict[str, Any]:
    """One fresh anvil; fill prior grants level by level; measure at each level."""
    with Env() as env:
        ws = Workspace.local(workdir / mode)
        led = env.ledger
        hosp_b = env.actors["hospital_b"].address
        probe = Patient(led, env.sender(env.patients[0]), ws, EncryptionKeyPair.generate())
        watcher = Patient(led, env.sender(env.patients[1]), ws, EncryptionKeyPair.generate())
        exp = env.now() + YEAR
        probe_scope = secrets.token_bytes(32)
        probe.grant(hosp_b, probe_scope, [Purpose.TREAT], exp)
        probe.grant(hosp_b, SCOPE_ALL, [Purpose.TREAT], exp)
        watcher.grant(hosp_b, SCOPE_ALL, [Purpose.TREAT], exp)
        record, commitment = _anchor(env, probe.patient)
        cat = Category.LAB.code
        reader = env.sender("hospital_b")
        access_tx = led.consent.record_access(probe.patient, record, cat, commitment, Purpose.TREAT)
        access_tx.transact(reader)  # the probe's audit head exists from here on
        _access_many(env, watcher.patient, 10)  # a patient with 10 accesses, for history timing
        audit = AuditLog(led)
        filler = Filler(env, probe.patient)
        is_auth = calldata(IS_AUTH_SIG, IS_AUTH_TYPES, [probe.patient, hosp_b, probe_scope, 0])
        points = []
        for level in levels:
            add = level - filler.count
            t0 = time.perf_counter()
            if mode == "same_patient":
                filler.same_patient(add)
            else:
                filler.other_patients(add)
            fill_s = time.perf_counter() - t0
            reader = env.sender("hospital_b")  # fresh senders: bulk sends moved the nonces
            scope = secrets.token_bytes(32)
            g = int(probe.grant(hosp_b, scope, [Purpose.TREAT], exp)["gasUsed"])
            r = int(probe.revoke(hosp_b, scope)["gasUsed"])
            ia = exec_gas(env.chain, env.sender("relayer"), led.consent.address, is_auth)
            ra = int(access_tx.transact(reader)["gasUsed"])
            hist = _median_time(lambda: audit.history(watcher.patient), history_runs)
            block = env.chain.w3.eth.block_number
            points.append({"prior_grants": level, "grant": g, "revoke": r,
                           "is_authorized_exec": ia["measured"], "record_access": ra,
                           "fill_seconds": round(fill_s, 2), "fill_tx_per_s": round(add / fill_s, 1)
                           if add else None, "blocks": block,
                           "history_10_events_s": hist})
            print(f"  {mode}: {level:>6,} prior grants  grant {g:,}  revoke {r:,}  "
                  f"isAuthorized {ia['measured']:,}  recordAccess {ra:,}  "
                  f"(filled {add:,} in {fill_s:.1f} s)", flush=True)
        return {"mode": mode, "points": points}


def history_growth(counts: list[int], workdir: Path, runs: int) -> list[dict[str, Any]]:
    """AuditLog.history / verify time as one patient's access count grows."""
    out = []
    with Env() as env:
        led = env.ledger
        ws = Workspace.local(workdir / "history")
        p = Patient(led, env.sender(env.patients[0]), ws, EncryptionKeyPair.generate())
        p.grant(env.actors["hospital_b"].address, SCOPE_ALL, [Purpose.TREAT], env.now() + YEAR)
        audit = AuditLog(led)
        done = 0
        for n in counts:
            _access_many(env, p.patient, n - done)
            done = n
            entries = audit.history(p.patient)
            assert len(entries) == n, (len(entries), n)
            v = audit.verify(p.patient, entries)
            assert v.ok, str(v)
            out.append({"events": n,
                        "history": _median_time(lambda: audit.history(p.patient), runs),
                        "verify": _median_time(lambda e=entries: audit.verify(p.patient, e), runs),
                        "history_and_verify": _median_time(lambda: audit.verify(p.patient), runs)})
            h = out[-1]["history"]["median_s"]
            print(f"  history of a patient with {n:>5,} accesses: {h * 1000:.1f} ms", flush=True)
    return out


def measure(*, quick: bool = False) -> dict[str, Any]:
    levels = [1, 100, 1_000] if quick else [1, 100, 1_000, 10_000]
    counts = [10, 100] if quick else [10, 100, 1_000]
    runs = 3 if quick else 5
    with tempfile.TemporaryDirectory(prefix="careledger-scaling-") as tmp:
        modes = [run_mode(m, levels, Path(tmp), runs) for m in ("same_patient", "other_patients")]
        hist = history_growth(counts, Path(tmp), runs)
    return {"levels": levels, "modes": modes, "history": hist}


def flat(result: dict[str, Any]) -> dict[str, Any]:
    """Spread (max − min) of each gas figure across levels, per mode: 0 means O(1)."""
    out = {}
    for m in result["modes"]:
        for op in ("grant", "revoke", "is_authorized_exec", "record_access"):
            vals = [p[op] for p in m["points"]]
            out[f"{m['mode']}.{op}"] = max(vals) - min(vals)
    return out


def table(result: dict[str, Any]) -> str:
    rows = []
    for m in result["modes"]:
        who = "same patient" if m["mode"] == "same_patient" else "other patients"
        for p in m["points"]:
            rows.append([f"{p['prior_grants']:,}", who, f"{p['grant']:,}", f"{p['revoke']:,}",
                         f"{p['is_authorized_exec']:,}", f"{p['record_access']:,}",
                         f"{p['history_10_events_s']['median_s'] * 1000:.1f}", f"{p['blocks']:,}"])
    return md_table(["prior grants", "made by", "grant", "revoke", "isAuthorized (exec)",
                     "recordAccess (subsequent)", "history of a 10-access patient (ms)",
                     "chain height (blocks)"], rows)


def history_table(result: dict[str, Any]) -> str:
    rows = [[f"{h['events']:,}", f"{h['history']['median_s'] * 1000:.1f}",
             f"{h['history']['min_s'] * 1000:.1f}–{h['history']['max_s'] * 1000:.1f}",
             f"{h['verify']['median_s'] * 1000:.1f}"] for h in result["history"]]
    return md_table(["patient's access events", "AuditLog.history median (ms)", "min–max (ms)",
                     "verify hash chain (ms)"], rows)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    ops = [("grant", "grant"), ("revoke", "revoke"), ("is_authorized_exec", "isAuthorized (exec)"),
           ("record_access", "recordAccess")]
    for m in result["modes"]:
        style = "-o" if m["mode"] == "same_patient" else "--s"
        who = "same patient" if m["mode"] == "same_patient" else "other patients"
        xs = [p["prior_grants"] for p in m["points"]]
        for op, label in ops:
            ax1.plot(xs, [p[op] for p in m["points"]], style, label=f"{label} ({who})", markersize=4)
    ax1.set_xscale("log")
    ax1.set_xlabel("prior grants")
    ax1.set_ylabel("gas")
    ax1.set_ylim(bottom=0)
    ax1.set_title("Gas vs prior grants (flat = O(1))")
    ax1.legend(fontsize=7, ncol=2)
    ax1.grid(alpha=0.3)
    xs = [h["events"] for h in result["history"]]
    ax2.plot(xs, [h["history"]["median_s"] * 1000 for h in result["history"]], "-o",
             label="AuditLog.history")
    ax2.plot(xs, [h["history_and_verify"]["median_s"] * 1000 for h in result["history"]], "--s",
             label="history + verify")
    ax2.set_xscale("log")
    ax2.set_yscale("log")
    ax2.set_xlabel("access events of the patient")
    ax2.set_ylabel("ms (median)")
    ax2.set_title("Audit history query time")
    ax2.legend()
    ax2.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    from common import RESULTS

    result = measure(quick="--quick" in sys.argv)
    result["flat_spread"] = flat(result)
    result["machine"] = machine_facts()
    write_json("scaling", result)
    plot(result, RESULTS / "scaling.png")
    print(table(result))
    print(history_table(result))


if __name__ == "__main__":
    main()
