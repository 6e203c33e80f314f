"""``careledger institution``: consortium membership by M-of-N vote."""

from __future__ import annotations

import click

from careledger.cli.common import (
    Ctx,
    echo_tx,
    parse_address,
    pass_ctx,
)

#: Proposal kinds as the command line spells them (``ProposalKind.parse`` reads them back).
KINDS = ["admit", "suspend", "reinstate", "remove", "change-roles", "change-threshold"]


@click.group(short_help="Consortium membership: propose, approve, list.")
def institution() -> None:
    """Consortium membership by M-of-N vote."""


@institution.command("propose", short_help="Propose a membership change.")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("subject", required=False)
@click.option("--roles", default="", help="For admit/change-roles: PROVIDER,RESEARCHER,EMERGENCY.")
@click.option("--enc-pubkey", default="0x" + "00" * 32, help="For admit: the member's X25519 key.")
@click.option("--threshold", "new_threshold", type=int, default=0, help="For change-threshold.")
@pass_ctx
def institution_propose(ctx: Ctx, kind: str, subject: str | None, roles: str, enc_pubkey: str,
                        new_threshold: int) -> None:
    """Propose KIND for SUBJECT; your approval counts."""
    from careledger.codes import ProposalKind, Role
    from careledger.errors import InvalidInput

    ledger = ctx.ledger()
    subj = parse_address(subject) if subject else "0x" + "00" * 20
    if kind != "change-threshold" and not subject:
        raise InvalidInput(f"{kind} needs a SUBJECT address")
    role_mask = Role.parse(roles) if roles else Role(0)
    key = bytes.fromhex(enc_pubkey.removeprefix("0x"))
    if len(key) != 32:
        raise InvalidInput("--enc-pubkey must be 32 bytes (0x + 64 hex digits)")
    registry = ledger.institutions
    receipt = registry.propose(ProposalKind.parse(kind), subj, roles=role_mask,
                               encryption_key=key, new_threshold=new_threshold
                               ).transact(ctx.sender())
    click.echo(f"proposal #{registry.proposal_id_from(receipt)} created")
    echo_tx(receipt, "propose")


@institution.command("approve", short_help="Approve a proposal.")
@click.argument("proposal_id", type=int)
@pass_ctx
def institution_approve(ctx: Ctx, proposal_id: int) -> None:
    """Approve PROPOSAL_ID; it executes when it reaches the threshold."""
    registry = ctx.ledger().institutions
    receipt = registry.approve(proposal_id).transact(ctx.sender())
    echo_tx(receipt, "approved" + (" and executed" if registry.executed_in(receipt) else ""))


@institution.command("list", short_help="List consortium members.")
@pass_ctx
def institution_list(ctx: Ctx) -> None:
    """Every institution ever admitted, with status and roles."""
    ledger = ctx.ledger()
    logs = ledger.institutions.logs("InstitutionAdmitted", from_block=ledger.deployment.block)
    seen: list[str] = []
    for lg in logs:
        if lg["args"]["account"] not in seen:
            seen.append(lg["args"]["account"])
    click.echo(f"threshold {ledger.institutions.threshold()}")
    for a in seen:
        inst = ledger.institutions.member(a)
        click.echo(f"{a}  {inst.status.name:<9} {inst.roles!r}  key 0x{inst.encryption_key.hex()[:16]}…")


@institution.command("endpoint", short_help="Publish your node's URL on chain.")
@click.argument("url")
@pass_ctx
def institution_endpoint(ctx: Ctx, url: str) -> None:
    """Publish URL (https://...) as the endpoint of your CareLedger node."""
    echo_tx(ctx.ledger().institutions.set_endpoint(url).transact(ctx.sender()), "endpoint set")
