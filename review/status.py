"""`review status`: progress per subtask, agreement so far, validated / rejected / in conflict."""

from __future__ import annotations

from pydantic import BaseModel

from mmrakit.records import CandidateStore
from mmrakit.workspace import Workspace
from .agreement import AgreementReport, agreement_report
from .store import ReviewStore

STATUSES = ("unreviewed", "pending", "validated", "rejected", "conflict")


class SubtaskProgress(BaseModel):
    subtask: str
    candidates: int
    reviewed: int  # candidates with at least one verdict
    verdicts: int
    unreviewed: int = 0
    pending: int = 0
    validated: int = 0
    rejected: int = 0
    conflict: int = 0


class ReviewStatus(BaseModel):
    reviewers_per_task: int
    min_accept: int
    subtasks: list[SubtaskProgress]
    totals: SubtaskProgress
    agreement: AgreementReport


def review_status(ws: Workspace) -> ReviewStatus:
    rows = CandidateStore(ws).rows(status="kept")
    verdicts = ReviewStore(ws).verdicts()
    per_candidate: dict[str, int] = {}
    for v in verdicts:
        if not v.adjudication:
            per_candidate[v.candidate_id] = per_candidate.get(v.candidate_id, 0) + 1
    progress: dict[str, SubtaskProgress] = {}
    totals = SubtaskProgress(subtask="all", candidates=0, reviewed=0, verdicts=0)
    for r in rows:
        p = progress.setdefault(r["task"], SubtaskProgress(subtask=r["task"], candidates=0, reviewed=0, verdicts=0))
        n = per_candidate.get(r["id"], 0)
        for target in (p, totals):
            target.candidates += 1
            target.reviewed += n > 0
            target.verdicts += n
            setattr(target, r["review_status"], getattr(target, r["review_status"]) + 1)
    s = ws.settings.review
    agreement = agreement_report(verdicts, {r["id"]: r["task"] for r in rows},
                                 {r["id"]: r["candidate"].answer for r in rows}, s.reviewers)
    return ReviewStatus(reviewers_per_task=s.reviewers, min_accept=s.min_accept,
                        subtasks=[progress[k] for k in sorted(progress)], totals=totals, agreement=agreement)
