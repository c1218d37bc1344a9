"""Readers for each import format. Each yields :class:`SourceItem`s: where the bytes are plus metadata.

Readers only parse; validation, hashing and storage happen in :mod:`importer`. A malformed
record raises :class:`InputError` naming the file, line and field.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from pydantic import ValidationError

from mmrakit.errors import InputError, OfflineError
from mmrakit.models import Box, ObjectAnnotation

FORMATS = ("folder", "coco", "llava", "mantis", "jsonl", "hf")
IMAGE_PLACEHOLDER = re.compile(r"<image>\s*", re.IGNORECASE)


@dataclass
class SourceItem:
    """One image occurrence in a source: a file path or embedded bytes, with its annotations."""

    where: str  # "file:line" or "file" - used in quarantine rows and error messages
    path: Path | None = None
    data: bytes | None = None
    captions: list[str] = field(default_factory=list)
    objects: list[ObjectAnnotation] = field(default_factory=list)
    license: str | None = None
    license_url: str | None = None
    url: str | None = None
    record_id: str | None = None
    suffix: str = ""  # file extension for embedded bytes (used when copying)


def read_source(source: str, fmt: str, *, image_root: Path | None, ignore_suffixes: list[str], split: str | None = None
                ) -> Iterator[SourceItem]:
    if fmt not in READERS:
        raise InputError(f"unknown import format {fmt!r}", hint=f"choose one of: {', '.join(FORMATS)}")
    if fmt != "hf" and not Path(source).exists():
        raise InputError(f"{source}: no such file or directory", hint="check the path given to `images import`")
    reader: Callable[..., Iterator[SourceItem]] = READERS[fmt]
    return reader(source, image_root=image_root, ignore_suffixes=ignore_suffixes, split=split)


# --- helpers -----------------------------------------------------------------------------------

def _clean_text(text: str) -> str:
    return " ".join(IMAGE_PLACEHOLDER.sub(" ", text).split())


def _json_records(path: Path) -> Iterator[tuple[int, dict]]:
    """Records of a JSON array file or a JSON-lines file, with 1-based line/record numbers."""
    with open(path, encoding="utf-8") as fh:
        head = fh.read(1 << 12).lstrip()
    if head.startswith("["):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}", hint="fix the file, then re-run") from None
        for i, rec in enumerate(data, 1):
            if not isinstance(rec, dict):
                raise InputError(f"{path}: record {i} is {type(rec).__name__}, expected an object")
            yield i, rec
        return
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{lineno}: not valid JSON: {exc.msg}", hint="fix or delete that line, then re-run") from None
            if not isinstance(rec, dict):
                raise InputError(f"{path}:{lineno}: expected a JSON object, got {type(rec).__name__}")
            yield lineno, rec


def _resolve(p: str, root: Path) -> Path:
    q = Path(p)
    return q if q.is_absolute() else root / q


def _parse_box(raw: Any, where: str) -> Box | None:
    if raw is None:
        return None
    try:
        if isinstance(raw, (list, tuple)):
            if len(raw) != 4:
                raise ValueError(f"expected [x, y, w, h], got {len(raw)} numbers")
            raw = dict(zip("xywh", raw))
        return Box.model_validate(raw)
    except (ValidationError, ValueError, TypeError) as exc:
        raise InputError(f"{where}: field 'objects[].box' is not a normalised box ({exc})",
                         hint="boxes are {x, y, w, h} or [x, y, w, h] in 0..1 of the image size") from None


def _objects(raw: Any, where: str) -> list[ObjectAnnotation]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise InputError(f"{where}: field 'objects' must be a list")
    out = []
    for obj in raw:
        if isinstance(obj, str):
            out.append(ObjectAnnotation(category=obj))
        elif isinstance(obj, dict) and isinstance(obj.get("category"), str):
            out.append(ObjectAnnotation(category=obj["category"], box=_parse_box(obj.get("box"), where)))
        else:
            raise InputError(f"{where}: field 'objects' entries must be a category string or {{category, box}}")
    return out


def _captions(raw: Any, where: str) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        raw = [raw]
    if not isinstance(raw, list) or not all(isinstance(c, str) for c in raw):
        raise InputError(f"{where}: field 'captions' must be a string or a list of strings")
    return [c for c in (_clean_text(c) for c in raw) if c]


# --- folder ------------------------------------------------------------------------------------

def read_folder(source: str, *, image_root, ignore_suffixes, split) -> Iterator[SourceItem]:
    root = Path(source)
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    ignore = {s.lower() for s in ignore_suffixes}
    for p in files:
        if any(part.startswith(".") for part in p.relative_to(root).parts) or p.suffix.lower() in ignore:
            continue
        caption_file = p.with_suffix(".txt")
        captions = []
        if caption_file.is_file():
            captions = [c for c in (_clean_text(x) for x in caption_file.read_text(encoding="utf-8", errors="replace").splitlines()) if c]
        yield SourceItem(where=str(p), path=p, captions=captions, record_id=str(p.relative_to(root)) if p != root else p.name)


# --- coco --------------------------------------------------------------------------------------

def _coco_pairs(source: Path) -> list[tuple[Path | None, Path | None, str]]:
    """(captions json, instances json, split) triples found at ``source``."""
    files = sorted(source.glob("*.json")) if source.is_dir() else [source]
    by_split: dict[str, dict[str, Path]] = defaultdict(dict)
    for f in files:
        m = re.match(r"(captions|instances)_(.+)\.json$", f.name)
        if m:
            by_split[m.group(2)][m.group(1)] = f
        elif not source.is_dir():
            by_split[f.stem]["instances"] = f
    if source.is_file():  # also pick up the partner file next to it
        for split, kinds in by_split.items():
            for kind in ("captions", "instances"):
                partner = source.parent / f"{kind}_{split}.json"
                if kind not in kinds and partner.exists():
                    kinds[kind] = partner
    if not by_split:
        raise InputError(f"{source}: no captions_*.json or instances_*.json found", hint="point at a COCO annotations file or folder")
    return [(k.get("captions"), k.get("instances"), s) for s, k in sorted(by_split.items())]


def _load_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from None


def read_coco(source: str, *, image_root, ignore_suffixes, split) -> Iterator[SourceItem]:
    src = Path(source)
    if src.is_dir() and not any(src.glob("*.json")) and (src / "annotations").is_dir():
        src = src / "annotations"  # the dataset root as COCO ships it: annotations/ beside train2017/ ...
    for captions_file, instances_file, split_name in _coco_pairs(src):
        images: dict[int, dict] = {}
        licenses: dict[int, dict] = {}
        captions: dict[int, list[str]] = defaultdict(list)
        objects: dict[int, list[ObjectAnnotation]] = defaultdict(list)
        for f in (captions_file, instances_file):
            if f is None:
                continue
            data = _load_json(f)
            for key in ("images", "annotations"):
                if key not in data:
                    raise InputError(f"{f}: missing top-level field {key!r}", hint="is this a COCO annotation file?")
            for im in data["images"]:
                images.setdefault(im["id"], im)
            for lic in data.get("licenses", []):
                licenses[lic["id"]] = lic
            categories = {c["id"]: c["name"] for c in data.get("categories", [])}
            for i, ann in enumerate(data["annotations"]):
                where = f"{f}: annotations[{i}]"
                if "caption" in ann:
                    captions[ann["image_id"]].append(_clean_text(ann["caption"]))
                elif "category_id" in ann:
                    im = images.get(ann["image_id"])
                    if im is None:
                        raise InputError(f"{where}: image_id {ann['image_id']} is not in 'images'")
                    box = None
                    if ann.get("bbox"):
                        x, y, w, h = ann["bbox"]
                        W, H = float(im["width"]), float(im["height"])
                        x0, y0 = min(max(x / W, 0.0), 1.0), min(max(y / H, 0.0), 1.0)
                        box = Box(x=x0, y=y0, w=min(max(w / W, 0.0), 1.0 - x0), h=min(max(h / H, 0.0), 1.0 - y0))
                    name = categories.get(ann["category_id"])
                    if name is None:
                        raise InputError(f"{where}: category_id {ann['category_id']} is not in 'categories'")
                    objects[ann["image_id"]].append(ObjectAnnotation(category=name, box=box, crowd=bool(ann.get("iscrowd", 0))))
        folder = image_root or (src.parent if src.is_file() else src).parent / split_name
        for image_id in sorted(images):
            im = images[image_id]
            lic = licenses.get(im.get("license"), {})
            yield SourceItem(
                where=f"{captions_file or instances_file}: image {image_id}",
                path=folder / im["file_name"],
                captions=captions.get(image_id, []),
                objects=objects.get(image_id, []),
                license=lic.get("name"), license_url=lic.get("url"),
                url=im.get("flickr_url") or im.get("coco_url"),
                record_id=f"{split_name}/{image_id}",
            )


# --- llava / mantis ------------------------------------------------------------------------------

def _image_list(rec: dict, where: str) -> list[str]:
    raw = rec.get("images", rec.get("image"))
    if raw is None:
        return []  # text-only conversation: nothing to import
    if isinstance(raw, str):
        raw = [raw]
    out = []
    for item in raw:
        if isinstance(item, dict):
            item = item.get("path")
        if not isinstance(item, str):
            raise InputError(f"{where}: field 'images' entries must be paths")
        out.append(item)
    return out


def _conversation_items(source: str, image_root: Path | None, turns_key: str, speaker_key: str, text_key: str,
                        answer_speakers: tuple[str, ...]) -> Iterator[SourceItem]:
    path = Path(source)
    root = image_root or path.parent
    for lineno, rec in _json_records(path):
        where = f"{path}:{lineno}"
        images = _image_list(rec, where)
        turns = rec.get(turns_key, [])
        if not isinstance(turns, list):
            raise InputError(f"{where}: field {turns_key!r} must be a list of turns")
        answers = []
        for t in turns:
            if not isinstance(t, dict) or text_key not in t:
                raise InputError(f"{where}: each turn in {turns_key!r} needs {speaker_key!r} and {text_key!r}")
            if t.get(speaker_key) in answer_speakers:
                answers.append(_clean_text(str(t[text_key])))
        # A single-image record's answers describe that image; a multi-image record's text describes
        # the set, so it is not attached to any one image (it would ground wrong entities).
        captions = [a for a in answers if a] if len(images) == 1 else []
        rid = str(rec.get("id", lineno))
        for k, img in enumerate(images):
            yield SourceItem(where=where, path=_resolve(img, root), captions=captions,
                             record_id=rid if len(images) == 1 else f"{rid}#{k}")


def read_llava(source: str, *, image_root, ignore_suffixes, split) -> Iterator[SourceItem]:
    return _conversation_items(source, image_root, "conversations", "from", "value", ("gpt", "assistant"))


def read_mantis(source: str, *, image_root, ignore_suffixes, split) -> Iterator[SourceItem]:
    return _conversation_items(source, image_root, "conversation", "role", "content", ("assistant", "gpt"))


# --- jsonl -------------------------------------------------------------------------------------

def read_jsonl(source: str, *, image_root, ignore_suffixes, split) -> Iterator[SourceItem]:
    path = Path(source)
    root = image_root or path.parent
    for lineno, rec in _json_records(path):
        where = f"{path}:{lineno}"
        p = rec.get("path") or rec.get("image")
        if not isinstance(p, str):
            raise InputError(f"{where}: field 'path' is missing or not a string", hint="each line needs \"path\": \"img.jpg\"")
        yield SourceItem(
            where=where, path=_resolve(p, root), captions=_captions(rec.get("captions", rec.get("caption")), where),
            objects=_objects(rec.get("objects"), where), license=rec.get("license"), license_url=rec.get("license_url"),
            url=rec.get("url"), record_id=str(rec.get("record_id", rec.get("id", lineno))),
        )


# --- hf ----------------------------------------------------------------------------------------

CAPTION_COLUMNS = ("captions", "caption", "text", "sentences")


def read_hf(source: str, *, image_root, ignore_suffixes, split) -> Iterator[SourceItem]:
    import datasets

    local = Path(source)
    try:
        if local.is_dir() and ((local / "dataset_info.json").exists() or (local / "dataset_dict.json").exists()):
            ds = datasets.load_from_disk(str(local))
        else:
            ds = datasets.load_dataset(source, split=split)
    except (ConnectionError, OSError) as exc:
        if "offline" in str(exc).lower() or "connect" in str(exc).lower() or "resolve" in str(exc).lower():
            raise OfflineError(f"{source}: cannot reach the Hugging Face Hub ({exc})",
                               hint="download the dataset where you have network and pass its local folder "
                                    "(save_to_disk output), or set HF_DATASETS_OFFLINE with a warm cache") from None
        raise InputError(f"{source}: cannot load dataset: {exc}") from None
    if isinstance(ds, datasets.DatasetDict):
        if split is None:
            split = next(iter(ds))
        ds = ds[split]
    image_cols = [name for name, feat in ds.features.items() if isinstance(feat, datasets.Image)]
    if not image_cols:
        raise InputError(f"{source}: no Image column (columns: {', '.join(ds.column_names)})",
                         hint="cast the image column with datasets.Image() first")
    for col in image_cols:
        ds = ds.cast_column(col, datasets.Image(decode=False))
    caption_col = next((c for c in CAPTION_COLUMNS if c in ds.column_names), None)
    for i, row in enumerate(ds):
        where = f"{source}[{i}]"
        caps = _captions(row.get(caption_col), where) if caption_col else []
        rid = str(row.get("id", i))
        for col in image_cols:
            val = row[col]
            if val is None:
                continue
            data, p = val.get("bytes"), val.get("path")
            suffix = Path(p).suffix if p else ""
            if data is None and p:
                yield SourceItem(where=where, path=_resolve(p, image_root or local), captions=caps if len(image_cols) == 1 else [],
                                 record_id=f"{rid}#{col}", url=None)
            else:
                yield SourceItem(where=where, data=data or b"", captions=caps if len(image_cols) == 1 else [],
                                 record_id=f"{rid}#{col}", suffix=suffix)


READERS: dict[str, Callable[..., Iterator[SourceItem]]] = {
    "folder": read_folder, "coco": read_coco, "llava": read_llava, "mantis": read_mantis, "jsonl": read_jsonl, "hf": read_hf,
}
