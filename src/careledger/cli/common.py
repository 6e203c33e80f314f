"""What every ``careledger`` command group shares: the options context (resolved lazily, so
nothing connects at import and ``--help`` loads neither web3 nor eth-account), one-line
errors, profiles and the address book, the parsers of addresses, scopes and expiries, and the
output helpers (tables, ``--json``, who acted)."""

from __future__ import annotations

import json
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import click

from careledger.cli.config import Config, Profile

NETWORK_FILES = (Path("careledger-networks.json"),
                 Path.home() / ".config" / "careledger" / "networks.json")
#: Seconds from now beyond which an expiry is refused (100 years; the chain stores uint64).
MAX_EXPIRY_AHEAD = 100 * 365 * 86400
#: What ``--help`` says about purposes and categories (checked against ``careledger.codes`` by
#: a test, and kept literal so that help loads no Ethereum library).
PURPOSES_HELP = ("TREAT (treatment), ETREAT (emergency treatment), HPAYMT (payment), "
                 "HOPERAT (operations), HRESCH (research), PUBHLTH (public health)")
CATEGORIES_HELP = ("LAB, IMAGING, DISCHARGE, MEDICATION, VITALS, NOTE, ALLERGY (or their LOINC "
                   "codes, such as 11502-2 for LAB)")
SCOPE_HELP = f"ALL, a category ({CATEGORIES_HELP}) or a record id (0x + 64 hex)."
EXPIRY_HELP = "A duration from now (90m, 12h, 30d, 52w) or @UNIXTIME."

F = TypeVar("F", bound=Callable[..., Any])


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    notes = [n for n in getattr(exc, "__notes__", []) if n]
    return line + ("; " + "; ".join(notes) if notes else "")


class OneLineErrors(click.Group):
    """Every failure is one line on stderr and a non-zero exit: usage errors (2), CareLedger
    errors and bad input (1), anything unexpected (1, with the traceback only when
    ``$CARELEDGER_DEBUG`` is set)."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,
             complete_var: str | None = None, standalone_mode: bool = True,
             **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        code = 0
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "careledger"
            code = _say(f"{exc.format_message()} (see `{where} --help`)", 2)
        except click.ClickException as exc:
            code = _say(exc.format_message(), exc.exit_code)
        except (click.Abort, KeyboardInterrupt, EOFError):
            code = _say("interrupted: nothing more was done", 130)
        except BaseException as exc:
            if isinstance(exc, SystemExit):
                raise
            code = _report(exc)
        sys.exit(code)


def _report(exc: BaseException) -> int:
    from careledger.errors import CareLedgerError

    if os.environ.get("CARELEDGER_DEBUG"):
        traceback.print_exception(exc)
    if isinstance(exc, CareLedgerError):
        return _say(f"{type(exc).__name__}: {_one_line(exc)}", 1)
    if type(exc).__module__.startswith("web3"):  # the endpoint answered, but with an error
        message = exc.args[0] if exc.args else exc
        if isinstance(message, dict):
            message = message.get("message", message)
        return _say(f"the chain's RPC endpoint refused a request ({type(exc).__name__}): "
                    f"{str(message).splitlines()[0]}", 1)
    if isinstance(exc, ValueError | TypeError):  # eth-utils/web3 for malformed hex and numbers
        return _say(f"invalid input: {_one_line(exc)}", 1)
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if getattr(exc, "filename", None) else ""
        return _say(f"{exc.strerror or type(exc).__name__}{where}: check the path and its "
                    "permissions", 1)
    return _say(f"internal error {type(exc).__name__}: {_one_line(exc)} (set CARELEDGER_DEBUG=1 "
                "for the traceback, and please report it)", 1)


def _say(message: str, code: int) -> int:
    click.echo(f"error: {message}", err=True)
    return code


def fail(message: str) -> NoReturn:
    raise click.ClickException(message.splitlines()[0] if message else "failed")


@dataclass
class Ctx:
    """Options shared by every subcommand, resolved lazily (nothing connects at import).

    ``profile``, when set, supplies the wallet keystore, encryption key, workspace and node URL
    that were not given explicitly.
    """

    rpc_url: str | None = None
    chain_id: int | None = None
    network: str | None = None
    deployments: Path = Path("deployments")
    workspace: Path = Path("careledger-data")
    confirmations: int = 0
    keystore: Path | None = None
    enc_key: Path | None = None
    rpc_retries: int = 3
    profile: Profile | None = None
    config: Config = field(default_factory=Config.load)
    _cache: dict[str, Any] = field(default_factory=dict)

    # -- connection -------------------------------------------------------------------------

    def chain(self) -> Any:
        from careledger.chain import Chain, RetryPolicy
        from careledger.errors import InvalidInput

        if "chain" not in self._cache:
            url, chain_id, confs = self.rpc_url, self.chain_id, self.confirmations
            if self.network:
                net = load_network(self.network)
                url = url or net["rpc_url"]
                chain_id = chain_id or net.get("chain_id")
                confs = confs or int(net.get("confirmations", 0))
            if not url:
                raise InvalidInput("no chain given: pass --rpc-url (and --chain-id) or --network, "
                                   "or set $CARELEDGER_RPC_URL")
            retry = RetryPolicy(attempts=max(1, self.rpc_retries + 1), initial_delay=0.1,
                                max_delay=1.0)
            # 5 s per request: a hung endpoint costs (retries + 1) x 5 s, a dead one far less
            self._cache["chain"] = Chain(url, chain_id=chain_id, confirmations=confs,
                                         retry=retry, request_timeout=5.0)
        return self._cache["chain"]

    def ledger(self) -> Any:
        from careledger.contracts import CareLedger, Deployment

        if "ledger" not in self._cache:
            chain = self.chain()
            ledger = CareLedger(chain, Deployment.for_chain(self.deployments, chain))
            ledger.check_deployed()  # a stale manifest is one clear line, not a failed call later
            self._cache["ledger"] = ledger
        return self._cache["ledger"]

    # -- identity ---------------------------------------------------------------------------

    def account(self) -> Any:
        from careledger.errors import InvalidInput

        if "account" in self._cache:
            return self._cache["account"]
        if self.keystore is not None:
            acct = open_keystore(self.keystore)
            if self.profile is not None and Path(self.profile.keystore) == self.keystore \
                    and acct.address.lower() != self.profile.address.lower():
                raise InvalidInput(
                    f"the keystore of profile {self.profile.name} opens {acct.address}, not the "
                    f"address {self.profile.address} the profile names: add the profile again")
        elif os.environ.get("CARELEDGER_PRIVATE_KEY"):
            from eth_account import Account

            try:
                acct = Account.from_key(os.environ["CARELEDGER_PRIVATE_KEY"])
            except (ValueError, TypeError) as exc:
                raise InvalidInput("$CARELEDGER_PRIVATE_KEY is not a valid private key "
                                   "(0x + 64 hex digits)") from exc
        else:
            raise InvalidInput("no wallet: pass --as PROFILE or --keystore FILE, or set "
                               "$CARELEDGER_PRIVATE_KEY (careledger wallet new creates a keystore)")
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
                                   "or a --as profile with one (create it with `careledger keys new`)")
            password = os.environ.get("CARELEDGER_ENC_PASSWORD")
            if password is None:
                password = ask_password(f"password of {self.enc_key}", "CARELEDGER_ENC_PASSWORD")
            self._cache["keypair"] = EncryptionKeyPair.load(self.enc_key, password)
        return self._cache["keypair"]

    def workspace_(self, *, create: bool = True) -> Any:
        """This party's workspace (``create=False`` for read commands: a missing folder is an
        error, not a new empty workspace in the current directory)."""
        from careledger.errors import InvalidInput
        from careledger.store import Workspace

        if not create and not self.workspace.is_dir():
            raise InvalidInput(f"no workspace at {self.workspace}: pass --workspace DIR or --as "
                               "PROFILE (the folder your records were published into)")
        return Workspace.local(self.workspace)

    def name_of(self, addr: str) -> str:
        """A profile's or address book's name for ``addr``, else the address shortened."""
        name = self.config.name_of(addr)
        return name if name else short(addr)

    def who(self) -> str:
        """Who acts: ``"hospital-a (0xf39F…2266)"`` or the bare address."""
        addr = self.account().address
        name = self.config.name_of(addr)
        return f"{name} ({short(addr)})" if name else addr


def open_keystore(path: Path) -> Any:
    """The account of an eth-account keystore file (password from
    ``$CARELEDGER_KEYSTORE_PASSWORD`` or a prompt).

    Raises:
        InvalidInput: the file is missing or is not a keystore.
        WrongPassword: the password does not open it.
    """
    from eth_account import Account

    from careledger.errors import InvalidInput, WrongPassword

    data = read_keystore(path)
    password = os.environ.get("CARELEDGER_KEYSTORE_PASSWORD")
    if password is None:
        password = ask_password(f"password of {path}", "CARELEDGER_KEYSTORE_PASSWORD")
    try:
        key = Account.decrypt(data, password)
    except ValueError as exc:
        if "MAC mismatch" not in str(exc):
            raise InvalidInput(f"{path} is not a keystore this SDK can open: {exc}") from exc
        raise WrongPassword(f"the password does not open {path}: try again") from exc
    except (KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"{path} is not an eth-account keystore (missing {exc}): create one "
                           "with `careledger wallet new`") from exc
    return Account.from_key(key)


def ask_password(prompt: str, variable: str) -> str:
    """A hidden prompt on a terminal; without one (cron, CI, a pipe) a clear error naming the
    environment variable to set instead."""
    from careledger.errors import InvalidInput

    if not sys.stdin.isatty():
        raise InvalidInput(f"no terminal to ask the {prompt}: set ${variable}")
    value: str = click.prompt(prompt, hide_input=True)
    return value


def read_keystore(path: Path) -> dict[str, Any]:
    """A keystore's JSON, checked for the fields of the Web3 Secret Storage format."""
    from careledger.errors import InvalidInput

    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise InvalidInput(f"cannot read keystore {path}: {exc.strerror}") from exc
    except ValueError:
        raise InvalidInput(f"{path} is not a keystore (not JSON): create one with "
                           "`careledger wallet new`") from None
    if not isinstance(data, dict) or not ({"crypto", "Crypto"} & data.keys()) or "version" not in data:
        raise InvalidInput(f"{path} is not an eth-account keystore (no 'crypto' and 'version'): "
                           "create one with `careledger wallet new`")
    return data


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


def current_ctx() -> Ctx | None:
    click_ctx = click.get_current_context(silent=True)
    obj = click_ctx.find_object(Ctx) if click_ctx is not None else None
    return obj


# -- parsers --------------------------------------------------------------------------------


def parse_address(value: str) -> str:
    """An address, or the name of a profile or address book entry.

    A mixed-case address must carry a correct EIP-55 checksum (a typo is refused); an all
    lower- or upper-case one is accepted as is.
    """
    from careledger.errors import InvalidInput
    from careledger.validate import address

    if not value.startswith(("0x", "0X")):
        ctx = current_ctx()
        found = ctx.config.address_of(value) if ctx is not None else None
        if found is None:
            raise InvalidInput(f"{value!r} is neither an address (0x + 40 hex digits) nor a name "
                               "in your profiles or address book (careledger book add NAME 0x...)")
        return found
    return address(value)


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


def parse_expiry(value: str, now: int, what: str = "expiry") -> int:
    """A future unix time from ``30d``-style durations or ``@UNIXTIME``, at most 100 years
    ahead (the chain stores uint64 seconds)."""
    from careledger.errors import InvalidInput

    text = value.strip()
    if text.startswith("@") and text[1:].isdigit():
        at = int(text[1:])
    else:
        m = re.fullmatch(r"(\d{1,12})([smhdw]?)", text)
        if not m:
            raise InvalidInput(f"{what} {value!r}: use a duration like 30d, 12h, 90m or @UNIXTIME")
        mult = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]
        at = now + int(m.group(1)) * mult
    if at <= now:
        raise InvalidInput(f"{what} {value!r} is not in the future (chain time is {now})")
    if at - now > MAX_EXPIRY_AHEAD:
        raise InvalidInput(f"{what} {value!r} is more than 100 years ahead: use at most 36500d")
    return at


def parse_size(value: str, what: str = "--max-size") -> int:
    """Bytes from ``500M``, ``2G``, ``1.5GiB``, ``4096`` (K, M, G, T are powers of 1024)."""
    from careledger.errors import InvalidInput

    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", value)
    if not m:
        raise InvalidInput(f"{what} {value!r}: use a size like 500M, 2G or 4096")
    power = " KMGT".index(m.group(2).upper() or " ")
    size = int(float(m.group(1)) * 1024 ** power)
    if size <= 0:
        raise InvalidInput(f"{what} must be positive")
    return size


@contextmanager
def transfer_progress(label: str, total: int | None = None) -> Iterator[Any]:
    """A progress bar on stderr (bytes, bytes/s, ETA) when stderr is a terminal; yields an
    object with ``advance(n)`` and ``total(n)``, silent otherwise."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    progress = Progress("[progress.description]{task.description}", BarColumn(),
                        DownloadColumn(), TransferSpeedColumn(), TimeRemainingColumn(),
                        transient=True, disable=not sys.stderr.isatty(),
                        console=__import__("rich.console").console.Console(stderr=True))
    with progress:
        task = progress.add_task(label, total=total)

        class _Bar:
            def advance(self, n: int) -> None:
                progress.advance(task, n)

            def total(self, n: int) -> None:
                progress.update(task, total=n)

        yield _Bar()


def chain_now(ctx: Ctx) -> int:
    return int(ctx.chain().w3.eth.get_block("latest")["timestamp"])


# -- output ---------------------------------------------------------------------------------


def short(addr: str) -> str:
    return f"{addr[:6]}…{addr[-4:]}" if len(addr) == 42 else addr


def check_out_path(out: Path | None) -> None:
    """Refuse an ``--out`` that cannot be written, before anything is fetched or logged."""
    from careledger.errors import InvalidInput

    if out is None:
        return
    if out.is_dir():
        raise InvalidInput(f"--out {out} is a folder: name a file")
    if not out.parent.is_dir():
        raise InvalidInput(f"--out {out}: the folder {out.parent} does not exist")
    if not os.access(out.parent, os.W_OK):
        raise InvalidInput(f"--out {out}: the folder {out.parent} is not writable by you")


def emit_plaintext(data: bytes, out: Path | None) -> None:
    """Decrypted health data to ``out`` (written atomically, mode 0600) or to stdout."""
    from careledger.store import write_atomic

    if out is None:
        sys.stdout.buffer.write(data + b"\n")
        sys.stdout.flush()
        return
    check_out_path(out)
    write_atomic(out, data, mode=0o600)
    click.echo(f"{len(data)} bytes written to {out} (readable by you only)")


def echo_tx(ctx: Ctx, receipt: Any, what: str) -> None:
    """One line per transaction: what happened, who acted, where it is."""
    click.echo(f"{what} by {ctx.who()}: tx {receipt['transactionHash'].to_0x_hex()} "
               f"(block {receipt['blockNumber']}, gas {receipt['gasUsed']:,})")


def json_option(fn: F) -> F:
    """``--json``: print the command's result as JSON instead of a table."""
    return click.option("--json", "as_json", is_flag=True,
                        help="Print JSON (stable field names) instead of a table.")(fn)


def show(rows: list[dict[str, Any]], as_json: bool, columns: Sequence[str], *,
         empty: str = "nothing to show", title: str | None = None) -> None:
    """Rows as JSON (every field) or as a table of ``columns``."""
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if title:
        click.echo(title)
    if not rows:
        click.echo(empty)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table()
    for c in columns:
        table.add_column(c, overflow="fold")  # ids and addresses whole, never cut with "…"
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    console = Console()
    if not console.is_terminal:
        console = Console(width=240)  # a pipe or a file: one row per line
    console.print(table)


def show_one(data: dict[str, Any], as_json: bool) -> None:
    """One object as JSON or as ``key: value`` lines."""
    if as_json:
        click.echo(json.dumps(data, indent=2, default=str))
        return
    width = max(len(k) for k in data)
    for k, v in data.items():
        click.echo(f"{k:<{width}}  {'' if v is None else v}")
