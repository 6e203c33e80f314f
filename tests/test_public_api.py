"""The public API: what `import careledger` exports, and that importing it touches nothing."""

from __future__ import annotations

import subprocess
import sys

import careledger


def test_every_exported_name_exists_and_is_documented() -> None:
    assert len(careledger.__all__) == len(set(careledger.__all__))
    for name in careledger.__all__:
        obj = getattr(careledger, name)
        if name in {"__version__", "SCOPE_ALL"}:
            continue
        assert (obj.__doc__ or "").strip(), f"careledger.{name} has no docstring"


def test_import_opens_no_socket_reads_no_key_and_starts_no_process() -> None:
    probe = (
        "import socket, subprocess, builtins\n"
        "def refuse(*a, **k): raise SystemExit('touched: ' + repr(a[:1]))\n"
        "socket.socket.connect = refuse\n"
        "subprocess.Popen.__init__ = refuse\n"
        "real_open = builtins.open\n"
        "def guarded(f, *a, **k):\n"
        "    if any(s in str(f) for s in ('.key', 'keystore', 'deployments')): refuse(f)\n"
        "    return real_open(f, *a, **k)\n"
        "builtins.open = guarded\n"
        "import careledger, careledger.cli\n"
        "print(len(careledger.__all__))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                         check=False)
    assert out.returncode == 0, out.stderr + out.stdout
    assert int(out.stdout.strip()) == len(careledger.__all__)


def test_py_typed_marker_ships() -> None:
    from importlib.resources import files

    assert files("careledger").joinpath("py.typed").is_file()
    assert files("careledger").joinpath("abi/ConsentRegistry.json").is_file()
