"""The relayer: submits signed consents and pays the gas.

It validates locally, estimates (a doomed submission raises before spending gas), submits, and
treats "nonce already consumed and the chain already holds this intent" as success (someone
else, e.g. a front-runner, applied it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from hexbytes import HexBytes
from web3.exceptions import Web3Exception

from careledger.chain import Sender
from careledger.codes import RequestStatus, purposes_of
from careledger.consent.messages import (
    AnswerRequestConsent,
    ConsentMessage,
    GrantConsent,
    RegisterKeyConsent,
    RemoveGuardianConsent,
    RevokeConsent,
    SetGuardianConsent,
)
from careledger.consent.signing import SignedConsent, chain_time
from careledger.contracts import ConsentRegistry
from careledger.errors import (
    CareLedgerError,
    SignatureExpired,
)

# --- relaying -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RelayResult:
    """What a submission achieved.

    Attributes:
        tx_hash: the transaction that applied the consent (ours, or, when someone else applied
            it first, theirs if found in the recent logs; ``""`` if not found).
        gas_used: gas this relayer paid (0 when nothing was sent).
        applied_by_us: False when the chain already held this intent, applied by someone else.
        our_tx_hash: our transaction, also when it reverted because someone else was first.
    """

    tx_hash: str
    gas_used: int
    applied_by_us: bool
    our_tx_hash: str | None = None
    block_number: int | None = field(default=None)


class Relayer:
    """Submits signed consents, paying the gas; safe to share between threads.

    Args:
        sender: the relayer's account (its ``NonceManager`` serialises nonces across threads).
        registry: the ConsentRegistry wrapper.
        log_lookback: how many blocks back to look for the transaction that applied a consent
            someone else submitted first.
    """

    def __init__(self, sender: Sender, registry: ConsentRegistry, *,
                 log_lookback: int = 50_000) -> None:
        self.sender = sender
        self.registry = registry
        self.log_lookback = log_lookback

    def submit(self, signed: SignedConsent, *, local_checks: bool = True,
               gas: int | None = None) -> RelayResult:
        """Validate, estimate, send and wait.

        Args:
            signed: the signed consent.
            local_checks: check domain, chain id, deadline and signature before any RPC that
                costs gas (turn off only to test the contract's own checks).
            gas: gas limit; default: estimate × the sender's multiplier.

        Returns:
            ``applied_by_us=True`` with our transaction, or ``applied_by_us=False`` when the
            signer's nonce was already consumed and the chain already holds the same intent.

        Raises:
            ChainIdMismatch, DomainMismatch, SignatureExpired, SignatureMismatch,
            MalleableSignature: refused locally (nothing sent).
            ContractRevert subclasses (InvalidSignature, SignatureExpired,
            NotPatientOrGuardian, ...): refused by the contract at estimation or inclusion.
        """
        if local_checks:
            try:
                signed.check_for(self.registry)
            except SignatureExpired as exc:  # too late to send, but maybe applied already
                done = self._already_applied(signed, exc, spent=0, ours=None)
                if done is not None:
                    return done
                raise
        tx = signed.message.to_tx(self.registry, signed.signature)
        if gas is None:
            try:
                gas = int(tx.estimate(self.sender) * self.sender.gas_multiplier)
            except CareLedgerError as exc:
                done = self._already_applied(signed, exc, spent=0, ours=None)
                if done is not None:
                    return done
                raise
        sent = tx.send(self.sender, gas=gas)
        try:
            receipt = self.sender.wait(sent)
        except CareLedgerError as exc:
            spent = self._gas_used(sent.tx_hash)
            done = self._already_applied(signed, exc, spent=spent, ours=sent.tx_hash.to_0x_hex())
            if done is not None:
                return done
            raise
        return RelayResult(tx_hash=sent.tx_hash.to_0x_hex(), gas_used=int(receipt["gasUsed"]),
                           applied_by_us=True, our_tx_hash=sent.tx_hash.to_0x_hex(),
                           block_number=int(receipt["blockNumber"]))

    def _gas_used(self, tx_hash: HexBytes) -> int:
        try:
            return int(self.registry.chain.w3.eth.get_transaction_receipt(tx_hash)["gasUsed"])
        except Web3Exception:
            return 0

    def state_matches(self, message: ConsentMessage) -> bool:
        """True if the chain already holds what ``message`` asks for."""
        reg = self.registry
        if isinstance(message, GrantConsent):
            grant = reg.grant_of(message.patient, message.grantee, message.scope)
            return grant.purposes == message.purposes and all(
                grant.expiry(p) == message.expires_at for p in purposes_of(message.purposes))
        if isinstance(message, RevokeConsent):
            return reg.grant_of(message.patient, message.grantee, message.scope).purposes == 0
        if isinstance(message, SetGuardianConsent):
            return reg.guardian_expiry(message.patient, message.guardian) == message.expires_at
        if isinstance(message, RemoveGuardianConsent):
            return reg.guardian_expiry(message.patient, message.guardian) == 0
        if isinstance(message, RegisterKeyConsent):
            return reg.patient_key(message.patient) == message.encryption_key
        if isinstance(message, AnswerRequestConsent):
            wanted = RequestStatus.APPROVED if message.approve else RequestStatus.REJECTED
            return reg.request_status(message.request_id) is wanted
        window = reg.break_glass_window(message.patient, message.institution)
        return window.expires_at != 0 and not window.open_at(chain_time(reg))

    def _already_applied(self, signed: SignedConsent, exc: BaseException, *, spent: int,
                         ours: str | None) -> RelayResult | None:
        """A result when the nonce was consumed and the state equals the intent, else None."""
        # NOTE: whatever the refusal (InvalidSignature for a consumed nonce, or GrantNotFound,
        # SignatureExpired... depending on the check order), a consumed nonce plus a chain
        # that already holds the intent means the consent was applied.
        del exc
        msg = signed.message
        if self.registry.nonce(msg.signer_address) <= msg.nonce:
            return None  # nonce unused: the signature itself is refused
        if not self.state_matches(msg):
            return None  # nonce consumed by something else (increaseNonce, another consent)
        tx_hash, block = self._find_applier(msg)
        return RelayResult(tx_hash=tx_hash, gas_used=spent, applied_by_us=False,
                           our_tx_hash=ours, block_number=block)

    def _find_applier(self, msg: ConsentMessage) -> tuple[str, int | None]:
        """The most recent transaction whose event set the state ``msg`` asks for."""
        reg = self.registry
        try:
            head = int(reg.chain.call_rpc("eth_blockNumber", lambda: reg.chain.w3.eth.block_number))
            start = max(0, head - self.log_lookback)
            event, filters, keep = _applier_query(msg)
            logs = [lg for lg in reg.logs(event, from_block=start, **filters) if keep(lg["args"])]
        except (Web3Exception, ValueError, CareLedgerError):
            return "", None
        if not logs:
            return "", None
        last = logs[-1]
        return HexBytes(last["transactionHash"]).to_0x_hex(), int(last["blockNumber"])


def _applier_query(msg: ConsentMessage) -> tuple[str, dict[str, Any], Callable[[Any], bool]]:
    """The event that applying ``msg`` emits, its indexed filters, and a test of its data."""
    if isinstance(msg, GrantConsent):
        return ("ConsentGranted", {"patient": msg.patient, "grantee": msg.grantee,
                                   "scope": msg.scope},
                lambda a: int(a["purposes"]) == msg.purposes
                and int(a["expiresAt"]) == msg.expires_at)
    if isinstance(msg, RevokeConsent):
        return ("ConsentRevoked", {"patient": msg.patient, "grantee": msg.grantee,
                                   "scope": msg.scope}, lambda a: True)
    if isinstance(msg, SetGuardianConsent):
        return ("GuardianSet", {"patient": msg.patient, "guardian": msg.guardian},
                lambda a: int(a["expiresAt"]) == msg.expires_at)
    if isinstance(msg, RemoveGuardianConsent):
        return ("GuardianRemoved", {"patient": msg.patient, "guardian": msg.guardian},
                lambda a: True)
    if isinstance(msg, RegisterKeyConsent):
        return ("PatientKeyRegistered", {"patient": msg.patient},
                lambda a: bytes(a["encryptionKey"]) == msg.encryption_key)
    if isinstance(msg, AnswerRequestConsent):
        event = "AccessRequestApproved" if msg.approve else "AccessRequestRejected"
        return event, {"requestId": msg.request_id}, lambda a: True
    return ("BreakGlassClosed", {"patient": msg.patient, "institution": msg.institution},
            lambda a: True)
