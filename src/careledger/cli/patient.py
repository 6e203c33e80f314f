"""``careledger patient``: what a patient (or their guardian) does."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from careledger.cli.audit import print_history
from careledger.cli.common import (
    EXPIRY_HELP,
    PURPOSES_HELP,
    SCOPE_HELP,
    Ctx,
    chain_now,
    check_out_path,
    echo_tx,
    emit_plaintext,
    json_option,
    parse_address,
    parse_expiry,
    parse_scope,
    pass_ctx,
    show,
)


def date(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def scope_name(scope: bytes) -> str:
    """``ALL``, a category's name, or a record id."""
    from careledger.codes import CATEGORY_BY_CODE, SCOPE_ALL

    if scope == SCOPE_ALL:
        return "ALL"
    known = CATEGORY_BY_CODE.get(scope)
    return known.name if known else "record 0x" + scope.hex()


@click.group(short_help="Grants, requests, records, history, guardians, erase.")
@click.option("--for", "acting_for", default=None,
              help="Act as guardian for this patient (an address or a name).")
@click.pass_context
def patient(click_ctx: click.Context, acting_for: str | None) -> None:
    """What a patient (or their guardian) does. A patient needs no funds if a node relays for
    them (`careledger consent sign` / `submit --relay`); these commands pay their own gas."""
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
    """Register the public half of --enc-key for yourself (not as a guardian)."""
    echo_tx(ctx, patient_actor(ctx, need_keypair=True).register_key(), "encryption key registered")


@patient.command("grant", short_help="Grant an institution access.")
@click.argument("grantee")
@click.option("--scope", default="ALL", show_default=True, help=SCOPE_HELP)
@click.option("--purpose", "purposes", multiple=True, default=["TREAT"], show_default=True,
              help=f"Repeat for several: {PURPOSES_HELP}.")
@click.option("--expires", default="30d", show_default=True, help=EXPIRY_HELP)
@pass_ctx
def patient_grant(ctx: Ctx, grantee: str, scope: str, purposes: tuple[str, ...], expires: str) -> None:
    """Grant GRANTEE (an address or a name) access to SCOPE for PURPOSEs until EXPIRES."""
    from careledger.codes import Purpose

    who = parse_address(grantee)
    parsed = [Purpose.parse(p) for p in purposes]
    at = parse_expiry(expires, chain_now(ctx))
    p = patient_actor(ctx)
    echo_tx(ctx, p.grant(who, parse_scope(scope), parsed, at),
            f"{ctx.name_of(who)} may use {scope} for {', '.join(x.name for x in parsed)} "
            f"until {date(at)}; granted")


@patient.command("revoke", short_help="Revoke a grant.")
@click.argument("grantee")
@click.option("--scope", default="ALL", show_default=True, help=SCOPE_HELP)
@pass_ctx
def patient_revoke(ctx: Ctx, grantee: str, scope: str) -> None:
    """Revoke GRANTEE's grant on SCOPE (every purpose). Keys already released cannot be taken
    back; no new access is allowed from the next block."""
    who = parse_address(grantee)
    echo_tx(ctx, patient_actor(ctx).revoke(who, parse_scope(scope)),
            f"{ctx.name_of(who)}'s access to {scope} revoked")


@patient.command("grants", short_help="List the grants that authorise something now.")
@json_option
@pass_ctx
def patient_grants(ctx: Ctx, as_json: bool) -> None:
    """Your live grants: who, on what, for which purposes, until when."""
    p = patient_actor(ctx)
    ledger = ctx.ledger()
    live = ledger.consent.live_grants(p.patient, from_block=ledger.deployment.block,
                                      at=chain_now(ctx))
    rows = [{"grantee": g.grantee, "name": ctx.name_of(g.grantee), "scope": scope_name(g.scope),
             "purposes": {pur.name: exp for pur, exp in g.expires.items()},
             "until": "; ".join(f"{pur.name} {date(exp)}" for pur, exp in g.expires.items())}
            for g in live]
    show(rows, as_json, ["name", "scope", "until"], empty="no live grants")


@patient.command("cancel-signatures", short_help="Void every consent you signed but nobody submitted.")
@pass_ctx
def patient_cancel_signatures(ctx: Ctx) -> None:
    """Increase your signing nonce: every signed consent not yet on chain becomes invalid."""
    ledger = ctx.ledger()
    receipt = ledger.consent.increase_nonce().transact(ctx.sender())
    echo_tx(ctx, receipt, "outstanding signatures cancelled")


@patient.command("guardian", short_help="Appoint or remove a guardian.")
@click.argument("action", type=click.Choice(["set", "remove"]))
@click.argument("guardian")
@click.option("--expires", default="365d", show_default=True, help=EXPIRY_HELP)
@pass_ctx
def patient_guardian(ctx: Ctx, action: str, guardian: str, expires: str) -> None:
    """Appoint (set) or remove GUARDIAN, who may then act for you (but not register your key)."""
    g = parse_address(guardian)
    if action == "set":
        at = parse_expiry(expires, chain_now(ctx))
        echo_tx(ctx, patient_actor(ctx).set_guardian(g, at),
                f"{ctx.name_of(g)} is your guardian until {date(at)}")
    else:
        echo_tx(ctx, patient_actor(ctx).remove_guardian(g), f"{ctx.name_of(g)} removed as guardian")


@patient.command("requests", short_help="List pending access requests.")
@json_option
@pass_ctx
def patient_requests(ctx: Ctx, as_json: bool) -> None:
    """Access requests awaiting your answer (approve or reject them by number)."""
    reqs = patient_actor(ctx).pending_requests()
    rows = [{"id": r.request_id, "requester": r.requester, "from": ctx.name_of(r.requester),
             "scope": scope_name(r.scope), "purpose": r.purpose.name, "block": r.block,
             "reasonHash": "0x" + r.reason_hash.hex()} for r in reqs]
    show(rows, as_json, ["id", "from", "scope", "purpose"], empty="no pending requests")


@patient.command("approve", short_help="Approve an access request.")
@click.argument("request_id", type=click.IntRange(1))
@click.option("--expires", default="30d", show_default=True, help=EXPIRY_HELP)
@pass_ctx
def patient_approve(ctx: Ctx, request_id: int, expires: str) -> None:
    """Approve REQUEST_ID (creates the grant until EXPIRES)."""
    at = parse_expiry(expires, chain_now(ctx))
    echo_tx(ctx, patient_actor(ctx).approve_request(request_id, at),
            f"request #{request_id} approved until {date(at)}")


@patient.command("reject", short_help="Reject an access request.")
@click.argument("request_id", type=click.IntRange(1))
@pass_ctx
def patient_reject(ctx: Ctx, request_id: int) -> None:
    """Reject REQUEST_ID."""
    echo_tx(ctx, patient_actor(ctx).reject_request(request_id), f"request #{request_id} rejected")


@patient.command("history", short_help="Who accessed your records.")
@json_option
@pass_ctx
def patient_history(ctx: Ctx, as_json: bool) -> None:
    """Your access history, verified against the on-chain hash chain."""
    print_history(ctx, patient_actor(ctx).patient, as_json)


@patient.command("records", short_help="List your records at every institution's node.")
@json_option
@pass_ctx
def patient_records(ctx: Ctx, as_json: bool) -> None:
    """Your records, asked by signed request of every institution that publishes a node URL;
    each pointer is checked against the chain. A node that does not answer is named."""
    from careledger.errors import CareLedgerError

    p = patient_actor(ctx)
    registry = ctx.ledger().institutions
    rows: list[dict[str, Any]] = []
    unreachable = []
    tried = 0
    for inst in registry.members(from_block=ctx.ledger().deployment.block):
        url = registry.endpoint_of(inst)
        if not url:
            continue
        tried += 1
        try:
            pointers = p.records_at(url)
        except CareLedgerError as exc:
            unreachable.append(f"{ctx.name_of(inst)} ({url}): {type(exc).__name__}")
            continue
        for ptr in pointers:
            rows.append({"recordId": ptr.record_id, "issuer": ptr.issuer,
                         "issuerName": ctx.name_of(inst), "category": ptr.category,
                         "version": ptr.version, "cid": ptr.cid,
                         "batch": ptr.batch_root is not None})
    if as_json:
        click.echo(json.dumps({"records": rows, "unreachable": unreachable}, indent=2))
    else:
        show(rows, False, ["recordId", "issuerName", "category", "version"],
             empty="no records found")
        for line in unreachable:
            click.echo(f"not reached: {line}")
    if unreachable and not rows and len(unreachable) == tried:
        raise SystemExit(1)  # no node answered: the list says nothing


@patient.command("erase", short_help="Crypto-shred a record.")
@click.argument("record_id")
@pass_ctx
def patient_erase(ctx: Ctx, record_id: str) -> None:
    """Destroy every wrapped copy of RECORD_ID's data key at its issuer's node; the anchor
    stays. Copies already released to readers are outside anyone's reach."""
    n = patient_actor(ctx).erase(record_id)
    click.echo(f"erased by {ctx.who()}: {n} wrapped keys destroyed; nobody can decrypt "
               f"{record_id} through CareLedger any more")


@patient.command("close-glass", short_help="Close an institution's break-glass window.")
@click.argument("institution_addr", metavar="INSTITUTION")
@pass_ctx
def patient_close_glass(ctx: Ctx, institution_addr: str) -> None:
    """Close INSTITUTION's open break-glass (emergency) window on you at once."""
    who = parse_address(institution_addr)
    echo_tx(ctx, patient_actor(ctx).close_break_glass(who),
            f"{ctx.name_of(who)}'s break-glass window closed")


@patient.command("read", short_help="Read one of your records (through its issuer's node).")
@click.argument("record_id")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the plaintext here (mode 0600) instead of stdout; needed for a "
                   "streamed record over 64 MiB.")
@click.option("--max-size", default="64G", show_default=True,
              help="Refuse a record larger than this.")
@pass_ctx
def patient_read(ctx: Ctx, record_id: str, out: Path | None, max_size: str) -> None:
    """Read RECORD_ID with a signed request to its issuer's node (not a disclosure: nothing
    is written to your history)."""
    from careledger.cli.common import parse_size, transfer_progress

    check_out_path(out)
    limit = parse_size(max_size)
    p = patient_actor(ctx, need_keypair=True)
    if out is None:
        emit_plaintext(p.read(record_id), out)
        return
    with transfer_progress(f"fetching {out.name}") as bar:
        n = p.read_to_file(record_id, out, progress=bar.advance, max_size=limit,
                           on_size=bar.total)
    click.echo(f"{n:,} bytes written to {out} (readable by you only)")

