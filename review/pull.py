"""Incremental pull: tasks whose ``updated_at`` moved since the last pull, their annotations -> verdicts.

A count of the changed tasks picks the route: a few are read in data-manager pages (keyset
pagination: tasks updated after the cursor, oldest first, the cursor advancing after each stored
page); many (a first pull) are read from one JSON export, which is several times faster. A pull stopped half-way (server
down, Ctrl-C) resumes from the last stored page; each task's verdicts are *replaced* by what the
server holds, so re-fetching a task never double-counts and a deleted annotation disappears.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from functools import lru_cache

from pydantic import BaseModel

from mmrakit.models import ReviewVerdict
from mmrakit.records import CandidateStore
from mmrakit.workspace import Workspace
from .client import LS_DATETIME, LabelStudioClient, updated_filter
from .config import review_form
from .consensus import decide
from .push import ADJUDICATION, MAIN, REVIEWER
from .server import Connection
from .store import ReviewStore

EPOCH = "1970-01-01T00:00:00.000000Z"


class PullReport(BaseModel):
    project_id: int | None
    kind: str
    tasks_fetched: int = 0
    verdicts_written: int = 0
    verdicts_removed: int = 0
    unparsable: int = 0
    candidates_updated: int = 0
    pages: int = 0
    cursor: str | None = None


def _parse_dt(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def _fmt(dt: datetime) -> str:
    return dt.astimezone(timezone.utc).strftime(LS_DATETIME)


def _values(result: list[dict], name: str, key: str) -> list:
    for r in result or []:
        if r.get("from_name") == name:
            return list((r.get("value") or {}).get(key) or [])
    return []


@lru_cache(maxsize=1)
def _reason_aliases() -> tuple[dict[str, str], frozenset[str]]:
    by_display = {r["value"]: r["alias"] for r in review_form()["reasons"]}
    return by_display, frozenset(by_display.values())


def annotation_verdict(ann: dict, data: dict, reviewer: str, *, adjudication: bool) -> ReviewVerdict | None:
    """One Label Studio annotation -> a verdict (None when it carries no verdict, e.g. a skipped task)."""
    if ann.get("was_cancelled"):
        return None
    result = ann.get("result") or []
    verdict = (_values(result, "verdict", "choices") or [None])[0]
    if verdict not in ("accept", "reject", "correct"):
        return None
    proposed = data.get("proposed_answer")
    valid = data.get("valid_answers") or []
    picked = (_values(result, "answer", "choices") or [None])[0]
    answer: str | None = None
    if verdict != "reject":
        answer = picked if picked is not None else (proposed if verdict == "accept" else None)
        if answer is not None and valid and answer not in valid:
            answer = None  # e.g. "Yes" on a Choice QA item: endorses nothing
        if answer is not None and answer != proposed:
            verdict = "correct"   # accept with another answer selected means a correction
        elif answer is not None:
            verdict = "accept"    # "correct" to the proposed answer is an accept
    by_display, aliases = _reason_aliases()
    reasons = [by_display.get(x, x) for x in _values(result, "reasons", "choices")]
    reasons = [x for x in reasons if x in aliases] if verdict == "reject" else []
    text = " ".join(_values(result, "corrected_question", "text")).strip() or None
    return ReviewVerdict(
        candidate_id=data["candidate_id"], reviewer=reviewer, choice=verdict, answer=answer, reasons=reasons,
        corrected_question=text, lead_time_s=ann.get("lead_time"), adjudication=adjudication,
        annotation_id=ann["id"], updated_at=_parse_dt(ann.get("updated_at") or ann.get("created_at")))


class _Reviewers:
    """Label Studio user id -> email (fetched once, refreshed when an unknown id appears)."""

    def __init__(self, client: LabelStudioClient) -> None:
        self.client = client
        self.emails: dict[int, str] = {}

    def __call__(self, completed_by) -> str:
        if isinstance(completed_by, dict):
            return completed_by.get("email") or str(completed_by.get("id"))
        if completed_by not in self.emails:
            self.emails = {u["id"]: u.get("email") or str(u["id"]) for u in self.client.users()}
        return self.emails.get(completed_by, str(completed_by))


def pull_project(ws: Workspace, conn: Connection, client: LabelStudioClient, kind: str,
                 on_page: Callable[[int], None] | None = None) -> PullReport:
    """Pull one project: data-manager pages for a few changed tasks, one JSON export for many."""
    store = ReviewStore(ws)
    pid = store.project_id(conn.url, kind)
    report = PullReport(project_id=pid, kind=kind)
    if pid is None:
        return report
    reviewers = _Reviewers(client)
    s = ws.settings.review
    since = store.cursor(conn.url, pid) or EPOCH
    report.cursor = since
    changed = client.count_tasks(pid, updated_filter(since))
    if changed == 0:
        return report
    if changed > s.export_above:
        tasks = client.export_json(pid)
        newest = since
        for i in range(0, len(tasks), s.batch_size):
            chunk = tasks[i:i + s.batch_size]
            _store_tasks(ws, store, conn, pid, kind, chunk, reviewers, report)
            newest = max([newest, *(_fmt(_parse_dt(t["updated_at"])) for t in chunk)])
            if on_page:
                on_page(report.pages)
        # The export reads tasks in one query: anything updated later has a newer updated_at than all of these.
        store.set_cursor(conn.url, pid, newest)
        report.cursor = newest
        return report
    page_size = s.batch_size
    while True:
        body = client.tasks_page(pid, query=updated_filter(since), page=1, page_size=page_size)
        tasks = body.get("tasks", [])
        if not tasks:
            break
        _store_tasks(ws, store, conn, pid, kind, tasks, reviewers, report)
        last = _parse_dt(tasks[-1]["updated_at"])
        if len(tasks) < page_size:
            since = _fmt(last)
            store.set_cursor(conn.url, pid, since)
            if on_page:
                on_page(report.pages)
            break
        # Full page: tasks sharing the last timestamp may continue on the next page; re-read them.
        nxt = _fmt(last - timedelta(microseconds=1))
        if nxt <= since:
            page_size *= 2  # a whole page shares one timestamp: widen instead of looping
        else:
            since = nxt
            store.set_cursor(conn.url, pid, since)
        if on_page:
            on_page(report.pages)
    report.cursor = since
    return report


def _store_tasks(ws: Workspace, store: ReviewStore, conn: Connection, pid: int, kind: str, tasks: list[dict],
                 reviewers: "_Reviewers", report: PullReport) -> None:
    """Replace the verdicts of these tasks and re-decide their candidates, in the workspace."""
    per_task: dict[int, list[ReviewVerdict]] = {}
    proposed: dict[int, str | None] = {}
    touched: set[str] = set()
    for t in tasks:
        data = t.get("data") or {}
        if not data.get("candidate_id"):
            continue
        vs = []
        for ann in t.get("annotations") or []:
            v = annotation_verdict(ann, data, reviewers(ann.get("completed_by")), adjudication=kind == ADJUDICATION)
            if v is None:
                report.unparsable += not ann.get("was_cancelled")
            else:
                vs.append(v)
        per_task[t["id"]] = vs
        proposed[t["id"]] = data.get("proposed_answer")
        touched.add(data["candidate_id"])
    written, removed = store.replace_task_verdicts(conn.url, pid, per_task, proposed)
    report.verdicts_written += written
    report.verdicts_removed += removed
    # Per page, so an interrupted pull leaves consistent candidates. This page's verdicts are in hand;
    # only verdicts from other projects (adjudication) are read back.
    report.candidates_updated += apply_consensus(ws, touched, known=[v for vs in per_task.values() for v in vs],
                                                 known_project=(conn.url, pid))
    report.tasks_fetched += len(tasks)
    report.pages += 1


def apply_consensus(ws: Workspace, candidate_ids: set[str] | None = None, *, known: list[ReviewVerdict] | None = None,
                    known_project: tuple[str, int] | None = None) -> int:
    """Write the consensus of each candidate's verdicts back to the candidate store (exports read it).

    ``known`` are the complete current verdicts of ``known_project`` for these candidates (just pulled);
    everything else is read from the workspace.
    """
    store, cstore = ReviewStore(ws), CandidateStore(ws)
    by_candidate: dict[str, list[ReviewVerdict]] = {}
    stored = store.verdicts(candidate_ids=candidate_ids, exclude_project=known_project if known is not None else None)
    for v in [*(known or []), *stored]:
        by_candidate.setdefault(v.candidate_id, []).append(v)
    changed = 0
    ids = sorted(candidate_ids if candidate_ids is not None else by_candidate)
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        rows = ws.db.execute(
            "SELECT id, review_status, review_answer, review_question, review_agreement FROM candidates "
            f"WHERE id IN ({', '.join('?' * len(chunk))})", chunk).fetchall()
        for row in rows:
            c = decide(by_candidate.get(row["id"], []), ws.settings.review)
            agreement = None if c.agreement is None else round(c.agreement, 6)
            current = (row["review_status"], row["review_answer"], row["review_question"], row["review_agreement"])
            if current != (c.status, c.answer, c.question, agreement):
                cstore.set_review(row["id"], c.status, answer=c.answer, question=c.question, agreement=agreement)
                changed += 1
    return changed


def pull(ws: Workspace, conn: Connection, *, on_page: Callable[[int], None] | None = None) -> list[PullReport]:
    """`review pull`: the shared project, each reviewer's own project, then the adjudication project (last, so
    its final verdicts are decided over everything else); all into one verdict table. Recorded as stage review.pull."""
    kinds = [MAIN, *sorted(k for k in ReviewStore(ws).projects(conn.url) if k.startswith(REVIEWER)), ADJUDICATION]
    with conn.client(ws) as client, ws.stage_run("review.pull", settings=ws.settings.review, force=True) as run:
        reports = [pull_project(ws, conn, client, kind, on_page) for kind in kinds]
        for r in reports:
            run.counts[r.kind] = r.model_dump(exclude={"kind"})
    return reports
