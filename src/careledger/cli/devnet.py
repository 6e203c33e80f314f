"""Setting up a chain: ``careledger demo``, ``devnet`` and ``deploy``."""

from __future__ import annotations

import re
import signal
import sys
import time
from pathlib import Path

import click

from careledger.cli.common import (
    Ctx,
    fail,
    parse_address,
    pass_ctx,
)


@click.command(short_help="Run the end-to-end sharing scenario on a fresh local devnet.")
@click.option("--workdir", type=click.Path(file_okay=False), default=None,
              help="Where keys, blobs and the manifest go (default: a new temp folder).")
@click.option("--batch-size", type=click.IntRange(1, 1024), default=100, show_default=True)
def demo(workdir: str | None, batch_size: int) -> None:
    """Start anvil, deploy, play the whole story with the SDK, print a summary, stop anvil."""
    from careledger.demo import main as run

    result = run(workdir, batch_size=batch_size)
    ok = (result.denied_after_revocation and result.chain_verified and result.erased_unreadable
          and result.b_read_ok and result.researcher_read_ok and result.emergency_read_ok)
    if not ok:
        fail("the demo finished but an expected outcome did not hold (see above)")


@click.command(short_help="Run a local anvil devnet in the foreground.")
@click.option("--port", type=click.IntRange(1, 65535), default=None,
              help="TCP port (default: a free one).")
@click.option("--chain-id", "devnet_chain_id", type=click.IntRange(1, 2**53 - 1), default=31337,
              show_default=True)
@click.option("--state", "state_file", type=click.Path(dir_okay=False), default=None,
              help="Load/save chain state to this file so a restart resumes.")
@click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write CARELEDGER_RPC_URL, CARELEDGER_CHAIN_ID and DEV_KEY_0.. to this "
                   "file (mode 0600, for `. FILE` in a shell); removed when the devnet stops.")
def devnet(port: int | None, devnet_chain_id: int, state_file: str | None,
           env_file: Path | None) -> None:
    """Start a native anvil, print RPC URL, chain id and funded dev accounts; Ctrl-C or
    SIGTERM stops it (and the anvil dies with this command even on SIGKILL)."""
    from careledger.chain import Devnet
    from careledger.cli.common import check_out_path
    from careledger.store import write_atomic

    check_out_path(env_file)

    # NOTE: a background job of a non-interactive shell starts with SIGINT ignored, and a child
    # inherits that: restore Python's handler so that Ctrl-C (or kill -INT) stops the devnet.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    node = Devnet(port=port, chain_id=devnet_chain_id, state_file=state_file).start()
    click.echo(f"RPC URL   {node.rpc_url}")
    click.echo(f"chain id  {node.chain_id}")
    click.echo("dev accounts (funded; never use these keys on a real chain):")
    for i, acct in enumerate(node.accounts):
        click.echo(f"  ({i}) {acct.address}  {acct.private_key}")
    if env_file is not None:
        lines = [f"CARELEDGER_RPC_URL={node.rpc_url}", f"CARELEDGER_CHAIN_ID={node.chain_id}"]
        lines += [f"DEV_KEY_{i}={a.private_key}" for i, a in enumerate(node.accounts)]
        write_atomic(env_file, ("\n".join(lines) + "\n").encode(), mode=0o600)
        click.echo(f"environment written to {env_file}")
    click.echo("Ctrl-C to stop.", nl=True)
    sys.stdout.flush()
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
        if env_file is not None:
            env_file.unlink(missing_ok=True)
        click.echo("devnet stopped.")


@click.command(short_help="Deploy the contracts and write deployments/<chainId>.json.")
@click.option("--member", "members", multiple=True, required=True,
              help="Genesis member ADDRESS:ROLES:ENCKEY (roles like PROVIDER+EMERGENCY, "
                   "ENCKEY 0x + 64 hex). Repeat per member.")
@click.option("--threshold", type=click.IntRange(1, 255), required=True,
              help="Approvals a proposal needs (M).")
@click.option("--proposal-lifetime", type=click.IntRange(1, 2**64 - 1), default=7 * 86400,
              show_default=True, help="Seconds a proposal stays open.")
@click.option("--force", is_flag=True, help="Overwrite an existing manifest for this chain.")
@pass_ctx
def deploy(ctx: Ctx, members: tuple[str, ...], threshold: int, proposal_lifetime: int,
           force: bool) -> None:
    """Deploy InstitutionRegistry, ConsentRegistry and RecordRegistry with EIP-1559 fees."""
    from careledger.codes import Role
    from careledger.contracts import Deployment, GenesisMember
    from careledger.contracts import deploy as do_deploy
    from careledger.errors import InvalidInput

    chain = ctx.chain()
    path = Deployment.path_for(ctx.deployments, chain.chain_id)
    if path.exists() and not force:
        raise InvalidInput(f"{path} exists: pass --force to deploy a new set of contracts")
    genesis = []
    for m in members:
        parts = m.split(":")
        if len(parts) != 3:
            raise InvalidInput(f"--member {m!r}: use ADDRESS:ROLES:ENCKEY")
        key = parts[2].removeprefix("0x")
        if not re.fullmatch(r"[0-9a-fA-F]{64}", key):
            raise InvalidInput(f"--member {m!r}: ENCKEY must be 0x + 64 hex digits")
        genesis.append(GenesisMember(parse_address(parts[0]), Role.parse(parts[1].replace("+", ",")),
                                     bytes.fromhex(key)))
    dep = do_deploy(ctx.sender(), genesis, threshold=threshold, proposal_lifetime=proposal_lifetime)
    written = dep.save(ctx.deployments)
    click.echo(f"InstitutionRegistry {dep.institution_registry}")
    click.echo(f"ConsentRegistry     {dep.consent_registry}")
    click.echo(f"RecordRegistry      {dep.record_registry}")
    click.echo(f"manifest            {written}")
    click.echo(f"deployed by {ctx.who()} on chain {chain.chain_id} at block {dep.block}")
