"""Sending transactions signed locally.

- ``NonceManager``: hands out nonces per sender under a lock, safe from many threads.
- ``Sender``: builds EIP-1559 transactions, signs them locally (eth-account + coincurve),
  re-broadcasts the same raw bytes on RPC failure or when a transaction is dropped, and turns
  every contract revert into the matching Python exception (``careledger.errors``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3.contract.contract import ContractFunction
from web3.exceptions import (
    ContractCustomError,
    ContractLogicError,
    Web3RPCError,
)
from web3.types import Nonce, RPCEndpoint, TxParams, TxReceipt, Wei

from careledger.chain.client import Chain
from careledger.chain.journal import SentTransaction, TxJournal
from careledger.errors import (
    CareLedgerError,
    TransactionFailed,
    decode_revert,
    revert_from_data,
)

log = logging.getLogger("careledger.chain.sender")


class NonceManager:
    """Allocates nonces per sender from a local counter, safe under concurrent threads.

    The counter starts at the node's pending transaction count and only grows, so concurrent
    publications never reuse or skip a nonce. ``resync`` re-reads the node after a fault.
    """

    def __init__(self, chain: Chain) -> None:
        self.chain = chain
        self._lock = threading.Lock()
        self._next: dict[str, int] = {}

    def allocate(self, address: str) -> int:
        """Return the next nonce for ``address`` and advance the counter."""
        with self._lock:
            if address not in self._next:
                self._next[address] = self.chain.call_rpc(
                    "eth_getTransactionCount",
                    lambda: self.chain.w3.eth.get_transaction_count(address, "pending"),  # type: ignore[arg-type]
                )
            nonce = self._next[address]
            self._next[address] = nonce + 1
            return nonce

    def resync(self, address: str) -> int:
        """Forget the local counter and read the node's pending count again."""
        with self._lock:
            self._next.pop(address, None)
        return self.peek(address)

    def reset(self) -> None:
        """Forget every local counter (after ``evm_revert`` or a node swap)."""
        with self._lock:
            self._next.clear()

    def peek(self, address: str) -> int:
        """The nonce the next ``allocate`` will return (without taking it)."""
        with self._lock:
            if address in self._next:
                return self._next[address]
        return self.chain.call_rpc(
            "eth_getTransactionCount",
            lambda: self.chain.w3.eth.get_transaction_count(address, "pending"),  # type: ignore[arg-type]
        )


@dataclass
class Sender:
    """Signs and sends transactions for one account.

    Args:
        chain: the connection.
        account: an eth-account ``LocalAccount`` (from a keystore, an env var or a dev key).
        nonces: a shared ``NonceManager`` (one per process and chain).
        gas_multiplier: safety margin on ``eth_estimateGas``.
        priority_fee: tip in wei; ``None`` asks the node.
    """

    chain: Chain
    account: LocalAccount
    nonces: NonceManager | None = None
    gas_multiplier: float = 1.25
    priority_fee: int | None = None
    on_sent: Callable[[SentTransaction], None] | None = None
    on_receipt: Callable[[SentTransaction, TxReceipt], None] | None = None
    journal: TxJournal | None = None
    _fee_cache: tuple[float, int, int] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.nonces is None:
            self.nonces = NonceManager(self.chain)

    @classmethod
    def from_key(cls, chain: Chain, private_key: str, **kwargs: Any) -> Sender:
        """A sender for a raw private key (dev accounts, env vars)."""
        return cls(chain=chain, account=Account.from_key(private_key), **kwargs)

    @property
    def address(self) -> str:
        """The sender's checksummed address."""
        return str(self.account.address)

    def fees(self) -> tuple[int, int]:
        """``(maxFeePerGas, maxPriorityFeePerGas)`` for the next transaction (cached 2 s)."""
        now = time.monotonic()
        if self._fee_cache is not None and now - self._fee_cache[0] < 2.0:
            return self._fee_cache[1], self._fee_cache[2]
        w3 = self.chain.w3
        base = self.chain.call_rpc("eth_getBlock", lambda: w3.eth.get_block("latest")).get(
            "baseFeePerGas", 0
        )
        tip = self.priority_fee
        if tip is None:
            tip = self.chain.call_rpc("eth_maxPriorityFeePerGas", lambda: int(w3.eth.max_priority_fee))
        max_fee = 2 * int(base) + int(tip)
        self._fee_cache = (now, max_fee, int(tip))
        return max_fee, int(tip)

    def estimate(self, call: ContractFunction) -> int:
        """``eth_estimateGas`` for ``call`` from this sender; reverts become typed errors."""
        try:
            return self.chain.call_rpc(
                "eth_estimateGas", lambda: int(call.estimate_gas({"from": self.address}))
            )
        except (ContractCustomError, ContractLogicError) as exc:
            raise decode_revert(exc) from exc

    def build(self, call: ContractFunction, *, gas: int | None = None, nonce: int | None = None,
              fee_bump: float = 1.0) -> tuple[TxParams, int]:
        """Build (without signing) an EIP-1559 transaction for ``call``."""
        if gas is None:
            gas = int(self.estimate(call) * self.gas_multiplier)
        assert self.nonces is not None
        if nonce is None:
            nonce = self.nonces.allocate(self.address)
        max_fee, tip = self.fees()
        tx: TxParams = {
            "from": self.address,
            "to": call.address,
            "data": call._encode_transaction_data(),
            "gas": gas,
            "nonce": Nonce(nonce),
            "chainId": self.chain.chain_id,
            "maxFeePerGas": Wei(int(max_fee * fee_bump)),
            "maxPriorityFeePerGas": Wei(int(tip * fee_bump)),
            "value": Wei(0),
            "type": 2,
        }
        return tx, nonce

    def send(self, call: ContractFunction, *, gas: int | None = None, description: str = "") -> SentTransaction:
        """Sign and broadcast ``call``; return at once (collect receipts later).

        When another process sending from the same account (this institution's node and its
        own tools, say) used the nonce first, the node answers "nonce too low": the counter is
        read again from the node and the transaction signed anew, up to three times.
        """
        for attempt in range(4):
            tx, nonce = self.build(call, gas=gas)
            try:
                return self._sign_and_broadcast(tx, nonce, description)
            except Web3RPCError as exc:
                if "nonce too low" not in str(exc).lower() or attempt == 3:
                    raise
                assert self.nonces is not None
                self.nonces.resync(self.address)
        raise AssertionError("unreachable")

    def deploy(self, abi: list[dict[str, Any]], bytecode: str, *args: Any,
               description: str = "deploy") -> TxReceipt:
        """Deploy a contract (estimated gas x 1.2) and wait; the receipt has its address."""
        factory = self.chain.w3.eth.contract(abi=abi, bytecode=bytecode)
        call = factory.constructor(*args)
        try:
            estimate = self.chain.call_rpc(
                "eth_estimateGas", lambda: int(call.estimate_gas({"from": self.address})))
        except (ContractCustomError, ContractLogicError) as exc:
            raise decode_revert(exc) from exc
        assert self.nonces is not None
        max_fee, tip = self.fees()
        tx = call.build_transaction({
            "from": self.address, "nonce": Nonce(self.nonces.allocate(self.address)),
            "gas": int(estimate * 1.2), "chainId": self.chain.chain_id,
            "maxFeePerGas": Wei(max_fee), "maxPriorityFeePerGas": Wei(tip),
        })
        return self.wait(self.send_raw_params(tx, description=description))

    def send_raw_params(self, tx: TxParams, description: str = "") -> SentTransaction:
        """Sign and broadcast prepared params (used to replace or re-send at a given nonce)."""
        return self._sign_and_broadcast(tx, int(tx["nonce"]), description)

    def _sign_and_broadcast(self, tx: TxParams, nonce: int, description: str) -> SentTransaction:
        signed = self.account.sign_transaction(tx)  # type: ignore[arg-type]
        raw = bytes(signed.raw_transaction)
        sent = SentTransaction(tx_hash=HexBytes(signed.hash), raw=raw, nonce=nonce,
                               description=description, params=tx)
        if self.journal is not None:
            self.journal.record(self.address, sent)  # before broadcast: a crash can resume
        if self.on_sent is not None:
            self.on_sent(sent)
        self.chain.broadcast(raw)
        return sent

    def replace(self, sent: SentTransaction, *, fee_bump: float = 1.3) -> SentTransaction:
        """Re-sign ``sent`` at the same nonce with higher fees (a stuck transaction).

        Whichever of the two is mined, the other can never be: one nonce, one execution.
        """
        if sent.params is None:
            raise CareLedgerError("only transactions built by this Sender can be replaced")
        tx: dict[str, Any] = dict(sent.params)
        tx["maxFeePerGas"] = int(int(tx["maxFeePerGas"]) * fee_bump) + 1
        tx["maxPriorityFeePerGas"] = int(int(tx["maxPriorityFeePerGas"]) * fee_bump) + 1
        return self._sign_and_broadcast(tx, sent.nonce, sent.description + " (fee bump)")  # type: ignore[arg-type]

    def reconcile(self, *, timeout: float | None = None) -> list[TxReceipt]:
        """After a node restart, a reorg or dropped transactions: re-broadcast every journaled
        transaction whose nonce the chain has not consumed, in order, and wait for them.

        Afterwards the account has no nonce gap and the local nonce counter is resynced.
        Reverted re-broadcasts (e.g. an anchor that another path already made) are returned
        with status 0, not raised.
        """
        if self.journal is None:
            raise CareLedgerError("reconcile needs a TxJournal: Sender(journal=TxJournal(path))")
        assert self.nonces is not None
        w3 = self.chain.w3
        mined = self.chain.call_rpc("eth_getTransactionCount",
                                    lambda: w3.eth.get_transaction_count(self.address, "latest"))  # type: ignore[arg-type]
        entries = self.journal.entries(self.address)
        resend = [entries[n] for n in sorted(entries) if n >= mined]
        expected = int(mined)
        for s in resend:
            if s.nonce != expected:
                break  # a nonce we never journaled: stop before leaving a gap
            self.chain.broadcast(s.raw)
            expected += 1
        receipts = [self.chain.wait_for_receipt(s.tx_hash, raw=s.raw, timeout=timeout)
                    for s in resend if s.nonce < expected]
        self.nonces.resync(self.address)
        return receipts

    def wait(self, sent: SentTransaction, *, timeout: float | None = None) -> TxReceipt:
        """Wait for ``sent`` and raise the decoded revert if it failed on chain."""
        receipt = self.chain.wait_for_receipt(sent.tx_hash, raw=sent.raw, timeout=timeout)
        if receipt["status"] != 1:
            raise self._explain_failure(sent, receipt)
        if self.on_receipt is not None:
            self.on_receipt(sent, receipt)
        return receipt

    def transact(self, call: ContractFunction, *, gas: int | None = None, description: str = "") -> TxReceipt:
        """Send ``call`` and wait for its receipt.

        Raises:
            ContractRevert (a subclass per Solidity custom error): the contract refused.
            TransactionTimeout, RpcUnavailable: the chain did not answer in time.
        """
        return self.wait(self.send(call, gas=gas, description=description))

    def _explain_failure(self, sent: SentTransaction, receipt: TxReceipt) -> CareLedgerError:
        w3 = self.chain.w3
        # 1. the exact revert data of the mined transaction, where the node can trace it
        try:
            trace = w3.provider.make_request(
                RPCEndpoint("debug_traceTransaction"),
                [sent.tx_hash.to_0x_hex(), {"tracer": "callTracer"}])
            output = (trace.get("result") or {}).get("output")
            if output and len(output) >= 10:
                return revert_from_data(output)
        except Exception as exc:  # noqa: BLE001 - tracing is optional on public nodes
            log.debug("debug_traceTransaction unavailable (%s); replaying the call instead", exc)
        # 2. replay: before the block, then after it (a transaction earlier in the same block,
        #    e.g. a revocation, is only visible in the block's post-state)
        tx = w3.eth.get_transaction(sent.tx_hash)
        call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"]}
        for block in (receipt["blockNumber"] - 1, receipt["blockNumber"]):
            try:
                w3.eth.call(call, block)  # type: ignore[arg-type]
            except (ContractCustomError, ContractLogicError) as exc:
                return decode_revert(exc)
            except Web3RPCError:
                pass
        return TransactionFailed(
            f"transaction {sent.tx_hash.to_0x_hex()} reverted in block {receipt['blockNumber']} "
            f"(gas used {receipt['gasUsed']} of {tx['gas']}); the state changed between "
            "estimation and inclusion, or it ran out of gas: retry"
        )


def wait_all(sender: Sender, sent: list[SentTransaction], *, timeout: float | None = None) -> list[TxReceipt]:
    """Collect receipts of transactions sent back to back (pipelined)."""
    return [sender.wait(s, timeout=timeout) for s in sent]
