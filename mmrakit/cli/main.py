"""The ``mmrakit`` command: the only module that knows every stage."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from ..errors import MmrakitError
from ..models import SCHEMAS
from ..settings import settings_reference
from ..workspace import Workspace
from .common import JsonOpt, WorkspaceOpt, console, emit, err_console, open_workspace

app = typer.Typer(
    name="mmrakit",
    help="Build, review, export and evaluate MMRA-style multi-image relation benchmarks.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Workspace directory to create (re-running is harmless).")] = Path("."),
    json_out: JsonOpt = False,
) -> None:
    """Create a workspace: mmrakit.toml with every setting, and the SQLite catalogue."""
    ws = Workspace.init(directory)
    emit({"workspace": str(ws.root), "settings": str(ws.path("mmrakit.toml")), "catalog": str(ws.catalog_path)},
         json_out, lambda d: console.print(f"workspace ready: [bold]{d['workspace']}[/]"))


@app.command()
def status(workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """What each stage last did, and what is stale (inputs, settings or upstream changed)."""
    from ..engine import stage_graph
    from .stages import pipeline_stages

    ws = open_workspace(workspace)
    report = ws.runs.status_report(stage_graph(pipeline_stages()))

    def render(rows: list[dict]) -> None:
        if not rows:
            console.print("no stage has run yet")
            return
        console.print(f"[bold]stages in {ws.root}[/]")
        for r in rows:
            stale = "[yellow]stale: " + "; ".join(r["reasons"]) + "[/]" if r["stale"] else "up to date"
            key = escape(f" [{r['key']}]") if r["key"] else ""
            console.print(f"{r['stage']}{key}: {r['status']}, {stale}, finished {(r['finished_at'] or '-')[:19]}, "
                          f"{r['duration_s']} s", soft_wrap=True, markup=True, highlight=False)
            console.print(f"    {json.dumps(r['counts'])[:150]}", soft_wrap=True, markup=False, highlight=False)

    emit(report, json_out, render)


@app.command()
def schema(
    name: Annotated[str | None, typer.Argument(help=f"One of: {', '.join(SCHEMAS)}. Omit for all.")] = None,
) -> None:
    """Print the JSON schema of the models that cross stage boundaries."""
    if name is not None and name not in SCHEMAS:
        raise MmrakitError(f"unknown schema {name!r}", hint=f"choose one of: {', '.join(SCHEMAS)}")
    chosen = {name: SCHEMAS[name]} if name else SCHEMAS
    out = {k: m.model_json_schema() for k, m in chosen.items()}
    sys.stdout.write(json.dumps(out[name] if name else out, indent=2) + "\n")


@app.command("config")
def config_cmd(
    workspace: WorkspaceOpt = None,
    reference: Annotated[bool, typer.Option("--reference", help="Print the Markdown reference of all settings.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Show the workspace's validated settings (or the reference of all settings)."""
    if reference:
        sys.stdout.write(settings_reference() + "\n")
        return
    ws = open_workspace(workspace)
    emit(ws.settings, json_out, lambda s: console.print(s.to_toml()))


def _register_stages() -> None:
    """Attach each stage's commands. Stage CLI modules import heavy libraries lazily."""
    from . import build, evaluate, export, images, relations, review, run

    for module in (relations, images, build, review, export, evaluate, run):
        module.register(app)


_register_stages()


def main() -> None:
    try:
        app()
    except MmrakitError as exc:
        err_console.print(f"[bold red]error:[/] {escape(exc.message)}")
        if exc.hint:
            err_console.print(f"  [dim]hint:[/] {escape(exc.hint)}")
        sys.exit(2)
    except KeyboardInterrupt:
        err_console.print("interrupted: finished work is kept; re-run the same command to resume")
        sys.exit(130)


if __name__ == "__main__":
    main()
