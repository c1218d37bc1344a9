"""Share the build-wide image budget between subtasks (``[builders] max_image_reuse_total``).

An image may appear in at most ``max_image_reuse`` items of one subtask and ``max_image_reuse_total`` items
of the whole build. Built one after another, the subtasks that build first spend the shared budget and a
later one loses items it could have kept (Environment kept 50 items alone but 40 in the full build of
coco-mini). :func:`allocate` shares it instead:

1. every subtask builds alone (its own caps, every item rule: the build it would make by itself);
2. when their items together show no image more than the build-wide cap allows, that is the build;
3. otherwise an exact selection (:func:`select`, a MILP solved by scipy's HiGHS) keeps a subset of each
   subtask's items: first the largest lowest *fill ratio* (items kept / items it keeps alone, at most its
   target), then the most items. A subset keeps everything a subtask's build guarantees: a pair miner's
   positive and hard negative (one ``pair_id``) stay or go together, an order probe goes with its twin,
   Yes and No stay within one, the answer letters stay within one of each other, and an option string
   that is a distractor in more than ``max_option_repeats`` items is still the answer of one;
4. each subtask left below its own yield is built again around the images the others keep (its builders
   then find other pairs for the images it lost); the rebuilt set replaces the subset when it is larger;
5. the sequential build in ``build_order`` is the fallback: it stands when the solve does not finish
   within its time limit or when it scores at least as well (lowest fill ratio, then total).

Which items exist is decided by the subtasks' own rules; this only decides which of them are kept.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, replace

from mmrakit.models import Candidate

#: the pair miner's roles (builders/pairs.py) that make counterfactual partners: a positive (a, b) and its hard
#: negative (a, c) — one image swapped, the answer flipped, each verified by the same rules and filters
PARTNER_ROLES = ("positive", "hard_negative")


def usage(items: list[Candidate]) -> Counter:
    """Image -> how many of ``items`` show it (order probes are not counted: they repeat their twin)."""
    n: Counter = Counter()
    for c in items:
        n[c.image1] += 1
        n[c.image2] += 1
    return n


@dataclass(frozen=True)
class Unit:
    """Kept items of one subtask that are kept or dropped together: one item, or a pair miner's positive
    and its hard negative (one ``pair_id``)."""

    task: str
    items: tuple[Candidate, ...]


def units_of(task: str, kept: list[Candidate]) -> list[Unit]:
    groups: dict[str, list[Candidate]] = {}
    for c in kept:
        notes = c.evidence.notes
        pid = notes.get("pair_id") if notes.get("pair_role") in PARTNER_ROLES else None
        groups.setdefault(f"pair:{pid}" if pid else f"item:{c.id}", []).append(c)
    return [Unit(task, tuple(g)) for g in groups.values()]


@dataclass
class Rules:
    """What a subset of one subtask's items must keep (from the subtask's build)."""

    option_ledger: bool = True
    max_option_repeats: int = 2


def _rows(units: list[Unit], rules: Rules) -> list[tuple[dict[int, float], float, float]]:
    """Linear rows (coefficient per unit index, lower, upper) that keep one subtask's balances."""
    rows: list[tuple[dict[int, float], float, float]] = []
    yes_no = {j: float(sum(1 if c.answer == "Yes" else -1 for c in u.items if c.qa_type == "True or false QA"))
              for j, u in enumerate(units)}
    if any(yes_no.values()):
        rows.append(({j: v for j, v in yes_no.items() if v}, -1.0, 1.0))
    letters: dict[int, dict[str, dict[int, float]]] = {}  # options -> letter -> unit -> count
    for j, u in enumerate(units):
        for c in u.items:
            if c.options:
                per = letters.setdefault(len(c.options), {})
                per.setdefault(c.answer, {}).setdefault(j, 0.0)
                per[c.answer][j] += 1
    for n, per in letters.items():
        names = "ABCD"[:n]
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                row: dict[int, float] = {}
                for j, v in per.get(a, {}).items():
                    row[j] = row.get(j, 0.0) + v
                for j, v in per.get(b, {}).items():
                    row[j] = row.get(j, 0.0) - v
                rows.append((row, -1.0, 1.0))
    if rules.option_ledger:
        as_answer: dict[str, dict[int, float]] = {}
        as_distractor: dict[str, dict[int, float]] = {}
        for j, u in enumerate(units):
            for c in u.items:
                if not c.options:
                    continue
                answer = c.options[c.answer]
                as_answer.setdefault(answer, {}).setdefault(j, 0.0)
                as_answer[answer][j] += 1
                for t in c.options.values():
                    if t != answer:
                        as_distractor.setdefault(t, {}).setdefault(j, 0.0)
                        as_distractor[t][j] += 1
        for text, dist in sorted(as_distractor.items()):
            big = sum(dist.values())
            if big <= rules.max_option_repeats:
                continue  # never over the limit, whatever is kept
            # distractor count <= repeats + big * (kept items that answer it)
            row = dict(dist)
            for j, v in as_answer.get(text, {}).items():
                row[j] = row.get(j, 0.0) - big * v
            rows.append((row, -float("inf"), float(rules.max_option_repeats)))
    return rows


@contextmanager
def _quiet_stdout():
    """Silence the solver's own prints: scipy's bundled HiGHS writes a debug line
    ("HighsMipSolverData::transformNewIntegerFeasibleSolution ...") straight to file descriptor 1 even
    with ``disp`` off, into the middle of the build report."""
    import os
    import sys

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # captured or replaced stdout: nothing to silence at fd level
        yield
        return
    sys.stdout.flush()
    saved = os.dup(fd)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), fd)
            yield
    finally:
        os.dup2(saved, fd)
        os.close(saved)


def select(pools: dict[str, list[Unit]], base: dict[str, int], cap_total: int, rules: dict[str, Rules],
           *, time_limit: float = 20.0) -> dict[str, list[Unit]] | None:
    """The units to keep: every image in at most ``cap_total`` kept items, each subtask's balances kept
    (:func:`_rows`). Fairness first, by levels (leximin): the lowest fill ratio (items kept / ``base[task]``)
    as high as it can be; the subtasks that cannot go above it are held there and the next lowest is raised,
    and so on; then the most items; ties: the earlier units of each pool. Exact (HiGHS MILP solves); None
    when the solves do not all finish within ``time_limit`` seconds."""
    import math

    import numpy as np
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csr_matrix, lil_matrix

    deadline = time.perf_counter() + float(time_limit)
    tasks = [t for t in pools if pools[t]]
    units = [u for t in tasks for u in pools[t]]
    if not units:
        return {t: [] for t in pools}
    n = len(units)
    z = n  # the raised fill ratio: one continuous variable after the units
    images = sorted({s for u in units for c in u.items for s in (c.image1, c.image2)})
    index = {s: i for i, s in enumerate(images)}
    uses = lil_matrix((len(images), n + 1))
    kept = lil_matrix((len(tasks), n + 1))  # items kept per subtask
    side_rows: list[tuple[dict[int, float], float, float]] = []
    start = 0
    for r, t in enumerate(tasks):
        for row, lo, hi in _rows(pools[t], rules.get(t, Rules())):
            side_rows.append(({start + j: v for j, v in row.items()}, lo, hi))
        for j, u in enumerate(pools[t]):
            kept[r, start + j] = len(u.items)
            for c in u.items:
                uses[index[c.image1], start + j] += 1
                uses[index[c.image2], start + j] += 1
        start += len(pools[t])
    kept = kept.tocsr()
    constraints = [LinearConstraint(uses.tocsr(), -np.inf, float(cap_total))]
    if side_rows:
        side = lil_matrix((len(side_rows), n + 1))
        for r, (row, _, _) in enumerate(side_rows):
            for j, v in row.items():
                side[r, j] = v
        constraints.append(LinearConstraint(side.tocsr(), [lo for _, lo, _ in side_rows], [hi for _, _, hi in side_rows]))
    integrality = np.r_[np.ones(n), 0]
    sizes = np.array([len(u.items) for u in units], dtype=float)

    def solve(cost, lower: np.ndarray, fill_of: list[int] | None = None):
        left = deadline - time.perf_counter()
        if left <= 0:
            return None
        extra = [LinearConstraint(kept, lower, np.inf)]
        if fill_of:  # kept - base * z >= 0 for the subtasks being raised
            rows = lil_matrix((len(fill_of), n + 1))
            for k, r in enumerate(fill_of):
                rows[k, :] = kept[r, :]
                rows[k, z] = -float(base[tasks[r]])
            extra.append(LinearConstraint(csr_matrix(rows), 0.0, np.inf))
        upper = np.r_[np.ones(n), 1.0 if fill_of else 0.0]
        with _quiet_stdout():
            res = milp(cost, constraints=[*constraints, *extra], integrality=integrality, bounds=Bounds(0, upper),
                       options={"time_limit": left, "mip_rel_gap": 0.0, "disp": False})
        return np.round(res.x[:n]) if res.status == 0 and res.x is not None else None

    def counts(x) -> np.ndarray:
        return np.asarray(kept[:, :n] @ x).ravel()

    lower = np.zeros(len(tasks))  # items each subtask keeps at least (levels fixed so far)
    rising = [r for r, t in enumerate(tasks) if base.get(t, 0) > 0]
    while rising:
        cost = np.zeros(n + 1)
        cost[z] = -1.0
        x = solve(cost, lower, rising)
        if x is None:
            return None
        got = counts(x)
        level = min(got[r] / base[tasks[r]] for r in rising)
        floor = {r: math.ceil(level * base[tasks[r]] - 1e-9) for r in rising}
        for r in rising:
            lower[r] = floor[r]
        held = []
        for r in rising:  # can this subtask go above its level while the others keep theirs?
            cost = np.zeros(n + 1)
            cost[:n] = -np.asarray(kept[r, :n].todense()).ravel()
            best = solve(cost, lower)
            if best is None:
                return None
            if counts(best)[r] <= floor[r]:
                held.append(r)
        if not held:  # each could rise alone but not together: hold the lowest of this solution
            held = [r for r in rising if got[r] / base[tasks[r]] <= level + 1e-9]
        rising = [r for r in rising if r not in held]
    # the most items at those levels; ties: earlier units (weights that never outweigh one item)
    order = np.concatenate([np.arange(len(pools[t])) for t in tasks]).astype(float)
    x = solve(np.r_[-sizes + order / (10.0 * n * n), 0.0], lower)
    if x is None:
        return None
    out: dict[str, list[Unit]] = {t: [] for t in pools}
    for u, v in zip(units, x):
        if v > 0.5:
            out[u.task].append(u)
    return out


def score(kept: dict[str, int], base: dict[str, int]) -> tuple[tuple[float, ...], int]:
    """What the allocation maximises, comparable with ``>``: the fill ratios (kept / base, at most 1, over
    subtasks with a base) from the lowest up (leximin), then the total items."""
    ratios = sorted(round(min(1.0, kept[t] / base[t]), 9) for t in base if base[t] > 0)
    return (tuple(ratios), sum(kept.values()))


def allocate(ctx, ordered: list[str], targets: dict[str, int], build_one: Callable, greedy: Callable,
             *, time_limit: float = 20.0, progress=None, rules_for: Callable[[str], Rules] | None = None
             ) -> tuple[dict, dict]:
    """Results per subtask and the build report's ``allocation`` section (see the module's docstring).

    ``build_one(task, reserved)`` builds one subtask with ``reserved`` (image -> items of other subtasks)
    counting against the build-wide cap; ``greedy()`` is the sequential build in ``build_order``;
    ``rules_for(task)`` what a subset must keep (default: the subtask's rules, builders/data/rules.toml)."""
    started = time.perf_counter()
    cap = int(ctx.max_image_reuse_total)
    alone = {}
    for done, t in enumerate(ordered):
        if progress:
            progress("build subtasks alone", done, len(ordered))
        alone[t] = build_one(t, None)
    if progress:
        progress("build subtasks alone", len(ordered), len(ordered))
    alone_n = {t: len(r.kept) for t, r in alone.items()}
    base = {t: min(targets[t], alone_n[t]) for t in ordered}
    together = sum((usage(r.kept) for r in alone.values()), Counter())
    over = sorted(s for s, n in together.items() if n > cap)
    info: dict = {"rule": "each subtask builds alone; an exact selection keeps the subset that raises the lowest "
                          "fill ratio (kept / kept alone) first, then the total, within the build-wide image cap",
                  "images_over_cap_alone": len(over)}
    if not over:
        return _finish(alone, alone_n, "joint (alone: no image over the build-wide cap)", info, started)
    pools = {t: units_of(t, alone[t].kept) for t in ordered}
    rules_of = {t: (rules_for or (lambda task: _rules_for(ctx, task)))(t) for t in ordered}
    if progress:
        progress("share the image budget", 0, 1)
    chosen = select(pools, base, cap, rules_of, time_limit=time_limit)
    if progress:
        progress("share the image budget", 1, 1)
    fallback = greedy()
    if chosen is None:
        return _finish(fallback, alone_n, "greedy (the joint selection found no optimum in time)", info, started)
    current = {t: _subset(alone[t], chosen[t]) for t in ordered}
    rebuilt = []
    for _ in range(2):  # rebuild a short subtask around what the others keep; a second pass uses what the first freed
        changed = False
        for t in ordered:
            if len(current[t].kept) >= alone_n[t]:
                continue
            reserved = sum((usage(current[u].kept) for u in ordered if u != t), Counter())
            again = build_one(t, reserved)
            if len(again.kept) > len(current[t].kept):
                current[t] = again
                rebuilt.append(t)
                changed = True
        if not changed:
            break
    info["rebuilt"] = rebuilt
    joint_score = score({t: len(current[t].kept) for t in ordered}, base)
    greedy_score = score({t: len(fallback[t].kept) for t in ordered}, base)
    info["score"] = {"joint": {"lowest_fill": joint_score[0][:1], "total": joint_score[1]},
                     "greedy": {"lowest_fill": greedy_score[0][:1], "total": greedy_score[1]}}
    if greedy_score >= joint_score:
        return _finish(fallback, alone_n, "greedy (scores at least as well as the joint selection)", info, started)
    return _finish(current, alone_n, "joint", info, started)


def _rules_for(ctx, task: str) -> Rules:
    from .rules import rules

    return Rules(option_ledger=bool(rules()[task].param("option_ledger", True)),
                 max_option_repeats=int(ctx.max_option_repeats))


def _subset(res, units: list[Unit]):
    """``res`` with only the items of ``units`` kept (their order probes with them)."""
    keep = {c.id for u in units for c in u.items}
    return replace(res, kept=[c for c in res.kept if c.id in keep], probes=[p for p in res.probes if p.twin_of in keep],
                   skipped=Counter(res.skipped), missing=dict(res.missing))


def _finish(results: dict, alone_n: dict[str, int], method: str, info: dict, started: float) -> tuple[dict, dict]:
    per = {}
    for t, res in results.items():
        res.alone = alone_n[t]
        dropped = max(0, alone_n[t] - len(res.kept))
        res.dropped_overall_cap = dropped
        if dropped:
            res.missing = {**res.missing, "images spent by other subtasks (max_image_reuse_total)": dropped}
        per[t] = {"alone": alone_n[t], "kept": len(res.kept), "dropped_overall_cap": dropped}
    info.update({"method": method, "seconds": round(time.perf_counter() - started, 2), "by_subtask": per})
    return results, info
