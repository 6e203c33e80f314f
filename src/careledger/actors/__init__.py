"""The sharing flows, as classes named after the actors: ``Provider`` publishes, ``Patient``
controls consent and keys, ``Institution`` / ``Researcher`` read what the chain lets them."""

from careledger.actors.base import (
    Actor,
    check_record_id,
    latest_version,
    new_record_id,
    verify_commitment,
)
from careledger.actors.institution import Institution, Researcher
from careledger.actors.patient import Patient
from careledger.actors.provider import Provider, PublishedRecord, ReconcileReport

__all__ = [
    "Actor",
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
