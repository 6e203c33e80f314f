"""The EIP-712 requests a party signs for a node: a key release after an on-chain access entry,
and the patient's own requests. The domain binds each request to one node (its institution's
address as ``verifyingContract``) on one chain, so it is worthless at another node or chain."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak

from careledger.consent.domain import Eip712Domain
from careledger.consent.messages import SignedType

NODE_DOMAIN_NAME = "CareLedger Node"
NODE_DOMAIN_VERSION = "1"
#: Longest validity a node accepts for a signed request (seconds from now to its deadline).
MAX_REQUEST_VALIDITY = 600


def node_domain(chain_id: int, node_address: str) -> Eip712Domain:
    """The EIP-712 domain of requests to the node of institution ``node_address``."""
    return Eip712Domain(chain_id=chain_id, verifying_contract=node_address,
                        name=NODE_DOMAIN_NAME, version=NODE_DOMAIN_VERSION)


@dataclass(frozen=True)
class KeyRequest(SignedType):
    """``KeyRequest(bytes32 recordId,uint64 version,uint8 purpose,bytes32 accessTx,
    address requester,bytes32 nonce,uint256 deadline)``: "release to me, as registered on chain,
    the data key of this record, for the access entry in ``accessTx``"."""

    TYPE_NAME: ClassVar[str] = "KeyRequest"
    SIGNER_FIELD: ClassVar[str] = "requester"  # the requester signs its own request
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("recordId", "bytes32"), ("version", "uint64"), ("purpose", "uint8"),
        ("accessTx", "bytes32"), ("requester", "address"), ("nonce", "bytes32"),
        ("deadline", "uint256"),
    )

    record_id: bytes
    version: int
    purpose: int
    access_tx: bytes
    requester: str
    nonce: bytes
    deadline: int


#: Most records one ``StudyKeysRequest`` may name.
MAX_STUDY_KEYS = 256


def study_keys_hash(records: Sequence[tuple[bytes, int]]) -> bytes:
    """What a ``StudyKeysRequest`` signs for its records: ``keccak256`` of each ``(record id,
    version)`` as 32 + 8 big-endian bytes, in the order sent."""
    return bytes(keccak(b"".join(bytes(rid) + int(v).to_bytes(8, "big") for rid, v in records)))


@dataclass(frozen=True)
class StudyKeysRequest(SignedType):
    """``StudyKeysRequest(bytes32 accessTx,bytes32 records,uint32 count,address requester,
    bytes32 nonce,uint256 deadline)``: "release to me the data keys of these ``count`` records,
    for the entries of my study's batched access in ``accessTx``"; ``records`` is
    ``study_keys_hash`` of the list the request body carries (a signature covers a list of any
    length in one fixed-size type)."""

    TYPE_NAME: ClassVar[str] = "StudyKeysRequest"
    SIGNER_FIELD: ClassVar[str] = "requester"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("accessTx", "bytes32"), ("records", "bytes32"), ("count", "uint32"),
        ("requester", "address"), ("nonce", "bytes32"), ("deadline", "uint256"),
    )

    access_tx: bytes
    records: bytes
    count: int
    requester: str
    nonce: bytes
    deadline: int


class PatientAction(enum.IntEnum):
    """What a patient asks its records' issuer node."""

    LIST = 1  # the records this node holds for me, batch members included
    READ = 2  # the data key of one of my records, wrapped to my registered key
    ERASE = 3  # shred every copy of the keys of every version of one of my records


@dataclass(frozen=True)
class PatientRequest(SignedType):
    """``PatientRequest(address patient,uint8 action,bytes32 recordId,bytes32 nonce,
    uint256 deadline)``, signed by the patient (``recordId`` zero for LIST)."""

    TYPE_NAME: ClassVar[str] = "PatientRequest"
    SIGNER_FIELD: ClassVar[str] = "patient"  # only the patient asks for its own records
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("patient", "address"), ("action", "uint8"), ("recordId", "bytes32"),
        ("nonce", "bytes32"), ("deadline", "uint256"),
    )

    patient: str
    action: int
    record_id: bytes
    nonce: bytes
    deadline: int


class FhirResource(enum.IntEnum):
    """The FHIR resource types a node serves (``GET /fhir/{type}``)."""

    Consent = 1
    AuditEvent = 2
    DocumentReference = 3
    Provenance = 4


@dataclass(frozen=True)
class FhirRead(SignedType):
    """``FhirRead(address reader,address patient,uint8 resource,bytes32 nonce,uint256 deadline)``:
    "let me read this patient's resources of this type at this node", signed by the reader (the
    patient, a guardian, or an institution) and sent in the ``Authorization`` header of a GET."""

    TYPE_NAME: ClassVar[str] = "FhirRead"
    SIGNER_FIELD: ClassVar[str] = "reader"
    FIELDS: ClassVar[tuple[tuple[str, str], ...]] = (
        ("reader", "address"), ("patient", "address"), ("resource", "uint8"),
        ("nonce", "bytes32"), ("deadline", "uint256"),
    )

    reader: str
    patient: str
    resource: int
    nonce: bytes
    deadline: int


def sign_request(request: SignedType, domain: Eip712Domain, account: LocalAccount) -> bytes:
    """Sign a node request as a wallet would (``eth_signTypedData_v4``); 65 bytes."""
    signable = encode_typed_data(full_message=request.typed_data(domain))
    return bytes(account.sign_message(signable).signature)
