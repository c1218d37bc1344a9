"""The runner end to end on tiny MMRA/ReMI datasets made in the test: sources, formats, baselines,
predictions files, cache re-scoring, reports, order consistency, workspace candidates, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmrakit.cli.main import app
from mmrakit.errors import ConfigError, InputError, OfflineError
from mmrakit.evaluation.datasets import load_eval_dataset
from mmrakit.evaluation.runner import build_request, run_eval
from mmrakit.settings import Settings
from test_eval_support import SUBTASKS, mmra_rows, png, remi_json, remi_rows, write_parquet

FAST = Settings()
FAST.eval.bootstrap_samples = 200


@pytest.fixture(scope="session")
def mmra_parquet(tmp_path_factory) -> Path:
    return write_parquet(tmp_path_factory.mktemp("mmra") / "mmra.parquet", mmra_rows(24))


@pytest.fixture(scope="session")
def remi_parquet(tmp_path_factory) -> Path:
    return write_parquet(tmp_path_factory.mktemp("remi") / "test.parquet", remi_rows(2))


def _items(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "items.jsonl").read_text().splitlines()]


def test_mmra_random_run_writes_every_output_and_rescores_from_cache(mmra_parquet, tmp_path):
    out = tmp_path / "run"
    first = run_eval(str(mmra_parquet), "random", settings=FAST, out_dir=out)
    assert first.calls == 24 and first.cached == 0
    for name in ("items.jsonl", "results.json", "report.md", "chart.png", "prompts.toml"):
        assert (out / name).exists(), name
    assert (out / "chart.png").read_bytes()[:4] == b"\x89PNG"
    items = _items(out)
    assert len(items) == 24
    assert set(items[0]) >= {"id", "prompt", "response", "extracted", "method", "correct", "answer"}
    assert items[0]["prompt"].startswith("<image:1><image:2>You will be giving one question")
    # overall = sample-weighted = plain share of correct items
    results = json.loads((out / "results.json").read_text())
    share = round(100 * sum(i["correct"] for i in items) / 24, 2)
    assert results["scores"]["overall"]["accuracy"] == share
    assert results["prompt_templates"]["mmra"]["choice_4"].startswith("You will be giving")
    rows = {r["subtask"]: r for r in results["published_comparison"]["rows"]}
    assert rows["SubEvent"]["GPT4o"] == 97.0 and rows["Overall"]["this_run"] == share
    assert "| SubEvent |" in (out / "report.md").read_text()
    # the random baseline answers in the answer set, seeded
    assert all(i["extracted"] is not None for i in items)
    second = run_eval(str(mmra_parquet), "random", settings=FAST, out_dir=out)
    assert second.calls == 0 and second.cached == 24
    assert [r["response"] for r in second.records] == [i["response"] for i in items]


def test_random_baseline_is_seeded(mmra_parquet, tmp_path):
    a = run_eval(str(mmra_parquet), "random", settings=FAST, out_dir=tmp_path / "a")
    other = Settings()
    other.eval.seed = 7
    b = run_eval(str(mmra_parquet), "random", settings=other, out_dir=tmp_path / "b")
    assert [r["response"] for r in a.records] != [r["response"] for r in b.records]


def test_predictions_file_is_scored_by_id(mmra_parquet, tmp_path):
    ds = load_eval_dataset(str(mmra_parquet))
    lines = []
    for i, it in enumerate(ds.items):  # right on even rows, phrased in different ways
        if it.qa_type == "Choice QA":
            wrong = "A" if it.answer != "A" else "B"
            text = f"The answer is ({it.answer})." if i % 4 == 0 else f"I think {wrong}"
        else:
            text = f"{it.answer}, because ..." if i % 4 == 1 else ("No" if it.answer == "Yes" else "Yes")
        lines.append(json.dumps({"id": it.id, "response": text}))
    preds = tmp_path / "preds.jsonl"
    preds.write_text("\n".join(lines) + "\n")
    out = run_eval(str(mmra_parquet), predictions=preds, settings=FAST, out_dir=tmp_path / "p")
    assert out.summary["overall"]["accuracy"] == 50.0
    assert out.summary["extraction_methods"] == {"answer_phrase": 6, "leading_yes_no": 6, "standalone_letter": 6,
                                                 "yes_no_only": 6}
    preds.write_text(lines[0] + "\n")
    with pytest.raises(InputError, match="no response for 23 of 24 items"):
        run_eval(str(mmra_parquet), predictions=preds, settings=FAST, out_dir=tmp_path / "p2")


def test_remi_dataset_predictions_follow_the_task_rules(remi_parquet, tmp_path):
    ds = load_eval_dataset(str(remi_parquet))
    assert ds.format == "remi" and len(ds.items) == 8
    answers = {"Clocks": "52", "RefCoco": "3", "GeomShape": "104", "Maps": "paris"}  # ±10 ok, listed, >3% off, exact
    lines = [json.dumps({"id": it.id, "response": remi_json(answers[it.task]) if k < 4 else "no json here"})
             for k, it in enumerate(ds.items)]
    preds = tmp_path / "remi.jsonl"
    preds.write_text("\n".join(lines))
    out = run_eval(str(remi_parquet), predictions=preds, settings=FAST, out_dir=tmp_path / "r")
    tasks = out.summary["tasks"]
    assert tasks["Clocks"]["accuracy"] == 50.0 and tasks["RefCoco"]["accuracy"] == 50.0
    assert tasks["Maps"]["accuracy"] == 50.0 and tasks["GeomShape"]["accuracy"] == 0.0
    assert out.summary["overall"]["accuracy"] == 37.5  # unweighted mean over the four tasks
    assert out.summary["extraction_methods"] == {"bad_json": 4, "json": 4}
    assert "published_comparison" not in out.summary
    prompt = out.records[0]["prompt"]
    assert prompt.startswith("Question: How many minutes from <image:1> to <image:2>? Output only a valid JSON")


def test_remi_request_interleaves_images_and_random_draws_task_labels(remi_parquet, tmp_path):
    ds = load_eval_dataset(str(remi_parquet))
    geo = next(it for it in ds.items if it.task == "GeomShape")
    req = build_request(geo, setting="IQ", settings=FAST)
    kinds = ["text" if isinstance(p, str) else "image" for p in req.parts]
    assert kinds == ["text", "image", "text", "image", "text", "image", "text"]
    assert [p.sha256 for p in req.images] == [geo.images[k].sha256 for k in range(3)]
    assert req.max_new_tokens == 512
    out = run_eval(str(remi_parquet), "random", settings=FAST, out_dir=tmp_path / "rr")
    assert all(r["method"] == "json" for r in out.records)
    assert out.summary["tasks"]["Maps"]["accuracy"] == 100.0  # the only Maps label is Paris


def test_qo_setting_sends_no_images(mmra_parquet, tmp_path):
    out = run_eval(str(mmra_parquet), "text-only:random", settings=FAST, out_dir=tmp_path / "qo")
    assert out.summary["meta"]["setting"] == "QO"
    assert all(r["images"] == [] and "<image" not in r["prompt"] for r in out.records)
    with pytest.raises(ConfigError, match="text-only needs"):
        run_eval(str(mmra_parquet), "text-only", settings=FAST, out_dir=tmp_path / "x")


def test_limit_takes_items_round_robin_over_tasks(mmra_parquet):
    ds = load_eval_dataset(str(mmra_parquet), limit=6)
    assert sorted(it.task for it in ds.items) == sorted(SUBTASKS)


def test_save_to_disk_and_parquet_folder_sources_pick_the_test_split(tmp_path):
    import datasets

    rows = mmra_rows(8, with_ids=True)
    features = datasets.Features({
        "id": datasets.Value("string"), "Task": datasets.Value("string"), "QA_type": datasets.Value("string"),
        "question": datasets.Value("string"), "image1": datasets.Image(), "image2": datasets.Image(),
        "options": datasets.Value("string"), "answer": datasets.Value("string")})
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_list(rows[:2], features=features),
                               "test": datasets.Dataset.from_list(rows[2:], features=features)})
    dd.save_to_disk(str(tmp_path / "export"))
    ds = load_eval_dataset(str(tmp_path / "export"))
    assert ds.split == "test" and [it.id for it in ds.items] == [f"item-{i}" for i in range(2, 8)]
    assert ds.items[0].images[0].data[:4] == b"\x89PNG"
    assert load_eval_dataset(str(tmp_path / "export"), split="train").items[0].id == "item-0"
    with pytest.raises(InputError, match="no split 'dev'"):
        load_eval_dataset(str(tmp_path / "export"), split="dev")
    write_parquet(tmp_path / "hub" / "data" / "train-00000-of-00001.parquet", rows[:2])
    write_parquet(tmp_path / "hub" / "data" / "test-00000-of-00001.parquet", rows[2:])
    ds = load_eval_dataset(str(tmp_path / "hub"))
    assert ds.split == "test" and len(ds.items) == 6


def test_relative_image_paths_resolve_against_the_parquet_folder(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "images" / "a.png").write_bytes(png((200, 0, 0)))
    (tmp_path / "images" / "b.png").write_bytes(png((0, 200, 0)))
    row = dict(mmra_rows(1)[0], image1="images/a.png", image2="images/b.png")
    ds = load_eval_dataset(str(write_parquet(tmp_path / "d.parquet", [row])))
    assert ds.items[0].images[0].path == tmp_path / "images" / "a.png"
    bad = dict(row, image2="images/missing.png")
    with pytest.raises(InputError, match="row 0 column image2: image file .*missing.png does not exist"):
        load_eval_dataset(str(write_parquet(tmp_path / "e.parquet", [bad])))


def test_unknown_columns_and_bad_rows_are_named(tmp_path):
    with pytest.raises(InputError, match="match neither MMRA nor ReMI"):
        load_eval_dataset(str(write_parquet(tmp_path / "x.parquet", [{"foo": 1, "question": "q"}])))
    rows = mmra_rows(4)
    rows[2]["options"] = "{'A': 'x', 'B'"
    with pytest.raises(InputError, match="row 2: options .* neither a Python dict literal nor JSON"):
        load_eval_dataset(str(write_parquet(tmp_path / "y.parquet", rows)))
    rows = mmra_rows(4)
    rows[0]["answer"] = "E"
    with pytest.raises(InputError, match="row 0: answer 'E' is not one of the option letters"):
        load_eval_dataset(str(write_parquet(tmp_path / "z.parquet", rows)))
    with pytest.raises(InputError, match="not a Hub id"):
        load_eval_dataset(str(tmp_path / "nothing-here"))


def test_hub_id_fails_offline_with_a_clear_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError, match="m-a-p/MMRA: the Hugging Face Hub is not reachable") as err:
        load_eval_dataset("m-a-p/MMRA")
    assert "save_to_disk" in err.value.hint


def test_order_consistency_from_twin_columns(tmp_path):
    rows = mmra_rows(8, twins=True)
    data = write_parquet(tmp_path / "twins.parquet", rows)
    ds = load_eval_dataset(str(data))
    assert sum(it.order_probe for it in ds.items) == 4
    # right on every original; right on the twins of item-0 and item-2 only
    lines = [json.dumps({"id": it.id, "response": it.answer if not it.id.endswith(("1-swap", "3-swap")) else "zzz"})
             for it in ds.items]
    (tmp_path / "p.jsonl").write_text("\n".join(lines))
    out = run_eval(str(data), predictions=tmp_path / "p.jsonl", settings=FAST, out_dir=tmp_path / "o")
    oc = out.summary["order_consistency"]
    assert oc == {**oc, "pairs": 4, "both_correct": 50.0, "consistent": 50.0, "original_accuracy": 100.0,
                  "swapped_accuracy": 50.0}
    assert "Order consistency over 4 swapped-order pairs" in (tmp_path / "o" / "report.md").read_text()


def _fill_workspace(ws, tmp_path: Path) -> list:
    import hashlib

    from mmrakit.models import Candidate, ImageRecord
    from mmrakit.records import CandidateStore, ImageCatalog

    records = []
    for i in range(4):
        p = tmp_path / f"img{i}.png"
        p.write_bytes(png((i * 60, 20, 20)))
        records.append(ImageRecord(sha256=hashlib.sha256(p.read_bytes()).hexdigest(), width=40, height=30, path=str(p)))
    ImageCatalog(ws).upsert(records)
    cands = [
        Candidate(task="UsageSimilarity", granularity="entity", qa_type="Choice QA", question="Same use?",
                  options={"A": "cut", "B": "eat", "C": "sit"}, answer="A", image1=records[0].sha256,
                  image2=records[1].sha256),
        Candidate(task="SubEvent", granularity="image", qa_type="True or false QA", question="Sub-event?",
                  answer="Yes", image1=records[2].sha256, image2=records[3].sha256),
    ]
    twin = Candidate(task="SubEvent", granularity="image", qa_type="True or false QA", question="Sub-event?",
                     answer="No", image1=records[3].sha256, image2=records[2].sha256, order_probe=True,
                     twin_of=cands[1].id)
    CandidateStore(ws).upsert([*cands, twin])
    return [*cands, twin]


def test_workspace_candidates_are_a_dataset(workspace, tmp_path):
    cands = _fill_workspace(workspace, tmp_path)
    preds = tmp_path / "p.jsonl"
    preds.write_text("\n".join(json.dumps({"id": c.id, "response": c.answer}) for c in cands))
    out = run_eval("workspace", predictions=preds, ws=workspace)
    assert out.out_dir.parent == workspace.path("eval")
    assert out.summary["overall"]["accuracy"] == 100.0 and out.summary["n"] == 3
    assert out.summary["order_consistency"]["pairs"] == 1
    run = workspace.runs.latest("eval")
    assert run is not None and json.loads(run["counts"])["items"] == 3
    # review consensus narrows the set once anything is validated
    from mmrakit.records import CandidateStore

    CandidateStore(workspace).set_review(cands[0].id, "validated", answer="B")
    out = run_eval("workspace", "random", ws=workspace)
    assert out.summary["n"] == 1 and out.records[0]["answer"] == "B"
    # a run that fails is recorded as failed, with the reason
    with pytest.raises(ConfigError, match="not found"):
        run_eval("workspace", f"clip:local-dir:{tmp_path / 'no-such-model'}", ws=workspace)
    failed = workspace.runs.latest("eval", status="failed")
    assert failed is not None and "ConfigError" in failed["error"]


def test_cli_eval_json_and_errors(mmra_parquet, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    res = runner.invoke(app, ["eval", str(mmra_parquet), "--model", "random", "--limit", "6", "--out", "o", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["meta"]["items"] == 6 and data["meta"]["calls"] == 6 and Path(data["out_dir"]).name == "o"
    res = runner.invoke(app, ["eval", str(mmra_parquet), "--model", "gpt-4o", "--out", "o2"])
    assert isinstance(res.exception, ConfigError) and "unknown model spec 'gpt-4o'" in str(res.exception)
    res = runner.invoke(app, ["eval", "workspace", "--model", "random"])
    assert "not an mmrakit workspace" in str(res.exception)


def test_cli_prints_errors_cleanly_with_exit_2(tmp_path):
    import subprocess
    import sys

    env = {**__import__("os").environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "mmrakit.cli.main", "eval", "mehrankazemi/ReMI", "-m", "random"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 2
    assert "error: mehrankazemi/ReMI: the Hugging Face Hub is not reachable" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_mmra_demo_rule_accuracy_is_reported_beside_ours(mmra_parquet, tmp_path):
    ds = load_eval_dataset(str(mmra_parquet))
    # lower-case letters: our extraction reads them, MMRA's upper-case-only pattern does not
    preds = tmp_path / "lower.jsonl"
    preds.write_text("\n".join(json.dumps({"id": it.id, "response": it.answer.lower()}) for it in ds.items))
    out = run_eval(str(mmra_parquet), predictions=preds, settings=FAST, out_dir=tmp_path / "o")
    assert out.summary["overall"]["accuracy"] == 100.0
    assert out.summary["overall"]["accuracy_demo_rule"] == 50.0  # only the yes/no half survives
    assert "With MMRA's own extraction rule (evaluate_demo.py): 50.00%" in (tmp_path / "o" / "report.md").read_text()


def _same_content_rows() -> list[dict]:
    """ReMI rows: two items with the same question and the same two images, different ids and labels."""
    base = remi_rows(1)[0]  # Clocks, two images
    return [dict(base, id="clock-a", label="45"), dict(base, id="clock-b", label="12")]


def test_saved_predictions_are_each_items_own_even_for_identical_prompts(tmp_path):
    data = write_parquet(tmp_path / "same.parquet", _same_content_rows())
    ds = load_eval_dataset(str(data))
    assert build_request(ds.items[0], setting="IQ", settings=FAST).key_parts() == \
        build_request(ds.items[1], setting="IQ", settings=FAST).key_parts()
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"id": "clock-b", "response": remi_json("12")}) + "\n"
                     + json.dumps({"id": "clock-a", "response": remi_json("45")}) + "\n")
    out = run_eval(str(data), predictions=preds, settings=FAST, out_dir=tmp_path / "o")
    by_id = {r["id"]: r for r in _items(tmp_path / "o")}
    assert by_id["clock-a"]["response"] == remi_json("45") and by_id["clock-a"]["answer"] == "45"
    assert by_id["clock-b"]["response"] == remi_json("12") and by_id["clock-b"]["answer"] == "12"
    assert by_id["clock-a"]["correct"] and by_id["clock-b"]["correct"]
    assert out.summary["overall"]["accuracy"] == 100.0 and out.calls == 2
    # MMRA too: identical Choice QA rows with different gold letters, each answered with its own letter
    row = mmra_rows(1)[0]
    mdata = write_parquet(tmp_path / "m.parquet", [dict(row, id="m1", answer="A"), dict(row, id="m2", answer="C")])
    preds.write_text(json.dumps({"id": "m1", "response": "A"}) + "\n" + json.dumps({"id": "m2", "response": "C"}))
    out = run_eval(str(mdata), predictions=preds, settings=FAST, out_dir=tmp_path / "m")
    assert [(r["id"], r["extracted"], r["correct"]) for r in out.records] == [("m1", "A", True), ("m2", "C", True)]


def test_random_baseline_draws_per_item_for_identical_prompts(tmp_path):
    row = mmra_rows(1)[0]
    data = write_parquet(tmp_path / "r.parquet", [dict(row, id=f"r{i}") for i in range(40)])
    out = run_eval(str(data), "random", settings=FAST, out_dir=tmp_path / "o")
    assert out.calls == 40  # seeded by item id: one draw per item, not one shared draw
    assert len({r["response"] for r in out.records}) > 1
