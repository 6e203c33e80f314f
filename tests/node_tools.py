"""What the node fuzz, load and fault tests add to ``nodes.start_node``: read a node's output
(appended to its ``log_path``), kill it with SIGKILL, and check that no process of a test
outlives it."""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

from nodes import RunningNode, releases

__all__ = ["NodeLog", "follow", "gone", "kill9", "releases", "vm_rss_kib"]


@dataclass
class NodeLog:
    """The output lines one node process wrote to its log since ``follow`` was called."""

    node: RunningNode
    offset: int = 0

    def start(self) -> NodeLog:
        path = self.node.log_path
        self.offset = path.stat().st_size if path.exists() else 0
        return self

    @property
    def lines(self) -> list[str]:
        path = self.node.log_path
        if not path.exists():
            return []
        with path.open(errors="replace") as fh:
            fh.seek(self.offset)
            return fh.read().splitlines()

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


def vm_rss_kib(pid: int) -> int:
    """``VmRSS`` of a process in KiB (``/proc/<pid>/status``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LookupError(f"no VmRSS for pid {pid}")


def gone(*nodes: RunningNode) -> bool:
    """True once every node process has exited (and been reaped)."""
    return all(n.process.poll() is not None for n in nodes)
