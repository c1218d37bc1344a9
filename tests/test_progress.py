"""Progress through the Stage protocol: every long stage reports (done, total); --json stays clean."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from mmrakit.cli.run import open_pipeline_workspace
from mmrakit.cli.stages import pipeline_stages
from mmrakit.engine import run_pipeline
from mmrakit.pipeline_config import PipelineConfig

sys.path.insert(0, str(Path(__file__).parent / "golden"))
from demo_snapshot import run_demo  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def test_every_long_stage_reports_progress_and_json_stays_clean(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    run_demo(tmp_path / "a")  # the demo through the CLI with --json: its stdout parses as one JSON document
    cfg = PipelineConfig.load(tmp_path / "a" / "pipeline.toml")
    cfg.workspace = str(tmp_path / "b" / "ws")
    ws = open_pipeline_workspace(cfg, None)
    seen: dict[str, list[tuple[int, int]]] = defaultdict(list)
    results, _ = run_pipeline(ws, cfg, pipeline_stages(), progress=lambda task, d, t: seen[task].append((d, t)))
    assert {r.status for r in results} == {"ran", "disabled"}
    tasks = set(seen)
    for expected in ("relations: sources", "build subtasks", "dedup tiers", "captions", "eval: models", "export: outputs"):
        assert expected in tasks, sorted(tasks)
    assert any(t.startswith("import ") for t in tasks) and any(t.startswith("eval: random") for t in tasks)
    for task, calls in seen.items():
        done = [d for d, _ in calls]
        assert done == sorted(done), f"{task}: progress went backwards {calls}"
        final_done, total = calls[-1]
        assert total == 0 or final_done == total, f"{task}: ended at {final_done} of {total}"
    ws.close()

    # one CLI command per stage with --json: stdout is exactly one JSON document, bars stay off it
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    for args in (["images", "dedup", "--force"], ["build", "--force"], ["status"],
                 ["export", "--out", str(tmp_path / "exp"), "--include-unreviewed", "--force"]):
        proc = subprocess.run([sys.executable, "-m", "mmrakit.cli.main", *args, "--json", "-w", str(tmp_path / "a" / "ws")],
                              capture_output=True, text=True, env=env, cwd=REPO, timeout=600)
        assert proc.returncode == 0, proc.stderr[-2000:]
        json.loads(proc.stdout)
