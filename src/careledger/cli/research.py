"""``careledger research``: studies, study consent, datasets and points."""

from __future__ import annotations

from pathlib import Path

import click

from careledger.cli.common import (
    EXPIRY_HELP,
    Ctx,
    chain_now,
    echo_tx,
    json_option,
    parse_address,
    parse_expiry,
    pass_ctx,
    show,
    show_one,
)
from careledger.cli.patient import date


@click.group(short_help="Research studies: register, consent, build datasets, points.")
def research() -> None:
    """Research under consent: a research institute registers a study by a hash of its protocol;
    patients consent to that study; the institute builds a de-identified dataset of the
    consenting patients' records, anchors its hash, and each contributor earns a point."""


@research.command("register", short_help="Register a study (research institutes).")
@click.option("--protocol", "protocol", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="The study protocol: only its keccak256 goes on chain.")
@pass_ctx
def research_register(ctx: Ctx, protocol: Path) -> None:
    """Register a study under PROTOCOL (purpose HRESCH); prints its id."""
    from eth_utils.crypto import keccak

    ledger = ctx.ledger()
    receipt = ledger.consent.register_study(bytes(keccak(protocol.read_bytes()))).transact(ctx.sender())
    study_id = ledger.consent.study_id_from(receipt)
    echo_tx(ctx, receipt, f"study {study_id} registered")


@research.command("close", short_help="Close a study: no access under it any more.")
@click.argument("study_id", type=click.IntRange(1))
@pass_ctx
def research_close(ctx: Ctx, study_id: int) -> None:
    """Close STUDY_ID (its institute only)."""
    echo_tx(ctx, ctx.ledger().consent.close_study(study_id).transact(ctx.sender()),
            f"study {study_id} closed")


@research.command("studies", short_help="List the registered studies.")
@json_option
@pass_ctx
def research_studies(ctx: Ctx, as_json: bool) -> None:
    """Every registered study: id, institute, protocol hash, open or closed."""
    ledger = ctx.ledger()
    rows = []
    for n in range(1, ledger.consent.study_count() + 1):
        s = ledger.consent.study(n)
        rows.append({"study": n, "institute": s.institute, "name": ctx.name_of(s.institute),
                     "protocolHash": "0x" + s.protocol_hash.hex(), "registered": date(s.registered_at),
                     "state": "open" if s.open else f"closed {date(s.closed_at)}"})
    show(rows, as_json, ["study", "name", "registered", "state"], empty="no studies")


@research.command("consent", short_help="Consent to a study (patients), or withdraw.")
@click.argument("study_id", type=click.IntRange(1))
@click.option("--expires", default="365d", show_default=True, help=EXPIRY_HELP)
@click.option("--withdraw", is_flag=True, help="Withdraw your consent to the study instead.")
@pass_ctx
def research_consent(ctx: Ctx, study_id: int, expires: str, withdraw: bool) -> None:
    """Let STUDY_ID's institute use your records for that study only (purpose HRESCH), until
    EXPIRES; with --withdraw, stop it (records already used stay in datasets built before)."""
    from careledger.cli.patient import patient_actor
    from careledger.codes import Purpose

    ledger = ctx.ledger()
    study = ledger.consent.study(study_id)
    p = patient_actor(ctx)
    if withdraw:
        echo_tx(ctx, p.revoke(study.institute, study.scope),
                f"consent to study {study_id} of {ctx.name_of(study.institute)} withdrawn")
        return
    if not study.open:
        raise click.UsageError(f"study {study_id} is closed: nothing to consent to")
    at = parse_expiry(expires, chain_now(ctx))
    echo_tx(ctx, p.grant(study.institute, study.scope, [Purpose.HRESCH], at),
            f"{ctx.name_of(study.institute)} may use your records for study {study_id} until "
            f"{date(at)}; consented")


@research.command("build", short_help="Build, export and anchor a study's dataset.")
@click.argument("study_id", type=click.IntRange(1))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="A new folder for bundle.json, data.csv and manifest.json.")
@click.option("-k", "k", type=click.IntRange(1, 1000), default=5, show_default=True,
              help="Least number of patients sharing their quasi-identifiers (k-anonymity).")
@click.option("--batch", type=click.IntRange(1, 500), default=100, show_default=True,
              help="Records per on-chain access transaction.")
@click.option("--no-anchor", is_flag=True, help="Build and export, but anchor nothing (no points).")
@json_option
@pass_ctx
def research_build(ctx: Ctx, study_id: int, out: Path, k: int, batch: int, no_anchor: bool,
                   as_json: bool) -> None:
    """Build STUDY_ID's dataset from the consenting patients' records at every provider's node:
    each access logged on chain first, then de-identified (HIPAA Safe Harbor), k-anonymous,
    exported and anchored (see docs/research.md)."""
    from careledger.cli.institution import institution_actor
    from careledger.research.study import build_dataset

    actor = institution_actor(ctx, need_keypair=True)
    b = build_dataset(actor, study_id, out, k=k, batch=batch, anchor=not no_anchor,
                      progress=None if as_json else click.echo)
    show_one({"study": study_id, "out": str(b.out), "consenting": len(b.consenting),
              "contributors": len(b.contributors), "records": b.records,
              "withdrawn": sum(1 for why in b.dropped.values() if why.startswith("consent")),
              "suppressed": b.suppressed, "k": b.k, "kAchieved": b.k_achieved,
              "accessTransactions": len(b.access_txs),
              "unreachableNodes": [ctx.name_of(a) for a in b.unreachable],
              "datasetHash": "0x" + b.dataset_hash.hex(), "manifestHash": "0x" + b.manifest_hash.hex(),
              "dataset": b.dataset_id, "anchorTx": b.anchor_tx}, as_json)


@research.command("verify", short_help="Check a dataset folder against its anchor.")
@click.argument("dataset_id", type=click.IntRange(1))
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@pass_ctx
def research_verify(ctx: Ctx, dataset_id: int, folder: Path) -> None:
    """Check FOLDER's files against its manifest, and both against dataset DATASET_ID's
    anchored hashes (exit 1 with the file that differs)."""
    from careledger.research.study import verify_dataset

    manifest = verify_dataset(ctx.ledger(), dataset_id, folder)
    click.echo(f"dataset {dataset_id} verifies: study {manifest['study']}, {manifest['patients']} "
               f"patients, {manifest['resources']} resources, k={manifest['kAnonymity']['achieved']}")


@research.command("points", short_help="Points earned by contributing to datasets.")
@click.argument("patient", required=False)
@json_option
@pass_ctx
def research_points(ctx: Ctx, patient: str | None, as_json: bool) -> None:
    """PATIENT's points (yours without an argument), and the datasets that earned them."""
    ledger = ctx.ledger()
    who = parse_address(patient) if patient else ctx.account().address
    research_registry = ledger.research
    credits = research_registry.logs("PointsCredited", from_block=ledger.deployment.block, patient=who)
    datasets = []
    for lg in credits:
        anchored = research_registry.events_in("DatasetAnchored", ledger.chain.w3.eth.get_transaction_receipt(
            lg["transactionHash"]))
        if anchored:
            a = anchored[0]["args"]
            datasets.append({"dataset": int(a["datasetId"]), "study": int(a["studyId"])})
    show_one({"patient": who, "name": ctx.name_of(who), "points": research_registry.points_of(who),
              "datasets": datasets}, as_json)
