"""Reviewers' verdicts, readable through the core: the reader over review's ``review_verdicts`` table.

review/ writes the table (see ``review/store.py``); exports and the runner read raw votes here
without importing review/. A workspace where review never ran has no table: no verdicts.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime

from .models import ReviewVerdict


def verdict_rows(db: sqlite3.Connection, *, candidate_ids: Iterable[str] | None = None,
                 adjudication: bool | None = None, exclude_project: tuple[str, int] | None = None) -> list[dict]:
    """Stored verdict rows (reasons decoded), ordered by candidate, reviewer, annotation."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'review_verdicts'").fetchone() is None:
        return []
    sql, args = "SELECT * FROM review_verdicts WHERE 1 = 1", []
    if exclude_project is not None:
        sql += " AND NOT (url = ? AND project_id = ?)"
        args += list(exclude_project)
    if adjudication is not None:
        sql += " AND adjudication = ?"
        args.append(int(adjudication))
    order = " ORDER BY candidate_id, reviewer, annotation_id"
    if candidate_ids is None:
        rows = [dict(r) for r in db.execute(sql + order, args)]
    else:
        ids, rows = sorted(set(candidate_ids)), []
        for i in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = ids[i:i + 500]
            rows += [dict(r) for r in db.execute(
                sql + f" AND candidate_id IN ({', '.join('?' * len(chunk))})" + order, [*args, *chunk])]
    for r in rows:
        r["reasons"] = json.loads(r["reasons"])
    return rows


def verdicts(db: sqlite3.Connection, **filters) -> list[ReviewVerdict]:
    """The same rows as :class:`ReviewVerdict` models (validated when stored: no re-validation)."""
    return [ReviewVerdict.model_construct(
        candidate_id=r["candidate_id"], reviewer=r["reviewer"], choice=r["choice"], answer=r["answer"],
        reasons=r["reasons"], corrected_question=r["corrected_question"], lead_time_s=r["lead_time_s"],
        adjudication=bool(r["adjudication"]), annotation_id=r["annotation_id"],
        updated_at=datetime.fromisoformat(r["updated_at"])) for r in verdict_rows(db, **filters)]
