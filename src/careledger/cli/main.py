"""The ``careledger`` command: one group per actor or concern, each in its own module.

Connection: ``--rpc-url``/``--chain-id`` or ``--network NAME`` (from ``careledger-networks.json``
or ``~/.config/careledger/networks.json``); contract addresses from
``<deployments>/<chainId>.json`` written by ``careledger deploy``.
Keys: the wallet from ``--keystore FILE`` (password from ``$CARELEDGER_KEYSTORE_PASSWORD`` or a
prompt) or ``$CARELEDGER_PRIVATE_KEY``; the encryption key from ``--enc-key FILE`` (password
from ``$CARELEDGER_ENC_PASSWORD`` or a prompt). Never from command-line arguments.
Bad input ends with one clear line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

from pathlib import Path

import click

from careledger import __version__
from careledger.cli.audit import audit
from careledger.cli.common import Ctx, OneLineErrors
from careledger.cli.consent import consent
from careledger.cli.devnet import demo, deploy, devnet
from careledger.cli.institution import institution
from careledger.cli.keys import keys
from careledger.cli.node import node
from careledger.cli.patient import patient
from careledger.cli.record import record


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="careledger")
@click.option("--rpc-url", envvar="CARELEDGER_RPC_URL", help="JSON-RPC endpoint.")
@click.option("--chain-id", type=int, envvar="CARELEDGER_CHAIN_ID",
              help="Refuse a node that reports another chain id.")
@click.option("--network", help="Named network from careledger-networks.json.")
@click.option("--deployments", type=click.Path(file_okay=False, path_type=Path),
              default=Path("deployments"), show_default=True, help="Deployment manifests folder.")
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path),
              envvar="CARELEDGER_WORKSPACE", default=Path("careledger-data"), show_default=True,
              help="Off-chain data: blobs, wrapped keys, record index.")
@click.option("--confirmations", type=int, default=0, show_default=True)
@click.option("--keystore", type=click.Path(dir_okay=False, path_type=Path),
              envvar="CARELEDGER_KEYSTORE", help="eth-account keystore of your wallet.")
@click.option("--enc-key", type=click.Path(dir_okay=False, path_type=Path),
              envvar="CARELEDGER_ENC_KEY", help="Your password-protected encryption key file.")
@click.pass_context
def main(ctx: click.Context, rpc_url: str | None, chain_id: int | None, network: str | None,
         deployments: Path, workspace: Path, confirmations: int, keystore: Path | None,
         enc_key: Path | None) -> None:
    """CareLedger: patient-centred medical data sharing on Ethereum."""
    ctx.obj = Ctx(rpc_url=rpc_url, chain_id=chain_id, network=network, deployments=deployments,
                  workspace=workspace, confirmations=confirmations, keystore=keystore,
                  enc_key=enc_key)


for command in (demo, devnet, deploy, keys, institution, patient, consent, record, audit, node):
    main.add_command(command)
