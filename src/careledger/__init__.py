"""CareLedger: patient-centred medical data sharing on Ethereum."""

from __future__ import annotations

__version__ = "0.1.0"
