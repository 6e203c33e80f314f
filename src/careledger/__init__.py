"""CareLedger: patient-centred medical data sharing on Ethereum.

Patients own their records and decide, by signed consent, which institution may use which data,
for what purpose and until when. Records are encrypted off chain (AES-256-GCM envelopes, data
keys wrapped per reader with HPKE) and anchored on chain by commitment; every access is checked
by the ConsentRegistry and leaves a trace in the patient's audit hash chain.

Importing this package loads no keys and connects to no chain.

Typical use::

    from careledger import Chain, CareLedger, Deployment, Sender, Provider, Workspace
    chain = Chain("http://127.0.0.1:8545")
    ledger = CareLedger(chain, Deployment.for_chain(chain))
"""

from careledger.actors.flows import (
    Institution,
    KeyNotShared,
    NotAnchored,
    Patient,
    Provider,
    PublishedRecord,
    RecordIndex,
    RecordNotFound,
    RecordPointer,
    Researcher,
    Workspace,
    latest_version,
    new_record_id,
    verify_commitment,
)
from careledger.audit import AccessEntry, AuditLog, BreakGlassEvent, Verification
from careledger.chain import (
    Chain,
    NonceManager,
    RetryPolicy,
    Sender,
    SentTransaction,
    wait_all,
)
from careledger.chain import Devnet
from careledger.codes import (
    SCOPE_ALL,
    Category,
    InstitutionStatus,
    Purpose,
    RequestStatus,
    Role,
    category_code,
    purpose_mask,
    purposes_of,
)
from careledger.consent.messages import (
    ConsentSigner,
    Eip712Domain,
    GrantConsent,
    Relayer,
    RelayResult,
    RevokeConsent,
    SetGuardianConsent,
    SignedConsent,
)
from careledger.contracts.deployment import (
    CareLedger,
    ConsentRegistry,
    Deployment,
    GenesisMember,
    InstitutionRegistry,
    RecordRegistry,
    deploy,
)
from careledger.contracts.merkle import MerkleTree
from careledger.crypto.envelope import (
    DataKey,
    EncryptedRecord,
    RecordBinding,
    decrypt_record,
    encrypt_record,
)
from careledger.crypto.keyfile import EncryptionKeyPair
from careledger.errors import (
    AccessNotAuthorized,
    BlobCorrupted,
    BlobNotFound,
    BlobTooLarge,
    CareLedgerError,
    ChainIdMismatch,
    CommitmentMismatch,
    ContractRevert,
    DecryptionError,
    DeploymentNotFound,
    InvalidInput,
    RpcUnavailable,
    TransactionFailed,
    TransactionTimeout,
    WrongPassword,
    decode_revert,
)
from careledger.store.blobs import (
    BlobStore,
    IpfsBlobStore,
    LocalBlobStore,
    WrappedKeyStore,
    compute_cid,
)

__version__ = "0.1.0"

__all__ = [
    "SCOPE_ALL",
    "AccessEntry",
    "AccessNotAuthorized",
    "AuditLog",
    "BlobCorrupted",
    "BlobNotFound",
    "BlobStore",
    "BlobTooLarge",
    "BreakGlassEvent",
    "CareLedger",
    "CareLedgerError",
    "Category",
    "Chain",
    "ChainIdMismatch",
    "CommitmentMismatch",
    "ConsentRegistry",
    "ConsentSigner",
    "ContractRevert",
    "DataKey",
    "DecryptionError",
    "Deployment",
    "DeploymentNotFound",
    "Devnet",
    "Eip712Domain",
    "EncryptedRecord",
    "EncryptionKeyPair",
    "GenesisMember",
    "GrantConsent",
    "Institution",
    "InstitutionRegistry",
    "InstitutionStatus",
    "InvalidInput",
    "IpfsBlobStore",
    "KeyNotShared",
    "LocalBlobStore",
    "MerkleTree",
    "NonceManager",
    "NotAnchored",
    "Patient",
    "Provider",
    "PublishedRecord",
    "Purpose",
    "RecordBinding",
    "RecordIndex",
    "RecordNotFound",
    "RecordPointer",
    "RecordRegistry",
    "RelayResult",
    "Relayer",
    "RequestStatus",
    "Researcher",
    "RetryPolicy",
    "RevokeConsent",
    "Role",
    "RpcUnavailable",
    "Sender",
    "SentTransaction",
    "SetGuardianConsent",
    "SignedConsent",
    "TransactionFailed",
    "TransactionTimeout",
    "Verification",
    "Workspace",
    "WrappedKeyStore",
    "WrongPassword",
    "__version__",
    "category_code",
    "compute_cid",
    "decode_revert",
    "decrypt_record",
    "deploy",
    "encrypt_record",
    "latest_version",
    "new_record_id",
    "purpose_mask",
    "purposes_of",
    "verify_commitment",
    "wait_all",
]
