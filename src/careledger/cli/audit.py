"""``careledger audit``: a patient's accounting of disclosures, from chain events."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from careledger.cli.common import (
    Ctx,
    parse_address,
    pass_ctx,
)


@click.group(short_help="Access history: show, verify, export.")
def audit() -> None:
    """A patient's accounting of disclosures, from chain events."""


def print_history(ctx: Ctx, patient_addr: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from careledger.audit import AuditLog

    log = AuditLog(ctx.ledger())
    t = Table("#", "date (UTC)", "recipient", "record", "category", "purpose", "break-glass")
    for e in log.history(patient_addr):
        t.add_row(str(e.seq), e.date[:19], e.accessor, e.record_id[:14] + "…", e.category,
                  e.purpose, "yes" if e.via_break_glass else "")
    Console().print(t)
    click.echo(str(log.verify(patient_addr)))


@audit.command("show", short_help="Show a patient's access history.")
@click.argument("patient_addr")
@pass_ctx
def audit_show(ctx: Ctx, patient_addr: str) -> None:
    """Show PATIENT's access history."""
    print_history(ctx, parse_address(patient_addr))


@audit.command("verify", short_help="Verify the hash chain against the chain.")
@click.argument("patient_addr")
@pass_ctx
def audit_verify(ctx: Ctx, patient_addr: str) -> None:
    """Recompute PATIENT's hash chain from logs; exit 1 on mismatch."""
    from careledger.audit import AuditLog

    v = AuditLog(ctx.ledger()).verify(parse_address(patient_addr))
    click.echo(str(v))
    if not v.ok:
        sys.exit(1)


@audit.command("export", short_help="Export history as JSON or CSV.")
@click.argument("patient_addr")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_ctx
def audit_export(ctx: Ctx, patient_addr: str, fmt: str, out: Path | None) -> None:
    """Export PATIENT's accounting of disclosures."""
    from careledger.audit import AuditLog

    log = AuditLog(ctx.ledger())
    text = log.export_json(parse_address(patient_addr)) if fmt == "json" else log.export_csv(
        parse_address(patient_addr))
    if out:
        out.write_text(text)
        click.echo(f"written to {out}")
    else:
        click.echo(text)
