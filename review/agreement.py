"""Inter-reviewer agreement, computed by mmrakit (Label Studio Community has none).

Each verdict is one nominal label per (candidate, reviewer): the answer it endorses, or REJECT.
Fleiss' kappa (items with exactly K labels), Krippendorff's alpha (nominal, missing allowed; the
``krippendorff`` package), Cohen's kappa per reviewer pair, and generator-vs-people agreement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from itertools import combinations

from pydantic import BaseModel

from mmrakit.agreement import cohen_kappa, fleiss_kappa, krippendorff_alpha
from mmrakit.models import ReviewVerdict
from .consensus import REJECT, label


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
