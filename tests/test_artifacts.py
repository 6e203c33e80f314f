"""The contracts compile offline, and the ABIs shipped in the package match the sources."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from careledger.contracts.artifacts import DEPLOYABLE, artifact_from_build, load_artifact

ROOT = Path(__file__).resolve().parent.parent
BUILD = ROOT / ".build"
SHIM = ROOT / "tools" / "solc.js"


def _contract_names() -> set[str]:
    names = set()
    for path in (ROOT / "contracts").rglob("*.sol"):
        if ".cache" in path.parts:
            continue
        text = path.read_text()
        names |= set(re.findall(r"^\s*(?:abstract\s+)?contract\s+(\w+)", text, re.MULTILINE))
    return names


def test_solc_shim_reports_the_version_py_solc_x_expects() -> None:
    out = subprocess.run([str(SHIM), "--version"], capture_output=True, text=True, check=True).stdout
    assert re.search(r"\d+\.\d+\.\d+(\+commit\.\w+)", out)
    assert "0.8.30+commit.73712a01" in out


def test_solc_shim_compiles_standard_json_with_openzeppelin_imports() -> None:
    source = (
        'pragma solidity 0.8.30; import {Nonces} from "@openzeppelin/contracts/utils/Nonces.sol";'
        " contract T is Nonces { function use() external returns (uint256) { return _useNonce(msg.sender); } }"
    )
    req = {
        "language": "Solidity",
        "sources": {"T.sol": {"content": source}},
        "settings": {"outputSelection": {"*": {"*": ["abi"]}}},
    }
    out = subprocess.run(
        [str(SHIM), "--standard-json", "--base-path", str(ROOT), "--include-path", str(ROOT / "node_modules")],
        input=json.dumps(req), capture_output=True, text=True, check=True,
    ).stdout
    result = json.loads(out)
    assert not [e for e in result.get("errors", []) if e["severity"] == "error"], result["errors"]
    assert any(f["name"] == "use" for f in result["contracts"]["T.sol"]["T"]["abi"])


def test_every_contract_in_the_sources_is_compiled() -> None:
    manifest = json.loads((BUILD / "__local__.json").read_text())
    missing = _contract_names() - set(manifest["contractTypes"])
    assert not missing, f"not compiled: {missing}; run `make compile`"
    for name in DEPLOYABLE:
        code = manifest["contractTypes"][name]["deploymentBytecode"]["bytecode"]
        # real creation code: long, and carrying solc's CBOR metadata ("solc" = 64736f6c6343)
        assert len(code) > 2_000 and "64736f6c6343" in code, f"{name}: no creation code"


@pytest.mark.parametrize("name", DEPLOYABLE)
def test_packaged_abi_and_bytecode_match_a_fresh_compile(name: str) -> None:
    packaged = load_artifact(name)
    built = artifact_from_build(BUILD, name)
    assert packaged["abi"] == built["abi"], f"{name} ABI is stale: run `make abi` and commit"
    assert packaged["bytecode"] == built["bytecode"], f"{name} bytecode is stale: run `make abi`"
