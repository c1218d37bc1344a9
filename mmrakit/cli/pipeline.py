"""``mmrakit run PIPELINE.toml``: every stage from one config, resumable, skipping what is unchanged.

This module is where the stages meet: each step below adapts one stage's Python API to the
stage-agnostic engine in :mod:`mmrakit.pipeline` (chained signatures, waiting, --from/--until/--force).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from ..errors import OfflineError
from ..pipeline import Step, StepResult, StepWaiting, run_pipeline
from ..pipeline_config import PipelineConfig
from ..workspace import Workspace
from .common import JsonOpt, console, emit, err_console, table


def _slug(spec: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in spec).strip("-") or "model"


def build_steps(cfg: PipelineConfig, ws: Workspace, notes: list[str]) -> list[Step]:
    """The pipeline's stages in order, each an adapter over that stage's Python API."""

    def ingest_relations(ws: Workspace) -> dict[str, Any]:
        from ..relations.ingest import ingest

        counts: dict[str, Any] = {"sources": 0, "edges": 0, "malformed": 0}
        for src in cfg.relations.sources:
            report = ingest(ws, cfg.resolve(src.path), format=src.format)
            counts["sources"] += 1
            counts["edges"] += report.edges
            counts["malformed"] += sum(report.malformed.values())
        return counts

    def import_images(ws: Workspace) -> dict[str, Any]:
        from ..images.importer import import_images as do_import

        counts: dict[str, Any] = {"sources": 0}
        for src in cfg.images.sources:
            report = do_import(ws, str(cfg.resolve(src.path)), src.format,
                               image_root=cfg.resolve(cfg.images.image_root) if cfg.images.image_root else None,
                               copy=cfg.images.copy_files)
            counts["sources"] += 1
            for key, value in _plain_counts(report).items():
                if isinstance(value, int):
                    counts[key] = counts.get(key, 0) + value
        return counts

    def embed(ws: Workspace) -> dict[str, Any]:
        from ..images.embeddings import run_embed

        use_clip = cfg.embed.clip and ws.settings.clip.enabled
        try:
            report = run_embed(ws, clip=use_clip, captions=cfg.embed.captions)
        except OfflineError as exc:
            notes.append(f"CLIP skipped: {exc.message}. The caption and hash paths carry on; "
                         "point at local weights with --clip-checkpoint PATH.")
            err_console.print(f"[yellow]note:[/] {notes[-1]}")
            report = run_embed(ws, clip=False, captions=cfg.embed.captions)
        return _plain_counts(report)

    def dedup(ws: Workspace) -> dict[str, Any]:
        from ..images.dedup import run_dedup

        return _plain_counts(run_dedup(ws, exact=cfg.dedup.exact, near=cfg.dedup.near, semantic=cfg.dedup.semantic))

    def build(ws: Workspace) -> dict[str, Any]:
        from ..builders.pipeline import build as do_build

        report = do_build(ws, subtasks=cfg.build.subtasks, per_subtask=cfg.build.per_subtask,
                          mmra_distribution=cfg.build.mmra_distribution)
        kept = {s["task"]: s.get("kept", 0) for s in report.get("subtasks", [])}
        return {"candidates": sum(kept.values()), "subtasks": len(kept), "per_subtask": kept}

    def review_push(ws: Workspace) -> dict[str, Any]:
        if not cfg.review.enabled:
            return {"skipped": "review disabled in the pipeline file"}
        from ..review import connection, push, serve
        from ..review.server import server_state

        if not ws.settings.review.url and not server_state(ws):
            serve(ws)
        report = push(ws, connection(ws), reviewers=cfg.review.reviewers)
        return _plain_counts(report)

    def review_pull(ws: Workspace) -> dict[str, Any]:
        if not cfg.review.enabled:
            return {"skipped": "review disabled in the pipeline file"}
        from ..review import connection, pull, review_status

        conn = connection(ws)
        pull(ws, conn)
        status = review_status(ws)
        totals = status.totals
        decided = totals.validated + totals.rejected
        pushed = max(totals.candidates, 1)
        counts = {"candidates": totals.candidates, "validated": totals.validated, "rejected": totals.rejected,
                  "conflict": totals.conflict, "pending": totals.pending}
        if decided / pushed < cfg.review.min_reviewed_fraction:
            raise StepWaiting(
                f"{decided} of {totals.candidates} candidates decided by reviewers "
                f"(need {cfg.review.min_reviewed_fraction:.0%}). Review at {conn.url}, then run `mmrakit run` again "
                "to continue from the pull.", counts)
        return counts

    def export(ws: Workspace) -> dict[str, Any]:
        from ..exports.export import run_export

        include_unreviewed = cfg.export.include_unreviewed or not cfg.review.enabled
        report = run_export(ws, ws.resolve(cfg.export.out), formats=cfg.export.formats,
                            with_provenance=cfg.export.with_provenance, include_unreviewed=include_unreviewed)
        return _plain_counts(report)

    def evaluate(ws: Workspace) -> dict[str, Any]:
        from ..evaluation.runner import run_eval

        counts: dict[str, Any] = {}
        dataset = str(ws.resolve(cfg.export.out))
        for spec in cfg.eval.models:
            outcome = run_eval(dataset, spec, ws=ws, limit=cfg.eval.limit, out_dir=ws.path("eval", _slug(spec)))
            counts[spec] = {"accuracy": (outcome.summary.get("overall") or {}).get("accuracy"), "items": len(outcome.records),
                            "errors": outcome.errors, "report": str(outcome.out_dir)}
        return counts

    files = lambda sources: lambda: [cfg.resolve(s.path) for s in sources] + [s.format for s in sources]  # noqa: E731
    s = ws.settings
    return [
        Step("relations.ingest", ingest_relations, inputs=files(cfg.relations.sources), settings=lambda: s.relations),
        Step("images.import", import_images, inputs=files(cfg.images.sources),
             settings=lambda: {"images": s.images.model_dump(), "step": cfg.images.model_dump()}),
        Step("images.embed", embed, upstream=("images.import",),
             settings=lambda: {"clip": s.clip.model_dump(), "captions": s.captions.model_dump(), "step": cfg.embed.model_dump()}),
        Step("images.dedup", dedup, upstream=("images.import", "images.embed"),
             settings=lambda: {"dedup": s.dedup.model_dump(), "step": cfg.dedup.model_dump()}),
        Step("build", build, upstream=("relations.ingest", "images.import", "images.embed", "images.dedup"),
             settings=lambda: {"builders": s.builders.model_dump(), "step": cfg.build.model_dump()}),
        Step("review.push", review_push, upstream=("build",),
             settings=lambda: {"review": s.review.model_dump(), "step": cfg.review.model_dump()}),
        Step("review.pull", review_pull, upstream=("review.push",), always_run=cfg.review.enabled,
             settings=lambda: cfg.review.model_dump()),
        Step("export", export, upstream=("build", "review.pull"),
             settings=lambda: {"export": s.export.model_dump(), "step": cfg.export.model_dump(),
                               "review": cfg.review.enabled}),
        Step("eval", evaluate, upstream=("export",), settings=lambda: {"eval": s.eval.model_dump(), "step": cfg.eval.model_dump()}),
    ]


def _plain_counts(report: Any) -> dict[str, Any]:
    """A stage report (pydantic model, dataclass or dict) as JSON-safe counts for the run record."""
    if hasattr(report, "model_dump"):
        data = report.model_dump(mode="json")
    elif hasattr(report, "__dataclass_fields__"):
        from dataclasses import asdict

        data = asdict(report)
    elif isinstance(report, dict):
        data = report
    else:
        data = {"result": str(report)}
    return json.loads(json.dumps(data, default=str))


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


def next_steps(cfg: PipelineConfig, ws: Workspace, results: list[StepResult]) -> list[str]:
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
        notes: list[str] = []
        t0 = time.monotonic()

        def on_step(r: StepResult) -> None:
            if not json_out and r.status != "not-selected":
                console.print(f"[bold]{r.name:<17}[/] {r.status:<8} {r.seconds:6.1f}s  {_short(r.counts)}")

        results = run_pipeline(ws, build_steps(cfg, ws, notes), start=start, until=until, force=force or [],
                               on_step=on_step)
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
            for line in next_steps(cfg, ws, results):
                console.print(line)

        emit(payload, json_out, render)


def _short(counts: dict[str, Any], width: int = 70) -> str:
    text = json.dumps(counts, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"
