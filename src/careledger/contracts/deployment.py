"""One deployment: ``deploy`` deploys the three contracts, ``Deployment`` is the manifest
``deployments/<chainId>.json`` every command reads, and ``CareLedger`` binds the three typed
wrappers of a deployment to a chain connection."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from eth_utils.address import to_checksum_address

from careledger.chain import Chain, Sender
from careledger.codes import Role
from careledger.contracts.artifacts import DEPLOYABLE, load_artifact
from careledger.contracts.consent import ConsentRegistry
from careledger.contracts.institutions import InstitutionRegistry
from careledger.contracts.records import RecordRegistry
from careledger.contracts.research import ResearchRegistry
from careledger.errors import ChainIdMismatch, DeploymentNotFound, InvalidInput
from careledger.store.atomic import write_json_atomic

DEFAULT_PROPOSAL_LIFETIME = 7 * 24 * 3600


def abi_hash(name: str) -> str:
    """sha256 of a contract's packaged ABI (canonical JSON), recorded in the manifest."""
    abi = load_artifact(name)["abi"]
    return hashlib.sha256(json.dumps(abi, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


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
    #: empty in manifests written before the ResearchRegistry existed
    research_registry: str = ""

    # -- manifest ---------------------------------------------------------------------------

    @staticmethod
    def path_for(directory: str | os.PathLike[str], chain_id: int) -> Path:
        """``<directory>/<chainId>.json``."""
        return Path(directory) / f"{chain_id}.json"

    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the manifest atomically; return its path."""
        return write_json_atomic(self.path_for(directory, self.chain_id), asdict(self),
                                 make_parents=True)

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
        self._research: ResearchRegistry | None = None

    @property
    def research(self) -> ResearchRegistry:
        """The ResearchRegistry (datasets and points).

        Raises:
            DeploymentNotFound: the manifest predates it: deploy again.
        """
        if not self.deployment.research_registry:
            raise DeploymentNotFound("this deployment has no ResearchRegistry (its manifest "
                                     "predates it): deploy again with `careledger deploy --force`")
        if self._research is None:
            self._research = ResearchRegistry(self.chain, self.deployment.research_registry)
        return self._research

    def check_deployed(self) -> None:
        """Confirm that the manifest's contracts exist on this chain (one ``eth_getCode`` each).

        Raises:
            DeploymentNotFound: a contract has no code: the manifest is stale (the chain was
                reset or is another one with the same id).
        """
        w3 = self.chain.w3
        for name in ("institution_registry", "consent_registry", "record_registry",
                     "research_registry"):
            addr = getattr(self.deployment, name)
            if not addr:  # an older manifest without a ResearchRegistry
                continue
            code = self.chain.call_rpc("eth_getCode", partial(w3.eth.get_code, addr))
            if not code:
                raise DeploymentNotFound(
                    f"no contract at {addr} ({name}) on chain {self.chain.chain_id}: the "
                    "deployment manifest is stale (was the chain reset?); deploy again with "
                    "`careledger deploy --force`")


@dataclass(frozen=True)
class GenesisMember:
    """A founding consortium member."""

    address: str
    roles: Role
    encryption_key: bytes
    metadata_hash: bytes = b"\x00" * 32


def _deploy_one(sender: Sender, name: str, *args: Any) -> tuple[str, int]:
    art = load_artifact(name)
    receipt = sender.deploy(art["abi"], art["bytecode"], *args, description=f"deploy {name}")
    address = receipt["contractAddress"]
    if address is None:
        raise InvalidInput(f"deploying {name} created no contract")
    return to_checksum_address(address), int(receipt["blockNumber"])


def deploy(sender: Sender, genesis: Sequence[GenesisMember], *, threshold: int,
           proposal_lifetime: int = DEFAULT_PROPOSAL_LIFETIME) -> Deployment:
    """Deploy InstitutionRegistry, RecordRegistry, ConsentRegistry and ResearchRegistry; return
    the manifest.

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
    records, _ = _deploy_one(sender, "RecordRegistry", inst)
    consent, _ = _deploy_one(sender, "ConsentRegistry", inst, records)
    research, _ = _deploy_one(sender, "ResearchRegistry", consent)
    return Deployment(
        chain_id=sender.chain.chain_id, institution_registry=inst, consent_registry=consent,
        record_registry=records, research_registry=research, block=block, deployer=sender.address,
        abi_hashes={n: abi_hash(n) for n in DEPLOYABLE}, deployed_at=int(time.time()),
    )
