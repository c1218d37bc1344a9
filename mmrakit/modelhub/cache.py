"""SQLite response cache: a killed run resumes without repeating calls; a finished one re-scores at once.

The key covers everything that can change a response: the backend fingerprint (model, endpoint,
weights), the prompt parts with image hashes, and the generation settings. Each response is
committed as it arrives (WAL), so a kill loses at most the calls in flight.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

DDL = """
CREATE TABLE IF NOT EXISTS responses (
    key        TEXT PRIMARY KEY,
    backend    TEXT NOT NULL,
    response   TEXT NOT NULL,
    latency_s  REAL,
    created_at REAL NOT NULL
);
"""


def cache_key(fingerprint: str, parts: list[Any], generation: dict[str, Any], item_id: str | None = None) -> str:
    """Equal keys mean one response serves both requests. ``item_id`` is given for backends whose
    answer belongs to one item (saved predictions, the seeded random baseline), so equal prompts of
    different items never share it; model backends leave it out and identical prompts share a call."""
    body: dict[str, Any] = {"backend": fingerprint, "parts": parts, "generation": generation}
    if item_id is not None:
        body["item"] = item_id
    payload = json.dumps(body, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class ResponseCache:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(DDL)

    def get_many(self, keys: list[str]) -> dict[str, tuple[str, float | None]]:
        out: dict[str, tuple[str, float | None]] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                chunk = keys[start:start + 500]
                q = f"SELECT key, response, latency_s FROM responses WHERE key IN ({','.join('?' * len(chunk))})"
                for key, response, latency in self._conn.execute(q, chunk):
                    out[key] = (response, latency)
        return out

    def put(self, key: str, backend: str, response: str, latency_s: float | None = None) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO responses (key, backend, response, latency_s, created_at) VALUES (?, ?, ?, ?, ?)",
                (key, backend, response, latency_s, time.time()),
            )

    def __len__(self) -> int:
        with self._lock:
            return self._conn.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
