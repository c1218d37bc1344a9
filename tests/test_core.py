"""Workspace, settings, catalogue, stage runs, atomic writes and the core CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmrakit import atomic
from mmrakit.catalog import ensure_schema
from mmrakit.cli.main import app
from mmrakit.errors import ConfigError, WorkspaceError
from mmrakit.models import Candidate, candidate_id
from mmrakit.settings import Settings
from mmrakit.workspace import Workspace

runner = CliRunner()


def test_init_creates_settings_and_wal_catalogue(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "w")
    assert (ws.root / "mmrakit.toml").is_file()
    assert ws.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert Settings.load(ws.root / "mmrakit.toml") == Settings()
    # idempotent: a second init keeps edited settings
    ws.settings.builders.seed = 7
    ws.save_settings()
    again = Workspace.init(tmp_path / "w")
    assert again.settings.builders.seed == 7


def test_open_without_workspace_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="not an mmrakit workspace"):
        Workspace.open(tmp_path)


def test_invalid_setting_names_the_key(tmp_path: Path) -> None:
    cfg = tmp_path / "mmrakit.toml"
    cfg.write_text('[clip]\nbatch_size = "big"\n[builders]\nsede = 3\n')
    with pytest.raises(ConfigError) as err:
        Settings.load(cfg)
    text = str(err.value)
    assert "[clip] batch_size" in text
    assert "[builders] sede: unknown key" in text


def test_broken_toml_names_the_line(tmp_path: Path) -> None:
    cfg = tmp_path / "mmrakit.toml"
    cfg.write_text("[clip]\nmodel = \n")
    with pytest.raises(ConfigError, match="line 2"):
        Settings.load(cfg)


def test_cross_field_validation() -> None:
    with pytest.raises(ConfigError, match="min_accept"):
        Settings.from_dict({"review": {"reviewers": 2, "min_accept": 3}})
    with pytest.raises(ConfigError, match="caption_band"):
        Settings.from_dict({"builders": {"caption_band": [0.9, 0.1]}})


def test_stage_run_is_a_noop_when_nothing_changed(workspace: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "input.txt"
    src.write_text("a")
    calls = []

    def stage() -> None:
        with workspace.stage_run("relations.ingest", key="x", inputs=[src], settings=workspace.settings.relations) as run:
            if run.up_to_date:
                return
            calls.append(1)
            run.counts["edges"] = 3

    stage()
    stage()
    assert calls == [1]
    src.write_text("bb")  # changed input -> recompute
    report = workspace.runs.status_report()
    assert report[0]["stale"] and "input changed" in report[0]["reasons"][0]
    stage()
    assert calls == [1, 1]
    assert workspace.runs.latest("relations.ingest", "x")["counts"] == json.dumps({"edges": 3})


def test_failed_run_is_recorded_and_not_reused(workspace: Workspace) -> None:
    with pytest.raises(RuntimeError):
        with workspace.stage_run("build") as run:
            assert not run.up_to_date
            raise RuntimeError("boom")
    row = workspace.runs.latest("build", status=None)
    assert row["status"] == "failed" and "boom" in row["error"]
    with workspace.stage_run("build") as run:
        assert not run.up_to_date


def test_upstream_rerun_marks_downstream_stale(workspace: Workspace) -> None:
    from mmrakit.cli.stages import pipeline_stages
    from mmrakit.engine import stage_graph

    graph = stage_graph(pipeline_stages())  # the graph `mmrakit status` uses, derived from the stages
    assert graph["images.embed"] == ("images.import",)
    with workspace.stage_run("images.import"):
        pass
    with workspace.stage_run("images.embed"):
        pass
    assert not any(r["stale"] for r in workspace.runs.status_report(graph))
    with workspace.stage_run("images.import", force=True):
        pass
    embed = [r for r in workspace.runs.status_report(graph) if r["stage"] == "images.embed"][0]
    assert embed["stale"] and embed["reasons"] == ["upstream images.import re-ran"]
    assert not [r for r in workspace.runs.status_report() if r["stale"]]  # no graph: inputs only


def test_is_current_reads_the_one_run_record(workspace: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "in.txt"
    src.write_text("a")
    assert not workspace.runs.is_current("build", inputs=[src], settings={"k": 1})
    with workspace.stage_run("build", inputs=[src], settings={"k": 1}):
        pass
    assert workspace.runs.is_current("build", inputs=[src], settings={"k": 1})
    assert not workspace.runs.is_current("build", inputs=[src], settings={"k": 2})
    src.write_text("changed")
    assert not workspace.runs.is_current("build", inputs=[src], settings={"k": 1})


def test_killed_run_shows_as_interrupted(workspace: Workspace) -> None:
    code = (
        "import os, sys; from mmrakit.workspace import Workspace\n"
        f"ws = Workspace.open({str(workspace.root)!r})\n"
        "with ws.stage_run('images.embed') as run:\n"
        "    os._exit(9)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=False)
    row = [r for r in workspace.runs.status_report() if r["stage"] == "images.embed"][0]
    assert row["status"] == "interrupted"


def test_ensure_schema_migrates_in_order(workspace: Workspace) -> None:
    conn = workspace.db
    ensure_schema(conn, "demo", 1, "CREATE TABLE IF NOT EXISTS demo (a INTEGER);")
    conn.execute("INSERT INTO demo VALUES (1)")
    conn.commit()
    ensure_schema(conn, "demo", 2, "CREATE TABLE IF NOT EXISTS demo (a INTEGER);",
                  {2: "ALTER TABLE demo ADD COLUMN b TEXT DEFAULT 'x';"})
    assert tuple(conn.execute("SELECT a, b FROM demo").fetchone()) == (1, "x")
    with pytest.raises(RuntimeError, match="newer"):
        ensure_schema(conn, "demo", 1, "")


def test_atomic_write_leaves_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    atomic.write_text(target, "old")
    with pytest.raises(ValueError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise ValueError
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_atomic_dir_swaps_whole_directory(tmp_path: Path) -> None:
    target = tmp_path / "export"
    with atomic.atomic_dir(target) as d:
        (d / "a").write_text("1")
    with pytest.raises(KeyboardInterrupt):
        with atomic.atomic_dir(target) as d:
            (d / "b").write_text("2")
            raise KeyboardInterrupt
    assert sorted(p.name for p in target.iterdir()) == ["a"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_candidate_validation_and_deterministic_id() -> None:
    opts = {"A": "cutting", "B": "sleeping", "C": "flying"}
    c = Candidate(task="UsageSimilarity", granularity="entity", qa_type="Choice QA", question="q?",
                  options=opts, answer="A", image1="a" * 64, image2="b" * 64)
    assert c.id == candidate_id("UsageSimilarity", "a" * 64, "b" * 64, "q?", opts)
    with pytest.raises(ValueError, match="not one of the option letters"):
        Candidate(task="T", granularity="entity", qa_type="Choice QA", question="q", options=opts, answer="D",
                  image1="a", image2="b")
    with pytest.raises(ValueError, match="Yes or No"):
        Candidate(task="T", granularity="image", qa_type="True or false QA", question="q", answer="A",
                  image1="a", image2="b")


def test_cli_init_status_schema(tmp_path: Path) -> None:
    ws_dir = tmp_path / "cli-ws"
    res = runner.invoke(app, ["init", str(ws_dir), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["workspace"] == str(ws_dir.resolve())
    res = runner.invoke(app, ["status", "-w", str(ws_dir), "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout) == []
    res = runner.invoke(app, ["schema", "candidate"])
    assert res.exit_code == 0 and "qa_type" in json.loads(res.stdout)["properties"]


def test_cli_reports_errors_without_traceback(tmp_path: Path) -> None:
    env = dict(os.environ, MMRAKIT_WORKSPACE=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "mmrakit.cli.main", "status"], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    assert "not an mmrakit workspace" in proc.stderr and "Traceback" not in proc.stderr


def test_candidate_store_keeps_review_on_rebuild(workspace: Workspace) -> None:
    from mmrakit.records import CandidateStore

    store = CandidateStore(workspace)
    c = Candidate(task="SubEvent", granularity="image", qa_type="True or false QA", question="Is image 2 a step of image 1?",
                  answer="Yes", image1="a" * 64, image2="b" * 64)
    store.upsert([c])
    store.set_review(c.id, "validated", answer="Yes", agreement=1.0)
    store.upsert([c])  # a rebuild re-proposes the same item
    row = store.rows()[0]
    assert row["review_status"] == "validated" and row["candidate"] == c
    assert store.counts() == {"SubEvent": {"kept": 1, "validated": 1}}
    with pytest.raises(KeyError):
        store.set_review("nope", "rejected")


def test_image_catalog_roundtrip(workspace: Workspace) -> None:
    from mmrakit.models import Box, ImageRecord, ObjectAnnotation
    from mmrakit.records import ImageCatalog

    cat = ImageCatalog(workspace)
    rec = ImageRecord(sha256="c" * 64, width=640, height=480, path="images/files/c.jpg", captions=["a dog"],
                      objects=[ObjectAnnotation(category="dog", box=Box(x=0.1, y=0.1, w=0.5, h=0.5))])
    cat.upsert([rec, rec])
    assert len(cat) == 1 and cat.get("c" * 64) == rec
    assert cat.file_path(rec) == workspace.root / "images/files/c.jpg"


def test_mmra_subtask_table() -> None:
    from mmrakit.subtasks import mmra_subtasks, normalise_task_name

    table = mmra_subtasks()
    assert len(table) == 11
    assert sum(s.mmra_count for s in table.values()) == 1024
    assert sum(s.mmra_count for s in table.values() if s.granularity == "entity") == 528
    assert normalise_task_name("Environments") == "Environment"
    assert normalise_task_name("SimE") == "SimilarEvent"
    assert normalise_task_name("sub_event") == "SubEvent"
    assert normalise_task_name("Counting") is None


def test_configuration_reference_is_current() -> None:
    """docs/configuration.md is generated from the settings models; `make docs` regenerates it."""
    from mmrakit.settings import settings_reference

    doc = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
    assert doc.read_text(encoding="utf-8").strip() == settings_reference().strip(), "run `make docs`"


def test_cli_error_keeps_bracketed_setting_names(tmp_path: Path) -> None:
    (tmp_path / "mmrakit.toml").write_text('[clip]\nbatch_size = "x"\n')
    proc = subprocess.run([sys.executable, "-m", "mmrakit.cli.main", "status", "-w", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "[clip] batch_size" in proc.stderr
