"""`images import`: read a source, validate every image, and record accepted ones in the pool.

Idempotent: the sha256 of the bytes is the identity, so re-importing upserts the same rows.
A file whose bytes changed since it was imported is recorded in ``images_changed`` (its old
record is no longer served), never silently reused. Bad files go to quarantine with a reason.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from pathlib import Path

from pydantic import Field

from mmrakit import atomic
from mmrakit.models import ImageRecord, ObjectAnnotation
from mmrakit.stage import Progress, StageReport
from mmrakit.util import now_iso
from mmrakit.workspace import Workspace

from .entities import ConceptChecker, ground
from .hashing import phash_variants
from .sources import SourceItem, read_source
from .store import ImagePool, entity_rows, to_signed64
from .validate import validate_bytes

log = logging.getLogger(__name__)
CODE_VERSION = "images.import/1"
BATCH = 256


class ImageImportReport(StageReport):
    """One image source's import."""

    source: str
    format: str
    seen: int = 0
    accepted: int = 0
    new_images: int = 0
    exact_duplicates: int = 0
    quarantined: dict[str, int] = Field(default_factory=dict)
    changed_files: int = 0
    entities: int = 0
    concepts_checked: bool = False
    seconds: float = 0.0


def _merge(old: ImageRecord | None, new: ImageRecord) -> ImageRecord:
    """The same bytes seen again: keep the first location, union the annotations."""
    if old is None:
        return new
    captions = list(dict.fromkeys(old.captions + new.captions))
    seen = {o.model_dump_json() for o in old.objects}
    objects: list[ObjectAnnotation] = list(old.objects) + [o for o in new.objects if o.model_dump_json() not in seen]
    return old.model_copy(update={
        "captions": captions, "objects": objects,
        "license": old.license or new.license, "license_url": old.license_url or new.license_url,
        "url": old.url or new.url,
    })


class Importer:
    def __init__(self, ws: Workspace, *, source: str, fmt: str, image_root: Path | None, copy: bool, split: str | None = None):
        self.ws, self.source, self.fmt, self.image_root, self.copy, self.split = ws, source, fmt, image_root, copy, split
        self.settings = ws.settings.images
        self.pool = ImagePool(ws)
        self.checker = ConceptChecker.open(ws)
        self.source_key = source if fmt == "hf" and not Path(source).exists() else str(Path(source).resolve())

    # --- one item ----------------------------------------------------------------------------

    def _quarantine(self, item: SourceItem, reason: str, detail: str, sha: str | None) -> tuple:
        return (self.source_key, item.where, item.record_id or "", str(item.path) if item.path else None, sha, reason, detail, now_iso())

    def _store_copy(self, sha: str, data: bytes, suffix: str) -> str:
        rel = Path("images", "files", sha[:2], sha + (suffix.lower() or ".img"))
        target = self.ws.path(str(rel))
        if not target.exists():
            atomic.write_bytes(target, data)
        return str(rel)

    def run(self, force: bool = False, progress: Progress | None = None) -> ImageImportReport:
        report = ImageImportReport(source=self.source_key, format=self.fmt, concepts_checked=self.checker.available)
        started = time.monotonic()
        s = self.settings
        run_settings = {"images": s.model_dump(mode="json"), "format": self.fmt, "copy": self.copy,
                        "image_root": str(self.image_root) if self.image_root else None, "split": self.split,
                        "concepts_checked": self.checker.available}
        inputs = [self.source] + ([str(self.image_root)] if self.image_root else [])
        with self.ws.stage_run("images.import", key=self.source_key, inputs=inputs, settings=run_settings,
                               code_version=CODE_VERSION, force=force) as run:
            if run.up_to_date:
                prev = run.previous_counts
                report.__dict__.update({k: v for k, v in prev.items() if k in report.__dict__})
                report.up_to_date = True
                return report
            reasons: Counter[str] = Counter()
            batch: list[tuple[SourceItem, object]] = []
            for item in read_source(self.source, self.fmt, image_root=self.image_root,
                                    ignore_suffixes=s.folder_ignore_suffixes, split=self.split):
                report.seen += 1
                batch.append((item, self._check(item)))
                if len(batch) >= BATCH:
                    self._flush(batch, report, reasons)
                    batch = []
                    if progress:
                        progress(f"import {self.source_key}", report.seen, 0)
            self._flush(batch, report, reasons)
            if progress:
                progress(f"import {self.source_key}", report.seen, report.seen)
            report.quarantined = dict(sorted(reasons.items()))
            report.seconds = round(time.monotonic() - started, 3)
            run.counts = report.counts()
            log.info("import %s: %d seen, %d accepted, %d quarantined in %.1fs (%.0f img/s)", self.source_key, report.seen,
                     report.accepted, sum(reasons.values()), report.seconds, report.seen / max(report.seconds, 1e-9))
        return report

    def _check(self, item: SourceItem):
        s = self.settings
        data = item.data
        if data is None:
            if item.path is None or not item.path.is_file():
                return ("missing", f"no file at {item.path}", None)
            data = item.path.read_bytes()
        verdict = validate_bytes(data, max_pixels=s.max_pixels, min_side=s.min_side, max_aspect=s.max_aspect,
                                 allowed_formats=s.allowed_formats)
        if not verdict.ok:
            return (verdict.reason, verdict.detail, verdict.sha256)
        ph = phash_variants(verdict.image)
        rec_path = None
        if item.data is not None or self.copy:
            suffix = item.suffix or (item.path.suffix if item.path else "") or f".{(verdict.format or 'img').lower()}"
            rec_path = self._store_copy(verdict.sha256, data, suffix)
        else:
            rec_path = str(item.path.resolve())
        rec = ImageRecord(sha256=verdict.sha256, width=verdict.width, height=verdict.height, format=verdict.format,
                          mode=verdict.mode, path=rec_path, url=item.url, license=item.license, license_url=item.license_url,
                          captions=item.captions, objects=item.objects, source=self.source_key, record_id=item.record_id)
        return rec, ph

    # --- a batch, in one transaction ---------------------------------------------------------------

    def _flush(self, batch, report: ImageImportReport, reasons: Counter) -> None:
        if not batch:
            return
        db = self.ws.db
        quarantine_rows, accepted_locations = [], []
        records: dict[str, ImageRecord] = {}
        hashes: dict[str, int] = {}
        occurrences = []
        changed = []
        for item, outcome in batch:
            if isinstance(outcome[0], str):
                reason, detail, sha = outcome
                reasons[reason] += 1
                quarantine_rows.append(self._quarantine(item, reason, detail, sha))
                continue
            rec, ph = outcome
            accepted_locations.append((self.source_key, item.where, item.record_id or ""))
            report.accepted += 1
            if item.path is not None:
                for (old_sha,) in db.execute("SELECT DISTINCT sha256 FROM images_occurrences WHERE path = ? AND sha256 != ?",
                                             (str(item.path.resolve()), rec.sha256)):
                    changed.append((old_sha, str(item.path.resolve()), rec.sha256, now_iso(), "import"))
            occurrences.append((rec.sha256, self.source_key, item.record_id or item.where,
                                str(item.path.resolve()) if item.path else rec.path))
            prior = records.get(rec.sha256) or self.pool.get(rec.sha256)
            if prior is None:
                report.new_images += 1
            records[rec.sha256] = _merge(prior, rec)
            hashes[rec.sha256] = ph
        with db:
            if quarantine_rows:
                db.executemany(
                    "INSERT INTO images_quarantine (source, location, record_id, path, sha256, reason, detail, at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (source, location, record_id) DO UPDATE SET "
                    "path = excluded.path, sha256 = excluded.sha256, reason = excluded.reason, detail = excluded.detail, "
                    "at = excluded.at", quarantine_rows)
            if accepted_locations:  # a file fixed since a previous import leaves quarantine
                db.executemany("DELETE FROM images_quarantine WHERE source = ? AND location = ? AND record_id = ?",
                               accepted_locations)
            db.executemany("INSERT OR IGNORE INTO images_occurrences (sha256, source, record_id, path) VALUES (?, ?, ?, ?)",
                           occurrences)
            for old_sha, path, new_sha, at, by in changed:
                db.execute("INSERT INTO images_changed (sha256, path, now_sha256, detected_at, detected_by) VALUES (?, ?, ?, ?, ?) "
                           "ON CONFLICT (sha256) DO UPDATE SET now_sha256 = excluded.now_sha256, detected_at = excluded.detected_at",
                           (old_sha, path, new_sha, at, by))
                db.execute("DELETE FROM images_occurrences WHERE sha256 = ? AND path = ?", (old_sha, path))
            report.changed_files += len(changed)
            if records:
                db.executemany("DELETE FROM images_changed WHERE sha256 = ?", [(s,) for s in records])
            db.executemany("INSERT INTO images_hashes (sha256, phash, phash_c05, phash_c10) VALUES (?, ?, ?, ?) "
                           "ON CONFLICT (sha256) DO UPDATE SET phash = excluded.phash, phash_c05 = excluded.phash_c05, "
                           "phash_c10 = excluded.phash_c10", [(s, *map(to_signed64, h)) for s, h in hashes.items()])
            entity_batch = []
            for sha, rec in records.items():
                ents, validated = ground(rec.captions, rec.objects, self.checker, self.settings.ngram_max)
                entity_batch.extend(entity_rows(sha, ents, validated))
            db.executemany("DELETE FROM images_entities WHERE sha256 = ?", [(s,) for s in records])
            db.executemany("INSERT INTO images_entities (sha256, concept, text, source, box, score, validated) "
                           "VALUES (?, ?, ?, ?, ?, ?, ?)", entity_batch)
            report.entities += len(entity_batch)
        self.pool.catalog.upsert(records.values())
        report.exact_duplicates = self.ws.db.execute(
            "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM images_occurrences WHERE source = ? "
            "GROUP BY sha256 HAVING n > 1)", (self.source_key,)).fetchone()[0]


def import_images(ws: Workspace, source: str, fmt: str, *, image_root: str | Path | None = None, copy: bool | None = None,
                  split: str | None = None, force: bool = False, progress: Progress | None = None) -> ImageImportReport:
    """Import ``source`` in format ``fmt``; returns counts (quarantine by reason included)."""
    copy = ws.settings.images.copy_files if copy is None else copy
    return Importer(ws, source=source, fmt=fmt, image_root=Path(image_root) if image_root else None, copy=copy,
                    split=split).run(force=force, progress=progress)
