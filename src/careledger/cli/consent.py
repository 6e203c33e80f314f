"""``careledger consent``: EIP-712 signed consents, submitted by anyone."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from careledger.cli.common import (
    EXPIRY_HELP,
    PURPOSES_HELP,
    SCOPE_HELP,
    Ctx,
    chain_now,
    parse_address,
    parse_expiry,
    parse_scope,
    pass_ctx,
)

if TYPE_CHECKING:
    from careledger.consent import GrantConsent, RevokeConsent


@click.group(short_help="Signed consent: sign to a file, submit a signed file.")
def consent() -> None:
    """EIP-712 signed consents, submitted by anyone (the patient pays no gas)."""


@consent.command("sign", short_help="Sign a grant or revoke into a JSON file.")
@click.argument("action", type=click.Choice(["grant", "revoke"]))
@click.argument("grantee")
@click.option("--patient", "patient_addr", default=None,
              help="Default: the signer (a guardian names the patient).")
@click.option("--scope", default="ALL", show_default=True, help=SCOPE_HELP)
@click.option("--purpose", "purposes", multiple=True, default=["TREAT"], show_default=True,
              help=f"Repeat for several: {PURPOSES_HELP}.")
@click.option("--expires", default="30d", show_default=True, help=EXPIRY_HELP)
@click.option("--deadline", default="1d", show_default=True,
              help="How long the signature may be submitted: " + EXPIRY_HELP)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@pass_ctx
def consent_sign(ctx: Ctx, action: str, grantee: str, patient_addr: str | None, scope: str,
                 purposes: tuple[str, ...], expires: str, deadline: str, out: Path) -> None:
    """Sign ACTION for GRANTEE with your wallet (EIP-712, no gas); write the typed data and
    the signature to OUT, as JSON that a wallet page also produces."""
    from careledger.cli.common import check_out_path
    from careledger.consent import ConsentSigner

    check_out_path(out)
    ledger = ctx.ledger()
    acct = ctx.account()
    now = chain_now(ctx)
    signer = ConsentSigner(ledger.consent)
    pat = parse_address(patient_addr) if patient_addr else acct.address
    msg: GrantConsent | RevokeConsent
    if action == "grant":
        msg = signer.grant_message(pat, parse_address(grantee), parse_scope(scope), list(purposes),
                                   parse_expiry(expires, now),
                                   deadline=parse_expiry(deadline, now, "--deadline"),
                                   signer=acct.address)
    else:
        msg = signer.revoke_message(pat, parse_address(grantee), parse_scope(scope),
                                    deadline=parse_expiry(deadline, now, "--deadline"),
                                    signer=acct.address)
    signed = signer.sign(msg, acct)
    signed.save(out)
    click.echo(f"{action} signed by {ctx.who()} written to {out}; anyone can submit it with "
               f"`careledger consent submit {out}`")


@consent.command("submit", short_help="Submit a signed consent file (yourself, or a node).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--relay", "relay_url", default=None,
              help="A node's URL: it checks the signature and the chain, then pays the gas.")
@pass_ctx
def consent_submit(ctx: Ctx, file: Path, relay_url: str | None) -> None:
    """Relay FILE (from `consent sign` or a wallet page): you pay the gas, or --relay URL's node."""
    from careledger.consent import Relayer, SignedConsent

    ledger = ctx.ledger()
    signed = SignedConsent.load(file, registry=ledger.consent)
    if relay_url:
        from careledger.node import NodeClient

        with NodeClient(relay_url) as node:
            answer = node.relay(signed)
        how = "applied" if answer["appliedByUs"] else "already applied by someone else"
        click.echo(f"{how} (signed by {ctx.name_of(signed.signer)}, gas paid by the node at "
                   f"{relay_url}): tx {answer['txHash']}")
        return
    result = Relayer(ctx.sender(), ledger.consent).submit(signed)
    how = "applied" if result.applied_by_us else "already applied by someone else"
    click.echo(f"{how} (signed by {ctx.name_of(signed.signer)}, gas paid by {ctx.who()}): "
               f"tx {result.tx_hash}")
