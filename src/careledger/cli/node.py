"""``careledger node``: run this institution's node."""

from __future__ import annotations

import click

from careledger.cli.common import Ctx, json_option, pass_ctx, show_one


@click.group(short_help="This institution's node: serve its records and release keys.")
def node() -> None:
    """The HTTP service of one institution, over its own workspace directory."""


@node.command("serve", short_help="Serve the node until Ctrl-C or SIGTERM.")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="TCP port [default: the port of the profile's node URL, else 8600].")
@click.option("--access-confirmations", "confirmations", type=click.IntRange(1, 1000), default=1,
              show_default=True, help="Blocks an access transaction must be deep to release a key.")
@click.option("--max-access-age", type=click.IntRange(1), default=600, show_default=True,
              help="Oldest access entry (seconds) that may still release a key.")
@click.option("--rate", "rate_per_minute", type=click.IntRange(1), default=120, show_default=True,
              help="Signed requests per signer per minute.")
@click.option("--name", default=None, metavar="TEXT",
              help="The institution's display name, shown to patients on the node's page "
                   "[default: the profile's name].")
@pass_ctx
def node_serve(ctx: Ctx, host: str, port: int | None, confirmations: int, max_access_age: int,
               rate_per_minute: int, name: str | None) -> None:
    """Serve --workspace with the wallet of --keystore (or $CARELEDGER_PRIVATE_KEY) and the
    encryption key of --enc-key; the wallet pays for relayed consents and erasure notices."""
    import logging
    from urllib.parse import urlparse

    from careledger.node.server import build_service, serve
    from careledger.node.service import NodeConfig

    logging.getLogger("careledger.chain").setLevel(logging.NOTSET)  # a node logs its retries
    if port is None:
        profile_url = ctx.profile.node if ctx.profile else None
        port = (urlparse(profile_url).port if profile_url else None) or 8600

    from careledger.chain.devnet import port_taken
    from careledger.errors import PortInUse

    if port_taken(host, port):
        raise PortInUse(f"port {port} on {host} is in use: stop what listens there or pass "
                        "another --port")
    service = build_service(ctx.ledger(), ctx.sender(), ctx.workspace, ctx.keypair(),
                            NodeConfig(confirmations=confirmations, max_access_age=max_access_age,
                                       rate_per_minute=rate_per_minute,
                                       name=_display_name(name, ctx)))
    click.echo(f"node of {service.address} on http://{host}:{port} (workspace {ctx.workspace})")
    serve(service, host, port)


def _display_name(name: str | None, ctx: Ctx) -> str | None:
    """``--name``, else the profile's name; at most 80 printable characters."""
    chosen = name if name is not None else (ctx.profile.name if ctx.profile else None)
    if chosen is None:
        return None
    chosen = chosen.strip()
    if not chosen or len(chosen) > 80 or not chosen.isprintable():
        raise click.BadParameter("a display name is 1 to 80 printable characters",
                                 param_hint="--name")
    return chosen


@node.command("reindex", short_help="Rebuild the record index from the blobs and the chain.")
@pass_ctx
def node_reindex(ctx: Ctx) -> None:
    """Rebuild --workspace's record index from its blobs, its wrapped keys and the chain (after
    a disk loss); prints what could not be proven and exits 1 if anything could not."""
    from careledger.actors.reindex import rebuild_index

    ws = ctx.workspace_()
    report = rebuild_index(ctx.ledger(), ws, ctx.keypair(), ctx.account().address)
    click.echo(f"rebuilt {report.singles} single records and {report.batch_members} batch "
               f"members of {report.batches} batches into {ws.index.root}")
    for problem in report.problems:
        click.echo(f"  not rebuilt: {problem}")
    if report.problems:
        raise SystemExit(1)


@node.command("status", short_help="Ask a node who it is and whether it is up.")
@click.argument("url")
@click.option("--wait", type=click.FloatRange(0, 600), default=0, show_default=True,
              help="Seconds to keep trying while it does not answer (a node that is starting).")
@json_option
def node_status(url: str, wait: float, as_json: bool) -> None:
    """The identity and health of the node at URL (no wallet needed); exit 1 if it does not
    answer within --wait seconds."""
    import time

    from careledger.errors import NodeUnavailable
    from careledger.node import NodeClient

    deadline = time.monotonic() + wait
    with NodeClient(url) as client:
        while True:
            try:
                identity = client.identity()
                health = client.health()
                break
            except NodeUnavailable:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.2)
    show_one({**identity, **{f"health.{k}": v for k, v in health.items()}}, as_json)
