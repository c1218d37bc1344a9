"""Small helpers the families share: round-robin pairing and distractor checks."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from itertools import zip_longest


def pairs_round_robin(groups: dict[str, list[str]], rng: random.Random, max_offset: int = 50
                      ) -> Iterator[tuple[str, str, str]]:
    """(key, a, b) pairs of items sharing a key, spread over keys: round r pairs item i with item
    i+r of each key's shuffled list, so no key or item dominates the first facts."""
    keys = sorted(k for k, v in groups.items() if len(v) >= 2)
    rng.shuffle(keys)
    lists = {}
    for k in keys:
        items = sorted(set(groups[k]))
        rng.shuffle(items)
        lists[k] = items
    for offset in range(1, max_offset + 1):
        streams = [[(k, lists[k][i], lists[k][i + offset]) for i in range(len(lists[k]) - offset)]
                   for k in keys if offset < len(lists[k])]
        if not streams:
            return
        for batch in zip_longest(*streams):
            for item in batch:
                if item is not None:
                    yield item


def interleave(*lists: Iterable[str]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set()
    for batch in zip_longest(*lists):
        for x in batch:
            if x is not None and x not in seen:
                seen.add(x)
                out.append(x)
    return out


def checked(candidates: Iterable[str], is_wrong: Callable[[str], bool], limit: int = 12) -> list[str]:
    """Distractors that the graph/evidence says are wrong for this item, in order, without repeats."""
    out: list[str] = []
    for c in candidates:
        if c not in out and is_wrong(c):  # out stays short (limit), a list scan is fine
            out.append(c)
            if len(out) >= limit:
                break
    return out


def lexically_close(a: str, b: str) -> bool:
    """One concept's words contained in the other's ("cut" / "cut cake", "bear" / "teddy bear", "eat" /
    "eat food"): one may well hold whenever the other does, so they never sit together as answer and
    distractor ("play tennis" / "play frisbee" may)."""
    wa = set(a.rsplit("/", 1)[-1].split("_"))
    wb = set(b.rsplit("/", 1)[-1].split("_"))
    return wa <= wb or wb <= wa


def scarce_first(facts: list, usable: Callable[[object], bool] = lambda f: True,
                 turn: Callable[[object], str] = lambda f: f.key) -> list:
    """The same facts, reordered so that images with few usable partners come first.

    Each image may appear in only a few items (the reuse caps), so a first-come order lets hub images
    (a dining table pairs with every other table) use up their slots while images with one or two
    possible partners are left unpaired. Within each answer (``turn``, default ``Fact.key``) usable
    facts are sorted by the number of usable facts their two images take part in (fewest first; ties
    keep their order),
    and answers still take turns as before (so no answer, and no distractor, dominates the first
    items); facts that are not usable follow unchanged. Nothing is added or dropped.
    """
    ok = [f for f in facts if usable(f)]
    rest = [f for f in facts if not usable(f)]
    degree: dict[str, int] = {}
    for f in ok:
        for sha in {f.image1, f.image2}:
            degree[sha] = degree.get(sha, 0) + 1
    groups: dict[str, list] = {}
    for f in ok:
        groups.setdefault(turn(f), []).append(f)
    queues = [sorted(g, key=lambda f: degree[f.image1] + degree[f.image2]) for g in groups.values()]
    out = [f for batch in zip_longest(*queues) for f in batch if f is not None]
    return out + rest
