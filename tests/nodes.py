"""Real node processes for multi-party tests: ``careledger node serve`` per institution, each
over its own directory, on a free loopback port; stopped (SIGTERM, then SIGKILL) by the test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from careledger.chain import free_port
from careledger.node.state import NodeState
from conftest import World

PW = "node-test-password"


@dataclass
class RunningNode:
    name: str
    url: str
    workdir: Path
    process: subprocess.Popen[str]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def releases(self) -> list[tuple[str, str, str, int]]:
        state = NodeState(self.workdir / "ws" / "node.db")
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
        world.enc[name].save(key_file, PW)  # type: ignore[attr-defined]
    world.ledger.deployment.save(workdir / "deployments")
    port = free_port()
    env = dict(os.environ, CARELEDGER_RPC_URL=world.node.rpc_url,
               CARELEDGER_CHAIN_ID=str(world.node.chain_id),
               CARELEDGER_PRIVATE_KEY=world.keys[name], CARELEDGER_ENC_PASSWORD=PW)
    cmd = [sys.executable, "-c", "from careledger.cli import main; main()",
           "--deployments", str(workdir / "deployments"), "--workspace", str(workdir / "ws"),
           "--enc-key", str(key_file), "node", "serve", "--port", str(port), *extra_args]
    log = (workdir / "node.log").open("a")  # read by nobody but a failing test: never a pipe
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    log.close()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"node {name} exited: {(workdir / 'node.log').read_text()[-2000:]}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return RunningNode(name, url, workdir, proc)
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"node {name} did not start in 30 s")


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
def parties(world: World, root: Path) -> Iterator[Parties]:
    """Start hospital A's node over its own directory, publish its URL on chain, and give
    hospital B and Alice directories of their own; stop the node at the end."""
    from careledger.actors import Institution, Patient, Provider
    from careledger.store import Workspace

    node = start_node(world, "hospital_a", root / "hospital-a")
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
