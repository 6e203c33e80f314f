"""Copy the ABI and bytecode of every deployable contract from ape's build into the package.

Run through `make abi`. The test `tests/test_packaged_abis.py` fails when the packaged copies
are stale against `contracts/`, so integrators never receive ABIs that differ from the sources.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from careledger.contracts.artifacts import DEPLOYABLE, artifact_from_build

OUT = ROOT / "src" / "careledger" / "abi"


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name in DEPLOYABLE:
        artifact = artifact_from_build(ROOT / ".build", name)
        path = OUT / f"{name}.json"
        path.write_text(json.dumps(artifact, indent=1, sort_keys=True) + "\n")
        print(f"wrote {path.relative_to(ROOT)} ({len(artifact['bytecode']) // 2 - 1} bytes of code)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
