"""CLI commands of the evaluate stage: ``mmrakit eval DATASET --model SPEC``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import WorkspaceError
from .common import JsonOpt, WorkspaceOpt, console, emit, err_console, open_workspace, progress_bar, table


def _workspace_or_none(path: Path | None, needed: bool):
    """-w wins; otherwise use $MMRAKIT_WORKSPACE / the current directory when it is a workspace."""
    if path is not None or needed:
        return open_workspace(path)
    try:
        return open_workspace(None)
    except WorkspaceError:
        return None


def register(app: typer.Typer) -> None:
    """Attach this stage's commands to the main app."""

    @app.command("eval")
    def eval_cmd(
        dataset: Annotated[str, typer.Argument(
            help="save_to_disk folder, parquet file/folder, Hub id (m-a-p/MMRA, mehrankazemi/ReMI) or 'workspace'.")],
        model: Annotated[str | None, typer.Option(
            "--model", "-m", help="openai:MODEL, hf:PATH_OR_ID, clip:MODEL\\[@PRETRAINED], random, text-only:SPEC.")] = None,
        setting: Annotated[str, typer.Option(
            "--setting", help="IQ = images + question; QO = question only (text-only baseline).")] = "IQ",
        limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N items, round-robin over tasks.")] = None,
        concurrency: Annotated[int | None, typer.Option(
            "--concurrency", min=1, help="Requests in flight for openai: (default: \\[eval] concurrency).")] = None,
        out: Annotated[Path | None, typer.Option(
            "--out", "-o", help="Result folder (default: WORKSPACE/eval/<run> or ./eval-results/<run>).")] = None,
        predictions: Annotated[Path | None, typer.Option(
            "--predictions", help="Score a JSONL of {id, response} produced elsewhere instead of calling a model.")] = None,
        split: Annotated[str | None, typer.Option("--split", help="Dataset split (default: test, else the only one).")] = None,
        cache: Annotated[Path | None, typer.Option(
            "--cache", help="Response cache file (default: WORKSPACE/eval/cache.sqlite or OUT/cache.sqlite).")] = None,
        circular: Annotated[bool | None, typer.Option(
            "--circular/--no-circular", help="Also ask Choice QA with rotated options (CircularEval); "
            "default: \\[eval] circular.")] = None,
        workspace: WorkspaceOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Evaluate a model on an MMRA- or ReMI-format dataset; resumable, cached, with per-item outputs."""
        from ..evaluation.datasets import WORKSPACE_SOURCES
        from ..evaluation.runner import run_eval

        ws = _workspace_or_none(workspace, dataset in WORKSPACE_SOURCES)
        setting_up = setting.upper()
        with progress_bar(enabled=not json_out) as bar:
            outcome = run_eval(dataset, model, settings=ws.settings if ws else None, ws=ws, setting=setting_up,  # type: ignore[arg-type]
                               limit=limit, concurrency=concurrency, out_dir=out, predictions=predictions, split=split,
                               cache_path=cache, circular=circular, progress=(lambda d, t: bar("evaluating", d, t)) if bar else None)
        data = {**outcome.summary, "out_dir": str(outcome.out_dir), "seconds": round(outcome.seconds, 3)}

        def render(d: dict) -> None:
            meta = d["meta"]
            rows = [[t, b["n"], b["accuracy"], b["ci95"]] for t, b in d["tasks"].items()]
            table(f"{meta['model']} on {meta['dataset']} ({meta['format']}, {meta['setting']})",
                  ["task", "n", "accuracy %", "95% CI"], rows)
            o = d["overall"]
            console.print(f"overall [bold]{o['accuracy']}%[/] CI {o['ci95']} ({o['aggregation']})")
            if "circular" in d:
                c = d["circular"]
                console.print(f"circular: Choice QA {c['choice_accuracy_circular']}% (plain {c['choice_accuracy_plain']}%), "
                              f"overall {c['overall_accuracy_circular']}%")
            if "pairs" in d:
                p = d["pairs"]
                console.print(f"pairs ({p['groups']} groups): question {p['question_accuracy']}%, "
                              f"image {p['image_accuracy']}%, group {p['group_accuracy']}%")
            console.print(f"calls {meta['calls']}, cached {meta['cached']}, failed {meta['errors']}; "
                          f"report: {d['out_dir']}/report.md")

        emit(data, json_out, render)
        if outcome.errors:
            err_console.print(f"[yellow]{outcome.errors} item(s) failed after retries and count as wrong; "
                              "run the same command again to retry only those (answers so far are cached).[/]")
            raise typer.Exit(1)
