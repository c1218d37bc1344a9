"""The reuse-aware fact order (``scarce_first``) and the frame-side rules of RelativePosition: pure
functions over real builder types, no pool needed."""

from __future__ import annotations

from types import SimpleNamespace

from mmrakit.builders.base import Fact
from mmrakit.builders.families._common import scarce_first
from mmrakit.builders.families.position import _inside


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
