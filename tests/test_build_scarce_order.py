"""The reuse-aware fact order (``scarce_first``) and the frame-side rules of RelativePosition: pure
functions over real builder types, no pool needed."""

from __future__ import annotations

from types import SimpleNamespace

from mmrakit.builders.base import Fact
from mmrakit.builders.families._common import most_within_caps, scarce_first
from mmrakit.builders.families.position import _inside, corner_cut, unreadable_box
from mmrakit.builders.rules import rules
from mmrakit.models import Box


def _fact(a: str, b: str, key: str, usable: bool = True) -> Fact:
    return Fact(image1=a, image2=b, qa_type="Choice QA", form="choice", answer=key, key=key,
                distractor_groups=[["x"], ["y"] if usable else []])


def _greedy(facts: list[Fact], cap: int) -> list[Fact]:
    """What a per-image reuse cap keeps when facts arrive in this order."""
    used: dict[str, int] = {}
    kept = []
    for f in facts:
        if all(used.get(i, 0) < cap for i in (f.image1, f.image2)):
            kept.append(f)
            for i in (f.image1, f.image2):
                used[i] = used.get(i, 0) + 1
    return kept


def test_scarce_first_keeps_every_fact_and_puts_unusable_last():
    facts = [_fact("h", "a", "t"), _fact("h", "b", "t", usable=False), _fact("c", "d", "u"), _fact("h", "e", "t")]
    out = scarce_first(facts, lambda f: bool(f.distractor_groups[1]))
    assert sorted(map(id, out)) == sorted(map(id, facts))
    assert out[-1] is facts[1]


def test_scarce_first_serves_images_with_few_partners_before_a_hub():
    # the hub pairs with a and with e; a also pairs with b; b and e have no one else
    facts = [_fact("hub", "a", "t"), _fact("a", "b", "t"), _fact("hub", "e", "t")]
    first_come = _greedy(facts, cap=1)
    reordered = _greedy(scarce_first(facts), cap=1)
    assert [(f.image1, f.image2) for f in first_come] == [("hub", "a")]  # b and e are left alone
    assert {(f.image1, f.image2) for f in reordered} == {("a", "b"), ("hub", "e")}


def test_scarce_first_answers_take_turns():
    facts = [_fact(f"m{i}", f"n{i}", "metal") for i in range(4)] + [_fact("w1", "w2", "wood")]
    out = scarce_first(facts)
    assert [f.key for f in out[:2]] == ["metal", "wood"]  # wood is not pushed behind every metal item
    grouped = scarce_first(facts, turn=lambda f: "all")
    assert [f.key for f in grouped].count("metal") == 4


def test_inside_share():
    box = lambda x, y, w, h: SimpleNamespace(x=x, y=y, w=w, h=h)  # noqa: E731
    train = box(0.2, 0.2, 0.8, 0.6)
    assert abs(_inside(box(0.85, 0.3, 0.1, 0.2), train) - 1.0) < 1e-9  # a passenger behind the windows
    assert _inside(box(0.0, 0.3, 0.2, 0.2), train) == 0.0  # someone on the platform
    assert abs(_inside(box(0.1, 0.3, 0.2, 0.2), train) - 0.5) < 1e-9


def test_most_within_caps_keeps_the_largest_set_the_caps_allow():
    # two hubs pair with each other first; each also pairs with two images that have no one else. First come,
    # cap 2: hub-hub takes a slot of each hub, leaving 3 facts in all; the best order keeps all 4 spokes.
    facts = [_fact("h1", "h2", "t"), _fact("h1", "a", "t"), _fact("h1", "b", "t"), _fact("h2", "c", "t"),
             _fact("h2", "d", "t")]
    assert len(_greedy(facts, cap=2)) == 3
    out = most_within_caps(facts, lambda sha: 2)
    assert sorted(map(id, out)) == sorted(map(id, facts))  # nothing added or dropped
    assert len(_greedy(out, cap=2)) == 4
    # an image with no room left (other subtasks used it) takes no fact first: the fact with "a" is not among the 3 chosen
    out = most_within_caps(facts, lambda sha: 0 if sha == "a" else 2)
    assert all(f is not facts[1] for f in out[:3]) and sorted(map(id, out)) == sorted(map(id, facts))


def test_boxes_no_side_is_read_against():
    # the settings from the rule table, so the boxes stay on their side of each threshold when it moves
    r = rules()["RelativePosition"]
    strip, max_area = float(r.param("edge_strip")), float(r.param("max_box_area"))
    flush, long = float(r.param("edge_flush")), float(r.param("strip_elongation"))
    kw = dict(edge_strip=strip, max_area=max_area, flush=flush, elongation=long)
    h = 0.9 * strip
    w = 1.2 * long * h
    assert w < 1.0 and w * h < max_area
    # the rim of a table along the bottom edge, stopping a few pixels short of it; the same along a side
    assert unreadable_box(Box(x=0.3, y=1 - h - flush / 2, w=w, h=h), **kw)
    assert unreadable_box(Box(x=flush / 2, y=0.3, w=h, h=w), **kw)
    assert not unreadable_box(Box(x=0.3, y=0.4, w=w, h=h), **kw)  # not at an edge
    assert not unreadable_box(Box(x=0.3, y=1 - h - 2 * flush, w=w, h=h), **kw)  # not flush with it
    assert not unreadable_box(Box(x=0.3, y=1 - h, w=0.8 * long * h, h=h), **kw)  # not long enough for a strip
    deep = 1.1 * strip
    assert not unreadable_box(Box(x=0.0, y=1 - deep, w=min(1.0, 1.2 * long * deep), h=deep), **kw)  # deeper than a strip
    # a table filling the frame; a box just under the area limit, clear of the edges, is readable
    assert unreadable_box(Box(x=0.0, y=0.0, w=1.0, h=min(1.0, max_area + 0.05)), **kw)
    side = (0.9 * max_area) ** 0.5
    assert not unreadable_box(Box(x=(1 - side) / 2, y=(1 - side) / 2, w=side, h=side), **kw)
    # a hand reaching in from a bottom corner
    cut = float(r.param("stack_bottom_cut"))
    assert corner_cut(Box(x=0.0, y=0.66, w=0.68, h=0.34), cut)
    assert not corner_cut(Box(x=0.4, y=0.7, w=0.4, h=0.3), cut)  # bottom only: a dog at a person's feet
    assert not corner_cut(Box(x=0.0, y=0.66, w=0.68, h=0.34), -1.0)  # the rule switched off


def test_most_within_caps_keeps_yes_and_no_balanced():
    # three disjoint "Yes" pairs and one "No" pair: all fit the caps, but only 2 Yes + 1 No keep the balance
    facts = [Fact(image1=f"y{i}", image2=f"z{i}", qa_type="True or false QA", form="tf", answer="Yes", key=f"y{i}")
             for i in range(3)]
    facts.append(Fact(image1="n1", image2="n2", qa_type="True or false QA", form="tf", answer="No", key="n"))
    out = most_within_caps(facts, lambda sha: 2, balance=lambda f: 1 if f.answer == "Yes" else -1)
    assert [f.answer for f in out[:3]].count("No") == 1 and out[-1].answer == "Yes"
    assert sorted(map(id, out)) == sorted(map(id, facts))
