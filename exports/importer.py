"""``mmrakit import-dataset SOURCE``: MMRA-format rows back into the workspace as candidates.

SOURCE is an mmrakit export folder, a ``save_to_disk`` folder, parquet file(s), or a Hub id such as
``m-a-p/MMRA``. Images are written once, by content hash, under ``images/imported/`` and registered
in the image catalogue; rows become candidates with origin ``import:<source>`` and review status
'unreviewed', so they can be reviewed in Label Studio and exported again. Provenance columns, when
present, restore the original id, granularity, evidence and order-probe links.
"""

from __future__ import annotations

import ast
import hashlib
import io
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from mmrakit.atomic import write_bytes
from mmrakit.errors import InputError
from mmrakit.models import Candidate, Evidence, ImageRecord
from mmrakit.records import CandidateStore, ImageCatalog
from mmrakit.subtasks import mmra_subtasks, normalise_task_name
from mmrakit.workspace import Workspace
from .hub import is_network_error, offline_error

IMPORT_DIR = ("images", "imported")
_EXT = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tiff", "MPO": "jpg"}


class DatasetImportReport(BaseModel):
    source: str
    origin: str
    rows: int = 0
    imported: int = 0
    skipped: int = 0
    images_written: int = 0
    images_known: int = 0
    per_task: dict[str, int] = Field(default_factory=dict)
    problems: list[str] = Field(default_factory=list, description="First problems found (row index, field, reason)")
    up_to_date: bool = False


def _load(source: str, split: str | None):
    """{split: datasets.Dataset} from any supported source."""
    import datasets

    path = Path(source)
    if path.exists():
        if path.is_dir():
            for candidate in (path / "hf", path):
                if (candidate / "dataset_dict.json").is_file() or (candidate / "state.json").is_file():
                    loaded = datasets.load_from_disk(str(candidate))
                    return dict(loaded) if isinstance(loaded, datasets.DatasetDict) else {"test": loaded}
            files = sorted((path / "data").glob("*.parquet")) or sorted(path.glob("*.parquet"))
            if not files:
                raise InputError(f"{path}: no save_to_disk dataset (hf/) and no parquet files (data/*.parquet)",
                                 hint="point at an mmrakit export folder, a parquet file, or a Hub id")
            by_split: dict[str, list[str]] = {}
            for f in files:
                by_split.setdefault(f.name.split("-")[0] if "-" in f.name else "test", []).append(str(f))
            return dict(datasets.load_dataset("parquet", data_files=by_split))
        if path.suffix == ".parquet":
            return dict(datasets.load_dataset("parquet", data_files={split or "test": str(path)}))
        raise InputError(f"{path}: not a folder or a .parquet file")
    if "/" not in source or source.startswith((".", "/")):
        raise InputError(f"{source}: no such file or folder (and not a Hub id owner/name)")
    try:
        loaded = datasets.load_dataset(source)
    except Exception as exc:
        if is_network_error(exc) or "offline" in str(exc).lower() or "couldn't reach" in str(exc).lower():
            raise offline_error(f"import {source}", exc) from None
        raise InputError(f"{source}: cannot load from the Hub: {type(exc).__name__}: {str(exc)[:300]}") from None
    return dict(loaded)


def _store_image(ws: Workspace, cell: Any, origin: str, meta: dict[str, Any]) -> tuple[ImageRecord, bool]:
    """Write the image bytes under images/imported/<sha256>.<ext> (once); returns (record, written)."""
    from PIL import Image

    data = cell.get("bytes") if isinstance(cell, dict) else None
    if not data and isinstance(cell, dict) and cell.get("path") and Path(cell["path"]).is_file():
        data = Path(cell["path"]).read_bytes()
    if not data:
        raise ValueError("image has no bytes")
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        width, height, fmt, mode = im.width, im.height, im.format, im.mode
    sha = hashlib.sha256(data).hexdigest()
    rel = Path(*IMPORT_DIR) / f"{sha}.{_EXT.get(fmt or '', 'img')}"
    target = ws.path(str(rel))
    written = False
    if not target.is_file():
        write_bytes(target, data)
        written = True
    record = ImageRecord(sha256=sha, width=width, height=height, format=fmt, mode=mode, path=str(rel),
                         url=meta.get("url") or None, license=meta.get("license") or None, source=origin,
                         record_id=meta.get("record_id"))
    return record, written


def _candidate(row: dict[str, Any], image1: str, image2: str) -> Candidate:
    from mmrakit.modelhub.prompts import normalise_qa_type

    raw_task = str(row.get("Task") or "").strip()
    task = normalise_task_name(raw_task) or raw_task
    info = mmra_subtasks().get(task)
    granularity = row.get("granularity") or (info.granularity if info else None)
    if granularity is None:
        raise ValueError(f"Task {raw_task!r} is not an MMRA subtask and the row has no granularity column")
    qa_type = normalise_qa_type(row.get("QA_type") or "")
    options = None
    if row.get("options"):
        try:
            options = ast.literal_eval(row["options"])
        except (ValueError, SyntaxError):
            raise ValueError(f"options {row['options']!r} is not a Python dict literal") from None
        if options is not None and not isinstance(options, dict):
            raise ValueError(f"options {row['options']!r} is not a dict literal")
        if options:
            options = {str(k).strip().upper(): str(v) for k, v in options.items()}
        else:
            options = None
    answer = str(row.get("answer") or "").strip()
    answer = answer.capitalize() if qa_type == "True or false QA" else answer.upper()
    evidence = Evidence.model_validate_json(row["evidence"]) if row.get("evidence") else Evidence()
    return Candidate(
        id=row.get("id") or "", task=task, granularity=granularity, qa_type=qa_type,
        question=str(row.get("question") or ""), options=options, answer=answer, image1=image1, image2=image2,
        evidence=evidence, order_probe=bool(row.get("order_probe") or False), twin_of=row.get("twin_of") or None,
        builder_version="import",
    )


def _problem(report: DatasetImportReport, split: str, index: int, message: str) -> None:
    report.skipped += 1
    if len(report.problems) < 50:
        report.problems.append(f"{split} row {index}: {message}")


def import_dataset(ws: Workspace, source: str, *, split: str | None = None, limit: int | None = None) -> DatasetImportReport:
    """Load MMRA-format rows from ``source`` into ``ws`` as unreviewed candidates."""
    from datasets import Image as ImageFeature

    origin = f"import:{source}"
    report = DatasetImportReport(source=source, origin=origin)
    splits = _load(source, split)
    if split is not None:
        if split not in splits:
            raise InputError(f"{source}: no split {split!r}", hint=f"available: {', '.join(splits)}")
        splits = {split: splits[split]}
    catalog, store = ImageCatalog(ws), CandidateStore(ws)
    key_inputs = [str(Path(source).resolve()) if Path(source).exists() else source]
    with ws.stage_run("import-dataset", key=origin, inputs=key_inputs, settings={"split": split, "limit": limit},
                      code_version="import-1") as run:
        if run.up_to_date:
            report.up_to_date = True
            report.imported = run.previous_counts.get("imported", 0)
            return report
        for split_name, ds in splits.items():
            missing = [c for c in ("Task", "QA_type", "question", "image1", "image2", "answer") if c not in ds.column_names]
            if missing:
                raise InputError(f"{source} [{split_name}]: not MMRA-format, missing columns {missing}",
                                 hint="MMRA's columns are Task, QA_type, question, image1, image2, options, answer")
            for col in ("image1", "image2"):
                if isinstance(ds.features[col], ImageFeature):
                    ds = ds.cast_column(col, ImageFeature(decode=False))
            n = len(ds) if limit is None else min(limit, len(ds))
            batch: list[Candidate] = []
            image_batch: list[ImageRecord] = []
            for i in range(n):
                row = ds[i]
                report.rows += 1
                try:
                    records = []
                    for slot in ("image1", "image2"):
                        meta = {"license": row.get(f"{slot}_license"), "url": row.get(f"{slot}_url"),
                                "record_id": f"{split_name}/{i}/{slot}"}
                        record, written = _store_image(ws, row[slot], origin, meta)
                        report.images_written += written
                        report.images_known += not written
                        records.append(record)
                    cand = _candidate(row, records[0].sha256, records[1].sha256)
                except ValidationError as exc:
                    err = exc.errors()[0]
                    _problem(report, split_name, i, f"field {'.'.join(map(str, err['loc'])) or '(item)'}: {err['msg']}")
                    continue
                except Exception as exc:
                    _problem(report, split_name, i, f"{type(exc).__name__}: {exc}")
                    continue
                image_batch += records
                batch.append(cand)
                report.per_task[cand.task] = report.per_task.get(cand.task, 0) + 1
            catalog.upsert(image_batch)  # images first: a candidate never points at an unregistered image
            report.imported += store.upsert(batch, origin=origin)
        run.counts = {"rows": report.rows, "imported": report.imported, "skipped": report.skipped,
                      "images_written": report.images_written}
        run.outputs = {"origin": origin}
    if report.rows and not report.imported:
        raise InputError(f"{source}: none of {report.rows} rows could be imported; first problems: "
                         + "; ".join(report.problems[:3]))
    return report


