"""FHIR views of what the chain knows: a patient's consents (``Consent``) and accounting of
disclosures (``AuditEvent``), its records (``DocumentReference``, ``Provenance``), as FHIR R4B resources validated with ``fhir.resources``."""

from careledger.fhir.export import (
    ACCOUNT_SYSTEM,
    RECORD_SYSTEM,
    audit_events,
    bundle,
    consents,
    document_references,
    provenances,
    validate_resource,
)

__all__ = ["ACCOUNT_SYSTEM", "RECORD_SYSTEM", "audit_events", "bundle", "consents",
           "document_references", "provenances", "validate_resource"]
