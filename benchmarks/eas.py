"""The Ethereum Attestation Service side by side with CareLedger, on the same anvil.

EAS comes from the npm package ``@ethereum-attestation-service/eas-contracts``, compiled here
with solc-js 0.8.29 (``compile_eas.js``, standard JSON, offline). SchemaRegistry and EAS are
deployed next to the CareLedger contracts of ``gas.py``; a consent-shaped schema
``address grantee, bytes32 scope, bytes32 purpose, uint64 expiry`` is registered (revocable, no
resolver) and the same operations are measured. The prebuilt bytecode shipped in the npm
package (EVM paris, OpenZeppelin 5.3.0) is deployed and measured too, as a cross-check.

    .venv/bin/python benchmarks/eas.py       # own anvil: CareLedger rows + EAS rows + comparison
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BENCH,
    ROOT,
    YEAR,
    Env,
    exec_gas,
    fmt_int,
    gas_breakdown,
    machine_facts,
    md_table,
    write_json,
)
from eth_abi import encode
from eth_account.messages import encode_typed_data
from eth_utils import keccak, to_checksum_address

from careledger.chain import Sender

PKG = ROOT / "node_modules/@ethereum-attestation-service/eas-contracts"
BUILD = BENCH / ".cache" / "eas-build.json"
SCHEMA = "address grantee, bytes32 scope, bytes32 purpose, uint64 expiry"
ZERO32 = b"\x00" * 32
ATTEST_TYPES = [
    {"name": "attester", "type": "address"}, {"name": "schema", "type": "bytes32"},
    {"name": "recipient", "type": "address"}, {"name": "expirationTime", "type": "uint64"},
    {"name": "revocable", "type": "bool"}, {"name": "refUID", "type": "bytes32"},
    {"name": "data", "type": "bytes"}, {"name": "value", "type": "uint256"},
    {"name": "nonce", "type": "uint256"}, {"name": "deadline", "type": "uint64"},
]
BATCH_SIZES = (1, 16, 256, 1024)


def build() -> dict[str, Any]:
    """Compile EAS with solc-js 0.8.29 (cached in benchmarks/.cache, keyed by versions)."""
    pkg_version = json.loads((PKG / "package.json").read_text())["version"]
    if BUILD.exists():
        cached = json.loads(BUILD.read_text())
        if cached.get("package") == pkg_version and cached.get("compiler", "").startswith("0.8.29"):
            return dict(cached)
    subprocess.run(["node", str(BENCH / "compile_eas.js"), str(BUILD)], check=True, cwd=ROOT)
    return dict(json.loads(BUILD.read_text()))


def shipped(name: str) -> dict[str, Any]:
    sol = "EAS.sol" if name == "EAS" else "SchemaRegistry.sol"
    return dict(json.loads((PKG / "artifacts/contracts" / sol / f"{name}.json").read_text()))


def deploy_contract(sender: Sender, abi: list[Any], bytecode: str, *args: Any) -> tuple[str, int]:
    receipt = sender.deploy(abi, bytecode, *args)
    return to_checksum_address(receipt["contractAddress"]), int(receipt["gasUsed"])


class EasDeployment:
    """SchemaRegistry + EAS on a chain, with the consent schema registered."""

    def __init__(self, env: Env, abis: dict[str, Any], code: dict[str, str]) -> None:
        self.env = env
        dep = env.sender("deployer")
        self.registry_address, self.registry_deploy_gas = deploy_contract(
            dep, abis["SchemaRegistry"], code["SchemaRegistry"])
        self.address, self.deploy_gas = deploy_contract(dep, abis["EAS"], code["EAS"],
                                                        self.registry_address)
        w3 = env.chain.w3
        self.registry = w3.eth.contract(address=self.registry_address, abi=abis["SchemaRegistry"])
        self.eas = w3.eth.contract(address=self.address, abi=abis["EAS"])
        rc = dep.transact(self.registry.functions.register(SCHEMA, "0x" + "00" * 20, True))
        self.schema_register_gas = int(rc["gasUsed"])
        self.schema_uid = keccak(SCHEMA.encode() + b"\x00" * 20 + b"\x01")
        assert self.registry.functions.getSchema(self.schema_uid).call()[0] == self.schema_uid
        name, version, chain_id, verifying = self.eas.functions.eip712Domain().call()[1:5]
        self.domain = {"name": name, "version": version, "chainId": chain_id,
                       "verifyingContract": verifying}

    def data(self, grantee: str, scope: bytes, purpose: bytes, expiry: int) -> bytes:
        return encode(["address", "bytes32", "bytes32", "uint64"], [grantee, scope, purpose, expiry])

    def request_data(self, grantee: str, expiry: int) -> tuple[Any, ...]:
        purpose = (1).to_bytes(32, "big")  # TREAT as a bit mask, like CareLedger's uint32
        return (grantee, expiry, True, ZERO32, self.data(grantee, secrets.token_bytes(32), purpose,
                                                         expiry), 0)

    def attest(self, attester: Sender, grantee: str, expiry: int) -> tuple[Any, bytes]:
        rc = attester.transact(self.eas.functions.attest((self.schema_uid,
                                                          self.request_data(grantee, expiry))))
        uid = bytes(self.eas.events.Attested().process_receipt(rc)[0]["args"]["uid"])
        return rc, uid

    def attest_by_delegation(self, relayer: Sender, attester_key: str, attester: str, grantee: str,
                             expiry: int) -> tuple[Any, bytes]:
        from eth_account import Account

        req = self.request_data(grantee, expiry)
        nonce = int(self.eas.functions.getNonce(attester).call())
        deadline = self.env.now() + 86_400
        message = {"attester": attester, "schema": self.schema_uid, "recipient": req[0],
                   "expirationTime": req[1], "revocable": req[2], "refUID": req[3],
                   "data": req[4], "value": req[5], "nonce": nonce, "deadline": deadline}
        typed = {"types": {"EIP712Domain": [
            {"name": "name", "type": "string"}, {"name": "version", "type": "string"},
            {"name": "chainId", "type": "uint256"}, {"name": "verifyingContract", "type": "address"}],
            "Attest": ATTEST_TYPES}, "primaryType": "Attest", "domain": self.domain,
            "message": message}
        sig = Account.sign_message(encode_typed_data(full_message=typed), attester_key)
        call = self.eas.functions.attestByDelegation(
            (self.schema_uid, req, (sig.v, sig.r.to_bytes(32, "big"), sig.s.to_bytes(32, "big")),
             attester, deadline))
        rc = relayer.transact(call)
        uid = bytes(self.eas.events.Attested().process_receipt(rc)[0]["args"]["uid"])
        return rc, uid


def _typehash_ok(dep: EasDeployment) -> bool:
    expected = keccak(text="Attest(" + ",".join(f"{t['type']} {t['name']}" for t in ATTEST_TYPES) + ")")
    return bytes(dep.eas.functions.getAttestTypeHash().call()) == expected


def measure_eas(env: Env, dep: EasDeployment, patient_index: int = 8) -> list[dict[str, Any]]:
    """EAS rows on ``dep``; attesters are the env's patients from ``patient_index`` on."""
    rows: list[dict[str, Any]] = []
    grantee = env.actors["hospital_b"].address
    attester_actor = env.patients[patient_index]
    attester = env.sender(attester_actor)
    relayer = env.sender("relayer")
    exp = env.now() + YEAR

    def add(key: str, label: str, rc: Any, per: int = 1, note: str = "") -> None:
        gas = int(rc["gasUsed"])
        rows.append({"key": key, "operation": label, "gas": round(gas / per, 1), "tx_gas": gas,
                     "tx": rc["transactionHash"].to_0x_hex(), "note": note})

    rc, _ = dep.attest(attester, grantee, exp)
    add("attest_first", "attest (attester's first)", rc)
    rc, uid = dep.attest(attester, grantee, exp)
    add("attest", "attest", rc, note="schema of 4 fields, 128-byte data, no resolver")
    signer = env.patients[patient_index + 1]
    rc, _ = dep.attest_by_delegation(relayer, signer.private_key, signer.address, grantee, exp)
    add("attest_by_delegation_first", "attestByDelegation (signer's first)", rc,
        note="EIP-712 Attest, nonce slot 0 → 1")
    rc, _ = dep.attest_by_delegation(relayer, signer.private_key, signer.address, grantee, exp)
    add("attest_by_delegation_next", "attestByDelegation (subsequent)", rc)
    rc, uid2 = dep.attest(attester, grantee, exp)
    rc = attester.transact(dep.eas.functions.revoke((dep.schema_uid, (uid2, 0))))
    add("revoke", "revoke", rc)
    rc = attester.transact(dep.eas.functions.timestamp(secrets.token_bytes(32)))
    add("timestamp", "timestamp (one bytes32)", rc)
    for n in BATCH_SIZES:
        rc = attester.transact(dep.eas.functions.multiTimestamp([secrets.token_bytes(32)
                                                                  for _ in range(n)]))
        add(f"multi_timestamp_{n}", f"multiTimestamp, per item at {n:,}", rc, per=n,
            note=f"one tx of {int(rc['gasUsed']):,} gas / {n}")
    probe = env.sender("relayer")
    for key, label, fn in [("get_attestation", "getAttestation execution",
                            dep.eas.functions.getAttestation(uid)),
                           ("is_attestation_valid", "isAttestationValid execution",
                            dep.eas.functions.isAttestationValid(uid))]:
        data = bytes.fromhex(fn._encode_transaction_data()[2:])
        g = exec_gas(env.chain, probe, dep.address, data)
        rows.append({"key": key, "operation": label, "gas": g["measured"], "tx_gas": None,
                     "estimate_exec_gas": g["estimate"], "tx": g["tx_hash"],
                     "note": "gasUsed − 21,000 − calldata of a mined call"})
    for r in rows:
        if r.get("tx") and not r["key"].startswith("multi_timestamp_1024"):
            try:
                r["breakdown"] = gas_breakdown(env.rpc, r["tx"])
            except RuntimeError as exc:
                r["breakdown"] = {"error": str(exc)}
    return rows


#: (CareLedger key, EAS key, label)
PAIRS = [
    ("grant", "attest", "consent grant vs attest"),
    ("grant_by_sig_first", "attest_by_delegation_first", "signed grant (signer's first) vs attestByDelegation (first)"),
    ("grant_by_sig_next", "attest_by_delegation_next", "signed grant (subsequent) vs attestByDelegation (subsequent)"),
    ("revoke", "revoke", "revoke vs revoke"),
    ("anchor", "timestamp", "single anchor vs timestamp"),
    *[(f"anchor_batch_{n}", f"multi_timestamp_{n}", f"batch anchor vs multiTimestamp, per record at {n:,}")
      for n in BATCH_SIZES],
    ("is_authorized", "get_attestation", "isAuthorized vs getAttestation (execution)"),
    ("is_authorized", "is_attestation_valid", "isAuthorized vs isAttestationValid (execution)"),
]


def compare(careledger_rows: list[dict[str, Any]], eas_rows: list[dict[str, Any]],
            shipped_rows: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    cl = {r["key"]: r for r in careledger_rows}
    ea = {r["key"]: r for r in eas_rows}
    sh = {r["key"]: r for r in (shipped_rows or [])}
    out = []
    for ck, ek, label in PAIRS:
        c, e = cl[ck]["gas"], ea[ek]["gas"]
        out.append({"comparison": label, "careledger": c, "eas": e,
                    "ratio_eas_over_careledger": round(e / c, 2) if c else None,
                    "eas_shipped_artifact": sh[ek]["gas"] if ek in sh else None})
    return out


def table(cmp_rows: list[dict[str, Any]]) -> str:
    def g(v: float) -> str:
        return f"{v:,.1f}" if v != int(v) else fmt_int(v)

    return md_table(["operation", "CareLedger gas", "EAS gas", "EAS ÷ CareLedger",
                     "EAS (npm prebuilt bytecode)"],
                    [[r["comparison"], g(r["careledger"]), g(r["eas"]),
                      f"{r['ratio_eas_over_careledger']:.2f}×",
                      g(r["eas_shipped_artifact"]) if r["eas_shipped_artifact"] is not None else "—"]
                     for r in cmp_rows])


def measure(env: Env, careledger_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Deploy EAS (compiled here, and the npm prebuilt bytecode) on ``env``; measure; compare."""
    compiled = build()
    abis = {n: compiled["contracts"][n]["abi"] for n in ("EAS", "SchemaRegistry")}
    ours = EasDeployment(env, abis, {n: compiled["contracts"][n]["bytecode"] for n in abis})
    prebuilt = EasDeployment(env, abis, {n: shipped(n)["bytecode"] for n in abis})
    eas_rows = measure_eas(env, ours, patient_index=8)
    shipped_rows = measure_eas(env, prebuilt, patient_index=10)
    return {
        "eas": {"package_version": compiled["package"], "compiler": compiled["compiler"],
                "openzeppelin": compiled["openzeppelin"], "settings": compiled["settings"],
                "compile_seconds": compiled["seconds"],
                "same_bytecode_as_npm_artifact": {n: compiled["contracts"][n]["sameAsShippedArtifact"]
                                                   for n in abis},
                "runtime_size": {n: compiled["contracts"][n]["runtimeSize"] for n in abis},
                "eip712_domain": ours.domain, "attest_typehash_matches": _typehash_ok(ours),
                "schema": SCHEMA, "schema_uid": "0x" + ours.schema_uid.hex(),
                "deploy_gas": {"SchemaRegistry": ours.registry_deploy_gas, "EAS": ours.deploy_gas},
                "schema_register_gas": ours.schema_register_gas},
        "rows": eas_rows,
        "rows_npm_prebuilt": shipped_rows,
        "comparison": compare(careledger_rows, eas_rows, shipped_rows),
    }


def main() -> None:
    import gas

    with Env(accounts=20, extra_args=gas.TRACING_ARGS) as env, \
            tempfile.TemporaryDirectory(prefix="careledger-bench-") as tmp:
        cl = gas.measure(env, Path(tmp))
        result = measure(env, cl["rows"])
        result["machine"] = machine_facts(env.node.rpc_url)
    write_json("eas", result)
    print(table(result["comparison"]))


if __name__ == "__main__":
    main()
