"""Reviewers' verdicts, readable through the core: the reader over review's ``review_verdicts`` table.

review/ writes the table (see ``review/store.py``); exports and the runner read raw votes here
without importing review/. A workspace where review never ran has no table: no verdicts.

:func:`votes` gives each candidate's raw votes with the reviewer named by a **pseudonymous id**: a
keyed hash (HMAC-SHA256) of the account, with a random key kept in the workspace
(``review/pseudonym.key``, 0600). The same person has the same id in every export of the workspace;
without the key, an id cannot be matched to an email, not even by hashing a list of guessed emails.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import sqlite3
import tempfile
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel

from .models import ReviewVerdict
from .workspace import Workspace

KEY_FILE = ("review", "pseudonym.key")


class Vote(BaseModel):
    """One reviewer's current vote on one item, as exports publish it."""

    reviewer: str          # pseudonymous id, e.g. "r-3f9a1c0b2e"
    verdict: str           # accept / correct / reject
    answer: str | None     # the answer the vote endorses (None for a reject)
    reasons: list[str]
    corrected_question: bool  # whether the reviewer proposed a rewording (its text stays in the workspace)
    adjudication: bool     # the senior reviewer's final verdict


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


def pseudonym_key(ws: Workspace) -> bytes:
    """The workspace's pseudonym key, created once (0600; two processes racing agree on one key)."""
    path = ws.path(*KEY_FILE)
    try:
        return bytes.fromhex(path.read_text("ascii").strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".key.", dir=path.parent)
    try:
        os.write(fd, secrets.token_hex(32).encode("ascii"))
        os.fsync(fd)
        os.close(fd)
        try:
            os.link(tmp, path)  # never replaces a key another process wrote first
        except FileExistsError:
            pass
    finally:
        Path(tmp).unlink(missing_ok=True)
    return bytes.fromhex(path.read_text("ascii").strip())


def pseudonym(key: bytes, reviewer: str) -> str:
    """A reviewer's pseudonymous id: HMAC-SHA256 of the (case-folded) account under the workspace key."""
    return "r-" + hmac.new(key, reviewer.strip().casefold().encode("utf-8"), hashlib.sha256).hexdigest()[:10]


def votes(ws: Workspace, candidate_ids: Iterable[str] | None = None) -> dict[str, list[Vote]]:
    """candidate id -> its current votes (one per reviewer, the latest edit; the adjudication last)."""
    key = pseudonym_key(ws)
    latest: dict[tuple[str, str, bool], ReviewVerdict] = {}
    for v in verdicts(ws.db, candidate_ids=candidate_ids):
        k = (v.candidate_id, pseudonym(key, v.reviewer), v.adjudication)  # one person, however the account is cased
        if k not in latest or v.updated_at > latest[k].updated_at:
            latest[k] = v
    out: dict[str, list[Vote]] = {}
    for (cid, rid, adj), v in latest.items():
        out.setdefault(cid, []).append(Vote(
            reviewer=rid, verdict=v.choice, answer=v.answer, reasons=list(v.reasons),
            corrected_question=bool(v.corrected_question), adjudication=adj))
    for vs in out.values():
        vs.sort(key=lambda x: (x.adjudication, x.reviewer))
    return out
