"""The exact Choice-item ceilings and the option-prior readers of benchmarks/choice_ceiling.py, on
hand-made facts whose answers can be counted by hand."""

from __future__ import annotations

from types import SimpleNamespace

from benchmarks.choice_ceiling import ceilings, option_prior
from mmrakit.builders.base import Fact


def _fact(a: str, b: str, answer: str, side1: list[str], side2: list[str]) -> Fact:
    return Fact(image1=a, image2=b, qa_type="Choice QA", form="choice", answer=answer,
                distractor_groups=[side1, side2, []])


def test_reuse_cap_bounds_the_items_an_image_can_join() -> None:
    facts = [_fact("hub", f"p{i}", "metal", ["wood"], ["glass"]) for i in range(5)]
    assert ceilings(facts, cap=2, repeats=100) == (2, 2)
    assert ceilings(facts, cap=5, repeats=100) == (5, 5)


def test_option_repetition_rule_bounds_never_answer_distractors() -> None:
    # five facts on distinct images, every distractor never an answer: each string may appear twice
    facts = [_fact(f"a{i}", f"b{i}", "metal", ["leather"], ["rubber"]) for i in range(5)]
    assert ceilings(facts, cap=2, repeats=2) == (5, 2)
    # two never-answer strings per side: two items per pair of strings
    facts = [_fact(f"a{i}", f"b{i}", "metal", ["leather", "brick"], ["rubber", "concrete"]) for i in range(5)]
    assert ceilings(facts, cap=2, repeats=2) == (5, 4)
    # a distractor that a chosen fact answers is free; "brick" (no fact's answer) stays bounded
    facts = [_fact(f"a{i}", f"b{i}", "metal", ["wood"], ["glass"]) for i in range(4)]
    facts += [_fact("c", "d", "wood", ["glass"], ["brick"]), _fact("e", "f", "glass", ["wood"], ["brick"])]
    assert ceilings(facts, cap=2, repeats=2) == (6, 6)
    # a string is free only once a CHOSEN item answers it: with one use each, the wood fact (glass, brick)
    # and the glass fact (wood, brick) cannot both be chosen, and any metal item would be glass's second use
    assert ceilings(facts, cap=2, repeats=1) == (6, 1)


def _item(options: dict[str, str], answer: str) -> SimpleNamespace:
    return SimpleNamespace(options=options, answer=answer, order_probe=False)


def test_option_prior_readers() -> None:
    items = [_item({"A": "metal", "B": "leather", "C": "rubber"}, "A"),
             _item({"A": "wood", "B": "metal", "C": "brick"}, "B"),
             _item({"A": "wood", "B": "rubber", "C": "glass"}, "A")]
    p = option_prior(items)
    assert p["never"] == {"leather": 1, "rubber": 2, "brick": 1, "glass": 1}
    # exclude-never: item 1 certain, item 2 one of two (wood, metal), item 3 certain (only wood answers)
    assert abs(p["exclude_never"] - (1 + 0.5 + 1) / 3) < 1e-9
    # most-frequent answer, leave-one-out (answers: metal x2, wood x1): item 1 -> metal 1 beats 0, right;
    # item 2 -> metal 1 ties wood 1 (1/2); item 3 -> wood 0, rubber 0, glass 0 (a 3-way tie: 1/3)
    assert abs(p["most_frequent"] - (1 + 1 / 2 + 1 / 3) / 3) < 1e-9
    assert abs(p["chance"] - 1 / 3) < 1e-9
    assert option_prior([]) == {"items": 0}

