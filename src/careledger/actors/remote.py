"""Reading through the issuer's node: the record id names its issuer, the issuer publishes its
node's URL on chain, and the node releases a key only after an on-chain access entry.

1. ask the issuer's node for the record's pointer and check it against the chain (binding);
2. fetch the ciphertext and check it against the pointer's commitment;
3. log the access on chain (``recordAccess``, whose estimate refuses a wrong binding or a
   missing consent before anything is sent);
4. send the node a signed key request naming that transaction; it wraps the data key to the
   key this institution registered on chain;
5. unwrap and decrypt. Any mismatch is a typed error, never wrong plaintext.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from eth_utils.crypto import keccak

from careledger.actors.base import Actor, Opener, preflight, read_record, verify_pointer
from careledger.chain import Sender
from careledger.codes import InstitutionStatus, Purpose, Role
from careledger.contracts import CareLedger, issuer_of_id
from careledger.crypto import DataKey, WrappedKey, unwrap_data_key
from careledger.errors import (
    AccessNotConfirmed,
    CareLedgerError,
    CommitmentMismatch,
    InvalidInput,
    KeyUnwrapFailed,
)
from careledger.node.client import NodeClient
from careledger.node.messages import (
    FhirRead,
    FhirResource,
    KeyRequest,
    PatientAction,
    PatientRequest,
    StudyKeysRequest,
    node_domain,
    sign_request,
    study_keys_hash,
)
from careledger.store import RecordPointer
from careledger.validate import address

#: How long a signed request stays valid (a node accepts at most 600 s).
REQUEST_VALIDITY = 120
#: How long to wait for an access transaction to reach the node's confirmations.
CONFIRMATION_WAIT = 120.0


_CLIENTS: dict[str, NodeClient] = {}
_CLIENTS_LOCK = threading.Lock()


def client_for(url: str) -> NodeClient:
    """One pooled client per node URL for the whole process (connections are reused)."""
    with _CLIENTS_LOCK:
        if url not in _CLIENTS:
            _CLIENTS[url] = NodeClient(url)
        return _CLIENTS[url]


def node_for(actor: Actor, record_id: bytes, node: NodeClient | str | None) -> NodeClient:
    """The client of ``record_id``'s issuer node: ``node`` if given, else the URL its issuer
    published on chain.

    Raises:
        InvalidInput: the issuer published no node endpoint.
    """
    if isinstance(node, NodeClient):
        return node
    if isinstance(node, str):
        return client_for(node)
    issuer = issuer_of_id(record_id)
    url = actor.ledger.institutions.endpoint_of(issuer)
    if not url:
        raise InvalidInput(f"the issuer {issuer} of record 0x{record_id.hex()} published no node "
                           "endpoint (careledger institution endpoint URL)")
    return client_for(url)


def _pointer(client: NodeClient, record_id: bytes) -> RecordPointer:
    ptr = client.pointer(record_id)
    if ptr.id_bytes != record_id:
        raise CommitmentMismatch(f"node {client.url} answered for another record")
    return ptr


def _check_blob(client: NodeClient, ptr: RecordPointer, blob: bytes) -> bytes:
    if keccak(blob) != ptr.commitment_bytes:  # the chain bound this commitment; the blob must match
        raise CommitmentMismatch(f"the ciphertext node {client.url} served for record "
                                 f"{ptr.record_id} is not the anchored one")
    return blob


def fetch_verified(actor: Actor, client: NodeClient, record_id: bytes) -> tuple[RecordPointer, bytes]:
    """The record's pointer (checked against the chain) and ciphertext (checked against it)."""
    ptr = _pointer(client, record_id)
    verify_pointer(actor.ledger, ptr)
    return ptr, _check_blob(client, ptr, client.blob(ptr.cid))


def access_via_node(actor: Actor, record_id: bytes, purpose: Purpose,
                    node: NodeClient | str | None = None, opener: Opener = read_record) -> Any:
    """An institution reads a record of another institution (see the module's steps).

    The pointer's binding and the consent are not asked separately: ``recordAccess`` checks
    both, and its gas estimate refuses (``RecordBindingMismatch``, ``AccessNotAuthorized``...)
    before anything is sent, so a refused access writes nothing to the patient's history.
    Neither does an erased record (the node refuses its pointer) nor a ciphertext that does not
    match (fetched and checked first). A failure after the entry (the node down, the key
    refused) carries a note naming the entry's transaction.
    """
    client = node_for(actor, record_id, node)
    ptr = _pointer(client, record_id)  # the node refuses an erased record here
    # everything that can fail before the key is checked before anything is logged: the
    # ciphertext is fetched and checked against the pointer's commitment first
    blob = _check_blob(client, ptr, client.blob(ptr.cid))
    preflight(blob, opener)  # a streamed record's manifest parses and fits the caller's limit
    registered = actor.ledger.institutions.encryption_key(actor.address)
    if registered != actor.keypair.public_bytes:  # the key would be wrapped to another key
        raise KeyUnwrapFailed(
            "your encryption key file is not the key registered for you on chain "
            f"(0x{registered.hex()[:16]}…): use the registered key (careledger whoami shows "
            "both), or register this one; nothing was logged")
    receipt = actor.transact(actor.ledger.consent.record_access(
        ptr.patient, ptr.id_bytes, ptr.category_code, ptr.commitment_bytes, purpose,
        ptr.proof_bytes))
    try:
        data_key = receive_key(actor, client, ptr, purpose, bytes(receipt["transactionHash"]))
        return opener(blob, data_key, ptr.binding, client.blob)
    except CareLedgerError as exc:
        exc.add_note(f"the access entry was written on chain (tx 0x{receipt['transactionHash'].hex()}) "
                     "and stays in the patient's history; a new attempt logs a new one")
        raise


def receive_key(actor: Actor, client: NodeClient, ptr: RecordPointer, purpose: Purpose,
             access_tx: bytes) -> DataKey:
    """After the access entry in ``access_tx`` (a single ``recordAccess`` or one entry of a
    study's ``recordStudyAccess``): the signed key request, then the data key it releases."""
    assert actor.sender is not None
    account = actor.sender.account
    domain = node_domain(actor.ledger.chain.chain_id, ptr.issuer)

    def ask() -> WrappedKey:
        request = KeyRequest(record_id=ptr.id_bytes, version=ptr.version, purpose=int(purpose),
                             access_tx=access_tx, requester=actor.address,
                             nonce=secrets.token_bytes(32),
                             deadline=int(time.time()) + REQUEST_VALIDITY)
        return client.release_key(request, sign_request(request, domain, account))[1]

    return unwrap_data_key(_once_confirmed(ask), ptr.binding, actor.keypair)


_T = TypeVar("_T")


def _once_confirmed(ask: Callable[[], _T]) -> _T:
    """``ask()`` (sign and send a key request), again while the node answers that the access
    entry is not confirmed yet, for up to ``CONFIRMATION_WAIT`` seconds. Each attempt signs a
    fresh request: the node spends a request's nonce when it admits it, so resending the same
    signed request would be a replay."""
    deadline = time.monotonic() + CONFIRMATION_WAIT
    while True:
        try:
            return ask()
        except AccessNotConfirmed:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def receive_study_keys(actor: Actor, client: NodeClient, pointers: list[RecordPointer],
                       access_tx: bytes) -> list[DataKey]:
    """After a study's batched access in ``access_tx``: one signed ``StudyKeysRequest`` for the
    keys of ``pointers`` (records of one issuer, at most ``MAX_STUDY_KEYS``), then each data key,
    in order. Each key is opened against the caller's own pointer (its binding), never the
    node's answer.

    Raises:
        CommitmentMismatch: the node answered with other records than those asked for.
    """
    assert actor.sender is not None
    account = actor.sender.account
    issuers = {p.issuer for p in pointers}
    if len(issuers) != 1:
        raise InvalidInput("one study key request goes to one issuer's node")
    domain = node_domain(actor.ledger.chain.chain_id, issuers.pop())
    records = [(p.id_bytes, p.version) for p in pointers]

    def ask() -> list[tuple[RecordPointer, WrappedKey]]:
        request = StudyKeysRequest(access_tx=access_tx, records=study_keys_hash(records),
                                   count=len(records), requester=actor.address,
                                   nonce=secrets.token_bytes(32),
                                   deadline=int(time.time()) + REQUEST_VALIDITY)
        return client.release_study_keys(request, sign_request(request, domain, account), records)

    answer = _once_confirmed(ask)
    if [ptr.id_bytes for ptr, _ in answer] != [rid for rid, _ in records]:
        raise CommitmentMismatch(f"node {client.url} answered with other records than asked for")
    return [unwrap_data_key(wrapped, ptr.binding, actor.keypair)
            for ptr, (_, wrapped) in zip(pointers, answer, strict=True)]


def patient_request(actor: Actor, client: NodeClient, action: PatientAction,
                    record_id: bytes = b"\x00" * 32) -> dict[str, object]:
    """Sign and send a patient's request to ``client``'s node."""
    if actor.sender is None:
        raise InvalidInput("a patient's node requests are signed by its wallet: give it one")
    issuer = str(client.identity()["address"])
    request = PatientRequest(patient=actor.sender.address, action=int(action),
                             record_id=record_id, nonce=secrets.token_bytes(32),
                             deadline=int(time.time()) + REQUEST_VALIDITY)
    domain = node_domain(actor.ledger.chain.chain_id, issuer)
    return client.patient_request(request, sign_request(request, domain, actor.sender.account))


def provider_nodes(ledger: CareLedger) -> list[tuple[str, str]]:
    """(institution, node URL) of every active provider that published an endpoint."""
    institutions = ledger.institutions
    out = []
    for account in institutions.members(from_block=ledger.deployment.block):
        status, roles, _ = institutions.membership(account)
        if status is InstitutionStatus.ACTIVE and roles & Role.PROVIDER:
            url = institutions.endpoint_of(account)
            if url:
                out.append((account, url))
    return out


def fhir_read(actor: Actor, client: NodeClient, patient: str, resource_type: str, *,
              target: str | None = None, fhir_version: str = "4.3") -> dict[str, Any]:
    """Read ``patient``'s FHIR resources of ``resource_type`` at ``client``'s node, signed by
    ``actor`` (the patient, a guardian or an institution): a searchset Bundle."""
    if actor.sender is None:
        raise InvalidInput("a FHIR read is signed by the reader's wallet: give it one")
    return fhir_search(actor.ledger, actor.sender, client, patient, resource_type, target=target,
                       fhir_version=fhir_version)


def fhir_search(ledger: CareLedger, reader: Sender, client: NodeClient, patient: str,
                resource_type: str, *, target: str | None = None,
                fhir_version: str = "4.3", node: str | None = None) -> dict[str, Any]:
    """``fhir_read`` for a wallet alone (no workspace or encryption key needed). ``node``: the
    institution the chain names for ``client``'s endpoint; the request is signed for it, never
    for the address the endpoint claims (which would let one node relay the signed read to
    another and read what the signer may read there)."""
    if resource_type not in FhirResource.__members__:
        raise InvalidInput(f"FHIR resource {resource_type!r}: use one of "
                           f"{', '.join(FhirResource.__members__)}")
    node_address = node if node is not None else str(client.identity()["address"])
    request = FhirRead(reader=reader.address, patient=address(patient, "patient"),
                       resource=int(FhirResource[resource_type]), nonce=secrets.token_bytes(32),
                       deadline=int(time.time()) + REQUEST_VALIDITY)
    domain = node_domain(ledger.chain.chain_id, node_address)
    return client.fhir_search(resource_type, request,
                              sign_request(request, domain, reader.account),
                              target=target, fhir_version=fhir_version)


def read_own_via_node(actor: Actor, record_id: bytes, node: NodeClient | str | None = None,
                      opener: Opener = read_record) -> Any:
    """A patient reads its own record through the issuer's node (not a disclosure: no entry)."""
    client = node_for(actor, record_id, node)
    ptr, blob = fetch_verified(actor, client, record_id)
    preflight(blob, opener)
    answer = patient_request(actor, client, PatientAction.READ, record_id)
    wrapped = WrappedKey.from_bytes(bytes.fromhex(str(answer["wrappedKey"])[2:]))
    return opener(blob, unwrap_data_key(wrapped, ptr.binding, actor.keypair), ptr.binding,
                  client.blob)
