"""The consensus rule: from the reviewers' verdicts on one candidate to validated / rejected / conflict.

Each verdict *endorses* an answer (accept -> the proposed answer, correct -> the corrected one) or
rejects. A candidate is validated when at least ``min_accept`` reviewers endorse the same answer,
rejected when at least ``min_reject`` (default ``min_accept``) reject, pending until K verdicts
are in (a later one could change the outcome), and otherwise in conflict (-> adjudication). An adjudicator's verdict is final.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Literal

from pydantic import BaseModel

from mmrakit.models import ReviewVerdict
from mmrakit.settings import ReviewSettings

Status = Literal["pending", "validated", "rejected", "conflict"]
REJECT = "REJECT"


class Consensus(BaseModel):
    status: Status
    answer: str | None = None
    question: str | None = None
    agreement: float | None = None
    verdicts: int = 0
    adjudicated: bool = False


def label(v: ReviewVerdict) -> str | None:
    """The category a verdict puts the item in: the endorsed answer, REJECT, or None (unusable)."""
    if v.choice == "reject":
        return REJECT
    return v.answer


def _question(endorsing: Sequence[ReviewVerdict], need: int) -> str | None:
    texts = Counter(v.corrected_question for v in endorsing if v.corrected_question)
    if texts:
        text, n = texts.most_common(1)[0]
        if n >= need:
            return text
    return None


def decide(verdicts: Iterable[ReviewVerdict], settings: ReviewSettings) -> Consensus:
    verdicts = list(verdicts)
    final = [v for v in verdicts if v.adjudication]
    latest: dict[str, ReviewVerdict] = {}
    for v in verdicts:  # one vote per person: a reviewer's second annotation replaces the first
        if not v.adjudication and (v.reviewer not in latest or v.updated_at >= latest[v.reviewer].updated_at):
            latest[v.reviewer] = v
    people = list(latest.values())
    if final:
        v = max(final, key=lambda x: x.updated_at)
        if v.choice == "reject" or not v.answer:
            return Consensus(status="rejected", verdicts=len(people), adjudicated=True, agreement=_share(people, REJECT))
        return Consensus(status="validated", answer=v.answer, question=v.corrected_question, verdicts=len(people),
                         adjudicated=True, agreement=_share(people, v.answer))
    labels = [label(v) for v in people]
    counts = Counter(x for x in labels if x is not None)
    n = len(people)
    if not n:
        return Consensus(status="pending")
    top = counts.most_common(1)[0][1] / n if counts else None
    if n < settings.reviewers:  # wait for all K: a later verdict could still change the outcome
        return Consensus(status="pending", verdicts=n, agreement=top)
    need_reject = settings.min_reject or settings.min_accept
    answers = [(a, k) for a, k in counts.most_common() if a != REJECT]
    unique_best = answers and (len(answers) == 1 or answers[1][1] < answers[0][1])
    accepted = bool(unique_best) and answers[0][1] >= settings.min_accept
    rejected = counts[REJECT] >= need_reject
    if accepted and not rejected:
        best = answers[0][0]
        endorsing = [v for v, x in zip(people, labels) if x == best]
        return Consensus(status="validated", answer=best, question=_question(endorsing, settings.min_accept),
                         agreement=answers[0][1] / n, verdicts=n)
    if rejected and not accepted:
        return Consensus(status="rejected", agreement=counts[REJECT] / n, verdicts=n)
    return Consensus(status="conflict", verdicts=n, agreement=top if top is not None else 0.0)


def _share(people: Sequence[ReviewVerdict], category: str) -> float | None:
    if not people:
        return None
    return sum(1 for v in people if label(v) == category) / len(people)
