"""Load an evaluation dataset from wherever it lives and turn its rows into :class:`EvalItem` s.

Sources: a ``save_to_disk`` folder, a parquet file or folder, a Hub id (``m-a-p/MMRA``,
``mehrankazemi/ReMI``), or ``workspace`` (the workspace's candidates). The format (MMRA or
ReMI) is read off the column names, so any export in either schema works.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from mmrakit.errors import InputError, OfflineError, WorkspaceError
from mmrakit.subtasks import mmra_subtasks, normalise_task_name

from mmrakit.modelhub.hub import hub_unreachable, in_datasets_cache
from .items import EvalItem, Format, ImageRef, image_from_value
from mmrakit.modelhub.prompts import TRUE_FALSE_QA, normalise_qa_type

MMRA_COLUMNS = ("Task", "QA_type", "question", "image1", "image2", "answer")
REMI_COLUMNS = ("task", "question", "label", "image_1")
REMI_MAX_IMAGES = 6
WORKSPACE_SOURCES = ("workspace", "ws", "candidates")
SPLIT_NAMES = ("test", "validation", "dev", "train")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class EvalDataset(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    source: str
    split: str | None = None
    format: Format
    items: list[EvalItem]
    total_rows: int


def detect_format(columns: Iterable[str], where: str) -> Format:
    cols = set(columns)
    if all(c in cols for c in MMRA_COLUMNS):
        return "mmra"
    if all(c in cols for c in REMI_COLUMNS):
        return "remi"
    raise InputError(
        f"{where}: columns {sorted(cols)} match neither MMRA nor ReMI",
        hint=f"MMRA needs {', '.join(MMRA_COLUMNS)} (+ options); ReMI needs task, question, label, image_1..image_6",
    )


def load_eval_dataset(source: str, *, ws: Any = None, split: str | None = None, limit: int | None = None,
                      review: str = "auto") -> EvalDataset:
    """Load ``source`` and return its items (at most ``limit``, round-robin over tasks)."""
    if source in WORKSPACE_SOURCES:
        if ws is None:
            raise WorkspaceError(f"DATASET {source!r} means the workspace's candidates, but no workspace is open",
                                 hint="pass -w DIR (or set $MMRAKIT_WORKSPACE)")
        items = list(_workspace_items(ws, review))
        return _finish(EvalDataset(source=f"workspace:{ws.root}", format="mmra", items=items, total_rows=len(items)), limit)
    path = Path(source).expanduser()
    if path.exists():
        if path.is_dir() and ((path / "dataset_dict.json").exists() or (path / "state.json").exists()):
            rows, columns, chosen = _from_disk(path, split)
            root = path
        else:
            rows, columns, chosen, root = _from_parquet(path, split)
    elif _HUB_ID.match(source):
        rows, columns, chosen = _from_hub(source, split)
        root = None
    else:
        raise InputError(f"{source}: no such file or folder, and not a Hub id (owner/name)",
                         hint="DATASET is a save_to_disk folder, a parquet file/folder, a Hub id, or 'workspace'")
    fmt = detect_format(columns, source)
    convert = _mmra_item if fmt == "mmra" else _remi_item
    items = _unique_ids([convert(row, i, root, source) for i, row in enumerate(rows)])
    return _finish(EvalDataset(source=source, split=chosen, format=fmt, items=items, total_rows=len(items)), limit)


def _finish(ds: EvalDataset, limit: int | None) -> EvalDataset:
    if limit is not None and limit < len(ds.items):
        ds.items = round_robin(ds.items, limit)
    return ds


def round_robin(items: list[EvalItem], limit: int) -> list[EvalItem]:
    """The first ``limit`` items taking one per task in turn, so a small run still covers every task."""
    by_task: dict[str, list[EvalItem]] = {}
    for it in items:
        by_task.setdefault(it.task, []).append(it)
    out: list[EvalItem] = []
    depth = 0
    while len(out) < limit:
        for group in by_task.values():
            if depth < len(group) and len(out) < limit:
                out.append(group[depth])
        depth += 1
    order = {id(it): i for i, it in enumerate(items)}
    return sorted(out, key=lambda it: order[id(it)])


def _unique_ids(items: list[EvalItem]) -> list[EvalItem]:
    seen: dict[str, int] = {}
    for it in items:
        if it.id in seen:
            raise InputError(f"duplicate item id {it.id!r} (rows {seen[it.id]} and later)",
                             hint="ids must be unique; drop the 'id' column to use row numbers")
        seen[it.id] = 1
    return items


# --- sources --------------------------------------------------------------------------------------

def _choose_split(available: list[str], split: str | None, where: str) -> str:
    if split is not None:
        if split not in available:
            raise InputError(f"{where}: no split {split!r}; it has {available}", hint="pass --split with one of those")
        return split
    for name in SPLIT_NAMES:
        if name in available:
            return name
    if len(available) == 1:
        return available[0]
    raise InputError(f"{where}: several splits {available}", hint="pass --split NAME")


def _decode_off(ds: Any) -> Any:
    """Keep image cells as {'bytes', 'path'} (no PIL decoding of a whole dataset up front)."""
    from datasets import Image

    for name, feature in ds.features.items():
        if isinstance(feature, Image):
            ds = ds.cast_column(name, Image(decode=False))
    return ds


def _from_disk(path: Path, split: str | None) -> tuple[Iterator[dict], list[str], str | None]:
    from datasets import DatasetDict, load_from_disk

    ds = load_from_disk(str(path))
    chosen = None
    if isinstance(ds, DatasetDict):
        chosen = _choose_split(list(ds), split, str(path))
        ds = ds[chosen]
    ds = _decode_off(ds)
    return iter(ds), list(ds.column_names), chosen


def _split_of(file: Path, root: Path) -> str:
    parts = [p.lower() for p in file.relative_to(root).parts] if file != root else [file.name.lower()]
    for part in parts:
        for name in SPLIT_NAMES:
            if part == name or part.startswith(name + "-") or part.startswith(name + "_") or part.startswith(name + "."):
                return name
    return "default"


def _from_parquet(path: Path, split: str | None) -> tuple[Iterator[dict], list[str], str | None, Path]:
    import pyarrow.parquet as pq

    if path.is_file():
        files, root = [path], path.parent
        chosen = None
    else:
        files = sorted(path.rglob("*.parquet"))
        if not files:
            raise InputError(f"{path}: folder holds no *.parquet files and is not a save_to_disk dataset",
                             hint="point DATASET at an export folder, a parquet file, or a Hub id")
        groups: dict[str, list[Path]] = {}
        for f in files:
            groups.setdefault(_split_of(f, path), []).append(f)
        chosen = _choose_split(sorted(groups), split, str(path))
        files, root = groups[chosen], path
    try:
        columns = list(pq.read_schema(files[0]).names)
    except Exception as exc:
        raise InputError(f"{files[0]}: not a readable parquet file ({exc})") from None

    def rows() -> Iterator[dict]:
        for f in files:
            pf = pq.ParquetFile(f)
            for batch in pf.iter_batches(batch_size=64):
                yield from batch.to_pylist()

    return rows(), columns, chosen, root


_OFFLINE_HINT = ("on a connected machine run `datasets.load_dataset(ID).save_to_disk(DIR)` (or download its parquet "
                 "files) and pass that folder as DATASET")


def _from_hub(repo_id: str, split: str | None) -> tuple[Iterator[dict], list[str], str | None]:
    reason = hub_unreachable()
    if reason is not None and not in_datasets_cache(repo_id):
        raise OfflineError(f"{repo_id}: the Hugging Face Hub is not reachable: {reason}", hint=_OFFLINE_HINT)
    import datasets

    try:
        dd = datasets.load_dataset(repo_id)
    except Exception as exc:  # offline, missing, private: all surface as different types
        text = f"{type(exc).__name__}: {exc}"
        offline = any(s in text.lower() for s in ("offline", "connection", "resolve", "network", "timed out", "max retries",
                                                  "couldn't reach", "not reach", "hf_hub_offline", "name or service"))
        cls = OfflineError if offline else InputError
        raise cls(f"{repo_id}: cannot load the dataset from the Hugging Face Hub ({text[:300]})",
                  hint=_OFFLINE_HINT) from None
    chosen = _choose_split(list(dd), split, repo_id)
    ds = _decode_off(dd[chosen])
    return iter(ds), list(ds.column_names), chosen


# --- rows -> items --------------------------------------------------------------------------------

def parse_options(raw: Any, where: str) -> dict[str, str] | None:
    """MMRA stores options as a Python dict literal string; accept dicts and JSON too."""
    if raw is None or (isinstance(raw, str) and raw.strip() in ("", "None", "null")):
        return None
    if isinstance(raw, dict):
        value = raw
    else:
        try:
            value = ast.literal_eval(str(raw))
        except (ValueError, SyntaxError):
            try:
                value = json.loads(str(raw))
            except json.JSONDecodeError:
                raise InputError(f"{where}: options {str(raw)[:80]!r} is neither a Python dict literal nor JSON",
                                 hint="write options like \"{'A': 'x', 'B': 'y'}\"") from None
    if not isinstance(value, dict) or not value:
        raise InputError(f"{where}: options must be a non-empty dict of letter -> text, got {str(raw)[:80]!r}")
    return {str(k).strip().upper(): str(v) for k, v in value.items()}


def _item_id(row: dict, index: int) -> str:
    value = row.get("id")
    return str(value) if value not in (None, "") else str(index)


def _mmra_item(row: dict, index: int, root: Path | None, source: str) -> EvalItem:
    where = f"{source} row {index}"
    qa = normalise_qa_type(row["QA_type"])
    options = parse_options(row.get("options"), where) if qa != TRUE_FALSE_QA else None
    answer = str(row["answer"]).strip()
    answer = answer.capitalize() if qa == TRUE_FALSE_QA else answer.upper()
    if options is not None and answer not in options:
        raise InputError(f"{where}: answer {answer!r} is not one of the option letters {list(options)}")
    task = normalise_task_name(str(row["Task"])) or str(row["Task"])
    info = mmra_subtasks().get(task)
    images = [image_from_value(row[c], root=root, where=f"{where} column {c}") for c in ("image1", "image2")]
    if any(img is None for img in images):
        raise InputError(f"{where}: image1 and image2 are both required")
    return EvalItem(
        id=_item_id(row, index), format="mmra", task=task, level=info.granularity if info else None, qa_type=qa,
        question=str(row["question"]), options=options, answer=answer, images=images,
        order_probe=bool(row.get("order_probe") or False), twin_of=row.get("twin_of") or None,
        pair_id=str(row["pair_id"]) if row.get("pair_id") not in (None, "") else None,
    )


def _remi_item(row: dict, index: int, root: Path | None, source: str) -> EvalItem:
    where = f"{source} row {index}"
    images = [image_from_value(row.get(f"image_{k}"), root=root, where=f"{where} column image_{k}")
              for k in range(1, REMI_MAX_IMAGES + 1)]
    while images and images[-1] is None:
        images.pop()
    return EvalItem(id=_item_id(row, index), format="remi", task=str(row["task"]), question=str(row["question"]),
                    answer=str(row["label"]), images=images)


def _workspace_items(ws: Any, review: str) -> Iterator[EvalItem]:
    """Kept candidates; with review='auto' only the validated ones once any are validated."""
    from mmrakit.records import CandidateStore, ImageCatalog

    store, catalog = CandidateStore(ws), ImageCatalog(ws)
    rows = store.rows(status="kept")
    if review == "validated" or (review == "auto" and any(r["review_status"] == "validated" for r in rows)):
        rows = [r for r in rows if r["review_status"] == "validated"]
    if not rows:
        raise InputError(f"{ws.root}: the workspace has no kept candidates to evaluate", hint="run `mmrakit build` first")
    for r in rows:
        c = r["candidate"]
        images: list[ImageRef | None] = []
        for sha in (c.image1, c.image2):
            rec = catalog.get(sha)
            if rec is None:
                raise InputError(f"candidate {c.id}: image {sha} is not in the workspace's image catalogue")
            images.append(ImageRef(path=catalog.file_path(rec)))
        info = mmra_subtasks().get(c.task)
        yield EvalItem(
            id=c.id, format="mmra", task=c.task, level=info.granularity if info else c.granularity, qa_type=c.qa_type,
            question=r.get("review_question") or c.question, options=c.options,
            answer=r.get("review_answer") or c.answer, images=images, order_probe=c.order_probe, twin_of=c.twin_of,
            pair_id=c.pair_id,
        )
