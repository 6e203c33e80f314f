"""Shared pieces of the CareLedger benchmarks.

- ``Env``: a fresh anvil (``careledger.chain.devnet.Devnet``), a ``Chain``, a ``NonceManager`` and a
  deployment made through the SDK (``careledger.contracts.deployment.deploy``), with named actors.
- ``BulkSender``: signs EIP-1559 transactions directly (rlp + coincurve) with a fixed gas
  limit and sends them as JSON-RPC batches without waiting, then checks every receipt. It
  fills the chain with *real* transactions fast (no ``anvil_setStorageAt``).
- ``exec_gas``: execution gas of a call (a view included) measured from a mined transaction:
  ``gasUsed - 21000 - calldata cost``, and the ``eth_estimateGas`` figure beside it.
- ``machine_facts``: CPU, cores, Python, web3, solc, anvil and hardfork.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import httpx
import rlp
from coincurve import PrivateKey
from eth_abi import encode
from eth_account import Account
from eth_utils import keccak, to_checksum_address

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"
NATIVE_ANVIL = ROOT / "node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
if not os.environ.get("CARELEDGER_ANVIL") and NATIVE_ANVIL.exists():
    os.environ["CARELEDGER_ANVIL"] = str(NATIVE_ANVIL)
sys.path.insert(0, str(ROOT / "src"))

from careledger.chain import Chain, Devnet, NonceManager, Sender
from careledger.codes import Role
from careledger.contracts import CareLedger, GenesisMember, deploy
from careledger.crypto import EncryptionKeyPair

TX_BASE = 21_000
DAY = 86_400
YEAR = 365 * DAY


def calldata_cost(data: bytes) -> int:
    """EIP-2028 calldata gas (4 per zero byte, 16 per non-zero byte)."""
    zeros = data.count(0)
    return 4 * zeros + 16 * (len(data) - zeros)


def selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def calldata(signature: str, types: Sequence[str], args: Sequence[Any]) -> bytes:
    """ABI-encode a call without web3 (``"grant(address,address,bytes32,uint32,uint64)"``)."""
    return selector(signature) + encode(list(types), list(args))


# --------------------------------------------------------------------------------------------
# raw JSON-RPC


class Rpc:
    """A thin JSON-RPC client with batch support (one HTTP request for many calls)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = httpx.Client(timeout=120.0)
        self._id = 0

    def call(self, method: str, *params: Any) -> Any:
        self._id += 1
        reply = self.http.post(self.url, json={"jsonrpc": "2.0", "id": self._id, "method": method,
                                               "params": list(params)}).json()
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply["result"]

    def batch(self, calls: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        payload = []
        for method, params in calls:
            self._id += 1
            payload.append({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        replies = self.http.post(self.url, json=payload).json()
        by_id = {r["id"]: r for r in replies}
        out = []
        for p in payload:
            r = by_id[p["id"]]
            if "error" in r:
                raise RuntimeError(f"{p['method']}: {r['error']}")
            out.append(r["result"])
        return out


# --------------------------------------------------------------------------------------------
# fast signing and bulk sending


class BulkSender:
    """Sends many transactions from one key: signed locally, sent in JSON-RPC batches, no waits.

    Gas limits are fixed by the caller (the calls are known to succeed); every receipt is
    checked afterwards, so a revert is never silent.
    """

    def __init__(self, rpc: Rpc, private_key: str, chain_id: int, *, nonce: int | None = None,
                 max_fee: int = 20 * 10**9, tip: int = 10**9) -> None:
        self.rpc = rpc
        self.key = PrivateKey(bytes.fromhex(private_key.removeprefix("0x")))
        self.address = to_checksum_address(Account.from_key(private_key).address)
        self.chain_id = chain_id
        self.max_fee = max_fee
        self.tip = tip
        self.nonce = int(rpc.call("eth_getTransactionCount", self.address, "pending"), 16) \
            if nonce is None else nonce

    def sign(self, to: str, data: bytes, gas: int) -> tuple[bytes, bytes]:
        """Return ``(raw, tx_hash)`` of a type-2 transaction at the next nonce."""
        fields = [self.chain_id, self.nonce, self.tip, self.max_fee, gas,
                  bytes.fromhex(to[2:]), 0, data, []]
        self.nonce += 1
        digest = keccak(b"\x02" + rlp.encode(fields))
        sig = self.key.sign_recoverable(digest, hasher=None)
        r, s, v = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:64], "big"), sig[64]
        raw = b"\x02" + rlp.encode(fields + [v, r, s])
        return raw, keccak(raw)

    def send_many(self, calls: Iterable[tuple[str, bytes, int]], *, chunk: int = 256,
                  check: bool = True, full_blocks: bool = True) -> list[bytes]:
        """Sign and send ``(to, data, gas)`` calls in batches; wait for all; check statuses.

        With ``full_blocks`` automine is paused while the batch is sent and blocks are then
        mined until the pool is empty (many transactions per block, as on a busy chain);
        otherwise anvil mines one block per transaction.
        """
        hashes: list[bytes] = []
        pending: list[tuple[str, list[Any]]] = []
        if full_blocks:
            self.rpc.call("evm_setAutomine", False)
        try:
            for to, data, gas in calls:
                raw, h = self.sign(to, data, gas)
                hashes.append(h)
                pending.append(("eth_sendRawTransaction", ["0x" + raw.hex()]))
                if len(pending) >= chunk:
                    self.rpc.batch(pending)
                    pending = []
            if pending:
                self.rpc.batch(pending)
            if full_blocks:
                for _ in range(len(hashes) + 10):
                    if int(self.rpc.call("txpool_status")["pending"], 16) == 0:
                        break
                    self.rpc.call("evm_mine")
        finally:
            if full_blocks:
                self.rpc.call("evm_setAutomine", True)
        self.wait_nonce()
        if check:
            check_receipts(self.rpc, hashes)
        return hashes

    def wait_nonce(self, timeout: float = 600.0) -> None:
        deadline = time.monotonic() + timeout
        while int(self.rpc.call("eth_getTransactionCount", self.address, "latest"), 16) < self.nonce:
            if time.monotonic() > deadline:
                raise TimeoutError("bulk transactions were not all mined in time")
            time.sleep(0.01)


def check_receipts(rpc: Rpc, hashes: Sequence[bytes], chunk: int = 500) -> list[dict[str, Any]]:
    """Fetch receipts in batches; raise if any is missing or reverted."""
    out: list[dict[str, Any]] = []
    for i in range(0, len(hashes), chunk):
        part = rpc.batch([("eth_getTransactionReceipt", ["0x" + h.hex()]) for h in hashes[i:i + chunk]])
        for h, r in zip(hashes[i:i + chunk], part, strict=True):
            if r is None or int(r["status"], 16) != 1:
                raise RuntimeError(f"bulk transaction 0x{h.hex()} failed: {r}")
        out.extend(part)
    return out


# --------------------------------------------------------------------------------------------
# the environment


@dataclass
class Actor:
    name: str
    address: str
    private_key: str


class Env:
    """A fresh anvil with CareLedger deployed through the SDK.

    Accounts: 0 deployer, 1 hospital A (PROVIDER), 2 hospital B (PROVIDER), 3 research
    institute (RESEARCHER), 4 emergency unit (PROVIDER|EMERGENCY), 5 relayer, 6.. patients.
    """

    def __init__(self, *, accounts: int = 20, extra_args: list[str] | None = None) -> None:
        self.node = Devnet(accounts=accounts, extra_args=extra_args or ["--gas-limit", "60000000"])
        self.node.start()
        try:
            self.chain = Chain(self.node.rpc_url, chain_id=self.node.chain_id, poll_interval=0.001)
            self.nonces = NonceManager(self.chain)
            self.rpc = Rpc(self.node.rpc_url)
            acc = self.node.accounts
            names = ["deployer", "hospital_a", "hospital_b", "research", "emergency", "relayer"]
            self.actors = {n: Actor(n, acc[i].address, acc[i].private_key) for i, n in enumerate(names)}
            self.patients = [Actor(f"patient{i}", a.address, a.private_key)
                             for i, a in enumerate(acc[len(names):])]
            self.enc = {n: EncryptionKeyPair.generate() for n in names[1:5]}
            roles = {"hospital_a": Role.PROVIDER, "hospital_b": Role.PROVIDER,
                     "research": Role.RESEARCHER, "emergency": Role.PROVIDER | Role.EMERGENCY}
            genesis = [GenesisMember(self.actors[n].address, roles[n], self.enc[n].public_bytes)
                       for n in roles]
            self.deployment = deploy(self.sender("deployer"), genesis, threshold=1)
            self.ledger = CareLedger(self.chain, self.deployment)
        except BaseException:
            self.node.stop()
            raise

    def sender(self, who: str | Actor, **kwargs: Any) -> Sender:
        actor = who if isinstance(who, Actor) else self.actors[who]
        return Sender.from_key(self.chain, actor.private_key, nonces=self.nonces, **kwargs)

    def bulk(self, who: str | Actor) -> BulkSender:
        actor = who if isinstance(who, Actor) else self.actors[who]
        # keep the SDK's NonceManager in step: bulk sends use the node's pending count
        self.nonces.reset()
        return BulkSender(self.rpc, actor.private_key, self.chain.chain_id)

    def now(self) -> int:
        return int(self.chain.w3.eth.get_block("latest")["timestamp"])

    def close(self) -> None:
        self.node.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def receipt_gas(sender: Sender, call: Any) -> int:
    """Send ``call`` through the SDK and return the receipt's gasUsed."""
    return int(sender.transact(call)["gasUsed"])


def exec_gas(chain: Chain, sender: Sender, to: str, data: bytes) -> dict[str, int]:
    """Execution gas of calling ``to`` with ``data`` (a view function too).

    ``measured``: a real transaction is mined; ``gasUsed - 21000 - calldata cost`` (a view
    refunds nothing, so this is exact). ``estimate``: ``eth_estimateGas - 21000 - calldata``
    (an upper bound: the estimate also covers the 63/64 reserve of inner calls).
    """
    w3 = chain.w3
    tx = {"from": sender.address, "to": to, "data": "0x" + data.hex()}
    est = int(w3.eth.estimate_gas(tx))  # type: ignore[arg-type]
    assert sender.nonces is not None
    nonce = sender.nonces.allocate(sender.address)
    max_fee, tip = sender.fees()
    signed = sender.account.sign_transaction({**tx, "gas": est + 50_000, "nonce": nonce,
                                              "chainId": chain.chain_id, "maxFeePerGas": max_fee,
                                              "maxPriorityFeePerGas": tip, "type": 2, "value": 0})
    h = chain.broadcast(bytes(signed.raw_transaction))
    receipt = chain.wait_for_receipt(h)
    if receipt["status"] != 1:
        raise RuntimeError(f"exec_gas call to {to} reverted")
    intrinsic = TX_BASE + calldata_cost(data)
    return {"measured": int(receipt["gasUsed"]) - intrinsic, "estimate": est - intrinsic,
            "tx_hash": h.to_0x_hex()}


# --------------------------------------------------------------------------------------------
# statistics and machine facts


def summary(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "runs": len(values)}


def timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _cmd(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, timeout=30, cwd=ROOT,
                              check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def machine_facts(rpc_url: str | None = None) -> dict[str, Any]:
    import web3

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    anvil = _cmd([str(NATIVE_ANVIL), "--version"]).splitlines()
    node_solc = _cmd(["node", "-e", "console.log(require('solc').version())"])
    node_solc29 = _cmd(["node", "-e", "console.log(require('solc0829').version())"])
    facts: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "web3": web3.__version__,
        "eth_account": _version("eth-account"),
        "coincurve": _version("coincurve"),
        "cryptography": _version("cryptography"),
        "node": _cmd(["node", "--version"]),
        "solc_careledger": node_solc,
        "solc_eas": node_solc29,
        "anvil": anvil[0] if anvil else "unknown",
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()],
    }
    if rpc_url is not None:
        try:
            info = Rpc(rpc_url).call("anvil_nodeInfo")
            facts["hardfork"] = info.get("hardFork") or info.get("hard_fork")
        except Exception as exc:  # noqa: BLE001 - only a fact
            facts["hardfork"] = f"unknown ({exc})"
    return facts


def _version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "missing"


def quick_results() -> None:
    """Send ``write_json`` to ``results/quick/``: a smoke run never overwrites the published
    figures."""
    global RESULTS
    RESULTS = BENCH / "results" / "quick"


def run_standalone(name: str, measure: Callable[..., dict[str, Any]],
                   *tables: Callable[[dict[str, Any]], str]) -> None:
    """``python benchmarks/<name>.py [--quick]``: measure, add the machine facts, write
    ``results/<name>.json`` (``results/quick/`` with ``--quick``), print the tables."""
    quick = "--quick" in sys.argv
    if quick:
        quick_results()
    res = measure(quick=quick)
    res["machine"] = machine_facts()
    write_json(name, res)
    for table in tables:
        print(table(res))


def write_json(name: str, data: Any) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")
    return path


def read_json(name: str) -> Any:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def fmt_int(n: float | None) -> str:
    return "—" if n is None else f"{round(n):,}"


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def slug(s: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", s.lower()).strip("_")


def gas_breakdown(rpc: Rpc, tx_hash: str | bytes) -> dict[str, Any]:
    """Where a transaction's gas went, from anvil's opcode trace (top-level frame).

    Every top-level opcode is charged ``gas`` before it minus ``gas`` at the next opcode of the
    same depth, so a ``STATICCALL``/``CALL`` row includes the whole inner call. Returns gas per
    group (SLOAD, SSTORE, LOG*, KECCAK256, CALL*, the rest) plus intrinsic gas and refund.
    """
    h = tx_hash if isinstance(tx_hash, str) else "0x" + tx_hash.hex()
    trace = rpc.call("debug_traceTransaction", h, {"disableStack": True, "disableMemory": True,
                                                    "disableStorage": True})
    logs = trace["structLogs"]
    tx = rpc.call("eth_getTransactionByHash", h)
    receipt = rpc.call("eth_getTransactionReceipt", h)
    data = bytes.fromhex(tx["input"][2:])
    intrinsic = TX_BASE + calldata_cost(data)
    groups: dict[str, int] = {}
    top = logs[0]["depth"] if logs else 1
    for i, step in enumerate(logs):
        if step["depth"] != top:
            continue
        nxt = next((s for s in logs[i + 1:] if s["depth"] == top), None)
        cost = step["gas"] - nxt["gas"] if nxt is not None else step["gasCost"]
        op = step["op"]
        if op in ("STATICCALL", "CALL", "DELEGATECALL"):
            key = "external call (incl. callee)"
        elif op.startswith("LOG"):
            key = "LOG (event)"
        elif op in ("SLOAD", "SSTORE", "KECCAK256"):
            key = op
        else:
            key = "other opcodes"
        groups[key] = groups.get(key, 0) + cost
    used = int(receipt["gasUsed"], 16)
    execution = sum(groups.values())
    return {"gas_used": used, "intrinsic": intrinsic, "execution": execution,
            "refund": intrinsic + execution - used, "groups": dict(sorted(groups.items(), key=lambda kv: -kv[1]))}
