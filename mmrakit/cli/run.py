"""``mmrakit run PIPELINE.toml``: parse the options, run the stages through the engine, print the summary.

Everything else lives elsewhere: the stages (``<folder>/stage.py``, listed in :mod:`.stages`), their
policy (auto-started Label Studio, the review-wait threshold, the CLIP-offline fallback) and the
engine (:mod:`mmrakit.engine`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ..engine import StageResult, run_pipeline
from ..pipeline_config import PipelineConfig
from ..workspace import Workspace
from .common import JsonOpt, console, emit, err_console, progress_bar, table
from .stages import pipeline_stages


def open_pipeline_workspace(cfg: PipelineConfig, clip_checkpoint: Path | None) -> Workspace:
    ws = Workspace.init(cfg.resolve(cfg.workspace))
    merged = cfg.merged_settings(ws.settings)
    if clip_checkpoint is not None:
        merged.clip.enabled = True
        merged.clip.pretrained = str(clip_checkpoint.resolve())
    if merged != ws.settings:
        ws.settings = merged
        ws.save_settings()
    return ws


def next_steps(cfg: PipelineConfig, ws: Workspace) -> list[str]:
    w = f"-w {ws.root}"
    lines = [
        f"workspace:        {ws.root}",
        f"status:           mmrakit status {w}",
        f"candidates:       mmrakit candidates stats {w}   (contact sheets in {ws.path('candidates')})",
        f"export:           {ws.resolve(cfg.export.out)}",
        f"evaluation:       {ws.path('eval')}",
    ]
    if not cfg.review.enabled:
        lines += [
            "",
            "This run exported an UNREVIEWED preview. To have people verify the candidates:",
            f"  mmrakit review serve {w}                # local Label Studio on 127.0.0.1",
            f"  mmrakit review users create --count 3 {w}  # reviewer accounts (optional)",
            f"  mmrakit review push {w}",
            f"  mmrakit review pull {w} && mmrakit review status {w}",
            f"  mmrakit export --out DIR {w}            # validated items only",
        ]
    return lines


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        pipeline: Annotated[Path, typer.Argument(help="Pipeline file (TOML): workspace, settings and every stage's inputs.")],
        start: Annotated[str | None, typer.Option("--from", help="First stage to run (earlier ones are taken as they are).")] = None,
        until: Annotated[str | None, typer.Option("--until", help="Last stage to run.")] = None,
        force: Annotated[list[str] | None, typer.Option("--force", help="Recompute this stage and everything downstream (repeatable).")] = None,
        clip_checkpoint: Annotated[Path | None, typer.Option("--clip-checkpoint", help="Local open_clip weights to use for CLIP.")] = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Run the whole job: ingest → import → embed → dedup → build → review → export → eval."""
        cfg = PipelineConfig.load(pipeline)
        ws = open_pipeline_workspace(cfg, clip_checkpoint)
        t0 = time.monotonic()

        def on_stage(r: StageResult) -> None:
            if not json_out and r.status != "not-selected":
                console.print(f"[bold]{r.name:<17}[/] {r.status:<8} {r.seconds:6.1f}s  {_short(r.counts)}")

        def on_note(message: str) -> None:
            err_console.print(f"[yellow]note:[/] {message}")

        with progress_bar(enabled=not json_out) as progress:
            results, notes = run_pipeline(ws, cfg, pipeline_stages(), start=start, until=until, force=force or [],
                                          on_stage=on_stage, on_note=on_note, progress=progress)
        waiting = next((r for r in results if r.status == "waiting"), None)
        payload = {"workspace": str(ws.root), "seconds": round(time.monotonic() - t0, 1), "notes": notes,
                   "waiting": waiting.message if waiting else None,
                   "steps": [{"stage": r.name, "status": r.status, "seconds": round(r.seconds, 2), "counts": r.counts}
                             for r in results]}

        def render(_: Any) -> None:
            table("pipeline summary", ["stage", "status", "seconds", "counts"],
                  [[r.name, r.status, f"{r.seconds:.1f}", _short(r.counts, 100)] for r in results])
            if waiting:
                console.print(f"[yellow]waiting:[/] {waiting.message}")
            for line in next_steps(cfg, ws):
                console.print(line)

        emit(payload, json_out, render)


def _short(counts: dict[str, Any], width: int = 70) -> str:
    text = json.dumps(counts, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"
