"""Typed wrappers over the packaged ABIs, and the deployment manifest.

Each wrapper holds an address and a web3 ``contract``; reads are methods, writes go through a
``Sender`` (``sender.transact(wrapper.contract.functions.grant(...))``) or the flows in
``careledger.actors.flows``. ``deploy`` deploys the three contracts; ``Deployment`` is the manifest
``deployments/<chainId>.json`` every command reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address
from web3.contract import Contract

from careledger.chain import Chain, Sender
from careledger.codes import InstitutionStatus, Role
from careledger.contracts.artifacts import DEPLOYABLE, load_artifact
from careledger.errors import ChainIdMismatch, DeploymentNotFound, InvalidInput

DEFAULT_PROPOSAL_LIFETIME = 7 * 24 * 3600


def abi_hash(name: str) -> str:
    """sha256 of a contract's packaged ABI (canonical JSON), recorded in the manifest."""
    abi = load_artifact(name)["abi"]
    return hashlib.sha256(json.dumps(abi, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class _Wrapper:
    NAME = ""

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.address = to_checksum_address(address)
        self.contract: Contract = chain.w3.eth.contract(
            address=self.address, abi=load_artifact(self.NAME)["abi"]
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address})"

    def _view(self, fn: str, *args: Any) -> Any:
        """Call a view function, retrying while the node is unreachable (``RpcUnavailable`` after)."""
        return self.chain.call_rpc(f"{self.NAME}.{fn}",
                                   lambda: getattr(self.contract.functions, fn)(*args).call())


@dataclass(frozen=True)
class Institution:
    """A consortium member as the registry stores it."""

    address: str
    status: InstitutionStatus
    roles: Role
    admitted_at: int
    encryption_key: bytes
    metadata_hash: bytes


class InstitutionRegistry(_Wrapper):
    """The consortium: members, roles, encryption keys, M-of-N proposals."""

    NAME = "InstitutionRegistry"

    def institution(self, account: str) -> Institution:
        """The registry's record of ``account`` (status NONE if unknown)."""
        status, roles, admitted, key, meta = self._view("institution", account)
        return Institution(to_checksum_address(account), InstitutionStatus(status), Role(roles),
                           admitted, bytes(key), bytes(meta))

    def is_active(self, account: str) -> bool:
        """True while ``account`` is an admitted, unsuspended member."""
        return bool(self._view("isActive", account))

    def encryption_key(self, account: str) -> bytes:
        """The member's registered X25519 public key (32 bytes)."""
        return bytes(self._view("encryptionKeyOf", account))

    def threshold(self) -> int:
        """Approvals a proposal needs."""
        return int(self._view("threshold"))


class ConsentRegistry(_Wrapper):
    """Patient keys, guardians, grants, requests, break-glass and the access log."""

    NAME = "ConsentRegistry"

    def patient_key(self, patient: str) -> bytes:
        """The patient's registered X25519 public key (zero bytes if none)."""
        return bytes(self._view("patientKeyOf", patient))

    def nonce(self, signer: str) -> int:
        """The signer's current EIP-712 nonce."""
        return int(self._view("nonces", signer))

    def is_authorized(self, patient: str, grantee: str, scope: bytes, purpose: int) -> bool:
        """O(1) consent check at the latest block."""
        return bool(self._view("isAuthorized", patient, grantee, scope, purpose))

    def is_authorized_for_record(self, patient: str, grantee: str, record_id: bytes,
                                 category: bytes, purpose: int) -> bool:
        """Consent check for a record: its id, its category or ALL."""
        return bool(self._view("isAuthorizedForRecord",
            patient, grantee, record_id, category, purpose))

    def grant_of(self, patient: str, grantee: str, scope: bytes) -> tuple[int, int, int]:
        """``(purposes, expiresAt, grantedAt)`` of one grant (zeros if none)."""
        p, e, g = self._view("getGrant", patient, grantee, scope)
        return int(p), int(e), int(g)

    def audit_head(self, patient: str) -> tuple[bytes, int]:
        """``(head, count)`` of the patient's on-chain access hash chain."""
        head, count = self._view("auditHead", patient)
        return bytes(head), int(count)

    def is_guardian(self, patient: str, guardian: str) -> bool:
        """True while ``guardian`` may act for ``patient``."""
        return bool(self._view("isGuardian", patient, guardian))


class RecordRegistry(_Wrapper):
    """Write-once record anchors, versions and Merkle batches."""

    NAME = "RecordRegistry"

    def commitment_of(self, record_id: bytes) -> bytes:
        """The anchored commitment (32 zero bytes when not anchored)."""
        return bytes(self._view("commitmentOf", record_id))

    def next_version_of(self, record_id: bytes) -> bytes:
        """The id of the version that amended ``record_id`` (zero when it is the latest)."""
        return bytes(self._view("nextVersionOf", record_id))

    def batch(self, root: bytes) -> tuple[str, int, int, bytes]:
        """``(issuer, count, anchoredAt, category)`` of a batch root."""
        issuer, count, at, cat = self._view("batch", root)
        return to_checksum_address(issuer), int(count), int(at), bytes(cat)

    def verify_batch_record(self, root: bytes, proof: Sequence[bytes], patient: str,
                            record_id: bytes, commitment: bytes, category: bytes) -> bool:
        """On-chain MerkleProof check of one record's inclusion in a batch."""
        return bool(self._view("verifyBatchRecord", root, list(proof), patient, record_id,
                               commitment, category))


@dataclass
class Deployment:
    """Where the CareLedger contracts live on one chain (``deployments/<chainId>.json``)."""

    chain_id: int
    institution_registry: str
    consent_registry: str
    record_registry: str
    block: int
    deployer: str
    abi_hashes: dict[str, str] = field(default_factory=dict)
    deployed_at: int = 0

    # -- manifest ---------------------------------------------------------------------------

    @staticmethod
    def path_for(directory: str | os.PathLike[str], chain_id: int) -> Path:
        """``<directory>/<chainId>.json``."""
        return Path(directory) / f"{chain_id}.json"

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the manifest atomically; return its path."""
        path = self.path_for(directory, self.chain_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".deploy-")
        with os.fdopen(fd, "w") as fh:
            json.dump(asdict(self), fh, indent=2, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str], chain: Chain | None = None) -> Deployment:
        """Read a manifest; with ``chain``, refuse one made for another chain id.

        Raises:
            DeploymentNotFound: no such file.
            ChainIdMismatch: the manifest's chain id differs from the node's.
        """
        p = Path(path)
        if not p.exists():
            raise DeploymentNotFound(
                f"no deployment manifest at {p}: run `careledger deploy` for this chain first"
            )
        try:
            data: dict[str, Any] = json.loads(p.read_bytes().decode("utf-8"))
            dep = cls(**data)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"{p} is not a CareLedger deployment manifest: {exc}") from exc
        if chain is not None and chain.chain_id != dep.chain_id:
            raise ChainIdMismatch(
                f"{p} is for chain {dep.chain_id} but the node reports chain {chain.chain_id}: "
                "use the manifest of this chain or point --rpc-url at the right node"
            )
        return dep

    @classmethod
    def for_chain(cls, directory: str | os.PathLike[str], chain: Chain) -> Deployment:
        """Load ``<directory>/<chainId>.json`` for the node's chain id."""
        return cls.load(cls.path_for(directory, chain.chain_id), chain)


@dataclass
class CareLedger:
    """The three contracts of one deployment, bound to a chain connection."""

    chain: Chain
    deployment: Deployment

    def __post_init__(self) -> None:
        if self.chain.chain_id != self.deployment.chain_id:
            raise ChainIdMismatch(
                f"deployment is for chain {self.deployment.chain_id}, node is {self.chain.chain_id}"
            )
        self.institutions = InstitutionRegistry(self.chain, self.deployment.institution_registry)
        self.consent = ConsentRegistry(self.chain, self.deployment.consent_registry)
        self.records = RecordRegistry(self.chain, self.deployment.record_registry)


@dataclass(frozen=True)
class GenesisMember:
    """A founding consortium member."""

    address: str
    roles: Role
    encryption_key: bytes
    metadata_hash: bytes = b"\x00" * 32


def _deploy_one(sender: Sender, name: str, *args: Any) -> tuple[str, int]:
    art = load_artifact(name)
    factory = sender.chain.w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    call = factory.constructor(*args)
    assert sender.nonces is not None
    gas = int(sender.chain.call_rpc("eth_estimateGas", lambda: call.estimate_gas(
        {"from": sender.address})) * 1.2)
    max_fee, tip = sender._fees()
    nonce = sender.nonces.allocate(sender.address)
    tx = call.build_transaction({
        "from": sender.address, "nonce": nonce, "gas": gas, "chainId": sender.chain.chain_id,
        "maxFeePerGas": max_fee, "maxPriorityFeePerGas": tip,
    })
    sent = sender.send_raw_params(tx, description=f"deploy {name}")
    receipt = sender.wait(sent)
    address = receipt["contractAddress"]
    if address is None:
        raise InvalidInput(f"deploying {name} created no contract")
    return to_checksum_address(address), int(receipt["blockNumber"])


def deploy(sender: Sender, genesis: Sequence[GenesisMember], *, threshold: int,
           proposal_lifetime: int = DEFAULT_PROPOSAL_LIFETIME) -> Deployment:
    """Deploy InstitutionRegistry, ConsentRegistry and RecordRegistry; return the manifest.

    Raises:
        InvalidInput: no genesis member, or a threshold outside ``1..len(genesis)``.
    """
    if not genesis:
        raise InvalidInput("a consortium needs at least one genesis member")
    if not 1 <= threshold <= len(genesis):
        raise InvalidInput(f"threshold must be between 1 and {len(genesis)}, got {threshold}")
    for m in genesis:
        if len(m.encryption_key) != 32:
            raise InvalidInput(f"encryption key of {m.address} must be 32 bytes")
    inst, block = _deploy_one(
        sender, "InstitutionRegistry",
        [m.address for m in genesis], [int(m.roles) for m in genesis],
        [m.encryption_key for m in genesis], [m.metadata_hash for m in genesis],
        threshold, proposal_lifetime,
    )
    consent, _ = _deploy_one(sender, "ConsentRegistry", inst)
    records, _ = _deploy_one(sender, "RecordRegistry", inst)
    return Deployment(
        chain_id=sender.chain.chain_id, institution_registry=inst, consent_registry=consent,
        record_registry=records, block=block, deployer=sender.address,
        abi_hashes={n: abi_hash(n) for n in DEPLOYABLE}, deployed_at=int(time.time()),
    )
