"""The pipeline engine on toy stages that implement the Stage protocol the way the real ones do:
each records its own run (the one signature layer), so unchanged stages are skipped, a changed input
or setting recomputes the stage and (through the files it writes) what reads from it; --from/--until/
--force; waiting."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmrakit.engine import run_pipeline, stage_graph
from mmrakit.errors import MmrakitError
from mmrakit.pipeline_config import PipelineConfig
from mmrakit.stage import Stage, StageContext, StageReport, StageWaiting
from mmrakit.workspace import Workspace

CFG = PipelineConfig()


class Toy:
    """A stage reading ``reads`` (files in the workspace) and writing ``<name>.txt``."""

    def __init__(self, name: str, log: list[str], reads: list[Path | str], upstream: tuple[str, ...] = (),
                 settings=lambda: {}) -> None:
        self.name, self.log, self.reads, self.upstream, self.settings = name, log, reads, upstream, settings

    def run(self, ctx: StageContext) -> StageReport:
        inputs = [ctx.ws.path(r) if isinstance(r, str) else r for r in self.reads]
        with ctx.record(self.name, inputs=inputs, settings=self.settings()) as run:
            if run.up_to_date:
                return StageReport(up_to_date=True)
            self.log.append(self.name)
            text = "|".join(p.read_text() for p in inputs) + repr(self.settings())
            ctx.ws.path(f"{self.name}.txt").write_text(text)
            return StageReport(n=len(self.log))


class Pull:
    """Always runs; rewrites its output only when the number of reviews changed; waits below 2."""

    name, upstream = "pull", ("build",)

    def __init__(self, log: list[str], knobs: dict) -> None:
        self.log, self.knobs = log, knobs

    def run(self, ctx: StageContext) -> StageReport:
        self.log.append("pull")
        with ctx.ws.stage_run("pull", force=True):
            done = self.knobs.get("reviews", 0)
            out = ctx.ws.path("pull.txt")
            if not out.exists() or out.read_text() != str(done):
                out.write_text(str(done))
            if done < 2:
                raise StageWaiting(f"{done} of 2 reviews done", {"done": done})
        return StageReport(done=done)


def make_stages(log: list[str], src: Path, knobs: dict) -> list[Stage]:
    return [
        Toy("ingest", log, [src]),
        Toy("build", log, ["ingest.txt"], upstream=("ingest",), settings=lambda: {"seed": knobs["seed"]}),
        Pull(log, knobs),
        Toy("export", log, ["build.txt", "pull.txt"], upstream=("pull", "build")),
    ]


def run(ws: Workspace, stages, **kw):
    return run_pipeline(ws, CFG, stages, **kw)[0]


def test_skip_recompute_force_and_wait(workspace: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "dump.csv"
    src.write_text("x")
    log: list[str] = []
    knobs = {"seed": 0, "reviews": 0}
    stages = make_stages(log, src, knobs)
    assert all(isinstance(s, Stage) for s in stages)

    res = run(workspace, stages)
    assert [r.status for r in res] == ["ran", "ran", "waiting"]
    assert log == ["ingest", "build", "pull"]
    assert "0 of 2" in res[-1].message
    assert [r["status"] for r in workspace.runs.status_report() if r["stage"] == "pull"] == ["waiting"]

    knobs["reviews"] = 2
    log.clear()
    res = run(workspace, stages)
    assert [r.status for r in res] == ["skipped", "skipped", "ran", "ran"]
    assert log == ["pull", "export"]
    # one record per stage: the engine writes none of its own
    assert {r["stage"] for r in workspace.runs.status_report()} == {"ingest", "build", "pull", "export"}
    assert workspace.db.execute("SELECT COUNT(*) FROM stage_runs WHERE stage = 'build'").fetchone()[0] == 1

    log.clear()  # nothing new: pull re-runs (cheap, incremental), export is skipped
    assert [r.status for r in run(workspace, stages)][-1] == "skipped"
    assert log == ["pull"]

    knobs["seed"] = 1  # a changed setting recomputes that stage and what reads its output
    log.clear()
    run(workspace, stages)
    assert log == ["build", "pull", "export"]

    src.write_text("changed input")
    log.clear()
    res = run(workspace, stages, until="build")
    assert log == ["ingest", "build"]
    assert [r.status for r in res][2:] == ["not-selected", "not-selected"]

    log.clear()
    run(workspace, stages, start="pull")
    assert log == ["pull", "export"]

    log.clear()
    run(workspace, stages, force=["build"])
    assert log == ["build", "pull", "export"]


def test_bad_stage_names_are_clear_errors(workspace: Workspace, tmp_path: Path) -> None:
    stages = make_stages([], tmp_path / "none", {"seed": 0})
    with pytest.raises(MmrakitError, match="not a pipeline stage"):
        run(workspace, stages, start="embed")
    with pytest.raises(MmrakitError, match="unknown stage"):
        run(workspace, stages, force=["nope"])
    with pytest.raises(MmrakitError, match="comes after"):
        run(workspace, stages, start="export", until="ingest")
    with pytest.raises(MmrakitError, match="do not come before it"):
        stage_graph(list(reversed(stages)))


def test_failed_stage_reruns_next_time(workspace: Workspace, tmp_path: Path) -> None:
    calls = {"n": 0}

    class Flaky:
        name, upstream = "a", ()

        def run(self, ctx: StageContext) -> StageReport:
            with ctx.record("a") as rec:
                if rec.up_to_date:
                    return StageReport(up_to_date=True)
                calls["n"] += 1
                if calls["n"] == 1:
                    raise RuntimeError("crash mid-stage")
                return StageReport(ok=1)

    with pytest.raises(RuntimeError):
        run(workspace, [Flaky()])
    assert [r.status for r in run(workspace, [Flaky()])] == ["ran"]
    assert [r.status for r in run(workspace, [Flaky()])] == ["skipped"]


def test_the_real_stages_form_the_graph() -> None:
    from mmrakit.cli.stages import pipeline_stages

    stages = pipeline_stages()
    assert all(isinstance(s, Stage) for s in stages)
    graph = stage_graph(stages)
    assert list(graph) == ["relations.ingest", "images.import", "images.embed", "images.dedup", "images.annotate", "build",
                           "review.push", "review.pull", "export", "eval"]
    assert graph["export"] == ("build", "review.pull")


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
