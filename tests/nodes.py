"""Real node processes for multi-party tests: ``careledger node serve`` per institution, each
over its own directory, on a free loopback port; stopped (SIGTERM, then SIGKILL) by the test."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

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
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"node {name} exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            if httpx.get(url + "/health", timeout=1).status_code == 200:
                return RunningNode(name, url, workdir, proc)
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"node {name} did not start in 30 s")
