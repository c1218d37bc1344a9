"""The audit harness on real workspaces: PNGs that hold both images and the named boxes, a sheet that
round-trips, scoring against hand-computed precision and Wilson intervals, clear errors on bad sheets,
determinism under --seed, and blind mixing of two workspaces."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest
from PIL import Image, ImageStat
from typer.testing import CliRunner

from mmrakit.builders.audit import (BOX_COLOURS, GAP, PAD, PANEL_H, PANEL_W, SHEET_COLUMNS, Source, figures,
                                    read_sheet, score_sheet, stratified_sample, to_markdown, wilson_interval,
                                    write_audit)
from mmrakit.cli.main import app
from mmrakit.errors import InputError
from mmrakit.images.importer import import_images
from mmrakit.models import Box, Candidate, EntityGrounding, Evidence
from mmrakit.records import CandidateStore
from mmrakit.workspace import Workspace

# Each image is noise around one base colour, so a region of a rendered PNG tells which image it shows.
COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220), "green": (30, 200, 30), "yellow": (230, 220, 40)}
HEADER_H = 44  # builders.audit.render_item draws the panels this far down


def _pool(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = []
    for i, (name, base) in enumerate(COLOURS.items()):
        rng = random.Random(i)
        img = Image.new("RGB", (200, 150))
        img.putdata([tuple(min(255, max(0, c + rng.randint(-25, 25))) for c in base) for _ in range(200 * 150)])
        img.save(folder / f"{name}.png")
        lines.append(json.dumps({"path": f"{name}.png", "id": name, "captions": [f"a {name} picture"],
                                 "objects": [{"category": "cup", "box": [0.25, 0.25, 0.5, 0.5]}]}))
    (folder / "images.jsonl").write_text("\n".join(lines) + "\n")
    return folder / "images.jsonl"


def _shas(ws: Workspace) -> dict[str, str]:
    from mmrakit.records import ImageCatalog

    return {r.record_id: r.sha256 for r in ImageCatalog(ws)}


def _candidates(shas: dict[str, str], version: str, n: int = 6, sim: float = 0.3) -> list[Candidate]:
    box = Box(x=0.25, y=0.25, w=0.5, h=0.5)
    out = []
    for i in range(n):
        ev = Evidence(entities1=[EntityGrounding(concept="/c/en/cup", text="cup", source="object", box=box)],
                      entities2=[EntityGrounding(concept="/c/en/mug", text="mug", source="caption")],
                      caption_similarity=sim + i / 100, notes={"builder": version})
        out.append(Candidate(task="SimilarMaterial", granularity="entity", qa_type="Choice QA",
                             question=f"Which material do the cup {i} and the mug share?",
                             options={"A": "glass", "B": "made of wood", "C": "paper"}, answer="B",
                             image1=shas["red"], image2=shas["blue"], evidence=ev, builder_version=version))
        out.append(Candidate(task="SubEvent", granularity="image", qa_type="True or false QA",
                             question=f"Is the second scene a part of the first ({i})?", answer="Yes" if i % 2 else "No",
                             image1=shas["green"], image2=shas["yellow"],
                             evidence=Evidence(caption_similarity=0.1 * i), builder_version=version))
    return out


def _ws(root: Path, version: str, sim: float = 0.3) -> Workspace:
    ws = Workspace.init(root)
    import_images(ws, str(_pool(root.parent / f"{root.name}-pool")), "jsonl")
    CandidateStore(ws).upsert(_candidates(_shas(ws), version, sim=sim))
    return ws


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    base = tmp_path_factory.mktemp("audit")
    old, new = _ws(base / "oldbuild", "builder-0.1-old", 0.3), _ws(base / "newbuild", "builder-0.2-new", 0.5)
    yield old, new
    old.close()
    new.close()


def _mean(img: Image.Image, box: tuple[int, int, int, int]) -> tuple[float, ...]:
    return tuple(ImageStat.Stat(img.crop(box).convert("RGB")).mean)


def _fill(sheet: Path, verdicts: dict[str, tuple[str, str, str]]) -> None:
    rows = list(csv.DictReader(sheet.open(encoding="utf-8")))
    for r in rows:
        r["verdict"], r["reasons"], r["right_answer"] = verdicts.get(r["item_id"], ("", "", ""))
    with sheet.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=SHEET_COLUMNS)
        w.writeheader()
        w.writerows(rows)


def test_png_shows_both_images_the_named_box_and_the_text(two, tmp_path):
    old, _ = two
    rep = write_audit([Source("old", old)], tmp_path / "a", sample=0, seed=0)
    key = json.loads((tmp_path / "a" / "sealed" / "key.json").read_text())["items"]
    store = CandidateStore(old)
    choice = next(i for i, v in key.items() if store.get(v["candidate_id"]).qa_type == "Choice QA")
    with Image.open(tmp_path / "a" / f"{choice}.png") as im:
        im.load()
    assert im.format == "PNG" and im.width == 1400 and im.height > HEADER_H + PANEL_H + 100
    # 200x150 scaled into a 676x640 panel: 676x507, centred vertically
    scale = PANEL_W / 200
    h = round(150 * scale)
    y0 = HEADER_H + (PANEL_H - h) // 2
    left = _mean(im, (PAD + 20, y0 + 20, PAD + 120, y0 + 100))         # outside the box, top-left of image 1
    right = _mean(im, (PAD + PANEL_W + GAP + 200, y0 + 200, PAD + PANEL_W + GAP + 400, y0 + 300))
    assert left[0] > 150 and left[2] < 80, left     # red image on the left
    assert right[2] > 150 and right[0] < 80, right  # blue image on the right
    # the cup's box (0.25..0.75 of image 1) is outlined in the first box colour
    bx, by = PAD + round(0.25 * PANEL_W), y0 + round(0.5 * h)
    assert any(im.getpixel((bx + dx, by)) == BOX_COLOURS[0] for dx in range(-2, 3))
    # text below the panels: dark pixels in the question area, a white margin far right of short options
    text_band = _mean(im, (PAD, HEADER_H + PANEL_H + PAD, 700, HEADER_H + PANEL_H + PAD + 30))
    assert min(text_band) < 240
    assert len(rep.items) == 12 and len(list((tmp_path / "a").glob("item-*.png"))) == 12


def test_blank_sheet_round_trips_and_filled_sheet_reads_back(two, tmp_path):
    old, _ = two
    write_audit([Source("old", old)], tmp_path / "a", sample=4, seed=3)
    sheet = tmp_path / "a" / "judgments.csv"
    blank = read_sheet(sheet)
    assert [j.verdict for j in blank] == [None] * 8
    assert {j.subtask for j in blank} == {"SimilarMaterial", "SubEvent"}
    assert all(j.proposed_answer == "B. made of wood" for j in blank if j.subtask == "SimilarMaterial")
    assert {j.proposed_answer for j in blank if j.subtask == "SubEvent"} <= {"Yes", "No"}
    ids = [j.item_id for j in blank]
    _fill(sheet, {ids[0]: ("accept", "", ""), ids[1]: ("reject", "ambiguous; wrong_answer", ""),
                  ids[2]: ("Correct", "", "A")})
    again = read_sheet(sheet)
    assert [j.item_id for j in again] == ids
    assert (again[0].verdict, again[1].reasons, again[2].verdict, again[2].right_answer) == \
        ("accept", ["ambiguous", "wrong_answer"], "correct", "A")
    assert [j.verdict for j in again[3:]] == [None] * 5


def test_wilson_interval_matches_published_values():
    # Newcombe (1998), Stat Med 17:857, Table II, method 3 (score interval without continuity correction)
    for (k, n), (lo, hi) in {(81, 263): (0.2553, 0.3662), (15, 148): (0.0624, 0.1605),
                             (0, 20): (0.0, 0.1611), (1, 29): (0.0061, 0.1718)}.items():
        got = wilson_interval(k, n)
        assert got == pytest.approx((lo, hi), abs=6e-5), (k, n, got)
    assert wilson_interval(5, 5)[1] == 1.0 and wilson_interval(0, 0) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(6, 5)


def test_score_of_a_hand_filled_sheet(two, tmp_path):
    old, _ = two
    write_audit([Source("old", old)], tmp_path / "a", sample=0, seed=1)
    sheet = tmp_path / "a" / "judgments.csv"
    items = {json.loads(x)["item_id"]: json.loads(x) for x in (tmp_path / "a/sealed/items.jsonl").read_text().splitlines()}
    mat = sorted(i for i, d in items.items() if d["subtask"] == "SimilarMaterial")
    yes = sorted(i for i, d in items.items() if d["subtask"] == "SubEvent" and d["answer"] == "Yes")
    no = sorted(i for i, d in items.items() if d["subtask"] == "SubEvent" and d["answer"] == "No")
    # SimilarMaterial: 3 accept, 1 correct, 2 reject (ambiguous x2, wrong_answer x1) -> 3/6
    verdicts = {mat[0]: ("accept", "", ""), mat[1]: ("accept", "", ""), mat[2]: ("accept", "", ""),
                mat[3]: ("correct", "", "A"), mat[4]: ("reject", "ambiguous", ""),
                mat[5]: ("reject", "ambiguous;wrong_answer", "")}
    # SubEvent: Yes items 3/3 accepted, No items 1 of 3 accepted, third No left unjudged -> 4/5
    verdicts.update({i: ("accept", "", "") for i in yes})
    verdicts.update({no[0]: ("accept", "", ""), no[1]: ("reject", "nonsensical", "")})
    _fill(sheet, verdicts)
    rep = score_sheet(sheet)
    g = rep["groups"]["all"]
    m = g["subtasks"]["SimilarMaterial"]
    assert (m["judged"], m["accept"], m["correct"], m["reject"], m["precision"]) == (6, 3, 1, 2, 0.5)
    assert m["top_reasons"] == [("ambiguous", 2), ("wrong_answer", 1)]
    # Wilson 3/6 by hand: centre 0.5, half = 1.96*sqrt(.25/6 + 3.8415/144)/(1+3.8415/6) = 0.3124
    assert m["ci95"] == pytest.approx([0.1876, 0.8124], abs=1e-4)
    s = g["subtasks"]["SubEvent"]
    assert (s["judged"], s["accept"], s["unjudged"]) == (5, 4, 1)
    assert (s["yes_items"]["accept"], s["yes_items"]["judged"]) == (3, 3)
    assert (s["no_items"]["accept"], s["no_items"]["judged"], s["no_items"]["precision"]) == (1, 2, 0.5)
    assert (g["overall"]["judged"], g["overall"]["accept"]) == (11, 7)
    # Wilson 7/11 by hand: p=.63636, centre (p + z²/22)/(1+z²/11) = 0.60107,
    # half = 1.96*sqrt(p(1-p)/11 + z²/484)/(1+z²/11) = 0.24727
    assert g["overall"]["ci95"] == pytest.approx([0.3538, 0.8483], abs=1e-4)
    f = g["figures"]
    assert (f["image_slots"], f["distinct_images"], f["most_reused_image_count"]) == (24, 4, 6)
    assert f["top_options"]["SimilarMaterial"][0]["share"] == 1.0
    # positive: 6 material items (.30 .31 .32 .33 .34 .35) + 3 Yes items (.1 .3 .5) -> 5th of 9 = .32;
    # negative: the No items (0, .2, .4), the unjudged one included (figures describe the sample)
    assert f["caption_similarity_median"] == {"positive": pytest.approx(0.32), "negative": pytest.approx(0.2)}
    md = to_markdown(rep)
    assert "| SimilarMaterial | 3/6 = 50% [19–81] |" in md and "**7/11 = 64% [35–85]**" in md


def test_bad_sheets_fail_naming_line_and_column(two, tmp_path):
    old, _ = two
    write_audit([Source("old", old)], tmp_path / "a", sample=2, seed=0)
    sheet = tmp_path / "a" / "judgments.csv"
    ids = [j.item_id for j in read_sheet(sheet)]
    _fill(sheet, {ids[0]: ("acept", "", ""), ids[1]: ("reject", "", ""), ids[2]: ("reject", "blurry", ""),
                  ids[3]: ("correct", "", "")})
    with pytest.raises(InputError) as err:
        read_sheet(sheet)
    msg = str(err.value)
    assert "judgments.csv line 2, column verdict: 'acept'" in msg
    assert "line 3, column reasons: a reject needs at least one reason" in msg
    assert "line 4, column reasons: unknown reason(s) ['blurry']" in msg
    assert "line 5, column right_answer" in msg
    bad = tmp_path / "nohead.csv"
    bad.write_text("item_id,subtask,verdict\nitem-001,X,accept\n")
    with pytest.raises(InputError, match=r"line 1 \(header\) lacks column\(s\) \['qa_type', 'proposed_answer'"):
        read_sheet(bad)
    stray = tmp_path / "a" / "stray.csv"
    stray.write_text(",".join(SHEET_COLUMNS) + "\nitem-999,SubEvent,True or false QA,Yes,accept,,,\n")
    with pytest.raises(InputError, match="item-999"):
        score_sheet(stray)


def test_seed_makes_the_sample_and_the_ids_deterministic(two, tmp_path):
    old, _ = two
    cands = CandidateStore(old).list()
    a, b, c = (stratified_sample(cands, 3, s) for s in (7, 7, 8))
    assert [x.id for x in a] == [x.id for x in b]
    assert [x.id for x in a] != [x.id for x in c]
    assert sorted(x.task for x in a) == ["SimilarMaterial"] * 3 + ["SubEvent"] * 3
    write_audit([Source("old", old)], tmp_path / "x", sample=3, seed=7)
    write_audit([Source("old", old)], tmp_path / "y", sample=3, seed=7)
    for name in ("judgments.csv", "sealed/key.json", "sealed/items.jsonl", "item-002.png"):
        assert (tmp_path / "x" / name).read_bytes() == (tmp_path / "y" / name).read_bytes(), name
    with pytest.raises(InputError, match="already holds files"):
        write_audit([Source("old", old)], tmp_path / "x", sample=3, seed=7)


def test_blind_mix_hides_the_source_and_the_key_scores_per_label(two, tmp_path):
    old, new = two
    runner = CliRunner()
    out = tmp_path / "blind"
    res = runner.invoke(app, ["candidates", "audit", "-w", str(new.root), "--label", "new", "--mix",
                              f"{old.root}:old", "--sample", "4", "--seed", "5", "--out", str(out), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["per_label"] == {"new": {"SimilarMaterial": 4, "SubEvent": 4},
                                                   "old": {"SimilarMaterial": 4, "SubEvent": 4}}
    judge_sees = (out / "judgments.csv").read_text() + (out / "sealed" / "items.jsonl").read_text()
    ids = {c.id for ws in two for c in CandidateStore(ws).list()}
    for secret in ("oldbuild", "newbuild", "builder-0.1", "builder-0.2", "old", "new", *ids):
        assert secret not in judge_sees, secret
    for png in out.glob("*.png"):
        with Image.open(png) as im:
            assert not {k for k in im.info if k not in ("dpi",)} - {"gamma"}, im.info  # no text chunks
    key = json.loads((out / "sealed" / "key.json").read_text())["items"]
    stores = {"old": CandidateStore(old), "new": CandidateStore(new)}
    assert all(stores[v["label"]].get(v["candidate_id"]) is not None for v in key.values())
    order = [key[i]["label"] for i in sorted(key)]
    assert set(order[:8]) == {"old", "new"}  # shuffled together, not one source after the other
    # old items: everything accepted; new items: everything rejected as ambiguous
    _fill(out / "judgments.csv", {i: ("accept", "", "") if v["label"] == "old" else ("reject", "ambiguous", "")
                                  for i, v in key.items()})
    res = runner.invoke(app, ["candidates", "audit", "--score", str(out / "judgments.csv"), "--key",
                              str(out / "sealed" / "key.json"), "--report", str(tmp_path / "r.md")])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "r.md").read_text()
    assert md in res.output or md.strip() in res.output
    assert "| subtask | new | old |" in md
    assert "| **overall** | **0/8 = 0% [0–32]** | **8/8 = 100% [68–100]** |" in md
    data = score_sheet(out / "judgments.csv", key=out / "sealed" / "key.json")
    assert data["groups"]["old"]["figures"]["caption_similarity_median"]["positive"] != \
        data["groups"]["new"]["figures"]["caption_similarity_median"]["positive"]
    bad = runner.invoke(app, ["candidates", "audit", "-w", str(new.root), "--mix", f"{old.root}:x", "--mix",
                              f"{old.root}:x", "--out", str(tmp_path / "dup")])
    assert bad.exit_code != 0 and "labels must differ" in str(bad.exception)


def test_figures_count_reuse_and_options():
    items = [{"subtask": "S", "image1": "a", "image2": "b", "options": {"A": "Glass", "B": "wood", "C": "paper"},
              "polarity": "positive", "caption_similarity": 0.2},
             {"subtask": "S", "image1": "a", "image2": "c", "options": {"A": "glass", "B": "metal", "C": "stone"},
              "polarity": "positive", "caption_similarity": 0.4},
             {"subtask": "T", "image1": "a", "image2": "d", "options": None, "polarity": "negative",
              "caption_similarity": None}]
    f = figures(items)
    assert (f["image_slots"], f["distinct_images"], f["most_reused_image_count"]) == (6, 4, 3)
    assert f["top_options"]["S"][0] == {"option": "glass", "items": 2, "share": 1.0}
    assert f["caption_similarity_median"] == {"positive": pytest.approx(0.3), "negative": None}


def test_tied_option_strings_are_listed_by_name():
    # options tied on their share come out in name order, so a report is the same whatever the hash seed
    items = [{"subtask": "UsageSimilarity", "image1": "a", "image2": "b", "options": {"A": t, "B": "for reading"}}
             for t in ("for sitting on", "for drinking from", "for cutting things")]
    got = [o["option"] for o in figures(items, top=3)["top_options"]["UsageSimilarity"]]
    assert got == ["for reading", "for cutting things", "for drinking from"]
