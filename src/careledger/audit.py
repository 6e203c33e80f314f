"""A patient's access history, read from chain events and checked against the on-chain head.

Every ``recordAccess`` (``AccessRecorded``), break-glass opening (``BreakGlassOpened``) and
closing (``BreakGlassClosed``) advances the patient's hash chain
``head = bytes32(bytes24(keccak256(abi.encode(previousHead, patient, keccak256(entry)))))``
(192 bits, so head and count share one storage slot) stored in the ConsentRegistry, where
``entry = abi.encode(kind, actor, subject, detail, purpose, timestamp, seq, viaBreakGlass)``
(docs/contracts-v2.md). ``AuditLog.verify`` recomputes that chain from the logs: a missing,
altered or reordered event makes it differ from the stored head.

Exports carry the fields of an accounting of disclosures (HIPAA 45 CFR 164.528(b)(2)): date,
recipient, description of the record, purpose.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3.types import EventData

from careledger.codes import CATEGORY_BY_CODE, Purpose
from careledger.contracts import CareLedger

#: ``entry = abi.encode(kind, actor, subject, detail, purpose, timestamp, seq, viaBreakGlass)``
ENTRY_TYPES = ["uint8", "address", "bytes32", "bytes32", "uint8", "uint64", "uint64", "bool"]
ZERO32 = b"\x00" * 32

#: Entry kinds of the hash chain, as ``IConsentRegistry`` numbers them.
KIND_ACCESS = 0
KIND_BREAK_GLASS_OPENED = 1
KIND_BREAK_GLASS_CLOSED = 2
KIND_NAMES = {KIND_ACCESS: "access", KIND_BREAK_GLASS_OPENED: "break-glass opened",
              KIND_BREAK_GLASS_CLOSED: "break-glass closed"}


@dataclass(frozen=True)
class AccessEntry:
    """One entry of a patient's hash chain: an access to a record, or a break-glass window
    opened or closed.

    Attributes:
        kind: ``"access"``, ``"break-glass opened"`` or ``"break-glass closed"``.
        accessor: the institution (the accessor, or the break-glass institution).
        record_id: the record accessed (``""`` for break-glass entries).
        subject, detail: the two hashed words of the entry (record id and category for an
            access; salted reason hash and expiry for an opening; closer and 0 for a closing).
        closed_by: who closed a window (``""`` otherwise).
        expires_at: when an opened window closes (0 otherwise).
    """

    seq: int
    timestamp: int
    accessor: str
    record_id: str
    category: str
    category_code: str
    purpose: str
    purpose_code: int
    via_break_glass: bool
    head: str
    block: int
    tx_hash: str
    kind: str = "access"
    subject: str = "0x" + "00" * 32
    detail: str = "0x" + "00" * 32
    closed_by: str = ""
    expires_at: int = 0

    @property
    def kind_code(self) -> int:
        """The entry kind as the contract numbers it."""
        return {v: k for k, v in KIND_NAMES.items()}[self.kind]

    @property
    def date(self) -> str:
        """ISO 8601 UTC date-time of the entry."""
        return datetime.fromtimestamp(self.timestamp, UTC).isoformat()


@dataclass(frozen=True)
class BreakGlassEvent:
    """An emergency window opened on a patient's records (and whether it was closed early)."""

    institution: str
    reason_hash: str
    expires_at: int
    block: int
    tx_hash: str
    closed_by: str = ""
    closed_at: int = 0


@dataclass(frozen=True)
class Verification:
    """Result of recomputing the hash chain from the logs."""

    ok: bool
    entries: int
    onchain_count: int
    computed_head: str
    onchain_head: str
    first_bad_seq: int | None = None

    def __str__(self) -> str:
        if self.ok:
            return f"hash chain verified: {self.entries} entries, head {self.onchain_head}"
        return (f"hash chain MISMATCH: {self.entries} logged entries vs {self.onchain_count} on chain;"
                f" computed {self.computed_head} vs stored {self.onchain_head}"
                + (f"; first bad entry {self.first_bad_seq}" if self.first_bad_seq is not None else ""))


def chain_step(previous: bytes, patient: str, entry: AccessEntry) -> bytes:
    """One step of the audit hash chain, exactly as the ConsentRegistry computes it:
    ``bytes32(bytes24(keccak256(abi.encode(previous, patient, keccak256(entry)))))``."""
    encoded = encode(ENTRY_TYPES, [
        entry.kind_code, entry.accessor, bytes.fromhex(entry.subject[2:]),
        bytes.fromhex(entry.detail[2:]), entry.purpose_code, entry.timestamp, entry.seq,
        entry.via_break_glass])
    step = keccak(encode(["bytes32", "address", "bytes32"], [previous, patient, keccak(encoded)]))
    return step[:24] + bytes(8)  # the contract keeps 192 bits of head beside the count, one slot


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _purpose_name(code: int) -> str:
    return Purpose(code).name if code in set(Purpose) else str(code)


class AuditLog:
    """Reads and verifies patients' access histories.

    Args:
        ledger: the deployment.
        names: optional address → display name of institutions (kept off chain).
        chunk: block range per ``eth_getLogs`` request (public nodes cap ranges).
    """

    def __init__(self, ledger: CareLedger, *, names: Mapping[str, str] | None = None,
                 chunk: int = 50_000) -> None:
        self.ledger = ledger
        self.names: dict[str, str] = {str(to_checksum_address(k)): v for k, v in (names or {}).items()}
        self.chunk = chunk

    def _logs(self, event: str, patient: str) -> list[EventData]:
        chain = self.ledger.chain
        start = self.ledger.deployment.block
        end = chain.call_rpc("eth_blockNumber", lambda: chain.w3.eth.block_number)
        logs: list[EventData] = []
        for lo in range(start, end + 1, self.chunk):
            hi = min(lo + self.chunk - 1, end)
            logs.extend(self.ledger.consent.logs(event, from_block=lo, to_block=hi,
                                                 patient=patient))
        return sorted(logs, key=lambda lg: (lg["blockNumber"], lg["logIndex"]))

    def history(self, patient: str) -> list[AccessEntry]:
        """Every entry of ``patient``'s hash chain (accesses, break-glass openings and
        closings), oldest first."""
        patient = to_checksum_address(patient)
        out = []
        for lg in self._logs("AccessRecorded", patient):
            a = lg["args"]
            cat = bytes(a["category"])
            known = CATEGORY_BY_CODE.get(cat)
            out.append(AccessEntry(
                seq=int(a["seq"]), timestamp=int(a["timestamp"]),
                accessor=to_checksum_address(a["accessor"]), record_id=_hex(a["recordId"]),
                category=known.name if known else _hex(cat), category_code=_hex(cat),
                purpose=_purpose_name(int(a["purpose"])), purpose_code=int(a["purpose"]),
                via_break_glass=bool(a["viaBreakGlass"]), head=_hex(a["head"]),
                block=int(lg["blockNumber"]), tx_hash=lg["transactionHash"].to_0x_hex(),
                kind="access", subject=_hex(a["recordId"]), detail=_hex(cat),
            ))
        for lg in self._logs("BreakGlassOpened", patient):
            a = lg["args"]
            out.append(self._window_entry(lg, KIND_BREAK_GLASS_OPENED, subject=_hex(a["reasonHash"]),
                                          detail=_hex(int(a["expiresAt"]).to_bytes(32, "big")),
                                          expires_at=int(a["expiresAt"])))
        for lg in self._logs("BreakGlassClosed", patient):
            closer = to_checksum_address(lg["args"]["closedBy"])
            out.append(self._window_entry(lg, KIND_BREAK_GLASS_CLOSED,
                                          subject=_hex(bytes(12) + bytes.fromhex(closer[2:])),
                                          detail=_hex(ZERO32), closed_by=closer))
        return sorted(out, key=lambda e: e.seq)

    def _window_entry(self, lg: EventData, kind: int, **fields: Any) -> AccessEntry:
        a = lg["args"]
        block = self.ledger.chain.call_rpc(
            "eth_getBlock", lambda: self.ledger.chain.w3.eth.get_block(lg["blockNumber"]))
        return AccessEntry(
            seq=int(a["seq"]), timestamp=int(block["timestamp"]),
            accessor=to_checksum_address(a["institution"]), record_id="", category="",
            category_code="", purpose=Purpose.ETREAT.name, purpose_code=int(Purpose.ETREAT),
            via_break_glass=True, head=_hex(a["head"]), block=int(lg["blockNumber"]),
            tx_hash=lg["transactionHash"].to_0x_hex(), kind=KIND_NAMES[kind], **fields)

    def break_glass_events(self, patient: str) -> list[BreakGlassEvent]:
        """Every break-glass window opened on ``patient``, oldest first, with its closing."""
        entries = self.history(patient)
        closings = [e for e in entries if e.kind == KIND_NAMES[KIND_BREAK_GLASS_CLOSED]]
        out = []
        for e in entries:
            if e.kind != KIND_NAMES[KIND_BREAK_GLASS_OPENED]:
                continue
            closed = next((c for c in closings if c.accessor == e.accessor and c.seq > e.seq
                           and c.timestamp < e.expires_at), None)
            out.append(BreakGlassEvent(
                institution=e.accessor, reason_hash=e.subject, expires_at=e.expires_at,
                block=e.block, tx_hash=e.tx_hash,
                closed_by=closed.closed_by if closed else "",
                closed_at=closed.timestamp if closed else 0))
        return out

    def verify(self, patient: str, entries: list[AccessEntry] | None = None) -> Verification:
        """Recompute the hash chain from the logs and compare with the stored head."""
        patient = to_checksum_address(patient)
        entries = self.history(patient) if entries is None else entries
        onchain_head, onchain_count = self.ledger.consent.audit_head(patient)
        head = ZERO32
        first_bad: int | None = None
        for i, e in enumerate(entries):
            head = chain_step(head, patient, e)
            if first_bad is None and (e.seq != i or head.hex() != e.head[2:]):
                first_bad = i
        ok = head == onchain_head and len(entries) == onchain_count and first_bad is None
        return Verification(ok=ok, entries=len(entries), onchain_count=onchain_count,
                            computed_head="0x" + head.hex(), onchain_head="0x" + onchain_head.hex(),
                            first_bad_seq=first_bad)

    # -- exports ----------------------------------------------------------------------------

    def disclosures(self, patient: str) -> list[dict[str, Any]]:
        """Accounting-of-disclosures rows (HIPAA 164.528 fields plus chain references)."""
        rows = []
        for e in self.history(patient):
            rows.append({
                "date": e.date,
                "kind": e.kind,
                "recipient": self.names.get(e.accessor, e.accessor),
                "recipient_address": e.accessor,
                "record": e.record_id,
                "category": e.category,
                "purpose": e.purpose,
                "break_glass": e.via_break_glass,
                "seq": e.seq,
                "tx_hash": e.tx_hash,
            })
        return rows

    def export_json(self, patient: str) -> str:
        """History, break-glass openings and the verification result as JSON."""
        return json.dumps({
            "patient": to_checksum_address(patient),
            "chain_id": self.ledger.chain.chain_id,
            "consent_registry": self.ledger.consent.address,
            "disclosures": self.disclosures(patient),
            "break_glass": [asdict(b) for b in self.break_glass_events(patient)],
            "verification": asdict(self.verify(patient)),
        }, indent=2)

    def export_csv(self, patient: str) -> str:
        """Accounting-of-disclosures rows as CSV."""
        rows = self.disclosures(patient)
        buf = io.StringIO()
        fields = ["date", "kind", "recipient", "recipient_address", "record", "category", "purpose",
                  "break_glass", "seq", "tx_hash"]
        writer = csv.DictWriter(buf, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()
