"""Paired items (NaturalBench question / image / group accuracy) and circular scoring (VLMEvalKit
CircularEval) through real backend paths: a predictions file and the scripted OpenAI-compatible server.
Every expected figure is computed by hand in the comments."""

from __future__ import annotations

import json
import re
from pathlib import Path

from mmrakit.circular import rotate, rotations
from mmrakit.evaluation.runner import run_eval
from mmrakit.settings import Settings
from support.fake_openai import FakeOpenAI, user_text
from test_eval_support import mmra_rows, png, write_parquet

FAST = Settings()
FAST.eval.bootstrap_samples = 50


def test_rotation_moves_the_answer_with_its_text():
    opts = {"A": "cut", "B": "eat", "C": "sit", "D": "run"}
    assert rotate(opts, "A", 1) == ({"A": "eat", "B": "sit", "C": "run", "D": "cut"}, "D")
    assert rotate(opts, "B", 2) == ({"A": "sit", "B": "run", "C": "cut", "D": "eat"}, "D")
    assert [a for _, _, a in rotations(opts, "C")] == ["C", "B", "A", "D"]
    three = {"A": "x", "B": "y", "C": "z"}
    assert [(o["A"], a) for _, o, a in rotations(three, "A")] == [("x", "A"), ("y", "C"), ("z", "B")]


def _write(tmp_path: Path, responses: dict[str, str]) -> Path:
    p = tmp_path / "preds.jsonl"
    p.write_text("".join(json.dumps({"id": k, "response": v}) + "\n" for k, v in responses.items()))
    return p


def test_circular_mode_with_a_predictions_file(tmp_path):
    # item-0: Choice, gold A ("cut 0"); item-1: Yes/No gold Yes; item-2: Choice, gold B ("eat 2"); item-3: gold No
    data = write_parquet(tmp_path / "d.parquet", mmra_rows(4, with_ids=True))
    preds = _write(tmp_path, {
        # item-0 follows the text "cut 0": rotation 1 puts it at D, rotation 2 at C, rotation 3 at B
        "item-0": "A", "item-0@r1": "D", "item-0@r2": "C", "item-0@r3": "B",
        # item-2 always says B: right on the original only (rotation k moves gold B to A, D, C)
        "item-2": "B", "item-2@r1": "B", "item-2@r2": "B", "item-2@r3": "B",
        "item-1": "Yes", "item-3": "Yes",
    })
    out = run_eval(str(data), predictions=preds, settings=FAST, out_dir=tmp_path / "o", circular=True)
    by_id = {r["id"]: r for r in out.records}
    assert [r["answer"] for r in by_id["item-2"]["rotated"]] == ["A", "D", "C"]
    assert by_id["item-0"]["circular_correct"] is True and by_id["item-2"]["circular_correct"] is False
    assert by_id["item-1"]["circular_correct"] is None
    # plain: item-0, item-1, item-2 right, item-3 wrong -> 75; circular: item-0 and item-1 -> 50
    assert out.summary["overall"]["accuracy"] == 75.0
    c = out.summary["circular"]
    assert (c["choice_items"], c["rotations"]) == (2, 8)
    assert (c["choice_accuracy_plain"], c["choice_accuracy_circular"], c["overall_accuracy_circular"]) == (100.0, 50.0, 50.0)
    assert len(out.records) == 4 and out.summary["n"] == 4  # rotations are not extra items
    report = (tmp_path / "o" / "report.md").read_text()
    assert "## Circular scoring (VLMEvalKit CircularEval)" in report
    assert "| Choice QA | 100.00 | 50.00 |" in report
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert results["scores"]["circular"]["choice_accuracy_circular"] == 50.0
    # without --circular the same file scores plain only, and no rotation is asked
    plain = run_eval(str(data), predictions=preds, settings=FAST, out_dir=tmp_path / "p")
    assert "circular" not in plain.summary and plain.summary["overall"]["accuracy"] == 75.0


def _letter_of(text: str, wanted: str) -> str:
    m = re.search(r"([A-D]): " + re.escape(wanted) + r"\b", text)
    return m.group(1) if m else "A"


def test_circular_mode_against_the_scripted_server(tmp_path):
    rows = [r for r in mmra_rows(8, with_ids=True) if r["QA_type"] == "Choice QA"]  # golds A, B, C, D
    data = write_parquet(tmp_path / "c.parquet", rows)
    gold_text = {int(r["id"].split("-")[1]): eval(r["options"])[r["answer"]] for r in rows}
    s = FAST.model_copy(deep=True)
    s.eval.api_key_env, s.eval.retry_initial_s, s.eval.timeout_s = "MMRAKIT_TEST_KEY", 0.01, 2.0

    def knows(body):  # answers the gold text wherever the rotation put it
        text = user_text(body)
        i = int(re.search(r"Question number (\d+)", text).group(1))
        return _letter_of(text, gold_text[i])

    with FakeOpenAI(knows) as srv:
        s.eval.openai_base_url = srv.base_url
        out = run_eval(str(data), "openai:m", settings=s, out_dir=tmp_path / "k", circular=True)
        assert srv.hits == 16  # 4 items x 4 rotations
    assert out.summary["circular"]["choice_accuracy_circular"] == 100.0
    with FakeOpenAI(lambda body: "A") as srv:  # position bias: always A
        s.eval.openai_base_url = srv.base_url
        out = run_eval(str(data), "openai:m", settings=s, out_dir=tmp_path / "a", circular=True)
    # plain: only the gold-A item is right (25%); every item has one rotation with gold A, none has all four
    assert out.summary["overall"]["accuracy"] == 25.0
    assert out.summary["circular"]["choice_accuracy_circular"] == 0.0


def _paired_rows() -> list[dict]:
    """Two NaturalBench-style groups of four (two questions x two image pairs) and one pair of two.

    g1: images P, Q; questions "q1" (P: Yes, Q: No) and "q2" (P: No, Q: Yes).
    g2: the same layout on images R, S.   g3: one question on images T, U (Yes / No).
    """
    img = {k: {"bytes": png(c), "path": None} for k, c in
           {"P": (200, 0, 0), "Q": (0, 200, 0), "R": (0, 0, 200), "S": (90, 90, 0), "T": (0, 90, 90), "U": (90, 0, 90),
            "Z": (9, 9, 9)}.items()}
    rows = []
    for g, (a, b) in {"g1": ("P", "Q"), "g2": ("R", "S")}.items():
        for q, (ans_a, ans_b) in {"q1": ("Yes", "No"), "q2": ("No", "Yes")}.items():
            for im, ans in ((a, ans_a), (b, ans_b)):
                rows.append({"id": f"{g}-{q}-{im}", "Task": "SubEvent", "QA_type": "True or false QA",
                             "question": f"{g} {q}?", "image1": img[im], "image2": img["Z"], "options": None,
                             "answer": ans, "pair_id": g})
    for im, ans in (("T", "Yes"), ("U", "No")):
        rows.append({"id": f"g3-{im}", "Task": "Causality", "QA_type": "True or false QA", "question": "g3?",
                     "image1": img[im], "image2": img["Z"], "options": None, "answer": ans, "pair_id": "g3"})
    rows.append({"id": "solo", "Task": "Causality", "QA_type": "True or false QA", "question": "solo?",
                 "image1": img["T"], "image2": img["U"], "options": None, "answer": "Yes", "pair_id": None})
    return rows


def test_naturalbench_group_scores_from_a_predictions_file(tmp_path):
    data = write_parquet(tmp_path / "pairs.parquet", _paired_rows())
    # g1: all four right. g2: wrong on (q1, S) only. g3: wrong on U. solo: right (not in any group).
    wrong = {"g2-q1-S", "g3-U"}
    gold = {r["id"]: r["answer"] for r in _paired_rows()}
    preds = _write(tmp_path, {i: (("No" if a == "Yes" else "Yes") if i in wrong else a) for i, a in gold.items()})
    out = run_eval(str(data), predictions=preds, settings=FAST, out_dir=tmp_path / "o")
    p = out.summary["pairs"]
    # question units: g1q1 ok, g1q2 ok, g2q1 (S wrong) no, g2q2 ok, g3 (U wrong) no -> 3/5 = 60
    # image units: g1P ok, g1Q ok, g2R ok, g2S (q1 wrong) no, g3T ok, g3U no -> 4/6 = 66.67
    # groups: g1 ok, g2 no, g3 no -> 1/3 = 33.33; items in groups: 8 + 2 = 10, 8 right -> 80
    assert (p["groups"], p["items"], p["question_units"], p["image_units"]) == (3, 10, 5, 6)
    assert (p["question_accuracy"], p["image_accuracy"], p["group_accuracy"], p["item_accuracy"]) == \
        (60.0, 66.67, 33.33, 80.0)
    assert p["group_accuracy_by_task"] == {"Causality": 0.0, "SubEvent": 50.0}
    assert out.summary["overall"]["accuracy"] == round(100 * 9 / 11, 2)  # plain accuracy stays beside it
    report = (tmp_path / "o" / "report.md").read_text()
    assert "## Paired items (NaturalBench group scoring)" in report and "| group accuracy | 33.33 |" in report


def test_a_model_that_ignores_the_images_loses_every_group(tmp_path):
    """Partners flip the answer, so a model that answers from the question alone (the scripted server
    always says Yes) gets half the paired items right and no group."""
    data = write_parquet(tmp_path / "pairs.parquet", _paired_rows())
    s = FAST.model_copy(deep=True)
    s.eval.api_key_env, s.eval.retry_initial_s, s.eval.timeout_s = "MMRAKIT_TEST_KEY", 0.01, 2.0
    with FakeOpenAI(lambda body: "Yes") as srv:
        s.eval.openai_base_url = srv.base_url
        out = run_eval(str(data), "openai:m", settings=s, out_dir=tmp_path / "y")
    p = out.summary["pairs"]
    # image units: only g3's T (a one-question unit, gold Yes) is all right -> 1/6
    assert (p["item_accuracy"], p["question_accuracy"], p["image_accuracy"], p["group_accuracy"]) == (50.0, 0.0, 16.67, 0.0)
