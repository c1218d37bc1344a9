"""No machine path in a published export: workspaces built from a COCO-format folder and a plain image
folder (both in a tmp dir), exported in every format with provenance and as a preview, and a second
workspace that imported that export and exported again. Every file of each export is scanned: parquet
and Arrow cells, the card, export.json, the lmms-eval pack, the VLMEvalKit TSVs and config."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from mmrakit.exports.export import run_export
from mmrakit.exports.importer import import_dataset
from mmrakit.exports.sources import public_source
from mmrakit.exports.validate import validate_export
from mmrakit.images.importer import import_images
from mmrakit.records import CandidateStore, ImageCatalog
from mmrakit.workspace import Workspace
from test_export_helpers import make_candidates

ALL = "hf,parquet,lmms-eval,vlmevalkit"


def _image(path: Path, seed: int, fmt: str) -> None:
    rng = random.Random(seed)
    im = Image.new("RGB", (96, 72), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    for _ in range(12):
        x, y = rng.randrange(80), rng.randrange(60)
        im.paste((rng.randrange(256), rng.randrange(256), rng.randrange(256)), (x, y, x + 16, y + 12))
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, format=fmt)


def _coco_folder(root: Path, n: int) -> Path:
    """A COCO-format dataset root: annotations/ (instances + captions) beside val2017/."""
    images = [{"id": i + 1, "file_name": f"{i + 1:012d}.jpg", "width": 96, "height": 72, "license": 1,
               "coco_url": f"http://images.cocodataset.org/val2017/{i + 1:012d}.jpg"} for i in range(n)]
    for i, im in enumerate(images):
        _image(root / "val2017" / im["file_name"], 100 + i, "JPEG")
    licenses = [{"id": 1, "name": "Attribution License", "url": "http://creativecommons.org/licenses/by/2.0/"}]
    cats = [{"id": 1, "name": "cup", "supercategory": "kitchen"}, {"id": 2, "name": "plate", "supercategory": "kitchen"}]
    inst = {"images": images, "licenses": licenses, "categories": cats,
            "annotations": [{"id": i + 1, "image_id": i + 1, "category_id": 1 + i % 2, "bbox": [4, 4, 30, 20]}
                            for i in range(n)]}
    caps = {"images": images, "licenses": licenses,
            "annotations": [{"id": i + 1, "image_id": i + 1, "caption": f"a cup on a table number {i}"} for i in range(n)]}
    (root / "annotations").mkdir(parents=True)
    (root / "annotations" / "instances_val2017.json").write_text(json.dumps(inst))
    (root / "annotations" / "captions_val2017.json").write_text(json.dumps(caps))
    return root


def _photo_folder(root: Path, n: int) -> Path:
    for i in range(n):
        _image(root / "kitchen" / f"photo {i}.png", 200 + i, "PNG")
        (root / "kitchen" / f"photo {i}.txt").write_text(f"a plate in a kitchen {i}\n")
    return root


def _strings(value, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            _strings(v, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _strings(v, out)


def _cells(path: Path) -> list[str]:
    """Every string cell of a parquet file or a save_to_disk Arrow file (image structs included)."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
    else:
        with pa.memory_map(str(path)) as src:
            try:
                table = pa.ipc.open_stream(src).read_all()
            except pa.ArrowInvalid:
                table = pa.ipc.open_file(src).read_all()
    out: list[str] = []
    for column in table.columns:
        _strings(column.to_pylist(), out)
    return out


def _leaks(export: Path, forbidden: list[str]) -> list[str]:
    found = []
    files = [p for p in export.rglob("*") if p.is_file()]
    assert files
    for p in files:
        raw = p.read_bytes()
        texts = [raw.decode("utf-8", errors="replace")]
        if p.suffix in (".parquet", ".arrow"):
            texts += _cells(p)
        for text in texts:
            for bad in forbidden:
                if bad in text or bad.replace("/", "\\/") in text:
                    found.append(f"{p.relative_to(export)}: {bad}")
    return sorted(set(found))


@pytest.fixture()
def sourced_workspace(tmp_path):
    sources = tmp_path / "machine-only" / "datasets"
    coco = _coco_folder(sources / "my-coco", 6)
    photos = _photo_folder(sources / "holiday photos", 6)
    ws = Workspace.init(tmp_path / "machine-only" / "ws")
    assert import_images(ws, str(coco), "coco").accepted == 6
    assert import_images(ws, str(photos), "folder").accepted == 6
    records = sorted(ImageCatalog(ws), key=lambda r: r.source + r.sha256)
    assert {r.source for r in records} == {str(coco.resolve()), str(photos.resolve())}  # the workspace keeps them
    cands = make_candidates(records[:6] + records[6:])
    store = CandidateStore(ws)
    store.upsert(cands)
    for i, c in enumerate(cands):
        if i % 4:  # the rest stay unreviewed: in a preview export they appear, marked
            store.set_review(c.id, "validated", agreement=1.0)
    yield ws, {"coco": coco, "photos": photos}
    ws.close()


def test_no_machine_path_in_any_file_of_an_export(sourced_workspace, tmp_path):
    ws, src = sourced_workspace
    forbidden = sorted({str(p) for p in (tmp_path, tmp_path.resolve(), ws.root, src["coco"], src["photos"],
                                         src["coco"].resolve(), src["photos"].resolve())})
    out = tmp_path / "machine-only" / "exports" / "v1"
    report = run_export(ws, out, formats=ALL, with_provenance=True, include_unreviewed=True, dev_fraction=0.3, seed=1)
    assert report.unreviewed > 0 and validate_export(out).ok
    assert _leaks(out, forbidden) == []
    # sources are named by their own folder names, the provenance columns still say where images came from
    sources = set()
    for shard in (out / "data").glob("*.parquet"):
        t = pq.read_table(shard, columns=["image1_source", "image2_source"]).to_pydict()
        sources |= set(t["image1_source"]) | set(t["image2_source"])
    assert sources == {"my-coco", "holiday photos"}
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["out"] == "v1" and report.out == str(out.resolve())  # the caller still gets the full path
    assert 'load_dataset("path/to/v1", split="test")' in (out / "README.md").read_text()

    # a declared root keeps the structure below it
    ws.settings.export.source_root = str(tmp_path / "machine-only")
    ws.save_settings()
    out2 = tmp_path / "machine-only" / "exports" / "rooted"
    run_export(ws, out2, formats="parquet", with_provenance=True, include_unreviewed=True)
    t = pq.read_table(next((out2 / "data").glob("test-*.parquet")), columns=["image1_source"]).to_pydict()
    assert set(t["image1_source"]) == {"datasets/my-coco", "datasets/holiday photos"}
    assert _leaks(out2, forbidden) == []

    # a workspace that imported that export (origin and image sources "import:<abs path>") exports cleanly too
    ws2 = Workspace.init(tmp_path / "machine-only" / "ws2")
    try:
        import_dataset(ws2, str(out))
        origins = {r["origin"] for r in CandidateStore(ws2).rows()}
        assert origins == {f"import:{out}"}  # the machine path stays in the workspace...
        out3 = tmp_path / "machine-only" / "exports" / "reexport"
        run_export(ws2, out3, formats=ALL, with_provenance=True, include_unreviewed=True)
        assert _leaks(out3, forbidden) == []  # ...and out of what it publishes
        card = (out3 / "README.md").read_text()
        assert "`import:v1`" in card
    finally:
        ws2.close()


@pytest.mark.parametrize("value, expected", [
    (None, None),
    ("m-a-p/MMRA", "m-a-p/MMRA"),                       # a Hub dataset id is kept
    ("synthetic-pool", "synthetic-pool"),
    ("/data/sets/coco/annotations", "coco/annotations"),  # under the declared root
    ("/work/ws/images/imported", "images/imported"),      # inside the workspace
    ("/home/me/Pictures/holiday", "holiday"),             # elsewhere: its own name
    ("import:/home/me/exports/v1/", "import:v1"),
    ("import:m-a-p/MMRA", "import:m-a-p/MMRA"),
    ("C:\\Users\\me\\coco", "coco"),
])
def test_public_source_names(value, expected):
    assert public_source(value, [Path("/data/sets"), Path("/work/ws")]) == expected
