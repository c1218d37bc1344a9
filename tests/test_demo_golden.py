"""The demo's outputs are a regression golden: candidate ids, one hash per exported row, eval scores.

A refactor must leave them identical. An intended change is committed by regenerating the golden
(see tests/golden/demo_snapshot.py) and naming the change in the commit message.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "golden"))

from demo_snapshot import GOLDEN, run_demo, snapshot  # noqa: E402


def test_demo_outputs_match_the_golden(tmp_path: Path) -> None:
    expected = json.loads(GOLDEN.read_text())
    got = snapshot(run_demo(tmp_path))
    for part in ("candidates", "export_rows", "eval_scores"):
        assert got[part] == expected[part], (
            f"demo {part} changed; if intended, regenerate: "
            ".venv/bin/python tests/golden/demo_snapshot.py /tmp/golden-ws --write tests/golden/demo.json")
