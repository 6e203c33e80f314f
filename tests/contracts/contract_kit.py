"""Helpers shared by the ape contract tests: codes, strict revert and event checks, EIP-712
signing with eth-account, the audit chain and the Merkle leaf recomputed in Python.

The codes are copied from `docs/contract-api.md` on purpose (not imported from the SDK), so a
drift between the SDK and the contracts cannot hide in both at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import ape
from ape.exceptions import CustomError
from eth_abi import encode
from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3.exceptions import ContractLogicError as Web3ContractLogicError

# -- codes (docs/contract-api.md) -----------------------------------------------------------

ROLE_PROVIDER, ROLE_RESEARCHER, ROLE_EMERGENCY = 1, 2, 4
STATUS_NONE, STATUS_ACTIVE, STATUS_SUSPENDED, STATUS_REMOVED = 0, 1, 2, 3
ADMIT, SUSPEND, REINSTATE, REMOVE, CHANGE_ROLES, CHANGE_THRESHOLD = range(6)
TREAT, ETREAT, HPAYMT, HOPERAT, HRESCH, PUBHLTH = range(6)
PENDING, APPROVED, REJECTED = 0, 1, 2
MAX_BREAK_GLASS = 72 * 3600
SCOPE_ALL = keccak(b"careledger.scope.ALL")
ZERO32 = b"\x00" * 32
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def bit(*purposes: int) -> int:
    """The uint32 purpose mask of ``purposes``."""
    mask = 0
    for p in purposes:
        mask |= 1 << p
    return mask


def category(code: str) -> bytes:
    """``keccak256(abi.encode("careledger.category", code))`` — a public code's hash."""
    return keccak(encode(["string", "string"], ["careledger.category", code]))


LAB = category("11502-2")  # LOINC laboratory report
IMAGING = category("18748-4")  # LOINC diagnostic imaging study


def record_id(issuer: Any, n: int) -> bytes:
    """A record id in ``issuer``'s namespace: its 20 address bytes, then 12 bytes (``n``)."""
    return bytes.fromhex(addr(issuer)[2:]) + n.to_bytes(12, "big")


def h(label: str) -> bytes:
    """A distinct, recognisable 32-byte value (a hash of ``label``)."""
    return keccak(text=label)


# -- normalising values that ape returns ----------------------------------------------------


def addr(value: Any) -> str:
    """Checksummed address of an account, a contract or an address string."""
    return to_checksum_address(value if isinstance(value, str) else value.address)


def norm(value: Any) -> Any:
    """Make ape's return values and test expectations comparable."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if isinstance(value, str):
        if value.startswith("0x") and len(value) == 42:
            return to_checksum_address(value)
        return value
    if isinstance(value, (list, tuple)):
        return [norm(v) for v in value]
    if hasattr(value, "address"):
        return addr(value)
    return value


def as_dict(struct: Any) -> dict[str, Any]:
    """An ape struct return value as a plain dict of normalised fields."""
    return {k: norm(v) for k, v in struct.items()}


# -- reverts ---------------------------------------------------------------------------------


@contextmanager
def reverts(error: type[CustomError], **expected: Any) -> Iterator[Any]:
    """``ape.reverts(contract.Error)``, stricter: the revert must be that custom error (never a
    bare revert or panic, which ``ape.reverts`` lets through), and every argument of the error
    must be given and equal (``ape.reverts`` silently skips unknown or misspelt names)."""
    with ape.reverts(error) as info:
        yield info
    exc = info.value
    assert isinstance(exc, CustomError), f"expected {error.__name__}, got {exc!r}"
    assert type(exc).__name__ == error.__name__, (
        f"expected {error.__name__}, got {type(exc).__name__}"
    )
    names = [i.name for i in exc.abi.inputs]
    assert sorted(expected) == sorted(names), f"{error.__name__} has arguments {names}"
    got = {n: norm(exc.inputs[n]) for n in names}
    want = {n: norm(expected[n]) for n in names}
    assert got == want, f"{error.__name__}: got {got}, expected {want}"


def error_data(contract_type: Any, name: str, **args: Any) -> bytes:
    """The exact revert data of custom error ``name`` with ``args`` (all of them)."""
    abi = next(e for e in contract_type.errors if e.name == name)
    names = [i.name for i in abi.inputs]
    types = [i.canonical_type for i in abi.inputs]
    assert sorted(args) == sorted(names), f"{name} has arguments {names}"
    selector = keccak(text=f"{name}({','.join(types)})")[:4]
    return selector + encode(types, [norm(args[n]) for n in names])


def revert_data(tx: Mapping[str, Any]) -> bytes:
    """The revert data of an ``eth_call`` (fails the test when the call succeeds)."""
    try:
        ape.chain.provider.web3.eth.call(dict(tx))  # type: ignore[arg-type]
    except Web3ContractLogicError as err:
        data = err.data if isinstance(err.data, str) else None
        assert data is not None, f"reverted without data: {err!r}"
        return bytes(HexBytes(data))
    raise AssertionError("the call did not revert")


def assert_view_reverts(
    contract: Any, method: str, args: tuple[Any, ...], error: str, **expected: Any
) -> None:
    """A view call reverts with exactly ``error(expected)`` (ape does not decode view reverts)."""
    data = getattr(contract, method).encode_input(*args)
    got = revert_data({"to": contract.address, "data": data})
    assert got == error_data(contract.contract_type, error, **expected), got.hex()


def assert_deploy_reverts(
    container: Any, args: tuple[Any, ...], error: str, **expected: Any
) -> None:
    """Deploying ``container`` with ``args`` reverts with exactly ``error(expected)``."""
    code = bytes(HexBytes(container.contract_type.deployment_bytecode.bytecode))
    data = code + bytes(container.constructor.encode_input(*args))
    got = revert_data({"data": data})
    assert got == error_data(container.contract_type, error, **expected), got.hex()


# -- events ----------------------------------------------------------------------------------


def emitted(receipt: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """Every log of ``receipt`` as (contract, event, all arguments), in order."""
    events = list(receipt.events)
    assert len(events) == len(receipt.logs), "a log was not decoded"
    return [
        (addr(e.contract_address), e.event_name, {k: norm(v) for k, v in e.event_arguments.items()})
        for e in events
    ]


def ev(contract: Any, name: str, **args: Any) -> tuple[str, str, dict[str, Any]]:
    """An expected event, every argument named (compare with ``emitted``)."""
    return (addr(contract), name, {k: norm(v) for k, v in args.items()})


# -- EIP-712 ---------------------------------------------------------------------------------

DOMAIN_NAME = "CareLedger ConsentRegistry"
DOMAIN_VERSION = "1"
EIP712_DOMAIN = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
TYPE_STRINGS = {
    "Grant": "Grant(address patient,address grantee,bytes32 scope,uint32 purposes,uint64 expiresAt,"
    "address signer,uint256 nonce,uint256 deadline)",
    "Revoke": "Revoke(address patient,address grantee,bytes32 scope,address signer,uint256 nonce,"
    "uint256 deadline)",
    "SetGuardian": "SetGuardian(address patient,address guardian,uint64 expiresAt,uint256 nonce,"
    "uint256 deadline)",
}


def _fields(type_string: str) -> list[dict[str, str]]:
    inner = type_string[type_string.index("(") + 1 : -1]
    return [{"type": t, "name": n} for t, n in (f.split(" ") for f in inner.split(","))]


TYPES = {name: _fields(s) for name, s in TYPE_STRINGS.items()}


def typed(
    primary: str, message: Mapping[str, Any], *, contract: Any, chain_id: int
) -> SignableMessage:
    """The EIP-712 message ``primary`` for ``contract`` on ``chain_id`` (eth-account)."""
    msg = {k: norm(v) for k, v in message.items()}
    return encode_typed_data(
        full_message={
            "types": {"EIP712Domain": EIP712_DOMAIN, primary: TYPES[primary]},
            "primaryType": primary,
            "domain": {
                "name": DOMAIN_NAME,
                "version": DOMAIN_VERSION,
                "chainId": chain_id,
                "verifyingContract": addr(contract),
            },
            "message": msg,
        }
    )


def digest(signable: SignableMessage) -> bytes:
    """The 32-byte EIP-712 digest that is signed."""
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def sign(key: Any, signable: SignableMessage) -> bytes:
    """65-byte r || s || v signature of ``signable`` by ``key`` (an account or a private key)."""
    private_key = key.private_key if hasattr(key, "private_key") else key
    return bytes(Account.sign_message(signable, private_key=private_key).signature)


def high_s(signature: bytes) -> bytes:
    """The malleable twin of a signature: s -> n - s and v flipped (same signer for ecrecover)."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])


# -- audit chain -----------------------------------------------------------------------------


def next_head(
    previous: bytes,
    patient: Any,
    accessor: Any,
    record: bytes,
    cat: bytes,
    purpose: int,
    timestamp: int,
    seq: int,
    via_break_glass: bool,
) -> bytes:
    """The audit head after one access: the first 24 bytes of
    keccak256(abi.encode(previousHead, patient, keccak256(entry))), zero-padded to 32."""
    entry = encode(
        ["address", "bytes32", "bytes32", "uint8", "uint64", "uint64", "bool"],
        [addr(accessor), record, cat, purpose, timestamp, seq, via_break_glass],
    )
    full = keccak(
        encode(["bytes32", "address", "bytes32"], [previous, addr(patient), keccak(entry)])
    )
    return full[:24] + b"\x00" * 8
