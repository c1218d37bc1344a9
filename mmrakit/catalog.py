"""The workspace catalogue: one SQLite database (WAL) that every stage extends with its own tables.

The core knows no stage table. A stage declares its DDL and calls :func:`ensure_schema` with a
component name and version; the catalogue remembers which component is at which version, so a
stage can migrate its own tables without the core knowing about them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path

CORE_DDL = """
CREATE TABLE IF NOT EXISTS schema_versions (
    component TEXT PRIMARY KEY,
    version   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS stage_runs (
    id           INTEGER PRIMARY KEY,
    stage        TEXT NOT NULL,
    key          TEXT NOT NULL DEFAULT '',
    signature    TEXT NOT NULL,
    inputs       TEXT NOT NULL DEFAULT '[]',
    settings     TEXT NOT NULL DEFAULT '{}',
    code_version TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed', 'interrupted', 'waiting')),
    counts       TEXT NOT NULL DEFAULT '{}',
    outputs      TEXT NOT NULL DEFAULT '{}',
    error        TEXT,
    pid          INTEGER,
    started_at   TEXT NOT NULL,
    finished_at  TEXT,
    duration_s   REAL
);
CREATE INDEX IF NOT EXISTS stage_runs_stage_key ON stage_runs (stage, key, id);
"""


def connect(path: str | Path, *, readonly: bool = False) -> sqlite3.Connection:
    """Open the catalogue with the pragmas every caller needs (WAL, FKs, a generous busy timeout)."""
    if readonly:
        conn = sqlite3.connect(f"file:{Path(path)}?mode=ro", uri=True, timeout=30.0)
    else:
        conn = sqlite3.connect(str(path), timeout=30.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def ensure_schema(
    conn: sqlite3.Connection,
    component: str,
    version: int,
    ddl: str,
    migrations: Mapping[int, str | Iterable[str]] | None = None,
) -> None:
    """Create ``component``'s tables (idempotent DDL) and apply migrations up to ``version``.

    ``migrations[v]`` is the SQL that takes the component from version ``v - 1`` to ``v``.
    Everything runs in one transaction: a failed migration leaves the old schema intact.
    """
    conn.executescript(CORE_DDL)
    row = conn.execute("SELECT version FROM schema_versions WHERE component = ?", (component,)).fetchone()
    current = row[0] if row else None
    if current == version:
        return
    if current is not None and current > version:
        raise RuntimeError(
            f"catalogue component {component!r} is at schema version {current}, newer than this mmrakit "
            f"understands ({version}); upgrade mmrakit"
        )
    with conn:
        conn.execute("BEGIN IMMEDIATE")
        for statement in _split(ddl):
            conn.execute(statement)
        if current is not None:
            for v in range(current + 1, version + 1):
                script = (migrations or {}).get(v)
                if script is None:
                    continue
                for statement in ([script] if isinstance(script, str) else script):
                    for part in _split(statement):
                        conn.execute(part)
        conn.execute(
            "INSERT INTO schema_versions (component, version) VALUES (?, ?) "
            "ON CONFLICT (component) DO UPDATE SET version = excluded.version",
            (component, version),
        )


def _split(script: str) -> list[str]:
    """Split a DDL script into statements (executescript would commit our transaction)."""
    statements, buf = [], []
    for line in script.splitlines():
        buf.append(line)
        candidate = "\n".join(buf).strip()
        if candidate and sqlite3.complete_statement(candidate):
            statements.append(candidate)
            buf = []
    rest = "\n".join(buf).strip()
    if rest:
        statements.append(rest)
    return statements
