"""``careledger keys``: encryption keypairs (X25519, separate from wallet keys)."""

from __future__ import annotations

import os
from pathlib import Path

import click


@click.group(short_help="Encryption keys (X25519, separate from wallet keys).")
def keys() -> None:
    """Encryption keypairs: records are wrapped to their public half."""


@keys.command("new", short_help="Generate a password-protected encryption key file.")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def keys_new(out: Path) -> None:
    """Generate an X25519 keypair into OUT (password from $CARELEDGER_ENC_PASSWORD or prompt)."""
    from careledger.crypto import EncryptionKeyPair
    from careledger.errors import InvalidInput

    if out.exists():
        raise InvalidInput(f"{out} exists: refusing to overwrite a key")
    if not out.parent.is_dir():
        raise InvalidInput(f"{out}: the folder {out.parent} does not exist")
    password = os.environ.get("CARELEDGER_ENC_PASSWORD") or click.prompt(
        "new password", hide_input=True, confirmation_prompt=True)
    kp = EncryptionKeyPair.generate()
    kp.save(out, password)
    click.echo(f"public key 0x{kp.public_bytes.hex()} saved to {out}")


@keys.command("public", short_help="Print a key file's public key (no password needed).")
@click.argument("key_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def keys_public(key_file: Path) -> None:
    """The public half of KEY_FILE: what `careledger deploy --member`, `institution propose
    admit --enc-pubkey` and `patient register-key` put on chain."""
    from careledger.crypto.keyfile import read_public_key

    click.echo("0x" + read_public_key(key_file).hex())
