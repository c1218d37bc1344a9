"""Regression golden for the demo pipeline: candidate ids, a hash per exported row, eval scores.

    python tests/golden/demo_snapshot.py WORKSPACE_DIR [--write tests/golden/demo.json]

runs ``mmrakit run demo/pipeline.toml`` into WORKSPACE_DIR (a fresh folder), prints the snapshot as
JSON and, with ``--write``, saves it. ``tests/test_demo_golden.py`` runs the same and diffs it against
the committed ``demo.json``. An intended output change is committed by regenerating it:

    .venv/bin/python tests/golden/demo_snapshot.py /tmp/golden-ws --write tests/golden/demo.json
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import tomli_w

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "demo" / "pipeline.toml"
GOLDEN = Path(__file__).with_name("demo.json")


def run_demo(directory: Path) -> Path:
    """Run the demo pipeline with its workspace in ``directory``; returns the workspace path."""
    cfg = tomllib.loads(DEMO.read_text())
    cfg["workspace"] = str(directory / "ws")
    for section in ("relations", "images"):
        for src in cfg[section]["sources"]:
            src["path"] = str((DEMO.parent / src["path"]).resolve())
    directory.mkdir(parents=True, exist_ok=True)
    pipeline = directory / "pipeline.toml"
    pipeline.write_text(tomli_w.dumps(cfg))
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    proc = subprocess.run([sys.executable, "-m", "mmrakit.cli.main", "run", str(pipeline), "--json"],
                          capture_output=True, text=True, env=env, timeout=1800)
    if proc.returncode != 0:
        raise SystemExit(f"demo run failed:\n{proc.stderr[-3000:]}")
    json.loads(proc.stdout)  # --json output is one clean JSON document
    return directory / "ws"


def _row_hash(row: dict) -> str:
    """sha256 of one exported row; image columns hashed by their bytes, not their (local) paths."""
    def plain(v):
        if isinstance(v, dict) and "bytes" in v:
            return hashlib.sha256(v["bytes"] or b"").hexdigest()
        if isinstance(v, list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in sorted(v.items())}
        if isinstance(v, bytes):
            return hashlib.sha256(v).hexdigest()
        return v
    return hashlib.sha256(json.dumps(plain(row), sort_keys=True, default=str).encode()).hexdigest()


def snapshot(ws_dir: Path) -> dict:
    import pyarrow.parquet as pq

    from mmrakit.records import CandidateStore
    from mmrakit.workspace import Workspace

    ws = Workspace.open(ws_dir)
    try:
        candidates = sorted(f"{r['id']} {r['status']} {r['filter_reason'] or ''}".strip()
                            for r in CandidateStore(ws).rows(status=None))
    finally:
        ws.close()
    export = ws_dir / "exports" / "preview" / "data"
    rows = pq.read_table(sorted(export.glob("*.parquet"))).to_pylist()
    results = json.loads((ws_dir / "eval" / "random" / "results.json").read_text())
    return {"candidates": candidates,
            "export_rows": sorted(f"{r.get('id', '')} {_row_hash(r)}" for r in rows),
            "eval_scores": results["scores"]}


def main(argv: list[str]) -> int:
    if not argv or argv[0].startswith("-"):
        print(__doc__)
        return 2
    snap = snapshot(run_demo(Path(argv[0])))
    text = json.dumps(snap, indent=1, sort_keys=True) + "\n"
    if "--write" in argv:
        Path(argv[argv.index("--write") + 1]).write_text(text)
    print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
