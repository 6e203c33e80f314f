"""`ape run deploy [--network ...]`: deploy CareLedger with the SDK's own deployment code.

The wallet is `$CARELEDGER_PRIVATE_KEY` (or, on a local network, ape's first test account).
Genesis members: `$CARELEDGER_GENESIS` as `ADDRESS:ROLES:ENCKEY,...` (default on a local
network: the deployer as PROVIDER with a freshly generated encryption key); threshold
`$CARELEDGER_THRESHOLD` (default 1). Writes `deployments/<chainId>.json`.
"""

from __future__ import annotations

import os

import click
from ape import accounts, chain
from ape.cli import ConnectedProviderCommand, network_option

from careledger.chain import Chain, Sender
from careledger.codes import Role
from careledger.contracts import GenesisMember, deploy
from careledger.crypto import EncryptionKeyPair


@click.command(cls=ConnectedProviderCommand)
@network_option()
def cli(network: str) -> None:
    """Deploy InstitutionRegistry, ConsentRegistry and RecordRegistry."""
    rpc = getattr(chain.provider, "uri", None) or getattr(chain.provider, "http_uri", None)
    if not rpc:
        raise click.ClickException(f"provider of {network} has no HTTP RPC URL; use foundry or node")
    sdk_chain = Chain(rpc)
    key = os.environ.get("CARELEDGER_PRIVATE_KEY")
    if not key:
        if not chain.provider.network.is_local:
            raise click.ClickException("set $CARELEDGER_PRIVATE_KEY for a non-local network")
        key = accounts.test_accounts[0].private_key
    sender = Sender.from_key(sdk_chain, key)
    genesis = []
    spec = os.environ.get("CARELEDGER_GENESIS")
    if spec:
        for item in spec.split(","):
            addr, roles, enc = item.split(":")
            genesis.append(GenesisMember(addr, Role.parse(roles.replace("+", ",")),
                                         bytes.fromhex(enc.removeprefix("0x"))))
    else:
        genesis.append(GenesisMember(sender.address, Role.PROVIDER,
                                     EncryptionKeyPair.generate().public_bytes))
    dep = deploy(sender, genesis, threshold=int(os.environ.get("CARELEDGER_THRESHOLD", "1")))
    path = dep.save("deployments")
    click.echo(f"deployed on chain {dep.chain_id}: {dep.institution_registry} "
               f"{dep.consent_registry} {dep.record_registry} -> {path}")
