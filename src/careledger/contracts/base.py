"""What every typed contract wrapper shares: an address, the packaged ABI, retried reads, and
prepared writes (``ContractTx``) that a ``Sender`` estimates, sends or transacts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from eth_utils.address import to_checksum_address
from web3.contract import Contract
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractCustomError, ContractLogicError
from web3.logs import DISCARD
from web3.types import EventData, TxReceipt

from careledger.chain import Chain, Sender, SentTransaction
from careledger.contracts.artifacts import load_artifact
from careledger.errors import decode_revert


def _topic(value: Any) -> bytes:
    """An indexed value as its 32-byte topic (an address, bytes up to 32, or an integer)."""
    if isinstance(value, str):
        raw = bytes.fromhex(value.removeprefix("0x"))
        return raw.rjust(32, b"\x00")
    if isinstance(value, int):
        return value.to_bytes(32, "big")
    return bytes(value).rjust(32, b"\x00") if len(value) < 32 else bytes(value)


@dataclass(frozen=True)
class ContractTx:
    """A prepared write: one contract function with its arguments, not sent yet.

    Like web3's ``ContractFunction``, it is sent by whoever holds a key::

        receipt = ledger.consent.grant(patient, grantee, scope, purposes, expiry).transact(sender)

    Attributes:
        call: the web3 call (address, function, encoded arguments).
        description: what it does, for logs and the transaction journal.
    """

    call: ContractFunction
    description: str

    def estimate(self, sender: Sender) -> int:
        """``eth_estimateGas`` from ``sender``; a doomed call raises its ``ContractRevert``."""
        return sender.estimate(self.call)

    def send(self, sender: Sender, *, gas: int | None = None) -> SentTransaction:
        """Sign and broadcast; return at once (``sender.wait`` later)."""
        return sender.send(self.call, gas=gas, description=self.description)

    def transact(self, sender: Sender, *, gas: int | None = None) -> TxReceipt:
        """Send and wait for the receipt.

        Raises:
            ContractRevert: a subclass per Solidity custom error when the contract refuses.
            TransactionTimeout, RpcUnavailable: the chain did not answer in time.
        """
        return sender.transact(self.call, gas=gas, description=self.description)


class ContractWrapper:
    """One deployed contract: its address, its web3 ``contract`` and typed methods."""

    NAME = ""

    def __init__(self, chain: Chain, address: str) -> None:
        self.chain = chain
        self.address = to_checksum_address(address)
        self.contract: Contract = chain.w3.eth.contract(
            address=self.address, abi=load_artifact(self.NAME)["abi"]
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.address})"

    def _view(self, fn: str, *args: Any) -> Any:
        """Call a view function, retrying while the node is unreachable (``RpcUnavailable``
        after); a revert becomes the ``ContractRevert`` subclass named like its custom error."""
        try:
            return self.chain.call_rpc(f"{self.NAME}.{fn}",
                                       lambda: getattr(self.contract.functions, fn)(*args).call())
        except (ContractCustomError, ContractLogicError) as exc:
            raise decode_revert(exc) from exc

    def _tx(self, fn: str, *args: Any, description: str = "") -> ContractTx:
        return ContractTx(getattr(self.contract.functions, fn)(*args), description or fn)

    def events_in(self, event: str, receipt: TxReceipt, **indexed: Any) -> list[EventData]:
        """The ``event`` logs this contract emitted in ``receipt`` (others are skipped); with
        ``indexed`` (``recordId=b"..."``, ``institute="0x..."``), only the logs whose indexed
        arguments equal those, matched on their topics before anything is ABI-decoded (a study
        batch's receipt carries a hundred entries)."""
        handle = getattr(self.contract.events, event)
        if indexed:
            names = [i["name"] for i in handle.abi["inputs"] if i.get("indexed")]
            wanted = {1 + names.index(k): _topic(v) for k, v in indexed.items()}
            kept = [lg for lg in receipt["logs"]
                    if all(len(lg["topics"]) > t and bytes(lg["topics"][t]) == v
                           for t, v in wanted.items())]
            receipt = cast(TxReceipt, {**receipt, "logs": kept})
        logs: Sequence[EventData] = handle().process_receipt(receipt, errors=DISCARD)
        return [lg for lg in logs if lg["address"] == self.address]

    def logs(self, event: str, *, from_block: int, to_block: int | str = "latest",
             **filters: Any) -> list[EventData]:
        """``eth_getLogs`` of ``event`` between two blocks, filtered on indexed arguments."""
        getter = getattr(self.contract.events, event)()
        found: list[EventData] = self.chain.call_rpc(
            f"{self.NAME}.{event} logs",
            lambda: getter.get_logs(argument_filters=filters or None, from_block=from_block,
                                    to_block=to_block))
        return found
