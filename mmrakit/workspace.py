"""A workspace: one directory holding ``mmrakit.toml``, the SQLite catalogue and every stage's artefacts."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from . import atomic
from .catalog import CORE_DDL, connect, ensure_schema
from .errors import WorkspaceError
from .settings import SETTINGS_FILE, Settings
from .runs import StageRun, StageRuns

CATALOG_FILE = "catalog.sqlite"
ENV_VAR = "MMRAKIT_WORKSPACE"
# Sub-directories every stage can rely on; a stage owns the one named after it.
LAYOUT = ("relations", "images", "embeddings", "index", "dedup", "candidates", "review", "exports", "eval", "logs")


class Workspace:
    def __init__(self, root: Path, settings: Settings) -> None:
        self.root = root
        self.settings = settings
        self._local = threading.local()

    # --- creation and discovery ---------------------------------------------------------------

    @classmethod
    def init(cls, root: str | os.PathLike[str], settings: Settings | None = None) -> "Workspace":
        """Create a workspace (or re-open an existing one unchanged: init is idempotent)."""
        root = Path(root).resolve()
        cfg = root / SETTINGS_FILE
        if cfg.exists():
            ws = cls.open(root)
        else:
            root.mkdir(parents=True, exist_ok=True)
            settings = settings or Settings()
            atomic.write_text(cfg, settings.to_toml())
            ws = cls(root, settings)
        for name in LAYOUT:
            (root / name).mkdir(exist_ok=True)
        ws.db.executescript(CORE_DDL)
        return ws

    @classmethod
    def open(cls, root: str | os.PathLike[str] | None = None) -> "Workspace":
        """Open ``root``, else ``$MMRAKIT_WORKSPACE``, else the current directory."""
        chosen = Path(root or os.environ.get(ENV_VAR) or ".").resolve()
        cfg = chosen / SETTINGS_FILE
        if not cfg.exists():
            raise WorkspaceError(
                f"{chosen}: not an mmrakit workspace (no {SETTINGS_FILE})",
                hint=f"create one with `mmrakit init {chosen}`, or pass -w DIR / set ${ENV_VAR}",
            )
        ws = cls(chosen, Settings.load(cfg))
        atomic.clean_stale_temps(chosen)
        return ws

    # --- paths and settings -------------------------------------------------------------------

    def path(self, *parts: str) -> Path:
        return self.root.joinpath(*parts)

    def resolve(self, relative_or_absolute: str | os.PathLike[str]) -> Path:
        p = Path(relative_or_absolute)
        return p if p.is_absolute() else self.root / p

    def save_settings(self) -> None:
        atomic.write_text(self.root / SETTINGS_FILE, self.settings.to_toml())

    # --- catalogue ------------------------------------------------------------------------------

    @property
    def catalog_path(self) -> Path:
        return self.root / CATALOG_FILE

    @property
    def db(self) -> sqlite3.Connection:
        """This thread's connection to the catalogue (created on first use)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.catalog_path)
            conn.executescript(CORE_DDL)
            self._local.conn = conn
        return conn

    def connect(self) -> sqlite3.Connection:
        """A fresh connection (for worker threads/processes); the caller closes it."""
        return connect(self.catalog_path)

    def ensure_schema(self, component: str, version: int, ddl: str, migrations: Mapping[int, str] | None = None) -> None:
        ensure_schema(self.db, component, version, ddl, migrations)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # --- stage runs -----------------------------------------------------------------------------

    @property
    def runs(self) -> StageRuns:
        return StageRuns(self.db)

    @contextmanager
    def stage_run(
        self,
        stage: str,
        *,
        key: str = "",
        inputs: Any = (),
        settings: BaseModel | Mapping[str, Any] | None = None,
        code_version: str = "",
        force: bool = False,
    ) -> Iterator[StageRun]:
        """Record a stage run; ``run.up_to_date`` is True when an identical run already finished."""
        with self.runs.run(stage, key=key, inputs=inputs, settings=settings, code_version=code_version, force=force) as run:
            yield run

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"
