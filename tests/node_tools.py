"""What the node fuzz, load and fault tests add to ``nodes.start_node``: read a node's output
while it runs (``start_node`` pipes it, and a full pipe would block the node's access log after
a few hundred requests), kill it with SIGKILL, and check that no process of a test outlives it."""

from __future__ import annotations

import os
import signal
import threading
from dataclasses import dataclass, field
from pathlib import Path

from careledger.node.state import NodeState
from nodes import RunningNode


@dataclass
class NodeLog:
    """The output lines of one node process, read by a daemon thread until it exits."""

    node: RunningNode
    lines: list[str] = field(default_factory=list)
    thread: threading.Thread | None = None

    def start(self) -> NodeLog:
        out = self.node.process.stdout
        assert out is not None

        def read() -> None:
            for line in out:
                self.lines.append(line.rstrip("\n"))

        self.thread = threading.Thread(target=read, name=f"log-{self.node.name}", daemon=True)
        self.thread.start()
        return self

    def join(self, timeout: float = 10.0) -> None:
        if self.thread is not None:
            self.thread.join(timeout)

    def unexpected(self) -> list[str]:
        """Lines that tell of a failure the node did not map to a refusal (a 500, a traceback)."""
        return [line for line in self.lines
                if "unexpected" in line or "Traceback" in line or '" 500' in line]


def follow(node: RunningNode) -> NodeLog:
    """Start reading ``node``'s output."""
    return NodeLog(node).start()


def kill9(node: RunningNode) -> None:
    """SIGKILL the node process (no shutdown handler runs) and reap it."""
    if node.process.poll() is None:
        os.kill(node.process.pid, signal.SIGKILL)
    node.process.wait(timeout=10)
    assert node.process.returncode == -signal.SIGKILL or node.process.returncode is not None


def releases(workdir: Path) -> list[tuple[str, str, str, int]]:
    """The releases table of the node over ``workdir`` (read with its own connection)."""
    state = NodeState(workdir / "ws" / "node.db")
    try:
        return state.releases()
    finally:
        state.close()


def vm_rss_kib(pid: int) -> int:
    """``VmRSS`` of a process in KiB (``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LookupError(f"no VmRSS for pid {pid}")


def gone(*nodes: RunningNode) -> bool:
    """True once every node process has exited (and been reaped)."""
    return all(n.process.poll() is not None for n in nodes)
