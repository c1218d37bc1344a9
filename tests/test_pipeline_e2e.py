"""`mmrakit run` end to end on the bundled demo data: every stage, no-op re-runs, downstream-only
recompute, and kill -9 inside each long stage followed by a resume with identical final outputs."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomli_w
import tomllib

from mmrakit.records import CandidateStore, ImageCatalog
from mmrakit.subtasks import mmra_subtasks
from mmrakit.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "demo" / "pipeline.toml"
ENV = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false", PYTHONUNBUFFERED="1")


def write_pipeline(directory: Path, **changes) -> Path:
    """The demo pipeline with absolute paths and its workspace in ``directory``."""
    cfg = tomllib.loads(DEMO.read_text())
    cfg["workspace"] = str(directory / "ws")
    for section in ("relations", "images"):
        for src in cfg[section]["sources"]:
            src["path"] = str((DEMO.parent / src["path"]).resolve())
    for dotted, value in changes.items():
        *parents, leaf = dotted.split(".")
        node = cfg
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = value
    path = directory / "pipeline.toml"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_text(tomli_w.dumps(cfg))
    return path


def run(pipeline: Path, *args: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "mmrakit.cli.main", "run", str(pipeline), "--json", *args],
                          capture_output=True, text=True, env=ENV, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def statuses(result: dict) -> dict[str, str]:
    return {s["stage"]: s["status"] for s in result["steps"]}


def outputs_digest(ws_dir: Path) -> dict:
    """What a benchmark author gets out of a run, in a comparable form."""
    import pyarrow.parquet as pq

    ws = Workspace.open(ws_dir)
    try:
        cands = sorted((r["id"], r["status"], r["filter_reason"] or "") for r in CandidateStore(ws).rows(status=None))
        images = sorted(r.sha256 for r in ImageCatalog(ws))
        table = pq.read_table(sorted((ws_dir / "exports" / "preview" / "data").glob("*.parquet")),
                              columns=["Task", "QA_type", "question", "options", "answer"])
        rows = sorted(json.dumps(r, sort_keys=True) for r in table.to_pylist())
        results = json.loads((ws_dir / "eval" / "random" / "results.json").read_text())
        return {"candidates": cands, "images": images, "export": rows,
                "accuracy": results["scores"]["overall"]["accuracy"]}
    finally:
        ws.close()


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, dict]:
    """One uninterrupted run of the demo pipeline (the outputs every resumed run must reproduce)."""
    d = tmp_path_factory.mktemp("reference")
    pipeline = write_pipeline(d)
    result = run(pipeline)
    return pipeline, result


def test_demo_pipeline_builds_all_subtasks_exports_and_evaluates(reference) -> None:
    pipeline, result = reference
    assert result["waiting"] is None
    st = statuses(result)
    assert st.pop("review.push") == st.pop("review.pull") == "disabled"  # review off in the demo
    assert set(st.values()) == {"ran"}
    ws = Workspace.open(pipeline.parent / "ws")
    counts = CandidateStore(ws).counts()
    # every MMRA subtask yields on the bundled data, except those whose perceived evidence the demo's captions
    # lack (no two images share a visible state; no two activities linked by a sub-event; no pair sharing an
    # activity where each photo also shows one of its own, so either photo alone would decide a SimilarEvent
    # item; too few photos whose boxes and captions agree on a composition, with a same-scene-kind partner;
    # two photos whose caption-stated close-up the boxes back, and no farther shot of a near caption as their
    # hard "No"): the build report names the missing evidence
    report = json.loads((pipeline.parent / "ws" / "candidates" / "build-report.json").read_text())
    missing = {s["task"] for s in report["subtasks"] if s["kept"] == 0 and s.get("missing_evidence")}
    assert missing <= {"MentalitySimilarity", "SubEvent", "SimilarEvent", "Layout", "ObservationAngle"}
    assert set(counts) | missing == set(mmra_subtasks()), "every MMRA subtask yields candidates on the bundled data"
    assert all(c.get("kept", 0) > 0 for t, c in counts.items() if t not in missing)
    export = pipeline.parent / "ws" / "exports" / "preview"
    card = (export / "README.md").read_text()
    assert "unreviewed" in card.lower()  # a preview is never presented as validated
    from mmrakit.exports.validate import validate_export

    assert validate_export(export).ok
    digest = outputs_digest(pipeline.parent / "ws")
    assert len(digest["export"]) == sum(c.get("kept", 0) for c in counts.values())
    assert 0.0 <= digest["accuracy"] <= 100.0


def test_rerun_is_a_noop_and_a_setting_change_recomputes_only_downstream(reference, tmp_path) -> None:
    pipeline, _ = reference
    again = run(pipeline)
    assert set(statuses(again).values()) == {"skipped", "disabled"}, statuses(again)

    changed = write_pipeline(pipeline.parent, **{"settings.builders.per_subtask": 5})
    result = run(changed)
    st = statuses(result)
    assert [st[s] for s in ("relations.ingest", "images.import", "images.embed", "images.dedup")] == ["skipped"] * 4
    assert [st[s] for s in ("build", "export", "eval")] == ["ran"] * 3
    ws = Workspace.open(pipeline.parent / "ws")
    assert max(c.get("kept", 0) for c in CandidateStore(ws).counts().values()) <= 5 * 2  # order-probe twins at most double
    # and back: the original settings give the original outputs again
    restored = write_pipeline(pipeline.parent)
    run(restored)


def _wait_for_running(catalog: Path, stage: str, proc: subprocess.Popen, timeout: float = 600) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if catalog.exists():
            try:
                conn = sqlite3.connect(f"file:{catalog}?mode=ro", uri=True, timeout=1)
                row = conn.execute("SELECT 1 FROM stage_runs WHERE stage = ? AND status = 'running'",
                                   (stage,)).fetchone()
                conn.close()
                if row:
                    return True
            except sqlite3.OperationalError:
                pass
        time.sleep(0.01)
    return False


def _wait_for_file(folder: Path, pattern: str, proc: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if folder.exists() and any(folder.rglob(pattern)):
            return
        time.sleep(0.01)


@pytest.mark.parametrize("stage", ["relations.ingest", "images.import", "images.embed", "build", "export"])
def test_kill_inside_a_long_stage_then_resume_gives_identical_outputs(stage, reference, tmp_path) -> None:
    ref_pipeline, _ = reference
    expected = outputs_digest(ref_pipeline.parent / "ws")
    pipeline = write_pipeline(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "mmrakit.cli.main", "run", str(pipeline), "--json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    caught = _wait_for_running(tmp_path / "ws" / "catalog.sqlite", stage, proc)
    if caught:
        if stage == "images.embed":
            # mid-way: at the first shard written, or once the models are loading; a fixed delay missed the
            # stage on a quiet machine (the whole embed takes ~2.4 s there)
            _wait_for_file(tmp_path / "ws" / "embeddings", "shard-*", proc, timeout=1.5)
        else:
            time.sleep({"images.import": 0.3}.get(stage, 0.0))  # mid-way, not before or after
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=900)
    assert caught, f"the run finished before {stage} could be caught running"
    result = run(pipeline)
    assert result["waiting"] is None
    assert statuses(result)[stage] == "ran", "the killed stage is not taken as done"
    assert outputs_digest(tmp_path / "ws") == expected


@pytest.mark.labelstudio
def test_pipeline_waits_for_reviews_then_continues_from_pull(ls, reviewers, tmp_path) -> None:
    """All stages with a real Label Studio: the run stops after the pull until people have reviewed,
    reviewers (simulated through the API, each with their own token) accept or reject, and the next
    `mmrakit run` continues from the pull to a validated export and the random baseline."""
    from conftest import REVIEWERS

    from support import review_sample as sample

    from mmrakit.review import reviewer_client
    from mmrakit.review.push import reviewer_kind
    from mmrakit.review.store import ReviewStore

    ws_dir = tmp_path / "pipeline-e2e"  # anywhere: push puts the images in the server's media folder
    pipeline = write_pipeline(tmp_path, workspace=str(ws_dir), **{
        "images.copy_files": True,
        "build.subtasks": ["UsageSimilarity", "Environment"],
        "settings.builders.per_subtask": 3,
        "settings.review.url": ls.conn.url,
        "settings.review.token_env": "MMRAKIT_E2E_LS_TOKEN",
        "settings.review.files_root": str(ls.media),
        "review.enabled": True,
        "export.include_unreviewed": False,
        "export.out": "exports/validated",
    })
    env = dict(ENV, MMRAKIT_E2E_LS_TOKEN=ls.conn.token)

    def run_with_token() -> dict:
        proc = subprocess.run([sys.executable, "-m", "mmrakit.cli.main", "run", str(pipeline), "--json"],
                              capture_output=True, text=True, env=env, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert ls.conn.token not in proc.stdout + proc.stderr  # the token is never printed
        return json.loads(proc.stdout)

    first = run_with_token()
    st = statuses(first)
    assert st["review.push"] == "ran" and st["review.pull"] == "waiting"
    assert "export" not in st and "0 of" in first["waiting"] and ls.conn.url in first["waiting"]

    ws = Workspace.open(ws_dir)
    store = ReviewStore(ws)
    # the default isolation: one project per reviewer, each holding every kept candidate
    tasks = {e: {cid: tid for cid, (tid, _) in store.tasks(ls.conn.url, store.project_id(ls.conn.url, reviewer_kind(e))).items()}
             for e in REVIEWERS}
    kept = CandidateStore(ws).rows()
    assert all(set(t) == {r["id"] for r in kept} for t in tasks.values()) and len(kept) >= 4
    rejected = {r["id"] for r in kept[::4]}  # every 4th item: all three reviewers reject it
    clients = {e: reviewer_client(ls.ws, ls.conn, e) for e in REVIEWERS}
    for r in kept:
        verdict = "reject" if r["id"] in rejected else "accept"
        reasons = ("ambiguous",) if verdict == "reject" else ()
        for email in REVIEWERS:
            clients[email].create_annotation(tasks[email][r["id"]], sample.annotation_result(verdict, None, reasons))

    second = run_with_token()
    st = statuses(second)
    assert second["waiting"] is None
    assert st["review.push"] == "skipped" and [st[s] for s in ("review.pull", "export", "eval")] == ["ran"] * 3
    rows = {r["id"]: r["review_status"] for r in CandidateStore(ws).rows()}
    assert {cid for cid, s in rows.items() if s == "rejected"} == rejected
    assert {s for cid, s in rows.items() if cid not in rejected} == {"validated"}
    export = ws_dir / "exports" / "validated"
    from datasets import load_dataset

    ds = load_dataset("parquet", data_dir=str(export / "data"), split="test")
    assert len(ds) == len(kept) - len(rejected)
    assert set(ds["review_status"]) == {"validated"}  # validated items only (provenance names their status)
    assert (ws_dir / "eval" / "random" / "results.json").is_file()

    third = run_with_token()  # nothing new from reviewers: pull re-runs, export and eval are skipped
    st = statuses(third)
    assert st["review.pull"] == "ran" and st["export"] == "skipped" and st["eval"] == "skipped"
