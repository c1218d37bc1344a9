"""Stage-run records, the one signature layer: what ran, on which inputs and settings, with which code.

A stage wraps its work in :meth:`Workspace.stage_run` (one record per stage and key, e.g. one
relation source). The run's *signature* hashes the stage name, the key, input fingerprints,
settings and code version. A finished run with the same signature makes the next one a no-op;
``mmrakit status`` re-fingerprints the recorded inputs and, given the stage graph (derived from
the stages, :func:`mmrakit.pipeline.stage_graph`), says what is stale.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from .util import now_iso, pid_alive, sha256_file, where_equal


def fingerprint_file(path: str | os.PathLike[str], *, content: bool = False) -> dict[str, Any]:
    """Cheap (size + mtime) or exact (sha256) fingerprint of one input file or directory."""
    p = Path(path)
    if not p.exists():
        return {"path": str(p), "missing": True}
    if p.is_dir():
        entries = sorted(
            (str(c.relative_to(p)), c.stat().st_size, c.stat().st_mtime_ns) for c in p.rglob("*") if c.is_file()
        )
        digest = hashlib.sha256(json.dumps(entries).encode()).hexdigest()
        return {"path": str(p.resolve()), "dir": True, "digest": digest}
    st = p.stat()
    fp: dict[str, Any] = {"path": str(p.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    if content:
        fp["sha256"] = sha256_file(p)
    return fp


def _json_settings(settings: BaseModel | Mapping[str, Any] | None) -> dict[str, Any]:
    if settings is None:
        return {}
    if isinstance(settings, BaseModel):
        return settings.model_dump(mode="json")
    return json.loads(json.dumps(dict(settings), default=str))


def _fingerprint_inputs(inputs: Iterable[Any]) -> list[Any]:
    out = []
    for item in inputs:
        if isinstance(item, (str, os.PathLike)) and not str(item).startswith(("hf:", "hub:")) and Path(item).exists():
            out.append(fingerprint_file(item))
        elif isinstance(item, BaseModel):
            out.append(item.model_dump(mode="json"))
        else:
            out.append(json.loads(json.dumps(item, default=str)))
    return out


def compute_signature(stage: str, key: str, inputs: list[Any], settings: dict[str, Any], code_version: str) -> str:
    blob = json.dumps([stage, key, inputs, settings, code_version], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _signature(stage: str, key: str, inputs: Iterable[Any], settings: BaseModel | Mapping[str, Any] | None,
               code_version: str) -> tuple[list[Any], dict[str, Any], str, str]:
    from . import __version__

    fp_inputs = _fingerprint_inputs(inputs)
    settings_json = _json_settings(settings)
    version = f"{__version__}/{code_version}" if code_version else __version__
    return fp_inputs, settings_json, version, compute_signature(stage, key, fp_inputs, settings_json, version)


@dataclass
class StageRun:
    """Handle a stage fills in while it works; recorded when the ``with`` block ends."""

    stage: str
    key: str
    signature: str
    up_to_date: bool
    previous: sqlite3.Row | None = None
    counts: dict[str, Any] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    run_id: int | None = None

    @property
    def previous_counts(self) -> dict[str, Any]:
        return json.loads(self.previous["counts"]) if self.previous is not None else {}


class StageRuns:
    """Reads and writes the ``stage_runs`` table of one catalogue."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def latest(self, stage: str, key: str | None = None, *, status: str | None = "done") -> sqlite3.Row | None:
        args: list[Any] = [stage]
        sql = where_equal("SELECT * FROM stage_runs WHERE stage = ?", args, key=key, status=status)
        return self.conn.execute(sql + " ORDER BY id DESC LIMIT 1", args).fetchone()

    def all_latest(self) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT r.* FROM stage_runs r JOIN (SELECT stage, key, MAX(id) AS id FROM stage_runs GROUP BY stage, key) m "
            "ON r.id = m.id ORDER BY r.id"
        ).fetchall()

    @contextmanager
    def run(
        self,
        stage: str,
        *,
        key: str = "",
        inputs: Iterable[Any] = (),
        settings: BaseModel | Mapping[str, Any] | None = None,
        code_version: str = "",
        force: bool = False,
    ) -> Iterator[StageRun]:
        fp_inputs, settings_json, version, signature = _signature(stage, key, inputs, settings, code_version)
        prev = self.latest(stage, key)
        up_to_date = prev is not None and prev["signature"] == signature and not force
        handle = StageRun(stage, key, signature, up_to_date, prev)
        if up_to_date:
            yield handle
            return
        started = time.monotonic()
        with self.conn:
            cur = self.conn.execute(
                "INSERT INTO stage_runs (stage, key, signature, inputs, settings, code_version, status, pid, started_at) "
                "VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?)",
                (stage, key, signature, json.dumps(fp_inputs), json.dumps(settings_json), version, os.getpid(), now_iso()),
            )
        handle.run_id = cur.lastrowid
        try:
            yield handle
        except BaseException as exc:
            # an exception may name its own status (the pipeline's "waiting for reviews")
            status = getattr(exc, "stage_status", None) or (
                "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
            self._finish(handle, status, started, error=f"{type(exc).__name__}: {exc}")
            raise
        self._finish(handle, "done", started)

    def is_current(self, stage: str, *, key: str = "", inputs: Iterable[Any] = (),
                   settings: BaseModel | Mapping[str, Any] | None = None, code_version: str = "") -> bool:
        """Whether the last finished run of (stage, key) has exactly this signature (a re-run would be a no-op)."""
        prev = self.latest(stage, key)
        return prev is not None and prev["signature"] == _signature(stage, key, inputs, settings, code_version)[3]

    def _finish(self, handle: StageRun, status: str, started: float, error: str | None = None) -> None:
        with self.conn:
            self.conn.execute(
                "UPDATE stage_runs SET status = ?, counts = ?, outputs = ?, error = ?, finished_at = ?, duration_s = ? "
                "WHERE id = ?",
                (status, json.dumps(handle.counts, default=str), json.dumps(handle.outputs, default=str), error,
                 now_iso(), round(time.monotonic() - started, 3), handle.run_id),
            )

    def invalidate(self, stage: str, key: str | None = None) -> int:
        """Forget finished runs so the next run recomputes (used by ``--force`` and source removal)."""
        sql, args = "UPDATE stage_runs SET status = 'failed', error = 'invalidated' WHERE stage = ? AND status = 'done'", [stage]
        if key is not None:
            sql += " AND key = ?"
            args.append(key)
        with self.conn:
            return self.conn.execute(sql, args).rowcount

    def status_report(self, graph: Mapping[str, Iterable[str]] | None = None) -> list[dict[str, Any]]:
        """Latest run per (stage, key), with ``stale`` reasons computed now.

        ``graph`` maps each stage to the stages it reads from, in pipeline order (the CLI passes the
        one derived from the stages); without it, only changed inputs make a run stale."""
        graph = dict(graph or {})
        rows = self.all_latest()
        finished_at: dict[str, str] = {}
        for r in rows:
            if r["status"] == "done" and r["finished_at"]:
                finished_at[r["stage"]] = max(finished_at.get(r["stage"], ""), r["finished_at"])
        report = []
        for r in rows:
            reasons: list[str] = []
            status = r["status"]
            if status == "running" and not pid_alive(r["pid"]):
                status = "interrupted"
                reasons.append("process died mid-run; re-run the stage to resume")
            if status == "done":
                for fp in json.loads(r["inputs"]):
                    if isinstance(fp, dict) and "path" in fp and ("size" in fp or "dir" in fp or fp.get("missing")):
                        now = fingerprint_file(fp["path"], content="sha256" in fp)
                        if now != fp:
                            reasons.append(f"input changed: {fp['path']}")
                for up in graph.get(r["stage"], ()):
                    if finished_at.get(up, "") > (r["started_at"] or ""):
                        reasons.append(f"upstream {up} re-ran")
            report.append({
                "stage": r["stage"], "key": r["key"], "status": status, "stale": bool(reasons), "reasons": reasons,
                "counts": json.loads(r["counts"]), "outputs": json.loads(r["outputs"]),
                "started_at": r["started_at"], "finished_at": r["finished_at"], "duration_s": r["duration_s"],
                "code_version": r["code_version"], "error": r["error"],
            })
        order = {s: i for i, s in enumerate(graph)}
        report.sort(key=lambda d: (order.get(d["stage"], len(order)), d["key"]))
        return report

