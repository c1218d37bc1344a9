"""review's own tables in the workspace catalogue: projects, pushed tasks, verdicts, pull cursors."""

from __future__ import annotations

import json
from collections.abc import Iterable

from mmrakit import verdicts as core_verdicts
from mmrakit.models import ReviewVerdict
from mmrakit.util import now_iso
from mmrakit.workspace import Workspace

COMPONENT, VERSION = "review", 2

DDL = """
CREATE TABLE IF NOT EXISTS review_projects (
    url         TEXT NOT NULL,
    kind        TEXT NOT NULL,  -- 'main' (shared), 'reviewer:<email>' (one per reviewer), 'adjudication'

    project_id  INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (url, kind)
);
CREATE TABLE IF NOT EXISTS review_tasks (
    url           TEXT NOT NULL,
    project_id    INTEGER NOT NULL,
    candidate_id  TEXT NOT NULL,
    task_id       INTEGER NOT NULL,
    content_hash  TEXT NOT NULL,
    pushed_at     TEXT NOT NULL,
    PRIMARY KEY (url, project_id, candidate_id)
);
CREATE INDEX IF NOT EXISTS review_tasks_task ON review_tasks (url, task_id);
CREATE TABLE IF NOT EXISTS review_verdicts (
    url                TEXT NOT NULL,
    annotation_id      INTEGER NOT NULL,
    project_id         INTEGER NOT NULL,
    task_id            INTEGER NOT NULL,
    candidate_id       TEXT NOT NULL,
    reviewer           TEXT NOT NULL,
    choice             TEXT NOT NULL,
    answer             TEXT,
    proposed_answer    TEXT,
    reasons            TEXT NOT NULL DEFAULT '[]',
    corrected_question TEXT,
    lead_time_s        REAL,
    adjudication       INTEGER NOT NULL DEFAULT 0,
    updated_at         TEXT NOT NULL,
    pulled_at          TEXT NOT NULL,
    PRIMARY KEY (url, annotation_id)
);
CREATE INDEX IF NOT EXISTS review_verdicts_candidate ON review_verdicts (candidate_id);
CREATE INDEX IF NOT EXISTS review_verdicts_task ON review_verdicts (url, project_id, task_id);
CREATE TABLE IF NOT EXISTS review_cursors (
    url         TEXT NOT NULL,
    project_id  INTEGER NOT NULL,
    since       TEXT NOT NULL,
    PRIMARY KEY (url, project_id)
);
"""

# v2: per-reviewer projects ('reviewer:<email>'): the kind CHECK goes (SQLite rebuilds the table to drop it)
MIGRATIONS = {2: [
    "CREATE TABLE review_projects_v2 (url TEXT NOT NULL, kind TEXT NOT NULL, project_id INTEGER NOT NULL, "
    "created_at TEXT NOT NULL, PRIMARY KEY (url, kind))",
    "INSERT INTO review_projects_v2 SELECT url, kind, project_id, created_at FROM review_projects",
    "DROP TABLE review_projects",
    "ALTER TABLE review_projects_v2 RENAME TO review_projects",
]}


class ReviewStore:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        ws.ensure_schema(COMPONENT, VERSION, DDL, MIGRATIONS)

    @property
    def db(self):
        return self.ws.db

    # --- projects -------------------------------------------------------------------------------

    def project_id(self, url: str, kind: str) -> int | None:
        row = self.db.execute("SELECT project_id FROM review_projects WHERE url = ? AND kind = ?", (url, kind)).fetchone()
        return row[0] if row else None

    def projects(self, url: str) -> dict[str, int]:
        """kind -> project id of every review project this workspace has on the server at ``url``."""
        return {r[0]: r[1] for r in self.db.execute(
            "SELECT kind, project_id FROM review_projects WHERE url = ? ORDER BY kind", (url,))}

    def set_project(self, url: str, kind: str, project_id: int) -> None:
        with self.db as c:
            c.execute("INSERT INTO review_projects (url, kind, project_id, created_at) VALUES (?, ?, ?, ?) "
                      "ON CONFLICT (url, kind) DO UPDATE SET project_id = excluded.project_id",
                      (url, kind, project_id, now_iso()))

    def forget_project(self, url: str, project_id: int) -> None:
        """The project is gone from the server: drop its task map and cursor (verdicts are kept)."""
        with self.db as c:
            c.execute("DELETE FROM review_tasks WHERE url = ? AND project_id = ?", (url, project_id))
            c.execute("DELETE FROM review_cursors WHERE url = ? AND project_id = ?", (url, project_id))
            c.execute("DELETE FROM review_projects WHERE url = ? AND project_id = ?", (url, project_id))

    # --- pushed tasks ---------------------------------------------------------------------------

    def tasks(self, url: str, project_id: int) -> dict[str, tuple[int, str]]:
        """candidate id -> (task id, content hash)."""
        return {r[0]: (r[1], r[2]) for r in self.db.execute(
            "SELECT candidate_id, task_id, content_hash FROM review_tasks WHERE url = ? AND project_id = ?",
            (url, project_id))}

    def record_tasks(self, url: str, project_id: int, rows: Iterable[tuple[str, int, str]]) -> None:
        now = now_iso()
        with self.db as c:
            c.executemany(
                "INSERT INTO review_tasks (url, project_id, candidate_id, task_id, content_hash, pushed_at) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (url, project_id, candidate_id) DO UPDATE SET "
                "task_id = excluded.task_id, content_hash = excluded.content_hash, pushed_at = excluded.pushed_at",
                [(url, project_id, cid, tid, h, now) for cid, tid, h in rows])

    # --- verdicts -------------------------------------------------------------------------------

    def replace_task_verdicts(self, url: str, project_id: int, task_verdicts: dict[int, list[ReviewVerdict]],
                              proposed: dict[int, str | None]) -> tuple[int, int]:
        """Make the stored verdicts of each task exactly ``task_verdicts[task]`` (one transaction).

        Re-pulling the same task changes nothing; an annotation deleted in Label Studio disappears.
        Returns (verdicts written, verdicts removed).
        """
        now, written, removed = now_iso(), 0, 0
        with self.db as c:
            for task_id, verdicts in task_verdicts.items():
                keep = [v.annotation_id for v in verdicts]
                removed += c.execute(
                    f"DELETE FROM review_verdicts WHERE url = ? AND project_id = ? AND task_id = ? "
                    f"AND annotation_id NOT IN ({', '.join('?' * len(keep))})",
                    (url, project_id, task_id, *keep)).rowcount
                for v in verdicts:
                    cur = c.execute(
                        "INSERT INTO review_verdicts (url, annotation_id, project_id, task_id, candidate_id, reviewer, "
                        "choice, answer, proposed_answer, reasons, corrected_question, lead_time_s, adjudication, "
                        "updated_at, pulled_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                        "ON CONFLICT (url, annotation_id) DO UPDATE SET choice = excluded.choice, "
                        "answer = excluded.answer, reasons = excluded.reasons, reviewer = excluded.reviewer, "
                        "corrected_question = excluded.corrected_question, lead_time_s = excluded.lead_time_s, "
                        "updated_at = excluded.updated_at, pulled_at = excluded.pulled_at "
                        "WHERE review_verdicts.updated_at != excluded.updated_at "
                        "OR review_verdicts.reviewer != excluded.reviewer",
                        (url, v.annotation_id, project_id, task_id, v.candidate_id, v.reviewer, v.choice, v.answer,
                         proposed.get(task_id), json.dumps(v.reasons), v.corrected_question, v.lead_time_s,
                         int(v.adjudication), v.updated_at.isoformat(), now))
                    written += cur.rowcount
        return written, removed

    def verdict_rows(self, **filters) -> list[dict]:
        return core_verdicts.verdict_rows(self.db, **filters)

    def verdicts(self, **filters) -> list[ReviewVerdict]:
        return core_verdicts.verdicts(self.db, **filters)

    # --- cursors --------------------------------------------------------------------------------

    def cursor(self, url: str, project_id: int) -> str | None:
        row = self.db.execute("SELECT since FROM review_cursors WHERE url = ? AND project_id = ?",
                              (url, project_id)).fetchone()
        return row[0] if row else None

    def set_cursor(self, url: str, project_id: int, since: str) -> None:
        with self.db as c:
            c.execute("INSERT INTO review_cursors (url, project_id, since) VALUES (?, ?, ?) "
                      "ON CONFLICT (url, project_id) DO UPDATE SET since = excluded.since", (url, project_id, since))
