"""The contracts: packaged artifacts, the deployment manifest, and one typed wrapper per
contract whose reads return decoded structs and whose writes return a ``ContractTx`` that a
``Sender`` transacts (``ledger.consent.grant(...).transact(sender)``)."""

from careledger.contracts.artifacts import DEPLOYABLE, Artifact, load_artifact
from careledger.contracts.base import ContractTx, ContractWrapper
from careledger.contracts.consent import AccessRequest, ConsentRegistry, Eip5267Domain, Grant
from careledger.contracts.deployment import CareLedger, Deployment, GenesisMember, abi_hash, deploy
from careledger.contracts.institutions import InstitutionRegistry, Member, Proposal
from careledger.contracts.merkle import MerkleTree, leaf_hash
from careledger.contracts.records import Batch, RecordRegistry

__all__ = [
    "DEPLOYABLE",
    "AccessRequest",
    "Artifact",
    "Batch",
    "CareLedger",
    "ConsentRegistry",
    "ContractTx",
    "ContractWrapper",
    "Deployment",
    "Eip5267Domain",
    "GenesisMember",
    "Grant",
    "InstitutionRegistry",
    "Member",
    "MerkleTree",
    "Proposal",
    "RecordRegistry",
    "abi_hash",
    "deploy",
    "leaf_hash",
    "load_artifact",
]
