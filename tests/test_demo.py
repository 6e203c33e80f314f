"""The main job: the demo runs in the suite and its key outcomes hold."""

from __future__ import annotations

import io
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

from careledger.chain import pid_alive
from careledger.cli import main
from careledger.demo import run_demo


def test_demo_scenario_outcomes(tmp_path: Path) -> None:
    buf = io.StringIO()
    result = run_demo(tmp_path / "demo", console=Console(file=buf, width=160), batch_size=100)
    text = buf.getvalue()
    assert result.records_published == 105
    assert result.b_read_ok and result.researcher_read_ok and result.emergency_read_ok
    assert result.guardian_grant_ok
    assert result.denied_after_revocation and "AccessNotAuthorized" in result.denied_after_revocation
    assert result.chain_verified and result.history_entries >= 4
    assert result.erased_unreadable and result.erased_anchor_verifies
    assert result.patient_gas_spent_on_consent == 0
    assert all(s["gas"] > 0 and s["tx"].startswith("0x") for s in result.steps)
    assert "hash chain verified" in text and "Summary" in text
    assert (tmp_path / "demo" / "deployments" / "31337.json").exists()
    assert any((tmp_path / "demo" / "hospital-a" / "workspace" / "blobs").rglob("*"))
    # separate parties: one directory each, none inside another's, nothing shared
    dirs = [Path(d) for d in result.directories.values()]
    assert len(set(dirs)) == len(dirs) >= 8
    assert not any(a != b and b.is_relative_to(a) for a in dirs for b in dirs)
    assert not any((Path(result.directories["Hospital B"]) / "workspace" / "index").glob("*.json"))
    # three node processes released keys (B's lab read, the research sample, break-glass), each
    # after an access entry, and none of them outlives the demo
    assert result.keys_released == 3 and len(result.node_pids) == 3
    assert result.anvil_pid is not None and not pid_alive(result.anvil_pid)
    assert not any(pid_alive(pid) for pid in result.node_pids)


def test_demo_command_exits_zero(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["demo", "--workdir", str(tmp_path / "d"), "--batch-size", "8"])
    assert r.exit_code == 0, r.output
    assert "Demo complete" in r.output
