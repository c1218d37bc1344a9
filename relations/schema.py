"""The relation store's SQLite schema: conceptnet-lite's tables, plus mmrakit's source tracking.

The five conceptnet-lite tables are created exactly as its peewee models create them, so
``conceptnet_lite.connect(path)`` opens a store built here. mmrakit adds (compatibly):

* ``edge.source_id``: which ingested source an edge came from (NULL for a DB built by
  conceptnet-lite's own loader); conceptnet-lite selects named columns, so it never sees it;
* ``mmrakit_source``: one row per ingested source (name, path, fingerprint, counts, report);
* lookup indexes on ``label(text, language_id)`` and ``concept(label_id, sense_label)``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

SCHEMA_VERSION = 1

CONCEPTNET_LITE_DDL = """
CREATE TABLE IF NOT EXISTS "relation" ("id" INTEGER NOT NULL PRIMARY KEY, "name" TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS "relation_name" ON "relation" ("name");
CREATE TABLE IF NOT EXISTS "language" ("id" INTEGER NOT NULL PRIMARY KEY, "name" TEXT NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS "language_name" ON "language" ("name");
CREATE TABLE IF NOT EXISTS "label" ("id" INTEGER NOT NULL PRIMARY KEY, "text" TEXT NOT NULL, "language_id" INTEGER,
  FOREIGN KEY ("language_id") REFERENCES "language" ("id"));
CREATE INDEX IF NOT EXISTS "label_text" ON "label" ("text");
CREATE INDEX IF NOT EXISTS "label_language_id" ON "label" ("language_id");
CREATE TABLE IF NOT EXISTS "concept" ("id" INTEGER NOT NULL PRIMARY KEY, "label_id" INTEGER NOT NULL,
  "sense_label" TEXT NOT NULL, FOREIGN KEY ("label_id") REFERENCES "label" ("id"));
CREATE INDEX IF NOT EXISTS "concept_label_id" ON "concept" ("label_id");
CREATE TABLE IF NOT EXISTS "edge" ("id" INTEGER NOT NULL PRIMARY KEY, "relation_id" INTEGER NOT NULL,
  "start_id" INTEGER NOT NULL, "end_id" INTEGER NOT NULL, "etc" JSON NOT NULL,
  FOREIGN KEY ("relation_id") REFERENCES "relation" ("id"), FOREIGN KEY ("start_id") REFERENCES "concept" ("id"),
  FOREIGN KEY ("end_id") REFERENCES "concept" ("id"));
CREATE INDEX IF NOT EXISTS "edge_relation_id" ON "edge" ("relation_id");
CREATE INDEX IF NOT EXISTS "edge_start_id" ON "edge" ("start_id");
CREATE INDEX IF NOT EXISTS "edge_end_id" ON "edge" ("end_id");
"""

MMRAKIT_DDL = """
CREATE TABLE IF NOT EXISTS mmrakit_source (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    path        TEXT NOT NULL,
    format      TEXT NOT NULL,
    dataset     TEXT,
    fingerprint TEXT NOT NULL,
    languages   TEXT NOT NULL,
    edges       INTEGER NOT NULL,
    report      TEXT NOT NULL,
    ingested_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS mmrakit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS mmrakit_label_text_language ON label (text, language_id);
CREATE INDEX IF NOT EXISTS mmrakit_concept_label_sense ON concept (label_id, sense_label);
"""


# Indexes that bulk loads drop and rebuild once at the end (sorting once beats millions of
# random B-tree inserts). LOOKUP_INDEXES serve the loader's own id lookups, so they are only
# dropped while the loader's caches are authoritative (an empty store).
BULK_INDEXES = ("edge_relation_id", "edge_start_id", "edge_end_id", "mmrakit_edge_source", "label_text",
                "label_language_id", "concept_label_id")
LOOKUP_INDEXES = {
    "mmrakit_label_text_language": "CREATE INDEX IF NOT EXISTS mmrakit_label_text_language ON label (text, language_id)",
    "mmrakit_concept_label_sense": "CREATE INDEX IF NOT EXISTS mmrakit_concept_label_sense ON concept (label_id, sense_label)",
}


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open (and when writable, create/upgrade) a relation store."""
    path = Path(path)
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30.0, check_same_thread=False)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=30.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        ensure(conn)
    conn.execute("PRAGMA busy_timeout=30000")
    conn.execute("PRAGMA cache_size=-65536")
    return conn


def _run(conn: sqlite3.Connection, ddl: str) -> None:
    """Statement by statement: unlike executescript, this does not commit an open transaction."""
    for statement in ddl.split(";"):
        if statement.strip():
            conn.execute(statement)


def ensure(conn: sqlite3.Connection) -> None:
    """Create missing tables/columns/indexes (idempotent; safe inside a transaction)."""
    _run(conn, CONCEPTNET_LITE_DDL)
    columns = {row[1] for row in conn.execute('PRAGMA table_info("edge")')}
    if "source_id" not in columns:
        conn.execute('ALTER TABLE "edge" ADD COLUMN "source_id" INTEGER')
    _run(conn, MMRAKIT_DDL)
    conn.execute("CREATE INDEX IF NOT EXISTS mmrakit_edge_source ON edge (source_id)")
    conn.execute("INSERT OR REPLACE INTO mmrakit_meta (key, value) VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
