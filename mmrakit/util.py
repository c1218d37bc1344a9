"""Small generic helpers every layer uses: content hashes and timestamps."""

from __future__ import annotations

import hashlib
import os
from datetime import datetime, timezone

import psutil


def now_iso() -> str:
    """The current UTC time, ISO 8601 with microseconds (what the catalogue records)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """sha256 of a file's bytes, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def where_equal(sql: str, args: list, **columns: object) -> str:
    """``sql`` with `` AND column = ?`` for each column whose value is not None (values appended to ``args``)."""
    for column, value in columns.items():
        if value is not None:
            sql += f" AND {column} = ?"
            args.append(value)
    return sql


def pid_alive(pid: int | None) -> bool:
    """Whether a process with this id exists (no id: no process)."""
    return bool(pid) and psutil.pid_exists(pid)
