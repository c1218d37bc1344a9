"""``mmrakit export``: validated candidates -> HF dataset, parquet, card, runner task packs.

Everything is written into a temporary sibling of the output folder and moved into place only when
complete (``atomic_dir``): an interrupted or failed export leaves the previous export (or nothing),
never half of one. ``export.json`` in the folder records what was exported and how.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from mmrakit.atomic import atomic_dir
from mmrakit.errors import InputError
from mmrakit.stage import Progress
from mmrakit.workspace import Workspace
from .card import image_licences, render_card, restricted_terms
from .rows import ExportRow, collect_rows
from .splits import assign_splits

FORMATS = ("hf", "parquet", "lmms-eval", "vlmevalkit")
DEFAULT_FORMATS = ("hf", "parquet")
MANIFEST = "export.json"
CODE_VERSION = "exports-3"  # 2: public source names, VLMEvalKit config + yes/no instruction; 3: raw votes
VOTES_FILE = "votes.jsonl"


class ExportReport(BaseModel):
    out: str
    formats: list[str]
    splits: dict[str, int]
    per_task: dict[str, dict[str, int]]
    validated: int
    unreviewed: int
    with_provenance: bool
    include_unreviewed: bool
    seed: int
    dev_fraction: float
    files: list[str] = Field(default_factory=list)
    image_licences: dict[str, int] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    lmms_tasks: dict[str, str] = Field(default_factory=dict)
    vlmevalkit_files: dict[str, int] = Field(default_factory=dict)
    vlmevalkit_config: str | None = Field(None, description="run.py --config file, relative to the export")
    pushed_to: str | None = None
    up_to_date: bool = False


def parse_formats(value: str | Iterable[str] | None) -> list[str]:
    if value is None:
        return list(DEFAULT_FORMATS)
    items = value.split(",") if isinstance(value, str) else list(value)
    out = []
    for item in (i.strip().lower() for i in items):
        if not item:
            continue
        if item not in FORMATS:
            raise InputError(f"unknown export format {item!r}", hint=f"choose from: {', '.join(FORMATS)}")
        if item not in out:
            out.append(item)
    return out or list(DEFAULT_FORMATS)


def _readable(path: Path) -> None:
    """mkdtemp makes 0700 folders; an export is meant to be shared, so honour the umask instead."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o777 & ~umask)


def write_votes(path: Path, splits) -> int:
    """``votes.jsonl``: one line per raw vote of every exported item (with its split), pseudonymous reviewers."""
    lines = []
    for split, rows in splits.items():
        for r in rows:
            for v in r.votes:
                lines.append(json.dumps({"id": r.id, "Task": r.task, "split": split, **v.model_dump(mode="json")},
                                        sort_keys=True, ensure_ascii=False))
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)


def rows_digest(rows: Sequence[ExportRow]) -> str:
    """Changes when any exported row, its review or its images change."""
    h = hashlib.sha256()
    for r in rows:
        h.update(json.dumps([r.candidate.model_dump(mode="json"), r.question, r.answer, r.review_status,
                             r.review_agreement, r.image1.sha256, r.image2.sha256, r.image1.license,
                             r.image2.license, [v.model_dump(mode="json") for v in r.votes]],
                            sort_keys=True, default=str).encode())
    return h.hexdigest()


def run_export(
    ws: Workspace,
    out: str | Path,
    *,
    formats: str | Iterable[str] | None = None,
    with_provenance: bool = False,
    include_unreviewed: bool = False,
    dev_fraction: float | None = None,
    seed: int | None = None,
    force: bool = False,
    push_to_hub: str | None = None,
    private: bool | None = None,
    progress: Progress | None = None,
    _after_write=None,
) -> ExportReport:
    """Export the workspace's validated candidates into ``out`` (replaced atomically); ``progress(task,
    done, total)`` hears about each output written and the Hub push."""
    cfg = ws.settings.export
    fmts = parse_formats(formats or cfg.formats)
    dev_fraction = cfg.dev_fraction if dev_fraction is None else dev_fraction
    seed = cfg.seed if seed is None else seed
    out = Path(out).resolve()
    rows = collect_rows(ws, include_unreviewed=include_unreviewed)
    if not rows:
        raise InputError(
            f"nothing to export from {ws.root}: no kept candidate is "
            + ("validated or unreviewed" if include_unreviewed else "validated by review"),
            hint="run `mmrakit review pull` after reviewing, or preview with --include-unreviewed",
        )
    splits = assign_splits(rows, dev_fraction=dev_fraction, seed=seed)
    settings = {"formats": fmts, "with_provenance": with_provenance, "include_unreviewed": include_unreviewed,
                "dev_fraction": dev_fraction, "seed": seed, "card_id": push_to_hub, **cfg.model_dump(mode="json", exclude={"formats"})}
    report = ExportReport(
        out=str(out), formats=fmts, splits={s: len(v) for s, v in splits.items()},
        per_task={s: dict(sorted(Counter(r.task for r in v).items())) for s, v in splits.items()},
        validated=sum(r.validated for r in rows), unreviewed=sum(not r.validated for r in rows),
        with_provenance=with_provenance, include_unreviewed=include_unreviewed, seed=seed, dev_fraction=dev_fraction,
        image_licences=image_licences(rows),
    )
    bad = {k: restricted_terms(k) for k in report.image_licences if restricted_terms(k)}
    if bad:
        n = sum(report.image_licences[k] for k in bad)
        report.warnings.append(f"{n} exported images are {'/'.join(sorted({t for v in bad.values() for t in v}))} "
                               f"licensed ({', '.join(sorted(bad))}); see the card's licence section")
    if report.unreviewed:
        report.warnings.append(f"{report.unreviewed} rows are NOT validated (preview export); "
                               "they are marked in the review_status column and the card")

    with ws.stage_run("export", key=str(out), inputs=[{"rows": rows_digest(rows)}], settings=settings,
                      code_version=CODE_VERSION, force=force) as run:
        if run.up_to_date and (out / MANIFEST).is_file():
            report.up_to_date = True
            report.files = json.loads((out / MANIFEST).read_text("utf-8")).get("files", [])
        else:
            _write_outputs(out, rows, splits, fmts, report, cfg, with_provenance=with_provenance,
                           include_unreviewed=include_unreviewed, after_write=_after_write,
                           load_id=push_to_hub or cfg.hub_repo or f"path/to/{out.name}", progress=progress)
            run.counts = {"rows": len(rows), **{f"split_{s}": n for s, n in report.splits.items()},
                          "validated": report.validated, "unreviewed": report.unreviewed}
            run.outputs = {"out": str(out), "formats": fmts}
    if push_to_hub:
        from .hub import push_export

        if progress:
            progress("export: hub push", 0, 1)
        report.pushed_to = push_export(out, push_to_hub, private=cfg.hub_private if private is None else private,
                                       token_env=cfg.token_env)
        if progress:
            progress("export: hub push", 1, 1)
    return report


def _write_outputs(out: Path, rows, splits, fmts, report: ExportReport, cfg, *, with_provenance: bool,
                   include_unreviewed: bool, after_write=None, load_id: str, progress: Progress | None = None) -> None:
    """Write every requested output into a temporary folder, then swap it onto ``out``."""
    steps = [f for f in ("parquet", "hf", "lmms-eval", "vlmevalkit") if f in fmts] + ["card"]
    written: list[str] = []

    def step_done(name: str) -> None:
        written.append(name)
        if progress:
            progress("export: outputs", len(written), len(steps))
    from .hf import build_dataset, rows_per_group, shard_count, write_parquet_shards
    from .schema import features as export_features

    import datasets

    datasets.disable_progress_bars()
    with atomic_dir(out) as tmp:
        _readable(tmp)
        feats = export_features(with_provenance=with_provenance, include_unreviewed=include_unreviewed)
        datasets_by_split = {s: build_dataset(v, with_provenance=with_provenance,
                                              include_unreviewed=include_unreviewed) for s, v in splits.items()}
        shards: dict[str, list[Path]] = {}
        need_parquet = "parquet" in fmts or "lmms-eval" in fmts
        if need_parquet:
            data_dir = tmp / "data" if "parquet" in fmts else tmp / ".pack-data"
            for s, ds in datasets_by_split.items():
                shards[s] = write_parquet_shards(
                    ds, data_dir, s, num_shards=shard_count(splits[s], cfg.max_shard_size_mb * 2**20),
                    row_group_size=rows_per_group(splits[s], cfg.row_group_size, cfg.max_row_group_mb * 2**20))
            if "parquet" in fmts:
                step_done("parquet")
        if "hf" in fmts:
            from datasets import DatasetDict

            DatasetDict(datasets_by_split).save_to_disk(str(tmp / "hf"))
            step_done("hf")
        if "lmms-eval" in fmts:
            from .lmms_pack import write_lmms_pack
            from mmrakit.modelhub.prompts import PROMPT_TEMPLATES

            from .rows import rotated_rows

            circular: dict[str, Path] = {}
            for s, split_rows in splits.items():  # every rotation of each Choice item, with its id (provenance)
                turns = [t for r in split_rows if r.candidate.options for t in (r, *(x for _, x in rotated_rows(r)))]
                if turns:
                    circular[s] = tmp / ".pack-circular" / f"circular-{s}.parquet"
                    circular[s].parent.mkdir(parents=True, exist_ok=True)
                    build_dataset(turns, with_provenance=True, include_unreviewed=include_unreviewed).to_parquet(
                        str(circular[s]))
            report.lmms_tasks = write_lmms_pack(
                tmp / "lmms-eval", shards, sorted({r.task for r in rows}), task_prefix=cfg.lmms_task_name,
                max_new_tokens=int(PROMPT_TEMPLATES["mmra"].get("max_new_tokens", 16)), circular=circular,
                paired=with_provenance and any(r.candidate.pair_id for r in rows))
            import shutil

            shutil.rmtree(tmp / ".pack-circular", ignore_errors=True)
            if "parquet" not in fmts:
                shutil.rmtree(tmp / ".pack-data")
            step_done("lmms-eval")
        if "vlmevalkit" in fmts:
            from .vlmevalkit import config_name, write_vlmevalkit

            report.vlmevalkit_files = write_vlmevalkit(tmp / "vlmevalkit", splits, name=cfg.vlmevalkit_name)
            report.vlmevalkit_config = f"vlmevalkit/{config_name(cfg.vlmevalkit_name)}"
            step_done("vlmevalkit")
        write_votes(tmp / VOTES_FILE, splits)
        card = render_card(splits, feats, dataset_license=cfg.license, pretty_name=cfg.pretty_name,
                           load_id=load_id, include_unreviewed=include_unreviewed,
                           with_provenance=with_provenance)
        (tmp / "README.md").write_text(card, encoding="utf-8")
        report.files = sorted(str(p.relative_to(tmp)) for p in tmp.rglob("*") if p.is_file())
        # the manifest travels with the export: it names the folder, not where it sits on this machine
        (tmp / MANIFEST).write_text(report.model_copy(update={"out": out.name}).model_dump_json(indent=2),
                                    encoding="utf-8")
        step_done("card")
        if after_write is not None:  # test hook: fail after everything is written, before the swap
            after_write(tmp)
