"""Research datasets under consent: de-identification of FHIR R4 resources (HIPAA Safe Harbor,
per-study pseudonyms, k-anonymity report).

Importing this package loads nothing heavy: ``careledger.research.deid`` imports the
``fhir.resources`` models only when a resource is first de-identified.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from careledger._lazy import lazy_exports

if TYPE_CHECKING:
    from careledger.research.deid import (
        DEFAULT_QUASI_IDENTIFIERS,
        RESTRICTED_ZIP3,
        KReport,
        Pseudonymizer,
        Rules,
        deidentify,
        deidentify_bundle,
        k_anonymity,
        quasi_identifiers,
    )

_SOURCES: dict[str, tuple[str, ...]] = {
    "careledger.research.deid": (
        "DEFAULT_QUASI_IDENTIFIERS",
        "RESTRICTED_ZIP3",
        "KReport",
        "Pseudonymizer",
        "Rules",
        "deidentify",
        "deidentify_bundle",
        "k_anonymity",
        "quasi_identifiers",
    ),
}
__getattr__, __dir__ = lazy_exports(__name__, _SOURCES)

__all__ = [
    "DEFAULT_QUASI_IDENTIFIERS",
    "RESTRICTED_ZIP3",
    "KReport",
    "Pseudonymizer",
    "Rules",
    "deidentify",
    "deidentify_bundle",
    "k_anonymity",
    "quasi_identifiers",
]
