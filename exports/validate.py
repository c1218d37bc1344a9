"""``mmrakit export validate DIR``: is this export what its card says, and does every image decode?

Checks, per output present: the card's YAML parses and names the splits; parquet shards and the
``save_to_disk`` copy have MMRA's seven columns first, in order, with image bytes embedded; every
row is a well-formed MMRA item (QA type, options literal, answer); every image decodes; the row
counts match the card (and the manifest); task packs point at files that exist.
"""

from __future__ import annotations

import ast
import base64
import csv
import io
import json
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, Field

from mmrakit.errors import InputError
from .card import card_split_counts, parse_card
from .export import MANIFEST
from .schema import IMAGE_COLUMNS, MMRA_COLUMNS
from .vlmevalkit import DATASET_CLASSES, YES_NO_INSTRUCTION

QA_TYPES = ("Choice QA", "True or false QA")


class ValidationReport(BaseModel):
    directory: str
    ok: bool = True
    errors: list[str] = Field(default_factory=list)
    card_counts: dict[str, int] = Field(default_factory=dict)
    counts: dict[str, dict[str, int]] = Field(default_factory=dict, description="output -> split -> rows")
    images_decoded: int = 0

    def fail(self, message: str) -> None:
        self.ok = False
        if len(self.errors) < 200:
            self.errors.append(message)


def _decode(data: bytes | None) -> str | None:
    """None when the bytes are a readable image, else the reason."""
    from PIL import Image

    if not data:
        return "no image bytes (path-only image: not embedded)"
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
    except Exception as exc:  # PIL raises many types for broken files
        return f"does not decode: {type(exc).__name__}: {exc}"
    return None


def check_item(row: dict, where: str, report: ValidationReport) -> None:
    """One row against MMRA's rules (what m-a-p/MMRA code relies on)."""
    qa = row.get("QA_type")
    if qa not in QA_TYPES:
        report.fail(f"{where}: QA_type {qa!r} is not one of {list(QA_TYPES)}")
        return
    opts_raw = row.get("options")
    if qa == "Choice QA":
        try:
            opts = ast.literal_eval(opts_raw) if opts_raw else None
        except (ValueError, SyntaxError):
            report.fail(f"{where}: options {opts_raw!r} is not a Python dict literal")
            return
        if not isinstance(opts, dict) or tuple(opts) not in (("A", "B", "C"), ("A", "B", "C", "D")):
            report.fail(f"{where}: options must be a dict keyed A-C or A-D, got {opts_raw!r}")
        elif row.get("answer") not in opts:
            report.fail(f"{where}: answer {row.get('answer')!r} is not an option letter")
    else:
        if opts_raw not in (None, ""):
            report.fail(f"{where}: True or false QA has options {opts_raw!r} (expected None)")
        if str(row.get("answer", "")).lower() not in ("yes", "no"):
            report.fail(f"{where}: True or false QA answer {row.get('answer')!r} is not Yes/No")
    for col in ("Task", "question"):
        if not row.get(col):
            report.fail(f"{where}: empty {col}")


def _check_columns(names: list[str], where: str, report: ValidationReport) -> bool:
    if tuple(names[: len(MMRA_COLUMNS)]) != MMRA_COLUMNS:
        report.fail(f"{where}: columns {names[:len(MMRA_COLUMNS)]} are not MMRA's {list(MMRA_COLUMNS)} (in order)")
        return False
    return True


def _check_rows(rows: Iterator[dict], where: str, report: ValidationReport) -> int:
    n = 0
    for i, row in enumerate(rows):
        n += 1
        check_item(row, f"{where} row {i}", report)
        for col in IMAGE_COLUMNS:
            cell = row.get(col) or {}
            problem = _decode(cell.get("bytes") if isinstance(cell, dict) else None)
            if problem:
                report.fail(f"{where} row {i} {col}: {problem}")
            else:
                report.images_decoded += 1
    return n


def _parquet(directory: Path, report: ValidationReport) -> None:
    import pyarrow.parquet as pq

    files = sorted((directory / "data").glob("*.parquet"))
    counts: Counter[str] = Counter()
    for f in files:
        split = f.name.split("-")[0]
        where = f"data/{f.name}"
        try:
            pf = pq.ParquetFile(f)
        except Exception as exc:
            report.fail(f"{where}: not a readable parquet file: {exc}")
            continue
        meta = pf.schema_arrow.metadata or {}
        if b"huggingface" not in meta:
            report.fail(f"{where}: no 'huggingface' features metadata (images would not load as Image())")
        else:
            feats = json.loads(meta[b"huggingface"]).get("info", {}).get("features", {})
            for col in IMAGE_COLUMNS:
                if feats.get(col, {}).get("_type") != "Image":
                    report.fail(f"{where}: column {col} is not a datasets Image feature")
        if not _check_columns(pf.schema_arrow.names, where, report):
            continue

        def rows() -> Iterator[dict]:
            for batch in pf.iter_batches(batch_size=64):
                yield from batch.to_pylist()

        counts[split] += _check_rows(rows(), where, report)
    report.counts["parquet"] = dict(counts)


def _hf(directory: Path, report: ValidationReport) -> None:
    from datasets import Image, load_from_disk

    try:
        dsd = load_from_disk(str(directory / "hf"))
    except Exception as exc:
        report.fail(f"hf/: load_from_disk fails: {type(exc).__name__}: {exc}")
        return
    counts = {}
    for split, ds in dsd.items():
        where = f"hf/{split}"
        if not _check_columns(list(ds.column_names), where, report):
            continue
        for col in IMAGE_COLUMNS:
            if not isinstance(ds.features[col], Image):
                report.fail(f"{where}: column {col} is {ds.features[col]!r}, not Image()")
        raw = ds.cast_column("image1", Image(decode=False)).cast_column("image2", Image(decode=False))
        counts[split] = _check_rows(iter(raw), where, report)
    report.counts["hf"] = counts


def _lmms(directory: Path, report: ValidationReport) -> None:
    import yaml

    counts = {}
    for y in sorted((directory / "lmms-eval").rglob("*.yaml")):
        text = y.read_text("utf-8").replace("!function", "")
        cfg = yaml.safe_load(text)
        split = cfg.get("test_split", "test")
        files = (cfg.get("dataset_kwargs") or {}).get("data_files", {}).get(split, [])
        files = [files] if isinstance(files, str) else files
        missing = [f for f in files if not (y.parent / f).is_file()]
        if missing or not files:
            report.fail(f"{y.relative_to(directory)}: data files missing: {missing or '(none listed)'}")
            continue
        if not (y.parent / "utils.py").is_file():
            report.fail(f"{y.relative_to(directory)}: utils.py missing next to it")
        import pyarrow.parquet as pq

        if cfg.get("task", "").endswith("_circular"):  # rotations of the Choice items, not extra items
            continue
        counts[split] = sum(pq.ParquetFile(y.parent / f).metadata.num_rows for f in files)
    report.counts["lmms-eval"] = counts


def _vlmevalkit(directory: Path, report: ValidationReport) -> None:
    csv.field_size_limit(sys.maxsize)
    counts: Counter[str] = Counter()
    configs = sorted((directory / "vlmevalkit").glob("*_config.json"))
    if len(configs) != 1:
        report.fail(f"vlmevalkit/: expected one *_config.json (run.py --config), found {len(configs)}")
        configured, prefix = {}, ""
    else:
        prefix = configs[0].name.removesuffix("_config.json")
        try:
            configured = json.loads(configs[0].read_text("utf-8")).get("data", {})
            assert isinstance(configured, dict) and all(isinstance(v, dict) for v in configured.values())
        except (ValueError, AttributeError, AssertionError):
            report.fail(f"vlmevalkit/{configs[0].name}: not a run.py config (JSON with a 'data' mapping of "
                        "dataset name -> {class, dataset})")
            configured = {}
    before = 0
    rotations: Counter[str] = Counter()  # circular file: rows per g_index
    for tsv in sorted((directory / "vlmevalkit").glob("*.tsv")):
        with open(tsv, encoding="utf-8", newline="") as fh:
            for i, rec in enumerate(csv.DictReader(fh, delimiter="\t")):
                where = f"vlmevalkit/{tsv.name} row {i}"
                try:
                    images = ast.literal_eval(rec["image"])
                    names = ast.literal_eval(rec["image_path"])
                    assert isinstance(images, list) and isinstance(names, list)
                except (KeyError, ValueError, SyntaxError, AssertionError):
                    report.fail(f"{where}: image/image_path are not list literals")
                    continue
                if len(images) != 2 or len(names) != 2:
                    report.fail(f"{where}: expected 2 images, got {len(images)}")
                for b64 in images:
                    problem = _decode(base64.b64decode(b64))
                    if problem:
                        report.fail(f"{where}: {problem}")
                    else:
                        report.images_decoded += 1
                if rec.get("g_index") not in (None, ""):  # the circular file: each item once per rotation
                    rotations[rec["g_index"]] += 1
                    n_options = sum(1 for letter in "ABCD" if rec.get(letter))
                    if rec["index"] == rec["g_index"]:
                        rotations[f"options:{rec['g_index']}"] = n_options
                    continue
                counts[rec.get("split") or "test"] += 1
                if "A" not in rec and not (rec.get("question") or "").endswith(YES_NO_INSTRUCTION):
                    report.fail(f"{where}: yes/no question does not end with {YES_NO_INSTRUCTION!r}")
        rows = counts.total() - before + (sum(v for k, v in rotations.items() if ":" not in k) if "circular" in tsv.stem
                                           else 0)
        before = counts.total()
        cls = configured.get(tsv.stem, {}).get("class")
        if rows and cls != DATASET_CLASSES.get(tsv.stem.removeprefix(prefix), DATASET_CLASSES[""]):
            report.fail(f"vlmevalkit/{tsv.name}: the run.py config does not name the dataset class that scores it "
                        f"(got {cls!r})")
    for g, n in rotations.items():
        if ":" not in g and n != rotations.get(f"options:{g}", -1):
            report.fail(f"vlmevalkit circular file: item index {g} has {n} rows, expected one per option "
                        f"({rotations.get(f'options:{g}', 'no rotation-0 row')})")
    report.counts["vlmevalkit"] = dict(counts)


def validate_export(directory: str | Path) -> ValidationReport:
    directory = Path(directory)
    report = ValidationReport(directory=str(directory))
    if not directory.is_dir():
        raise InputError(f"{directory}: no such export directory", hint="run `mmrakit export --out DIR` first")
    card = directory / "README.md"
    if not card.is_file():
        report.fail("README.md (dataset card) is missing")
    else:
        try:
            meta, _ = parse_card(card.read_text("utf-8"), source=str(card))
            report.card_counts = card_split_counts(meta)
            if not report.card_counts:
                report.fail("README.md: dataset_info.splits is empty")
        except InputError as exc:
            report.fail(str(exc))
    checks = {"data": _parquet, "hf": _hf, "lmms-eval": _lmms, "vlmevalkit": _vlmevalkit}
    present = [name for name in checks if (directory / name).is_dir()]
    if not present:
        report.fail("no export output found (data/, hf/, lmms-eval/ or vlmevalkit/)")
    for name in present:
        checks[name](directory, report)
    for output, counts in report.counts.items():
        if report.card_counts and counts != report.card_counts:
            report.fail(f"{output}: rows per split {counts} do not match the card's {report.card_counts}")
    manifest = directory / MANIFEST
    if manifest.is_file():
        expected = json.loads(manifest.read_text("utf-8")).get("splits", {})
        if report.card_counts and expected != report.card_counts:
            report.fail(f"{MANIFEST}: splits {expected} do not match the card's {report.card_counts}")
    return report
