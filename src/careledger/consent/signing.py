"""Signatures over consent messages, and the signer that builds them.

- ``SignedConsent``: message + domain + signer + signature; the JSON file ``careledger consent
  sign`` writes is ``{"typedData": ..., "signature": "0x..."}``, the same payload a wallet page
  hands to the relayer (``SignedConsent.from_wallet``).
- ``ConsentSigner``: builds messages with the signer's current on-chain nonce and signs them
  with an eth-account key or a keystore file.
- ``normalize_signature``, ``recover_signer``, ``sign_consent``, ``load_keystore_account``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_keys.exceptions import BadSignature
from eth_utils.address import to_checksum_address
from hexbytes import HexBytes
from web3.exceptions import Web3Exception

from careledger.codes import Purpose, purpose_mask
from careledger.consent.domain import DOMAIN_NAME, DOMAIN_VERSION, Eip712Domain
from careledger.consent.messages import (
    AnswerRequestConsent,
    CloseBreakGlassConsent,
    ConsentMessage,
    GrantConsent,
    RegisterKeyConsent,
    RemoveGuardianConsent,
    RevokeConsent,
    SetGuardianConsent,
    parse_typed_data,
)
from careledger.contracts import ConsentRegistry, RequestDetails
from careledger.errors import (
    CareLedgerError,
    ChainIdMismatch,
    DomainMismatch,
    InvalidInput,
    MalformedTypedData,
    MalleableSignature,
    RpcUnavailable,
    SignatureExpired,
    SignatureMismatch,
    WrongPassword,
)
from careledger.store.atomic import write_json_atomic

#: secp256k1 group order; OpenZeppelin ``ECDSA`` refuses ``s > N/2`` (malleable signatures).
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_HALF_N = SECP256K1_N // 2


#: Default validity of a signature built by ``ConsentSigner`` without an explicit deadline.
DEFAULT_DEADLINE_SECONDS = 24 * 3600


# --- signatures -----------------------------------------------------------------------------


def normalize_signature(signature: bytes | str) -> bytes:
    """65-byte ``r || s || v`` with ``v`` in {27, 28} (some wallets return 0/1).

    Raises:
        MalleableSignature: wrong length, ``v`` not in {0, 1, 27, 28}, or high ``s``.
    """
    try:
        raw = bytes(HexBytes(signature))
    except ValueError as exc:
        raise MalleableSignature(f"the signature is not hex: {exc}") from exc
    if len(raw) != 65:
        raise MalleableSignature(f"a signature is 65 bytes (r, s, v), got {len(raw)}")
    v = raw[64]
    if v in (0, 1):
        v += 27
    if v not in (27, 28):
        raise MalleableSignature(f"signature v must be 27 or 28, got {raw[64]}")
    s = int.from_bytes(raw[32:64], "big")
    if not 0 < s <= SECP256K1_HALF_N:
        raise MalleableSignature(
            "the signature has a high s value (malleable); OpenZeppelin ECDSA refuses it: "
            "sign again with a standard wallet"
        )
    return raw[:64] + bytes([v])


def recover_signer(message: ConsentMessage, domain: Eip712Domain, signature: bytes) -> str:
    """The address that signed ``message`` under ``domain`` (checksummed).

    Raises:
        SignatureMismatch: the signature recovers to no key (r or s out of range).
    """
    signable = encode_typed_data(full_message=message.typed_data(domain))
    try:
        return str(Account.recover_message(signable, signature=signature))
    except BadSignature as exc:
        raise SignatureMismatch(f"the signature recovers to no key: {exc}") from exc


def load_keystore_account(path: str | os.PathLike[str], password: str) -> LocalAccount:
    """Open an Ethereum keystore (V3 JSON) file.

    Raises:
        WrongPassword: the password does not open it.
        InvalidInput: the file is not a keystore.
    """
    p = Path(path)
    try:
        keyfile = json.loads(p.read_text())
    except FileNotFoundError as exc:
        raise InvalidInput(f"no keystore file at {p}") from exc
    except ValueError as exc:
        raise InvalidInput(f"{p} is not a JSON keystore file: {exc}") from exc
    try:
        key = Account.decrypt(keyfile, password)
    except ValueError as exc:
        if "MAC mismatch" in str(exc):
            raise WrongPassword(
                f"the password does not open the keystore {p}: try again"
            ) from exc
        raise InvalidInput(f"{p} is not a usable keystore file: {exc}") from exc
    account: LocalAccount = Account.from_key(key)
    return account


@dataclass(frozen=True)
class SignedConsent:
    """A consent message, its domain, its signer and a 65-byte signature.

    Serialised as the wallet payload ``{"typedData": ..., "signature": "0x..."}``.
    """

    message: ConsentMessage
    domain: Eip712Domain
    signer: str
    signature: bytes

    FORMAT: ClassVar[str] = "careledger.signed-consent/1"

    @classmethod
    def create(cls, message: ConsentMessage, domain: Eip712Domain, signature: bytes | str, *,
               registry: ConsentRegistry | None = None) -> SignedConsent:
        """Check ``signature`` and wrap it: an EOA's low-s ECDSA signature that recovers to the
        message's signer, or, given ``registry`` (for its chain), a contract wallet's signature
        that the signer accepts through EIP-1271 ``isValidSignature``.

        Raises:
            MalleableSignature: a malformed or high-s ECDSA signature of an EOA.
            SignatureMismatch: neither the signer's ECDSA signature nor accepted by it (EIP-1271).
        """
        try:
            raw = bytes(HexBytes(signature))
        except ValueError as exc:
            raise MalleableSignature(f"the signature is not hex: {exc}") from exc
        recovered = ""
        problem: CareLedgerError | None = None
        try:
            sig = normalize_signature(raw)
            recovered = recover_signer(message, domain, sig)
            if recovered == message.signer_address:
                return cls(message=message, domain=domain, signer=recovered, signature=sig)
        except MalleableSignature as exc:
            problem = exc
        if registry is not None and eip1271_accepts(registry, message.signer_address,
                                                    message.digest(domain), raw):
            return cls(message=message, domain=domain, signer=message.signer_address,
                       signature=raw)
        if problem is not None:
            raise problem
        raise SignatureMismatch(
            f"the signature recovers to {recovered}, but this {message.TYPE_NAME} must be "
            f"signed by {message.signer_address}: wrong account, or the typed data changed"
            + ("" if registry is not None else
               " (a contract wallet's signature is checked with the chain: pass registry=)"))

    @classmethod
    def from_wallet(cls, typed_data: Mapping[str, Any] | str, signature_hex: str | bytes, *,
                    registry: ConsentRegistry | None = None) -> SignedConsent:
        """Accept what a browser wallet returns for ``eth_signTypedData_v4``.

        Args:
            typed_data: the typed-data JSON (object or text) the page asked the wallet to sign.
            signature_hex: the wallet's 0x-hex signature.

        Raises:
            MalformedTypedData: not a ConsentRegistry type.
            MalleableSignature, SignatureMismatch: the signature is unusable or not the signer's.
        """
        message, domain = parse_typed_data(typed_data)
        return cls.create(message, domain, signature_hex, registry=registry)

    @property
    def signature_hex(self) -> str:
        """The signature as 0x-hex."""
        return "0x" + self.signature.hex()

    def typed_data(self) -> dict[str, Any]:
        """The typed data that was signed."""
        return self.message.typed_data(self.domain)

    def digest(self) -> bytes:
        """The EIP-712 digest that was signed."""
        return self.message.digest(self.domain)

    def to_json(self) -> dict[str, Any]:
        """``{"typedData": ..., "signature": "0x..."}`` (the relayer payload)."""
        return {"typedData": self.typed_data(), "signature": self.signature_hex}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | str, *,
                  registry: ConsentRegistry | None = None) -> SignedConsent:
        """Parse the relayer payload (``to_json``) and verify the signature.

        Raises:
            MalformedTypedData: not a payload with ``typedData`` and ``signature``.
            MalleableSignature, SignatureMismatch: see ``from_wallet``.
        """
        if isinstance(data, str):
            try:
                data = json.loads(data)
            except ValueError as exc:
                raise MalformedTypedData(f"a signed consent is JSON: {exc}") from exc
        if not isinstance(data, Mapping) or "typedData" not in data or "signature" not in data:
            raise MalformedTypedData('a signed consent is {"typedData": ..., "signature": "0x..."}')
        sig = data["signature"]
        if not isinstance(sig, str):
            raise MalformedTypedData("signature must be a 0x-hex string")
        return cls.from_wallet(data["typedData"], sig, registry=registry)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``to_json()`` atomically and durably (``careledger.store.write_json_atomic``);
        return the path."""
        return write_json_atomic(path, self.to_json(), make_parents=True)

    @classmethod
    def load(cls, path: str | os.PathLike[str], *,
             registry: ConsentRegistry | None = None) -> SignedConsent:
        """Read a file written by ``save`` (or by a wallet page) and verify its signature.

        Raises:
            InvalidInput: no such file.
            MalformedTypedData, MalleableSignature, SignatureMismatch: see ``from_json``.
        """
        p = Path(path)
        try:
            text = p.read_text()
        except FileNotFoundError as exc:
            raise InvalidInput(f"no signed consent file at {p}") from exc
        return cls.from_json(text, registry=registry)

    def check_for(self, registry: ConsentRegistry, *, now: int | None = None) -> None:
        """Local checks before spending gas: domain, chain, deadline, signature.

        Args:
            registry: where it will be submitted.
            now: the chain time to compare the deadline with (default: latest block).

        Raises:
            ChainIdMismatch: signed for another chain than the node's.
            DomainMismatch: signed for another contract, name or version.
            SignatureExpired: the deadline is already in the past.
            SignatureMismatch, MalleableSignature: the signature is not the signer's.
        """
        node_chain = registry.chain.chain_id
        if self.domain.chain_id != node_chain:
            raise ChainIdMismatch(
                f"this {self.message.TYPE_NAME} was signed for chain {self.domain.chain_id}, but "
                f"the node is chain {node_chain}: sign again on this chain"
            )
        if self.domain.verifying_contract != registry.address:
            raise DomainMismatch(
                f"this {self.message.TYPE_NAME} was signed for contract "
                f"{self.domain.verifying_contract}, not this ConsentRegistry {registry.address}: "
                "sign again for this deployment"
            )
        if (self.domain.name, self.domain.version) != (DOMAIN_NAME, DOMAIN_VERSION):
            raise DomainMismatch(
                f"signed for domain {self.domain.name!r} v{self.domain.version!r}, not "
                f"{DOMAIN_NAME!r} v{DOMAIN_VERSION!r}"
            )
        if now is None:
            now = chain_time(registry)
        if self.message.deadline < now:
            raise SignatureExpired(
                f"SignatureExpired(deadline={self.message.deadline}, timestamp={now}): "
                f"{SignatureExpired.hint}", "SignatureExpired",
                {"deadline": self.message.deadline, "timestamp": now})
        SignedConsent.create(self.message, self.domain, self.signature, registry=registry)


#: EIP-1271 ``isValidSignature(bytes32,bytes)`` magic value.
EIP1271_MAGIC = bytes.fromhex("1626ba7e")
_EIP1271_ABI = [{"type": "function", "name": "isValidSignature", "stateMutability": "view",
                 "inputs": [{"name": "hash", "type": "bytes32"}, {"name": "signature", "type": "bytes"}],
                 "outputs": [{"name": "", "type": "bytes4"}]}]


def eip1271_accepts(registry: ConsentRegistry, signer: str, digest: bytes, signature: bytes) -> bool:
    """True if ``signer`` is a contract whose ``isValidSignature(digest, signature)`` returns the
    EIP-1271 magic value at the latest block (what OpenZeppelin ``SignatureChecker`` asks)."""
    w3 = registry.chain.w3
    try:
        if not registry.chain.call_rpc("eth_getCode", lambda: w3.eth.get_code(signer)):  # type: ignore[arg-type]
            return False
        wallet = w3.eth.contract(address=to_checksum_address(signer), abi=_EIP1271_ABI)
        result = registry.chain.call_rpc(
            "isValidSignature", lambda: wallet.functions.isValidSignature(digest, signature).call())
    except RpcUnavailable:
        raise  # the chain is down: say so (503 at a node), do not call the signature bad
    except (Web3Exception, ValueError, CareLedgerError):
        return False
    return bytes(result) == EIP1271_MAGIC


def chain_time(registry: ConsentRegistry) -> int:
    """The latest block's timestamp (what deadlines and expiries are compared with)."""
    chain = registry.chain
    block = chain.call_rpc("eth_getBlock", lambda: chain.w3.eth.get_block("latest"))
    return int(block["timestamp"])


# --- building and signing -------------------------------------------------------------------


def sign_consent(message: ConsentMessage, domain: Eip712Domain,
                 account: LocalAccount) -> SignedConsent:
    """Sign ``message`` with ``account`` exactly as a wallet would (``eth_signTypedData_v4``).

    Raises:
        SignatureMismatch: ``account`` is not the message's signer.
    """
    if account.address != message.signer_address:
        raise SignatureMismatch(
            f"this {message.TYPE_NAME} names signer {message.signer_address}; "
            f"{account.address} cannot sign it (its nonce and address are part of the message)"
        )
    signed = account.sign_message(encode_typed_data(full_message=message.typed_data(domain)))
    return SignedConsent.create(message, domain, bytes(signed.signature))


class ConsentSigner:
    """Builds consent messages with the signer's current nonce and signs them.

    Args:
        registry: the deployment's ConsentRegistry wrapper.
        domain: the EIP-712 domain; default: read from the contract (EIP-5267) once.
    """

    def __init__(self, registry: ConsentRegistry, domain: Eip712Domain | None = None) -> None:
        self.registry = registry
        self._domain = domain

    def domain(self) -> Eip712Domain:
        """The registry's EIP-712 domain (read and checked once)."""
        if self._domain is None:
            self._domain = Eip712Domain.from_chain(self.registry)
        return self._domain

    def _deadline(self, deadline: int | None) -> int:
        if deadline is None:
            return chain_time(self.registry) + DEFAULT_DEADLINE_SECONDS
        return deadline

    def _nonce(self, signer: str, nonce: int | None) -> int:
        return self.registry.nonce(signer) if nonce is None else nonce

    def grant_message(self, patient: str, grantee: str, scope: bytes,
                      purposes: Iterable[Purpose | str | int] | int, expires_at: int, *,
                      deadline: int | None = None, signer: str | None = None,
                      nonce: int | None = None) -> GrantConsent:
        """A ``Grant`` for ``patient`` signed by ``signer`` (default: the patient itself).

        Args:
            purposes: purposes of use (``[Purpose.TREAT]``) or a ready ``uint32`` bitmask.
            deadline: last valid timestamp of the signature (default: chain time + 1 day).
            nonce: default: ``nonces(signer)`` now.
        """
        mask = purposes if isinstance(purposes, int) else purpose_mask(purposes)
        who = signer or patient
        return GrantConsent(patient=patient, grantee=grantee, scope=scope, purposes=mask,
                            expires_at=expires_at, signer=who,
                            nonce=self._nonce(who, nonce), deadline=self._deadline(deadline))

    def revoke_message(self, patient: str, grantee: str, scope: bytes, *,
                       deadline: int | None = None, signer: str | None = None,
                       nonce: int | None = None) -> RevokeConsent:
        """A ``Revoke`` for ``patient`` signed by ``signer`` (default: the patient itself)."""
        who = signer or patient
        return RevokeConsent(patient=patient, grantee=grantee, scope=scope, signer=who,
                             nonce=self._nonce(who, nonce), deadline=self._deadline(deadline))

    def guardian_message(self, patient: str, guardian: str, expires_at: int, *,
                         deadline: int | None = None,
                         nonce: int | None = None) -> SetGuardianConsent:
        """A ``SetGuardian`` the patient signs to appoint ``guardian`` until ``expires_at``."""
        return SetGuardianConsent(patient=patient, guardian=guardian, expires_at=expires_at,
                                  nonce=self._nonce(patient, nonce),
                                  deadline=self._deadline(deadline))

    def remove_guardian_message(self, patient: str, guardian: str, *,
                                deadline: int | None = None,
                                nonce: int | None = None) -> RemoveGuardianConsent:
        """A ``RemoveGuardian`` the patient signs."""
        return RemoveGuardianConsent(patient=patient, guardian=guardian,
                                     nonce=self._nonce(patient, nonce),
                                     deadline=self._deadline(deadline))

    def register_key_message(self, patient: str, encryption_key: bytes, *,
                             deadline: int | None = None,
                             nonce: int | None = None) -> RegisterKeyConsent:
        """A ``RegisterKey`` the patient signs (only the patient sets the patient's key)."""
        return RegisterKeyConsent(patient=patient, encryption_key=encryption_key,
                                  nonce=self._nonce(patient, nonce),
                                  deadline=self._deadline(deadline))

    def answer_message(self, request: RequestDetails, approve: bool, expires_at: int = 0, *,
                       signer: str | None = None, deadline: int | None = None,
                       nonce: int | None = None) -> AnswerRequestConsent:
        """An ``AnswerRequest`` (approve until ``expires_at``, or reject) signed by ``signer``
        (default: the request's patient)."""
        who = signer or request.patient
        return AnswerRequestConsent(
            request_id=request.request_id, requester=request.requester, patient=request.patient,
            scope=request.scope, purpose=int(request.purpose), approve=approve,
            expires_at=expires_at, signer=who, nonce=self._nonce(who, nonce),
            deadline=self._deadline(deadline))

    def close_break_glass_message(self, patient: str, institution: str, *,
                                  signer: str | None = None, deadline: int | None = None,
                                  nonce: int | None = None) -> CloseBreakGlassConsent:
        """A ``CloseBreakGlass`` signed by ``signer`` (default: the patient)."""
        who = signer or patient
        return CloseBreakGlassConsent(patient=patient, institution=institution, signer=who,
                                      nonce=self._nonce(who, nonce),
                                      deadline=self._deadline(deadline))

    def sign(self, message: ConsentMessage, account: LocalAccount) -> SignedConsent:
        """Sign ``message`` with ``account`` under this registry's domain."""
        return sign_consent(message, self.domain(), account)

    def sign_with_keystore(self, message: ConsentMessage, keystore: str | os.PathLike[str],
                           password: str) -> SignedConsent:
        """Sign with the key in an Ethereum keystore file.

        Raises:
            WrongPassword: the password does not open the keystore.
        """
        return self.sign(message, load_keystore_account(keystore, password))

    # -- one-call helpers -------------------------------------------------------------------

    def grant(self, account: LocalAccount, grantee: str, scope: bytes,
              purposes: Iterable[Purpose | str | int] | int, expires_at: int, *,
              patient: str | None = None, deadline: int | None = None) -> SignedConsent:
        """Build and sign a ``Grant`` by ``account`` (for itself, or for ``patient`` as guardian)."""
        msg = self.grant_message(patient or account.address, grantee, scope, purposes,
                                 expires_at, deadline=deadline, signer=account.address)
        return self.sign(msg, account)

    def revoke(self, account: LocalAccount, grantee: str, scope: bytes, *,
               patient: str | None = None, deadline: int | None = None) -> SignedConsent:
        """Build and sign a ``Revoke`` by ``account`` (for itself, or for ``patient``)."""
        msg = self.revoke_message(patient or account.address, grantee, scope,
                                  deadline=deadline, signer=account.address)
        return self.sign(msg, account)

    def set_guardian(self, account: LocalAccount, guardian: str, expires_at: int, *,
                     deadline: int | None = None) -> SignedConsent:
        """Build and sign a ``SetGuardian`` by the patient ``account``."""
        msg = self.guardian_message(account.address, guardian, expires_at, deadline=deadline)
        return self.sign(msg, account)
