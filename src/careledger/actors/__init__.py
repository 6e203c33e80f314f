"""The sharing flows, as classes named after the actors: ``Provider`` publishes, ``Patient``
controls consent and keys, ``Institution`` / ``Researcher`` read what the chain lets them."""

from careledger.actors.base import (
    Actor,
    check_record_id,
    latest_version,
    verify_commitment,
)
from careledger.actors.institution import BreakGlassOpening, Institution, Researcher
from careledger.actors.patient import Patient
from careledger.actors.provider import Provider, PublishedRecord, ReconcileReport
from careledger.contracts import new_record_id

__all__ = [
    "Actor",
    "BreakGlassOpening",
    "Institution",
    "Patient",
    "Provider",
    "PublishedRecord",
    "ReconcileReport",
    "Researcher",
    "check_record_id",
    "latest_version",
    "new_record_id",
    "verify_commitment",
]
