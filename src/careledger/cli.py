"""The ``careledger`` command."""

from __future__ import annotations

import signal
import time

import click

from careledger import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="careledger")
def main() -> None:
    """CareLedger: patient-centred medical data sharing on Ethereum."""


@main.command(short_help="Run a local anvil devnet in the foreground.")
@click.option("--port", type=int, default=None, help="TCP port (default: a free one).")
@click.option("--chain-id", type=int, default=31337, show_default=True)
@click.option("--state", "state_file", type=click.Path(dir_okay=False), default=None,
              help="Load/save chain state to this file so a restart resumes.")
def devnet(port: int | None, chain_id: int, state_file: str | None) -> None:
    """Start a native anvil devnet, print its RPC URL, chain id and funded dev accounts,
    and keep it running until Ctrl-C."""
    from careledger.devnet import Devnet, DevnetError

    node = Devnet(port=port, chain_id=chain_id, state_file=state_file)
    try:
        node.start()
    except DevnetError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"RPC URL   {node.rpc_url}")
    click.echo(f"chain id  {node.chain_id}")
    click.echo("dev accounts (funded; never use these keys on a real chain):")
    for i, acct in enumerate(node.accounts):
        click.echo(f"  ({i}) {acct.address}  {acct.private_key}")
    click.echo("Ctrl-C to stop.")
    stop = False

    def _stop(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop and node.process is not None and node.process.poll() is None:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    finally:
        node.stop()
        click.echo("devnet stopped.")
