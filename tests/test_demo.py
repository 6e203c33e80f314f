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
    assert any((tmp_path / "demo" / "offchain" / "blobs").rglob("*"))
    assert result.anvil_pid is not None and not pid_alive(result.anvil_pid)


def test_demo_command_exits_zero(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["demo", "--workdir", str(tmp_path / "d"), "--batch-size", "8"])
    assert r.exit_code == 0, r.output
    assert "Demo complete" in r.output
