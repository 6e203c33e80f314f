"""Write frontend-notes/examples/*.json from the SDK (the test checks they never drift).

Usage: .venv/bin/python tools/gen_frontend_examples.py
"""

from __future__ import annotations

from pathlib import Path

from careledger.consent.examples import frontend_examples, render_example

OUT = Path(__file__).resolve().parents[1] / "frontend-notes" / "examples"


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    examples = frontend_examples()
    for stale in OUT.glob("*.json"):
        if stale.name not in examples:
            stale.unlink()
    for name, data in examples.items():
        (OUT / name).write_text(render_example(data))
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
