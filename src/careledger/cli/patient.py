"""``careledger patient``: what a patient (or their guardian) does."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from careledger.cli.audit import print_history
from careledger.cli.common import (
    Ctx,
    chain_now,
    echo_tx,
    emit_plaintext,
    parse_address,
    parse_expiry,
    parse_scope,
    pass_ctx,
)


@click.group(short_help="Patient actions: keys, grants, guardians, requests, history, erase.")
@click.option("--for", "acting_for", default=None, help="Act as guardian for this patient.")
@click.pass_context
def patient(click_ctx: click.Context, acting_for: str | None) -> None:
    """What a patient (or their guardian) does."""
    click_ctx.meta["acting_for"] = parse_address(acting_for) if acting_for else None


def patient_actor(ctx: Ctx, need_keypair: bool = False) -> Any:
    from careledger.actors import Patient
    from careledger.crypto import EncryptionKeyPair

    acting_for = click.get_current_context().meta.get("acting_for")
    kp = ctx.keypair() if need_keypair else EncryptionKeyPair.generate()
    return Patient(ctx.ledger(), ctx.sender(), ctx.workspace_(), kp, acting_for=acting_for)


@patient.command("register-key", short_help="Register your encryption public key on chain.")
@pass_ctx
def patient_register_key(ctx: Ctx) -> None:
    """Register the public half of --enc-key for yourself (or the patient you guard)."""
    echo_tx(patient_actor(ctx, need_keypair=True).register_key(), "key registered")


@patient.command("grant", short_help="Grant an institution access.")
@click.argument("grantee")
@click.option("--scope", default="ALL", show_default=True, help="ALL, a category or a record id.")
@click.option("--purpose", "purposes", multiple=True, default=["TREAT"], show_default=True)
@click.option("--expires", default="30d", show_default=True, help="Duration (30d, 12h) or @UNIXTIME.")
@pass_ctx
def patient_grant(ctx: Ctx, grantee: str, scope: str, purposes: tuple[str, ...], expires: str) -> None:
    """Grant GRANTEE access to SCOPE for PURPOSEs until EXPIRES."""
    p = patient_actor(ctx)
    echo_tx(p.grant(parse_address(grantee), parse_scope(scope), purposes, parse_expiry(expires, chain_now(ctx))),
             "granted")


@patient.command("revoke", short_help="Revoke a grant.")
@click.argument("grantee")
@click.option("--scope", default="ALL", show_default=True)
@pass_ctx
def patient_revoke(ctx: Ctx, grantee: str, scope: str) -> None:
    """Revoke GRANTEE's grant on SCOPE and delete its wrapped keys."""
    echo_tx(patient_actor(ctx).revoke(parse_address(grantee), parse_scope(scope)), "revoked")


@patient.command("guardian", short_help="Appoint or remove a guardian.")
@click.argument("action", type=click.Choice(["set", "remove"]))
@click.argument("guardian")
@click.option("--expires", default="365d", show_default=True)
@pass_ctx
def patient_guardian(ctx: Ctx, action: str, guardian: str, expires: str) -> None:
    """Appoint (set) or remove GUARDIAN."""
    p = patient_actor(ctx)
    g = parse_address(guardian)
    if action == "set":
        echo_tx(p.set_guardian(g, parse_expiry(expires, chain_now(ctx))), "guardian set")
    else:
        echo_tx(p.remove_guardian(g), "guardian removed")


@patient.command("requests", short_help="List pending access requests.")
@pass_ctx
def patient_requests(ctx: Ctx) -> None:
    """Access requests awaiting your answer."""
    reqs = patient_actor(ctx).pending_requests()
    if not reqs:
        click.echo("no pending requests")
    for r in reqs:
        click.echo(f"#{r.request_id}  from {r.requester}  scope 0x{r.scope.hex()[:16]}…  "
                   f"purpose {r.purpose.name}")


@patient.command("approve", short_help="Approve an access request.")
@click.argument("request_id", type=int)
@click.option("--expires", default="30d", show_default=True)
@pass_ctx
def patient_approve(ctx: Ctx, request_id: int, expires: str) -> None:
    """Approve REQUEST_ID (creates the grant until EXPIRES)."""
    echo_tx(patient_actor(ctx).approve_request(request_id, parse_expiry(expires, chain_now(ctx))), "approved")


@patient.command("reject", short_help="Reject an access request.")
@click.argument("request_id", type=int)
@pass_ctx
def patient_reject(ctx: Ctx, request_id: int) -> None:
    """Reject REQUEST_ID."""
    echo_tx(patient_actor(ctx).reject_request(request_id), "rejected")


@patient.command("history", short_help="Who accessed your records.")
@pass_ctx
def patient_history(ctx: Ctx) -> None:
    """Your access history, verified against the on-chain hash chain."""
    p = patient_actor(ctx)
    print_history(ctx, p.patient)


@patient.command("erase", short_help="Crypto-shred a record.")
@click.argument("record_id")
@pass_ctx
def patient_erase(ctx: Ctx, record_id: str) -> None:
    """Destroy every wrapped copy of RECORD_ID's data key; the anchor stays."""
    n = patient_actor(ctx).erase(record_id)
    click.echo(f"erased: {n} wrapped keys destroyed; nobody can decrypt {record_id} any more")


@patient.command("close-glass", short_help="Close an institution's break-glass window.")
@click.argument("institution_addr")
@pass_ctx
def patient_close_glass(ctx: Ctx, institution_addr: str) -> None:
    """Close INSTITUTION's open break-glass (emergency) window on you at once."""
    echo_tx(patient_actor(ctx).close_break_glass(parse_address(institution_addr)),
            "break-glass closed")


@patient.command("read", short_help="Read one of your records (through its issuer's node).")
@click.argument("record_id")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the plaintext here (mode 0600) instead of stdout.")
@pass_ctx
def patient_read(ctx: Ctx, record_id: str, out: Path | None) -> None:
    """Read RECORD_ID with a signed request to its issuer's node (not a disclosure)."""
    emit_plaintext(patient_actor(ctx, need_keypair=True).read(record_id), out)
