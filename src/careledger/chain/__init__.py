"""The chain: connection, transaction sending with a nonce manager and journal, local devnet."""

from careledger.chain.client import Chain, RetryPolicy
from careledger.chain.devnet import DevAccount, Devnet, find_anvil, free_port, pid_alive
from careledger.chain.journal import SentTransaction, TxJournal
from careledger.chain.sender import NonceManager, Sender, wait_all

__all__ = [
    "Chain",
    "DevAccount",
    "Devnet",
    "NonceManager",
    "RetryPolicy",
    "Sender",
    "SentTransaction",
    "TxJournal",
    "find_anvil",
    "free_port",
    "pid_alive",
    "wait_all",
]
