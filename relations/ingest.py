"""Write side of the relation store: stream a source into conceptnet-lite's schema, per source.

Why not conceptnet-lite's own loader: it reads only an uncompressed dump, makes two passes
through a 4 GiB LMDB staging store, inserts row by row, has no language filter, no per-source
tracking and no handling of malformed lines, and deletes the dump by default. This loader makes
one streaming pass (gzip read in place, never modified), keeps memory flat (bounded caches,
batched inserts) and writes the same tables, so conceptnet-lite's API still reads the result.

Each source is replaced atomically: its old edges are deleted and the new ones inserted in one
SQLite transaction, so a crash or Ctrl-C leaves the previous version in place.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
import sqlite3
import time
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field

from mmrakit.errors import InputError
from mmrakit.runs import fingerprint_file
from mmrakit.stage import Progress
from mmrakit.util import now_iso
from . import schema
from .formats import Format, LineLog, detect_format, open_binary, read_conceptnet_csv, read_kgtk, read_pack
from .ontology import RELATIONS

if TYPE_CHECKING:
    from mmrakit.workspace import Workspace

LOADER_VERSION = "relations-loader-1"
CACHE_LIMIT = 200_000  # concept/label ids kept in memory; beyond this the store's indexes answer
FLUSH_EDGES = 20_000  # edges per executemany (at most [relations] batch_size)
INGEST_CACHE_KIB = 32 * 1024  # SQLite page cache while ingesting (bounded memory)
BULK_BYTES = 64 << 20  # sources this big (or any source into an empty store) load with indexes rebuilt once
FORMATS: tuple[Format, ...] = ("conceptnet-csv", "kgtk", "pack")


class IngestReport(BaseModel):
    """What one ingest did; ``mmrakit relations ingest --json`` prints it."""

    name: str = Field(description="Source name (its identity in the store)")
    path: str
    format: Format
    dataset: str | None = Field(None, description="Dataset id given to edges of a relation pack")
    languages: list[str]
    db_path: str
    lines: int = 0
    edges: int = 0
    replaced_edges: int = Field(0, description="Edges of the previous version of this source that were replaced")
    malformed: dict[str, int] = Field(default_factory=dict, description="Skipped lines by reason")
    malformed_samples: dict[str, list[int]] = Field(default_factory=dict, description="Sampled line numbers per reason")
    filtered: dict[str, int] = Field(default_factory=dict, description="Lines dropped on purpose (language, ExternalURL, non-ConceptNet)")
    up_to_date: bool = Field(False, description="True when this exact source was already ingested (nothing done)")
    duration_s: float = 0.0


def pack_dataset(name: str) -> str:
    """Dataset id of a relation pack: visibly not ConceptNet's ``/d/conceptnet/...``."""
    stem = name
    for suffix in (".gz", ".tsv", ".csv", ".txt"):
        stem = stem.removesuffix(suffix)
    return f"/d/pack/{''.join(ch if ch.isalnum() or ch in '-_.' else '_' for ch in stem.lower())}"


class _Loader:
    """Maps URIs to conceptnet-lite ids and batches inserts of new labels, concepts and edges.

    Ids are assigned here (MAX(id)+1 onwards) so new rows go in with ``executemany``. The caches
    are bounded: past CACHE_LIMIT entries they are dropped after a flush and the store's indexes
    answer instead, so memory does not grow with the dump.
    """

    def __init__(self, conn: "sqlite3.Connection", source_id: int, batch_size: int, *, bulk: bool = False) -> None:
        self.conn = conn
        self.source_id = source_id
        self.batch_size = min(batch_size, FLUSH_EDGES)
        self.edges_batch: list[tuple] = []
        self.new_labels: list[tuple] = []
        self.new_concepts: list[tuple] = []
        self.edges = 0
        self.languages = {n: i for n, i in conn.execute("SELECT name, id FROM language")}
        self.relations = {n: i for n, i in conn.execute("SELECT name, id FROM relation")}
        self.relation_ids: dict[str, int] = {}
        self.labels: dict[tuple[str, int | None], int] = {}
        self.concepts: dict[str, int] = {}
        self.next_label = (conn.execute("SELECT MAX(id) FROM label").fetchone()[0] or 0) + 1
        self.next_concept = (conn.execute("SELECT MAX(id) FROM concept").fetchone()[0] or 0) + 1
        # While the store had no labels and no cache was dropped, a cache miss means "new".
        self.complete = self.next_label == 1
        self.bulk = bulk
        if bulk:
            dropped = schema.BULK_INDEXES + (tuple(schema.LOOKUP_INDEXES) if self.complete else ())
            for index in dropped:
                conn.execute(f'DROP INDEX IF EXISTS "{index}"')

    def finish(self) -> None:
        """Flush, and rebuild every index a bulk load dropped."""
        self.flush()
        if self.bulk:
            schema.ensure(self.conn)

    def relation_id(self, name: str) -> int:
        rid = self.relation_ids.get(name)
        if rid is None:
            snake = RELATIONS[name].snake
            rid = self.relations.get(snake)
            if rid is None:
                rid = self.relations[snake] = self.conn.execute("INSERT INTO relation (name) VALUES (?)", (snake,)).lastrowid
            self.relation_ids[name] = rid
        return rid

    def language_id(self, lang: str) -> int:
        lid = self.languages.get(lang)
        if lid is None:
            lid = self.languages[lang] = self.conn.execute("INSERT INTO language (name) VALUES (?)", (lang,)).lastrowid
        return lid

    def concept_id(self, uri: str, is_url: bool = False) -> int:
        cid = self.concepts.get(uri)
        if cid is not None:
            return cid
        if is_url:
            text, lang_id, sense = uri, None, "url"
        else:
            parts = uri.split("/", 4)
            text, lang_id, sense = parts[3], self.language_id(parts[2]), parts[4] if len(parts) == 5 else ""
        label_key = (text, lang_id)
        label_id = self.labels.get(label_key)
        new_label = False
        if label_id is None:
            row = None if self.complete else self.conn.execute(
                "SELECT id FROM label WHERE text = ? AND language_id IS ?", label_key).fetchone()
            if row is None:
                label_id = self.next_label
                self.next_label += 1
                self.new_labels.append((label_id, text, lang_id))
                new_label = True
            else:
                label_id = row[0]
            self.labels[label_key] = label_id
        row = None if (new_label or self.complete) else self.conn.execute(
            "SELECT id FROM concept WHERE label_id = ? AND sense_label = ?", (label_id, sense)).fetchone()
        if row is None:
            cid = self.next_concept
            self.next_concept += 1
            self.new_concepts.append((cid, label_id, sense))
        else:
            cid = row[0]
        self.concepts[uri] = cid
        return cid

    def add(self, name: str, start: str, end: str, etc: str) -> None:
        self.edges_batch.append((self.relation_id(name), self.concept_id(start),
                                 self.concept_id(end, is_url=name == "ExternalURL" and not end.startswith("/c/")),
                                 etc, self.source_id))
        if len(self.edges_batch) >= self.batch_size:
            self.flush()

    def flush(self) -> None:
        conn = self.conn
        if self.new_labels:
            conn.executemany("INSERT INTO label (id, text, language_id) VALUES (?, ?, ?)", self.new_labels)
            self.new_labels.clear()
        if self.new_concepts:
            conn.executemany("INSERT INTO concept (id, label_id, sense_label) VALUES (?, ?, ?)", self.new_concepts)
            self.new_concepts.clear()
        if self.edges_batch:
            conn.executemany(
                "INSERT INTO edge (relation_id, start_id, end_id, etc, source_id) VALUES (?, ?, ?, ?, ?)", self.edges_batch)
            self.edges += len(self.edges_batch)
            self.edges_batch.clear()
        if len(self.concepts) > CACHE_LIMIT or len(self.labels) > CACHE_LIMIT:
            # Keep the first-seen half: in a Zipf-distributed dump those are the frequent concepts.
            self.concepts = dict(islice(self.concepts.items(), CACHE_LIMIT // 2))
            self.labels = dict(islice(self.labels.items(), CACHE_LIMIT // 2))
            if self.complete and self.bulk:  # from now on the store answers lookups: it needs its indexes
                for ddl in schema.LOOKUP_INDEXES.values():
                    conn.execute(ddl)
            self.complete = False


def _delete_source_edges(conn: "sqlite3.Connection", source_id: int) -> int:
    return conn.execute("DELETE FROM edge WHERE source_id = ?", (source_id,)).rowcount


def _collect_orphans(conn: "sqlite3.Connection") -> None:
    """Drop concepts and labels no edge uses any more (after a source shrank or went away)."""
    conn.execute("DELETE FROM concept WHERE NOT EXISTS (SELECT 1 FROM edge WHERE edge.start_id = concept.id) "
                 "AND NOT EXISTS (SELECT 1 FROM edge WHERE edge.end_id = concept.id)")
    conn.execute("DELETE FROM label WHERE NOT EXISTS (SELECT 1 FROM concept WHERE concept.label_id = label.id)")


@contextmanager
def write_transaction(db_path: Path, *, cache_kib: int | None = None) -> Iterator[sqlite3.Connection]:
    """One immediate write transaction on the store: committed whole, or rolled back whole."""
    conn = schema.connect(db_path)
    if cache_kib:
        conn.execute(f"PRAGMA cache_size=-{cache_kib}")
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    finally:
        conn.close()


def ingest_file(
    db_path: str | Path,
    source: str | Path,
    *,
    format: Format | None = None,
    name: str | None = None,
    languages: list[str] | tuple[str, ...] = ("en",),
    keep_external_urls: bool = False,
    batch_size: int = 50_000,
    progress: Progress | None = None,
) -> IngestReport:
    """Stream ``source`` into the store at ``db_path``, replacing any earlier version of the same source name.

    ``progress("relations <name>", lines read, 0)`` is called every ``batch_size`` edges (total unknown)."""
    started = time.monotonic()
    path = Path(source).expanduser().resolve()
    if not path.exists():
        raise InputError(f"{path}: no such file", hint="give the path of a ConceptNet dump, a KGTK TSV or a relation pack")
    if not path.is_file():
        raise InputError(f"{path}: not a file", hint="give one file per `relations ingest`")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty", hint="nothing to ingest; check the download or export")
    fmt = format or detect_format(path)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}", hint=f"use one of: {', '.join(FORMATS)}")
    name = name or path.name
    langs = list(languages)
    dataset = pack_dataset(name) if fmt == "pack" else None
    report = IngestReport(name=name, path=str(path), format=fmt, dataset=dataset, languages=langs, db_path=str(db_path))
    log = LineLog()
    with write_transaction(db_path, cache_kib=INGEST_CACHE_KIB) as conn:
        row = conn.execute("SELECT id FROM mmrakit_source WHERE name = ?", (name,)).fetchone()
        fp = json.dumps(fingerprint_file(path))
        if row is None:
            source_id = conn.execute(
                "INSERT INTO mmrakit_source (name, path, format, dataset, fingerprint, languages, edges, report, ingested_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 0, '{}', ?)", (name, str(path), fmt, dataset, fp, json.dumps(langs), now_iso())
            ).lastrowid
        else:
            source_id = row[0]
            report.replaced_edges = _delete_source_edges(conn, source_id)
        bulk = path.stat().st_size >= BULK_BYTES or conn.execute("SELECT 1 FROM edge LIMIT 1").fetchone() is None
        loader = _Loader(conn, source_id, batch_size, bulk=bulk)
        with open_binary(path) as fh:
            if fmt == "conceptnet-csv":
                edges = read_conceptnet_csv(fh, log, langs, keep_external_urls)
            elif fmt == "kgtk":
                edges = read_kgtk(fh, log, langs, keep_external_urls)
            else:
                delimiter = "," if path.name.lower().removesuffix(".gz").endswith(".csv") else "\t"
                edges = read_pack(fh, log, langs, keep_external_urls, dataset=dataset or "", delimiter=delimiter)
            add = loader.add
            try:
                if progress is None:
                    for edge in edges:
                        add(*edge)
                else:
                    for n, edge in enumerate(edges, 1):
                        add(*edge)
                        if n % batch_size == 0:
                            progress(f"relations {name}", log.lines, 0)
            except (OSError, EOFError) as exc:
                raise InputError(f"{path}: cannot read past line {log.lines or '?'} ({exc})",
                                 hint="the file is truncated or corrupt; re-download or re-export it") from None
        loader.finish()
        report.lines, report.edges = log.lines, loader.edges
        report.malformed, report.malformed_samples, report.filtered = log.malformed, log.samples, log.filtered
        if log.lines == 0:
            raise InputError(f"{path}: no lines to read", hint="the file is empty")
        if loader.edges == 0 and sum(log.malformed.values()) >= log.lines:
            first = ", ".join(f"{r} (lines {', '.join(map(str, s[:3]))})" for r, s in log.samples.items())
            raise InputError(f"{path}: no valid {fmt} line: {first}",
                             hint="check --format (conceptnet-csv, kgtk or pack) and the file's columns")
        if report.replaced_edges:
            _collect_orphans(conn)
        report.duration_s = round(time.monotonic() - started, 3)
        conn.execute(
            "UPDATE mmrakit_source SET path = ?, format = ?, dataset = ?, fingerprint = ?, languages = ?, edges = ?, "
            "report = ?, ingested_at = ? WHERE id = ?",
            (str(path), fmt, dataset, fp, json.dumps(langs), loader.edges, report.model_dump_json(), now_iso(), source_id))
    return report


def source_row(db_path: Path, name: str) -> dict | None:
    if not db_path.is_file():
        return None
    conn = sqlite3.connect(str(db_path), timeout=30.0)  # a plain reader: no schema writes
    try:
        row = conn.execute("SELECT name, path, fingerprint, report FROM mmrakit_source WHERE name = ?", (name,)).fetchone()
    except sqlite3.OperationalError:  # a store from conceptnet-lite's own loader: no source table yet
        row = None
    finally:
        conn.close()
    return None if row is None else {"name": row[0], "path": row[1], "fingerprint": json.loads(row[2]), "report": json.loads(row[3])}


def ingest(
    ws: "Workspace",
    source: str | Path,
    *,
    format: Format | None = None,
    name: str | None = None,
    languages: list[str] | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Ingest one source into the workspace's store. The same unchanged source again is a no-op;
    a changed one replaces its edges; other sources are untouched."""
    cfg = ws.settings.relations
    path = Path(source).expanduser().resolve()
    name = name or path.name
    langs = list(cfg.languages if languages is None else languages)
    db_path = ws.resolve(cfg.db_file)
    existing = source_row(db_path, name)
    if existing is not None and existing["path"] != str(path) and not force:
        raise InputError(
            f"a different file is already ingested as source {name!r} ({existing['path']})",
            hint=f"pass --name to add {path} as another source, or --force to replace {name!r} with it")
    run_settings = {"format": format, "languages": langs, "keep_external_urls": cfg.keep_external_urls, "db_file": cfg.db_file}
    with ws.stage_run("relations.ingest", key=name, inputs=[str(path)], settings=run_settings,
                      code_version=LOADER_VERSION, force=force or existing is None) as run:
        if run.up_to_date and existing is not None:
            report = IngestReport.model_validate(existing["report"])
            return report.model_copy(update={"up_to_date": True, "duration_s": 0.0, "replaced_edges": 0})
        report = ingest_file(db_path, path, format=format, name=name, languages=langs,
                             keep_external_urls=cfg.keep_external_urls, batch_size=cfg.batch_size, progress=progress)
        run.counts = {"lines": report.lines, "edges": report.edges, "replaced_edges": report.replaced_edges,
                      "malformed": sum(report.malformed.values()), **{f"filtered_{k}": v for k, v in report.filtered.items()}}
        run.outputs = {"db": str(db_path), "source": name}
    return report


def remove_source(ws: "Workspace", source: str) -> dict:
    """Drop one source (by name or path) and its edges; the other sources stay."""
    db_path = ws.resolve(ws.settings.relations.db_file)
    if not db_path.is_file():
        raise InputError(f"no relation store at {db_path}", hint="nothing has been ingested in this workspace")
    with write_transaction(db_path) as conn:
        resolved = str(Path(source).expanduser().resolve())
        row = conn.execute("SELECT id, name FROM mmrakit_source WHERE name = ? OR path = ?", (source, resolved)).fetchone()
        if row is None:
            conn.execute("ROLLBACK")
            names = [r[0] for r in conn.execute("SELECT name FROM mmrakit_source ORDER BY id")]
            raise InputError(f"no ingested source named {source!r}",
                             hint=f"known sources: {', '.join(names) or '(none)'}; see `mmrakit relations sources`")
        source_id, name = row
        removed = _delete_source_edges(conn, source_id)
        conn.execute("DELETE FROM mmrakit_source WHERE id = ?", (source_id,))
        _collect_orphans(conn)
    ws.runs.invalidate("relations.ingest", key=name)
    return {"source": name, "removed_edges": removed}
