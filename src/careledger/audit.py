"""A patient's access history, read from chain events and checked against the on-chain head.

Every ``recordAccess`` emits ``AccessRecorded`` and advances the patient's hash chain
``head = bytes32(bytes24(keccak256(abi.encode(previousHead, patient, keccak256(entry)))))``
(192 bits, so head and count share one storage slot) stored in the ConsentRegistry, where
``entry = abi.encode(accessor, recordId, category, purpose, timestamp, seq, viaBreakGlass)``. ``AuditLog.verify`` recomputes that chain from the logs: a missing, altered
or reordered event makes it differ from the stored head.

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

ENTRY_TYPES = ["address", "bytes32", "bytes32", "uint8", "uint64", "uint64", "bool"]
ZERO32 = b"\x00" * 32


@dataclass(frozen=True)
class AccessEntry:
    """One logged access to a patient's record."""

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

    @property
    def date(self) -> str:
        """ISO 8601 UTC date-time of the access."""
        return datetime.fromtimestamp(self.timestamp, UTC).isoformat()


@dataclass(frozen=True)
class BreakGlassEvent:
    """An emergency opening of a patient's records."""

    institution: str
    reason_code: str
    expires_at: int
    block: int
    tx_hash: str


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


def chain_step(previous: bytes, patient: str, accessor: str, record_id: bytes, category: bytes,
               purpose: int, timestamp: int, seq: int, via_break_glass: bool) -> bytes:
    """One step of the audit hash chain, exactly as the ConsentRegistry computes it."""
    entry = encode(ENTRY_TYPES, [accessor, record_id, category, purpose, timestamp, seq,
                                 via_break_glass])
    step = keccak(encode(["bytes32", "address", "bytes32"], [previous, patient, keccak(entry)]))
    return step[:24] + bytes(8)  # the contract keeps 192 bits of head beside the count, one slot


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
        """Every logged access to ``patient``'s records, oldest first."""
        patient = to_checksum_address(patient)
        out = []
        for lg in self._logs("AccessRecorded", patient):
            a = lg["args"]
            cat = bytes(a["category"])
            known = CATEGORY_BY_CODE.get(cat)
            out.append(AccessEntry(
                seq=int(a["seq"]), timestamp=int(a["timestamp"]),
                accessor=to_checksum_address(a["accessor"]),
                record_id="0x" + bytes(a["recordId"]).hex(),
                category=known.name if known else "0x" + cat.hex(), category_code="0x" + cat.hex(),
                purpose=Purpose(a["purpose"]).name if a["purpose"] in set(Purpose)
                else str(a["purpose"]), purpose_code=int(a["purpose"]),
                via_break_glass=bool(a["viaBreakGlass"]), head="0x" + bytes(a["head"]).hex(),
                block=int(lg["blockNumber"]), tx_hash=lg["transactionHash"].to_0x_hex(),
            ))
        return sorted(out, key=lambda e: e.seq)

    def break_glass_events(self, patient: str) -> list[BreakGlassEvent]:
        """Every break-glass opening on ``patient``, oldest first."""
        patient = to_checksum_address(patient)
        return [
            BreakGlassEvent(
                institution=to_checksum_address(lg["args"]["institution"]),
                reason_code="0x" + bytes(lg["args"]["reasonCode"]).hex(),
                expires_at=int(lg["args"]["expiresAt"]), block=int(lg["blockNumber"]),
                tx_hash=lg["transactionHash"].to_0x_hex(),
            )
            for lg in self._logs("BreakGlassOpened", patient)
        ]

    def verify(self, patient: str, entries: list[AccessEntry] | None = None) -> Verification:
        """Recompute the hash chain from the logs and compare with the stored head."""
        patient = to_checksum_address(patient)
        entries = self.history(patient) if entries is None else entries
        onchain_head, onchain_count = self.ledger.consent.audit_head(patient)
        head = ZERO32
        first_bad: int | None = None
        for i, e in enumerate(entries):
            head = chain_step(head, patient, e.accessor, bytes.fromhex(e.record_id[2:]),
                              bytes.fromhex(e.category_code[2:]), e.purpose_code, e.timestamp,
                              e.seq, e.via_break_glass)
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
        fields = ["date", "recipient", "recipient_address", "record", "category", "purpose",
                  "break_glass", "seq", "tx_hash"]
        writer = csv.DictWriter(buf, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        return buf.getvalue()
