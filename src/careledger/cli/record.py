"""``careledger record``: encrypted records off chain, commitments on chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from careledger.cli.common import (
    CATEGORIES_HELP,
    PURPOSES_HELP,
    Ctx,
    check_out_path,
    emit_plaintext,
    json_option,
    parse_address,
    parse_size,
    pass_ctx,
    show,
    show_one,
    transfer_progress,
)

#: Files above this are streamed (``Provider.publish_file``) unless --no-stream.
STREAM_THRESHOLD = 16 * 1024 * 1024


@click.group(short_help="Records: publish, publish-batch, list, get, verify, versions.")
def record() -> None:
    """Encrypted records off chain, commitments on chain. A record is any file (FHIR JSON, a
    PDF, an image): CareLedger encrypts the bytes as they are."""


def provider_actor(ctx: Ctx) -> Any:
    from careledger.actors import Provider

    return Provider(ctx.ledger(), ctx.sender(), ctx.workspace_(), ctx.keypair())


@record.command("publish", short_help="Encrypt, store and anchor a record.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--patient", "patient_addr", required=True, help="The patient (an address or a name).")
@click.option("--category", required=True, help=CATEGORIES_HELP + ".")
@click.option("--record-id", default=None, help="Reuse an id to resume an interrupted publish.")
@click.option("--amends", default=None, help="Record id this is a new version of.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the record id (for scripts).")
@click.option("--stream/--no-stream", default=None,
              help=f"Streamed encryption into pieces (default: for files over "
                   f"{STREAM_THRESHOLD >> 20} MiB; any size, constant memory, resumable).")
@click.option("--max-size", default="64G", show_default=True,
              help="Refuse a file larger than this (500M, 2G, ...).")
@pass_ctx
def record_publish(ctx: Ctx, file: Path, patient_addr: str, category: str,
                   record_id: str | None, amends: str | None, quiet: bool,
                   stream: bool | None, max_size: str) -> None:
    """Encrypt FILE (FHIR JSON, a PDF, a DICOM study, a FASTQ genome: any bytes) for PATIENT,
    store it in the workspace (which your node serves) and anchor its commitment on chain.
    Large files are streamed in 1 MiB segments with a progress bar; an interrupted publish
    resumes with --record-id (printed when it starts)."""
    from careledger.errors import BlobTooLarge, InvalidInput

    limit = parse_size(max_size)
    size = file.stat().st_size
    if size > limit:
        raise BlobTooLarge(f"{file} is {size:,} bytes, over --max-size {max_size}: raise it if "
                           "this record is expected")
    pat = parse_address(patient_addr)
    prov = provider_actor(ctx)
    if stream is None:
        stream = size > STREAM_THRESHOLD
    if stream and amends:
        raise InvalidInput("--amends with a streamed file is not supported yet: publish it as "
                           "a new record")
    if stream:
        from careledger.contracts import new_record_id

        rid = record_id or "0x" + new_record_id(prov.address).hex()
        if not quiet:
            click.echo(f"publishing {size:,} bytes as record {rid} (if interrupted, run again "
                       f"with --record-id {rid})", err=True)
        with transfer_progress(f"encrypting {file.name}", size) as bar:
            pub = prov.publish_file(pat, file, category, record_id=rid, progress=bar.advance,
                                    max_size=limit)
    elif amends:
        pub = prov.amend(amends, file.read_bytes(), record_id=record_id)
    else:
        pub = prov.publish(pat, file.read_bytes(), category, record_id=record_id)
    if quiet:
        click.echo(pub.record_id)
        return
    click.echo(f"record {pub.record_id} version {pub.pointer.version} for "
               f"{ctx.name_of(pub.pointer.patient)} "
               f"anchored by {ctx.who()} (cid {pub.pointer.cid})")


@record.command("publish-batch", short_help="Publish many records under one Merkle root.")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--patient", "patient_addr", required=True, help="The patient (an address or a name).")
@click.option("--category", required=True, help=CATEGORIES_HELP + ".")
@pass_ctx
def record_publish_batch(ctx: Ctx, files: tuple[Path, ...], patient_addr: str, category: str) -> None:
    """Publish FILES for PATIENT with one anchorBatch."""
    pat = parse_address(patient_addr)
    root, ptrs, _ = provider_actor(ctx).publish_batch([(pat, f.read_bytes()) for f in files], category)
    click.echo(f"batch root 0x{root.hex()} anchored with {len(ptrs)} records by {ctx.who()}")
    for f, p in zip(files, ptrs, strict=True):
        click.echo(f"  {f}: {p.record_id}")


@record.command("get", short_help="Access a record (logged on chain) and decrypt it.")
@click.argument("record_id")
@click.option("--purpose", default="TREAT", show_default=True,
              help=PURPOSES_HELP + "; ETREAT under an open break-glass window.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the plaintext here (mode 0600) instead of stdout; needed for a "
                   "streamed record over 64 MiB.")
@click.option("--max-size", default="64G", show_default=True,
              help="Refuse a record larger than this, before the access is logged.")
@pass_ctx
def record_get(ctx: Ctx, record_id: str, purpose: str, out: Path | None, max_size: str) -> None:
    """Read RECORD_ID: fetch and check the ciphertext at its issuer's node, log the access on
    chain (it lands in the patient's history), receive the key, decrypt. Nothing is logged
    when the record cannot be delivered (no consent, a bad --out, a ciphertext that does not
    match, an erased record); if the key fails after the entry, the error says so."""
    from careledger.actors import Institution
    from careledger.codes import Purpose

    check_out_path(out)
    limit = parse_size(max_size)
    p = Purpose.parse(purpose)
    inst = Institution(ctx.ledger(), ctx.sender(), ctx.workspace_(), ctx.keypair())
    if out is None:
        emit_plaintext(inst.access(record_id, p), out)
        return
    with transfer_progress(f"fetching {out.name}") as bar:
        n = inst.access_to_file(record_id, out, p, progress=bar.advance, max_size=limit,
                                on_size=bar.total)
    click.echo(f"{n:,} bytes written to {out} (readable by you only)")


@record.command("list", short_help="List the records in your workspace.")
@click.option("--patient", "patient_addr", default=None, help="Only this patient's.")
@json_option
@pass_ctx
def record_list(ctx: Ctx, patient_addr: str | None, as_json: bool) -> None:
    """The records of the workspace's index (those you published and hold keys for)."""
    patient = parse_address(patient_addr) if patient_addr else None
    ws = ctx.workspace_(create=False)
    pointers = ws.index.for_patient(patient) if patient else ws.index.all()
    rows = [{"recordId": p.record_id, "patient": p.patient, "patientName": ctx.name_of(p.patient),
             "category": p.category, "version": p.version, "status": p.status, "cid": p.cid,
             "batchRoot": p.batch_root} for p in pointers]
    show(rows, as_json, ["recordId", "patientName", "category", "version", "status"],
         empty=f"no records in {ctx.workspace}")


@record.command("verify", short_help="Check a stored record against its anchor.")
@click.argument("record_id")
@json_option
@pass_ctx
def record_verify(ctx: Ctx, record_id: str, as_json: bool) -> None:
    """Recompute RECORD_ID's commitment from the blob store and check it on chain."""
    from careledger.actors import verify_commitment
    from careledger.validate import bytes32

    rid = bytes32(record_id, "record id")
    ws = ctx.workspace_(create=False)
    ptr = ws.index.get(rid)
    verify_commitment(ctx.ledger(), ptr, ws.blobs.get(ptr.cid))
    where = f"batch {ptr.batch_root}" if ptr.batch_root else "its anchor"
    if as_json:
        show_one({"recordId": ptr.record_id, "verified": True, "against": where}, True)
        return
    click.echo(f"record {ptr.record_id} verified against {where}")


@record.command("versions", short_help="List a record's versions.")
@click.argument("record_id")
@json_option
@pass_ctx
def record_versions(ctx: Ctx, record_id: str, as_json: bool) -> None:
    """Follow the on-chain version links from RECORD_ID to the latest."""
    from careledger.errors import NotAnchored
    from careledger.validate import bytes32

    ledger = ctx.ledger()
    rid = bytes32(record_id, "record id")
    if not ledger.records.is_anchored(rid):
        raise NotAnchored(f"record 0x{rid.hex()} is not anchored on this chain: check the id "
                          "(careledger record publish prints it)")
    rows: list[dict[str, object]] = []
    while rid != b"\x00" * 32:
        anchored = ledger.records.anchored(rid, from_block=ledger.deployment.block)
        rows.append({"version": len(rows) + 1, "recordId": "0x" + rid.hex(),
                     "commitment": "0x" + anchored.commitment.hex() if anchored else None,
                     "batchMember": anchored is None})
        rid = ledger.records.next_version_of(rid)
    show(rows, as_json, ["version", "recordId", "commitment"])
