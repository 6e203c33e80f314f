"""Measure the gas and the signed size of each operation the cost model counts, on a fresh
anvil, through the SDK (nothing typed in by hand).

Each operation is a real transaction; its ``gasUsed`` (refunds applied, as the payer sees it)
and its signed RLP form (``eth_getRawTransactionByHash``, the bytes an OP Stack sequencer posts
to L1, FastLZ-compressed for the Fjord data fee) are recorded. The state of the chain is a
patient's steady state: the patient has a hash chain and a signing nonce already, as after a
first year (the first-time slots cost more; the figures say which).
"""

from __future__ import annotations

import json
import secrets
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from careledger.cost.fastlz import compress
from careledger.cost.model import Operation

#: anchorBatch is measured at these sizes (its gas barely moves: one root per batch).
BATCH_SIZES = (16, 64, 256, 1024, 4096)


def _operation(chain: Any, name: str, receipt_or_hash: Any, note: str = "") -> Operation:
    if isinstance(receipt_or_hash, str):
        receipt = chain.w3.eth.get_transaction_receipt(receipt_or_hash)
    else:
        receipt = receipt_or_hash
    tx_hash = receipt["transactionHash"].to_0x_hex()
    raw = chain.w3.provider.make_request("eth_getRawTransactionByHash", [tx_hash])["result"]
    signed = bytes.fromhex(raw.removeprefix("0x"))
    return Operation(name, int(receipt["gasUsed"]), len(signed), len(compress(signed)), note)


def measure(*, batch_sizes: tuple[int, ...] = BATCH_SIZES) -> dict[str, Any]:
    """Deploy on a fresh anvil and measure every operation; returns
    ``{"operations": {name: Operation}, "batches": {size: Operation}}``."""
    from careledger.actors import Institution, Patient, Provider
    from careledger.chain import Chain, Devnet, NonceManager, Sender
    from careledger.codes import SCOPE_ALL, Category, Purpose, Role, reason_hash
    from careledger.consent import ConsentSigner, Relayer
    from careledger.contracts import CareLedger, GenesisMember, deploy, new_batch_id
    from careledger.crypto import EncryptionKeyPair
    from careledger.store import Workspace

    with Devnet(accounts=10, extra_args=["--gas-limit", "60000000"]) as node, \
            tempfile.TemporaryDirectory(prefix="careledger-cost-") as tmp:
        chain = Chain(node.rpc_url, chain_id=node.chain_id, poll_interval=0.002)
        nonces = NonceManager(chain)
        acc = node.accounts

        def sender(i: int) -> Sender:
            return Sender.from_key(chain, acc[i].private_key, nonces=nonces)

        enc = [EncryptionKeyPair.generate() for _ in range(5)]
        roles = [Role.PROVIDER, Role.PROVIDER, Role.RESEARCHER, Role.PROVIDER | Role.EMERGENCY]
        genesis = [GenesisMember(acc[i + 1].address, roles[i], enc[i].public_bytes) for i in range(4)]
        ledger = CareLedger(chain, deploy(sender(0), genesis, threshold=1))
        ws = {i: Workspace.local(Path(tmp) / f"party-{i}") for i in range(1, 9)}
        hospital = Provider(ledger, sender(1), ws[1], enc[0])
        reader = Institution(ledger, sender(2), ws[2], enc[1])
        research = Institution(ledger, sender(3), ws[3], enc[2])
        emergency = Institution(ledger, sender(4), ws[4], enc[3])
        relayer = Relayer(sender(5), ledger.consent)
        signer = ConsentSigner(ledger.consent)
        patient_acct = sender(6).account
        alice = Patient(ledger, sender(6), ws[6], enc[4])
        now = int(chain.w3.eth.get_block("latest")["timestamp"])
        year = now + 365 * 86400
        ops: dict[str, Operation] = {}
        assert hospital.sender is not None and research.sender is not None

        def record(name: str, receipt: Any, note: str = "") -> None:
            ops[name] = _operation(chain, name, receipt, note)

        record("register_patient_key", alice.register_key(), "once per patient")
        pub = hospital.publish(alice.patient, b"synthetic lab result " + secrets.token_bytes(64),
                               Category.LAB)
        assert pub.receipt is not None
        record("anchor", pub.receipt, "one record, its own anchor")
        amended = hospital.amend(pub.record_id, b"amended " + secrets.token_bytes(64))
        assert amended.receipt is not None
        record("amend", amended.receipt, "a new version linked to the old one")
        # the patient's first signature and first hash-chain entry happen once: warm them up
        relayer.submit(signer.grant(patient_acct, reader.address, secrets.token_bytes(32),
                                    [Purpose.TREAT], year))
        alice.grant(reader.address, SCOPE_ALL, [Purpose.TREAT], year)
        reader.log_access(ws[1].index.get(amended.record_id), Purpose.TREAT)
        scope = Category.IMAGING.code
        record("grant", alice.grant(research.address, scope, [Purpose.TREAT], year),
               "direct, the patient pays")
        record("revoke", alice.revoke(research.address, scope), "direct, the patient pays")
        res = relayer.submit(signer.grant(patient_acct, research.address, scope,
                                          [Purpose.TREAT], year))
        record("grant_by_sig", res.tx_hash, "signed by the patient, relayed by a node")
        res = relayer.submit(signer.revoke(patient_acct, research.address, scope))
        record("revoke_by_sig", res.tx_hash, "signed by the patient, relayed by a node")
        record("record_access", reader.log_access(ws[1].index.get(amended.record_id),
                                                  Purpose.TREAT),
               "the patient's hash chain exists")
        rc = ledger.consent.request_access(alice.patient, Category.LAB.code, Purpose.HRESCH,
                                           reason_hash("cohort study", secrets.token_bytes(16))
                                           ).transact(research.sender)
        record("request_access", rc, "a salted hash of the reason on chain")
        request_id = ledger.consent.request_id_from(rc)
        record("approve_request", alice.approve_request(request_id, year), "creates the grant")
        record("break_glass", emergency.break_glass(alice.patient, "ED", 4 * 3600).receipt,
               "the patient's hash chain exists")
        batches: dict[int, Operation] = {}
        for size in batch_sizes:
            root = secrets.token_bytes(32)
            rc = ledger.records.anchor_batch(new_batch_id(hospital.address), root, size,
                                             Category.VITALS.code).transact(hospital.sender)
            batches[size] = _operation(chain, f"anchor_batch_{size}", rc,
                                       f"one root for {size} records")
    return {"operations": ops, "batches": batches}


def save(measured: dict[str, Any], path: Path) -> None:
    """Write measured figures as JSON (``careledger cost --gas FILE`` reads them back)."""
    from careledger.store import write_atomic

    data = {"operations": {n: asdict(o) for n, o in measured["operations"].items()},
            "batches": {str(s): asdict(o) for s, o in measured["batches"].items()}}
    write_atomic(path, (json.dumps(data, indent=2) + "\n").encode(), mode=0o644)


def load(path: Path) -> dict[str, Any]:
    """Figures written by ``save``.

    Raises:
        InvalidInput: not such a file.
    """
    from careledger.errors import InvalidInput

    try:
        data = json.loads(path.read_text())
        return {"operations": {n: Operation(**o) for n, o in data["operations"].items()},
                "batches": {int(s): Operation(**o) for s, o in data["batches"].items()}}
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"{path} is not a file of measured gas (careledger cost "
                           f"--save-gas writes one): {exc}") from None
