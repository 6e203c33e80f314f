"""The connection to a chain: ``Chain`` (web3 with a verified chain id, receipt waiting with
confirmations and timeout, RPC retries that end in a typed error, never a silent success) and
its ``RetryPolicy``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlparse

import requests
from hexbytes import HexBytes
from web3 import Web3
from web3.exceptions import (
    TransactionNotFound,
    Web3RPCError,
)
from web3.types import TxReceipt

from careledger.errors import (
    ChainIdMismatch,
    RpcUnavailable,
    TransactionTimeout,
)

T = TypeVar("T")
log = logging.getLogger("careledger.chain.client")

_TRANSIENT = (requests.ConnectionError, requests.Timeout, ConnectionError, TimeoutError, OSError)


def _reason(exc: BaseException | None) -> str:
    """The gist of a connection failure (``[Errno 111] Connection refused``), not urllib3's
    whole chain of wrappers."""
    text = str(exc)
    found = re.search(r"\[Errno -?\d+\] [^'\")\]]+", text)
    if found:
        return found.group(0).strip()
    return (type(exc).__name__ + ": " + text)[:160] if exc is not None else "no answer"


@dataclass
class RetryPolicy:
    """How long to keep trying an unreachable node before raising ``RpcUnavailable``."""

    attempts: int = 8
    initial_delay: float = 0.05
    max_delay: float = 2.0
    on_retry: Callable[[str, int, BaseException], None] | None = None


class Chain:
    """A connection to an EVM chain.

    Args:
        rpc_url: HTTP JSON-RPC endpoint.
        chain_id: if given, the node must report this chain id (else ``ChainIdMismatch``).
        confirmations: blocks on top of the one holding a transaction before it counts.
        receipt_timeout: seconds to wait for a receipt.
        poll_interval: seconds between receipt polls (web3's default 0.1 s caps a client near
            9 tx/s on anvil; 0.005 s is cheap on a local node).
        request_timeout: seconds per HTTP request.
        retry: what to do while the node is unreachable.
    """

    def __init__(
        self,
        rpc_url: str,
        *,
        chain_id: int | None = None,
        confirmations: int = 0,
        receipt_timeout: float = 120.0,
        poll_interval: float = 0.005,
        request_timeout: float = 10.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.rpc_url = rpc_url
        session = requests.Session()
        # a local node needs no proxy: skip requests' per-request lookup of proxy settings in
        # the environment (5-20 % of wall time against anvil); remote URLs keep them
        host = (urlparse(rpc_url).hostname or "").lower()
        session.trust_env = host not in {"127.0.0.1", "localhost", "::1"}
        # one attempt per call here (``call_rpc`` retries), with a short connect timeout: a
        # dead or hung endpoint is reported in seconds, not after web3's own 5 retries of 10 s
        self.w3 = Web3(Web3.HTTPProvider(
            rpc_url, request_kwargs={"timeout": (min(3.0, request_timeout), request_timeout)},
            session=session, exception_retry_configuration=None))
        # web3's validation middleware asks eth_chainId before every call and estimate (about
        # 40 % of all requests); this client checks the chain id itself, once, and signs locally.
        self.w3.middleware_onion.remove("validation")
        self.confirmations = confirmations
        self.receipt_timeout = receipt_timeout
        self.poll_interval = poll_interval
        self.retry = retry or RetryPolicy()
        self._chain_id: int | None = None
        if chain_id is not None:
            actual = self.chain_id
            if actual != chain_id:
                raise ChainIdMismatch(
                    f"the node at {rpc_url} reports chain id {actual}, not {chain_id}: "
                    "check --rpc-url and --chain-id"
                )

    @property
    def chain_id(self) -> int:
        """The chain id reported by the node (asked once)."""
        if self._chain_id is None:
            self._chain_id = self.call_rpc("eth_chainId", lambda: int(self.w3.eth.chain_id))
        return self._chain_id

    def call_rpc(self, what: str, fn: Callable[[], T]) -> T:
        """Run ``fn``, retrying transient connection failures with backoff.

        Raises:
            RpcUnavailable: the node stayed unreachable for every attempt.
        """
        delay = self.retry.initial_delay
        last: BaseException | None = None
        for attempt in range(1, self.retry.attempts + 1):
            try:
                return fn()
            except _TRANSIENT as exc:
                last = exc
                log.warning("%s: node at %s unreachable (attempt %d/%d): %s", what, self.rpc_url,
                            attempt, self.retry.attempts, exc)
                if self.retry.on_retry is not None:
                    self.retry.on_retry(what, attempt, exc)
                if attempt < self.retry.attempts:
                    time.sleep(delay)
                    delay = min(delay * 2, self.retry.max_delay)
        raise RpcUnavailable(
            f"{what}: the node at {self.rpc_url} did not answer after {self.retry.attempts} "
            f"attempt(s) ({_reason(last)}); check that it is running and reachable, then retry"
        ) from last

    def wait_for_receipt(self, tx_hash: HexBytes, *, raw: bytes | None = None,
                         timeout: float | None = None) -> TxReceipt:
        """Wait until ``tx_hash`` is mined with ``confirmations`` blocks on top.

        If the transaction disappears from the node (dropped, node restarted) and ``raw`` is
        given, the same signed bytes are broadcast again: same nonce, same hash, so this can
        never execute twice.

        Raises:
            TransactionTimeout: not mined within the timeout.
            RpcUnavailable: the node stayed unreachable.
        """
        deadline = time.monotonic() + (timeout if timeout is not None else self.receipt_timeout)
        missing_since: float | None = None
        while True:
            receipt = self._receipt_or_none(tx_hash)
            if receipt is not None:
                if self.confirmations == 0:
                    return receipt
                head = self.call_rpc("eth_blockNumber", lambda: self.w3.eth.block_number)
                if head - receipt["blockNumber"] >= self.confirmations:
                    # re-read: a reorg may have moved or removed it meanwhile
                    again = self._receipt_or_none(tx_hash)
                    if again is not None and again["blockHash"] == receipt["blockHash"]:
                        return again
            elif raw is not None:
                known = self._tx_known(tx_hash)
                now = time.monotonic()
                if not known:
                    if missing_since is None:
                        missing_since = now
                    if now - missing_since > 0.05:
                        self.broadcast(raw)
                        missing_since = None
            if time.monotonic() > deadline:
                raise TransactionTimeout(
                    f"transaction {tx_hash.to_0x_hex()} was not mined in time; it may still be "
                    "pending: check it with `cast tx` or re-run the command (it is idempotent)"
                )
            time.sleep(self.poll_interval)

    def _receipt_or_none(self, tx_hash: HexBytes) -> TxReceipt | None:
        def get() -> TxReceipt | None:
            try:
                return self.w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                return None

        return self.call_rpc("eth_getTransactionReceipt", get)

    def _tx_known(self, tx_hash: HexBytes) -> bool:
        def get() -> bool:
            try:
                self.w3.eth.get_transaction(tx_hash)
                return True
            except TransactionNotFound:
                return False

        return self.call_rpc("eth_getTransactionByHash", get)

    def broadcast(self, raw: bytes) -> HexBytes:
        """Send signed bytes; "already known" counts as success (same bytes, same hash)."""
        expected = HexBytes(Web3.keccak(raw))

        def send() -> HexBytes:
            try:
                return HexBytes(self.w3.eth.send_raw_transaction(raw))
            except Web3RPCError as exc:
                msg = str(exc).lower()
                if "already known" in msg or "already imported" in msg:
                    return expected
                if "nonce too low" in msg and self._receipt_or_none(expected) is not None:
                    return expected
                raise

        return self.call_rpc("eth_sendRawTransaction", send)
