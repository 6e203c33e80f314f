"""``careledger audit``: a patient's accounting of disclosures, from chain events."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from careledger.cli.common import (
    Ctx,
    json_option,
    parse_address,
    pass_ctx,
    show,
)


@click.group(short_help="Access history: show, verify, export.")
def audit() -> None:
    """A patient's accounting of disclosures, from chain events."""


def print_history(ctx: Ctx, patient_addr: str, as_json: bool = False) -> None:
    """The history as a table (names for addresses) and its verification, or as JSON."""
    from careledger.audit import AuditLog

    log = AuditLog(ctx.ledger())
    entries = log.history(patient_addr)
    verified = log.verify(patient_addr, entries)
    if as_json:
        click.echo(json.dumps({"entries": [asdict(e) for e in entries],
                               "verification": asdict(verified)}, indent=2))
        return
    rows = [{"#": e.seq, "date (UTC)": e.date[:16].replace("T", " "),
             "who": ctx.name_of(e.accessor), "what": e.kind,
             "record": e.record_id[:14] + "…" if e.record_id else "", "category": e.category,
             "purpose": e.purpose, "break-glass": "yes" if e.via_break_glass else ""}
            for e in entries]
    show(rows, False, ["#", "date (UTC)", "who", "what", "record", "category", "purpose",
                       "break-glass"], empty="nobody has accessed these records")
    click.echo(str(verified))


@audit.command("show", short_help="Show a patient's access history.")
@click.argument("patient_addr", metavar="PATIENT")
@json_option
@pass_ctx
def audit_show(ctx: Ctx, patient_addr: str, as_json: bool) -> None:
    """Show PATIENT's access history (an address or a name)."""
    print_history(ctx, parse_address(patient_addr), as_json)


@audit.command("verify", short_help="Verify the hash chain against the chain.")
@click.argument("patient_addr", metavar="PATIENT")
@json_option
@pass_ctx
def audit_verify(ctx: Ctx, patient_addr: str, as_json: bool) -> None:
    """Recompute PATIENT's hash chain from logs; exit 1 on mismatch."""
    from careledger.audit import AuditLog

    v = AuditLog(ctx.ledger()).verify(parse_address(patient_addr))
    click.echo(json.dumps(asdict(v), indent=2) if as_json else str(v))
    if not v.ok:
        sys.exit(1)


@audit.command("export", short_help="Export history as JSON or CSV.")
@click.argument("patient_addr", metavar="PATIENT")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json",
              show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_ctx
def audit_export(ctx: Ctx, patient_addr: str, fmt: str, out: Path | None) -> None:
    """Export PATIENT's accounting of disclosures (HIPAA-style: date, recipient, record,
    purpose), to OUT (mode 0600) or stdout."""
    from careledger.audit import AuditLog
    from careledger.cli.common import check_out_path
    from careledger.store import write_atomic

    check_out_path(out)
    log = AuditLog(ctx.ledger())
    pat = parse_address(patient_addr)
    text = log.export_json(pat) if fmt == "json" else log.export_csv(pat)
    if out:
        write_atomic(out, text.encode(), mode=0o600)
        click.echo(f"written to {out}")
    else:
        click.echo(text)
