"""Property tests of the object-based subtasks on coco-mini's train2017 half, checked against evidence the
build did not see: the build imports only 3 of each image's 5 COCO captions; the checks read the raw COCO
annotation files (every box, crowd flags, all 5 captions) directly, not the builder's pool or checkers.

- salience: every entity a question names has a real, non-crowd COCO box of at least 1.5% of the image
  and 32 px on its short side, and some caption names it;
- NearSameEntity: the answer's box touches the named entity in both images; no distractor has a box near
  the named entity in both images (every instance, any size), and each is absent (no box, no caption name,
  held-out captions included) from one image; no held-out caption calls a named entity something else;
- RelativePosition: a side of the picture holds the raw box's centre and most of its area;
- UsageSimilarity: no distractor repeated in more than half of the items;
- AppearanceSimilarity: held-out captions that state a named entity's colour include the item's (and the Yes/No answer
  agrees with what the held-out captions state, where they state both colours);
- SimilarMaterial / UsageSimilarity: no distractor is evidenced in both images by the full labels and all
  captions; no held-out caption contradicts the material an answer rests on;
- reuse caps, the option-repetition rule, and determinism under --seed.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from mmrakit.builders import build_candidates, open_context, resolve_subtasks
from mmrakit.builders.instances import vocab
from mmrakit.builders.rules import rules
from mmrakit.images import ImagePool
from mmrakit.images.embed import run_embed
from mmrakit.images.importer import import_images
from mmrakit.relations import bundled_subset
from mmrakit.relations.ingest import ingest
from mmrakit.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
PACK = REPO / "demo" / "relations" / "mmrakit-coco-pack.tsv"
OBJECT_TASKS = ["RelativePosition", "NearSameEntity", "AppearanceSimilarity", "SimilarMaterial", "UsageSimilarity"]
KEEP_CAPTIONS = 3

pytestmark = [pytest.mark.shared, pytest.mark.slow]


@pytest.fixture(scope="module")
def coco_train(tmp_path_factory, shared_data):
    """A workspace built from train2017 with 3 of 5 captions, and the raw COCO data for the checks."""
    src = shared_data / "coco-mini" / "annotations"
    root = tmp_path_factory.mktemp("coco-holdout")
    ann = root / "annotations"
    ann.mkdir()
    caps = json.loads((src / "captions_train2017.json").read_text())
    inst = json.loads((src / "instances_train2017.json").read_text())
    seen: Counter = Counter()
    kept, held = [], defaultdict(list)
    for a in caps["annotations"]:
        seen[a["image_id"]] += 1
        (kept.append(a) if seen[a["image_id"]] <= KEEP_CAPTIONS else held[a["image_id"]].append(a["caption"]))
    (ann / "captions_train2017.json").write_text(json.dumps({**caps, "annotations": kept}))
    (ann / "instances_train2017.json").write_text((src / "instances_train2017.json").read_text())
    (root / "train2017").symlink_to(shared_data / "coco-mini" / "train2017")
    ws = Workspace.init(root / "ws")
    ingest(ws, bundled_subset())
    ingest(ws, PACK, format="pack")
    import_images(ws, str(ann), "coco")
    run_embed(ws, clip=False, captions=True)
    ctx = open_context(ws, seed=0)
    targets = {t: 60 for t in resolve_subtasks("all")}
    results = build_candidates(ctx, list(targets), targets)
    raw = _raw(inst, caps, held, ws)
    yield ws, ctx, results, raw
    ws.close()


def _raw(inst, caps, held, ws):
    """sha -> {size, boxes: [(category, (x, y, w, h) in px, crowd)], captions (all 5), held (2)}."""
    cats = {c["id"]: c["name"] for c in inst["categories"]}
    by_file = {im["file_name"]: im for im in inst["images"]}
    boxes = defaultdict(list)
    for a in inst["annotations"]:
        boxes[a["image_id"]].append((cats[a["category_id"]], tuple(a["bbox"]), bool(a["iscrowd"])))
    allcaps = defaultdict(list)
    for a in caps["annotations"]:
        allcaps[a["image_id"]].append(a["caption"])
    out = {}
    pool = ImagePool(ws)
    for rec in pool.records():
        name = Path(str(pool.image_path(rec.sha256))).name
        im = by_file[name]
        out[rec.sha256] = {"size": (im["width"], im["height"]), "boxes": boxes[im["id"]],
                           "captions": allcaps[im["id"]], "held": held[im["id"]]}
    return out


def _kept(results, task):
    return [c for c in results[task].kept if not c.order_probe]


def _words(texts) -> list[list[str]]:
    return [re.findall(r"[a-z]+", t.lower()) for t in texts]


def _names(kind: str) -> set[tuple[str, ...]]:
    k = vocab().kinds[kind]
    return {tuple(w.split()) for w in (*k.words, kind)}


def _named_in(kind: str, captions) -> bool:
    names = _names(kind)
    return any(tuple(ws[i:i + len(n)]) == n for ws in _words(captions) for n in names for i in range(len(ws)))


def _stated(kind: str, dim: str, captions) -> set[str]:
    """Values of ``dim`` an adjective right before a name of ``kind`` states (through modifiers)."""
    v = vocab()
    adj, mods = v.dimensions[dim]["adjectives"], v.modifiers
    out = set()
    for ws in _words(captions):
        for n in _names(kind):
            for i in range(len(ws) - len(n) + 1):
                if tuple(ws[i:i + len(n)]) != n:
                    continue
                j = i - 1
                while j >= 0 and (ws[j] in adj or ws[j] in mods):
                    if ws[j] in adj:
                        out.add(adj[ws[j]])
                    j -= 1
    return out


def _px_gap(a, b, W, H) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    gx = max(0.0, max(ax, bx) - min(ax + aw, bx + bw)) / W
    gy = max(0.0, max(ay, by) - min(ay + ah, by + bh)) / H
    return (gx * gx + gy * gy) ** 0.5


def _largest(raw_im, kind):
    boxes = [b for c, b, crowd in raw_im["boxes"] if c == kind and not crowd]
    return max(boxes, key=lambda b: b[2] * b[3]) if boxes else None


def test_the_object_subtasks_yield_items(coco_train):
    _, _, results, _ = coco_train
    got = {t: len(_kept(results, t)) for t in OBJECT_TASKS}
    # AppearanceSimilarity needs a caption colour for a box its captions name by its kind, shown by its pixels:
    # with 3 captions of 80 photos that leaves one balanced item (a toy sheep boxed "teddy bear" and a range
    # the captions call a stove no longer count)
    assert got["AppearanceSimilarity"] >= 1 and all(n >= 2 for t, n in got.items() if t != "AppearanceSimilarity"), got
    assert sum(got.values()) >= 40, got


def test_named_entities_are_salient_in_the_raw_annotation(coco_train):
    _, ctx, results, raw = coco_train
    s = vocab().salience
    checked = 0
    for task in ("RelativePosition", "NearSameEntity", "AppearanceSimilarity"):
        for c in _kept(results, task):
            named = [c.evidence.entities1[0], c.evidence.entities2[0]]
            for sha, ent in zip((c.image1, c.image2), named):
                kind = ent.text if ent.source == "object" else ent.concept.rsplit("/", 1)[-1].replace("_", " ")
                assert _named_in(kind, raw[sha]["captions"]), (task, kind, raw[sha]["captions"])
                if ent.source != "object":
                    continue
                W, H = raw[sha]["size"]
                b = _largest(raw[sha], kind)
                assert b is not None, (task, kind)
                assert b[2] * b[3] >= s["min_area"] * W * H and min(b[2], b[3]) >= s["min_side"], (task, kind, b)
                checked += 1
    assert checked >= 10


def test_near_same_entity_against_every_box(coco_train):
    _, _, results, raw = coco_train
    # the test's own notion of "near", not the rule table's: touching for the answer (4% slack), within
    # 10% of the image for a distractor to count as near
    near, far = 0.04, 0.10
    items = _kept(results, "NearSameEntity")
    assert items
    for c in items:
        a, b = c.evidence.entities1[0].text, c.evidence.entities2[0].text
        answer = c.options[c.answer]
        for sha, kind in ((c.image1, a), (c.image2, b)):
            W, H = raw[sha]["size"]
            anchor = _largest(raw[sha], kind)
            assert any(_px_gap(anchor, box, W, H) <= near + 1e-6 for k, box, _ in raw[sha]["boxes"] if k == answer), \
                (c.question, answer)
        for letter, d in c.options.items():
            if letter == c.answer:
                continue
            both = True
            for sha, kind in ((c.image1, a), (c.image2, b)):
                W, H = raw[sha]["size"]
                anchor = _largest(raw[sha], kind)
                both &= any(_px_gap(anchor, box, W, H) <= far for k, box, _ in raw[sha]["boxes"] if k == d)
            assert not both, f"distractor {d!r} is near both named entities: {c.question}"


def test_near_same_entity_answer_is_not_the_text_only_favourite(coco_train):
    """A reader who knows what usually goes with what (here: co-occurrence of kinds over every raw COCO box
    of the half, computed independently of the builder) cannot pick the answer: it never leads every
    distractor by a wide margin (a person next to a sink and a tennis racket)."""
    _, _, results, raw = coco_train
    holding = defaultdict(set)
    for sha, im in raw.items():
        for k, _, _ in im["boxes"]:
            holding[k].add(sha)
    n = len(raw)

    def found_with(option: str, kind: str) -> float:  # share of images with `kind` that also hold `option`
        return (len(holding[option] & holding[kind]) + 3 * len(holding[option]) / n) / (len(holding[kind]) + 3)

    items = _kept(results, "NearSameEntity")
    assert items
    for c in items:
        named = (c.evidence.entities1[0].text, c.evidence.entities2[0].text)
        score = {k: min(found_with(v, m) for m in named) for k, v in c.options.items()}
        lead = score[c.answer] - max(s for k, s in score.items() if k != c.answer)
        assert lead < 0.25, (c.question, c.options, c.answer, score)


def test_text_only_reader_of_usual_company(coco_train):
    """filters.cooccurrence_answer on the real pool: a person is what is usually found with both an oven and
    a bicycle, so against odd objects it is picked whatever letter it has; against company as usual as
    itself, or for kinds the pool rarely shows together, it cannot tell."""
    from mmrakit.builders.filters import cooccurrence_answer

    _, ctx, results, _ = coco_train
    base = _kept(results, "NearSameEntity")[0]
    q = "What kind of object is near both the oven in image 1 and the bicycle in image 2?"
    odd = {"A": "spoon", "B": "parking meter", "C": "person", "D": "sink"}
    assert cooccurrence_answer(base.model_copy(update={"question": q, "options": odd}), ctx, 0.15) == "C"
    assert cooccurrence_answer(base.model_copy(update={"question": q, "options": {**odd, "A": "person"}}),
                               ctx, 0.15) is None  # two equally usual options: no lead
    assert cooccurrence_answer(base.model_copy(update={"question": q, "options": odd}), ctx, 0.9) is None
    assert cooccurrence_answer(base.model_copy(update={"question": q, "options": odd}), ctx, 0.15,
                               min_images=len(ctx.pool) + 1) is None  # too few images to know usual company


def test_near_same_entity_distractors_absent_from_one_image(coco_train):
    """Every distractor is absent from at least one of the two images: no box of its kind (any size,
    crowd boxes too) and no name of it in the captions the build saw; in the held-out captions too for
    all but one item in ten (a word match cannot tell a "phone booth" from a phone)."""
    _, _, results, raw = coco_train
    items = _kept(results, "NearSameEntity")
    assert items
    held_only = []
    for c in items:
        for letter, d in c.options.items():
            if letter == c.answer:
                continue
            boxed = [any(k == d for k, _, _ in raw[sha]["boxes"]) for sha in (c.image1, c.image2)]
            seen = [b or _named_in(d, [t for t in raw[sha]["captions"] if t not in raw[sha]["held"]])
                    for b, sha in zip(boxed, (c.image1, c.image2))]
            assert not all(seen), f"distractor {d!r} is in both images: {c.question}"
            if all(s or _named_in(d, raw[sha]["held"]) for s, sha in zip(seen, (c.image1, c.image2))):
                held_only.append((d, c.question))
    assert len(held_only) <= max(1, len(items) // 10), held_only


def test_near_same_entity_names_hold_in_held_out_captions(coco_train):
    """No caption, held-out ones included, calls a named entity something the dataset files under its label
    (a coffee table boxed "dining table") unless that word names a box of its own."""
    _, _, results, raw = coco_train
    v = vocab()
    items = _kept(results, "NearSameEntity")
    assert items
    bad = []
    for c in items:
        for sha, ent in ((c.image1, c.evidence.entities1[0]), (c.image2, c.evidence.entities2[0])):
            other = v.naming.get(ent.text, (None, frozenset()))[1]
            boxed = {k for k, _, _ in raw[sha]["boxes"]}
            for ws in _words(raw[sha]["captions"]):
                for n in other:
                    hit = any(tuple(ws[i:i + len(n)]) == n for i in range(len(ws)))
                    if hit and not set(v.by_words.get(n, ())) - {ent.text} & boxed:
                        bad.append((ent.text, " ".join(n), c.question))
    # the build saw 3 of 5 captions: allow one held-out disagreement in ten items
    assert len(bad) <= max(1, len(items) // 10), bad


def test_relative_position_frame_sides_against_the_raw_boxes(coco_train):
    """'On the left side': the entity's raw box has its centre in that half and most of its area there."""
    _, _, results, raw = coco_train
    items = [c for c in _kept(results, "RelativePosition") if "frame_side1" in c.evidence.notes]
    assert items
    for c in items:
        n = c.evidence.notes
        for sha, ent, side in ((c.image1, c.evidence.entities1[0], n["frame_side1"]),
                               (c.image2, c.evidence.entities2[0], n["frame_side2"])):
            W, _ = raw[sha]["size"]
            x, _, w, _ = _largest(raw[sha], ent.text)
            left_share = max(0.0, min(x + w, W / 2) - x) / w
            cx = (x + w / 2) / W
            if side == "left":
                assert cx < 0.5 and left_share >= 0.6, (c.question, ent.text, cx, left_share)
            else:
                assert cx > 0.5 and left_share <= 0.4, (c.question, ent.text, cx, left_share)


def test_relative_position_entities_are_readable_against_the_raw_boxes(coco_train):
    """No item names an entity whose raw box (the largest of its kind) is a strip along a frame edge (a table's
    rim at the bottom), and no item relating two entities names one that fills more than half of the picture
    (a table that is the whole photo; a side of the picture is still read for a big train on the left)."""
    _, _, results, raw = coco_train
    items = _kept(results, "RelativePosition")
    assert items
    r = rules()["RelativePosition"]
    max_area, flush = float(r.param("max_box_area")), float(r.param("edge_flush"))
    strip, long = float(r.param("edge_strip")), float(r.param("strip_elongation"))
    for c in items:
        for sha, ents in ((c.image1, c.evidence.entities1), (c.image2, c.evidence.entities2)):
            W, H = raw[sha]["size"]
            for ent in ents:
                x, y, w, h = _largest(raw[sha], ent.text)
                if "frame_side1" not in c.evidence.notes:
                    assert w * h <= max_area * W * H, (c.question, ent.text, "fills the frame")
                at_edge = y <= flush * H or y + h >= (1 - flush) * H
                assert not (at_edge and h < strip * H and w / W >= long * h / H), (c.question, ent.text, "edge strip")


def test_object_questions_name_only_what_a_reviewer_can_point_at(coco_train):
    """RelativePosition and NearSameEntity name no fragment of a body cut by the frame and no surface label
    (dining table, bed, ...) that fewer than two of the build's captions name on a small box, or that is a
    strip along a frame edge (evidence.toml [recognisable]), checked in pixels against the raw annotation
    and the captions the build saw."""
    _, _, results, raw = coco_train
    r = vocab().recognisable
    f = r["cut_flush"]
    checked = 0
    for task in ("RelativePosition", "NearSameEntity"):
        for c in _kept(results, task):
            for sha, ents in ((c.image1, c.evidence.entities1), (c.image2, c.evidence.entities2)):
                W, H = raw[sha]["size"]
                seen = [t for t in raw[sha]["captions"] if t not in raw[sha]["held"]]
                for ent in ents:
                    b, kind = ent.box, ent.text
                    x, y, w, h = b.x * W, b.y * H, b.w * W, b.h * H
                    area = b.w * b.h
                    bottom_or_side = x <= f * W or x + w >= (1 - f) * W or y + h >= (1 - f) * H
                    if kind in r["surface_kinds"]:
                        checked += 1
                        named = sum(_named_in(kind, [t]) for t in seen)
                        assert named >= r["surface_min_captions"] or area >= r["surface_min_area"], (c.question, kind, named, area)
                        flat = (y <= f * H or y + h >= (1 - f) * H) and h < r["surface_strip_depth"] * H and w / W >= r["surface_strip_elongation"] * h / H
                        assert not flat, (c.question, kind, "a strip along the edge")
                    usual = r["body_aspect"].get(kind)
                    if usual is not None and (bottom_or_side or y <= f * H):
                        checked += 1
                        assert area >= r["cut_min_area"], (c.question, kind, "a small fragment cut by the frame")
                        assert h / w <= usual * r["aspect_tolerance"], (c.question, kind, "a sliver")
                        assert not bottom_or_side or h / w >= usual / r["aspect_tolerance"], (c.question, kind, "a hand reaching in")
    assert checked


def test_no_usage_answer_dominates(coco_train):
    """One use answers at most max_answer_share of the target (a text-only prior otherwise: 'for putting things
    on' answered a fifth of the items)."""
    _, _, results, _ = coco_train
    share = float(rules()["UsageSimilarity"].param("max_answer_share"))
    items = _kept(results, "UsageSimilarity")
    top, n = Counter(c.options[c.answer] for c in items).most_common(1)[0]
    assert n <= max(2, round(share * results["UsageSimilarity"].target)), (top, n)


def test_usage_distractors_are_not_one_odd_option_everywhere(coco_train):
    """No use is a distractor in more than half of the UsageSimilarity items (an odd option repeated)."""
    _, _, results, _ = coco_train
    items = _kept(results, "UsageSimilarity")
    assert len(items) >= 6
    seen: Counter = Counter()
    for c in items:
        seen.update(t for k, t in c.options.items() if k != c.answer)
    top, n = seen.most_common(1)[0]
    assert n <= len(items) / 2, (top, n, len(items))


def test_appearance_agrees_with_held_out_captions(coco_train):
    _, _, results, raw = coco_train
    items = _kept(results, "AppearanceSimilarity")
    assert items
    for c in items:
        n = c.evidence.notes
        held = []
        for sha, ent, colour in ((c.image1, c.evidence.entities1[0], n["colour1"]),
                                 (c.image2, c.evidence.entities2[0], n["colour2"])):
            kind = ent.text if ent.source == "object" else ent.concept.rsplit("/", 1)[-1].replace("_", " ")
            stated = _stated(kind, "colour", raw[sha]["held"])
            assert not stated or colour in stated, \
                f"held-out captions of {kind} say {stated}, the item says {colour}: {raw[sha]['held']}"
            held.append(_stated(kind, "colour", raw[sha]["held"]))
        if held[0] and held[1]:
            assert (c.answer == "Yes") == bool(held[0] & held[1]), c.question


def _inventory(raw_im, dim: str) -> set[str]:
    """What the FULL evidence says an image may hold: every COCO label and every caption noun (vocab),
    every material adjective / use cue word in all 5 captions."""
    v = vocab()
    kinds = {k for k, _, _ in raw_im["boxes"]}
    kinds |= {k for k in v.kinds if _named_in(k, raw_im["captions"])}
    kinds |= {s for k in list(kinds) if k in v.kinds for s in v.kinds[k].implies}
    words = {w for ws in _words(raw_im["captions"]) for w in ws}
    out: set[str] = set()
    for k in kinds:
        kind = v.kinds.get(k)
        if kind is None:
            continue
        out |= set(kind.materials) if dim == "material" else set(kind.uses) | set(kind.also)
    if dim == "material":
        out |= {v.dimensions["material"]["adjectives"][w] for w in words if w in v.dimensions["material"]["adjectives"]}
    else:
        out |= {u for u, spec in v.uses.items() if words & set(spec.get("cues", ()))}
    return out


@pytest.mark.parametrize("task,dim", [("SimilarMaterial", "material"), ("UsageSimilarity", "use")])
def test_no_distractor_is_evidenced_in_both_images(coco_train, task, dim):
    _, _, results, raw = coco_train
    v = vocab()
    items = _kept(results, task)
    assert items
    values = v.dimensions["material"]["values"] if dim == "material" else list(v.uses)
    by_option = {v.option(dim, x): x for x in values}
    for c in items:
        inv1, inv2 = _inventory(raw[c.image1], dim), _inventory(raw[c.image2], dim)
        target = c.evidence.notes["target"]
        assert c.options[c.answer] == v.option(dim, target)
        for letter, text in c.options.items():
            if letter != c.answer:
                d = by_option[text]
                assert not (d in inv1 and d in inv2), f"{task}: {text!r} may hold in both images ({c.id})"
        if dim == "material":
            for side, sha in (("evidence1", c.image1), ("evidence2", c.image2)):
                kind = c.evidence.notes[side]["entity"]
                other = _stated(kind, "material", raw[sha]["held"]) - {target}
                assert not other, f"held-out captions say the {kind} is {other}, not {target}"


def test_reuse_caps_and_option_repetition(coco_train):
    ws, ctx, results, _ = coco_train
    overall: Counter = Counter()
    for task, res in results.items():
        per: Counter = Counter()
        for c in res.kept:
            per[c.image1] += 1
            per[c.image2] += 1
        assert max(per.values(), default=0) <= ctx.max_image_reuse, task
        overall.update(per)
        if task in ("NearSameEntity", "SimilarMaterial", "UsageSimilarity"):
            appear: Counter = Counter()
            answers = set()
            for c in res.kept:
                appear.update(set(c.options.values()))
                answers.add(c.options[c.answer])
            frequent = {o for o, n in appear.items() if n >= 3}
            assert frequent <= answers, (task, frequent - answers)
    assert max(overall.values()) <= ctx.max_image_reuse_total


def test_determinism_under_seed(coco_train):
    ws, _, _, _ = coco_train
    targets = {t: 60 for t in OBJECT_TASKS}
    first = build_candidates(open_context(ws, seed=0), OBJECT_TASKS, targets)
    second = build_candidates(open_context(ws, seed=0), OBJECT_TASKS, targets)
    ids = {t: [c.id for c in first[t].kept] for t in OBJECT_TASKS}
    assert ids == {t: [c.id for c in second[t].kept] for t in OBJECT_TASKS}
    other = build_candidates(open_context(ws, seed=1), OBJECT_TASKS, targets)
    assert ids != {t: [c.id for c in other[t].kept] for t in OBJECT_TASKS}


def test_similar_material_answers_are_diverse(coco_train):
    """Not "made of metal" in every item: the answers span several materials (instance evidence and
    the near-certain defaults of different kinds), so the option-repetition rule is met by diversity."""
    _, _, results, _ = coco_train
    items = _kept(results, "SimilarMaterial")
    answers = Counter(c.options[c.answer] for c in items)
    assert len(answers) >= 3, answers
    assert max(answers.values()) <= len(items) // 2 + 1, answers


def test_the_image_budget_is_shared_so_no_subtask_is_starved(coco_train):
    """The build-wide reuse cap (6 per image) binds on this pool: built alone, the subtasks show some images
    more often than that. Built one after another (build_order) the later ones lose what the earlier spent;
    the joint selection keeps a larger lowest fill ratio (kept / kept alone) and no fewer items in all, with
    both caps, the Yes/No balance, the answer-letter balance and the pair partners intact over the built items."""
    ws, ctx, _, _ = coco_train
    tasks = resolve_subtasks("all")
    targets = {t: 60 for t in tasks}
    report: dict = {}
    joint = build_candidates(open_context(ws, seed=0), tasks, targets, report=report)
    greedy = build_candidates(open_context(ws, seed=0), tasks, targets, allocation="greedy")
    assert report["images_over_cap_alone"] > 0  # the cap binds: otherwise there is nothing to share
    alone = {t: v["alone"] for t, v in report["by_subtask"].items()}

    def fills(res):
        return sorted(len(res[t].kept) / min(targets[t], alone[t]) for t in tasks if alone[t])

    assert report["method"] == "joint"
    assert fills(joint)[0] > fills(greedy)[0], (fills(joint), fills(greedy))
    assert sum(len(r.kept) for r in joint.values()) >= sum(len(r.kept) for r in greedy.values())
    overall: Counter = Counter()
    for task, res in joint.items():
        assert res.alone == alone[task] and res.dropped_overall_cap == max(0, alone[task] - len(res.kept))
        per: Counter = Counter()
        for c in res.kept:
            per.update([c.image1, c.image2])
        assert max(per.values(), default=0) <= ctx.max_image_reuse, task
        overall.update(per)
        yn = Counter(c.answer for c in res.kept if c.qa_type == "True or false QA")
        assert abs(yn["Yes"] - yn["No"]) <= 1, (task, yn)
        for n in {len(c.options) for c in res.kept if c.options}:
            letters = Counter(c.answer for c in res.kept if c.options and len(c.options) == n)
            assert max(letters.values()) - min(letters.get(x, 0) for x in "ABCD"[:n]) <= 1, (task, letters)
        kept = {c.id for c in res.kept}
        assert all(p.twin_of in kept for p in res.probes)
        # a Yes/No pair that the subtask keeps whole when built alone is never split by the sharing
        whole_alone = _whole_pairs(build_candidates(open_context(ws, seed=0), [task], {task: 60})[task].kept)
        lone = _pairs(res.kept)
        lone = {pid for pid, roles in lone.items() if len(roles) == 1}
        assert not lone & whole_alone, (task, lone & whole_alone)
    assert max(overall.values()) <= ctx.max_image_reuse_total


def _pairs(items) -> dict:
    groups: dict = {}
    for c in items:
        if c.evidence.notes.get("pair_role") in ("positive", "hard_negative"):
            groups.setdefault(c.evidence.notes["pair_id"], set()).add(c.evidence.notes["pair_role"])
    return groups


def _whole_pairs(items) -> set:
    return {pid for pid, roles in _pairs(items).items() if len(roles) == 2}
