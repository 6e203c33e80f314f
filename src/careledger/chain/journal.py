"""Signed transactions and the journal that lets a crashed sender finish what it started.

- ``SentTransaction``: a signed, broadcast transaction (keep its raw bytes to re-broadcast).
- ``TxJournal``: an append-only, fsync'd file of every signed transaction, written before
  broadcast.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass

from hexbytes import HexBytes
from web3.types import TxParams


@dataclass
class SentTransaction:
    """A signed transaction that was broadcast: keep ``raw`` to re-broadcast it."""

    tx_hash: HexBytes
    raw: bytes
    nonce: int
    description: str = ""
    params: TxParams | None = None


class TxJournal:
    """An append-only file of every signed transaction, written before it is broadcast.

    After a crash, a node restart (lost blocks) or a reorg, ``Sender.reconcile`` re-broadcasts
    the journaled bytes whose nonces the chain has not consumed, in nonce order: same nonce,
    same hash, so nothing executes twice and no nonce gap is left behind.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        self._lock = threading.Lock()

    def record(self, sender: str, sent: SentTransaction) -> None:
        """Append (fsync'd) one signed transaction."""
        line = json.dumps({"from": sender, "nonce": sent.nonce, "hash": sent.tx_hash.to_0x_hex(),
                           "raw": "0x" + sent.raw.hex(), "what": sent.description})
        with self._lock, open(self.path, "a") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def entries(self, sender: str) -> dict[int, SentTransaction]:
        """The latest journaled transaction per nonce of ``sender``."""
        out: dict[int, SentTransaction] = {}
        if not os.path.exists(self.path):
            return out
        with self._lock, open(self.path) as fh:
            for line in fh:
                try:
                    e = json.loads(line)
                except ValueError:  # a torn last line after a crash
                    continue
                if e["from"] == sender:
                    out[int(e["nonce"])] = SentTransaction(
                        tx_hash=HexBytes(e["hash"]), raw=bytes(HexBytes(e["raw"])),
                        nonce=int(e["nonce"]), description=e["what"])
        return out
