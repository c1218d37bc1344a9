"""Options and output helpers shared by every command: ``-w/--workspace`` and ``--json``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table

from ..workspace import ENV_VAR, Workspace

console = Console()
err_console = Console(stderr=True, soft_wrap=True)

WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help=f"Workspace directory (default: ${ENV_VAR}, then the current directory).",
                 show_default=False),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]


def open_workspace(path: Path | None) -> Workspace:
    return Workspace.open(path)


def to_jsonable(obj: Any) -> Any:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def emit(data: Any, as_json: bool, render: Callable[[Any], None] | None = None) -> None:
    """Print ``data`` as JSON (for scripts) or through ``render`` (for people)."""
    if as_json:
        sys.stdout.write(json.dumps(to_jsonable(data), indent=2, default=str, ensure_ascii=False) + "\n")
        sys.stdout.flush()
    elif render is not None:
        render(data)
    else:
        console.print_json(json.dumps(to_jsonable(data), default=str))


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    console.print(t)
