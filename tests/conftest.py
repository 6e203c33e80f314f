"""Shared fixtures: a real anvil devnet per test session (per xdist worker)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from careledger.chain import Devnet

SLOW = os.environ.get("CARELEDGER_SLOW") == "1"


@pytest.fixture(scope="session")
def devnet() -> Iterator[Devnet]:
    """A native anvil on a free port, stopped (and checked gone) at the end of the session."""
    with Devnet(accounts=20) as node:
        yield node


# -- a deployed CareLedger with named actors -------------------------------------------------

from dataclasses import dataclass
from pathlib import Path

from careledger.chain import Chain, NonceManager, Sender
from careledger.codes import Role
from careledger.contracts import CareLedger, GenesisMember, deploy

ACTORS = ["deployer", "hospital_a", "hospital_b", "emergency", "researcher", "relayer",
          "alice", "bob", "guardian", "stranger", "suspended", "attacker"]


@dataclass
class World:
    """A fresh deployment with named dev accounts and encryption keys."""

    node: Devnet
    chain: Chain
    ledger: CareLedger
    nonces: NonceManager
    keys: dict[str, str]
    enc: dict[str, object]
    workdir: Path

    def addr(self, name: str) -> str:
        from eth_account import Account

        return str(Account.from_key(self.keys[name]).address)

    def sender(self, name: str) -> Sender:
        return Sender.from_key(self.chain, self.keys[name], nonces=self.nonces)

    def now(self) -> int:
        return int(self.chain.w3.eth.get_block("latest")["timestamp"])


@pytest.fixture
def world(devnet: Devnet, tmp_path: Path) -> World:
    """Consortium A, B (PROVIDER), emergency (PROVIDER|EMERGENCY), researcher, suspended;
    threshold 1 so tests can change membership in one transaction."""
    return build_world(devnet, tmp_path)


def build_world(devnet: Devnet, tmp_path: Path, chain: Chain | None = None) -> World:
    """Deploy a fresh CareLedger on ``devnet`` with the named actors."""
    from careledger.crypto import EncryptionKeyPair

    chain = chain or Chain(devnet.rpc_url, chain_id=devnet.chain_id)
    nonces = NonceManager(chain)
    keys = {name: devnet.accounts[i].private_key for i, name in enumerate(ACTORS)}
    enc = {name: EncryptionKeyPair.generate() for name in ACTORS}
    w = World(devnet, chain, None, nonces, keys, enc, tmp_path)  # type: ignore[arg-type]
    roles = {"hospital_a": Role.PROVIDER, "hospital_b": Role.PROVIDER,
             "emergency": Role.PROVIDER | Role.EMERGENCY, "researcher": Role.RESEARCHER,
             "suspended": Role.PROVIDER}
    genesis = [GenesisMember(w.addr(n), r, enc[n].public_bytes) for n, r in roles.items()]  # type: ignore[attr-defined]
    dep = deploy(w.sender("deployer"), genesis, threshold=1)
    w.ledger = CareLedger(chain, dep)
    w.ledger.institutions.propose_suspend(w.addr("suspended")).transact(w.sender("hospital_a"))
    return w
