"""``careledger fhir``: a patient's consents and accounting of disclosures as FHIR R4B."""

from __future__ import annotations

import json
from pathlib import Path

import click

from careledger.cli.common import Ctx, check_out_path, parse_address, pass_ctx


@click.group(short_help="FHIR R4B: export a patient's consents and access history.")
def fhir() -> None:
    """FHIR R4B views of what the chain records: ``Consent`` and ``AuditEvent`` resources,
    each validated with fhir.resources, in a ``collection`` Bundle."""


@fhir.command("export", short_help="Consents and access history as a FHIR Bundle.")
@click.argument("patient_addr", metavar="PATIENT")
@click.option("--what", type=click.Choice(["all", "consent", "audit", "records"]), default="all",
              show_default=True,
              help="Consent, AuditEvent, or the records of your workspace's index "
                   "(DocumentReference + Provenance; all: when the workspace exists).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the Bundle here (mode 0600) instead of stdout.")
@pass_ctx
def fhir_export(ctx: Ctx, patient_addr: str, what: str, out: Path | None) -> None:
    """PATIENT's consents (active or inactive, per grantee and scope, one nested provision per
    purpose with its expiry) and every entry of the on-chain access history (agent, record,
    purpose, break-glass as BTG, and the hash-chain head and transaction in an extension); for
    an issuer, the patient's records in its workspace as DocumentReference (LOINC type, v2-0074
    category, CID and commitment as identifiers) and Provenance (publication or amendment)."""
    from careledger.fhir import (
        audit_events,
        bundle,
        consents,
        document_references,
        provenances,
    )
    from careledger.store import write_atomic

    check_out_path(out)
    patient = parse_address(patient_addr)
    ledger = ctx.ledger()
    resources = []
    if what in ("all", "consent"):
        resources += consents(ledger, patient)
    if what in ("all", "audit"):
        resources += audit_events(ledger, patient)
    if what == "records" or (what == "all" and ctx.workspace.is_dir()):
        pointers = [p for p in ctx.workspace_(create=False).index.for_patient(patient)
                    if p.status == "anchored"]
        resources += document_references(ledger, pointers) + provenances(ledger, pointers)
    text = json.dumps(bundle(resources), indent=2)
    if out is None:
        click.echo(text)
        return
    write_atomic(out, (text + "\n").encode(), mode=0o600)
    kinds = {k: sum(r["resourceType"] == k for r in resources)
             for k in ("Consent", "AuditEvent", "DocumentReference", "Provenance")}
    click.echo(", ".join(f"{n} {k}" for k, n in kinds.items()) +
               f" (FHIR R4B, validated) written to {out}")
