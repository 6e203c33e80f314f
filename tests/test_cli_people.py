"""The CLI as a new user meets it: start-up that loads no Ethereum library for help, help that
names what it accepts, and the README's tour, run as printed in an empty folder."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

from careledger.cli.common import CATEGORIES_HELP, PURPOSES_HELP
from careledger.codes import Category, Purpose

ROOT = Path(__file__).resolve().parents[1]


def test_help_and_version_load_neither_web3_nor_eth_account() -> None:
    for args in (["--help"], ["--version"], ["patient", "grant", "--help"], ["record", "--help"]):
        code = ("import sys\nfrom careledger.cli import main\n"
                f"try:\n    main({args!r})\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
                "print('LOADED', sorted(m for m in ('web3', 'eth_account', 'eth_abi') if m in sys.modules))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout
        assert "LOADED []" in out, (args, out[-300:])


def test_help_names_every_purpose_category_and_environment_variable() -> None:
    assert all(p.name in PURPOSES_HELP for p in Purpose)
    assert all(c.name in CATEGORIES_HELP for c in Category)
    out = subprocess.run([sys.executable, "-c", "from careledger.cli import main; main()", "--help"],
                         capture_output=True, text=True, check=True).stdout
    used = set(re.findall(r"CARELEDGER_[A-Z_]+", "\n".join(
        p.read_text() for p in (ROOT / "src" / "careledger").rglob("*.py"))))
    assert used - set(re.findall(r"CARELEDGER_[A-Z_]+", out)) == set()


def _tour() -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## CLI tour"):]
    return section[section.index("```sh\n") + 6: section.index("```\n", section.index("```sh"))]


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_the_readme_tour_runs_as_printed(tmp_path: Path) -> None:
    script = tmp_path / "tour.sh"
    # the block as printed; the harness only makes sure nothing outlives a failed run
    script.write_text("trap 'kill $(jobs -p) 2>/dev/null; wait' EXIT\nset -e\n" + _tour())
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARELEDGER_")}
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"
    if os.environ.get("CARELEDGER_ANVIL"):
        env["CARELEDGER_ANVIL"] = os.environ["CARELEDGER_ANVIL"]
    env["HOME"] = str(tmp_path)  # no user configuration leaks in
    work = tmp_path / "work"
    work.mkdir()
    run = subprocess.run(["bash", str(script)], check=False, cwd=work, env=env, capture_output=True, text=True,
                         timeout=600)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert (work / "hba1c-at-b.json").read_text() == (work / "hba1c.json").read_text()
    assert (work / "hba1c-at-b.json").stat().st_mode & 0o777 == 0o600
    assert "refused, as it should be" in out and "AccessNotAuthorized" in out
    assert "hash chain verified: 4 entries" in out
    csv = (work / "alice-disclosures.csv").read_text().splitlines()
    assert len([row for row in csv if ",access," in row]) == 2
    for line in ("proposal #0 (admit) created by hospital-a", "approved and executed by hospital-b",
                 "request #1 approved", "closed by alice"):
        assert line in out, line
    for _ in range(100):  # the killed devnet removes its env file; the node frees its port
        if not (work / "devnet.env").exists() and _port_free(8601):
            break
        time.sleep(0.1)
    assert not (work / "devnet.env").exists() and _port_free(8601)
