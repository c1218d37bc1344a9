"""Sharing the build-wide image budget (``max_image_reuse_total``) between subtasks: the joint selection
(builders/allocation.py) over constructed item pools, against the sequential (greedy) order it replaces.
The real builds are checked in tests/test_build_quality_coco.py (coco-mini's train2017 half)."""

from __future__ import annotations

from collections import Counter

from mmrakit.builders.allocation import Rules, allocate, select, units_of, usage
from mmrakit.builders.pipeline import SubtaskResult
from mmrakit.models import Candidate, Evidence


def tf(task: str, a: str, b: str, answer: str = "Yes", pair: str | None = None, role: str | None = None) -> Candidate:
    notes = {"pair_id": pair, "pair_role": role} if pair else {}
    return Candidate(task=task, granularity="image", qa_type="True or false QA", question=f"{task} {a} {b}?",
                     answer=answer, image1=a, image2=b, evidence=Evidence(notes=notes))


def choice(task: str, a: str, b: str, answer_text: str, distractors: list[str], letter: str = "A") -> Candidate:
    texts = [answer_text, *distractors]
    letters = "ABCD"[:len(texts)]
    others = iter(distractors)
    options = {x: (answer_text if x == letter else next(others)) for x in letters}
    return Candidate(task=task, granularity="entity", qa_type="Choice QA", question=f"{task} {a} {b}?",
                     options=options, answer=letter, image1=a, image2=b)


def pools_of(items: dict[str, list[Candidate]]):
    return {t: units_of(t, cs) for t, cs in items.items()}


def greedy_keep(items: dict[str, list[Candidate]], order: list[str], cap: int) -> dict[str, list[Candidate]]:
    """What a sequential build keeps: each subtask in turn, an item while its images have room."""
    used: Counter = Counter()
    out = {}
    for t in order:
        out[t] = []
        for c in items[t]:
            if used[c.image1] < cap and used[c.image2] < cap:
                out[t].append(c)
                used.update([c.image1, c.image2])
    return out


def starving_pools() -> dict[str, list[Candidate]]:
    # "Early" (built first) pairs the two hub images with everything; "Late" can only use the hubs.
    early = [choice("Early", "hub1", f"e{i}", f"x{i}", [f"y{i}", f"z{i}"], letter="ABC"[i % 3]) for i in range(3)]
    early += [choice("Early", "hub2", f"f{i}", f"u{i}", [f"v{i}", f"w{i}"], letter="ABC"[i % 3]) for i in range(3)]
    late = [tf("Late", "hub1", "l1", "Yes"), tf("Late", "hub1", "l2", "No"),
            tf("Late", "hub2", "l3", "Yes"), tf("Late", "hub2", "l4", "No")]
    return {"Early": early, "Late": late}


def test_greedy_order_starves_a_subtask_and_the_joint_selection_does_not():
    items = starving_pools()
    cap = 3
    greedy = greedy_keep(items, ["Early", "Late"], cap)
    assert len(greedy["Early"]) == 6 and greedy["Late"] == []  # the first subtask spent the hubs
    chosen = select(pools_of(items), {"Early": 6, "Late": 4}, cap, {})
    kept = {t: [c for u in us for c in u.items] for t, us in chosen.items()}
    # each hub has 3 slots, 6 in all: the fairest split keeps 3 of 6 Early items and 3 of 4 Late ones
    # (lowest fill 0.5 instead of greedy's 0; Early cannot rise above 3 without Late falling to 2 of 4)
    assert len(kept["Early"]) == 3 and len(kept["Late"]) == 3
    assert abs(Counter(c.answer for c in kept["Late"])["Yes"] - Counter(c.answer for c in kept["Late"])["No"]) <= 1
    assert Counter(c.answer for c in kept["Early"]) == {"A": 1, "B": 1, "C": 1}  # answer letters stay balanced
    assert max(usage(kept["Early"] + kept["Late"]).values()) <= cap


def test_pair_partners_stay_together_and_yes_no_stays_balanced():
    # one Yes/No pair (positive + hard negative) and loose Yes items on hub images that cannot all stay
    items = {"Pairs": [tf("Pairs", "h", "p1", "Yes", pair="q", role="positive"),
                       tf("Pairs", "h", "p2", "No", pair="q", role="hard_negative"),
                       tf("Pairs", "h", "p3", "Yes"), tf("Pairs", "g", "p4", "No"), tf("Pairs", "g", "p5", "Yes")],
             "Other": [tf("Other", "h", "o1", "Yes"), tf("Other", "g", "o2", "No")]}
    chosen = select(pools_of(items), {"Pairs": 5, "Other": 2}, 2, {})
    kept = {t: [c for u in us for c in u.items] for t, us in chosen.items()}
    ids = {c.id for c in kept["Pairs"]}
    partners = {c.id for c in items["Pairs"][:2]}
    assert partners <= ids or not partners & ids  # kept or dropped as a unit
    for cs in kept.values():
        yn = Counter(c.answer for c in cs)
        assert abs(yn["Yes"] - yn["No"]) <= 1
    assert max(usage(kept["Pairs"] + kept["Other"]).values()) <= 2
    assert kept["Other"]  # the other subtask is not starved


def test_answer_letters_stay_balanced_and_a_repeated_distractor_keeps_its_answer_item():
    # five Choice items; "glass" is a distractor in three of them and the answer of the last one, whose
    # images the other subtask also needs: dropping that one alone would leave "glass" a distractor three
    # times and never the answer (the option-repetition rule)
    items = {"Mat": [choice("Mat", "m1", "m2", "wood", ["glass", "metal"], "A"),
                     choice("Mat", "m3", "m4", "wood", ["glass", "stone"], "B"),
                     choice("Mat", "m5", "m6", "metal", ["glass", "stone"], "C"),
                     choice("Mat", "hub", "m7", "glass", ["wood", "stone"], "A")],
             "Env": [tf("Env", "hub", f"v{i}", "Yes" if i % 2 else "No") for i in range(4)]}
    chosen = select(pools_of(items), {"Mat": 4, "Env": 4}, 2, {"Mat": Rules(option_ledger=True, max_option_repeats=2)})
    mat = [c for u in chosen["Mat"] for c in u.items]
    as_distractor = Counter(t for c in mat for k, t in c.options.items() if k != c.answer)
    answers = {c.options[c.answer] for c in mat}
    assert all(n <= 2 or t in answers for t, n in as_distractor.items())
    letters = Counter(c.answer for c in mat)
    assert max(letters.values()) - min(letters.get(x, 0) for x in "ABC") <= 1
    assert max(usage(mat + [c for u in chosen["Env"] for c in u.items]).values()) <= 2


def test_a_solve_past_its_time_limit_returns_none():
    assert select(pools_of(starving_pools()), {"Early": 6, "Late": 4}, 3, {}, time_limit=0.0) is None


def _result(task: str, kept: list[Candidate]) -> SubtaskResult:
    return SubtaskResult(task=task, target=10, kept=list(kept))


def test_allocate_reports_what_the_overall_cap_dropped_and_falls_back_to_greedy():
    items = starving_pools()
    order = ["Early", "Late"]
    ctx = type("Ctx", (), {"max_image_reuse_total": 3, "max_option_repeats": 2})()

    def build_one(task, reserved):
        used = Counter(reserved or {})
        kept = []
        for c in items[task]:  # alone (reserved None): every item; a rebuild spends only what the others leave
            if reserved is None or all(used[s] < 3 for s in (c.image1, c.image2)):
                kept.append(c)
                used.update([c.image1, c.image2])
        return _result(task, kept)

    def greedy():
        return {t: _result(t, cs) for t, cs in greedy_keep(items, order, 3).items()}

    results, info = allocate(ctx, order, {"Early": 10, "Late": 10}, build_one, greedy, rules_for=lambda t: Rules())
    assert info["method"] == "joint"
    assert {t: r.alone for t, r in results.items()} == {"Early": 6, "Late": 4}
    assert all(r.dropped_overall_cap == r.alone - len(r.kept) for r in results.values())
    assert results["Late"].kept and results["Late"].summary()["dropped_overall_cap"] == results["Late"].dropped_overall_cap
    assert max(usage([c for r in results.values() for c in r.kept]).values()) <= 3
    # no time to solve: the sequential build stands, and the report says so
    results, info = allocate(ctx, order, {"Early": 10, "Late": 10}, build_one, greedy, time_limit=0.0,
                             rules_for=lambda t: Rules())
    assert info["method"].startswith("greedy") and results["Late"].kept == []
