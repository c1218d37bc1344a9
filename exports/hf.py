"""Hugging Face outputs: a ``save_to_disk`` DatasetDict and Hub-layout parquet shards.

Images are embedded as bytes: ``to_parquet`` keeps only the path of path-based images (shared
setup-notes §1.4), and a parquet that points at someone's local disk is useless to everyone else.
The stored ``path`` is the file's base name only, so no local folder leaks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .rows import ExportRow, evidence_json, options_literal, votes_json
from .schema import column_names, features

_EXT = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif", "BMP": "bmp", "TIFF": "tiff"}


def _image_cell(record, path: Path) -> dict[str, Any]:
    """Path-based for now; ``build_dataset`` embeds the bytes (and keeps only the file's base name)."""
    return {"bytes": None, "path": str(path)}


def row_dict(row: ExportRow, columns: Sequence[str]) -> dict[str, Any]:
    """One row as the datasets writer takes it (only the requested columns)."""
    c = row.candidate
    full: dict[str, Any] = {
        "Task": c.task,
        "QA_type": c.qa_type,
        "question": row.question,
        "options": options_literal(c.options),
        "answer": row.answer,
        "review_status": row.review_status,
        "id": c.id,
        "granularity": c.granularity,
        "evidence": evidence_json(c),
        "review_agreement": row.review_agreement,
        "votes": votes_json(row),
        "order_probe": c.order_probe,
        "twin_of": c.twin_of,
        "pair_id": c.pair_id,
        "panel_difficulty": (c.evidence.notes.get("panel") or {}).get("difficulty"),
    }
    for slot in ("image1", "image2"):
        rec = getattr(row, slot)
        full[f"{slot}_sha256"] = rec.sha256
        full[f"{slot}_source"] = rec.source
        full[f"{slot}_url"] = rec.url
        full[f"{slot}_license"] = rec.license
    out = {}
    for col in columns:
        if col in ("image1", "image2"):
            out[col] = _image_cell(getattr(row, col), getattr(row, f"{col}_file"))
        else:
            out[col] = full[col]
    return out


def build_dataset(rows: Sequence[ExportRow], *, with_provenance: bool, include_unreviewed: bool):
    """A ``datasets.Dataset`` of ``rows`` with MMRA's features (plus the optional columns)."""
    from datasets import Dataset

    cols = column_names(with_provenance=with_provenance, include_unreviewed=include_unreviewed)
    data: dict[str, list[Any]] = {c: [] for c in cols}
    for r in rows:
        for k, v in row_dict(r, cols).items():
            data[k].append(v)
    ds = Dataset.from_dict(data, features=features(with_provenance=with_provenance, include_unreviewed=include_unreviewed))
    return embed_images(ds)


def embed_images(ds):
    """Read every path-based image's bytes into the table (``to_parquet`` would keep only the path).

    ``embed_table_storage`` stores the bytes and the file's base name only, so no local folder leaks;
    it is about as fast as handing Python bytes to ``from_dict`` (benchmarks/bench_export.py).
    """
    from datasets.table import embed_table_storage

    if len(ds) == 0:
        return ds
    return ds.with_format("arrow").map(embed_table_storage, batched=True).with_format(None)


def shard_count(rows: Sequence[ExportRow], max_shard_bytes: int) -> int:
    """Enough shards that none holds more than ``max_shard_bytes`` of image bytes (at least one)."""
    total = sum(r.image1_file.stat().st_size + r.image2_file.stat().st_size for r in rows)
    return max(1, math.ceil(total / max_shard_bytes))


def rows_per_group(rows: Sequence[ExportRow], row_group_size: int, max_group_bytes: int) -> int:
    """``row_group_size`` rows, fewer when that many average rows would exceed ``max_group_bytes``.

    The Hub's dataset viewer fails on row groups above a few hundred MB (dataset-viewer issues
    #1127/#1519); images make rows large, so the cap is in bytes as well as rows.
    """
    if not rows:
        return row_group_size
    total = sum(r.image1_file.stat().st_size + r.image2_file.stat().st_size for r in rows)
    per_row = max(1, total // len(rows))
    return max(1, min(row_group_size, max_group_bytes // per_row))


def write_parquet_shards(ds, directory: Path, split: str, *, num_shards: int, row_group_size: int) -> list[Path]:
    """``data/{split}-0000i-of-0000n.parquet`` (the Hub's naming), ``row_group_size`` rows per group."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    num_shards = max(1, min(num_shards, len(ds))) if len(ds) else 1
    for i in range(num_shards):
        shard = ds.shard(num_shards=num_shards, index=i, contiguous=True)
        path = directory / f"{split}-{i:05d}-of-{num_shards:05d}.parquet"
        shard.to_parquet(str(path), batch_size=row_group_size)
        paths.append(path)
    return paths
