"""Model panels at build time (builders/panels.py): the artifact solvers on hand-made items, k-of-n blind
panels of scripted OpenAI-compatible models and a tiny offline HF language model, the single-image panel, the
response cache, and a workspace build with the panels on (build report, stats histogram, export column)."""

from __future__ import annotations

import io
import json
import re

import pytest
from PIL import Image

from mmrakit.builders.panels import (
    BLIND_REASON, ONE_IMAGE_REASON, AnswerPriorSolver, EmbeddingSolver, OptionFrequencySolver, default_k,
    difficulty_histogram, run_panels,
)
from mmrakit.models import Candidate
from mmrakit.settings import PanelsSettings
from support.fake_openai import FakeOpenAI, user_text

SHA = [f"{i:064x}" for i in range(1, 20)]


def choice(task: str, q: str, options: list[str], answer: str, i: int = 0) -> Candidate:
    return Candidate(task=task, granularity="entity", qa_type="Choice QA", question=q,
                     options=dict(zip("ABCD", options)), answer=answer, image1=SHA[2 * i], image2=SHA[2 * i + 1])


def yes_no(task: str, q: str, answer: str, i: int = 0) -> Candidate:
    return Candidate(task=task, granularity="image", qa_type="True or false QA", question=q, answer=answer,
                     image1=SHA[2 * i], image2=SHA[2 * i + 1])


def test_default_k_follows_the_issue_rule():
    assert [default_k(n) for n in (1, 2, 3, 4, 5, 8)] == [2, 2, 2, 2, 3, 4]


def test_option_frequency_leaves_the_item_out():
    items = [
        choice("SimilarMaterial", "q1", ["aluminum", "steel", "wood"], "C", 0),
        choice("SimilarMaterial", "q2", ["wood", "aluminum", "plastic"], "A", 1),
        choice("SimilarMaterial", "q3", ["aluminum", "wood", "paper"], "C", 2),
    ]
    # q1: aluminum is a distractor in q2 and q3 (rate 1), wood the answer of q2 and a distractor of q3 (0.5),
    #     steel unseen elsewhere -> wood (C, right). q2: wood 0.5 (q1 answer, q3 distractor), aluminum 1 -> A (right).
    # q3: aluminum 1, wood 0 (answer of q1 and q2), paper unseen -> B (wrong: the answer is paper)
    assert OptionFrequencySolver().answer(items) == ["C", "A", "B"]


def test_answer_prior_per_subtask_and_type_leaves_the_item_out():
    items = [yes_no("SubEvent", f"s{i}", a, i) for i, a in enumerate(["Yes", "No", "Yes", "No", "Yes"])]
    items.append(yes_no("Causality", "c0", "No", 6))
    # a Yes item sees Yes 2 / No 2 in the rest -> tie, abstain; a No item sees Yes 3 / No 1 -> Yes (wrong).
    # c0 is alone in its subtask -> abstain
    assert AnswerPriorSolver().answer(items) == [None, "Yes", None, "Yes", None, None]


def test_embedding_solver_picks_the_option_nearest_the_question():
    items = [choice("UsageSimilarity", "Which tool do you use to slice bread?",
                    ["the planet Jupiter", "a sharp bread knife for slicing", "a violin concerto"], "B"),
             yes_no("SubEvent", "Is it raining?", "Yes", 1)]
    assert EmbeddingSolver().answer(items) == ["B", None]


def scripted_panel(answers: dict[tuple[str, str], str]):
    """A server that answers per (model, question): text-only members of a blind panel."""
    def answer(body):
        q = re.search(r"questions: (\S+)", user_text(body)).group(1)
        return answers.get((body["model"], q), "I cannot tell.")
    return answer


def _settings(**kw) -> PanelsSettings:
    base = dict(api_key_env="MMRAKIT_TEST_KEY", retry_initial_s=0.01, retry_max_s=0.05, timeout_s=2.0, max_retries=1)
    return PanelsSettings(**{**base, **kw})


def _items4() -> list[Candidate]:
    return [choice("UsageSimilarity", f"q{i}", ["cut", "eat", "sit", "run"], "ABCD"[i], i) for i in range(4)]


def test_k_of_n_blind_panel_of_scripted_models_filters_exactly(tmp_path):
    items = _items4()  # golds: q0 A, q1 B, q2 C, q3 D
    script = {("a", "q0"): "A", ("b", "q0"): "The answer is A", ("c", "q0"): "B",   # 2 right
              ("a", "q1"): "B", ("b", "q1"): "C", ("c", "q1"): "D",                  # 1 right
              ("a", "q2"): "C", ("b", "q2"): "(C)", ("c", "q2"): "C",                # 3 right
              ("a", "q3"): "A", ("b", "q3"): "B"}                                    # 0 right, c says nothing usable
    with FakeOpenAI(scripted_panel(script)) as srv:
        s = _settings(blind=["openai:a", "openai:b", "openai:c"], openai_base_url=srv.base_url)
        out = run_panels(items, s, cache_path=tmp_path / "cache.sqlite")
        assert srv.hits == 12
        # every request is text only: the blind panel never sends an image
        assert all(all(p["type"] == "text" for p in r["messages"][0]["content"]) for r in srv.requests)
        assert out.filtered == {items[0].id: BLIND_REASON, items[2].id: BLIND_REASON}
        rec = out.records[items[0].id]
        assert rec["blind"] == {"openai:a": {"answer": "A", "correct": True}, "openai:b": {"answer": "A", "correct": True},
                                "openai:c": {"answer": "B", "correct": False}}
        assert (rec["blind_right"], rec["blind_k"], rec["blind_n"], rec["difficulty"]) == (2, 2, 3, 0.3333)
        assert out.records[items[3].id]["blind"]["openai:c"] == {"answer": None, "correct": None}
        assert out.report["blind"]["filtered"] == 2 and out.report["blind"]["k"] == 2
        assert out.report["members"]["openai:a"]["by_subtask"]["UsageSimilarity"]["accuracy"] == 75.0
        # a stricter k = 3 keeps q0; the second run asks no model (the response cache)
        srv.reset_counters()
        strict = run_panels(items, _settings(blind=["openai:a", "openai:b", "openai:c"], blind_k=3,
                                             openai_base_url=srv.base_url), cache_path=tmp_path / "cache.sqlite")
        assert srv.hits == 0
        assert strict.filtered == {items[2].id: BLIND_REASON}
        assert strict.report["members"]["openai:a"]["cached"] == 4


def test_a_tiny_offline_hf_language_model_sits_in_the_panel(tmp_path):
    from test_eval_support import build_tiny_qwen2_lm

    model = build_tiny_qwen2_lm(tmp_path / "tiny-lm")
    items = _items4()
    script = {("a", "q0"): "A", ("a", "q1"): "B", ("a", "q2"): "A", ("a", "q3"): "D"}  # right on q0, q1, q3
    with FakeOpenAI(scripted_panel(script)) as srv:
        s = _settings(blind=["openai:a", f"hf:{model}", "answer-prior"], blind_k=1, openai_base_url=srv.base_url,
                      device="cpu", max_new_tokens=4)
        out = run_panels(items, s, cache_path=tmp_path / "c.sqlite")
    tiny = out.report["members"][f"hf:{model}"]
    assert tiny["calls"] == 4 and tiny["errors"] == 0
    for c in items:
        assert set(out.records[c.id]["blind"]) == {"openai:a", f"hf:{model}", "answer-prior"}
    # k = 1: anything one member gets right goes; answer-prior abstains on these (every letter once: ties),
    # so the filtered set is what openai:a got right plus whatever the random tiny model happened to get right
    assert all(out.records[c.id]["blind"]["answer-prior"]["answer"] is None for c in items)
    tiny_right = {c.id for c in items if out.records[c.id]["blind"][f"hf:{model}"]["correct"]}
    assert set(out.filtered) == {items[0].id, items[1].id, items[3].id} | tiny_right
    again = run_panels(items, s, cache_path=tmp_path / "c.sqlite")  # cached: the model is not even loaded
    assert again.report["members"][f"hf:{model}"]["calls"] == 0 and again.filtered == out.filtered


def _png(color) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(buf, format="PNG")
    return buf.getvalue()


def test_single_image_panel_filters_items_answerable_from_one_image(tmp_path):
    items = [yes_no("SubEvent", f"q{i}", "Yes", i) for i in range(3)]
    images = {sha: _png((i * 40, 0, 0)) for i, sha in enumerate(SHA)}
    url_of = {}
    from mmrakit.modelhub.openai import data_url_for

    for sha, data in images.items():
        url_of[data_url_for(data)] = sha
    # the VLM is right from image 1 alone on q0, from image 2 alone on q1, never on q2
    right_when = {"q0": SHA[0], "q1": SHA[3]}

    def vlm(body):
        content = body["messages"][0]["content"]
        seen = [url_of[p["image_url"]["url"]] for p in content if p["type"] == "image_url"]
        assert len(seen) == 1  # one image only
        q = re.search(r"questions: (\S+)", user_text(body)).group(1)
        return "Yes" if right_when.get(q) == seen[0] else "No"

    with FakeOpenAI(vlm) as srv:
        s = _settings(blind=[], single_image=["openai:vlm"], openai_base_url=srv.base_url)
        out = run_panels(items, s, load_image=images.__getitem__, cache_path=tmp_path / "c.sqlite")
        assert srv.hits == 6
        both = run_panels(items, _settings(blind=[], single_image=["openai:vlm"], single_image_rule="both",
                                           openai_base_url=srv.base_url), load_image=images.__getitem__)
    assert out.filtered == {items[0].id: ONE_IMAGE_REASON, items[1].id: ONE_IMAGE_REASON}
    assert out.records[items[0].id]["single_image"]["openai:vlm"] == {
        "image1": {"answer": "Yes", "correct": True}, "image2": {"answer": "No", "correct": False}}
    assert out.report["single_image"]["filtered_by_subtask"] == {"SubEvent": 2}
    assert both.filtered == {}  # no item is answerable from each image alone


def test_difficulty_histogram_bins():
    assert difficulty_histogram([0.0, 0.1, 0.5, 1.0, None]) == {
        "0.0-0.2": 2, "0.2-0.4": 0, "0.4-0.6": 1, "0.6-0.8": 0, "0.8-1.0": 1, "none": 1}


@pytest.mark.slow
def test_build_with_panels_reports_filters_flags_and_difficulty(tmp_path):
    from test_build_tiny import PACK, make_tiny_pool

    from mmrakit.builders import build
    from mmrakit.builders.stats import load_report, subtask_stats
    from mmrakit.exports.export import run_export
    from mmrakit.images.importer import import_images
    from mmrakit.records import CandidateStore
    from mmrakit.relations.ingest import ingest
    from mmrakit.workspace import Workspace

    ws = Workspace.init(tmp_path / "ws")
    ingest(ws, PACK, format="pack")
    import_images(ws, str(make_tiny_pool(tmp_path / "pool")), "jsonl")
    ws.settings.panels.enabled = True
    ws.settings.panels.blind_k = 1  # any artifact solver that is right filters (to see filtering on a tiny pool)
    report = build(ws, subtasks="all", per_subtask=4, seed=1)
    panels = report["panels"]
    assert set(panels["members"]) == {"option-frequency", "answer-prior", "embedding"}
    rows = CandidateStore(ws).rows(status=None)
    filtered = [r for r in rows if r["filter_reason"] == BLIND_REASON and not r["candidate"].order_probe]
    assert len(filtered) == panels["blind"]["filtered"] > 0
    ids = {r["id"] for r in filtered}  # an order probe goes with the item it twins
    assert all(r["candidate"].twin_of in ids for r in rows
               if r["filter_reason"] == BLIND_REASON and r["candidate"].order_probe)
    for r in filtered:  # the evidence: each member's answer, and at least k right
        rec = r["candidate"].evidence.notes["panel"]
        assert rec["blind_right"] >= 1 and set(rec["blind"]) == set(panels["members"])
    kept = [r for r in rows if r["status"] == "kept"]
    assert kept and all("panel" in r["candidate"].evidence.notes for r in kept)
    assert all(r["candidate"].evidence.notes["panel"]["blind_right"] == 0 for r in kept if not r["candidate"].order_probe)
    # flags: exactly the subtasks where some solver's accuracy beats chance by more than 10 points
    expect = {t for m in panels["members"].values() for t, b in m["by_subtask"].items() if b["above_chance"] > 10}
    assert set(panels["artifact_flags"]["subtasks"]) == expect
    stats = subtask_stats(rows, load_report(ws))
    hist = {s["task"]: s["difficulty"] for s in stats if s["kept"]}
    assert all(sum(h.values()) == s["kept"] for s, h in zip([s for s in stats if s["kept"]], hist.values()))
    out = run_export(ws, tmp_path / "export", formats="parquet", with_provenance=True, include_unreviewed=True)
    import pyarrow.parquet as pq

    table = pq.read_table(sorted((tmp_path / "export" / "data").glob("*.parquet"))[0]).to_pylist()
    by_id = {r["id"]: r for r in kept}
    for row in table:
        assert row["panel_difficulty"] == by_id[row["id"]]["candidate"].evidence.notes["panel"]["difficulty"]
        assert json.loads(row["evidence"])["notes"]["panel"]["blind_n"] == 3
    assert out.splits


def test_partners_from_the_pair_miner_share_a_pair_id_only_when_both_are_kept():
    from mmrakit.builders.pipeline import SubtaskResult, link_partners

    def item(i: int, answer: str, img2: int, pid: str | None, role: str | None) -> Candidate:
        c = yes_no("Environment", "Do the two images show the same kind of environment?", answer, 0)
        c = c.model_copy(update={"image2": SHA[img2], "id": f"env-{i}"})
        if pid:
            c.evidence.notes.update(pair_id=pid, pair_role=role)
        return c

    res = SubtaskResult(task="Environment", target=8)
    res.kept = [item(0, "Yes", 1, "p1", "positive"), item(1, "No", 2, "p1", "hard_negative"),  # a pair
                item(2, "Yes", 3, "p2", "positive"),                                             # partner filtered
                item(3, "Yes", 4, "p3", "positive"), item(4, "Yes", 5, "p3", "hard_negative"),  # answers do not flip
                item(5, "No", 6, None, None)]
    report = link_partners({"Environment": res})
    assert [c.pair_id for c in res.kept] == ["p1", "p1", None, None, None, None]
    assert report["groups"] == 1 and report["by_subtask"] == {"Environment": 1}


@pytest.mark.slow
def test_demo_pipeline_runs_the_panels_and_reports_pairs_and_circular_scores(tmp_path):
    """The demo (artifact-solver panel on, circular scoring on): build report sections, then the eval report
    of the random baseline on the exported preview with NaturalBench group metrics and circular accuracy."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).parent / "golden"))
    from demo_snapshot import run_demo

    ws = run_demo(tmp_path)
    report = json.loads((ws / "candidates" / "build-report.json").read_text())
    assert report["panels"]["blind"]["members"] == ["option-frequency", "answer-prior", "embedding"]
    assert report["pairs"]["groups"] > 0
    for solver in report["panels"]["members"].values():
        assert solver["by_subtask"] and all("chance" in b for b in solver["by_subtask"].values())
    results = json.loads(next((ws / "eval").glob("*/results.json")).read_text())
    scores = results["scores"]
    assert scores["pairs"]["groups"] == report["pairs"]["groups"]  # every pair reached the export and the runner
    assert scores["circular"]["choice_items"] > 0
    md = next((ws / "eval").glob("*/report.md")).read_text()
    assert "## Paired items (NaturalBench group scoring)" in md and "## Circular scoring" in md


def test_single_image_panel_with_a_tiny_offline_hf_vlm(tmp_path):
    """A local transformers VLM (tiny random Qwen2-VL) in the single-image panel: two calls per item (image 1
    alone, image 2 alone), every answer recorded, and the filter follows k of n over what it answered."""
    from test_eval_support import build_tiny_qwen2vl

    model = build_tiny_qwen2vl(tmp_path / "tiny-vl")
    items = [yes_no("SubEvent", f"q{i}", "Yes" if i % 2 else "No", i) for i in range(3)]
    images = {sha: _png((i * 40, 90, 0)) for i, sha in enumerate(SHA)}
    s = _settings(blind=[], single_image=[f"hf:{model}"], device="cpu", max_new_tokens=3, batch_size=4)
    out = run_panels(items, s, load_image=images.__getitem__, cache_path=tmp_path / "c.sqlite")
    member = out.report["members"][f"hf:{model} (one image)"]
    assert member["calls"] == 6 and member["errors"] == 0
    answered = {}
    for c in items:
        views = out.records[c.id]["single_image"][f"hf:{model}"]
        assert set(views) == {"image1", "image2"}
        answered[c.id] = any(v["correct"] for v in views.values())
    assert set(out.filtered) == {cid for cid, ok in answered.items() if ok}
    assert all(r == ONE_IMAGE_REASON for r in out.filtered.values())
