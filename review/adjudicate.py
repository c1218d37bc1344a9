"""Adjudication: candidates in conflict go to a separate project (one annotation per task) whose verdict is final.

The adjudicator sees the reviewers' votes and reasons on each task (data ``votes`` / ``votes_text``,
shown by the adjudication project's labelling config), each reviewer named by the same pseudonymous
id the export uses.
"""

from __future__ import annotations

from mmrakit.records import CandidateStore
from mmrakit.verdicts import pseudonym, pseudonym_key
from mmrakit.workspace import Workspace
from .push import ADJUDICATION, PushReport, push_candidates
from .server import Connection
from .store import ReviewStore


def reviewer_votes(ws: Workspace, candidate_ids: list[str]) -> dict[str, list[dict]]:
    """candidate id -> the reviewers' current votes (latest edit per reviewer), as adjudication task data."""
    key = pseudonym_key(ws)
    latest = {}
    for v in ReviewStore(ws).verdicts(candidate_ids=candidate_ids, adjudication=False):
        k = (v.candidate_id, pseudonym(key, v.reviewer))  # the id the export uses for the same person
        if k not in latest or v.updated_at > latest[k].updated_at:
            latest[k] = v
    out: dict[str, list[dict]] = {cid: [] for cid in candidate_ids}
    for (cid, rid), v in sorted(latest.items()):
        out[cid].append({"reviewer": rid, "verdict": v.choice, "answer": v.answer,
                         "reasons": list(v.reasons), "corrected_question": v.corrected_question})
    return out


def adjudicate(ws: Workspace, conn: Connection, *, subtasks: list[str] | None = None) -> PushReport:
    """Push every candidate in conflict to the adjudication project (idempotent like `review push`)."""
    conflicts = CandidateStore(ws).list(task=subtasks, status="kept", review_status="conflict")
    with ws.stage_run("review.push", key="adjudication", inputs=[c.id for c in conflicts],
                      settings=ws.settings.review, force=True) as run:
        votes = reviewer_votes(ws, [c.id for c in conflicts])
        report = push_candidates(ws, conn, conflicts, kind=ADJUDICATION, votes=votes)
        run.counts.update(report.model_dump(exclude={"url", "kind", "projects"}))
        run.outputs.update({"project_id": report.project_id, "url": report.url})
    return report
