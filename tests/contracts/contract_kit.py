"""Helpers shared by the ape contract tests: codes, record and batch ids, strict revert and event
checks, EIP-712 signing with eth-account, the audit chain and the Merkle tree recomputed in Python.

The codes are copied from `docs/contract-api.md` on purpose (not imported from the SDK), so a
drift between the SDK and the contracts cannot hide in both at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
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
HOUR, DAY = 3600, 86400
MAX_BREAK_GLASS = 72 * HOUR
BREAK_GLASS_COOLDOWN = 24 * HOUR
BREAK_GLASS_PERIOD = 30 * DAY
BREAK_GLASS_PERIOD_CAP = 7 * DAY
ENTRY_ACCESS, ENTRY_OPENED, ENTRY_CLOSED = 0, 1, 2
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


BATCH_FLAG = 1 << 95  # top bit of a record id's 12-byte suffix: a batch member


def record_id(issuer: Any, n: int) -> bytes:
    """A single-record id in ``issuer``'s namespace: its 20 address bytes, then 12 bytes whose
    top bit is 0 (``n`` < 2**95)."""
    assert 0 <= n < BATCH_FLAG, "a single id's suffix has its top bit clear"
    return bytes.fromhex(addr(issuer)[2:]) + n.to_bytes(12, "big")


def batch_id(issuer: Any, number: int) -> bytes:
    """A batch id (bytes28): ``issuer`` || the batch flag bit || a 63-bit batch ``number``."""
    assert 0 <= number < 1 << 63
    return bytes.fromhex(addr(issuer)[2:]) + ((1 << 63) | number).to_bytes(8, "big")


def member_id(batch: bytes, index: int) -> bytes:
    """The record id of leaf ``index`` of ``batch``: batchId || uint32 index."""
    assert len(batch) == 28 and 0 <= index < 1 << 32
    return batch + index.to_bytes(4, "big")


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
DOMAIN_VERSION = "2"
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
    "RemoveGuardian": "RemoveGuardian(address patient,address guardian,uint256 nonce,"
    "uint256 deadline)",
    "RegisterKey": "RegisterKey(address patient,bytes32 encryptionKey,uint256 nonce,"
    "uint256 deadline)",
    "AnswerRequest": "AnswerRequest(uint256 requestId,address requester,address patient,"
    "bytes32 scope,uint8 purpose,bool approve,uint64 expiresAt,address signer,uint256 nonce,"
    "uint256 deadline)",
    "CloseBreakGlass": "CloseBreakGlass(address patient,address institution,address signer,"
    "uint256 nonce,uint256 deadline)",
}
# the typehash constant of each type (ConsentRegistry.*_TYPEHASH)
TYPEHASH_GETTERS = {
    "Grant": "GRANT_TYPEHASH",
    "Revoke": "REVOKE_TYPEHASH",
    "SetGuardian": "SET_GUARDIAN_TYPEHASH",
    "RemoveGuardian": "REMOVE_GUARDIAN_TYPEHASH",
    "RegisterKey": "REGISTER_KEY_TYPEHASH",
    "AnswerRequest": "ANSWER_REQUEST_TYPEHASH",
    "CloseBreakGlass": "CLOSE_BREAK_GLASS_TYPEHASH",
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


def chain_step(
    previous: bytes,
    patient: Any,
    kind: int,
    actor: Any,
    subject: bytes,
    detail: bytes,
    purpose: int,
    timestamp: int,
    seq: int,
    via_break_glass: bool,
) -> bytes:
    """The audit head after one entry (docs/contracts-v2.md, "Audit hash chain"): the first 24
    bytes of keccak256(abi.encode(head, patient, keccak256(entry))), zero-padded to 32, with
    entry = abi.encode(uint8 kind, address actor, bytes32 subject, bytes32 detail, uint8 purpose,
    uint64 timestamp, uint64 seq, bool viaBreakGlass)."""
    entry = encode(
        ["uint8", "address", "bytes32", "bytes32", "uint8", "uint64", "uint64", "bool"],
        [kind, addr(actor), subject, detail, purpose, timestamp, seq, via_break_glass],
    )
    full = keccak(
        encode(["bytes32", "address", "bytes32"], [previous, addr(patient), keccak(entry)])
    )
    return full[:24] + b"\x00" * 8


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
    """The head after an access entry (kind 0: subject = record id, detail = category)."""
    return chain_step(
        previous,
        patient,
        ENTRY_ACCESS,
        accessor,
        record,
        cat,
        purpose,
        timestamp,
        seq,
        via_break_glass,
    )


def opened_head(
    previous: bytes,
    patient: Any,
    institution: Any,
    reason: bytes,
    expires: int,
    timestamp: int,
    seq: int,
) -> bytes:
    """The head after a break-glass opening (kind 1: subject = reason hash, detail = expiresAt)."""
    detail = expires.to_bytes(32, "big")
    return chain_step(
        previous, patient, ENTRY_OPENED, institution, reason, detail, 1, timestamp, seq, True
    )


def closed_head(
    previous: bytes, patient: Any, institution: Any, closer: Any, timestamp: int, seq: int
) -> bytes:
    """The head after a break-glass closing (kind 2: subject = the closer's address, detail 0)."""
    subject = bytes(12) + bytes.fromhex(addr(closer)[2:])
    return chain_step(
        previous, patient, ENTRY_CLOSED, institution, subject, bytes(32), 1, timestamp, seq, True
    )


def replay_audit_logs(chain: Any, consent: Any, patient: Any) -> tuple[bytes, int]:
    """Recompute ``patient``'s audit head from the registry's logs alone, the way an auditor
    would: the AccessRecorded, BreakGlassOpened and BreakGlassClosed events of the patient in
    (block, log index) order, with the block time for the two break-glass kinds (their events
    carry no timestamp). Checks each event's seq and head on the way; returns (head, count)."""
    logs = []
    for name in ("AccessRecorded", "BreakGlassOpened", "BreakGlassClosed"):
        event = getattr(consent, name)
        logs += [
            (log.block_number, log.log_index, name, log)
            for log in event.range(0, chain.blocks.height + 1, search_topics={"patient": patient})
        ]
    head, count = b"\x00" * 32, 0
    for block, _, name, log in sorted(logs, key=lambda x: (x[0], x[1])):
        e = {k: norm(v) for k, v in log.event_arguments.items()}
        assert e["seq"] == count, (name, e)
        if name == "AccessRecorded":
            head = next_head(
                head,
                patient,
                e["accessor"],
                e["recordId"],
                e["category"],
                e["purpose"],
                e["timestamp"],
                count,
                bool(e["viaBreakGlass"]),
            )
        elif name == "BreakGlassOpened":
            ts = chain.blocks[block].timestamp
            head = opened_head(
                head, patient, e["institution"], e["reasonHash"], e["expiresAt"], ts, count
            )
        else:
            ts = chain.blocks[block].timestamp
            head = closed_head(head, patient, e["institution"], e["closedBy"], ts, count)
        assert head == e["head"], (name, e)
        count += 1
    return head, count


# -- records: leaves and Merkle trees ----------------------------------------------------------
# Built here, not imported from the SDK (careledger.contracts.merkle), for the same reason as the
# codes above.


def leaf(patient: Any, record: bytes, commitment: bytes, cat: bytes) -> bytes:
    """OpenZeppelin's standard leaf: keccak256(bytes.concat(keccak256(abi.encode(patient,
    recordId, commitment, category))))."""
    inner = encode(
        ["address", "bytes32", "bytes32", "bytes32"], [addr(patient), record, commitment, cat]
    )
    return keccak(keccak(inner))


def hash_pair(x: bytes, y: bytes) -> bytes:
    """OpenZeppelin ``Hashes.commutativeKeccak256``."""
    return keccak(x + y) if x < y else keccak(y + x)


class Tree:
    """A Merkle tree over 32-byte leaves whose proofs pass OpenZeppelin ``MerkleProof``
    (sorted pairs; an odd node is carried up unchanged)."""

    def __init__(self, leaves: list[bytes]) -> None:
        assert leaves
        self.layers = [list(leaves)]
        while len(self.layers[-1]) > 1:
            prev = self.layers[-1]
            up = [hash_pair(prev[i], prev[i + 1]) for i in range(0, len(prev) - 1, 2)]
            if len(prev) % 2:
                up.append(prev[-1])
            self.layers.append(up)

    @property
    def root(self) -> bytes:
        return self.layers[-1][0]

    def proof(self, index: int) -> list[bytes]:
        out = []
        for layer in self.layers[:-1]:
            if index ^ 1 < len(layer):
                out.append(layer[index ^ 1])
            index //= 2
        return out


def verify(proof: list[bytes], root: bytes, node: bytes) -> bool:
    """Off-chain ``MerkleProof.verify``."""
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node == root


@dataclass(frozen=True)
class Rec:
    """An anchored record as recordAccess is told about it: the binding and the proof."""

    patient: str
    id: bytes
    category: bytes
    commitment: bytes
    proof: tuple[bytes, ...] = ()

    def access_args(self, purpose: int) -> tuple[Any, ...]:
        """recordAccess(patient, recordId, category, commitment, purpose, proof) arguments."""
        return (self.patient, self.id, self.category, self.commitment, purpose, list(self.proof))


def anchor_record(
    records: Any, issuer: Any, patient: Any, n: int, cat: bytes, commitment: bytes | None = None
) -> Rec:
    """Anchor single record ``n`` of ``issuer`` for ``patient`` and return it."""
    rid = record_id(issuer, n)
    commitment = commitment or keccak(text=f"blob {addr(issuer)} {n}")
    records.anchor(patient, rid, commitment, cat, b"\x00" * 32, sender=issuer)
    return Rec(addr(patient), rid, cat, commitment)
