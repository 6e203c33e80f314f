"""``careledger institution``: consortium membership by M-of-N vote, and what a member does
towards patients (request access, break the glass)."""

from __future__ import annotations

from typing import Any

import click

from careledger.cli.common import (
    PURPOSES_HELP,
    SCOPE_HELP,
    Ctx,
    chain_now,
    echo_tx,
    json_option,
    parse_address,
    parse_scope,
    pass_ctx,
    show,
    show_one,
)

#: Proposal kinds as the command line spells them (``ProposalKind.parse`` reads them back).
KINDS = ["admit", "suspend", "reinstate", "remove", "change-roles", "change-threshold"]


def role_names(roles: int) -> str:
    from careledger.codes import Role

    return "+".join(r.name or "" for r in Role if r & roles) or "none"


@click.group(short_help="Members, proposals and votes; request access; break-glass.")
def institution() -> None:
    """Consortium membership by M-of-N vote, and a member's requests to patients."""


@institution.command("propose", short_help="Propose a membership change.")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("subject", required=False)
@click.option("--roles", default="", help="For admit/change-roles: PROVIDER,RESEARCHER,EMERGENCY.")
@click.option("--enc-pubkey", default="0x" + "00" * 32, help="For admit: the member's X25519 key.")
@click.option("--threshold", "new_threshold", type=click.IntRange(1, 255), default=None,
              help="For change-threshold.")
@pass_ctx
def institution_propose(ctx: Ctx, kind: str, subject: str | None, roles: str, enc_pubkey: str,
                        new_threshold: int | None) -> None:
    """Propose KIND for SUBJECT (an address or a name); your approval counts."""
    from careledger.codes import ProposalKind, Role
    from careledger.errors import InvalidInput
    from careledger.validate import hex_bytes

    ledger = ctx.ledger()
    if kind == "change-threshold":
        if new_threshold is None:
            raise InvalidInput("change-threshold needs --threshold M")
        subj = "0x" + "00" * 20
    else:
        if not subject:
            raise InvalidInput(f"{kind} needs a SUBJECT address")
        subj = parse_address(subject)
    role_mask = Role.parse(roles.replace("+", ",")) if roles else Role(0)
    key = hex_bytes(enc_pubkey, 32, "--enc-pubkey")
    registry = ledger.institutions
    receipt = registry.propose(ProposalKind.parse(kind), subj, roles=role_mask,
                               encryption_key=key, new_threshold=new_threshold or 0
                               ).transact(ctx.sender())
    echo_tx(ctx, receipt, f"proposal #{registry.proposal_id_from(receipt)} ({kind}) created")


@institution.command("approve", short_help="Approve a proposal.")
@click.argument("proposal_id", type=click.IntRange(0))
@pass_ctx
def institution_approve(ctx: Ctx, proposal_id: int) -> None:
    """Approve PROPOSAL_ID; it executes when it reaches the threshold."""
    registry = ctx.ledger().institutions
    receipt = registry.approve(proposal_id).transact(ctx.sender())
    echo_tx(ctx, receipt, f"proposal #{proposal_id} approved"
            + (" and executed" if registry.executed_in(receipt) else ""))


def _proposal_row(ctx: Ctx, p: Any, now: int, threshold: int) -> dict[str, Any]:
    state = ("executed" if p.executed else "expired" if now >= p.expires_at else
             f"open ({p.approvals}/{threshold})")
    return {"id": p.proposal_id, "kind": p.kind.name.lower().replace("_", "-"),
            "subject": p.subject, "subjectName": ctx.name_of(p.subject),
            "roles": role_names(p.roles), "newThreshold": p.new_threshold or None,
            "approvals": p.approvals, "threshold": threshold, "state": state,
            "expiresAt": p.expires_at, "proposer": p.proposer,
            "proposerName": ctx.name_of(p.proposer)}


@institution.command("proposals", short_help="List proposals (open ones unless --all).")
@click.option("--all", "show_all", is_flag=True, help="Include executed and expired proposals.")
@json_option
@pass_ctx
def institution_proposals(ctx: Ctx, show_all: bool, as_json: bool) -> None:
    """Consortium proposals with their votes."""
    registry = ctx.ledger().institutions
    now, threshold = chain_now(ctx), registry.threshold()
    rows = [_proposal_row(ctx, registry.proposal(i), now, threshold)
            for i in range(registry.proposal_count())]
    if not show_all:
        rows = [r for r in rows if r["state"].startswith("open")]
    show(rows, as_json, ["id", "kind", "subjectName", "roles", "state", "proposerName"],
         empty="no open proposals" if not show_all else "no proposals")


@institution.command("proposal", short_help="Show one proposal and who approved it.")
@click.argument("proposal_id", type=click.IntRange(0))
@json_option
@pass_ctx
def institution_proposal(ctx: Ctx, proposal_id: int, as_json: bool) -> None:
    """PROPOSAL_ID in full, with each active member's vote."""
    from careledger.codes import InstitutionStatus
    from careledger.errors import ProposalNotFound

    ledger = ctx.ledger()
    registry = ledger.institutions
    if proposal_id >= registry.proposal_count():
        raise ProposalNotFound.with_args(proposalId=proposal_id)
    row = _proposal_row(ctx, registry.proposal(proposal_id), chain_now(ctx), registry.threshold())
    members = [m for m in registry.members(from_block=ctx.ledger().deployment.block) if registry.member(m).status is InstitutionStatus.ACTIVE]
    row["approvedBy"] = [ctx.name_of(m) for m in members if registry.has_approved(proposal_id, m)]
    row["notYet"] = [ctx.name_of(m) for m in members if not registry.has_approved(proposal_id, m)]
    if not as_json:
        row["approvedBy"] = ", ".join(row["approvedBy"]) or "nobody"
        row["notYet"] = ", ".join(row["notYet"]) or "nobody"
    show_one(row, as_json)




@institution.command("list", short_help="List consortium members.")
@json_option
@pass_ctx
def institution_list(ctx: Ctx, as_json: bool) -> None:
    """Every institution ever admitted, with status, roles and node URL."""
    registry = ctx.ledger().institutions
    rows = []
    for a in registry.members(from_block=ctx.ledger().deployment.block):
        m = registry.member(a)
        rows.append({"name": ctx.name_of(a), "address": a, "status": m.status.name.lower(),
                     "roles": role_names(m.roles), "node": registry.endpoint_of(a) or None,
                     "encryptionKey": "0x" + m.encryption_key.hex()})
    show(rows, as_json, ["name", "address", "status", "roles", "node"],
         title=None if as_json else f"threshold {registry.threshold()} of {len(rows)}")


@institution.command("endpoint", short_help="Publish your node's URL on chain.")
@click.argument("url")
@pass_ctx
def institution_endpoint(ctx: Ctx, url: str) -> None:
    """Publish URL (https://...) as the endpoint of your CareLedger node."""
    echo_tx(ctx, ctx.ledger().institutions.set_endpoint(url).transact(ctx.sender()),
            f"endpoint {url} published")


@institution.command("request-access", short_help="Ask a patient for access.")
@click.argument("patient_addr", metavar="PATIENT")
@click.option("--scope", default="ALL", show_default=True, help=SCOPE_HELP)
@click.option("--purpose", default="TREAT", show_default=True, help=PURPOSES_HELP)
@click.option("--reason", required=True,
              help="Why (a code or short text): only its salted hash goes on chain.")
@pass_ctx
def institution_request_access(ctx: Ctx, patient_addr: str, scope: str, purpose: str,
                               reason: str) -> None:
    """Ask PATIENT to grant SCOPE for PURPOSE. The patient answers with `careledger patient
    approve/reject` or on the patient page; give them the reason and the printed salt."""
    import secrets

    from careledger.codes import Purpose

    inst = institution_actor(ctx)
    salt = secrets.token_bytes(16)
    pat = parse_address(patient_addr)
    request_id = inst.request_access(pat, parse_scope(scope), Purpose.parse(purpose), reason,
                                     salt=salt)
    click.echo(f"request #{request_id} sent to {ctx.name_of(pat)} by {ctx.who()}; keep the "
               f"reason's salt 0x{salt.hex()} to show the patient what the hash stands for")


@institution.command("break-glass", short_help="Open emergency access to a patient.")
@click.argument("patient_addr", metavar="PATIENT")
@click.option("--reason", required=True, help="Emergency reason code: only its salted hash goes on chain.")
@click.option("--duration", default="4h", show_default=True,
              help="How long (at most 72h): 30m, 4h, 1d.")
@pass_ctx
def institution_break_glass(ctx: Ctx, patient_addr: str, reason: str, duration: str) -> None:
    """Open a break-glass window on PATIENT (EMERGENCY role): ETREAT reads are allowed without
    consent until it ends or the patient closes it; each read is in the patient's history
    marked as break-glass. Then `careledger record get ID --purpose ETREAT`."""
    from careledger.cli.common import parse_expiry
    from careledger.errors import InvalidInput

    if duration.startswith("@"):
        raise InvalidInput("--duration is a length of time (30m, 4h, 1d), not a date")
    pat = parse_address(patient_addr)
    seconds = parse_expiry(duration, 0, "--duration")
    inst = institution_actor(ctx)
    opening = inst.break_glass(pat, reason, seconds)
    echo_tx(ctx, opening.receipt, f"break-glass on {ctx.name_of(pat)} open for {duration}")
    click.echo(f"keep the reason's salt 0x{opening.salt.hex()} to prove the reason later")


def institution_actor(ctx: Ctx, need_keypair: bool = False) -> Any:
    """This wallet as an ``Institution`` (its encryption key loaded only when needed)."""
    from careledger.actors import Institution
    from careledger.crypto import EncryptionKeyPair

    kp = ctx.keypair() if need_keypair else EncryptionKeyPair.generate()
    return Institution(ctx.ledger(), ctx.sender(), ctx.workspace_(), kp)
