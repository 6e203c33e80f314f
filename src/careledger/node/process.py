"""A node as a child process (``careledger node serve``), for the demo and for tools that run
several institutions on one machine: each over its own directory, on a loopback port, stopped
with SIGTERM and killed with its parent whatever happens (``PR_SET_PDEATHSIG``)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from careledger.chain.devnet import death_signal_setter, free_port
from careledger.errors import NodeUnavailable


@dataclass
class NodeProcess:
    """A running node: its URL, directory and process."""

    url: str
    workspace: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        """The node's process id."""
        return self.process.pid

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL if it does not stop within ``timeout`` seconds."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_node_process(*, rpc_url: str, chain_id: int, deployments: Path, workspace: Path,
                       enc_key: Path, enc_password: str, private_key: str,
                       host: str = "127.0.0.1", port: int | None = None,
                       extra_args: Sequence[str] = (),
                       startup_timeout: float = 30.0) -> NodeProcess:
    """Start ``careledger node serve`` and wait until it answers ``/health``.

    The wallet key and passwords travel in the child's environment, never on its command line;
    ``extra_args`` are further ``node serve`` options (``--rate``, ``--access-confirmations``...).

    Raises:
        NodeUnavailable: it exited or did not answer in time (the log tail says why).
    """
    port = port or free_port(host)
    workspace.mkdir(parents=True, exist_ok=True)
    log_path = workspace / "node.log"
    env = dict(os.environ, CARELEDGER_RPC_URL=rpc_url, CARELEDGER_CHAIN_ID=str(chain_id),
               CARELEDGER_PRIVATE_KEY=private_key, CARELEDGER_ENC_PASSWORD=enc_password)
    cmd = [sys.executable, "-c", "from careledger.cli import main; main()",
           "--deployments", str(deployments), "--workspace", str(workspace),
           "--enc-key", str(enc_key), "node", "serve", "--host", host, "--port", str(port), *extra_args]
    with log_path.open("ab") as log:
        process = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True,
                                   preexec_fn=death_signal_setter())  # noqa: PLW1509
    node = NodeProcess(f"http://{host}:{port}", workspace, process, log_path)
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise NodeUnavailable(f"the node over {workspace} exited: {_tail(log_path)}")
        try:
            if httpx.get(node.url + "/health", timeout=1.0).status_code == 200:
                return node
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    node.stop()
    raise NodeUnavailable(f"the node over {workspace} did not answer in {startup_timeout:.0f} s: "
                          f"{_tail(log_path)}")


def _tail(path: Path, n: int = 400) -> str:
    try:
        return path.read_text(errors="replace")[-n:].strip().replace("\n", " | ")
    except OSError:
        return "(no log)"
