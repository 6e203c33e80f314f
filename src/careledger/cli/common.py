"""What every ``careledger`` command group shares: the options context (resolved lazily, so
nothing connects at import), one-line errors, and the parsers of addresses, scopes and
expiries."""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import click

NETWORK_FILES = (Path("careledger-networks.json"),
                 Path.home() / ".config" / "careledger" / "networks.json")


class OneLineErrors(click.Group):
    """Turns every CareLedger error into one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        from careledger.errors import CareLedgerError

        try:
            return super().invoke(ctx)
        except CareLedgerError as exc:
            fail(f"{type(exc).__name__}: {exc}")
        except (ValueError, TypeError) as exc:
            # web3/eth-utils raise these for malformed addresses and hex
            if isinstance(exc, click.ClickException):
                raise
            fail(f"invalid input: {exc}")


def fail(message: str) -> NoReturn:
    raise click.ClickException(message.splitlines()[0] if message else "failed")


@dataclass
class Ctx:
    """Options shared by every subcommand, resolved lazily (nothing connects at import)."""

    rpc_url: str | None = None
    chain_id: int | None = None
    network: str | None = None
    deployments: Path = Path("deployments")
    workspace: Path = Path("careledger-data")
    confirmations: int = 0
    keystore: Path | None = None
    enc_key: Path | None = None
    _cache: dict[str, Any] = field(default_factory=dict)

    def chain(self) -> Any:
        from careledger.chain import Chain
        from careledger.errors import InvalidInput

        if "chain" not in self._cache:
            url, chain_id, confs = self.rpc_url, self.chain_id, self.confirmations
            if self.network:
                net = load_network(self.network)
                url = url or net["rpc_url"]
                chain_id = chain_id or net.get("chain_id")
                confs = confs or int(net.get("confirmations", 0))
            if not url:
                raise InvalidInput("no chain given: pass --rpc-url (and --chain-id) or --network")
            self._cache["chain"] = Chain(url, chain_id=chain_id, confirmations=confs)
        return self._cache["chain"]

    def ledger(self) -> Any:
        from careledger.contracts import CareLedger, Deployment

        if "ledger" not in self._cache:
            chain = self.chain()
            self._cache["ledger"] = CareLedger(chain, Deployment.for_chain(self.deployments, chain))
        return self._cache["ledger"]

    def account(self) -> Any:
        from eth_account import Account

        from careledger.errors import InvalidInput, WrongPassword

        if "account" in self._cache:
            return self._cache["account"]
        if self.keystore is not None:
            try:
                data = json.loads(self.keystore.read_text())
            except (OSError, ValueError) as exc:
                raise InvalidInput(f"cannot read keystore {self.keystore}: {exc}") from exc
            password = os.environ.get("CARELEDGER_KEYSTORE_PASSWORD")
            if password is None:
                password = click.prompt("keystore password", hide_input=True)
            try:
                key = Account.decrypt(data, password)
            except ValueError as exc:
                raise WrongPassword(
                    f"the password does not open {self.keystore}: try again") from exc
            acct = Account.from_key(key)
        elif os.environ.get("CARELEDGER_PRIVATE_KEY"):
            try:
                acct = Account.from_key(os.environ["CARELEDGER_PRIVATE_KEY"])
            except (ValueError, TypeError) as exc:
                raise InvalidInput("$CARELEDGER_PRIVATE_KEY is not a valid private key") from exc
        else:
            raise InvalidInput(
                "no wallet: pass --keystore FILE or set $CARELEDGER_PRIVATE_KEY")
        self._cache["account"] = acct
        return acct

    def sender(self) -> Any:
        from careledger.chain import Sender

        if "sender" not in self._cache:
            self._cache["sender"] = Sender(chain=self.chain(), account=self.account())
        return self._cache["sender"]

    def keypair(self) -> Any:
        from careledger.crypto import EncryptionKeyPair
        from careledger.errors import InvalidInput

        if "keypair" not in self._cache:
            if self.enc_key is None:
                raise InvalidInput("this command needs your encryption key: pass --enc-key FILE "
                                   "(create one with `careledger keys new`)")
            password = os.environ.get("CARELEDGER_ENC_PASSWORD")
            if password is None:
                password = click.prompt("encryption key password", hide_input=True)
            self._cache["keypair"] = EncryptionKeyPair.load(self.enc_key, password)
        return self._cache["keypair"]

    def workspace_(self) -> Any:
        from careledger.store import Workspace

        return Workspace.local(self.workspace)


def load_network(name: str) -> dict[str, Any]:
    from careledger.errors import InvalidInput

    for path in NETWORK_FILES:
        if path.exists():
            try:
                nets = json.loads(path.read_text())
            except ValueError as exc:
                raise InvalidInput(f"{path} is not valid JSON: {exc}") from exc
            if name in nets:
                net: dict[str, Any] = nets[name]
                return net
    raise InvalidInput(f"unknown network {name!r}: add it to {NETWORK_FILES[0]} as "
                       '{"' + name + '": {"rpc_url": "...", "chain_id": N}}')


pass_ctx = click.make_pass_decorator(Ctx)


def parse_address(value: str) -> str:
    from eth_utils.address import is_address, to_checksum_address

    from careledger.errors import InvalidInput

    if not is_address(value):
        raise InvalidInput(f"{value!r} is not an Ethereum address (0x + 40 hex digits)")
    return str(to_checksum_address(value))


def parse_scope(value: str) -> bytes:
    from careledger.codes import SCOPE_ALL, Category
    from careledger.errors import InvalidInput

    if value.upper() == "ALL":
        return SCOPE_ALL
    if value.startswith("0x"):
        raw = bytes.fromhex(value[2:]) if re.fullmatch(r"0x[0-9a-fA-F]{64}", value) else b""
        if len(raw) != 32:
            raise InvalidInput(f"scope {value!r}: a record id is 0x + 64 hex digits")
        return raw
    return Category.parse(value).code


def parse_expiry(value: str, now: int) -> int:
    from careledger.errors import InvalidInput

    m = re.fullmatch(r"(\d+)([smhdw]?)", value.strip())
    if value.startswith("@") and value[1:].isdigit():
        return int(value[1:])
    if not m:
        raise InvalidInput(f"expiry {value!r}: use a duration like 30d, 12h, 90m or @UNIXTIME")
    mult = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]
    return now + int(m.group(1)) * mult


def chain_now(ctx: Ctx) -> int:
    return int(ctx.chain().w3.eth.get_block("latest")["timestamp"])


def emit_plaintext(data: bytes, out: Path | None) -> None:
    """Decrypted health data to ``out`` (written atomically, mode 0600) or to stdout."""
    from careledger.errors import InvalidInput
    from careledger.store import write_atomic

    if out is None:
        sys.stdout.buffer.write(data + b"\n")
        return
    if not out.parent.is_dir():
        raise InvalidInput(f"--out {out}: the folder {out.parent} does not exist")
    write_atomic(out, data, mode=0o600)
    click.echo(f"{len(data)} bytes written to {out} (readable by you only)")


def echo_tx(receipt: Any, what: str) -> None:
    click.echo(f"{what}: tx {receipt['transactionHash'].to_0x_hex()} "
               f"(block {receipt['blockNumber']}, gas {receipt['gasUsed']:,})")
