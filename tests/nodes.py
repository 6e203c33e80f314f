"""Real node processes for multi-party tests: ``careledger node serve`` per institution, each
over its own directory, on a free loopback port (``careledger.node.process``); stopped
(SIGTERM, then SIGKILL) by the test."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from careledger.node.process import NodeProcess, start_node_process
from careledger.node.state import NodeState
from conftest import World

PW = "node-test-password"
#: scrypt cost of the key files tests write: the minimum ``EncryptionKeyPair.save`` accepts. The
#: node still opens them through the same scrypt + AES-GCM path; the default cost (2^17, ~0.4 s
#: to write and again to open) is covered by tests/test_keys.py.
TEST_SCRYPT_N = 2**14


@dataclass
class RunningNode:
    """Institution ``name``'s node over ``workdir`` (its workspace is ``workdir/ws``)."""

    name: str
    workdir: Path
    proc: NodeProcess

    @property
    def url(self) -> str:
        return self.proc.url

    @property
    def process(self) -> Any:
        return self.proc.process

    @property
    def log_path(self) -> Path:
        return self.proc.log_path

    def stop(self) -> None:
        self.proc.stop()

    def releases(self) -> list[tuple[str, str, str, int]]:
        return releases(self.workdir)


def releases(workdir: Path) -> list[tuple[str, str, str, int]]:
    """The releases table of the node over ``workdir`` (read with its own connection)."""
    state = NodeState(workdir / "ws" / "node.db")
    try:
        return state.releases()
    finally:
        state.close()


def start_node(world: World, name: str, workdir: Path, *,
               extra_args: tuple[str, ...] = ()) -> RunningNode:
    """``careledger node serve`` for institution ``name`` over ``workdir``, on a free port."""
    workdir.mkdir(parents=True, exist_ok=True)
    key_file = workdir / "enc.key"
    if not key_file.exists():
        world.enc[name].save(key_file, PW, scrypt_n=TEST_SCRYPT_N)  # type: ignore[attr-defined]
    world.ledger.deployment.save(workdir / "deployments")
    proc = start_node_process(rpc_url=world.node.rpc_url, chain_id=world.node.chain_id,
                              deployments=workdir / "deployments", workspace=workdir / "ws",
                              enc_key=key_file, enc_password=PW, private_key=world.keys[name],
                              extra_args=extra_args)
    return RunningNode(name, workdir, proc)


@dataclass
class Parties:
    """Hospital A (publishing into the directory its node serves), hospital B and the patient,
    each in a directory of its own; ``node`` is hospital A's running node."""

    world: World
    node: RunningNode
    a: Any
    b: Any
    alice: Any

    @property
    def ws(self) -> Any:
        """Hospital A's workspace (the issuer's own directory)."""
        return self.a.ws


@contextmanager
def parties(world: World, root: Path, *, node_args: tuple[str, ...] = ()) -> Iterator[Parties]:
    """Start hospital A's node over its own directory, publish its URL on chain, and give
    hospital B and Alice directories of their own; stop the node at the end."""
    from careledger.actors import Institution, Patient, Provider
    from careledger.store import Workspace

    node = start_node(world, "hospital_a", root / "hospital-a", extra_args=node_args)
    try:
        a = Provider(world.ledger, world.sender("hospital_a"), Workspace.local(node.workdir / "ws"),
                     world.enc["hospital_a"])  # type: ignore[arg-type]
        world.ledger.institutions.set_endpoint(node.url).transact(world.sender("hospital_a"))
        b = Institution(world.ledger, world.sender("hospital_b"),
                        Workspace.local(root / "hospital-b"), world.enc["hospital_b"])  # type: ignore[arg-type]
        alice = Patient(world.ledger, world.sender("alice"), Workspace.local(root / "alice"),
                        world.enc["alice"])  # type: ignore[arg-type]
        alice.register_key()
        yield Parties(world, node, a, b, alice)
    finally:
        node.stop()
