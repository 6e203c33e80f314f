"""The README's SDK example runs as printed (placeholders filled from a fresh deployment)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from careledger.actors import Institution
from careledger.codes import Category, Purpose
from careledger.crypto import EncryptionKeyPair
from careledger.node.process import start_node_process
from careledger.store import Workspace
from conftest import World
from nodes import TEST_SCRYPT_N

README = Path(__file__).resolve().parents[1] / "README.md"


def _sdk_example() -> str:
    text = README.read_text()
    section = text.split("## SDK in 20 lines", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match, "README lost its SDK example"
    return match.group(1)


def test_readme_sdk_example_runs(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = _sdk_example()
    assert len(code.strip().splitlines()) <= 20
    monkeypatch.chdir(tmp_path)
    world.ledger.deployment.save(tmp_path / "deployments")
    for name in ("hospital", "alice"):
        EncryptionKeyPair.generate().save(tmp_path / f"{name}.key", "pw", scrypt_n=TEST_SCRYPT_N)
    code = code.replace('"http://127.0.0.1:8545"', repr(world.node.rpc_url))
    code = code.replace("chain_id=31337", f"chain_id={world.node.chain_id}")
    env = {"HOSPITAL_KEY": world.keys["hospital_a"], "ALICE_KEY": world.keys["alice"],
           "HOSPITAL_PASSWORD": "pw", "ALICE_PASSWORD": "pw",
           "OTHER_HOSPITAL": world.addr("hospital_b"), "UNIX_TIME": world.now() + 86400}
    exec(compile(code, "README.md", "exec"), env)  # noqa: S102 - the README's own example

    record = env["record"]
    # hospital A's node serves the directory the example published into; B reads from its own
    node = start_node_process(
        rpc_url=world.node.rpc_url, chain_id=world.node.chain_id,
        deployments=tmp_path / "deployments", workspace=tmp_path / "hospital-a",
        enc_key=tmp_path / "hospital.key", enc_password="pw", private_key=world.keys["hospital_a"])
    try:
        world.ledger.institutions.set_endpoint(node.url).transact(world.sender("hospital_a"))
        other = Institution(world.ledger, world.sender("hospital_b"),
                            Workspace.local(tmp_path / "hospital-b"), world.enc["hospital_b"])  # type: ignore[arg-type]
        assert other.access(record.record_id, Purpose.TREAT) == b'{"resourceType": "Observation"}'
        assert record.pointer.category == Category.LAB.name
    finally:
        node.stop()
