"""Signed (EIP-712) consents: messages, wallet typed data, signatures and a relayer.

A patient (or a live guardian) signs a consent off chain; anyone submits it and pays the gas.

- ``GrantConsent``, ``RevokeConsent``, ``SetGuardianConsent``: the three signed types of
  ``ConsentRegistry``, field for field like the Solidity typehashes
  (``docs/contract-api.md``). ``typed_data(domain)`` is the exact JSON a browser wallet signs
  with ``eth_signTypedData_v4``.
- ``Eip712Domain``: read from the contract itself (EIP-5267 ``eip712Domain()``) and checked
  against ``DOMAIN_SEPARATOR()``, so the SDK never signs for a hard-coded domain.
- ``ConsentSigner``: builds messages with the signer's current on-chain nonce and signs them
  with an eth-account key or a keystore file.
- ``SignedConsent``: message + domain + signer + signature; the JSON file ``careledger consent
  sign`` writes is ``{"typedData": ..., "signature": "0x..."}``, the same payload a wallet page
  hands to the relayer (``SignedConsent.from_wallet``).
- ``Relayer``: validates locally, estimates (a doomed submission raises before spending gas),
  submits, and treats "nonce already consumed and the chain already holds this intent" as
  success (someone else, e.g. a front-runner, applied it).

Integers in typed-data JSON are JSON numbers up to 2**53 - 1 (JavaScript's safe range) and
decimal strings above it; MetaMask and eth-account hash both forms identically.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, TypeAlias

from eth_abi.abi import encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.address import is_address, to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes
from web3.contract.contract import ContractFunction
from web3.exceptions import Web3Exception

from careledger.chain import Sender
from careledger.codes import Purpose, purpose_mask
from careledger.contracts.deployment import ConsentRegistry
from careledger.errors import (
    CareLedgerError,
    ChainIdMismatch,
    DomainMismatch,
    InvalidInput,
    MalformedTypedData,
    MalleableSignature,
    SignatureExpired,
    SignatureMismatch,
    WrongPassword,
)

#: secp256k1 group order; OpenZeppelin ``ECDSA`` refuses ``s > N/2`` (malleable signatures).
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
SECP256K1_HALF_N = SECP256K1_N // 2

#: Largest integer a JavaScript number holds exactly; above it typed-data JSON uses strings.
MAX_SAFE_JSON_INT = 2**53 - 1

DOMAIN_NAME = "CareLedger ConsentRegistry"
DOMAIN_VERSION = "1"
#: keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
EIP712_DOMAIN_TYPE = (
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
EIP712_DOMAIN_TYPEHASH = keccak(text=EIP712_DOMAIN_TYPE)
EIP712_DOMAIN_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "string"), ("version", "string"), ("chainId", "uint256"),
    ("verifyingContract", "address"),
)
#: Default validity of a signature built by ``ConsentSigner`` without an explicit deadline.
DEFAULT_DEADLINE_SECONDS = 24 * 3600




# --- JSON helpers ---------------------------------------------------------------------------


def _json_int(value: int) -> int | str:
    return value if value <= MAX_SAFE_JSON_INT else str(value)


def _parse_int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise MalformedTypedData(f"{what} must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        s = value.strip()
        try:
            return int(s, 16) if s.lower().startswith("0x") else int(s, 10)
        except ValueError:
            pass
    raise MalformedTypedData(f"{what} must be an integer (number or decimal string), got {value!r}")


def _parse_address(value: Any, what: str) -> str:
    if not isinstance(value, str) or not is_address(value):
        raise MalformedTypedData(f"{what} must be a 0x-prefixed 20-byte address, got {value!r}")
    return str(to_checksum_address(value))


def _parse_bytes32(value: Any, what: str) -> bytes:
    try:
        raw = bytes(HexBytes(value)) if isinstance(value, (str, bytes)) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise MalformedTypedData(f"{what} must be 32 bytes as 0x-hex, got {value!r}")
    return raw


def _check_uint(value: int, bits: int, what: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**bits:
        raise InvalidInput(f"{what} must be an integer in [0, 2**{bits}), got {value!r}")
    return value


# --- domain ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Eip712Domain:
    """The EIP-712 domain of one ConsentRegistry deployment.

    Read it from the chain (``Eip712Domain.from_chain``) rather than building it by hand.
    """

    chain_id: int
    verifying_contract: str
    name: str = DOMAIN_NAME
    version: str = DOMAIN_VERSION

    def __post_init__(self) -> None:
        if not is_address(self.verifying_contract):
            raise InvalidInput(f"verifyingContract {self.verifying_contract!r} is not an address")
        object.__setattr__(self, "verifying_contract", to_checksum_address(self.verifying_contract))
        _check_uint(self.chain_id, 256, "chainId")

    @classmethod
    def from_chain(cls, registry: ConsentRegistry) -> Eip712Domain:
        """Read the domain with EIP-5267 ``eip712Domain()`` and check it.

        Raises:
            DomainMismatch: the contract reports another name/version, extra fields (salt,
                extensions), another address, or a ``DOMAIN_SEPARATOR()`` this SDK does not
                recompute.
            ChainIdMismatch: the contract's chain id differs from the node's.
        """
        flags, name, version, chain_id, verifying, salt, extensions = registry._view("eip712Domain")
        flag_byte = bytes(flags)[0] if isinstance(flags, (bytes, bytearray)) else int(flags)
        if flag_byte != 0x0F or bytes(salt) != b"\x00" * 32 or list(extensions):
            raise DomainMismatch(
                f"ConsentRegistry at {registry.address} reports EIP-712 fields 0x{flag_byte:02x} "
                "(salt/extensions): this SDK signs name, version, chainId, verifyingContract only"
            )
        if name != DOMAIN_NAME or version != DOMAIN_VERSION:
            raise DomainMismatch(
                f"ConsentRegistry at {registry.address} reports domain {name!r} v{version!r}, "
                f"not {DOMAIN_NAME!r} v{DOMAIN_VERSION!r}: is this a CareLedger deployment?"
            )
        if to_checksum_address(verifying) != registry.address:
            raise DomainMismatch(
                f"ConsentRegistry at {registry.address} reports verifyingContract {verifying}"
            )
        if int(chain_id) != registry.chain.chain_id:
            raise ChainIdMismatch(
                f"ConsentRegistry reports chain id {chain_id}, the node {registry.chain.chain_id}"
            )
        domain = cls(chain_id=int(chain_id), verifying_contract=str(verifying), name=str(name),
                     version=str(version))
        onchain = bytes(registry._view("DOMAIN_SEPARATOR"))
        if onchain != domain.separator():
            raise DomainMismatch(
                f"DOMAIN_SEPARATOR() of {registry.address} is 0x{onchain.hex()}, but this SDK "
                f"computes 0x{domain.separator().hex()}: do not sign until this is resolved"
            )
        return domain

    def separator(self) -> bytes:
        """``keccak256(abi.encode(EIP712_DOMAIN_TYPEHASH, name, version, chainId, contract))``."""
        return keccak(encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [EIP712_DOMAIN_TYPEHASH, keccak(text=self.name), keccak(text=self.version),
             self.chain_id, self.verifying_contract],
        ))

    def to_json(self) -> dict[str, Any]:
        """The ``domain`` object of ``eth_signTypedData_v4`` typed data."""
        return {"name": self.name, "version": self.version, "chainId": _json_int(self.chain_id),
                "verifyingContract": self.verifying_contract}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Eip712Domain:
        """Parse the ``domain`` object of typed data.

        Raises:
            MalformedTypedData: missing or extra fields, or malformed values.
        """
        if not isinstance(data, Mapping) or set(data) != {n for n, _ in EIP712_DOMAIN_FIELDS}:
            raise MalformedTypedData(
                "the domain must have exactly name, version, chainId and verifyingContract, "
                f"got {sorted(data) if isinstance(data, Mapping) else data!r}"
            )
        if not isinstance(data["name"], str) or not isinstance(data["version"], str):
            raise MalformedTypedData("domain name and version must be strings")
        return cls(chain_id=_parse_int(data["chainId"], "domain.chainId"),
                   verifying_contract=_parse_address(data["verifyingContract"],
                                                     "domain.verifyingContract"),
                   name=data["name"], version=data["version"])


# --- messages -------------------------------------------------------------------------------


def _camel_to_snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


@dataclass(frozen=True)
class _SignedType:
    """Base of the three signed types: encoding, hashing and typed-data JSON."""

    TYPE_NAME: ClassVar[str]
    #: ``(solidityName, solidityType)`` in typehash order.
    FIELDS: ClassVar[tuple[tuple[str, str], ...]]

    def __post_init__(self) -> None:
        for sol_name, sol_type in self.FIELDS:
            attr = _camel_to_snake(sol_name)
            value = getattr(self, attr)
            if sol_type == "address":
                if not isinstance(value, str) or not is_address(value):
                    raise InvalidInput(f"{sol_name} must be an Ethereum address, got {value!r}")
                object.__setattr__(self, attr, to_checksum_address(value))
            elif sol_type == "bytes32":
                if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
                    raise InvalidInput(f"{sol_name} must be 32 bytes, got {value!r}")
                object.__setattr__(self, attr, bytes(value))
            else:
                _check_uint(value, int(sol_type.removeprefix("uint")), sol_name)

    # -- type ------------------------------------------------------------------------------

    @classmethod
    def type_string(cls) -> str:
        """The Solidity type string, e.g. ``Revoke(address patient,...,uint256 deadline)``."""
        return f"{cls.TYPE_NAME}({','.join(f'{t} {n}' for n, t in cls.FIELDS)})"

    @classmethod
    def typehash(cls) -> bytes:
        """``keccak256`` of ``type_string()`` (the contract's ``*_TYPEHASH`` constant)."""
        return keccak(text=cls.type_string())

    @classmethod
    def types_json(cls) -> list[dict[str, str]]:
        """The ``types[TYPE_NAME]`` list of typed data."""
        return [{"name": n, "type": t} for n, t in cls.FIELDS]

    # -- values ----------------------------------------------------------------------------

    def values(self) -> list[Any]:
        """Field values in typehash order (Python types: str, bytes, int)."""
        return [getattr(self, _camel_to_snake(n)) for n, _ in self.FIELDS]

    @property
    def signer_address(self) -> str:
        """The account that must sign (and whose nonce the message carries)."""
        return str(getattr(self, "signer"))  # noqa: B009 (subclasses define it)

    def struct_hash(self) -> bytes:
        """``keccak256(abi.encode(TYPEHASH, field1, ...))``."""
        types = ["bytes32", *(t for _, t in self.FIELDS)]
        return keccak(encode(types, [self.typehash(), *self.values()]))

    def digest(self, domain: Eip712Domain) -> bytes:
        """The EIP-712 digest ``keccak256(0x1901 || domainSeparator || structHash)``."""
        return keccak(b"\x19\x01" + domain.separator() + self.struct_hash())

    def message_json(self) -> dict[str, Any]:
        """The ``message`` object of typed data (addresses checksummed, bytes32 0x-hex)."""
        out: dict[str, Any] = {}
        for (n, t), v in zip(self.FIELDS, self.values(), strict=True):
            if t == "bytes32":
                out[n] = "0x" + v.hex()
            elif t == "address":
                out[n] = v
            else:
                out[n] = _json_int(v)
        return out

    def typed_data(self, domain: Eip712Domain) -> dict[str, Any]:
        """The exact JSON a wallet signs with ``eth_signTypedData_v4``
        (and ``eth_account.messages.encode_typed_data(full_message=...)`` accepts)."""
        return {
            "types": {
                "EIP712Domain": [{"name": n, "type": t} for n, t in EIP712_DOMAIN_FIELDS],
                self.TYPE_NAME: self.types_json(),
            },
            "primaryType": self.TYPE_NAME,
            "domain": domain.to_json(),
            "message": self.message_json(),
        }

    @classmethod
    def from_message_json(cls, data: Mapping[str, Any]) -> Any:
        """Parse a ``message`` object of typed data into this type.

        Raises:
            MalformedTypedData: missing or extra fields, or malformed values.
        """
        expected = {n for n, _ in cls.FIELDS}
        if not isinstance(data, Mapping) or set(data) != expected:
            raise MalformedTypedData(
                f"a {cls.TYPE_NAME} message has exactly the fields {sorted(expected)}, got "
                f"{sorted(data) if isinstance(data, Mapping) else data!r}"
            )
        kwargs: dict[str, Any] = {}
        for n, t in cls.FIELDS:
            what = f"{cls.TYPE_NAME}.{n}"
            if t == "address":
                kwargs[_camel_to_snake(n)] = _parse_address(data[n], what)
            elif t == "bytes32":
                kwargs[_camel_to_snake(n)] = _parse_bytes32(data[n], what)
            else:
                kwargs[_camel_to_snake(n)] = _parse_int(data[n], what)
        try:
            return cls(**kwargs)
        except InvalidInput as exc:
            raise MalformedTypedData(str(exc)) from exc


@dataclass(frozen=True)
class GrantConsent(_SignedType):
    """``Grant(address patient,address grantee,bytes32 scope,uint32 purposes,uint64 expiresAt,
    address signer,uint256 nonce,uint256 deadline)`` — submitted with ``grantBySig``."""

    TYPE_NAME: ClassVar[str] = "Grant"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("patient", "address"), ("grantee", "address"), ("scope", "bytes32"),
        ("purposes", "uint32"), ("expiresAt", "uint64"), ("signer", "address"),
        ("nonce", "uint256"), ("deadline", "uint256"),
    )

    patient: str
    grantee: str
    scope: bytes
    purposes: int
    expires_at: int
    signer: str
    nonce: int
    deadline: int

    def call(self, registry: ConsentRegistry, signature: bytes) -> ContractFunction:
        """The ``grantBySig`` call carrying this message and ``signature``."""
        return registry.contract.functions.grantBySig(
            self.patient, self.grantee, self.scope, self.purposes, self.expires_at,
            self.signer, self.deadline, signature)


@dataclass(frozen=True)
class RevokeConsent(_SignedType):
    """``Revoke(address patient,address grantee,bytes32 scope,address signer,uint256 nonce,
    uint256 deadline)`` — submitted with ``revokeBySig``."""

    TYPE_NAME: ClassVar[str] = "Revoke"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("patient", "address"), ("grantee", "address"), ("scope", "bytes32"),
        ("signer", "address"), ("nonce", "uint256"), ("deadline", "uint256"),
    )

    patient: str
    grantee: str
    scope: bytes
    signer: str
    nonce: int
    deadline: int

    def call(self, registry: ConsentRegistry, signature: bytes) -> ContractFunction:
        """The ``revokeBySig`` call carrying this message and ``signature``."""
        return registry.contract.functions.revokeBySig(
            self.patient, self.grantee, self.scope, self.signer, self.deadline, signature)


@dataclass(frozen=True)
class SetGuardianConsent(_SignedType):
    """``SetGuardian(address patient,address guardian,uint64 expiresAt,uint256 nonce,
    uint256 deadline)`` — signed by the patient, submitted with ``setGuardianBySig``."""

    TYPE_NAME: ClassVar[str] = "SetGuardian"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("patient", "address"), ("guardian", "address"), ("expiresAt", "uint64"),
        ("nonce", "uint256"), ("deadline", "uint256"),
    )

    patient: str
    guardian: str
    expires_at: int
    nonce: int
    deadline: int

    @property
    def signer_address(self) -> str:
        """Only the patient signs a guardian appointment."""
        return self.patient

    def call(self, registry: ConsentRegistry, signature: bytes) -> ContractFunction:
        """The ``setGuardianBySig`` call carrying this message and ``signature``."""
        return registry.contract.functions.setGuardianBySig(
            self.patient, self.guardian, self.expires_at, self.deadline, signature)


#: Any of the three signed consent types.
ConsentMessage: TypeAlias = GrantConsent | RevokeConsent | SetGuardianConsent

MESSAGE_TYPES: dict[str, type[GrantConsent | RevokeConsent | SetGuardianConsent]] = {
    c.TYPE_NAME: c for c in (GrantConsent, RevokeConsent, SetGuardianConsent)
}


def parse_typed_data(typed_data: Mapping[str, Any] | str) -> tuple[ConsentMessage, Eip712Domain]:
    """Parse ``eth_signTypedData_v4`` JSON (a dict or its text) into a message and domain.

    The ``types`` must be exactly those of the contract: a wallet that signed other types
    signed another digest.

    Raises:
        MalformedTypedData: not one of the three ConsentRegistry types, or malformed values.
    """
    if isinstance(typed_data, str):
        try:
            typed_data = json.loads(typed_data)
        except ValueError as exc:
            raise MalformedTypedData(f"typed data is not JSON: {exc}") from exc
    if not isinstance(typed_data, Mapping):
        raise MalformedTypedData("typed data must be a JSON object")
    missing = {"types", "primaryType", "domain", "message"} - set(typed_data)
    if missing:
        raise MalformedTypedData(f"typed data lacks {sorted(missing)}")
    primary = typed_data["primaryType"]
    cls = MESSAGE_TYPES.get(primary) if isinstance(primary, str) else None
    if cls is None:
        raise MalformedTypedData(
            f"primaryType {primary!r} is not one of {sorted(MESSAGE_TYPES)}"
        )
    expected_types = {
        "EIP712Domain": [{"name": n, "type": t} for n, t in EIP712_DOMAIN_FIELDS],
        cls.TYPE_NAME: cls.types_json(),
    }
    if typed_data["types"] != expected_types:
        raise MalformedTypedData(
            f"the types of this typed data differ from the contract's {cls.type_string()}"
        )
    message = cls.from_message_json(typed_data["message"])
    domain = Eip712Domain.from_json(typed_data["domain"])
    assert isinstance(message, (GrantConsent, RevokeConsent, SetGuardianConsent))
    return message, domain


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
    """The address that signed ``message`` under ``domain`` (checksummed)."""
    signable = encode_typed_data(full_message=message.typed_data(domain))
    return str(Account.recover_message(signable, signature=signature))


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
    def create(cls, message: ConsentMessage, domain: Eip712Domain,
               signature: bytes | str) -> SignedConsent:
        """Check ``signature`` (low-s, recovers to ``message``'s signer) and wrap it.

        Raises:
            MalleableSignature: malformed or high-s signature.
            SignatureMismatch: it recovers to another address.
        """
        sig = normalize_signature(signature)
        recovered = recover_signer(message, domain, sig)
        if recovered != message.signer_address:
            raise SignatureMismatch(
                f"the signature recovers to {recovered}, but this {message.TYPE_NAME} must be "
                f"signed by {message.signer_address}: wrong account, or the typed data changed"
            )
        return cls(message=message, domain=domain, signer=recovered, signature=sig)

    @classmethod
    def from_wallet(cls, typed_data: Mapping[str, Any] | str,
                    signature_hex: str | bytes) -> SignedConsent:
        """Accept what a browser wallet returns for ``eth_signTypedData_v4``.

        Args:
            typed_data: the typed-data JSON (object or text) the page asked the wallet to sign.
            signature_hex: the wallet's 0x-hex signature.

        Raises:
            MalformedTypedData: not a ConsentRegistry type.
            MalleableSignature, SignatureMismatch: the signature is unusable or not the signer's.
        """
        message, domain = parse_typed_data(typed_data)
        return cls.create(message, domain, signature_hex)

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
    def from_json(cls, data: Mapping[str, Any] | str) -> SignedConsent:
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
        return cls.from_wallet(data["typedData"], sig)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``to_json()`` atomically (temp file, fsync, rename); return the path."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=".consent-")
        try:
            with os.fdopen(fd, "w") as fh:
                json.dump(self.to_json(), fh, indent=2)
                fh.write("\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return p

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SignedConsent:
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
        return cls.from_json(text)

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
            now = _chain_time(registry)
        if self.message.deadline < now:
            raise SignatureExpired(
                f"SignatureExpired(deadline={self.message.deadline}, timestamp={now}): "
                f"{SignatureExpired.hint}", "SignatureExpired",
                {"deadline": self.message.deadline, "timestamp": now})
        SignedConsent.create(self.message, self.domain, self.signature)


def _chain_time(registry: ConsentRegistry) -> int:
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
            return _chain_time(self.registry) + DEFAULT_DEADLINE_SECONDS
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
        call = signed.message.call(self.registry, signed.signature)
        what = f"{signed.message.TYPE_NAME}BySig for {signed.message.patient}"
        if gas is None:
            try:
                gas = int(self.sender.estimate(call) * self.sender.gas_multiplier)
            except CareLedgerError as exc:
                done = self._already_applied(signed, exc, spent=0, ours=None)
                if done is not None:
                    return done
                raise
        sent = self.sender.send(call, gas=gas, description=what)
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
        if isinstance(message, GrantConsent):
            purposes, expires_at, _ = self.registry.grant_of(message.patient, message.grantee,
                                                             message.scope)
            return purposes == message.purposes and expires_at == message.expires_at
        if isinstance(message, RevokeConsent):
            purposes, _, _ = self.registry.grant_of(message.patient, message.grantee,
                                                    message.scope)
            return purposes == 0
        expiry = int(self.registry._view("guardianExpiry", message.patient, message.guardian))
        return expiry == message.expires_at

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
        chain = self.registry.chain
        events = self.registry.contract.events
        try:
            head = int(chain.w3.eth.block_number)
            start = max(0, head - self.log_lookback)
            if isinstance(msg, GrantConsent):
                logs = events.ConsentGranted().get_logs(
                    argument_filters={"patient": msg.patient, "grantee": msg.grantee,
                                      "scope": msg.scope}, from_block=start)
                logs = [lg for lg in logs if int(lg["args"]["purposes"]) == msg.purposes
                        and int(lg["args"]["expiresAt"]) == msg.expires_at]
            elif isinstance(msg, RevokeConsent):
                logs = events.ConsentRevoked().get_logs(
                    argument_filters={"patient": msg.patient, "grantee": msg.grantee,
                                      "scope": msg.scope}, from_block=start)
            else:
                logs = events.GuardianSet().get_logs(
                    argument_filters={"patient": msg.patient, "guardian": msg.guardian},
                    from_block=start)
                logs = [lg for lg in logs if int(lg["args"]["expiresAt"]) == msg.expires_at]
        except (Web3Exception, ValueError):
            return "", None
        if not logs:
            return "", None
        last = logs[-1]
        return HexBytes(last["transactionHash"]).to_0x_hex(), int(last["blockNumber"])


# --- frontend examples ----------------------------------------------------------------------

#: Fixed values of the examples in ``frontend-notes/examples`` (illustrative, not a deployment).
EXAMPLE_CHAIN_ID = 31337
EXAMPLE_CONSENT_REGISTRY = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"
EXAMPLE_PATIENT_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
EXAMPLE_GUARDIAN = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
EXAMPLE_GRANTEE = "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC"
EXAMPLE_SCOPE_NAME = "ALL"
EXAMPLE_EXPIRES_AT = 1_798_761_600  # 2027-01-01T00:00:00Z
EXAMPLE_DEADLINE = 1_782_864_000  # 2026-07-01T00:00:00Z


def frontend_examples() -> dict[str, Any]:
    """The example files of ``frontend-notes/examples``, by file name (deterministic).

    The patient key is anvil's public dev account #1 key (never use it on a real chain); the
    signature in ``relay-payload.json`` is deterministic (RFC 6979).
    """
    from careledger.codes import SCOPE_ALL

    patient: LocalAccount = Account.from_key(EXAMPLE_PATIENT_KEY)
    domain = Eip712Domain(chain_id=EXAMPLE_CHAIN_ID, verifying_contract=EXAMPLE_CONSENT_REGISTRY)
    grant = GrantConsent(patient=patient.address, grantee=EXAMPLE_GRANTEE, scope=SCOPE_ALL,
                         purposes=purpose_mask([Purpose.TREAT, Purpose.ETREAT]),
                         expires_at=EXAMPLE_EXPIRES_AT, signer=patient.address, nonce=0,
                         deadline=EXAMPLE_DEADLINE)
    revoke = RevokeConsent(patient=patient.address, grantee=EXAMPLE_GRANTEE, scope=SCOPE_ALL,
                           signer=patient.address, nonce=1, deadline=EXAMPLE_DEADLINE)
    guardian = SetGuardianConsent(patient=patient.address, guardian=EXAMPLE_GUARDIAN,
                                  expires_at=EXAMPLE_EXPIRES_AT, nonce=2,
                                  deadline=EXAMPLE_DEADLINE)
    return {
        "grant.json": grant.typed_data(domain),
        "revoke.json": revoke.typed_data(domain),
        "set-guardian.json": guardian.typed_data(domain),
        "relay-payload.json": sign_consent(grant, domain, patient).to_json(),
    }


def render_example(data: Any) -> str:
    """The exact text of an example file (2-space JSON, trailing newline)."""
    return json.dumps(data, indent=2) + "\n"


__all__ = [
    "ConsentMessage",
    "ConsentSigner",
    "DomainMismatch",
    "Eip712Domain",
    "GrantConsent",
    "MalformedTypedData",
    "MalleableSignature",
    "RelayResult",
    "Relayer",
    "RevokeConsent",
    "SetGuardianConsent",
    "SignatureMismatch",
    "SignedConsent",
    "frontend_examples",
    "load_keystore_account",
    "normalize_signature",
    "parse_typed_data",
    "recover_signer",
    "sign_consent",
]
