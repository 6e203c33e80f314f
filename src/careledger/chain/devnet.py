"""A local anvil devnet that CareLedger starts and stops by itself.

``Devnet`` runs the *native* anvil binary (never the npm node wrapper, which would leave the
real anvil running when killed) on a free port, waits until it answers JSON-RPC, and on exit
stops it and checks that the process is gone.

Example:
    >>> with Devnet() as node:                      # doctest: +SKIP
    ...     print(node.rpc_url, node.chain_id, node.accounts[0].address)
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import httpx
from eth_utils.address import to_checksum_address

from careledger.errors import AnvilNotFound, DevnetError, PortInUse

ANVIL_ENV = "CARELEDGER_ANVIL"
_NPM_NATIVE = Path("node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil")





class _StateKeeper(threading.Thread):
    """Keeps ``<state>.last-good``: the newest copy of anvil's state file that parses.

    anvil rewrites its ``--state`` file in place; a SIGKILL in the middle of a dump leaves
    truncated JSON that anvil then refuses to load (exit 2, "EOF while parsing"). A real crash
    must resume from the last complete dump instead, as a database would from its last
    checkpoint.
    """

    def __init__(self, state_file: Path, period: float = 0.2) -> None:
        super().__init__(name="careledger-devnet-state", daemon=True)
        self.state_file = state_file
        self.good = last_good_path(state_file)
        self.period = period
        self.halt = threading.Event()
        self._seen: tuple[int, int] | None = None

    def run(self) -> None:
        while not self.halt.wait(self.period):
            self.snapshot()

    def snapshot(self) -> None:
        try:
            st = self.state_file.stat()
            if (st.st_mtime_ns, st.st_size) == self._seen:
                return
            data = self.state_file.read_bytes()
            json.loads(data)
        except (OSError, ValueError):
            return  # absent, or caught mid-dump: keep the previous good copy
        tmp = self.good.with_name(self.good.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, self.good)
        self._seen = (st.st_mtime_ns, st.st_size)


def last_good_path(state_file: Path) -> Path:
    """Where ``Devnet`` keeps the newest complete copy of ``state_file``."""
    return state_file.with_name(state_file.name + ".last-good")


def _usable_state(state_file: Path) -> None:
    """Before anvil loads ``state_file``: replace a truncated dump by the last good copy."""
    if not state_file.exists():
        return
    try:
        json.loads(state_file.read_bytes())
        return
    except ValueError:
        pass
    good = last_good_path(state_file)
    if not good.exists():
        raise DevnetError(f"the devnet state file {state_file} is damaged (an interrupted dump) "
                          "and there is no earlier complete copy: move it away to start afresh")
    shutil.copyfile(good, state_file)


@dataclass(frozen=True)
class DevAccount:
    """A funded development account of the devnet (never use its key on a real chain)."""

    address: str
    private_key: str


def _is_native(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"\x7fELF"
    except OSError:
        return False


def death_signal_setter() -> Callable[[], None] | None:
    """A function for the child, before exec, that asks Linux to SIGKILL it when the process
    that started it dies, however that one ends (even by SIGKILL): no anvil outlives its
    command or test. ``None`` off Linux."""
    if not sys.platform.startswith("linux"):
        return None
    # NOTE: libc is loaded here, in the parent, so the child only calls a C function (no import,
    # no allocation) between fork and exec, which is what makes preexec_fn safe enough with
    # threads. PR_SET_PDEATHSIG (1) fires when the *thread* that forked exits; Devnet is started
    # from the main thread of the CLI and of the tests.
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def set_death_signal() -> None:
        prctl(1, signal.SIGKILL, 0, 0, 0)

    return set_death_signal


def find_anvil() -> Path:
    """Locate the native anvil binary.

    Order: ``$CARELEDGER_ANVIL``; the npm package ``@foundry-rs/anvil-linux-amd64`` under this
    directory or a parent (the project's ``node_modules``); ``anvil`` on ``PATH`` if it is a
    native executable.

    Raises:
        AnvilNotFound: none found; the message says how to install it.
    """
    env = os.environ.get(ANVIL_ENV)
    if env:
        path = Path(env)
        if path.is_file() and os.access(path, os.X_OK) and _is_native(path):
            return path
        raise AnvilNotFound(
            f"${ANVIL_ENV} points to {env}, which is not a native anvil executable; "
            "unset it or point it at node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
        )
    here = Path.cwd().resolve()
    roots = [here, *here.parents, Path(__file__).resolve().parents[3]]  # the checkout
    for root in roots:
        candidate = root / _NPM_NATIVE
        if candidate.is_file() and _is_native(candidate):
            return candidate
    which = shutil.which("anvil")
    if which and _is_native(Path(which)):
        return Path(which)
    raise AnvilNotFound(
        "anvil (Foundry) was not found: run `make install` in the CareLedger checkout "
        "(npm installs @foundry-rs/anvil), or set $CARELEDGER_ANVIL to a native anvil binary"
    )


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_taken(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
        return False


def pid_alive(pid: int) -> bool:
    """True while a process with ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return True


class Devnet:
    """A native anvil process on a free local port.

    Args:
        port: TCP port; ``None`` picks a free one.
        chain_id: chain id the node reports.
        state_file: if set, anvil loads state from it at start and saves it every
            ``state_interval`` seconds and at exit (``--state``), so a restarted node resumes.
        block_time: seconds between blocks; ``None`` mines on every transaction.
        accounts: number of funded dev accounts.
        extra_args: more anvil flags (e.g. ``["--no-mining"]``).
        startup_timeout: seconds to wait for JSON-RPC to answer.
    """

    def __init__(
        self,
        *,
        port: int | None = None,
        host: str = "127.0.0.1",
        chain_id: int = 31337,
        state_file: str | os.PathLike[str] | None = None,
        state_interval: int = 1,
        block_time: float | None = None,
        accounts: int = 10,
        extra_args: list[str] | None = None,
        startup_timeout: float = 20.0,
        anvil: str | os.PathLike[str] | None = None,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.port: int | None = None
        self.chain_id = chain_id
        self.state_file = Path(state_file) if state_file is not None else None
        self.state_interval = state_interval
        self.block_time = block_time
        self.n_accounts = accounts
        self.extra_args = list(extra_args or [])
        self.startup_timeout = startup_timeout
        self.anvil_path = Path(anvil) if anvil is not None else None
        self.process: subprocess.Popen[bytes] | None = None
        self.accounts: list[DevAccount] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._log_path: Path | None = None
        self._last_port: int | None = None
        self._keeper: _StateKeeper | None = None

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def rpc_url(self) -> str:
        """HTTP JSON-RPC endpoint of the running node."""
        if self.port is None:
            raise DevnetError("the devnet is not running: call start() first")
        return f"http://{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id of the running anvil, or ``None``."""
        return self.process.pid if self.process is not None else None

    def start(self) -> Devnet:
        """Start anvil and wait until it answers; return ``self``.

        Raises:
            AnvilNotFound: no native anvil binary.
            PortInUse: the requested port is taken.
            DevnetError: anvil exited or did not answer within ``startup_timeout``.
        """
        if self.process is not None:
            raise DevnetError(f"this devnet is already running at {self.rpc_url}")
        binary = self.anvil_path or find_anvil()
        if self.requested_port is not None and port_taken(self.host, self.requested_port):
            raise PortInUse(
                f"port {self.requested_port} on {self.host} is already in use; "
                "choose another port or omit it to pick a free one"
            )
        attempts = 1 if self.requested_port is not None else 3
        last_error: DevnetError | None = None
        for _ in range(attempts):
            try:
                self._spawn(binary, self.requested_port or free_port(self.host))
                return self
            except PortInUse as exc:  # lost a race for a free port: pick another
                last_error = exc
        assert last_error is not None
        raise last_error

    def _spawn(self, binary: Path, port: int) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="careledger-anvil-")
        tmp = Path(self._tmp.name)
        config_out = tmp / "config.json"
        self._log_path = tmp / "anvil.log"
        args = [
            str(binary),
            "--host", self.host,
            "--port", str(port),
            "--chain-id", str(self.chain_id),
            "--accounts", str(self.n_accounts),
            "--config-out", str(config_out),
            # the historical states anvil spills to disk go in this devnet's own folder, removed
            # when it stops (by default they pile up in ~/.foundry/anvil/tmp, tens of GB when
            # anvil is killed rather than stopped)
            "--cache-path", str(tmp / "states"),
        ]
        if self.block_time is not None:
            args += ["--block-time", str(self.block_time)]
        if self.state_file is not None:
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            _usable_state(self.state_file)
            self._keeper = _StateKeeper(self.state_file)
            self._keeper.start()
            args += ["--state", str(self.state_file), "--state-interval", str(self.state_interval)]
        args += self.extra_args
        log = self._log_path.open("wb")
        self.process = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, preexec_fn=death_signal_setter(),  # noqa: PLW1509
        )
        log.close()
        self.port = port
        self._last_port = port
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                tail = self._log_tail()
                self._cleanup()  # drops self.process
                if "Address already in use" in tail or "address in use" in tail.lower():
                    raise PortInUse(f"port {port} was taken before anvil could bind it")
                if not tail:
                    raise DevnetError(f"{binary} exited with code {code} without starting a "
                                      f"devnet: is it anvil? (set ${ANVIL_ENV} to a native anvil)")
                raise DevnetError(f"anvil exited with code {code}: {tail}")
            if config_out.exists() and self._answers():
                self._read_accounts(config_out)
                return
            time.sleep(0.02)
        self.stop()
        raise DevnetError(
            f"anvil did not answer JSON-RPC on {self.host}:{port} within "
            f"{self.startup_timeout:.0f}s; log: {self._log_tail()}"
        )

    def _answers(self) -> bool:
        try:
            reply = httpx.post(
                self.rpc_url,
                json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []},
                timeout=1.0,
            )
            return int(reply.json()["result"], 16) == self.chain_id
        except (httpx.HTTPError, ValueError, KeyError):
            return False

    def _read_accounts(self, config_out: Path) -> None:
        for _ in range(50):  # anvil may still be writing the file
            try:
                data: dict[str, Any] = json.loads(config_out.read_text())
                break
            except (ValueError, OSError):
                time.sleep(0.02)
        else:
            raise DevnetError(f"anvil wrote an unreadable {config_out}")
        self.accounts = [
            DevAccount(address=to_checksum_address(a), private_key=k)
            for a, k in zip(data["available_accounts"], data["private_keys"], strict=True)
        ]

    def _log_tail(self, n: int = 2000) -> str:
        if self._log_path is None or not self._log_path.exists():
            return ""
        return self._log_path.read_text(errors="replace")[-n:].strip()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop anvil (SIGTERM, then SIGKILL) and verify the process is gone.

        With a state file, SIGTERM lets anvil write its final state first.

        Raises:
            DevnetError: the process survived SIGKILL.
        """
        proc = self.process
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=timeout)
        pid = proc.pid
        self._cleanup()
        if pid_alive(pid):
            raise DevnetError(f"anvil (pid {pid}) is still running after stop()")

    def kill(self) -> None:
        """SIGKILL the node without letting it save state (a crash, for fault tests)."""
        proc = self.process
        if proc is None:
            return
        proc.kill()
        proc.wait(timeout=10)
        self._cleanup()

    def _cleanup(self) -> None:
        if self._keeper is not None:
            self._keeper.halt.set()
            self._keeper.join()
            self._keeper.snapshot()  # the final dump, if complete, becomes the good copy
            self._keeper = None
        self.process = None
        self.port = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def restart(self) -> Devnet:
        """Start again on the port of the previous run (state survives only with a state file).

        Clients holding the old ``rpc_url`` keep working after a restart.
        """
        if self.process is not None:
            raise DevnetError("the devnet is running: stop() or kill() it before restart()")
        if self.requested_port is None and self._last_port is not None:
            self.requested_port = self._last_port
        return self.start()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"{self.rpc_url} pid={self.pid}" if self.process else "stopped"
        return f"Devnet(chain_id={self.chain_id}, {state})"
