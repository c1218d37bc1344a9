"""The blind judging round (benchmarks/quality_round.py) on a real workspace: verdicts carried only for
items identical in content to ones judged before, chunks that name no candidate, decoys scored against
their earlier verdict, and a merged sheet whose provenance says where each verdict came from."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from test_audit import _fill, _ws

from benchmarks.quality_round import agree, cohen_kappa, content_key, merge, prepare
from mmrakit.builders.audit import Source, write_audit
from mmrakit.errors import InputError


def _prior_round(ws, quality: Path, tmp: Path, name: str, verdicts: dict[str, tuple[str, str, str]]) -> dict:
    """Audit ``ws``, judge the SimilarMaterial items only, and file them as an earlier round."""
    a = tmp / f"{name}-audit"
    write_audit([Source("w", ws)], a, sample=0, seed=3)
    items = [json.loads(x) for x in (a / "sealed" / "items.jsonl").read_text().splitlines()]
    chosen = {i["item_id"]: verdicts[i["subtask"]] for i in items if i["subtask"] in verdicts}
    _fill(a / "judgments.csv", chosen)
    quality.mkdir(exist_ok=True)
    shutil.copyfile(a / "sealed" / "items.jsonl", quality / f"{name}-items.jsonl")
    shutil.copyfile(a / "judgments.csv", quality / f"{name}-judgments.csv")
    return {i["item_id"]: i for i in items}


def _rows(path: Path) -> list[dict]:
    return list(csv.DictReader(path.open(encoding="utf-8")))


def test_carry_chunks_decoys_and_merge(tmp_path):
    ws = _ws(tmp_path / "ws", "builder-1")
    quality = tmp_path / "quality"
    _prior_round(ws, quality, tmp_path, "val2017-round1", {"SimilarMaterial": ("accept", "", "")})
    out = tmp_path / "round2"
    summary = prepare(ws.root, out, chunks=2, decoys=2, seed=0, prior=quality, pattern="val2017-round*")
    assert summary["items"] == 12 and summary["carried"] == 6 and summary["fresh"] == 6
    assert summary["fresh_by_subtask"] == {"SubEvent": 6} and summary["decoys"] == 2

    sealed = json.loads((out / "sealed" / "round.json").read_text())
    sheets = sorted(out.glob("chunk*/sheet.csv"))
    assert len(sheets) == 2
    rows = [r for s in sheets for r in _rows(s)]
    assert len(rows) == 8 and set(r["item_id"] for r in rows) == set(sealed["chunks"])
    # the judge's folder names no audit id, candidate id or workspace
    chunk_text = "".join(s.read_text() for s in sheets)
    assert "item-" not in chunk_text and "builder-1" not in chunk_text
    for s in sheets:
        assert {p.stem for p in s.parent.glob("*.png")} == {r["item_id"] for r in _rows(s)}

    decoys = [cid for cid, v in sealed["chunks"].items() if v["decoy"]]
    assert len(decoys) == 2 and all(sealed["chunks"][c]["audit_id"] in sealed["carried"] for c in decoys)
    with pytest.raises(InputError, match="no verdict"):
        merge(out, save=None)
    for s in sheets:  # fresh SubEvent items rejected; one decoy agrees with round 1, the other does not
        _fill(s, {r["item_id"]: (("reject", "ambiguous", "") if r["item_id"] not in decoys
                                  else ("accept", "", "") if r["item_id"] == decoys[0] else ("reject", "ambiguous", ""))
                  for r in _rows(s)})

    saved = tmp_path / "saved" / "val2017-round2"
    saved.parent.mkdir()
    res = merge(out, save=str(saved))
    assert (res["decoys_agreed"], res["decoys"]) == (1, 2)
    final = _rows(Path(f"{saved}-judgments.csv"))
    assert len(final) == 12
    by_task = {}
    for r in final:
        by_task.setdefault(r["subtask"], []).append(r)
    # decoys keep the earlier verdict; the fresh verdicts are the chunk judges'
    assert all(r["verdict"] == "accept" and r["provenance"].endswith("val2017-round1")
               for r in by_task["SimilarMaterial"])
    assert all(r["verdict"] == "reject" and r["provenance"].startswith("fresh") for r in by_task["SubEvent"])
    assert "SimilarMaterial | 6/6 = 100%" in res["report"] and "SubEvent | 0/6 = 0%" in res["report"]
    assert "repeated the earlier verdict on 1 of 2" in res["report"]
    for suffix in ("key.json", "items.jsonl", "report.md"):
        assert Path(f"{saved}-{suffix}").is_file()

    # a third round carries everything, each verdict tracing back to the round that judged it fresh
    shutil.copyfile(f"{saved}-items.jsonl", quality / "val2017-round2-items.jsonl")
    shutil.copyfile(f"{saved}-judgments.csv", quality / "val2017-round2-judgments.csv")
    again = prepare(ws.root, tmp_path / "round3", chunks=2, decoys=0, seed=1, prior=quality, pattern="val2017-round*")
    assert again["carried"] == 12 and again["fresh"] == 0
    carried = json.loads((tmp_path / "round3" / "sealed" / "round.json").read_text())["carried"]
    assert sorted(v["origin"] for v in carried.values()) == ["val2017-round1"] * 6 + ["val2017-round2"] * 6


def test_content_key_tells_apart_what_a_judge_would():
    item = {"subtask": "SubEvent", "qa_type": "True or false QA", "question": "Q?", "options": None, "answer": "Yes",
            "image1": "a", "image2": "b", "item_id": "item-001", "caption_similarity": 0.3}
    same = {**item, "item_id": "item-099", "caption_similarity": 0.9}
    assert content_key(item) == content_key(same)
    for field, value in (("answer", "No"), ("image2", "c"), ("question", "Q2?"), ("options", {"A": "x"})):
        assert content_key(item) != content_key({**item, field: value})


def test_agreement_between_two_filed_rounds(tmp_path):
    ws = _ws(tmp_path / "ws", "builder-1")
    quality = tmp_path / "quality"
    _prior_round(ws, quality, tmp_path, "a", {"SimilarMaterial": ("accept", "", ""), "SubEvent": ("accept", "", "")})
    b_items = _prior_round(ws, quality, tmp_path, "b", {"SimilarMaterial": ("accept", "", ""),
                                                         "SubEvent": ("reject", "ambiguous", "")})
    # panel b judged one SubEvent item differently from the others: accept it there
    sheet = quality / "b-judgments.csv"
    rows = _rows(sheet)
    first = next(r for r in rows if b_items[r["item_id"]]["subtask"] == "SubEvent")
    first["verdict"], first["reasons"] = "accept", ""
    with sheet.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    r = agree(str(quality / "a"), str(quality / "b"))
    assert r["common"] == 12 and r["only_a"] == 0 and r["only_b"] == 0
    assert r["by_subtask"]["SimilarMaterial"] == {"items": 6, "agree": 6, "accept_a": 6, "accept_b": 6, "accept_both": 6}
    assert r["by_subtask"]["SubEvent"] == {"items": 6, "agree": 1, "accept_a": 6, "accept_b": 1, "accept_both": 1}
    # observed 7/12; a accepts 12/12, b 7/12: expected agreement 7/12, so kappa 0 (no better than chance)
    assert r["agree"] == 7 and r["kappa"] == pytest.approx(0.0)


def test_cohen_kappa_by_hand():
    assert cohen_kappa([(True, True), (True, False), (False, False), (True, True)]) == pytest.approx(0.5)
    assert cohen_kappa([]) is None and cohen_kappa([(True, True)]) is None
