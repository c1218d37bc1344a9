"""Small helpers the families share: round-robin pairing and distractor checks."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from itertools import zip_longest


def pairs_round_robin(groups: dict[str, list[str]], rng: random.Random, max_offset: int = 50
                      ) -> Iterator[tuple[str, str, str]]:
    """(key, a, b) pairs of items sharing a key, spread over keys: round r pairs item i with item
    i+r of each key's shuffled list, so no key or item dominates the first facts; each pair comes in
    either order (:func:`either_order`)."""
    return either_order(_round_robin(groups, rng, max_offset), rng)


def either_order(pairs: Iterable[tuple[str, str, str]], rng: random.Random) -> Iterator[tuple[str, str, str]]:
    """Each (key, a, b) pair in either order, a coin flipped as the pair is handed out, so neither image
    is image 1 more often."""
    for k, a, b in pairs:
        yield (k, b, a) if rng.random() < 0.5 else (k, a, b)


def _round_robin(groups: dict[str, list[str]], rng: random.Random, max_offset: int) -> Iterator[tuple[str, str, str]]:
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


def most_within_caps(facts: list, room: Callable[[str], int], balance: Callable[[object], int] | None = None) -> list:
    """The same facts, reordered so that a largest set of them that fits the images' reuse caps comes
    first (each image in at most ``room(sha)`` of them; a maximum b-matching, solved exactly as a small
    integer programme), in their given order, then all the others in theirs. Greedy order lets two hub
    images spend their slots on pairs whose partners had no other partner; this keeps those partners
    in. ``balance`` (+1 / -1 / 0 per fact, e.g. Yes / No / Choice) keeps the chosen +1 and -1 facts within one
    of each other, as the build's Yes/No balance will. Nothing is added or dropped."""
    if len(facts) < 2:
        return list(facts)
    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp

    images = sorted({sha for f in facts for sha in (f.image1, f.image2)})
    index = {sha: i for i, sha in enumerate(images)}
    a = np.zeros((len(images), len(facts)))
    for j, f in enumerate(facts):
        for sha in {f.image1, f.image2}:
            a[index[sha], j] = 1
    caps = np.array([max(0, room(sha)) for sha in images], dtype=float)
    # most facts; among equal sets, earlier facts (a tiny tie-break that never outweighs one more fact)
    cost = -np.ones(len(facts)) + np.arange(len(facts)) / (10.0 * len(facts) ** 2)
    constraints = [LinearConstraint(a, -np.inf, caps)]
    if balance is not None:
        constraints.append(LinearConstraint(np.array([[float(balance(f)) for f in facts]]), -1, 1))
    # a bounded solve: when it does not prove the optimum in time (a pool too large), the given order
    # stands, so the build never depends on the machine's speed
    res = milp(cost, constraints=constraints, integrality=np.ones(len(facts)), bounds=Bounds(0, 1),
               options={"time_limit": 20.0, "mip_rel_gap": 0.0})
    if res.status != 0 or res.x is None:
        return list(facts)
    chosen = [f for f, x in zip(facts, res.x) if x > 0.5]
    taken = {id(f) for f in chosen}
    return chosen + [f for f in facts if id(f) not in taken]
