"""EIP-712 typed data of the ConsentRegistry: the domain and the signed consent types.

- ``GrantConsent``, ``RevokeConsent``, ``SetGuardianConsent``, ``RemoveGuardianConsent``,
  ``RegisterKeyConsent``, ``AnswerRequestConsent``, ``CloseBreakGlassConsent``: the signed types
  of ``ConsentRegistry`` (every patient action has one), field for field like the Solidity typehashes
  (``docs/contract-api.md``). ``typed_data(domain)`` is the exact JSON a browser wallet signs
  with ``eth_signTypedData_v4``.
- ``Eip712Domain`` (``careledger.consent.domain``): read from the contract itself (EIP-5267 ``eip712Domain()``) and checked
  against ``DOMAIN_SEPARATOR()``, so the SDK never signs for a hard-coded domain.
- ``parse_typed_data``: wallet JSON back into a message and domain, refusing any other types.

Integers in typed-data JSON are JSON numbers up to 2**53 - 1 (JavaScript's safe range) and
decimal strings above it; MetaMask and eth-account hash both forms identically.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

from eth_abi.abi import encode
from eth_utils.crypto import keccak

from careledger.codes import Purpose
from careledger.consent.domain import (
    EIP712_DOMAIN_FIELDS,
    Eip712Domain,
    check_uint,
    json_int,
    parse_address,
    parse_bytes32,
    parse_int,
)
from careledger.contracts import ConsentRegistry, ContractTx, RequestDetails
from careledger.errors import (
    InvalidInput,
    MalformedTypedData,
)
from careledger.validate import address

# --- messages -------------------------------------------------------------------------------


def _camel_to_snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name)


@dataclass(frozen=True)
class SignedType:
    """Base of every EIP-712 signed type (consents here, node requests in ``careledger.node``):
    encoding, hashing and typed-data JSON from ``FIELDS``."""

    TYPE_NAME: ClassVar[str]
    #: ``(solidityName, solidityType)`` in typehash order.
    FIELDS: ClassVar[tuple[tuple[str, str], ...]]
    #: The field holding the account that must sign.
    SIGNER_FIELD: ClassVar[str] = "signer"

    def __post_init__(self) -> None:
        for sol_name, sol_type in self.FIELDS:
            attr = _camel_to_snake(sol_name)
            value = getattr(self, attr)
            if sol_type == "address":
                object.__setattr__(self, attr, address(value, sol_name))  # EIP-55 checked
            elif sol_type == "bytes32":
                if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
                    raise InvalidInput(f"{sol_name} must be 32 bytes, got {value!r}")
                object.__setattr__(self, attr, bytes(value))
            elif sol_type == "bool":
                if not isinstance(value, bool):
                    raise InvalidInput(f"{sol_name} must be true or false, got {value!r}")
            else:
                check_uint(value, int(sol_type.removeprefix("uint")), sol_name)

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
        """The account that must sign (and whose nonce the message carries): the field named
        by ``SIGNER_FIELD``."""
        return str(getattr(self, _camel_to_snake(self.SIGNER_FIELD)))

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
            elif t in ("address", "bool"):
                out[n] = v
            else:
                out[n] = json_int(v)
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
                kwargs[_camel_to_snake(n)] = parse_address(data[n], what)
            elif t == "bytes32":
                kwargs[_camel_to_snake(n)] = parse_bytes32(data[n], what)
            elif t == "bool":
                if not isinstance(data[n], bool):
                    raise MalformedTypedData(f"{what} must be true or false, got {data[n]!r}")
                kwargs[_camel_to_snake(n)] = data[n]
            else:
                kwargs[_camel_to_snake(n)] = parse_int(data[n], what)
        try:
            return cls(**kwargs)
        except InvalidInput as exc:
            raise MalformedTypedData(str(exc)) from exc


@dataclass(frozen=True)
class GrantConsent(SignedType):
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

    def to_tx(self, registry: ConsentRegistry, signature: bytes) -> ContractTx:
        """The ``grantBySig`` transaction carrying this message and ``signature``."""
        return registry.grant_by_sig(
            self.patient, self.grantee, self.scope, self.purposes, self.expires_at,
            self.signer, self.deadline, signature)


@dataclass(frozen=True)
class RevokeConsent(SignedType):
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

    def to_tx(self, registry: ConsentRegistry, signature: bytes) -> ContractTx:
        """The ``revokeBySig`` transaction carrying this message and ``signature``."""
        return registry.revoke_by_sig(
            self.patient, self.grantee, self.scope, self.signer, self.deadline, signature)


@dataclass(frozen=True)
class SetGuardianConsent(SignedType):
    """``SetGuardian(address patient,address guardian,uint64 expiresAt,uint256 nonce,
    uint256 deadline)`` — signed by the patient, submitted with ``setGuardianBySig``."""

    TYPE_NAME: ClassVar[str] = "SetGuardian"
    SIGNER_FIELD: ClassVar[str] = "patient"  # only the patient appoints a guardian
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("patient", "address"), ("guardian", "address"), ("expiresAt", "uint64"),
        ("nonce", "uint256"), ("deadline", "uint256"),
    )

    patient: str
    guardian: str
    expires_at: int
    nonce: int
    deadline: int

    def to_tx(self, registry: ConsentRegistry, signature: bytes) -> ContractTx:
        """The ``setGuardianBySig`` transaction carrying this message and ``signature``."""
        return registry.set_guardian_by_sig(
            self.patient, self.guardian, self.expires_at, self.deadline, signature)


@dataclass(frozen=True)
class RemoveGuardianConsent(SignedType):
    """``RemoveGuardian(address patient,address guardian,uint256 nonce,uint256 deadline)`` —
    signed by the patient, submitted with ``removeGuardianBySig``."""

    TYPE_NAME: ClassVar[str] = "RemoveGuardian"
    SIGNER_FIELD: ClassVar[str] = "patient"  # only the patient removes a guardian
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("patient", "address"), ("guardian", "address"), ("nonce", "uint256"),
        ("deadline", "uint256"),
    )

    patient: str
    guardian: str
    nonce: int
    deadline: int

    def to_tx(self, registry: ConsentRegistry, signature: bytes) -> ContractTx:
        """The ``removeGuardianBySig`` transaction carrying this message and ``signature``."""
        return registry.remove_guardian_by_sig(self.patient, self.guardian, self.deadline, signature)


@dataclass(frozen=True)
class RegisterKeyConsent(SignedType):
    """``RegisterKey(address patient,bytes32 encryptionKey,uint256 nonce,uint256 deadline)`` —
    signed by the patient only, submitted with ``registerPatientKeyBySig``."""

    TYPE_NAME: ClassVar[str] = "RegisterKey"
    SIGNER_FIELD: ClassVar[str] = "patient"  # only the patient registers its key
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("patient", "address"), ("encryptionKey", "bytes32"), ("nonce", "uint256"),
        ("deadline", "uint256"),
    )

    patient: str
    encryption_key: bytes
    nonce: int
    deadline: int

    def to_tx(self, registry: ConsentRegistry, signature: bytes) -> ContractTx:
        """The ``registerPatientKeyBySig`` transaction carrying this message and ``signature``."""
        return registry.register_patient_key_by_sig(self.patient, self.encryption_key,
                                                    self.deadline, signature)


@dataclass(frozen=True)
class AnswerRequestConsent(SignedType):
    """``AnswerRequest(uint256 requestId,address requester,address patient,bytes32 scope,
    uint8 purpose,bool approve,uint64 expiresAt,address signer,uint256 nonce,uint256 deadline)``
    — signed by the patient or a guardian, submitted with ``answerRequestBySig``."""

    TYPE_NAME: ClassVar[str] = "AnswerRequest"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("requestId", "uint256"), ("requester", "address"), ("patient", "address"),
        ("scope", "bytes32"), ("purpose", "uint8"), ("approve", "bool"),
        ("expiresAt", "uint64"), ("signer", "address"), ("nonce", "uint256"),
        ("deadline", "uint256"),
    )

    request_id: int
    requester: str
    patient: str
    scope: bytes
    purpose: int
    approve: bool
    expires_at: int
    signer: str
    nonce: int
    deadline: int

    @property
    def details(self) -> RequestDetails:
        """The request's details, as ``approveRequest`` takes them."""
        return RequestDetails(self.request_id, self.requester, self.patient, self.scope,
                              Purpose(self.purpose))

    def to_tx(self, registry: ConsentRegistry, signature: bytes) -> ContractTx:
        """The ``answerRequestBySig`` transaction carrying this message and ``signature``."""
        return registry.answer_request_by_sig(self.details, self.approve, self.expires_at,
                                              self.signer, self.deadline, signature)


@dataclass(frozen=True)
class CloseBreakGlassConsent(SignedType):
    """``CloseBreakGlass(address patient,address institution,address signer,uint256 nonce,
    uint256 deadline)`` — signed by the patient or a guardian, submitted with
    ``closeBreakGlassBySig``."""

    TYPE_NAME: ClassVar[str] = "CloseBreakGlass"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("patient", "address"), ("institution", "address"), ("signer", "address"),
        ("nonce", "uint256"), ("deadline", "uint256"),
    )

    patient: str
    institution: str
    signer: str
    nonce: int
    deadline: int

    def to_tx(self, registry: ConsentRegistry, signature: bytes) -> ContractTx:
        """The ``closeBreakGlassBySig`` transaction carrying this message and ``signature``."""
        return registry.close_break_glass_by_sig(self.patient, self.institution, self.signer,
                                                 self.deadline, signature)


#: Any of the ConsentRegistry's signed types.
ConsentMessage: TypeAlias = (GrantConsent | RevokeConsent | SetGuardianConsent
                             | RemoveGuardianConsent | RegisterKeyConsent | AnswerRequestConsent
                             | CloseBreakGlassConsent)

MESSAGE_TYPES: dict[str, type[ConsentMessage]] = {
    c.TYPE_NAME: c for c in (GrantConsent, RevokeConsent, SetGuardianConsent,
                             RemoveGuardianConsent, RegisterKeyConsent, AnswerRequestConsent,
                             CloseBreakGlassConsent)
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
    return message, domain
