"""``careledger record``: encrypted records off chain, commitments on chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from careledger.cli.common import (
    Ctx,
    emit_plaintext,
    parse_address,
    pass_ctx,
)


@click.group(short_help="Records: publish, publish-batch, get, verify, versions.")
def record() -> None:
    """Encrypted records off chain, commitments on chain."""


def provider_actor(ctx: Ctx) -> Any:
    from careledger.actors import Provider

    return Provider(ctx.ledger(), ctx.sender(), ctx.workspace_(), ctx.keypair())


@record.command("publish", short_help="Encrypt, store and anchor a record.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--patient", "patient_addr", required=True)
@click.option("--category", required=True, help="LAB, IMAGING, ... or a LOINC code.")
@click.option("--record-id", default=None, help="Reuse an id to resume an interrupted publish.")
@click.option("--amends", default=None, help="Record id this is a new version of.")
@pass_ctx
def record_publish(ctx: Ctx, file: Path, patient_addr: str, category: str,
                   record_id: str | None, amends: str | None) -> None:
    """Publish FILE for PATIENT."""
    prov = provider_actor(ctx)
    data = file.read_bytes()
    if amends:
        pub = prov.amend(amends, data, record_id=record_id)
    else:
        pub = prov.publish(parse_address(patient_addr), data, category, record_id=record_id)
    click.echo(f"record {pub.record_id} version {pub.pointer.version} anchored "
               f"(cid {pub.pointer.cid})")


@record.command("publish-batch", short_help="Publish many records under one Merkle root.")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--patient", "patient_addr", required=True)
@click.option("--category", required=True)
@pass_ctx
def record_publish_batch(ctx: Ctx, files: tuple[Path, ...], patient_addr: str, category: str) -> None:
    """Publish FILES for PATIENT with one anchorBatch."""
    pat = parse_address(patient_addr)
    root, ptrs, _ = provider_actor(ctx).publish_batch([(pat, f.read_bytes()) for f in files], category)
    click.echo(f"batch root 0x{root.hex()} anchored with {len(ptrs)} records")
    for f, p in zip(files, ptrs, strict=True):
        click.echo(f"  {f}: {p.record_id}")


@record.command("get", short_help="Access a record (logged on chain) and decrypt it.")
@click.argument("record_id")
@click.option("--purpose", default="TREAT", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_ctx
def record_get(ctx: Ctx, record_id: str, purpose: str, out: Path | None) -> None:
    """Log the access on chain, then fetch, verify and decrypt RECORD_ID."""
    from careledger.actors import Institution

    inst = Institution(ctx.ledger(), ctx.sender(), ctx.workspace_(), ctx.keypair())
    emit_plaintext(inst.access(record_id, purpose), out)


@record.command("verify", short_help="Check a stored record against its anchor.")
@click.argument("record_id")
@pass_ctx
def record_verify(ctx: Ctx, record_id: str) -> None:
    """Recompute RECORD_ID's commitment from the blob store and check it on chain."""
    from careledger.actors import verify_commitment

    ws = ctx.workspace_()
    ptr = ws.index.get(record_id)
    verify_commitment(ctx.ledger(), ptr, ws.blobs.get(ptr.cid))
    where = f"batch {ptr.batch_root}" if ptr.batch_root else "its anchor"
    click.echo(f"record {ptr.record_id} verified against {where}")


@record.command("versions", short_help="List a record's versions.")
@click.argument("record_id")
@pass_ctx
def record_versions(ctx: Ctx, record_id: str) -> None:
    """Follow the on-chain version links from RECORD_ID to the latest."""
    from careledger.errors import NotAnchored
    from careledger.validate import bytes32

    ledger = ctx.ledger()
    rid = bytes32(record_id, "record id")
    if not ledger.records.is_anchored(rid):
        raise NotAnchored(f"record 0x{rid.hex()} is not anchored on this chain: check the id "
                          "(careledger record publish prints it)")
    n = 0
    while rid != b"\x00" * 32:
        n += 1
        anchored = ledger.records.anchored(rid, from_block=ledger.deployment.block)
        commitment = anchored.commitment.hex() if anchored else "(batch member)"
        click.echo(f"v{n}  0x{rid.hex()}  commitment 0x{commitment}")
        rid = ledger.records.next_version_of(rid)
