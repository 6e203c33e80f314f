"""Fixtures of the ape contract suite: role-named actors and one CareLedger deployment per module.

Deployment order (v2): InstitutionRegistry, then RecordRegistry(institutions), then
ConsentRegistry(institutions, records).

ape snapshots the chain after the module-scoped fixtures and reverts after every test, so each
test starts from the same deployment (and the same clock) without redeploying.

The deployment (`ledger`): consortium of `hospital`, `clinic` (PROVIDER), `researcher`
(RESEARCHER), `emergency` (EMERGENCY), `suspended` and `removed` (all three roles, then
suspended / removed by a vote), threshold 1. `patient`, `guardian`, `stranger` and the generated
`other_patient`, `newcomer`, `wallet_owner` are not members.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from contract_kit import (
    REMOVE,
    ROLE_EMERGENCY,
    ROLE_PROVIDER,
    ROLE_RESEARCHER,
    SUSPEND,
    ZERO32,
    h,
)

ALL_ROLES = ROLE_PROVIDER | ROLE_RESEARCHER | ROLE_EMERGENCY
PROPOSAL_LIFETIME = 7 * 24 * 3600

# name -> roles of the genesis members of `ledger`
GENESIS = {
    "hospital": ROLE_PROVIDER,
    "clinic": ROLE_PROVIDER,
    "researcher": ROLE_RESEARCHER,
    "emergency": ROLE_EMERGENCY,
    "suspended": ALL_ROLES,
    "removed": ALL_ROLES,
}
NAMED = [
    "deployer",
    "hospital",
    "clinic",
    "researcher",
    "emergency",
    "suspended",
    "removed",
    "patient",
    "guardian",
    "stranger",
]
GENERATED = ["other_patient", "newcomer", "wallet_owner"]


@dataclass
class Actors:
    """Role-named test accounts; ``by(name)`` for parametrised role matrices."""

    deployer: Any
    hospital: Any
    clinic: Any
    researcher: Any
    emergency: Any
    suspended: Any
    removed: Any
    patient: Any
    guardian: Any
    stranger: Any
    other_patient: Any
    newcomer: Any
    wallet_owner: Any

    def by(self, name: str) -> Any:
        return getattr(self, name)


@dataclass
class Ledger:
    registry: Any
    consent: Any
    records: Any


@pytest.fixture(scope="session")
def actors(accounts: Any) -> Actors:
    named = {n: accounts[i] for i, n in enumerate(NAMED)}
    generated = {n: accounts.generate_test_account() for n in GENERATED}
    return Actors(**named, **generated)


def fund(chain: Any, actors: Actors) -> None:
    """Generated accounts start empty on anvil; give them ether (inside the module snapshot)."""
    for name in GENERATED:
        chain.set_balance(actors.by(name).address, 10**21)


def deploy_registry(
    project: Any,
    actors: Actors,
    members: dict[str, int],
    threshold: int,
    lifetime: int = PROPOSAL_LIFETIME,
) -> Any:
    names = list(members)
    return project.InstitutionRegistry.deploy(
        [actors.by(n) for n in names],
        [members[n] for n in names],
        [h(f"x25519:{n}") for n in names],
        [h(f"metadata:{n}") for n in names],
        threshold,
        lifetime,
        sender=actors.deployer,
    )


def deploy_ledger(project: Any, actors: Actors, members: dict[str, int], threshold: int) -> Ledger:
    """A whole deployment in the v2 order: institutions, records(institutions),
    consent(institutions, records)."""
    registry = deploy_registry(project, actors, members, threshold)
    records = project.RecordRegistry.deploy(registry, sender=actors.deployer)
    consent = project.ConsentRegistry.deploy(registry, records, sender=actors.deployer)
    return Ledger(registry, consent, records)


@pytest.fixture(scope="module")
def ledger(project: Any, chain: Any, actors: Actors) -> Ledger:
    fund(chain, actors)
    led = deploy_ledger(project, actors, GENESIS, threshold=1)
    registry = led.registry
    registry.propose(SUSPEND, actors.suspended, 0, ZERO32, ZERO32, 0, sender=actors.hospital)
    registry.propose(REMOVE, actors.removed, 0, ZERO32, ZERO32, 0, sender=actors.hospital)
    return led


@pytest.fixture(scope="module")
def registry(ledger: Ledger) -> Any:
    return ledger.registry


@pytest.fixture(scope="module")
def consent(ledger: Ledger) -> Any:
    return ledger.consent


@pytest.fixture(scope="module")
def records(ledger: Ledger) -> Any:
    return ledger.records
