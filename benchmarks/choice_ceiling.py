"""How many Choice items the evidence of a pool allows for SimilarMaterial / UsageSimilarity, and how much
a text-only reader learns from the option strings of a build.

    .venv/bin/python -m benchmarks.choice_ceiling WORKSPACE [--subtasks SimilarMaterial,UsageSimilarity]

Per subtask (mined by the real builder on the workspace's pool, seed 0):

- ``facts``: answer facts the builder mines (shared value, caption band, pair rules);
- ``usable``: facts with, on EACH side, a distractor possible in that image and not in the other (the
  single-image filter drops the rest: with every distractor impossible in one image, that image alone
  singles the answer out);
- ``cap ceiling``: the most usable facts a build can keep under the per-subtask image-reuse cap (exact
  selection, :func:`select`; the overall cap is left out);
- ``rule ceiling``: the same, with two distractors per item (one from each side) and the option-repetition
  rule (``OptionLedger``): an option string that is no chosen item's answer appears in at most
  ``max_option_repeats`` items.

Then, for the candidates of the subtask stored in the workspace (the last build), two text-only readers
that see only the option strings of the whole build (no images, no question):

- ``exclude-never``: drops the options that are never an answer in the build and guesses among the rest
  (expected accuracy);
- ``most-frequent answer``: picks the option that is most often the answer in the OTHER items
  (leave-one-out; ties count as a uniform guess among the tied).

Chance is 1 / options. Figures are counts on the given pool, for the build report (benchmarks/results-build.md).
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import lil_matrix

from mmrakit.builders.base import Fact, registry
from mmrakit.builders.pipeline import open_context
from mmrakit.records import CandidateStore
from mmrakit.workspace import Workspace


def _choices(facts: list[Fact]) -> list[tuple[int, str, str]]:
    return [(i, d1, d2) for i, f in enumerate(facts) for d1 in f.distractor_groups[0] for d2 in f.distractor_groups[1]
            if d1 != d2]


def select(facts: list[Fact], room: Callable[[str], int], repeats: int) -> list[tuple[int, str, str]]:
    """The most (index into ``facts``, distractor of side 1, distractor of side 2) choices a build could
    keep: at most one per fact, an image in at most ``room(image)`` of them, and an option string that no
    chosen fact answers a distractor of at most ``repeats`` of them (exact: scipy's HiGHS MILP). Facts need
    one-sided distractors on both sides (``distractor_groups[0]`` and ``[1]``)."""
    choices = _choices(facts)
    if not choices:
        return []
    images = sorted({s for f in facts for s in (f.image1, f.image2)})
    options = sorted({d for c in choices for d in c[1:]})
    n, big = len(choices), len(facts) + 1
    rows = len(facts) + len(images) + len(options)
    a = lil_matrix((rows, n))
    upper = np.zeros(rows)
    img_row = {s: len(facts) + k for k, s in enumerate(images)}
    opt_row = {o: len(facts) + len(images) + k for k, o in enumerate(options)}
    for j, (i, d1, d2) in enumerate(choices):
        a[i, j] = 1
        for s in {facts[i].image1, facts[i].image2}:
            a[img_row[s], j] = 1
        for d in (d1, d2):
            a[opt_row[d], j] += 1
        if facts[i].answer in opt_row:  # answering a string frees it (big-M)
            a[opt_row[facts[i].answer], j] -= big
    upper[:len(facts)] = 1
    for s, r in img_row.items():
        upper[r] = max(0, room(s))
    for r in opt_row.values():
        upper[r] = repeats
    weight = np.ones(n)
    res = milp(-weight, constraints=LinearConstraint(a.tocsr(), -np.inf, upper), integrality=np.ones(n),
               bounds=Bounds(0, 1))
    if res.x is None:
        return []
    return sorted((choices[j] for j in range(n) if res.x[j] > 0.5), key=lambda c: c[0])


def ceilings(facts: list, cap: int, repeats: int) -> tuple[int, int]:
    """(cap ceiling, rule ceiling) of usable facts, see the module docstring (:func:`select` without and
    with the option-repetition rule)."""
    room = lambda sha: cap  # noqa: E731
    return len(select(facts, room, 10**9)), len(select(facts, room, repeats))


def option_prior(cands: list) -> dict:
    """Accuracy of the two text-only readers over a subtask's kept Choice items."""
    items = [c for c in cands if c.options and not c.order_probe]
    if not items:
        return {"items": 0}
    answers = Counter(c.options[c.answer] for c in items)
    appear = Counter(o for c in items for o in c.options.values())
    never = {o: n for o, n in appear.items() if o not in answers}
    exclude = sum(1 / max(1, sum(o not in never for o in c.options.values())) for c in items) / len(items)
    loo = 0.0
    for c in items:
        right = c.options[c.answer]
        counts = {o: answers[o] - (o == right) for o in c.options.values()}
        best = max(counts.values())
        tied = [o for o, n in counts.items() if n == best]
        loo += (right in tied) / len(tied)
    return {"items": len(items), "chance": sum(1 / len(c.options) for c in items) / len(items),
            "exclude_never": exclude, "most_frequent": loo / len(items), "never": never,
            "answers": dict(answers.most_common())}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workspace")
    ap.add_argument("--subtasks", default="SimilarMaterial,UsageSimilarity")
    args = ap.parse_args()
    ws = Workspace.open(args.workspace)
    ctx = open_context(ws, seed=0)
    store = CandidateStore(ws)
    print("| subtask | facts | usable | images in usable | cap ceiling | rule ceiling | kept (store) | "
          "exclude-never reader | most-frequent-answer reader | chance |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for task in [t for t in args.subtasks.split(",") if t]:
        builder = registry()[task](ctx)
        facts = list(builder.mine())
        usable = [f for f in facts if f.distractor_groups and f.distractor_groups[0] and f.distractor_groups[1]]
        cap_only, with_rule = ceilings(usable, ctx.max_image_reuse, ctx.max_option_repeats)
        p = option_prior(store.list(task=task))
        pct = lambda x: f"{x:.0%}" if isinstance(x, float) else "-"  # noqa: E731
        print(f"| {task} | {len(facts)} | {len(usable)} | {len({s for f in usable for s in (f.image1, f.image2)})} | "
              f"{cap_only} | {with_rule} | {p['items']} | {pct(p.get('exclude_never'))} | {pct(p.get('most_frequent'))} | "
              f"{pct(p.get('chance'))} |")
        if p["items"]:
            print(f"|  | answers {p['answers']}; never an answer {p['never']} |||||||||")


if __name__ == "__main__":
    main()
