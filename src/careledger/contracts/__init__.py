"""The contracts: packaged artifacts, the deployment manifest, and one typed wrapper per
contract whose reads return decoded structs and whose writes return a ``ContractTx`` that a
``Sender`` transacts (``ledger.consent.grant(...).transact(sender)``)."""

from careledger.contracts.artifacts import DEPLOYABLE, Artifact, load_artifact
from careledger.contracts.base import ContractTx, ContractWrapper
from careledger.contracts.consent import (
    AccessRequest,
    BatchProof,
    BreakGlassWindow,
    ConsentRegistry,
    Eip5267Domain,
    Grant,
    LiveGrant,
    RequestDetails,
    Study,
    StudyAccessItem,
    batch_proofs,
    study_scope,
)
from careledger.contracts.deployment import CareLedger, Deployment, GenesisMember, abi_hash, deploy
from careledger.contracts.institutions import InstitutionRegistry, Member, Proposal
from careledger.contracts.merkle import MerkleTree, leaf_hash
from careledger.contracts.records import (
    AnchoredRecord,
    Batch,
    RecordRegistry,
    batch_member_id,
    is_batch_member,
    issuer_of_id,
    new_batch_id,
    new_record_id,
)
from careledger.contracts.research import Dataset, ResearchRegistry

__all__ = [
    "DEPLOYABLE",
    "AccessRequest",
    "AnchoredRecord",
    "Artifact",
    "Batch",
    "BatchProof",
    "BreakGlassWindow",
    "CareLedger",
    "ConsentRegistry",
    "ContractTx",
    "ContractWrapper",
    "Dataset",
    "Deployment",
    "Eip5267Domain",
    "GenesisMember",
    "Grant",
    "InstitutionRegistry",
    "LiveGrant",
    "Member",
    "MerkleTree",
    "Proposal",
    "RecordRegistry",
    "RequestDetails",
    "ResearchRegistry",
    "Study",
    "StudyAccessItem",
    "abi_hash",
    "batch_member_id",
    "batch_proofs",
    "deploy",
    "is_batch_member",
    "issuer_of_id",
    "leaf_hash",
    "load_artifact",
    "new_batch_id",
    "new_record_id",
    "study_scope",
]
