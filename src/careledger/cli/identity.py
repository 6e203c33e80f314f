"""Who you are: ``careledger wallet`` (keystores), ``profile`` (named identities), ``book``
(names for addresses) and ``whoami``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from careledger.cli.common import (
    Ctx,
    json_option,
    pass_ctx,
    read_keystore,
    show,
    show_one,
)
from careledger.cli.config import Profile, check_name

# -- wallet ---------------------------------------------------------------------------------


@click.group(short_help="Wallet keystores: new, import, address.")
def wallet() -> None:
    """eth-account keystores (Web3 Secret Storage, scrypt): the wallet that signs transactions
    and consents. The password comes from $CARELEDGER_KEYSTORE_PASSWORD or a prompt."""


def _new_password() -> str:
    password = os.environ.get("CARELEDGER_KEYSTORE_PASSWORD")
    if password is None:
        password = click.prompt("new keystore password", hide_input=True,
                                confirmation_prompt=True)
    if len(password) < 8:
        from careledger.errors import InvalidInput

        raise InvalidInput("the keystore password is shorter than 8 characters: choose a longer one")
    return password


#: scrypt N of --light-kdf keystores (geth's light N; the default is 2^18)
LIGHT_SCRYPT_N = 1 << 12


def _write_keystore(out: Path, key: Any, light: bool = False) -> str:
    import json

    from eth_account import Account

    from careledger.errors import InvalidInput
    from careledger.store import write_atomic

    if out.exists():
        raise InvalidInput(f"{out} exists: refusing to overwrite a wallet")
    if not out.parent.is_dir():
        raise InvalidInput(f"{out}: the folder {out.parent} does not exist")
    acct = Account.from_key(key)
    data = Account.encrypt(acct.key, _new_password(), iterations=LIGHT_SCRYPT_N if light else None)
    write_atomic(out, json.dumps(data).encode(), mode=0o600)
    return str(acct.address)


LIGHT_KDF = click.option("--light-kdf", is_flag=True,
                         help="scrypt N=4096 instead of 2^18: opens in milliseconds, and so is "
                              "far cheaper to brute-force; for development and test wallets only.")


@wallet.command("new", short_help="Create a new wallet keystore.")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@LIGHT_KDF
def wallet_new(out: Path, light_kdf: bool) -> None:
    """Generate a random wallet key into the keystore OUT (mode 0600); prints its address.
    Fund the address before it sends transactions (a patient who only signs consents needs
    no funds: a node relays them)."""
    import secrets

    address = _write_keystore(out, secrets.token_bytes(32), light_kdf)
    click.echo(f"wallet {address} saved to {out}")


@wallet.command("import", short_help="Put an existing private key into a keystore.")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@LIGHT_KDF
def wallet_import(out: Path, light_kdf: bool) -> None:
    """Read a private key (0x + 64 hex) from standard input, or a hidden prompt on a terminal,
    and save it encrypted into the keystore OUT. Never pass a key as an argument."""
    from careledger.errors import InvalidInput

    if sys.stdin.isatty():
        raw = click.prompt("private key", hide_input=True)
    else:
        raw = sys.stdin.readline()
    raw = raw.strip()
    try:
        key = bytes.fromhex(raw.removeprefix("0x"))
    except ValueError:
        key = b""
    if len(key) != 32:
        raise InvalidInput("that is not a private key: expected 0x + 64 hex digits on standard input")
    address = _write_keystore(out, key, light_kdf)
    click.echo(f"wallet {address} saved to {out}")


@wallet.command("address", short_help="Print a keystore's address (no password needed).")
@click.argument("keystore", type=click.Path(dir_okay=False, path_type=Path))
def wallet_address(keystore: Path) -> None:
    """The address of KEYSTORE, from its public part."""
    click.echo(keystore_address(keystore))


def keystore_address(path: Path) -> str:
    from careledger.errors import InvalidInput
    from careledger.validate import address

    data = read_keystore(path)
    if "address" not in data:
        raise InvalidInput(f"{path} does not name its address: open it once with the password "
                           "(careledger --keystore FILE whoami)")
    return address("0x" + str(data["address"]).removeprefix("0x").lower(), "keystore address")


# -- profiles -------------------------------------------------------------------------------


@click.group(short_help="Named identities: add, list, remove (then --as NAME).")
def profile() -> None:
    """A profile names who you act as: a wallet keystore, an encryption key file, a workspace
    folder, a node URL, and the deployments folder (--deployments when it was added). `careledger --as NAME ...` uses them; the configuration file holds
    paths and addresses only, never keys or passwords."""


@profile.command("add", short_help="Add (or with --force replace) a profile.")
@click.argument("name")
@click.option("--keystore", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              required=True, help="The wallet keystore (careledger wallet new).")
@click.option("--enc-key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="The encryption key file (careledger keys new).")
@click.option("--workspace", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="This identity's off-chain data folder.")
@click.option("--node", "node_url", default=None, help="This identity's node URL (institutions).")
@click.option("--force", is_flag=True, help="Replace a profile of the same name.")
@pass_ctx
def profile_add(ctx: Ctx, name: str, keystore: Path, enc_key: Path | None,
                workspace: Path | None, node_url: str | None, force: bool) -> None:
    """Save profile NAME."""
    from careledger.errors import InvalidInput

    check_name(name)
    if name in ctx.config.profiles and not force:
        raise InvalidInput(f"profile {name!r} exists: pass --force to replace it")
    ctx.config.check_new_name(name, replacing=name if name in ctx.config.profiles else None)
    if node_url is not None and not node_url.startswith(("http://", "https://")):
        raise InvalidInput(f"--node {node_url!r}: give an http:// or https:// URL")
    addr = keystore_address(keystore)
    if enc_key is not None:
        from careledger.crypto.keyfile import read_public_key

        read_public_key(enc_key)  # refuse a file that is not an encryption key now, not later
    ctx.config.profiles[name] = Profile(
        name=name, keystore=str(keystore.resolve()), address=addr,
        enc_key=str(enc_key.resolve()) if enc_key else None,
        workspace=str(workspace.resolve()) if workspace else None, node=node_url,
        deployments=str(ctx.deployments.resolve()))  # so --as works from any folder
    ctx.config.save()
    click.echo(f"profile {name}: {addr} (saved in {ctx.config.path})")


@profile.command("list", short_help="List profiles.")
@json_option
@pass_ctx
def profile_list(ctx: Ctx, as_json: bool) -> None:
    """Every profile of the configuration file."""
    rows = [{"name": p.name, "address": p.address, "keystore": p.keystore, "encKey": p.enc_key,
             "workspace": p.workspace, "node": p.node} for p in ctx.config.profiles.values()]
    show(rows, as_json, ["name", "address", "workspace", "node"],
         empty=f"no profiles in {ctx.config.path}: add one with `careledger profile add`")


@profile.command("remove", short_help="Forget a profile (its files stay).")
@click.argument("name")
@pass_ctx
def profile_remove(ctx: Ctx, name: str) -> None:
    """Remove profile NAME from the configuration file; its keystore and key files stay."""
    ctx.config.profile(name)
    del ctx.config.profiles[name]
    ctx.config.save()
    click.echo(f"profile {name} removed (its files were not touched)")


# -- address book ---------------------------------------------------------------------------


@click.group(short_help="Names for addresses: add, list, remove.")
def book() -> None:
    """Names for the addresses you deal with: tables show them, and commands accept them
    wherever an address is asked for (profiles' names count too)."""


@book.command("add", short_help="Name an address.")
@click.argument("name")
@click.argument("address")
@click.option("--force", is_flag=True, help="Replace an entry of the same name.")
@pass_ctx
def book_add(ctx: Ctx, name: str, address: str, force: bool) -> None:
    """Save ADDRESS under NAME."""
    from careledger.errors import InvalidInput
    from careledger.validate import address as checked

    check_name(name)
    addr = checked(address)
    if name in ctx.config.addresses and not force:
        raise InvalidInput(f"{name!r} is already in the address book: pass --force to replace it")
    ctx.config.check_new_name(name, replacing=name if name in ctx.config.addresses else None)
    ctx.config.addresses[name] = addr
    ctx.config.save()
    click.echo(f"{name} = {addr}")


@book.command("list", short_help="List the address book.")
@json_option
@pass_ctx
def book_list(ctx: Ctx, as_json: bool) -> None:
    """Every name: address book entries and profiles."""
    rows = [{"name": n, "address": a, "from": "book"} for n, a in ctx.config.addresses.items()]
    rows += [{"name": p.name, "address": p.address, "from": "profile"}
             for p in ctx.config.profiles.values()]
    show(sorted(rows, key=lambda r: r["name"].lower()), as_json, ["name", "address", "from"],
         empty="the address book is empty: careledger book add NAME 0x...")


@book.command("remove", short_help="Forget a name.")
@click.argument("name")
@pass_ctx
def book_remove(ctx: Ctx, name: str) -> None:
    """Remove NAME from the address book."""
    from careledger.errors import InvalidInput

    if name not in ctx.config.addresses:
        raise InvalidInput(f"{name!r} is not in the address book")
    del ctx.config.addresses[name]
    ctx.config.save()
    click.echo(f"{name} removed")


# -- whoami ---------------------------------------------------------------------------------




@click.command(short_help="Who you act as, and what the chain knows about you.")
@json_option
@pass_ctx
def whoami(ctx: Ctx, as_json: bool) -> None:
    """Your address and name, your balance, your institution membership (status, roles, node
    URL) and the encryption keys registered for you, compared with your key file. Needs no
    password when the wallet is a keystore (its address is in its public part)."""
    from careledger.codes import InstitutionStatus

    addr = (keystore_address(ctx.keystore) if ctx.keystore is not None
            else ctx.account().address)
    ledger = ctx.ledger()
    chain = ledger.chain
    from careledger.crypto.keyfile import read_public_key

    local_key = ("0x" + read_public_key(ctx.enc_key).hex()) if ctx.enc_key is not None else None
    member = ledger.institutions.member(addr)
    patient_key = "0x" + ledger.consent.patient_key(addr).hex()
    info: dict[str, Any] = {
        "profile": ctx.profile.name if ctx.profile else None,
        "address": addr,
        "name": ctx.config.name_of(addr),
        "chainId": chain.chain_id,
        "balanceEth": f"{chain.w3.eth.get_balance(addr) / 10**18:.6f}",
        "workspace": str(ctx.workspace),
        "encryptionKeyFile": str(ctx.enc_key) if ctx.enc_key else None,
        "encryptionKey": local_key,
    }
    if member.status is not InstitutionStatus.NONE:
        key = "0x" + member.encryption_key.hex()
        info |= {"institution": member.status.name.lower(), "roles": str(member.roles),
                 "node": ledger.institutions.endpoint_of(addr) or None,
                 "institutionKeyOnChain": key,
                 "keyFileMatches": None if local_key is None else local_key == key}
    else:
        info["institution"] = "not a member"
    if int(patient_key, 16):
        info |= {"patientKeyOnChain": patient_key,
                 "keyFileMatchesPatientKey": None if local_key is None else local_key == patient_key}
    else:
        info["patientKeyOnChain"] = "none registered (careledger patient register-key)"
    show_one(info, as_json)
