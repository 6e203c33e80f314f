"""The ``careledger`` command: a subcommand group per actor.

Connection: ``--rpc-url``/``--chain-id`` or ``--network NAME`` (from ``careledger-networks.json``
or ``~/.config/careledger/networks.json``); contract addresses from
``<deployments>/<chainId>.json`` written by ``careledger deploy``.
Keys: the wallet from ``--keystore FILE`` (password from ``$CARELEDGER_KEYSTORE_PASSWORD`` or a
prompt) or ``$CARELEDGER_PRIVATE_KEY``; the encryption key from ``--enc-key FILE`` (password
from ``$CARELEDGER_ENC_PASSWORD`` or a prompt). Never from command-line arguments.
Bad input ends with one clear line and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click
from web3.logs import DISCARD

from careledger import __version__

if TYPE_CHECKING:
    from careledger.consent.messages import GrantConsent, RevokeConsent

F = TypeVar("F", bound=Callable[..., Any])

NETWORK_FILES = (Path("careledger-networks.json"),
                 Path.home() / ".config" / "careledger" / "networks.json")


class _Group(click.Group):
    """Turns every CareLedger error into one line on stderr and exit code 1."""

    def invoke(self, ctx: click.Context) -> Any:
        from careledger.errors import CareLedgerError

        try:
            return super().invoke(ctx)
        except CareLedgerError as exc:
            _fail(f"{type(exc).__name__}: {exc}")
        except (ValueError, TypeError) as exc:
            # web3/eth-utils raise these for malformed addresses and hex
            if isinstance(exc, click.ClickException):
                raise
            _fail(f"invalid input: {exc}")


def _fail(message: str) -> NoReturn:
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
                net = _load_network(self.network)
                url = url or net["rpc_url"]
                chain_id = chain_id or net.get("chain_id")
                confs = confs or int(net.get("confirmations", 0))
            if not url:
                raise InvalidInput("no chain given: pass --rpc-url (and --chain-id) or --network")
            self._cache["chain"] = Chain(url, chain_id=chain_id, confirmations=confs)
        return self._cache["chain"]

    def ledger(self) -> Any:
        from careledger.contracts.deployment import CareLedger, Deployment

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
        from careledger.crypto.keyfile import EncryptionKeyPair
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
        from careledger.actors.flows import Workspace

        return Workspace.local(self.workspace)


def _load_network(name: str) -> dict[str, Any]:
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


def _address(value: str) -> str:
    from eth_utils.address import is_address, to_checksum_address

    from careledger.errors import InvalidInput

    if not is_address(value):
        raise InvalidInput(f"{value!r} is not an Ethereum address (0x + 40 hex digits)")
    return str(to_checksum_address(value))


def _scope(value: str) -> bytes:
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


def _expiry(value: str, now: int) -> int:
    from careledger.errors import InvalidInput

    m = re.fullmatch(r"(\d+)([smhdw]?)", value.strip())
    if value.startswith("@") and value[1:].isdigit():
        return int(value[1:])
    if not m:
        raise InvalidInput(f"expiry {value!r}: use a duration like 30d, 12h, 90m or @UNIXTIME")
    mult = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[m.group(2)]
    return now + int(m.group(1)) * mult


def _now(ctx: Ctx) -> int:
    return int(ctx.chain().w3.eth.get_block("latest")["timestamp"])


def _tx_line(receipt: Any, what: str) -> None:
    click.echo(f"{what}: tx {receipt['transactionHash'].to_0x_hex()} "
               f"(block {receipt['blockNumber']}, gas {receipt['gasUsed']:,})")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
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


# -- demo, devnet, deploy, keys ------------------------------------------------------------


@main.command(short_help="Run the end-to-end sharing scenario on a fresh local devnet.")
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
        _fail("the demo finished but an expected outcome did not hold (see above)")


@main.command(short_help="Run a local anvil devnet in the foreground.")
@click.option("--port", type=int, default=None, help="TCP port (default: a free one).")
@click.option("--chain-id", "devnet_chain_id", type=int, default=31337, show_default=True)
@click.option("--state", "state_file", type=click.Path(dir_okay=False), default=None,
              help="Load/save chain state to this file so a restart resumes.")
def devnet(port: int | None, devnet_chain_id: int, state_file: str | None) -> None:
    """Start a native anvil, print RPC URL, chain id and funded dev accounts; Ctrl-C stops it."""
    from careledger.chain import Devnet

    node = Devnet(port=port, chain_id=devnet_chain_id, state_file=state_file).start()
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


@main.command(short_help="Deploy the contracts and write deployments/<chainId>.json.")
@click.option("--member", "members", multiple=True, required=True,
              help="Genesis member ADDRESS:ROLES:ENCKEY (roles like PROVIDER+EMERGENCY, "
                   "ENCKEY 0x + 64 hex). Repeat per member.")
@click.option("--threshold", type=int, required=True, help="Approvals a proposal needs (M).")
@click.option("--proposal-lifetime", type=int, default=7 * 86400, show_default=True)
@click.option("--force", is_flag=True, help="Overwrite an existing manifest for this chain.")
@pass_ctx
def deploy(ctx: Ctx, members: tuple[str, ...], threshold: int, proposal_lifetime: int,
           force: bool) -> None:
    """Deploy InstitutionRegistry, ConsentRegistry and RecordRegistry with EIP-1559 fees."""
    from careledger.codes import Role
    from careledger.contracts.deployment import Deployment, GenesisMember
    from careledger.contracts.deployment import deploy as do_deploy
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
        genesis.append(GenesisMember(_address(parts[0]), Role.parse(parts[1].replace("+", ",")),
                                     bytes.fromhex(key)))
    dep = do_deploy(ctx.sender(), genesis, threshold=threshold, proposal_lifetime=proposal_lifetime)
    written = dep.save(ctx.deployments)
    click.echo(f"InstitutionRegistry {dep.institution_registry}")
    click.echo(f"ConsentRegistry     {dep.consent_registry}")
    click.echo(f"RecordRegistry      {dep.record_registry}")
    click.echo(f"manifest            {written}")


@main.group(short_help="Encryption keys (X25519, separate from wallet keys).")
def keys() -> None:
    """Encryption keypairs: records are wrapped to their public half."""


@keys.command("new", short_help="Generate a password-protected encryption key file.")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def keys_new(out: Path) -> None:
    """Generate an X25519 keypair into OUT (password from $CARELEDGER_ENC_PASSWORD or prompt)."""
    from careledger.crypto.keyfile import EncryptionKeyPair
    from careledger.errors import InvalidInput

    if out.exists():
        raise InvalidInput(f"{out} exists: refusing to overwrite a key")
    password = os.environ.get("CARELEDGER_ENC_PASSWORD") or click.prompt(
        "new password", hide_input=True, confirmation_prompt=True)
    kp = EncryptionKeyPair.generate()
    kp.save(out, password)
    click.echo(f"public key 0x{kp.public_bytes.hex()} saved to {out}")


# -- institution ---------------------------------------------------------------------------

_KINDS = ["admit", "suspend", "reinstate", "remove", "change-roles", "change-threshold"]


@main.group(short_help="Consortium membership: propose, approve, list.")
def institution() -> None:
    """Consortium membership by M-of-N vote."""


@institution.command("propose", short_help="Propose a membership change.")
@click.argument("kind", type=click.Choice(_KINDS))
@click.argument("subject", required=False)
@click.option("--roles", default="", help="For admit/change-roles: PROVIDER,RESEARCHER,EMERGENCY.")
@click.option("--enc-pubkey", default="0x" + "00" * 32, help="For admit: the member's X25519 key.")
@click.option("--threshold", "new_threshold", type=int, default=0, help="For change-threshold.")
@pass_ctx
def institution_propose(ctx: Ctx, kind: str, subject: str | None, roles: str, enc_pubkey: str,
                        new_threshold: int) -> None:
    """Propose KIND for SUBJECT; your approval counts."""
    from careledger.codes import Role
    from careledger.errors import InvalidInput

    ledger = ctx.ledger()
    subj = _address(subject) if subject else "0x" + "00" * 20
    if kind != "change-threshold" and not subject:
        raise InvalidInput(f"{kind} needs a SUBJECT address")
    role_mask = int(Role.parse(roles)) if roles else 0
    key = bytes.fromhex(enc_pubkey.removeprefix("0x"))
    if len(key) != 32:
        raise InvalidInput("--enc-pubkey must be 32 bytes (0x + 64 hex digits)")
    receipt = ctx.sender().transact(ledger.institutions.contract.functions.propose(
        _KINDS.index(kind), subj, role_mask, key, b"\x00" * 32, new_threshold),
        description=f"propose {kind}")
    ev = ledger.institutions.contract.events.ProposalCreated().process_receipt(receipt, errors=DISCARD)
    click.echo(f"proposal #{ev[0]['args']['proposalId']} created")
    _tx_line(receipt, "propose")


@institution.command("approve", short_help="Approve a proposal.")
@click.argument("proposal_id", type=int)
@pass_ctx
def institution_approve(ctx: Ctx, proposal_id: int) -> None:
    """Approve PROPOSAL_ID; it executes when it reaches the threshold."""
    ledger = ctx.ledger()
    receipt = ctx.sender().transact(ledger.institutions.contract.functions.approve(proposal_id),
                                    description="approve")
    executed = ledger.institutions.contract.events.ProposalExecuted().process_receipt(receipt, errors=DISCARD)
    _tx_line(receipt, "approved" + (" and executed" if executed else ""))


@institution.command("list", short_help="List consortium members.")
@pass_ctx
def institution_list(ctx: Ctx) -> None:
    """Every institution ever admitted, with status and roles."""
    ledger = ctx.ledger()
    logs = ledger.institutions.contract.events.InstitutionAdmitted().get_logs(
        from_block=ledger.deployment.block)
    seen: list[str] = []
    for lg in logs:
        if lg["args"]["account"] not in seen:
            seen.append(lg["args"]["account"])
    click.echo(f"threshold {ledger.institutions.threshold()}")
    for a in seen:
        inst = ledger.institutions.institution(a)
        click.echo(f"{a}  {inst.status.name:<9} {inst.roles!r}  key 0x{inst.encryption_key.hex()[:16]}…")


# -- patient -------------------------------------------------------------------------------


@main.group(short_help="Patient actions: keys, grants, guardians, requests, history, erase.")
@click.option("--for", "acting_for", default=None, help="Act as guardian for this patient.")
@click.pass_context
def patient(click_ctx: click.Context, acting_for: str | None) -> None:
    """What a patient (or their guardian) does."""
    click_ctx.meta["acting_for"] = _address(acting_for) if acting_for else None


def _patient(ctx: Ctx, need_keypair: bool = False) -> Any:
    from careledger.actors.flows import Patient
    from careledger.crypto.keyfile import EncryptionKeyPair

    acting_for = click.get_current_context().meta.get("acting_for")
    kp = ctx.keypair() if need_keypair else EncryptionKeyPair.generate()
    return Patient(ctx.ledger(), ctx.sender(), ctx.workspace_(), kp, acting_for=acting_for)


@patient.command("register-key", short_help="Register your encryption public key on chain.")
@pass_ctx
def patient_register_key(ctx: Ctx) -> None:
    """Register the public half of --enc-key for yourself (or the patient you guard)."""
    _tx_line(_patient(ctx, need_keypair=True).register_key(), "key registered")


@patient.command("grant", short_help="Grant an institution access.")
@click.argument("grantee")
@click.option("--scope", default="ALL", show_default=True, help="ALL, a category or a record id.")
@click.option("--purpose", "purposes", multiple=True, default=["TREAT"], show_default=True)
@click.option("--expires", default="30d", show_default=True, help="Duration (30d, 12h) or @UNIXTIME.")
@pass_ctx
def patient_grant(ctx: Ctx, grantee: str, scope: str, purposes: tuple[str, ...], expires: str) -> None:
    """Grant GRANTEE access to SCOPE for PURPOSEs until EXPIRES."""
    p = _patient(ctx)
    _tx_line(p.grant(_address(grantee), _scope(scope), purposes, _expiry(expires, _now(ctx))),
             "granted")


@patient.command("revoke", short_help="Revoke a grant.")
@click.argument("grantee")
@click.option("--scope", default="ALL", show_default=True)
@pass_ctx
def patient_revoke(ctx: Ctx, grantee: str, scope: str) -> None:
    """Revoke GRANTEE's grant on SCOPE and delete its wrapped keys."""
    _tx_line(_patient(ctx).revoke(_address(grantee), _scope(scope)), "revoked")


@patient.command("guardian", short_help="Appoint or remove a guardian.")
@click.argument("action", type=click.Choice(["set", "remove"]))
@click.argument("guardian")
@click.option("--expires", default="365d", show_default=True)
@pass_ctx
def patient_guardian(ctx: Ctx, action: str, guardian: str, expires: str) -> None:
    """Appoint (set) or remove GUARDIAN."""
    p = _patient(ctx)
    g = _address(guardian)
    if action == "set":
        _tx_line(p.set_guardian(g, _expiry(expires, _now(ctx))), "guardian set")
    else:
        _tx_line(p.remove_guardian(g), "guardian removed")


@patient.command("requests", short_help="List pending access requests.")
@pass_ctx
def patient_requests(ctx: Ctx) -> None:
    """Access requests awaiting your answer."""
    reqs = _patient(ctx).pending_requests()
    if not reqs:
        click.echo("no pending requests")
    for r in reqs:
        click.echo(f"#{r['request_id']}  from {r['requester']}  scope {r['scope'][:18]}…  "
                   f"purpose {r['purpose']}")


@patient.command("approve", short_help="Approve an access request.")
@click.argument("request_id", type=int)
@click.option("--expires", default="30d", show_default=True)
@pass_ctx
def patient_approve(ctx: Ctx, request_id: int, expires: str) -> None:
    """Approve REQUEST_ID (creates the grant until EXPIRES)."""
    _tx_line(_patient(ctx).approve_request(request_id, _expiry(expires, _now(ctx))), "approved")


@patient.command("reject", short_help="Reject an access request.")
@click.argument("request_id", type=int)
@pass_ctx
def patient_reject(ctx: Ctx, request_id: int) -> None:
    """Reject REQUEST_ID."""
    _tx_line(_patient(ctx).reject_request(request_id), "rejected")


@patient.command("history", short_help="Who accessed your records.")
@pass_ctx
def patient_history(ctx: Ctx) -> None:
    """Your access history, verified against the on-chain hash chain."""
    p = _patient(ctx)
    _print_history(ctx, p.patient)


@patient.command("erase", short_help="Crypto-shred a record.")
@click.argument("record_id")
@pass_ctx
def patient_erase(ctx: Ctx, record_id: str) -> None:
    """Destroy every wrapped copy of RECORD_ID's data key; the anchor stays."""
    n = _patient(ctx).erase(record_id)
    click.echo(f"erased: {n} wrapped keys destroyed; nobody can decrypt {record_id} any more")


@patient.command("share", short_help="Wrap a record's key to a grantee.")
@click.argument("record_id")
@click.argument("grantee")
@click.option("--purpose", default="TREAT", show_default=True)
@pass_ctx
def patient_share(ctx: Ctx, record_id: str, grantee: str, purpose: str) -> None:
    """After GRANTEE's grant is on chain, re-wrap RECORD_ID's key to it."""
    _patient(ctx, need_keypair=True).share(record_id, _address(grantee), purpose)
    click.echo(f"shared {record_id} with {grantee}")


# -- consent (signed) ----------------------------------------------------------------------


@main.group(short_help="Signed consent: sign to a file, submit a signed file.")
def consent() -> None:
    """EIP-712 signed consents, submitted by anyone (the patient pays no gas)."""


@consent.command("sign", short_help="Sign a grant or revoke into a JSON file.")
@click.argument("action", type=click.Choice(["grant", "revoke"]))
@click.argument("grantee")
@click.option("--patient", "patient_addr", default=None, help="Default: the signer.")
@click.option("--scope", default="ALL", show_default=True)
@click.option("--purpose", "purposes", multiple=True, default=["TREAT"], show_default=True)
@click.option("--expires", default="30d", show_default=True)
@click.option("--deadline", default="1d", show_default=True, help="Signature validity.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
@pass_ctx
def consent_sign(ctx: Ctx, action: str, grantee: str, patient_addr: str | None, scope: str,
                 purposes: tuple[str, ...], expires: str, deadline: str, out: Path) -> None:
    """Sign ACTION for GRANTEE with your wallet; write typed data + signature to OUT."""
    from careledger.consent.messages import ConsentSigner

    ledger = ctx.ledger()
    acct = ctx.account()
    now = _now(ctx)
    signer = ConsentSigner(ledger.consent)
    pat = _address(patient_addr) if patient_addr else acct.address
    msg: GrantConsent | RevokeConsent
    if action == "grant":
        msg = signer.grant_message(pat, _address(grantee), _scope(scope), list(purposes),
                                   _expiry(expires, now), deadline=_expiry(deadline, now),
                                   signer=acct.address)
    else:
        msg = signer.revoke_message(pat, _address(grantee), _scope(scope),
                                    deadline=_expiry(deadline, now), signer=acct.address)
    signed = signer.sign(msg, acct)
    signed.save(out)
    click.echo(f"signed {action} written to {out}; anyone can submit it with "
               f"`careledger consent submit {out}`")


@consent.command("submit", short_help="Submit a signed consent file (as relayer).")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@pass_ctx
def consent_submit(ctx: Ctx, file: Path) -> None:
    """Relay FILE (from `consent sign` or a wallet page); you pay the gas."""
    from careledger.consent.messages import Relayer, SignedConsent

    ledger = ctx.ledger()
    result = Relayer(ctx.sender(), ledger.consent).submit(SignedConsent.load(file))
    how = "applied" if result.applied_by_us else "already applied by someone else"
    click.echo(f"{how}: tx {result.tx_hash}")


# -- record --------------------------------------------------------------------------------


@main.group(short_help="Records: publish, publish-batch, get, verify, versions.")
def record() -> None:
    """Encrypted records off chain, commitments on chain."""


def _provider(ctx: Ctx) -> Any:
    from careledger.actors.flows import Provider

    return Provider(ctx.ledger(), ctx.sender(), ctx.workspace_(), ctx.keypair())


@record.command("publish", short_help="Encrypt, store and anchor a record.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--patient", "patient_addr", required=True)
@click.option("--category", required=True, help="LAB, IMAGING, ... or a LOINC code.")
@click.option("--record-id", default=None, help="Reuse an id to resume an interrupted publish.")
@click.option("--amends", default=None, help="Record id this is a new version of.")
@pass_ctx
def record_publish(ctx: Ctx, file: Path, patient_addr: str, category: str,
                   record_id: str | None, amends: str | None) -> None:
    """Publish FILE for PATIENT."""
    prov = _provider(ctx)
    data = file.read_bytes()
    if amends:
        pub = prov.amend(amends, data, record_id=record_id)
    else:
        pub = prov.publish(_address(patient_addr), data, category, record_id=record_id)
    click.echo(f"record {pub.record_id} version {pub.pointer.version} anchored "
               f"(cid {pub.pointer.cid})")


@record.command("publish-batch", short_help="Publish many records under one Merkle root.")
@click.argument("files", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--patient", "patient_addr", required=True)
@click.option("--category", required=True)
@pass_ctx
def record_publish_batch(ctx: Ctx, files: tuple[Path, ...], patient_addr: str, category: str) -> None:
    """Publish FILES for PATIENT with one anchorBatch."""
    pat = _address(patient_addr)
    root, ptrs, _ = _provider(ctx).publish_batch([(pat, f.read_bytes()) for f in files], category)
    click.echo(f"batch root 0x{root.hex()} anchored with {len(ptrs)} records")
    for f, p in zip(files, ptrs, strict=True):
        click.echo(f"  {f}: {p.record_id}")


@record.command("get", short_help="Access a record (logged on chain) and decrypt it.")
@click.argument("record_id")
@click.option("--purpose", default="TREAT", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_ctx
def record_get(ctx: Ctx, record_id: str, purpose: str, out: Path | None) -> None:
    """Log the access on chain, then fetch, verify and decrypt RECORD_ID."""
    from careledger.actors.flows import Institution

    inst = Institution(ctx.ledger(), ctx.sender(), ctx.workspace_(), ctx.keypair())
    data = inst.access(record_id, purpose)
    if out:
        out.write_bytes(data)
        click.echo(f"{len(data)} bytes written to {out}")
    else:
        sys.stdout.buffer.write(data + b"\n")


@record.command("verify", short_help="Check a stored record against its anchor.")
@click.argument("record_id")
@pass_ctx
def record_verify(ctx: Ctx, record_id: str) -> None:
    """Recompute RECORD_ID's commitment from the blob store and check it on chain."""
    from careledger.actors.flows import verify_commitment

    ws = ctx.workspace_()
    ptr = ws.index.get(record_id)
    verify_commitment(ctx.ledger(), ptr, ws.blobs.get(ptr.cid))
    where = f"batch {ptr.batch_root}" if ptr.batch_root else "its anchor"
    click.echo(f"record {ptr.record_id} verified against {where}")


@record.command("versions", short_help="List a record's versions.")
@click.argument("record_id")
@pass_ctx
def record_versions(ctx: Ctx, record_id: str) -> None:
    """Follow the on-chain version links from RECORD_ID to the latest."""
    from careledger.actors.flows import NotAnchored, _b32

    ledger = ctx.ledger()
    rid = _b32(record_id)
    if ledger.records.commitment_of(rid) == b"\x00" * 32:
        raise NotAnchored(f"record 0x{rid.hex()} is not anchored on this chain: check the id "
                          "(careledger record publish prints it)")
    n = 0
    while rid != b"\x00" * 32:
        n += 1
        click.echo(f"v{n}  0x{rid.hex()}  commitment 0x{ledger.records.commitment_of(rid).hex()}")
        rid = ledger.records.next_version_of(rid)


# -- audit ---------------------------------------------------------------------------------


@main.group(short_help="Access history: show, verify, export.")
def audit() -> None:
    """A patient's accounting of disclosures, from chain events."""


def _print_history(ctx: Ctx, patient_addr: str) -> None:
    from rich.console import Console
    from rich.table import Table

    from careledger.audit import AuditLog

    log = AuditLog(ctx.ledger())
    t = Table("#", "date (UTC)", "recipient", "record", "category", "purpose", "break-glass")
    for e in log.history(patient_addr):
        t.add_row(str(e.seq), e.date[:19], e.accessor, e.record_id[:14] + "…", e.category,
                  e.purpose, "yes" if e.via_break_glass else "")
    Console().print(t)
    click.echo(str(log.verify(patient_addr)))


@audit.command("show", short_help="Show a patient's access history.")
@click.argument("patient_addr")
@pass_ctx
def audit_show(ctx: Ctx, patient_addr: str) -> None:
    """Show PATIENT's access history."""
    _print_history(ctx, _address(patient_addr))


@audit.command("verify", short_help="Verify the hash chain against the chain.")
@click.argument("patient_addr")
@pass_ctx
def audit_verify(ctx: Ctx, patient_addr: str) -> None:
    """Recompute PATIENT's hash chain from logs; exit 1 on mismatch."""
    from careledger.audit import AuditLog

    v = AuditLog(ctx.ledger()).verify(_address(patient_addr))
    click.echo(str(v))
    if not v.ok:
        sys.exit(1)


@audit.command("export", short_help="Export history as JSON or CSV.")
@click.argument("patient_addr")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None)
@pass_ctx
def audit_export(ctx: Ctx, patient_addr: str, fmt: str, out: Path | None) -> None:
    """Export PATIENT's accounting of disclosures."""
    from careledger.audit import AuditLog

    log = AuditLog(ctx.ledger())
    text = log.export_json(_address(patient_addr)) if fmt == "json" else log.export_csv(
        _address(patient_addr))
    if out:
        out.write_text(text)
        click.echo(f"written to {out}")
    else:
        click.echo(text)
