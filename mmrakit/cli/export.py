"""CLI commands of the export stage: ``export`` (+ ``export validate``) and ``import-dataset``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError
from .common import JsonOpt, WorkspaceOpt, console, emit, err_console, open_workspace, progress_bar, table


def _render_export(report) -> None:
    if report.up_to_date:
        console.print(f"[green]up to date:[/] {report.out} (nothing changed since the last export)")
    else:
        console.print(f"[green]exported[/] {sum(report.splits.values())} rows to [bold]{report.out}[/] "
                      f"({', '.join(report.formats)})")
    rows = []
    for split, per_task in report.per_task.items():
        rows += [[split, task, n] for task, n in per_task.items()]
    table("rows per split and subtask", ["split", "Task", "rows"], rows)
    if report.lmms_tasks:
        console.print(f"lmms-eval: --include_path {report.out}/lmms-eval/{next(iter(report.lmms_tasks.values()))} "
                      f"--tasks {','.join(report.lmms_tasks.values())}")
    if report.vlmevalkit_files:
        console.print(f"VLMEvalKit: copy {report.out}/vlmevalkit/*.tsv into $LMUData "
                      f"({', '.join(f'{k}: {v}' for k, v in report.vlmevalkit_files.items())}), set the model in "
                      f"{report.out}/{report.vlmevalkit_config}, then: python run.py --config "
                      f"{report.out}/{report.vlmevalkit_config} --judge exact_matching")
    if report.pushed_to:
        console.print(f"pushed to {report.pushed_to}")
    for w in report.warnings:
        err_console.print(f"[yellow]warning:[/] {w}")


def _render_validation(report) -> None:
    if report.ok:
        console.print(f"[green]valid:[/] {report.directory} — card {report.card_counts}, "
                      f"{report.images_decoded} images decoded, outputs {report.counts}")
    else:
        err_console.print(f"[red]invalid:[/] {report.directory} ({len(report.errors)} problem(s))")
        for e in report.errors:
            err_console.print(f"  - {e}")


def register(app: typer.Typer) -> None:
    """Attach this stage's commands to the main app."""
    export_app = typer.Typer(help="Export validated items as an HF dataset (MMRA's schema), parquet and task packs.",
                             invoke_without_command=True, no_args_is_help=False)

    @export_app.callback()
    def export(
        ctx: typer.Context,
        out: Annotated[Path | None, typer.Option("--out", "-o", help="Output folder (replaced atomically).")] = None,
        fmt: Annotated[str | None, typer.Option("--format", "-f",
                       help="Comma-separated: hf, parquet, lmms-eval, vlmevalkit (default: [export] formats).")] = None,
        with_provenance: Annotated[bool, typer.Option("--with-provenance",
                       help="Add id, granularity, evidence, image sources/licences, agreement, order-probe flag.")] = False,
        include_unreviewed: Annotated[bool, typer.Option("--include-unreviewed",
                       help="Preview: also export items not validated yet (marked as such in data and card).")] = False,
        dev_fraction: Annotated[float | None, typer.Option("--dev-fraction", min=0.0, max=0.99,
                       help="Stratified dev split fraction (default: [export] dev_fraction).")] = None,
        seed: Annotated[int | None, typer.Option("--seed", help="Split seed (default: [export] seed).")] = None,
        push_to_hub: Annotated[str | None, typer.Option("--push-to-hub", metavar="REPO",
                       help="Also upload card + parquet to this Hub dataset repo (token from $HF_TOKEN).")] = None,
        public: Annotated[bool, typer.Option("--public", help="Create the Hub repo public (default private).")] = False,
        force: Annotated[bool, typer.Option("--force", help="Re-export even if nothing changed.")] = False,
        workspace: WorkspaceOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Export validated candidates (run `mmrakit export validate DIR` to check an export)."""
        if ctx.invoked_subcommand is not None:
            return
        if out is None:
            raise InputError("mmrakit export needs --out DIR", hint="e.g. mmrakit export --out exports/v1")
        from ..exports.export import run_export

        ws = open_workspace(workspace)
        with progress_bar(enabled=not json_out) as progress:
            report = run_export(ws, out, formats=fmt, with_provenance=with_provenance,
                                include_unreviewed=include_unreviewed, dev_fraction=dev_fraction, seed=seed,
                                force=force, push_to_hub=push_to_hub, private=None if not public else False,
                                progress=progress)
        emit(report, json_out, _render_export)

    @export_app.command("validate")
    def validate(
        directory: Annotated[Path, typer.Argument(help="An export folder (mmrakit export --out).")],
        json_out: JsonOpt = False,
        workspace: WorkspaceOpt = None,
    ) -> None:
        """Check an export: schema, every image decodes, counts match the card. Exit 1 when invalid."""
        from ..exports.validate import validate_export

        report = validate_export(directory)
        emit(report, json_out, _render_validation)
        if not report.ok:
            raise typer.Exit(1)

    app.add_typer(export_app, name="export")

    @app.command("import-dataset")
    def import_dataset_cmd(
        source: Annotated[str, typer.Argument(help="An mmrakit export folder, parquet file(s), or a Hub id (m-a-p/MMRA).")],
        split: Annotated[str | None, typer.Option("--split", help="Only this split.")] = None,
        limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most this many rows per split.")] = None,
        workspace: WorkspaceOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Load an MMRA-format dataset into the workspace as unreviewed candidates (re-review, re-export)."""
        from ..exports.importer import import_dataset

        ws = open_workspace(workspace)
        report = import_dataset(ws, source, split=split, limit=limit)

        def render(r) -> None:
            if r.up_to_date:
                console.print(f"up to date: {r.source} was already imported ({r.imported} candidates)")
                return
            console.print(f"[green]imported[/] {r.imported} of {r.rows} rows from {r.source} as origin {r.origin} "
                          f"({r.images_written} images written, {r.images_known} already present)")
            table("imported per subtask", ["Task", "candidates"], [[k, v] for k, v in sorted(r.per_task.items())])
            for p in r.problems:
                err_console.print(f"[yellow]skipped:[/] {p}")

        emit(report, json_out, render)
