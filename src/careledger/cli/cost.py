"""``careledger cost``: what a patient-year costs on Ethereum L1 and on an OP Stack L2."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

from careledger.cli.common import check_out_path

#: scenario flags: option name -> Scenario field
SCENARIO_FLAGS = {
    "patients": "patients", "records": "records_per_patient_year", "batch_size": "batch_size",
    "grants": "grants_per_patient_year", "revocations": "revocations_per_patient_year",
    "accesses": "accesses_per_patient_year", "requests": "requests_per_patient_year",
    "break_glass": "break_glass_per_patient_year", "datasets": "research_datasets_per_year",
    "records_per_dataset": "records_per_dataset",
}
PRICE_FLAGS = {
    "l1_gas_gwei": "l1_gas_price_gwei", "eth_usd": "eth_usd", "l2_gas_gwei": "l2_gas_price_gwei",
    "l1_base_fee_gwei": "l1_base_fee_gwei", "blob_base_fee_gwei": "l1_blob_base_fee_gwei",
    "base_fee_scalar": "base_fee_scalar", "blob_base_fee_scalar": "blob_base_fee_scalar",
}
PLOT_PATIENTS = [100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000, 1_000_000]
PLOT_BATCHES = [1, 16, 64, 256, 1024, 4096]


@click.command(short_help="Cost per operation and per patient-year, on L1 and on an OP Stack L2.")
@click.option("--scenario", "scenario_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help='JSON {"scenario": {...}, "prices": {...}}; flags override it.')
@click.option("--patients", type=click.IntRange(1), help="Patients in the consortium [10000].")
@click.option("--records", type=click.FloatRange(0), help="Records per patient-year [12].")
@click.option("--batch-size", type=click.IntRange(1, 4096),
              help="Records per Merkle batch; 1 anchors each record alone [64].")
@click.option("--grants", type=click.FloatRange(0), help="Consents granted per patient-year [2].")
@click.option("--revocations", type=click.FloatRange(0), help="Consents revoked per patient-year [0.5].")
@click.option("--direct", is_flag=True, help="Patients send their consents themselves (default: signed and relayed).")
@click.option("--accesses", type=click.FloatRange(0), help="Accesses per patient-year [6].")
@click.option("--requests", type=click.FloatRange(0), help="Access requests per patient-year [1].")
@click.option("--break-glass", type=click.FloatRange(0), help="Break-glass openings per patient-year [0.01].")
@click.option("--datasets", type=click.FloatRange(0), help="Research datasets per year [4].")
@click.option("--records-per-dataset", type=click.IntRange(0), help="Records per dataset [500].")
@click.option("--l1-gas-gwei", type=click.FloatRange(0), help="L1 gas price, gwei [5].")
@click.option("--eth-usd", type=click.FloatRange(0), help="ETH price, USD [3000].")
@click.option("--l2-gas-gwei", type=click.FloatRange(0), help="L2 execution gas price, gwei [0.005].")
@click.option("--l1-base-fee-gwei", type=click.FloatRange(0), help="L1 base fee the L2 sees, gwei [5].")
@click.option("--blob-base-fee-gwei", type=click.FloatRange(0), help="L1 blob base fee, gwei [0.01].")
@click.option("--base-fee-scalar", type=click.IntRange(0), help="L2's l1BaseFeeScalar [5227].")
@click.option("--blob-base-fee-scalar", type=click.IntRange(0), help="L2's l1BlobFeeScalar [1014213].")
@click.option("--gas", "gas_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Reuse gas measured earlier (--save-gas) instead of measuring on a fresh anvil.")
@click.option("--save-gas", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the measured gas and transaction sizes here.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="Write every figure as JSON here.")
@click.option("--plot", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a PNG: USD per patient-year against patients, per batch size.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
def cost(scenario_file: Path | None, direct: bool, gas_file: Path | None, save_gas: Path | None,
         out: Path | None, plot: Path | None, as_json: bool, **flags: Any) -> None:
    """Measure the gas of every operation on a fresh anvil (about 2 s), then price a year of
    the scenario on Ethereum L1 and on an OP Stack L2 (execution gas at the L2 price plus the
    Fjord L1 data fee of the FastLZ-compressed transaction). Prices default to assumptions
    stated in docs/cost-model.md: pass today's values."""
    from careledger.cost import Prices, Scenario, estimate, load_scenario, sweep
    from careledger.cost import measure as measuring

    for path in (save_gas, out, plot):
        check_out_path(path)
    scenario, prices = load_scenario(scenario_file) if scenario_file else (Scenario(), Prices())
    s_over = {SCENARIO_FLAGS[k]: v for k, v in flags.items() if k in SCENARIO_FLAGS and v is not None}
    if direct:
        s_over["relayed_consents"] = False
    p_over = {PRICE_FLAGS[k]: v for k, v in flags.items() if k in PRICE_FLAGS and v is not None}
    scenario = Scenario(**{**asdict(scenario), **s_over})
    prices = Prices(**{**asdict(prices), **p_over})
    measured = measuring.load(gas_file) if gas_file else measuring.measure()
    if save_gas:
        measuring.save(measured, save_gas)
    ops, batches = measured["operations"], measured["batches"]
    est = estimate(ops, batches, scenario, prices)
    result = est.to_json()
    result["measured"] = {"operations": {n: asdict(o) for n, o in ops.items()},
                          "batches": {str(k): asdict(o) for k, o in batches.items()},
                          "source": str(gas_file) if gas_file else "a fresh anvil, this run"}
    result["sweep"] = sweep(ops, batches, scenario, prices, PLOT_PATIENTS, PLOT_BATCHES)
    if out:
        from careledger.store import write_atomic

        write_atomic(out, (json.dumps(result, indent=2) + "\n").encode(), mode=0o644)
    if plot:
        _plot(result["sweep"], plot, scenario)
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    _tables(est)
    for what, path in (("gas", save_gas), ("figures", out), ("plot", plot)):
        if path:
            click.echo(f"{what} written to {path}")


def _usd(x: float) -> str:
    return f"${x:,.4f}" if x < 1 else f"${x:,.2f}"


def _tables(est: Any) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console() if Console().is_terminal else Console(width=160)
    ops = Table("operation", "gas", "signed bytes → FastLZ", "L1", "L2 execution", "L2 L1-data",
                "L2 total", title="Per operation (USD)")
    for name, c in est.operations.items():
        ops.add_row(name, f"{c.gas:,}", f"{c.tx_bytes} → {c.fastlz_bytes}", _usd(est.usd(c.l1_wei)),
                    _usd(est.usd(c.l2_execution_wei)), _usd(est.usd(c.l2_data_wei)),
                    _usd(est.usd(c.l2_wei)))
    console.print(ops)
    year = Table("what", "per patient-year", "L1", "L2", title="Per patient-year (USD)")
    for line in est.lines:
        year.add_row(line.what, f"{line.per_patient_year:g}", _usd(est.usd(line.l1_wei)),
                     _usd(est.usd(line.l2_wei)))
    year.add_row("total", "", _usd(est.usd(est.l1_wei)), _usd(est.usd(est.l2_wei)), style="bold")
    console.print(year)
    p = est.prices
    click.echo(f"{est.scenario.patients:,} patients: {_usd(est.usd(est.l1_wei) * est.scenario.patients)} "
               f"a year on L1, {_usd(est.usd(est.l2_wei) * est.scenario.patients)} on the L2 "
               f"(L1 gas {p.l1_gas_price_gwei:g} gwei, L2 gas {p.l2_gas_price_gwei:g} gwei, L1 base "
               f"fee {p.l1_base_fee_gwei:g} gwei, blob base fee {p.l1_blob_base_fee_gwei:g} gwei, "
               f"ETH ${p.eth_usd:,.0f})")


def _plot(rows: list[dict[str, Any]], path: Path, scenario: Any) -> None:
    from careledger.errors import InvalidInput

    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise InvalidInput("--plot needs matplotlib: pip install 'careledger[bench]'") from None
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharex=True)
    for ax, key, title in ((axes[0], "l1_usd", "Ethereum L1"), (axes[1], "l2_usd", "OP Stack L2")):
        for b in PLOT_BATCHES:
            pts = [(r["patients"], r[key]) for r in rows if r["batch_size"] == b]
            ax.plot([x for x, _ in pts], [y for _, y in pts], marker="o", markersize=3,
                    label="one anchor per record" if b == 1 else f"batches of {b}")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("patients in the consortium")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("USD per patient-year")
    axes[1].legend(fontsize=8)
    fig.suptitle(f"CareLedger cost per patient-year ({scenario.records_per_patient_year:g} records, "
                 f"{scenario.accesses_per_patient_year:g} accesses, "
                 f"{scenario.grants_per_patient_year:g} consents per patient-year)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

