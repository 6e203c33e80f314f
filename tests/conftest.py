"""Shared fixtures: a real anvil devnet per test session (per xdist worker)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from careledger.chain import Devnet

SLOW = os.environ.get("CARELEDGER_SLOW") == "1"

# -- the order in which `-n 2 --dist loadfile` hands out files ---------------------------------
#
# xdist gives each worker whole files, by default the files with the most tests first, so the
# files of one or three long tests (the README tour, the node faults and load, the consent
# model) came last and one worker ran them while the other had finished. The files go out
# longest first instead (seconds of one file on the 2-core machine, measured with
# --durations=0; a file not listed counts as ``_DEFAULT_COST``), so the workers end together.
# Only the order changes: every test still runs, each file's tests in their written order.
FILE_COST = {
    "test_cli_people.py": 60, "test_page.py": 90, "test_faults.py": 40, "test_fhir_import.py": 45,
    "test_research.py": 25, "test_deid.py": 20,
    "test_cli.py": 30, "test_consent_model.py": 25, "test_demo.py": 25, "test_node_load.py": 28,
    "test_node_faults.py": 26, "test_records.py": 17, "test_adversarial.py": 16,
    "test_large_records.py": 15, "test_node.py": 14, "test_node_api_fuzz.py": 6,
}
_DEFAULT_COST = 3


def pytest_configure(config: pytest.Config) -> None:
    if getattr(config.option, "dist", "no") in ("loadfile", "loadscope"):
        config.option.loadscopereorder = False  # keep the order below (xdist's controller)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not hasattr(config, "workerinput"):
        return  # not an xdist worker: the written order
    items.sort(key=lambda item: -FILE_COST.get(item.path.name, _DEFAULT_COST))  # (stable)


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
