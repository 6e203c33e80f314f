"""Shared fixtures: a real anvil devnet per test session (per xdist worker)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from careledger.devnet import Devnet

SLOW = os.environ.get("CARELEDGER_SLOW") == "1"


@pytest.fixture(scope="session")
def devnet() -> Iterator[Devnet]:
    """A native anvil on a free port, stopped (and checked gone) at the end of the session."""
    with Devnet(accounts=20) as node:
        yield node
