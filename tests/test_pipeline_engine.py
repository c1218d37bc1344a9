"""The pipeline engine on toy steps: skipping, downstream recompute, --from/--until/--force, waiting."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmrakit.errors import MmrakitError
from mmrakit.pipeline import Step, StepWaiting, run_pipeline
from mmrakit.workspace import Workspace


def make_steps(log: list[str], src: Path, knobs: dict) -> list[Step]:
    def rec(name: str, counts: dict | None = None):
        def run(ws: Workspace) -> dict:
            log.append(name)
            return counts or {"n": len(log)}
        return run

    def pull(ws: Workspace) -> dict:
        log.append("pull")
        if knobs.get("reviews", 0) < 2:
            raise StepWaiting(f"{knobs.get('reviews', 0)} of 2 reviews done", {"done": knobs.get("reviews", 0)})
        return {"done": knobs["reviews"]}

    return [
        Step("ingest", rec("ingest"), inputs=lambda: [src]),
        Step("build", rec("build"), upstream=("ingest",), settings=lambda: {"seed": knobs["seed"]}),
        Step("pull", pull, upstream=("build",), always_run=True),
        Step("export", rec("export"), upstream=("pull", "build")),
    ]


def test_skip_recompute_force_and_wait(workspace: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "dump.csv"
    src.write_text("x")
    log: list[str] = []
    knobs = {"seed": 0, "reviews": 0}
    steps = make_steps(log, src, knobs)

    res = run_pipeline(workspace, steps)
    assert [r.status for r in res] == ["ran", "ran", "waiting"]
    assert log == ["ingest", "build", "pull"]
    assert "0 of 2" in res[-1].message
    assert any(r["status"] == "waiting" for r in workspace.runs.status_report())

    knobs["reviews"] = 2
    log.clear()
    res = run_pipeline(workspace, steps)
    assert [r.status for r in res] == ["skipped", "skipped", "ran", "ran"]
    assert log == ["pull", "export"]

    log.clear()  # nothing new: pull re-runs (cheap, incremental), export is skipped
    run_pipeline(workspace, steps)
    assert log == ["pull"]

    knobs["seed"] = 1  # a changed setting recomputes that step and everything downstream
    log.clear()
    run_pipeline(workspace, steps)
    assert log == ["build", "pull", "export"]

    src.write_text("changed input")
    log.clear()
    run_pipeline(workspace, steps, until="build")
    assert log == ["ingest", "build"]

    log.clear()
    run_pipeline(workspace, steps, start="pull")
    assert log == ["pull", "export"]

    log.clear()
    run_pipeline(workspace, steps, force=["build"])
    assert log == ["build", "pull", "export"]


def test_bad_stage_names_are_clear_errors(workspace: Workspace, tmp_path: Path) -> None:
    steps = make_steps([], tmp_path / "none", {"seed": 0})
    with pytest.raises(MmrakitError, match="not a pipeline stage"):
        run_pipeline(workspace, steps, start="embed")
    with pytest.raises(MmrakitError, match="unknown stage"):
        run_pipeline(workspace, steps, force=["nope"])
    with pytest.raises(MmrakitError, match="comes after"):
        run_pipeline(workspace, steps, start="export", until="ingest")


def test_failed_step_reruns_next_time(workspace: Workspace, tmp_path: Path) -> None:
    calls = {"n": 0}

    def flaky(ws: Workspace) -> dict:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("crash mid-stage")
        return {"ok": 1}

    steps = [Step("a", flaky)]
    with pytest.raises(RuntimeError):
        run_pipeline(workspace, steps)
    assert [r.status for r in run_pipeline(workspace, steps)] == ["ran"]
    assert [r.status for r in run_pipeline(workspace, steps)] == ["skipped"]


def test_pipeline_file_errors_name_the_key(tmp_path: Path) -> None:
    from mmrakit.errors import ConfigError
    from mmrakit.pipeline_config import PipelineConfig

    bad = tmp_path / "p.toml"
    bad.write_text('[build]\nsubtask = "all"\n')
    with pytest.raises(ConfigError, match=r"\[build\] subtask: unknown key"):
        PipelineConfig.load(bad)
    bad.write_text('[settings.clip]\nbatch_size = -1\n')
    with pytest.raises(ConfigError, match=r"\[clip\] batch_size"):
        PipelineConfig.load(bad)
    good = tmp_path / "ok.toml"
    good.write_text('workspace = "w"\n[settings.builders]\nseed = 3\n[[relations.sources]]\npath = "x.csv"\nformat = "pack"\n')
    cfg = PipelineConfig.load(good)
    assert cfg.resolve(cfg.workspace) == tmp_path / "w"
    assert cfg.resolve(cfg.relations.sources[0].path) == tmp_path / "x.csv"
    from mmrakit.settings import Settings

    assert cfg.merged_settings(Settings()).builders.seed == 3
