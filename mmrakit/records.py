"""Catalogue tables for the two records every later stage reads: pool images and candidates.

They live in the core because review/, exports/ and evaluation/ may use only the core: the
images stage writes :class:`ImageCatalog`, the builders write :class:`CandidateStore`, review
records its consensus on candidates here, and exports/evaluation read both.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from .models import Candidate, ImageRecord
from .util import now_iso, where_equal
from .workspace import Workspace

ReviewStatus = Literal["unreviewed", "pending", "validated", "rejected", "conflict"]
CandidateStatus = Literal["kept", "filtered"]

IMAGES_DDL = """
CREATE TABLE IF NOT EXISTS image_records (
    sha256      TEXT PRIMARY KEY,
    path        TEXT,
    width       INTEGER NOT NULL,
    height      INTEGER NOT NULL,
    source      TEXT,
    record_id   TEXT,
    data        TEXT NOT NULL,
    imported_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS image_records_source ON image_records (source);
"""

CANDIDATES_DDL = """
CREATE TABLE IF NOT EXISTS candidates (
    id                TEXT PRIMARY KEY,
    task              TEXT NOT NULL,
    granularity       TEXT NOT NULL,
    qa_type           TEXT NOT NULL,
    image1            TEXT NOT NULL,
    image2            TEXT NOT NULL,
    status            TEXT NOT NULL DEFAULT 'kept' CHECK (status IN ('kept', 'filtered')),
    filter_reason     TEXT,
    origin            TEXT NOT NULL DEFAULT 'builder',
    data              TEXT NOT NULL,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL,
    review_status     TEXT NOT NULL DEFAULT 'unreviewed'
                      CHECK (review_status IN ('unreviewed', 'pending', 'validated', 'rejected', 'conflict')),
    review_answer     TEXT,
    review_question   TEXT,
    review_agreement  REAL,
    review_updated_at TEXT
);
CREATE INDEX IF NOT EXISTS candidates_task ON candidates (task, status);
CREATE INDEX IF NOT EXISTS candidates_review ON candidates (review_status);
"""


class ImageCatalog:
    """Accepted pool images (quarantined files never enter this table)."""

    COMPONENT, VERSION = "core.image_records", 1

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        ws.ensure_schema(self.COMPONENT, self.VERSION, IMAGES_DDL)

    def upsert(self, records: Iterable[ImageRecord]) -> int:
        rows = [
            (r.sha256, r.path, r.width, r.height, r.source, r.record_id, r.model_dump_json(), now_iso())
            for r in records
        ]
        with self.ws.db as conn:
            conn.executemany(
                "INSERT INTO image_records (sha256, path, width, height, source, record_id, data, imported_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (sha256) DO UPDATE SET path = excluded.path, "
                "width = excluded.width, height = excluded.height, source = excluded.source, "
                "record_id = excluded.record_id, data = excluded.data",
                rows,
            )
        return len(rows)

    def get(self, sha256: str) -> ImageRecord | None:
        row = self.ws.db.execute("SELECT data FROM image_records WHERE sha256 = ?", (sha256,)).fetchone()
        return ImageRecord.model_validate_json(row[0]) if row else None

    def __iter__(self) -> Iterator[ImageRecord]:
        for row in self.ws.db.execute("SELECT data FROM image_records ORDER BY imported_at, sha256"):
            yield ImageRecord.model_validate_json(row[0])

    def __len__(self) -> int:
        return self.ws.db.execute("SELECT COUNT(*) FROM image_records").fetchone()[0]

    def file_path(self, record: ImageRecord) -> Path:
        """Absolute path of the image bytes (copied files are stored relative to the workspace)."""
        if record.path is None:
            raise FileNotFoundError(f"image {record.sha256} has no local file (url only: {record.url})")
        return self.ws.resolve(record.path)


class CandidateStore:
    """Candidates with their build status (kept / filtered + reason) and review consensus."""

    COMPONENT, VERSION = "core.candidates", 1

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        ws.ensure_schema(self.COMPONENT, self.VERSION, CANDIDATES_DDL)

    def upsert(
        self,
        candidates: Iterable[Candidate],
        *,
        status: CandidateStatus = "kept",
        filter_reason: str | None = None,
        origin: str = "builder",
    ) -> int:
        """Insert or update; review fields of an existing candidate are kept as they are."""
        now = now_iso()
        rows = [
            (c.id, c.task, c.granularity, c.qa_type, c.image1, c.image2, status, filter_reason, origin,
             c.model_dump_json(), now, now)
            for c in candidates
        ]
        with self.ws.db as conn:
            conn.executemany(
                "INSERT INTO candidates (id, task, granularity, qa_type, image1, image2, status, filter_reason, origin, "
                "data, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (id) DO UPDATE SET status = excluded.status, filter_reason = excluded.filter_reason, "
                "data = excluded.data, updated_at = excluded.updated_at",
                rows,
            )
        return len(rows)

    def get(self, candidate_id: str) -> Candidate | None:
        row = self.ws.db.execute("SELECT data FROM candidates WHERE id = ?", (candidate_id,)).fetchone()
        return Candidate.model_validate_json(row[0]) if row else None

    def rows(
        self,
        *,
        task: str | Iterable[str] | None = None,
        status: CandidateStatus | None = "kept",
        review_status: ReviewStatus | Iterable[ReviewStatus] | None = None,
        origin: str | None = None,
    ) -> list[dict]:
        """Catalogue rows (candidate plus statuses) in a stable order."""
        sql, args = "SELECT * FROM candidates WHERE 1 = 1", []
        for column, value in (("task", task), ("review_status", review_status)):
            if value is None:
                continue
            values = [value] if isinstance(value, str) else list(value)
            sql += f" AND {column} IN ({', '.join('?' * len(values))})"
            args += values
        sql = where_equal(sql, args, status=status, origin=origin)
        out = []
        for row in self.ws.db.execute(sql + " ORDER BY task, id", args):
            d = dict(row)
            d["candidate"] = Candidate.model_validate_json(d.pop("data"))
            out.append(d)
        return out

    def list(self, **filters) -> list[Candidate]:
        return [r["candidate"] for r in self.rows(**filters)]

    def set_review(
        self,
        candidate_id: str,
        review_status: ReviewStatus,
        *,
        answer: str | None = None,
        question: str | None = None,
        agreement: float | None = None,
    ) -> None:
        with self.ws.db as conn:
            cur = conn.execute(
                "UPDATE candidates SET review_status = ?, review_answer = ?, review_question = ?, review_agreement = ?, "
                "review_updated_at = ? WHERE id = ?",
                (review_status, answer, question, agreement, now_iso(), candidate_id),
            )
        if cur.rowcount == 0:
            raise KeyError(f"no candidate {candidate_id!r} in {self.ws.catalog_path}")

    def delete(self, ids: Iterable[str]) -> int:
        ids = list(ids)
        with self.ws.db as conn:
            return conn.executemany("DELETE FROM candidates WHERE id = ?", [(i,) for i in ids]).rowcount

    def counts(self) -> dict[str, dict[str, int]]:
        """{task: {'kept': n, 'filtered': n, 'validated': n, ...}}"""
        out: dict[str, dict[str, int]] = {}
        for task, status, review, n in self.ws.db.execute(
            "SELECT task, status, review_status, COUNT(*) FROM candidates GROUP BY task, status, review_status"
        ):
            d = out.setdefault(task, {})
            d[status] = d.get(status, 0) + n
            if status == "kept":
                d[review] = d.get(review, 0) + n
        return out


def dump_jsonl(candidates: Iterable[Candidate], path: Path) -> int:
    """Write candidates as JSON lines (used by `candidates list --jsonl` and tests)."""
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for c in candidates:
            fh.write(json.dumps(c.model_dump(mode="json"), ensure_ascii=False) + "\n")
            n += 1
    return n
