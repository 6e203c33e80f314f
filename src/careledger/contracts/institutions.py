"""``InstitutionRegistry``: the consortium, its members, roles, keys and M-of-N proposals."""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils.address import to_checksum_address
from web3.types import TxReceipt

from careledger.codes import InstitutionStatus, ProposalKind, Role
from careledger.contracts.base import ContractTx, ContractWrapper

ZERO_ADDRESS = "0x" + "00" * 20
ZERO32 = b"\x00" * 32
NO_ROLES = Role(0)


@dataclass(frozen=True)
class Member:
    """A consortium member as the registry stores it (status NONE for an unknown account)."""

    address: str
    status: InstitutionStatus
    roles: Role
    admitted_at: int
    epoch: int
    encryption_key: bytes
    metadata_hash: bytes


@dataclass(frozen=True)
class Proposal:
    """A pending or executed consortium proposal; fields its kind does not use are zero."""

    proposal_id: int
    kind: ProposalKind
    subject: str
    roles: Role
    expires_at: int
    approvals: int
    executed: bool
    encryption_key: bytes
    metadata_hash: bytes
    new_threshold: int
    proposer: str


class InstitutionRegistry(ContractWrapper):
    """The consortium: members, roles, encryption keys, M-of-N proposals."""

    NAME = "InstitutionRegistry"

    # -- reads ------------------------------------------------------------------------------

    def member(self, account: str) -> Member:
        """The registry's record of ``account`` (status NONE if unknown)."""
        status, roles, admitted, epoch, key, meta = self._view("institution", account)
        return Member(to_checksum_address(account), InstitutionStatus(status), Role(roles),
                      int(admitted), int(epoch), bytes(key), bytes(meta))

    def membership(self, account: str) -> tuple[InstitutionStatus, Role, int]:
        """``(status, roles, epoch)`` of ``account`` in one call."""
        status, roles, epoch = self._view("membership", account)
        return InstitutionStatus(status), Role(roles), int(epoch)

    def endpoint_of(self, account: str) -> str:
        """The URL of ``account``'s CareLedger node (empty if it published none)."""
        return str(self._view("endpointOf", account))

    def is_active(self, account: str) -> bool:
        """True while ``account`` is an admitted, unsuspended member."""
        return bool(self._view("isActive", account))

    def encryption_key(self, account: str) -> bytes:
        """The member's registered X25519 public key (32 bytes)."""
        return bytes(self._view("encryptionKeyOf", account))

    def threshold(self) -> int:
        """Approvals a proposal needs."""
        return int(self._view("threshold"))

    def members(self, *, from_block: int) -> list[str]:
        """Every account ever admitted, in order of first admission (from the events)."""
        seen: dict[str, None] = {}
        for lg in self.logs("InstitutionAdmitted", from_block=from_block):
            seen.setdefault(lg["args"]["account"], None)
        return list(seen)

    def member_count(self) -> int:
        """Active members."""
        return int(self._view("memberCount"))

    def proposal_count(self) -> int:
        """Proposals made so far (ids are ``0 .. count-1``)."""
        return int(self._view("proposalCount"))

    def proposal(self, proposal_id: int) -> Proposal:
        """One proposal, decoded."""
        (kind, subject, roles, expires, approvals, executed, key, meta, new_threshold,
         proposer) = self._view("proposal", proposal_id)
        return Proposal(proposal_id, ProposalKind(kind), to_checksum_address(subject), Role(roles),
                        int(expires), int(approvals), bool(executed), bytes(key), bytes(meta),
                        int(new_threshold), to_checksum_address(proposer))

    def has_approved(self, proposal_id: int, member: str) -> bool:
        """True if ``member`` approved ``proposal_id``."""
        return bool(self._view("hasApproved", proposal_id, member))

    def proposal_id_from(self, receipt: TxReceipt) -> int:
        """The id of the proposal a ``propose`` transaction created."""
        return int(self.events_in("ProposalCreated", receipt)[0]["args"]["proposalId"])

    def executed_in(self, receipt: TxReceipt) -> bool:
        """True if an ``approve`` transaction reached the threshold and executed its proposal."""
        return bool(self.events_in("ProposalExecuted", receipt))

    # -- writes -----------------------------------------------------------------------------

    def propose(self, kind: ProposalKind, subject: str = ZERO_ADDRESS, *, roles: Role = NO_ROLES,
                encryption_key: bytes = ZERO32, metadata_hash: bytes = ZERO32,
                new_threshold: int = 0) -> ContractTx:
        """Propose a change; the proposer's approval counts at once."""
        return self._tx("propose", int(kind), subject, int(roles), encryption_key, metadata_hash,
                        new_threshold, description=f"propose {kind.name.lower()}")

    def propose_admit(self, account: str, roles: Role, encryption_key: bytes,
                      metadata_hash: bytes = ZERO32) -> ContractTx:
        """Propose admitting ``account`` with ``roles`` and its X25519 public key."""
        return self.propose(ProposalKind.ADMIT, account, roles=roles,
                            encryption_key=encryption_key, metadata_hash=metadata_hash)

    def propose_suspend(self, account: str) -> ContractTx:
        """Propose suspending an active member."""
        return self.propose(ProposalKind.SUSPEND, account)

    def propose_reinstate(self, account: str) -> ContractTx:
        """Propose reinstating a suspended member."""
        return self.propose(ProposalKind.REINSTATE, account)

    def propose_remove(self, account: str) -> ContractTx:
        """Propose removing a member for good (re-admission starts with no consent)."""
        return self.propose(ProposalKind.REMOVE, account)

    def propose_change_roles(self, account: str, roles: Role) -> ContractTx:
        """Propose replacing a member's roles."""
        return self.propose(ProposalKind.CHANGE_ROLES, account, roles=roles)

    def propose_change_threshold(self, new_threshold: int) -> ContractTx:
        """Propose a new approval threshold."""
        return self.propose(ProposalKind.CHANGE_THRESHOLD, new_threshold=new_threshold)

    def approve(self, proposal_id: int) -> ContractTx:
        """Approve a proposal; the approval that reaches the threshold executes it."""
        return self._tx("approve", proposal_id, description=f"approve proposal {proposal_id}")

    def set_endpoint(self, url: str) -> ContractTx:
        """The sending member publishes the URL of its CareLedger node."""
        return self._tx("setEndpoint", url, description="set node endpoint")

    def update_encryption_key(self, encryption_key: bytes,
                              metadata_hash: bytes = ZERO32) -> ContractTx:
        """Replace the calling member's X25519 public key."""
        return self._tx("updateEncryptionKey", encryption_key, metadata_hash,
                        description="update institution key")
