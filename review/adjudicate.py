"""Adjudication: candidates in conflict go to a separate project (one annotation per task) whose verdict is final."""

from __future__ import annotations

from mmrakit.records import CandidateStore
from mmrakit.workspace import Workspace
from .push import ADJUDICATION, PushReport, push_candidates
from .server import Connection


def adjudicate(ws: Workspace, conn: Connection, *, subtasks: list[str] | None = None) -> PushReport:
    """Push every candidate in conflict to the adjudication project (idempotent like `review push`)."""
    conflicts = CandidateStore(ws).list(task=subtasks, status="kept", review_status="conflict")
    with ws.stage_run("review.push", key="adjudication", inputs=[c.id for c in conflicts],
                      settings=ws.settings.review, force=True) as run:
        report = push_candidates(ws, conn, conflicts, kind=ADJUDICATION)
        run.counts.update(report.model_dump(exclude={"url", "kind"}))
        run.outputs.update({"project_id": report.project_id, "url": report.url})
    return report
