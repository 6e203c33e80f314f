"""Throughput of the SDK on a local anvil, and where the time goes.

- records published per second: ``Provider.publish`` one after another (each waits for its
  receipt), the same with ``wait=False`` and receipts collected afterwards (pipelined), and
  ``Provider.publish_batch`` at batch sizes 1 … 1,024;
- accesses per second: ``Institution.access`` end to end (recordAccess on chain, fetch, verify
  the commitment against the anchor, unwrap, decrypt);
- signed consents relayed per second: ``ConsentSigner.grant`` (the patient signs) +
  ``Relayer.submit``, and ``Relayer.submit`` alone on pre-signed consents;
- AES-256-GCM encryption MB/s (10^6 bytes/s) of ``crypto.encrypt_record`` for 1 KiB, 64 KiB
  and 8 MiB records, one core, beside the raw ``AESGCM.encrypt`` of the same sizes.

Each figure is the median of several runs, with min and max. Every flow is then profiled: a
wall-clock stack sampler splits its time into HTTP waiting, client overhead, JSON, web3 layers,
signing, crypto, fsync, receipt polling and the SDK's own code, and a cProfile run lists the
top functions and counts the JSON-RPC requests per item.

    .venv/bin/python benchmarks/throughput.py [--quick]
"""

from __future__ import annotations

import cProfile
import functools
import linecache
import os
import pstats
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import YEAR, Env, machine_facts, md_table, summary, write_json
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from gas import Scenario

from careledger.chain import wait_all
from careledger.codes import SCOPE_ALL, Category, Purpose
from careledger.crypto import envelope as crypto

GOALS = {
    "aes_gcm_mb_s": 500.0,
    "publish_single_rps": 50.0,
    "publish_batched_rps": 2_000.0,
    "access_per_s": 30.0,
}
KIB = 1024
MIB = 1024 * 1024


# --------------------------------------------------------------------------------------------
# profiling


#: Generic helpers take the category of their caller (e.g. eth-utils' decorators around web3).
GENERIC = ("/eth_utils/", "/hexbytes/", "/toolz/", "/cytoolz/", "/functools.py", "/inspect.py",
           "/typing.py", "/abc.py", "/_collections_abc.py", "<frozen", "/re/", "/enum.py",
           "/dataclasses.py", "/copy.py", "/contextlib.py", "/eth_typing/", "/collections/",
           "/eth_hash/", "/Crypto/", "/genericpath.py", "/posixpath.py")
#: (category, file-path fragments): the first non-generic frame, from the innermost outwards,
#: whose file matches decides where a sample's time goes.
FILE_RULES: list[tuple[str, tuple[str, ...]]] = [
    ("HTTP I/O: waiting for anvil's reply", ("/socket.py", "/selectors.py", "/ssl.py",
                                             "/http/client.py")),
    ("requests: proxy settings re-read from os.environ on every request",
     ("/urllib/request.py", "/requests/utils.py")),
    ("JSON encode/decode", ("/json/",)),
    ("HTTP client overhead (requests, urllib3)", ("/requests/", "/urllib3/", "/http/", "/idna/",
                                                   "/email/")),
    ("signing (eth-account, coincurve)", ("/eth_account/", "/coincurve/", "/eth_keys/", "/rlp/",
                                          "/eth_rlp/")),
    ("crypto (AES-GCM, HPKE, X25519)", ("/cryptography/",)),
    ("ABI encoding/decoding (eth-abi)", ("/eth_abi/", "/parsimonious/")),
    ("web3 middleware, request/result formatters", ("/web3/middleware/", "/web3/_utils/method_formatters",
                                                    "/web3/manager.py", "/web3/providers/",
                                                    "/web3/_utils/formatters", "/web3/method.py",
                                                    "/web3/module.py", "/web3/_utils/rpc_abi")),
    ("web3 contract layer (ABI lookup, argument validation, tx building)", ("/web3/",)),
    ("filesystem (open, write, rename, mkdir)", ("/pathlib.py", "/tempfile.py", "/shutil.py")),
    ("careledger SDK code", ("/careledger/",)),
]


class Sampler:
    """A wall-clock stack sampler for the main thread (what cProfile cannot say: where, in
    categories, the *wall* time goes — including time blocked on sockets, sleeps and fsync).

    Each sample is weighted by the time since the previous one, so stretches where the sampler
    could not get the GIL still count in full.
    """

    def __init__(self, interval: float = 0.0005) -> None:
        self.interval = interval
        self.weights: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._target = threading.main_thread().ident
        self._switch = sys.getswitchinterval()

    def __enter__(self) -> Self:
        sys.setswitchinterval(0.0005)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        sys.setswitchinterval(self._switch)

    def _run(self) -> None:
        last = time.perf_counter()
        while not self._stop.is_set():
            time.sleep(self.interval)
            frame = sys._current_frames().get(self._target)
            now = time.perf_counter()
            if frame is not None:
                try:
                    cat = self.classify(frame)
                except Exception:  # noqa: BLE001 - a sample that cannot be read counts as other
                    cat = "other"
                self.weights[cat] = self.weights.get(cat, 0.0) + (now - last)
            last = now

    @staticmethod
    def classify(frame: Any) -> str:
        line = linecache.getline(frame.f_code.co_filename, frame.f_lineno or 0)
        if "fsync" in line:
            return "durable writes (fsync)"
        if "sleep(" in line and "/careledger/" in frame.f_code.co_filename:
            return "receipt polling (sleep between polls)"
        if frame.f_code.co_filename.endswith("threading.py") and "wait" in frame.f_code.co_name:
            return "other"
        f = frame
        while f is not None:
            name = f.f_code.co_filename
            if any(g in name for g in GENERIC) and f.f_back is not None:
                f = f.f_back
                continue
            for cat, parts in FILE_RULES:
                if any(p in name for p in parts):
                    return cat
            f = f.f_back
        return "other (Python runtime, benchmark code)"


def profile(fn: Callable[[], Any], label: str, items: int) -> dict[str, Any]:
    """Run ``fn`` twice: under a wall-clock stack sampler (where the time goes, by category)
    and under cProfile (the top functions, RPC request count)."""
    with Sampler() as sampler:
        t0 = time.perf_counter()
        fn()
        wall = time.perf_counter() - t0
    total = sum(sampler.weights.values()) or 1.0
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    stats = pstats.Stats(prof)
    rows = []
    rpc_calls = 0
    for (filename, line, funcname), (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        name = funcname if filename == "~" else f"{Path(filename).name}:{line}({funcname})"
        rows.append((tt, ct, nc, name, f"{filename}:{funcname}"))
        if funcname == "make_request" and "/web3/providers/rpc/rpc.py" in filename:
            rpc_calls += nc
    top_self = sorted(rows, reverse=True)[:12]
    sdk_cum = sorted((r for r in rows if "/careledger/" in r[4]), key=lambda r: -r[1])[:15]
    return {
        "label": label, "items": items, "wall_s": round(wall, 4),
        "per_item_ms": round(1000 * wall / items, 3),
        "rpc_requests": rpc_calls, "rpc_requests_per_item": round(rpc_calls / items, 2),
        "categories": {k: {"seconds": round(v, 4), "share": round(v / total, 3)}
                       for k, v in sorted(sampler.weights.items(), key=lambda kv: -kv[1])},
        "top_self_time_cprofile": [{"function": r[3], "self_s": round(r[0], 4),
                                    "cum_s": round(r[1], 4), "calls": r[2]} for r in top_self],
        "sdk_cumulative_cprofile": [{"function": r[3], "cum_s": round(r[1], 4), "calls": r[2]}
                                    for r in sdk_cum],
    }


# --------------------------------------------------------------------------------------------
# measurements


def _runs(fn: Callable[[], float], runs: int) -> dict[str, float]:
    return summary([fn() for _ in range(runs)])


def aes(quick: bool) -> list[dict[str, Any]]:
    """MB/s of encrypt_record and raw AESGCM.encrypt, one core."""
    out = []
    binding = crypto.RecordBinding(secrets.token_bytes(32), 1, "0x" + "11" * 20)
    key = AESGCM.generate_key(bit_length=256)
    aead = AESGCM(key)
    nonce = os.urandom(12)
    runs = 3 if quick else 7
    for size, label in ((KIB, "1 KiB"), (64 * KIB, "64 KiB"), (8 * MIB, "8 MiB")):
        data = os.urandom(size)
        target_bytes = (16 if quick else 64) * MIB
        n = max(3, target_bytes // size)

        def sdk(n: int = n, data: bytes = data) -> float:
            t0 = time.perf_counter()
            for _ in range(n):
                crypto.encrypt_record(data, binding)
            return n * len(data) / (time.perf_counter() - t0) / 1e6

        def raw(n: int = n, data: bytes = data) -> float:
            t0 = time.perf_counter()
            for _ in range(n):
                aead.encrypt(nonce, data, b"")
            return n * len(data) / (time.perf_counter() - t0) / 1e6

        def dec(n: int = n, data: bytes = data) -> float:
            env, dk = crypto.encrypt_record(data, binding)
            blob = env.to_bytes()
            t0 = time.perf_counter()
            for _ in range(n):
                crypto.decrypt_record(blob, dk, binding)
            return n * len(data) / (time.perf_counter() - t0) / 1e6

        out.append({"size": label, "bytes": size, "iterations_per_run": n,
                    "encrypt_record_mb_s": _runs(sdk, runs), "raw_aesgcm_mb_s": _runs(raw, runs),
                    "decrypt_record_mb_s": _runs(dec, runs)})
        print(f"  AES-GCM {label}: encrypt_record {out[-1]['encrypt_record_mb_s']['median']:,.0f} MB/s"
              f" (raw {out[-1]['raw_aesgcm_mb_s']['median']:,.0f})", flush=True)
    return out


def chain_flows(quick: bool, workdir: Path) -> dict[str, Any]:
    n_single = 10 if quick else 40
    runs = 3 if quick else 5
    batch_sizes = [1, 16, 128] if quick else [1, 16, 64, 256, 1024]
    res: dict[str, Any] = {"profiles": {}}
    with Env(accounts=30) as env:
        sc = Scenario(env, workdir)
        patients = [sc.patient(i) for i in range(4)]
        prov = sc.provider
        hosp_b = env.actors["hospital_b"].address
        exp = env.now() + YEAR
        for p in patients:
            p.grant(hosp_b, SCOPE_ALL, [Purpose.TREAT], exp)
        payload = secrets.token_bytes(KIB)

        # publish, one after another ----------------------------------------------------------
        def publish_single(n: int = n_single) -> float:
            t0 = time.perf_counter()
            for i in range(n):
                prov.publish(patients[i % 4].patient, payload, Category.LAB)
            return n / (time.perf_counter() - t0)

        publish_single(3)  # warm-up (fee cache, nonce, ABI caches)
        res["publish_single_rps"] = _runs(publish_single, runs)
        print(f"  publish (sequential): {res['publish_single_rps']['median']:.1f} records/s", flush=True)

        def publish_pipelined(n: int = n_single) -> float:
            t0 = time.perf_counter()
            sent = [prov.publish(patients[i % 4].patient, payload, Category.LAB, wait=False)
                    for i in range(n)]
            assert prov.sender is not None
            wait_all(prov.sender, [s.sent for s in sent if s.sent is not None])
            return n / (time.perf_counter() - t0)

        res["publish_pipelined_rps"] = _runs(publish_pipelined, runs)
        print(f"  publish (wait=False, receipts after): "
              f"{res['publish_pipelined_rps']['median']:.1f} records/s", flush=True)

        # publish_batch ------------------------------------------------------------------------
        res["publish_batch"] = []
        for size in batch_sizes:
            items = [(patients[i % 4].patient, payload) for i in range(size)]

            def batch(items: list[tuple[str, bytes]] = items) -> float:
                t0 = time.perf_counter()
                prov.publish_batch(items, Category.VITALS)
                return len(items) / (time.perf_counter() - t0)

            b_runs = runs if size <= 256 else max(2, runs - 2)
            res["publish_batch"].append({"batch_size": size, "records_per_s": _runs(batch, b_runs)})
            print(f"  publish_batch({size:>4}): "
                  f"{res['publish_batch'][-1]['records_per_s']['median']:,.0f} records/s", flush=True)

        # accesses -----------------------------------------------------------------------------
        pubs = [prov.publish(patients[i % 4].patient, payload, Category.LAB) for i in range(4)]
        for p in patients:  # the issuer reads its own records, logged like any access
            p.grant(prov.address, SCOPE_ALL, [Purpose.TREAT], exp)
        reader = prov  # (reads through another institution's node: benchmarks/node.py)

        def access(n: int = n_single) -> float:
            t0 = time.perf_counter()
            for i in range(n):
                assert reader.access(pubs[i % 4].record_id, Purpose.TREAT) == payload
            return n / (time.perf_counter() - t0)

        access(3)
        res["access_per_s"] = _runs(access, runs)
        print(f"  access (end to end): {res['access_per_s']['median']:.1f} /s", flush=True)

        # signed consents relayed -----------------------------------------------------------------
        accounts = [env.sender(a).account for a in env.patients[:4]]

        def relay(n: int = n_single) -> float:
            t0 = time.perf_counter()
            for i in range(n):
                signed = sc.signer.grant(accounts[i % 4], hosp_b, secrets.token_bytes(32),
                                         [Purpose.TREAT], exp)
                sc.relayer.submit(signed)
            return n / (time.perf_counter() - t0)

        relay(2)
        res["relay_sign_and_submit_per_s"] = _runs(relay, runs)
        print(f"  sign + relay: {res['relay_sign_and_submit_per_s']['median']:.1f} /s", flush=True)

        def relay_only(n: int = n_single) -> float:
            # pre-sign with consecutive nonces of one patient each, then submit all
            signed = []
            base = {a.address: sc.signer.registry.nonce(a.address) for a in accounts}
            for i in range(n):
                a = accounts[i % 4]
                msg = sc.signer.grant_message(a.address, hosp_b, secrets.token_bytes(32),
                                              [Purpose.TREAT], exp, nonce=base[a.address])
                base[a.address] += 1
                signed.append(sc.signer.sign(msg, a))
            by_signer: dict[str, list[Any]] = {}
            for s in signed:
                by_signer.setdefault(s.signer, []).append(s)
            order = [s for group in zip(*by_signer.values(), strict=False) for s in group]
            t0 = time.perf_counter()
            for s in order:
                sc.relayer.submit(s)
            return len(order) / (time.perf_counter() - t0)

        res["relay_submit_only_per_s"] = _runs(relay_only, runs)
        print(f"  relay only (pre-signed): {res['relay_submit_only_per_s']['median']:.1f} /s",
              flush=True)

        # profiles ------------------------------------------------------------------------------------
        n_prof = 10 if quick else 30
        res["profiles"]["publish"] = profile(lambda: publish_single(n_prof), "Provider.publish", n_prof)
        size = 128 if quick else 256
        items = [(patients[i % 4].patient, payload) for i in range(size)]
        res["profiles"]["publish_batch"] = profile(
            lambda: prov.publish_batch(items, Category.VITALS), f"Provider.publish_batch({size})", size)
        res["profiles"]["access"] = profile(lambda: access(n_prof), "Institution.access", n_prof)
        res["profiles"]["relay"] = profile(lambda: relay(n_prof), "ConsentSigner.grant + Relayer.submit",
                                           n_prof)
    return res


def what_if(quick: bool, workdir: Path) -> list[dict[str, Any]]:
    """How fast the same flows get with the SDK hot spots removed, cumulatively, by patching
    this process only (nothing in src/ changes): an estimate of what each fix is worth.

    1. web3's ``validation`` middleware removed: it asks the node ``eth_chainId`` twice per
       ``eth_call``/``eth_estimateGas`` (the SDK checks the chain id once at connection and
       signs it into every transaction).
    2. the patient's registered key is looked up once per patient, not once per record.
    3. ``eth_estimateGas`` once per contract function, reused (×1.25 margin) afterwards.
    4. no fsync (an upper bound showing what durability costs; not a recommendation).
    """
    from careledger.chain import Sender

    n = 10 if quick else 30
    runs = 2 if quick else 3
    size = 64 if quick else 256
    steps = ["as shipped", "+ no eth_chainId per call (validation middleware off)", "+ patient key cached per patient",
             "+ gas estimate cached per function", "+ no fsync (upper bound)"]
    out = []
    real_estimate = Sender.estimate
    real_fsync = os.fsync
    with Env(accounts=30) as env:
        sc = Scenario(env, workdir / "what-if")
        patients = [sc.patient(i) for i in range(4)]
        hosp_b = env.actors["hospital_b"].address
        exp = env.now() + YEAR
        for p in patients:
            p.grant(hosp_b, SCOPE_ALL, [Purpose.TREAT], exp)
        payload = secrets.token_bytes(KIB)
        pubs = [sc.provider.publish(patients[i].patient, payload, Category.LAB) for i in range(4)]
        for p in patients:
            p.grant(sc.provider.address, SCOPE_ALL, [Purpose.TREAT], exp)
        consent = env.ledger.consent
        real_patient_key = consent.patient_key
        estimates: dict[tuple[str, str], int] = {}

        def cached_estimate(self: Any, call: Any) -> int:
            key = (str(call.address), str(call.fn_name))
            if key not in estimates:
                estimates[key] = real_estimate(self, call)
            return estimates[key]

        try:
            for i, step in enumerate(steps):
                if i == 1 and "validation" in {name for _, name in env.chain.w3.middleware_onion.middleware}:
                    env.chain.w3.middleware_onion.remove("validation")  # the SDK now does this
                if i == 2:
                    consent.patient_key = functools.cache(real_patient_key)  # type: ignore[method-assign]
                if i == 3:
                    Sender.estimate = cached_estimate  # type: ignore[method-assign]
                if i == 4:
                    os.fsync = lambda fd: None

                def single() -> float:
                    t0 = time.perf_counter()
                    for j in range(n):
                        sc.provider.publish(patients[j % 4].patient, payload, Category.LAB)
                    return n / (time.perf_counter() - t0)

                def batch() -> float:
                    items = [(patients[j % 4].patient, payload) for j in range(size)]
                    t0 = time.perf_counter()
                    sc.provider.publish_batch(items, Category.VITALS)
                    return size / (time.perf_counter() - t0)

                def access() -> float:
                    t0 = time.perf_counter()
                    for j in range(n):
                        sc.provider.access(pubs[j % 4].record_id, Purpose.TREAT)
                    return n / (time.perf_counter() - t0)

                single()
                row = {"step": step, "publish_single_rps": _runs(single, runs),
                       f"publish_batch_{size}_rps": _runs(batch, runs),
                       "access_per_s": _runs(access, runs)}
                out.append(row)
                print(f"  what-if {step}: publish {row['publish_single_rps']['median']:.0f}/s, "
                      f"batch({size}) {row[f'publish_batch_{size}_rps']['median']:.0f}/s, "
                      f"access {row['access_per_s']['median']:.0f}/s", flush=True)
        finally:
            Sender.estimate = real_estimate  # type: ignore[method-assign]
            os.fsync = real_fsync
    return out


def what_if_table(res: dict[str, Any]) -> str:
    rows = []
    for r in res.get("what_if", []):
        batch_key = next(k for k in r if k.startswith("publish_batch_"))
        size = batch_key.split("_")[2]
        rows.append([r["step"], f"{r['publish_single_rps']['median']:,.0f}",
                     f"{r[batch_key]['median']:,.0f} (batch of {size})",
                     f"{r['access_per_s']['median']:,.0f}"])
    return md_table(["SDK hot spot removed (cumulative, patched in the benchmark process)",
                     "publish/s", "publish_batch records/s", "access/s"], rows)


def measure(*, quick: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="careledger-throughput-") as tmp:
        res = chain_flows(quick, Path(tmp))
        res["workspace_fs"] = _fs_of(tmp)
        res["what_if"] = what_if(quick, Path(tmp))
    res["aes_gcm"] = aes(quick)
    res["goals"] = GOALS
    res["verdicts"] = verdicts(res)
    return res


def _fs_of(path: str) -> str:
    best = ("", "unknown")
    try:
        for line in Path("/proc/mounts").read_text().splitlines():
            dev, mnt, fs = line.split()[:3]
            if path.startswith(mnt) and len(mnt) > len(best[0]):
                best = (mnt, f"{fs} on {mnt} ({dev})")
    except OSError:
        pass
    return best[1]


def verdicts(res: dict[str, Any]) -> list[dict[str, Any]]:
    best_batch = max(res["publish_batch"], key=lambda b: b["records_per_s"]["median"])
    aes_min = min(a["encrypt_record_mb_s"]["median"] for a in res["aes_gcm"])
    rows = [
        ("AES-GCM encrypt_record, slowest size (MB/s)", aes_min, GOALS["aes_gcm_mb_s"]),
        ("publication, single (records/s)", res["publish_single_rps"]["median"],
         GOALS["publish_single_rps"]),
        (f"publication, batched (records/s, best at {best_batch['batch_size']:,})",
         best_batch["records_per_s"]["median"], GOALS["publish_batched_rps"]),
        ("access, end to end (/s)", res["access_per_s"]["median"], GOALS["access_per_s"]),
    ]
    return [{"figure": f, "measured": round(m, 1), "goal": g, "met": m >= g} for f, m, g in rows]


def _s(d: dict[str, float], fmt: str = "{:,.1f}") -> tuple[str, str]:
    return fmt.format(d["median"]), f"{fmt.format(d['min'])}–{fmt.format(d['max'])}"


def table(res: dict[str, Any]) -> str:
    rows = []
    for key, label, goal in [
        ("publish_single_rps", "records published/s — `Provider.publish`, one after another", "≥ 50"),
        ("publish_pipelined_rps", "records published/s — `publish(wait=False)`, receipts after", "—"),
    ]:
        rows.append([label, *_s(res[key]), goal])
    for b in res["publish_batch"]:
        rows.append([f"records published/s — `publish_batch` of {b['batch_size']:,}",
                     *_s(b["records_per_s"]), "≥ 2,000"])
    rows.append(["accesses/s — `Institution.access` end to end", *_s(res["access_per_s"]), "≥ 30"])
    rows.append(["signed consents/s — `ConsentSigner.grant` + `Relayer.submit`",
                 *_s(res["relay_sign_and_submit_per_s"]), "—"])
    rows.append(["signed consents/s — `Relayer.submit` of pre-signed consents",
                 *_s(res["relay_submit_only_per_s"]), "—"])
    for a in res["aes_gcm"]:
        rows.append([f"AES-256-GCM MB/s — `encrypt_record`, {a['size']}",
                     *_s(a["encrypt_record_mb_s"], "{:,.0f}"), "≥ 500"])
        rows.append([f"AES-256-GCM MB/s — raw `AESGCM.encrypt`, {a['size']} (reference)",
                     *_s(a["raw_aesgcm_mb_s"], "{:,.0f}"), "—"])
        rows.append([f"AES-256-GCM MB/s — `decrypt_record`, {a['size']}",
                     *_s(a["decrypt_record_mb_s"], "{:,.0f}"), "—"])
    return md_table(["figure", "median", "min–max", "goal"], rows)


def verdict_table(res: dict[str, Any]) -> str:
    return md_table(["goal", "measured (median)", "goal", "met?"],
                    [[v["figure"], f"{v['measured']:,.1f}", f"≥ {v['goal']:,.0f}",
                      "yes" if v["met"] else "**no**"] for v in res["verdicts"]])


def profile_table(res: dict[str, Any]) -> str:
    cats: list[str] = []
    for p in res["profiles"].values():
        for c in p["categories"]:
            if c not in cats:
                cats.append(c)
    headers = ["where the wall time goes", *[f"{p['label']} ({p['per_item_ms']:.1f} ms/item, "
                                             f"{p['rpc_requests_per_item']:.1f} RPC/item)"
                                             for p in res["profiles"].values()]]
    rows = []
    for c in cats:
        rows.append([c, *[f"{100 * p['categories'].get(c, {}).get('share', 0):.0f} %"
                          for p in res["profiles"].values()]])
    return md_table(headers, rows)


def plot(res: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    sizes = [b["batch_size"] for b in res["publish_batch"]]
    med = [b["records_per_s"]["median"] for b in res["publish_batch"]]
    lo = [b["records_per_s"]["median"] - b["records_per_s"]["min"] for b in res["publish_batch"]]
    hi = [b["records_per_s"]["max"] - b["records_per_s"]["median"] for b in res["publish_batch"]]
    ax1.errorbar(sizes, med, yerr=[lo, hi], fmt="-o", capsize=3, label="publish_batch")
    ax1.axhline(res["publish_single_rps"]["median"], color="C1", ls="--",
                label="publish, sequential")
    ax1.axhline(GOALS["publish_batched_rps"], color="C3", ls=":", label="goal, batched (2,000/s)")
    ax1.axhline(GOALS["publish_single_rps"], color="C2", ls=":", label="goal, single (50/s)")
    ax1.set_xscale("log", base=2)
    ax1.set_yscale("log")
    ax1.set_xlabel("batch size")
    ax1.set_ylabel("records/s (median, min–max)")
    ax1.set_title("Publication throughput")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    labels = [a["size"] for a in res["aes_gcm"]]
    x = range(len(labels))
    ax2.bar([i - 0.2 for i in x], [a["encrypt_record_mb_s"]["median"] for a in res["aes_gcm"]],
            0.4, label="encrypt_record")
    ax2.bar([i + 0.2 for i in x], [a["raw_aesgcm_mb_s"]["median"] for a in res["aes_gcm"]], 0.4,
            label="raw AESGCM.encrypt")
    ax2.axhline(GOALS["aes_gcm_mb_s"], color="C3", ls=":", label="goal (500 MB/s)")
    ax2.set_xticks(list(x), labels)
    ax2.set_ylabel("MB/s (median, one core)")
    ax2.set_title("AES-256-GCM encryption")
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    from common import RESULTS

    res = measure(quick="--quick" in sys.argv)
    res["machine"] = machine_facts()
    write_json("throughput", res)
    plot(res, RESULTS / "throughput.png")
    print(table(res))
    print(verdict_table(res))
    print(profile_table(res))
    print(what_if_table(res))


if __name__ == "__main__":
    main()
