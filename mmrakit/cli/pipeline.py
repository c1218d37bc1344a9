"""CLI commands of the pipeline stage (filled in by its issue)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Attach this stage's commands to the main app."""
