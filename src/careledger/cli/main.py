"""The ``careledger`` command: one group per actor or concern, each in its own module.

Connection: ``--rpc-url``/``--chain-id`` or ``--network NAME`` (from ``careledger-networks.json``
or ``~/.config/careledger/networks.json``); contract addresses from
``<deployments>/<chainId>.json`` written by ``careledger deploy``.
Identity: ``--as PROFILE`` (``careledger profile add``), or the wallet from ``--keystore FILE``
or ``$CARELEDGER_PRIVATE_KEY`` and the encryption key from ``--enc-key FILE``. Passwords from
``$CARELEDGER_KEYSTORE_PASSWORD`` / ``$CARELEDGER_ENC_PASSWORD`` or a prompt; never a key or a
password on the command line.
Every failure ends with one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import logging
from pathlib import Path

import click
from click.core import ParameterSource

from careledger import __version__
from careledger.cli.audit import audit
from careledger.cli.common import Ctx, OneLineErrors
from careledger.cli.config import Config
from careledger.cli.consent import consent
from careledger.cli.cost import cost
from careledger.cli.devnet import demo, deploy, devnet
from careledger.cli.fhir import fhir
from careledger.cli.identity import book, profile, wallet, whoami
from careledger.cli.institution import institution
from careledger.cli.keys import keys
from careledger.cli.node import node
from careledger.cli.patient import patient
from careledger.cli.record import record
from careledger.cli.research import research

ENVIRONMENT = """\b
Environment:
  CARELEDGER_PROFILE            profile to act as (like --as); a profile's files win over
                                the variables below, options on the command line over both
  CARELEDGER_RPC_URL            JSON-RPC endpoint (like --rpc-url)
  CARELEDGER_CHAIN_ID           expected chain id (like --chain-id)
  CARELEDGER_RPC_RETRIES        retries while the RPC endpoint is unreachable (default 3)
  CARELEDGER_WORKSPACE          off-chain data folder (like --workspace)
  CARELEDGER_KEYSTORE           wallet keystore file (like --keystore)
  CARELEDGER_KEYSTORE_PASSWORD  its password (else a prompt)
  CARELEDGER_PRIVATE_KEY        a raw wallet key, when no keystore is given (development)
  CARELEDGER_ENC_KEY            encryption key file (like --enc-key)
  CARELEDGER_ENC_PASSWORD       its password (else a prompt)
  CARELEDGER_CONFIG             profiles and address book
                                (default $XDG_CONFIG_HOME/careledger/config.json, ~/.config/...)
  CARELEDGER_ANVIL              the anvil binary for `careledger devnet` and `demo`
  CARELEDGER_DEBUG              print tracebacks of unexpected errors
"""

#: Options a profile may supply when they were not given on the command line or in the
#: environment: option name -> profile field.
FROM_PROFILE = {"keystore": "keystore", "enc_key": "enc_key", "workspace": "workspace",
                "deployments": "deployments"}


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=ENVIRONMENT)
@click.version_option(__version__, prog_name="careledger")
@click.option("--as", "profile_name", envvar="CARELEDGER_PROFILE", metavar="PROFILE",
              help="Act as this profile (its wallet, encryption key, workspace and node).")
@click.option("--rpc-url", envvar="CARELEDGER_RPC_URL", help="JSON-RPC endpoint.")
@click.option("--chain-id", type=int, envvar="CARELEDGER_CHAIN_ID",
              help="Refuse a node that reports another chain id.")
@click.option("--network", help="Named network from careledger-networks.json.")
@click.option("--rpc-retries", type=click.IntRange(0, 100), envvar="CARELEDGER_RPC_RETRIES",
              default=3, show_default=True, help="Retries while the endpoint is unreachable.")
@click.option("--deployments", type=click.Path(file_okay=False, path_type=Path),
              default=Path("deployments"), show_default=True, help="Deployment manifests folder.")
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path),
              envvar="CARELEDGER_WORKSPACE", default=Path("careledger-data"), show_default=True,
              help="Off-chain data: blobs, wrapped keys, record index.")
@click.option("--confirmations", type=click.IntRange(0, 1000), default=0, show_default=True,
              help="Blocks on top of a transaction before it counts.")
@click.option("--keystore", type=click.Path(dir_okay=False, path_type=Path),
              envvar="CARELEDGER_KEYSTORE", help="eth-account keystore of your wallet.")
@click.option("--enc-key", type=click.Path(dir_okay=False, path_type=Path),
              envvar="CARELEDGER_ENC_KEY", help="Your password-protected encryption key file.")
@click.pass_context
def main(ctx: click.Context, profile_name: str | None, rpc_url: str | None,
         chain_id: int | None, network: str | None, rpc_retries: int, deployments: Path,
         workspace: Path, confirmations: int, keystore: Path | None,
         enc_key: Path | None) -> None:
    """CareLedger: patient-centred medical data sharing on Ethereum.

    Patients grant institutions access to their records by signed consent; institutions
    publish encrypted records and read them through each other's nodes; every access is
    checked on chain and lands in the patient's history.
    """
    # command-line options, then the profile (--as), then the environment, then defaults
    # retries are reported by the one-line error at the end, not by a warning per attempt
    logging.getLogger("careledger.chain").setLevel(logging.ERROR)
    config = Config.load()
    options: dict[str, Path | None] = {"keystore": keystore, "enc_key": enc_key,
                                       "workspace": workspace, "deployments": deployments}
    prof = None
    if profile_name:
        prof = config.profile(profile_name)
        if ctx.get_parameter_source("keystore") is ParameterSource.COMMANDLINE:
            from careledger.errors import InvalidInput

            raise InvalidInput(f"--keystore and the profile {profile_name!r} name two identities: "
                               "pass one of them (unset $CARELEDGER_PROFILE to use --keystore)")
        for option, attr in FROM_PROFILE.items():
            source = ctx.get_parameter_source(option)
            value = getattr(prof, attr)
            if value is not None and source in (ParameterSource.DEFAULT, ParameterSource.ENVIRONMENT,
                                                 None):
                options[option] = Path(value)
    ctx.obj = Ctx(rpc_url=rpc_url, chain_id=chain_id, network=network,
                  deployments=options["deployments"] or deployments,
                  workspace=options["workspace"] or workspace, confirmations=confirmations,
                  keystore=options["keystore"], enc_key=options["enc_key"],
                  rpc_retries=rpc_retries, profile=prof, config=config)


for command in (demo, devnet, deploy, profile, book, whoami, wallet, keys, institution, patient,
                consent, record, audit, fhir, research, node, cost):
    main.add_command(command)
