"""The images stage's own catalogue tables, and :class:`ImagePool`, the read API other stages use.

Accepted images live in the core ``image_records`` table (:class:`mmrakit.records.ImageCatalog`);
everything else this stage knows (quarantine, occurrences, entities, hashes, duplicate groups,
changed files) lives in the ``images_*`` tables declared here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from mmrakit.models import Box, EntityGrounding, ImageRecord
from mmrakit.records import ImageCatalog
from mmrakit.workspace import Workspace

COMPONENT, VERSION = "images.tables", 1
DDL = """
CREATE TABLE IF NOT EXISTS images_quarantine (
    source     TEXT NOT NULL,
    location   TEXT NOT NULL,
    record_id  TEXT,
    path       TEXT,
    sha256     TEXT,
    reason     TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '',
    at         TEXT NOT NULL,
    PRIMARY KEY (source, location, record_id)
);
CREATE INDEX IF NOT EXISTS images_quarantine_reason ON images_quarantine (reason);
CREATE TABLE IF NOT EXISTS images_occurrences (
    sha256    TEXT NOT NULL,
    source    TEXT NOT NULL,
    record_id TEXT NOT NULL,
    path      TEXT,
    PRIMARY KEY (sha256, source, record_id)
);
CREATE INDEX IF NOT EXISTS images_occurrences_path ON images_occurrences (path);
CREATE TABLE IF NOT EXISTS images_entities (
    sha256    TEXT NOT NULL,
    concept   TEXT NOT NULL,
    text      TEXT NOT NULL,
    source    TEXT NOT NULL,
    box       TEXT,
    score     REAL,
    validated INTEGER
);
CREATE INDEX IF NOT EXISTS images_entities_sha ON images_entities (sha256);
CREATE INDEX IF NOT EXISTS images_entities_concept ON images_entities (concept);
CREATE TABLE IF NOT EXISTS images_hashes (
    sha256    TEXT PRIMARY KEY,
    phash     INTEGER NOT NULL,
    phash_c05 INTEGER NOT NULL,
    phash_c10 INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS images_changed (
    sha256      TEXT PRIMARY KEY,
    path        TEXT NOT NULL,
    now_sha256  TEXT,
    detected_at TEXT NOT NULL,
    detected_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS images_dedup (
    sha256   TEXT PRIMARY KEY,
    group_id TEXT NOT NULL,
    kept     INTEGER NOT NULL,
    tiers    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS images_dedup_group ON images_dedup (group_id);
"""


def ensure_tables(ws: Workspace) -> None:
    ws.ensure_schema(COMPONENT, VERSION, DDL)


def to_signed64(h: int) -> int:
    return h - (1 << 64) if h >= (1 << 63) else h


def to_unsigned64(h: int) -> int:
    return h + (1 << 64) if h < 0 else h


class ImagePool:
    """Read access to the accepted pool: records, files, entities, hashes and duplicate groups."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.catalog = ImageCatalog(ws)
        ensure_tables(ws)

    def __len__(self) -> int:
        return len(self.catalog)

    def records(self, include_excluded: bool = False) -> Iterator[ImageRecord]:
        """Pool images in import order; duplicates that dedup did not keep (and changed files) are left out."""
        skip = set() if include_excluded else self.excluded() | self.changed()
        for rec in self.catalog:
            if rec.sha256 not in skip:
                yield rec

    def shas(self, include_excluded: bool = False) -> list[str]:
        return [r.sha256 for r in self.records(include_excluded)]

    def get(self, sha: str) -> ImageRecord | None:
        return self.catalog.get(sha)

    def entities(self, sha: str) -> list[EntityGrounding]:
        rows = self.ws.db.execute(
            "SELECT concept, text, source, box, score FROM images_entities WHERE sha256 = ? ORDER BY rowid", (sha,)
        ).fetchall()
        return [EntityGrounding(concept=r[0], text=r[1], source=r[2], box=Box.model_validate_json(r[3]) if r[3] else None,
                                score=r[4]) for r in rows]

    def excluded(self) -> set[str]:
        return {r[0] for r in self.ws.db.execute("SELECT sha256 FROM images_dedup WHERE kept = 0")}

    def changed(self) -> set[str]:
        """Images whose file no longer has the imported bytes (re-import to pick up the new file)."""
        return {r[0] for r in self.ws.db.execute("SELECT sha256 FROM images_changed")}

    def duplicate_group(self, sha: str) -> str | None:
        row = self.ws.db.execute("SELECT group_id FROM images_dedup WHERE sha256 = ?", (sha,)).fetchone()
        return row[0] if row else None

    def phash(self, sha: str) -> int | None:
        row = self.ws.db.execute("SELECT phash FROM images_hashes WHERE sha256 = ?", (sha,)).fetchone()
        return to_unsigned64(row[0]) if row else None

    def image_path(self, sha: str) -> Path:
        """The file of the image with this sha256 (``ImageCatalog.file_path`` takes the record)."""
        rec = self.get(sha)
        if rec is None:
            raise KeyError(f"no image {sha} in the pool of {self.ws.root}")
        return self.catalog.file_path(rec)

    def open(self, sha: str):
        """The image as RGB, EXIF-oriented (first frame of animations)."""
        from .validate import open_rgb

        img = open_rgb(self.image_path(sha))
        img.load()
        return img

    def quarantine(self, reason: str | None = None) -> list[dict]:
        sql, args = "SELECT * FROM images_quarantine", []
        if reason:
            sql += " WHERE reason = ?"
            args.append(reason)
        return [dict(r) for r in self.ws.db.execute(sql + " ORDER BY reason, source, location", args)]

    def stats(self) -> dict:
        db = self.ws.db
        q = dict(db.execute("SELECT reason, COUNT(*) FROM images_quarantine GROUP BY reason").fetchall())
        ent = dict(db.execute("SELECT source, COUNT(*) FROM images_entities GROUP BY source").fetchall())
        return {
            "images": len(self.catalog),
            "occurrences": db.execute("SELECT COUNT(*) FROM images_occurrences").fetchone()[0],
            "quarantined": sum(q.values()), "quarantine_by_reason": q,
            "entities_by_source": ent,
            "distinct_concepts": db.execute("SELECT COUNT(DISTINCT concept) FROM images_entities").fetchone()[0],
            "hashed": db.execute("SELECT COUNT(*) FROM images_hashes").fetchone()[0],
            "changed_files": len(self.changed()),
            "duplicate_groups": db.execute("SELECT COUNT(DISTINCT group_id) FROM images_dedup").fetchone()[0],
            "excluded": len(self.excluded()),
        }


def entity_rows(sha: str, groundings: list[EntityGrounding], validated: list[bool | None]) -> list[tuple]:
    return [(sha, g.concept, g.text, g.source, g.box.model_dump_json() if g.box else None, g.score,
             None if v is None else int(v)) for g, v in zip(groundings, validated)]


def dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True)
