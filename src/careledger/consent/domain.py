"""The EIP-712 domain of a deployment, read from the contract and checked, and the JSON
conventions of typed data (integers above 2**53 - 1 as decimal strings, addresses checksummed,
bytes32 as 0x-hex)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from hexbytes import HexBytes

from careledger.contracts import ConsentRegistry
from careledger.errors import (
    ChainIdMismatch,
    DomainMismatch,
    InvalidInput,
    MalformedTypedData,
)
from careledger.validate import address

#: Largest integer a JavaScript number holds exactly; above it typed-data JSON uses strings.
MAX_SAFE_JSON_INT = 2**53 - 1

DOMAIN_NAME = "CareLedger ConsentRegistry"
DOMAIN_VERSION = "2"
#: keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")
EIP712_DOMAIN_TYPE = (
    "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
EIP712_DOMAIN_TYPEHASH = keccak(text=EIP712_DOMAIN_TYPE)
EIP712_DOMAIN_FIELDS: tuple[tuple[str, str], ...] = (
    ("name", "string"), ("version", "string"), ("chainId", "uint256"),
    ("verifyingContract", "address"),
)


# --- JSON helpers ---------------------------------------------------------------------------


def json_int(value: int) -> int | str:
    return value if value <= MAX_SAFE_JSON_INT else str(value)


def parse_int(value: Any, what: str) -> int:
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


def parse_address(value: Any, what: str) -> str:
    """An address of signed typed data; a mixed-case one must carry a correct EIP-55 checksum."""
    try:
        return address(value, what)
    except InvalidInput as exc:
        raise MalformedTypedData(f"{exc} (in the signed typed data)") from None


def parse_bytes32(value: Any, what: str) -> bytes:
    try:
        raw = bytes(HexBytes(value)) if isinstance(value, (str, bytes)) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise MalformedTypedData(f"{what} must be 32 bytes as 0x-hex, got {value!r}")
    return raw


def check_uint(value: int, bits: int, what: str) -> int:
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
        object.__setattr__(self, "verifying_contract",
                           address(self.verifying_contract, "verifyingContract"))
        check_uint(self.chain_id, 256, "chainId")

    @classmethod
    def from_chain(cls, registry: ConsentRegistry) -> Eip712Domain:
        """Read the domain with EIP-5267 ``eip712Domain()`` and check it.

        Raises:
            DomainMismatch: the contract reports another name/version, extra fields (salt,
                extensions), another address, or a ``DOMAIN_SEPARATOR()`` this SDK does not
                recompute.
            ChainIdMismatch: the contract's chain id differs from the node's.
        """
        reported = registry.eip712_domain()
        flag_byte, name, version = reported.fields, reported.name, reported.version
        chain_id, verifying = reported.chain_id, reported.verifying_contract
        if flag_byte != 0x0F or reported.salt != b"\x00" * 32 or reported.extensions:
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
        onchain = registry.domain_separator()
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
        return {"name": self.name, "version": self.version, "chainId": json_int(self.chain_id),
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
        return cls(chain_id=parse_int(data["chainId"], "domain.chainId"),
                   verifying_contract=parse_address(data["verifyingContract"],
                                                     "domain.verifyingContract"),
                   name=data["name"], version=data["version"])
