"""What CareLedger costs per patient-year on Ethereum L1 and on an OP Stack L2.

``cost of an operation = its gas x gas price`` on L1. On an OP Stack chain (Fjord and later)
a transaction pays its execution gas at the L2 gas price plus an L1 data fee for the bytes the
sequencer posts to L1 (OP Stack specs, "Fjord L1-Cost fee changes (FastLZ estimator)")::

    l1FeeScaled         = l1BaseFeeScalar*l1BaseFee*16 + l1BlobFeeScalar*l1BlobBaseFee
    estimatedSizeScaled = max(minTransactionSize*1e6, intercept + fastlzCoef*fastlzSize)
    l1Fee               = estimatedSizeScaled * l1FeeScaled / 1e12

with ``fastlzSize`` the FastLZ-compressed length of the signed RLP transaction,
``intercept = -42_585_600``, ``fastlzCoef = 836_500``, ``minTransactionSize = 100``.

The gas and the signed transaction of each operation are measured on a fresh anvil
(``careledger.cost.measure``); the prices and the scenario are inputs with documented defaults
(``docs/cost-model.md``). All amounts are computed in wei with integers, then converted.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from careledger.errors import InvalidInput

GWEI = 10**9
ETHER = 10**18
FJORD_INTERCEPT = -42_585_600
FJORD_FASTLZ_COEF = 836_500
FJORD_MIN_TX_SIZE = 100


@dataclass(frozen=True)
class Operation:
    """One measured operation: gas used and the FastLZ size of its signed transaction."""

    name: str
    gas: int
    tx_bytes: int
    fastlz_bytes: int
    note: str = ""


@dataclass(frozen=True)
class Prices:
    """Gas prices and the ETH price (the defaults are assumptions: set today's values)."""

    l1_gas_price_gwei: float = 5.0
    eth_usd: float = 3000.0
    l2_gas_price_gwei: float = 0.005
    l1_base_fee_gwei: float = 5.0
    l1_blob_base_fee_gwei: float = 0.01
    base_fee_scalar: int = 5227
    blob_base_fee_scalar: int = 1014213


@dataclass(frozen=True)
class Scenario:
    """A consortium's year: how many patients, and what each does per year on average."""

    patients: int = 10_000
    records_per_patient_year: float = 12
    batch_size: int = 64
    grants_per_patient_year: float = 2
    revocations_per_patient_year: float = 0.5
    relayed_consents: bool = True
    accesses_per_patient_year: float = 6
    requests_per_patient_year: float = 1
    break_glass_per_patient_year: float = 0.01
    research_datasets_per_year: float = 4
    records_per_dataset: int = 500
    include_key_registration: bool = True

    def __post_init__(self) -> None:
        if self.patients < 1:
            raise InvalidInput("patients must be at least 1")
        if self.batch_size < 1 or self.batch_size > 4096:
            raise InvalidInput("batch size must be 1 (one anchor per record) to 4096")
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
                raise InvalidInput(f"{f.name} must not be negative")


def load_scenario(path: Path) -> tuple[Scenario, Prices]:
    """A JSON file ``{"scenario": {...}, "prices": {...}}`` (any field may be left out).

    Raises:
        InvalidInput: not JSON, or an unknown or ill-typed field.
    """
    try:
        data = json.loads(path.read_text())
        return Scenario(**data.get("scenario", {})), Prices(**data.get("prices", {}))
    except OSError as exc:
        raise InvalidInput(f"cannot read scenario file {path}: {exc.strerror}") from None
    except (ValueError, TypeError, AttributeError) as exc:
        known = ", ".join(f.name for f in fields(Scenario)) + "; prices: " + ", ".join(
            f.name for f in fields(Prices))
        raise InvalidInput(f"scenario file {path}: {exc} (fields: {known})") from None


def fjord_l1_fee_wei(fastlz_bytes: int, prices: Prices) -> int:
    """The OP Stack L1 data fee of a transaction whose signed form compresses to
    ``fastlz_bytes`` (integer arithmetic, as the GasPriceOracle computes it)."""
    base_fee = round(prices.l1_base_fee_gwei * GWEI)
    blob_fee = round(prices.l1_blob_base_fee_gwei * GWEI)
    fee_scaled = prices.base_fee_scalar * base_fee * 16 + prices.blob_base_fee_scalar * blob_fee
    size_scaled = max(FJORD_MIN_TX_SIZE * 10**6, FJORD_INTERCEPT + FJORD_FASTLZ_COEF * fastlz_bytes)
    return size_scaled * fee_scaled // 10**12


@dataclass(frozen=True)
class OperationCost:
    name: str
    gas: int
    tx_bytes: int
    fastlz_bytes: int
    l1_wei: int
    l2_execution_wei: int
    l2_data_wei: int

    @property
    def l2_wei(self) -> int:
        return self.l2_execution_wei + self.l2_data_wei


def operation_cost(op: Operation, prices: Prices) -> OperationCost:
    l1 = op.gas * round(prices.l1_gas_price_gwei * GWEI)
    l2_exec = op.gas * round(prices.l2_gas_price_gwei * GWEI)
    return OperationCost(op.name, op.gas, op.tx_bytes, op.fastlz_bytes, l1, l2_exec,
                         fjord_l1_fee_wei(op.fastlz_bytes, prices))


@dataclass(frozen=True)
class Line:
    """One line of a patient-year: an operation, how many per patient-year, and their cost."""

    what: str
    operation: str
    per_patient_year: float
    l1_wei: float
    l2_wei: float


@dataclass
class Estimate:
    scenario: Scenario
    prices: Prices
    operations: dict[str, OperationCost]
    lines: list[Line] = field(default_factory=list)

    @property
    def l1_wei(self) -> float:
        return sum(line.l1_wei for line in self.lines)

    @property
    def l2_wei(self) -> float:
        return sum(line.l2_wei for line in self.lines)

    def usd(self, wei: float) -> float:
        return wei / ETHER * self.prices.eth_usd

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": asdict(self.scenario), "prices": asdict(self.prices),
            "operations": {n: {**asdict(c), "l2_wei": c.l2_wei, "l1_usd": self.usd(c.l1_wei),
                               "l2_usd": self.usd(c.l2_wei)} for n, c in self.operations.items()},
            "per_patient_year": [{**asdict(line), "l1_usd": self.usd(line.l1_wei),
                                  "l2_usd": self.usd(line.l2_wei)} for line in self.lines],
            "total_per_patient_year": {"l1_wei": self.l1_wei, "l2_wei": self.l2_wei,
                                       "l1_usd": self.usd(self.l1_wei),
                                       "l2_usd": self.usd(self.l2_wei)},
            "total_per_year": {"l1_usd": self.usd(self.l1_wei) * self.scenario.patients,
                               "l2_usd": self.usd(self.l2_wei) * self.scenario.patients},
        }


def batch_operation(batches: dict[int, Operation], size: int) -> Operation:
    """The measured ``anchorBatch`` of the nearest measured size at or above ``size`` (its gas
    barely depends on the size: one root per batch)."""
    fitting = sorted(s for s in batches if s >= size) or [max(batches)]
    return batches[fitting[0]]


def estimate(ops: dict[str, Operation], batches: dict[int, Operation], scenario: Scenario,
             prices: Prices) -> Estimate:
    """The cost of one patient-year under ``scenario`` at ``prices``.

    ``ops`` holds the measured single operations (see ``measure.OPERATIONS``), ``batches``
    the ``anchorBatch`` measured per batch size.
    """
    costs = {n: operation_cost(op, prices) for n, op in ops.items()}
    s = scenario
    est = Estimate(scenario, prices, costs)

    def add(what: str, name: str, count: float, cost: OperationCost | None = None) -> None:
        c = cost or costs[name]
        est.lines.append(Line(what, name, count, c.l1_wei * count, c.l2_wei * count))

    if s.batch_size == 1:
        add("records anchored one by one", "anchor", s.records_per_patient_year)
    else:
        batch = operation_cost(batch_operation(batches, s.batch_size), prices)
        costs[f"anchor_batch_{s.batch_size}"] = batch
        add(f"records anchored in batches of {s.batch_size}", f"anchor_batch_{s.batch_size}",
            s.records_per_patient_year / s.batch_size, batch)
    grant = "grant_by_sig" if s.relayed_consents else "grant"
    revoke = "revoke_by_sig" if s.relayed_consents else "revoke"
    add("consents granted" + (" (signed, relayed)" if s.relayed_consents else ""), grant,
        s.grants_per_patient_year)
    add("consents revoked" + (" (signed, relayed)" if s.relayed_consents else ""), revoke,
        s.revocations_per_patient_year)
    add("accesses logged", "record_access", s.accesses_per_patient_year)
    add("access requests made", "request_access", s.requests_per_patient_year)
    add("access requests answered", "approve_request", s.requests_per_patient_year)
    add("break-glass windows opened", "break_glass", s.break_glass_per_patient_year)
    per_patient = s.research_datasets_per_year / s.patients
    add("research datasets: one access entry per record", "record_access",
        per_patient * s.records_per_dataset)
    add("research datasets: the dataset's hash anchored", "anchor", per_patient)
    if s.include_key_registration:
        add("encryption key registered (first year only)", "register_patient_key", 1)
    return est


def sweep(ops: dict[str, Operation], batches: dict[int, Operation], scenario: Scenario,
          prices: Prices, patients: list[int], batch_sizes: list[int]) -> list[dict[str, Any]]:
    """USD per patient-year over a grid of consortium sizes and batch sizes."""
    rows = []
    for b in batch_sizes:
        for n in patients:
            e = estimate(ops, batches, replace(scenario, patients=n, batch_size=b), prices)
            rows.append({"patients": n, "batch_size": b, "l1_usd": e.usd(e.l1_wei),
                         "l2_usd": e.usd(e.l2_wei)})
    return rows
