"""The cost model: FastLZ as the OP Stack counts it (checked byte for byte against Solady's
JavaScript from npm), the Fjord L1 data fee, and one scenario recomputed by hand from gas
measured on a fresh anvil."""

from __future__ import annotations

import json
import random
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from careledger.cli import main
from careledger.cost import Prices, Scenario, compress, decompress, estimate, fjord_l1_fee_wei
from careledger.cost.measure import measure
from careledger.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[1]
SOLADY = ROOT / "node_modules" / "solady" / "js" / "solady.js"


@pytest.fixture(scope="module")
def measured() -> dict:  # type: ignore[type-arg]
    return measure(batch_sizes=(16, 64, 256))


def _solady(inputs: list[bytes]) -> list[bytes]:
    script = (f"const {{LibZip}} = require({str(SOLADY)!r});"
              "const inp = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
              "console.log(JSON.stringify(inp.map(h => LibZip.flzCompress('0x' + h).slice(2))));")
    out = subprocess.run(["node", "-e", script], input=json.dumps([i.hex() for i in inputs]),
                         capture_output=True, text=True, check=True).stdout
    return [bytes.fromhex(h) for h in json.loads(out)]


def test_fastlz_matches_soladys_flzcompress_byte_for_byte(measured) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(2026)
    cases = [b"", b"x", b"abc" * 5, bytes(300), b"careledger " * 100]
    for _ in range(150):
        alphabet = rng.choice([b"ab", b"abcdefgh", bytes(range(256)), b"\x00\x00\x00\x01"])
        cases.append(bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 4000))))
    ours = [compress(c) for c in cases]
    assert ours == _solady(cases)
    assert all(decompress(o) == c for o, c in zip(ours, cases, strict=True))
    # the measured transactions' sizes are the compressed lengths of real signed transactions
    assert all(0 < op.fastlz_bytes <= op.tx_bytes + op.tx_bytes // 32 + 1
               for op in measured["operations"].values())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_fastlz_round_trips(data: bytes) -> None:
    assert decompress(compress(data)) == data


def test_the_fjord_fee_follows_the_formula_and_its_floor() -> None:
    p = Prices(l1_base_fee_gwei=10, l1_blob_base_fee_gwei=2, base_fee_scalar=5227,
               blob_base_fee_scalar=1014213)
    fee_scaled = 5227 * 10 * 10**9 * 16 + 1014213 * 2 * 10**9
    assert fjord_l1_fee_wei(300, p) == (-42_585_600 + 836_500 * 300) * fee_scaled // 10**12
    assert fjord_l1_fee_wei(10, p) == 100 * 10**6 * fee_scaled // 10**12  # minTransactionSize


def test_one_scenario_recomputed_by_hand_from_the_measured_gas(measured) -> None:  # type: ignore[no-untyped-def]
    ops, batches = measured["operations"], measured["batches"]
    s = Scenario(patients=2_000, records_per_patient_year=10, batch_size=64,
                 grants_per_patient_year=3, revocations_per_patient_year=1, relayed_consents=True,
                 accesses_per_patient_year=5, requests_per_patient_year=2,
                 break_glass_per_patient_year=0.5, research_datasets_per_year=10,
                 records_per_dataset=400, include_key_registration=False)
    p = Prices(l1_gas_price_gwei=8, eth_usd=2500, l2_gas_price_gwei=0.01, l1_base_fee_gwei=8,
               l1_blob_base_fee_gwei=0.5)
    est = estimate(ops, batches, s, p)
    g = {name: op.gas for name, op in ops.items()}
    gas_per_year = (10 / 64 * batches[64].gas + 3 * g["grant_by_sig"] + 1 * g["revoke_by_sig"]
                    + 5 * g["record_access"] + 2 * g["request_access"] + 2 * g["approve_request"]
                    + 0.5 * g["break_glass"] + 10 * 400 / 2000 * g["record_access"]
                    + 10 / 2000 * g["anchor"])
    assert est.usd(est.l1_wei) == pytest.approx(gas_per_year * 8e-9 * 2500, rel=1e-9)

    def l2(name: str, fastlz: int) -> float:  # execution at the L2 price plus the L1 data fee
        scaled = max(100e6, -42_585_600 + 836_500 * fastlz)
        data_fee = scaled * (5227 * 8e9 * 16 + 1014213 * 0.5e9) / 1e12
        return (g.get(name, batches[64].gas) * 0.01e9 + data_fee) / 1e18 * 2500

    f = {name: op.fastlz_bytes for name, op in ops.items()}
    l2_per_year = (10 / 64 * l2("batch", batches[64].fastlz_bytes)
                   + 3 * l2("grant_by_sig", f["grant_by_sig"]) + l2("revoke_by_sig", f["revoke_by_sig"])
                   + (5 + 10 * 400 / 2000) * l2("record_access", f["record_access"])
                   + 2 * l2("request_access", f["request_access"])
                   + 2 * l2("approve_request", f["approve_request"])
                   + 0.5 * l2("break_glass", f["break_glass"]) + 10 / 2000 * l2("anchor", f["anchor"]))
    assert est.usd(est.l2_wei) == pytest.approx(l2_per_year, rel=1e-6)
    assert est.usd(est.l2_wei) < est.usd(est.l1_wei) / 100
    # a smaller batch costs more per record; direct consents cost less gas than relayed ones
    assert estimate(ops, batches, replace(s, batch_size=16), p).l1_wei > est.l1_wei
    assert estimate(ops, batches, replace(s, relayed_consents=False), p).l1_wei < est.l1_wei


def test_cost_command_tables_json_plot_and_bad_input(measured, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from careledger.cost.measure import save

    gas = tmp_path / "gas.json"
    save(measured, gas)
    scenario = tmp_path / "scenario.json"
    scenario.write_text(json.dumps({"scenario": {"patients": 500, "accesses_per_patient_year": 3},
                                    "prices": {"eth_usd": 1000}}))
    r = CliRunner().invoke(main, ["cost", "--gas", str(gas), "--scenario", str(scenario),
                                  "--records", "24", "--json", "--plot", str(tmp_path / "c.png")])
    assert r.exit_code == 0, r.output
    result = json.loads(r.output)
    assert result["scenario"]["patients"] == 500 and result["scenario"]["records_per_patient_year"] == 24
    assert result["prices"]["eth_usd"] == 1000
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert {r["batch_size"] for r in result["sweep"]} == {1, 16, 64, 256, 1024, 4096}
    r = CliRunner().invoke(main, ["cost", "--gas", str(gas), "--batch-size", "1"])
    assert r.exit_code == 0 and "records anchored one by one" in r.output and "total" in r.output
    scenario.write_text(json.dumps({"scenario": {"patiens": 5}}))
    r = CliRunner().invoke(main, ["cost", "--gas", str(gas), "--scenario", str(scenario)])
    assert r.exit_code == 1 and "patiens" in r.output and r.output.count("\n") == 1, r.output
    with pytest.raises(InvalidInput):
        Scenario(batch_size=0)
