"""``careledger fhir``: a patient's consents and accounting of disclosures as FHIR R4B."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

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
@click.option("--from-nodes", is_flag=True,
              help="Read the records' DocumentReference and Provenance from every provider's "
                   "node (FHIR searches signed with your wallet: the patient, a guardian or an "
                   "institution) instead of a workspace.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the Bundle here (mode 0600) instead of stdout.")
@pass_ctx
def fhir_export(ctx: Ctx, patient_addr: str, what: str, from_nodes: bool,
                out: Path | None) -> None:
    """PATIENT's consents (active or inactive, per grantee and scope, one nested provision per
    purpose with its expiry) and every entry of the on-chain access history (agent, record,
    purpose, break-glass as BTG, and the hash-chain head and transaction in an extension); for
    an issuer, the patient's records in its workspace as DocumentReference (LOINC type, v2-0074
    category, CID and commitment as identifiers) and Provenance (publication or amendment); with
    --from-nodes, those of every provider's node that lets your wallet read them."""
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
    if from_nodes and what in ("all", "records"):
        resources += _from_nodes(ctx, ledger, patient)
    elif what == "records" or (what == "all" and ctx.workspace.is_dir()):
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


def _from_nodes(ctx: Ctx, ledger: Any, patient: str) -> list[dict[str, Any]]:
    """The patient's DocumentReference and Provenance resources at every provider's node; a
    node that does not answer or refuses is named on stderr, the others still count."""
    from careledger.actors.remote import fhir_search, provider_nodes
    from careledger.errors import CareLedgerError
    from careledger.node import NodeClient

    reader = ctx.sender()
    found: list[dict[str, Any]] = []
    for institution, url in provider_nodes(ledger):
        client = NodeClient(url)
        try:
            answer = []
            for kind in ("DocumentReference", "Provenance"):
                answer += [e["resource"] for e in  # signed for the institution, not its claim
                           fhir_search(ledger, reader, client, patient, kind,
                                       node=institution).get("entry", [])]
        except CareLedgerError as exc:  # a refusal, or a node answering for another one
            click.echo(f"warning: the node of {ctx.name_of(institution)} ({url}) gave nothing: "
                       f"{exc}", err=True)
            continue
        finally:
            client.close()
        kept = [r for r in answer if _issued_by(ledger, r, institution)]
        if len(kept) != len(answer):
            click.echo(f"warning: the node of {ctx.name_of(institution)} ({url}) answered with "
                       f"{len(answer) - len(kept)} resource(s) of records it did not issue or "
                       "that are not anchored: left out", err=True)
        found += kept
    return found


def _issued_by(ledger: Any, resource: dict[str, Any], institution: str) -> bool:
    """A node's DocumentReference or Provenance names a record ``institution`` issued (the
    record id's first 20 bytes) that the chain holds as anchored."""
    from careledger.contracts import issuer_of_id
    from careledger.fhir.export import RECORD_SYSTEM

    if resource.get("resourceType") == "DocumentReference":
        ids = [i.get("value", "") for i in resource.get("identifier") or []
               if isinstance(i, dict) and i.get("system") == RECORD_SYSTEM]
    else:
        ids = ["0x" + str(t.get("reference", "")).removeprefix("DocumentReference/")
               for t in resource.get("target") or [] if isinstance(t, dict)]
    try:
        rids = [bytes.fromhex(str(v)[2:]) for v in ids]
    except ValueError:
        return False
    return bool(rids) and all(
        len(rid) == 32 and issuer_of_id(rid) == institution and ledger.records.is_anchored(rid)
        for rid in rids)


@fhir.command("import", short_help="Import FHIR R4 bundles / NDJSON as encrypted records.")
@click.argument("paths", nargs=-1, required=True,
                type=click.Path(exists=True, path_type=Path))
@click.option("--patient-map", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help='JSON {"<FHIR Patient id>": "0x<patient wallet>"}.')
@click.option("--batch-size", type=click.IntRange(1, 4096), default=256, show_default=True,
              help="Records per Merkle batch (one anchorBatch transaction each).")
@click.option("--group", type=click.Choice(["resource", "encounter"]), default="resource",
              show_default=True, help="One record per resource, or per encounter (the Encounter "
              "and the resources that refer to it, as one Bundle).")
@click.option("--dry-run", is_flag=True, help="Validate and count; write nothing.")
@click.option("--strict", is_flag=True, help="Stop at the first bad resource.")
@click.option("--max-resource-size", default="1M", show_default=True,
              help="Refuse a resource larger than this.")
@click.option("--report", "report_file", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the full report (every skipped entry) as JSON here.")
@pass_ctx
def fhir_import(ctx: Ctx, paths: tuple[Path, ...], patient_map: Path, batch_size: int,
                group: str, dry_run: bool, strict: bool, max_resource_size: str,
                report_file: Path | None) -> None:
    """Import PATHS (FHIR R4 transaction or collection bundles, NDJSON from a bulk export, or
    folders of them): each resource validated, mapped to its patient's wallet, encrypted as one
    record and anchored in Merkle batches per category. Rerun after an interruption: nothing
    is anchored twice (the journal in the workspace says where it stopped)."""
    from dataclasses import asdict

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TimeElapsedColumn

    from careledger.cli.common import parse_size
    from careledger.cli.record import provider_actor
    from careledger.fhir.importer import import_fhir, load_patient_map
    from careledger.store import write_atomic

    check_out_path(report_file)
    limit = parse_size(max_resource_size, "--max-resource-size")
    mapping = load_patient_map(patient_map)
    provider = None if dry_run else provider_actor(ctx)
    console = Console(stderr=True)
    with Progress(SpinnerColumn(), "[progress.description]{task.description}",
                  "{task.completed:,} resources", "{task.fields[rate]}", TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task("importing" if not dry_run else "validating", total=None, rate="")

        def step(n: int) -> None:
            bar.advance(task, n)
            t = bar.tasks[0]
            if t.elapsed:
                bar.update(task, rate=f"{t.completed / t.elapsed:,.0f}/s")

        report = import_fhir(provider, list(paths), mapping, batch_size=batch_size,
                             dry_run=dry_run, strict=strict, max_resource=limit, progress=step,
                             group=group)
    for line in report.problems[:20]:
        click.echo(f"skipped: {line}", err=True)
    if len(report.problems) > 20:
        click.echo(f"... and {len(report.problems) - 20} more (--report FILE lists all)", err=True)
    if report_file:
        write_atomic(report_file, json.dumps(asdict(report), indent=2).encode(), mode=0o600)
    verb = "would publish" if dry_run else "published"
    click.echo(f"{report.files} files, {report.resources:,} resources: {verb} "
               f"{sum(report.by_category.values()) if dry_run else report.published:,} "
               f"({', '.join(f'{k} {v:,}' for k, v in sorted(report.by_category.items()))}) in "
               f"{report.batches} batches; {report.already_done:,} already imported; "
               f"{report.not_patient_data:,} not patient data; {report.skipped:,} skipped")
