"""Compiled contract artifacts (ABI and bytecode) shipped inside the package.

Integrators need neither ape nor Node: ``load_artifact("ConsentRegistry")`` reads the copy
packaged under ``careledger/abi/``. ``make abi`` regenerates them from ape's build, and a test
fails when they are stale against ``contracts/``.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypedDict

from careledger.errors import ArtifactNotFound

#: Contracts a deployment consists of, in deployment order.
DEPLOYABLE: tuple[str, ...] = ("InstitutionRegistry", "RecordRegistry", "ConsentRegistry",
                               "ResearchRegistry")


class Artifact(TypedDict):
    """ABI and creation bytecode of one contract."""

    contractName: str
    abi: list[dict[str, Any]]
    bytecode: str



@cache
def load_artifact(name: str) -> Artifact:
    """Return the packaged artifact of contract ``name``.

    Raises:
        ArtifactNotFound: the package holds no artifact of that name.
    """
    try:
        text = resources.files("careledger").joinpath("abi", f"{name}.json").read_text()
    except FileNotFoundError as exc:
        raise ArtifactNotFound(
            f"no packaged artifact for {name!r}; known: {', '.join(DEPLOYABLE)}. "
            "In a source checkout, run `make abi` to regenerate them."
        ) from exc
    data: Artifact = json.loads(text)
    return data


def artifact_from_build(build_dir: Path, name: str) -> Artifact:
    """Read contract ``name`` from ape's build manifest (``.build/__local__.json``).

    Raises:
        ArtifactNotFound: the project was not compiled, or has no such contract.
    """
    manifest = build_dir / "__local__.json"
    if not manifest.exists():
        raise ArtifactNotFound(f"{manifest} does not exist: run `make compile` first")
    types = json.loads(manifest.read_text())["contractTypes"]
    if name not in types:
        raise ArtifactNotFound(f"{name} is not in {manifest}: run `make compile`")
    ct = types[name]
    return {
        "contractName": name,
        "abi": ct["abi"],
        "bytecode": ct["deploymentBytecode"]["bytecode"],
    }
