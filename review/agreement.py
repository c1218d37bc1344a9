"""Inter-reviewer agreement, computed by mmrakit (Label Studio Community has none).

Each verdict is one nominal label per (candidate, reviewer): the answer it endorses, or REJECT.
Fleiss' kappa (items with exactly K labels), Krippendorff's alpha (nominal, missing allowed; the
``krippendorff`` package), Cohen's kappa per reviewer pair, and generator-vs-people agreement.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations

from pydantic import BaseModel

from mmrakit.models import ReviewVerdict
from .consensus import REJECT, label

Ratings = Mapping[str, Mapping[str, str]]  # item -> rater -> category


def fleiss_kappa(items: Sequence[Sequence[str]]) -> float | None:
    """Fleiss' kappa for items that each carry the same number (>= 2) of categorical ratings."""
    items = [list(x) for x in items]
    if not items:
        return None
    n = len(items[0])
    if n < 2 or any(len(x) != n for x in items):
        raise ValueError("Fleiss' kappa needs the same number (>= 2) of ratings per item")
    totals: Counter[str] = Counter()
    p_bar = 0.0
    for ratings in items:
        counts = Counter(ratings)
        totals.update(counts)
        p_bar += (sum(c * c for c in counts.values()) - n) / (n * (n - 1))
    p_bar /= len(items)
    p_e = sum((c / (len(items) * n)) ** 2 for c in totals.values())
    if math.isclose(p_e, 1.0):
        return None  # one category everywhere: agreement is undefined, not perfect
    return (p_bar - p_e) / (1 - p_e)


def krippendorff_alpha(ratings: Ratings) -> float | None:
    """Nominal Krippendorff's alpha over items x raters with missing ratings allowed."""
    import numpy as np

    import krippendorff

    raters = sorted({r for per in ratings.values() for r in per})
    items = [i for i, per in ratings.items() if len(per) >= 2]
    cats = sorted({c for i in items for c in ratings[i].values()})
    if len(items) < 1 or len(cats) < 2:
        return None
    code = {c: k for k, c in enumerate(cats)}
    data = np.full((len(raters), len(items)), np.nan)
    for j, item in enumerate(items):
        for i, rater in enumerate(raters):
            if rater in ratings[item]:
                data[i, j] = code[ratings[item][rater]]
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two raters over the same items."""
    if len(a) != len(b):
        raise ValueError("Cohen's kappa needs paired ratings")
    n = len(a)
    if n == 0:
        return None
    p_o = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    p_e = sum(ca[k] * cb.get(k, 0) for k in ca) / (n * n)
    if math.isclose(p_e, 1.0):
        return None
    return (p_o - p_e) / (1 - p_e)


class GroupAgreement(BaseModel):
    items: int
    verdicts: int
    fleiss_kappa: float | None
    fleiss_items: int
    krippendorff_alpha: float | None
    generator_accept_rate: float | None
    generator_kappa: float | None


class PairAgreement(BaseModel):
    reviewers: tuple[str, str]
    items: int
    cohen_kappa: float | None


class AgreementReport(BaseModel):
    overall: GroupAgreement
    per_subtask: dict[str, GroupAgreement]
    pairs: list[PairAgreement]


def _ratings(verdicts: Iterable[ReviewVerdict]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = defaultdict(dict)
    latest: dict[tuple[str, str], ReviewVerdict] = {}
    for v in verdicts:
        if v.adjudication or label(v) is None:
            continue
        key = (v.candidate_id, v.reviewer)
        if key not in latest or v.updated_at > latest[key].updated_at:
            latest[key] = v
    for (cid, reviewer), v in latest.items():
        out[cid][reviewer] = label(v)  # type: ignore[assignment]
    return dict(out)


def _group(ratings: Mapping[str, Mapping[str, str]], proposed: Mapping[str, str], k: int) -> GroupAgreement:
    full = [list(per.values()) for per in ratings.values() if len(per) == k]
    gen, people = [], []
    for cid, per in ratings.items():
        for cat in per.values():
            if cid in proposed:
                gen.append(proposed[cid])
                people.append(cat)
    return GroupAgreement(
        items=len(ratings), verdicts=sum(len(p) for p in ratings.values()),
        fleiss_kappa=fleiss_kappa(full) if k >= 2 and full else None, fleiss_items=len(full),
        krippendorff_alpha=krippendorff_alpha(ratings),
        generator_accept_rate=(sum(g == p for g, p in zip(gen, people)) / len(gen)) if gen else None,
        generator_kappa=cohen_kappa(gen, people) if gen else None)


def agreement_report(verdicts: Iterable[ReviewVerdict], subtask_of: Mapping[str, str], proposed: Mapping[str, str],
                     k: int) -> AgreementReport:
    """Agreement overall, per subtask and per reviewer pair; ``k`` = reviewers per task (for Fleiss)."""
    ratings = _ratings(verdicts)
    by_subtask: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    for cid, per in ratings.items():
        by_subtask[subtask_of.get(cid, "?")][cid] = per
    reviewers = sorted({r for per in ratings.values() for r in per})
    pairs = []
    for r1, r2 in combinations(reviewers, 2):
        both = [(per[r1], per[r2]) for per in ratings.values() if r1 in per and r2 in per]
        if both:
            a, b = zip(*both)
            pairs.append(PairAgreement(reviewers=(r1, r2), items=len(both), cohen_kappa=cohen_kappa(a, b)))
    return AgreementReport(overall=_group(ratings, proposed, k),
                           per_subtask={t: _group(r, proposed, k) for t, r in sorted(by_subtask.items())},
                           pairs=pairs)


__all__ = ["REJECT", "fleiss_kappa", "krippendorff_alpha", "cohen_kappa", "agreement_report", "AgreementReport"]
