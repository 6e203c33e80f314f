"""The cost model: gas measured on a fresh anvil, times prices, per operation and per
patient-year, on Ethereum L1 and on an OP Stack L2 (``docs/cost-model.md``)."""

from careledger.cost.fastlz import compress, decompress
from careledger.cost.model import (
    Estimate,
    Operation,
    Prices,
    Scenario,
    estimate,
    fjord_l1_fee_wei,
    load_scenario,
    sweep,
)

__all__ = ["Estimate", "Operation", "Prices", "Scenario", "compress", "decompress", "estimate",
           "fjord_l1_fee_wei", "load_scenario", "sweep"]
