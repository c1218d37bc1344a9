"""Image import: formats, validation + quarantine, normalisation, changed files, --copy, entity grounding."""

from __future__ import annotations

import io
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from mmrakit.cli.main import app
from mmrakit.errors import InputError
from mmrakit.images import ImagePool
from mmrakit.images.importer import import_images
from mmrakit.workspace import Workspace

sys.path.insert(0, str(Path(__file__).parent))
from fixtures_images import jpeg_bytes, photo, write_bad_images  # noqa: E402

runner = CliRunner()


# --- coco-mini ------------------------------------------------------------------------------------

@pytest.mark.shared
def test_coco_mini_import_captions_objects_licences_and_idempotence(workspace: Workspace, shared_data: Path) -> None:
    ann = shared_data / "coco-mini" / "annotations"
    report = import_images(workspace, str(ann), "coco")
    assert (report.seen, report.accepted, report.quarantined) == (159, 159, {})
    pool = ImagePool(workspace)
    recs = list(pool.records())
    assert len(recs) == 159
    by_id = {r.record_id: r for r in recs}
    expected = {json.loads(line)["coco_id"]: json.loads(line) for line in (shared_data / "coco-mini" / "images.jsonl").open()}
    rec = by_id["val2017/397133"]
    meta = expected[397133]
    assert sorted(rec.captions) == sorted(" ".join(c.split()) for c in meta["captions"])
    assert (rec.width, rec.height) == (meta["width"], meta["height"])
    assert sorted({o.category for o in rec.objects}) == meta["objects"]
    assert sum(1 for o in rec.objects) == sum(meta["object_counts"].values())
    assert rec.license == meta["license_name"] and rec.url == meta["flickr_url"]
    assert all(o.box is not None and o.box.x + o.box.w <= 1.0 + 1e-9 for r in recs for o in r.objects)
    # entities: every object category grounded with its box, caption n-grams unchecked (no relations)
    ents = pool.entities(rec.sha256)
    obj = [e for e in ents if e.source == "object"]
    assert {e.concept for e in obj} == {"/c/en/" + c.replace(" ", "_") for c in meta["objects"]}
    assert all(e.box is not None for e in obj)
    assert any(e.source == "caption" for e in ents)
    assert report.concepts_checked is False
    assert pool.phash(rec.sha256) is not None and 0 <= pool.phash(rec.sha256) < 2 ** 64
    # idempotent: unchanged source is a no-op, forced re-read leaves the same rows
    again = import_images(workspace, str(ann), "coco")
    assert again.up_to_date
    n_ent = workspace.db.execute("SELECT COUNT(*) FROM images_entities").fetchone()[0]
    forced = import_images(workspace, str(ann), "coco", force=True)
    assert forced.new_images == 0 and len(pool) == 159
    assert workspace.db.execute("SELECT COUNT(*) FROM images_entities").fetchone()[0] == n_ent
    assert pool.get(rec.sha256).captions == rec.captions  # merged, not duplicated


@pytest.mark.shared
def test_grounding_checks_concepts_against_ingested_relations(workspace: Workspace, shared_data: Path) -> None:
    from mmrakit.relations import RelationStore, bundled_subset
    from mmrakit.relations.ingest import ingest

    ingest(workspace, bundled_subset())
    store = RelationStore.open(workspace)
    report = import_images(workspace, str(shared_data / "coco-mini" / "annotations"), "coco")
    assert report.concepts_checked
    rows = workspace.db.execute("SELECT concept, source, validated FROM images_entities").fetchall()
    captions = [r for r in rows if r["source"] == "caption"]
    assert captions and all(r["validated"] == 1 and store.is_known(r["concept"]) for r in captions)
    assert {r["validated"] for r in rows if r["source"] == "object"} <= {0, 1}


# --- validation ---------------------------------------------------------------------------------

def test_every_fault_is_quarantined_with_its_reason_and_import_continues(workspace: Workspace, tmp_path: Path) -> None:
    workspace.settings.images.max_pixels = 1_000_000
    folder = tmp_path / "bad"
    expected = write_bad_images(folder, bomb_pixels=1_000_000)
    (folder / "good.jpg").write_bytes(jpeg_bytes(photo(7, (120, 90))))
    report = import_images(workspace, str(folder), "folder")
    assert report.accepted == 1
    pool = ImagePool(workspace)
    got = {Path(r["location"]).name: r["reason"] for r in pool.quarantine()}
    assert got == expected
    counts: dict[str, int] = {}
    for reason in expected.values():
        counts[reason] = counts.get(reason, 0) + 1
    assert report.quarantined == dict(sorted(counts.items()))
    # the CLI lists them (json), filterable by reason
    res = runner.invoke(app, ["images", "quarantine", "-w", str(workspace.root), "--json", "--reason", "truncated"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [Path(r["location"]).name for r in rows] == ["truncated.jpg"]
    # a fixed file leaves quarantine on the next import
    (folder / "truncated.jpg").write_bytes(jpeg_bytes(photo(8, (120, 90))))
    import_images(workspace, str(folder), "folder")
    assert "truncated.jpg" not in {Path(r["location"]).name for r in pool.quarantine()}
    assert len(pool) == 2


def _exif_rotated_jpeg() -> bytes:
    img = Image.new("RGB", (80, 40), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 40, 40))  # left half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW on display
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes(), quality=95)
    return buf.getvalue()


def test_normalisation_exif_cmyk_palette_la_16bit_animated(workspace: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "modes"
    folder.mkdir()
    (folder / "exif.jpg").write_bytes(_exif_rotated_jpeg())
    Image.new("CMYK", (64, 48), (0, 255, 255, 0)).save(folder / "cmyk.jpg")
    pal = Image.new("P", (64, 48))
    pal.putpalette([0, 255, 0] * 256)
    pal.save(folder / "palette.png")
    Image.new("LA", (64, 48), (128, 0)).save(folder / "la.png")  # fully transparent grey -> white
    Image.fromarray(np.full((48, 64), 65535, dtype=np.uint16)).save(folder / "deep16.png")
    frames = [Image.new("RGB", (64, 48), c) for c in ((255, 255, 0), (0, 0, 0))]
    frames[0].save(folder / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    report = import_images(workspace, str(folder), "folder")
    assert report.accepted == 6, ImagePool(workspace).quarantine()
    pool = ImagePool(workspace)
    by_name = {Path(r.path).name: r for r in pool.records()}
    exif = by_name["exif.jpg"]
    assert (exif.width, exif.height) == (40, 80)  # oriented size
    img = pool.open(exif.sha256)
    assert img.mode == "RGB" and img.size == (40, 80)
    assert img.getpixel((20, 10))[2] > 200  # the blue half is on top after rotation
    expect = {"cmyk.jpg": (255, 0, 0), "palette.png": (0, 255, 0), "la.png": (255, 255, 255), "deep16.png": (255, 255, 255),
              "anim.gif": (255, 255, 0)}
    for name, rgb in expect.items():
        im = pool.open(by_name[name].sha256)
        assert im.mode == "RGB"
        assert all(abs(a - b) <= 12 for a, b in zip(im.getpixel((5, 5)), rgb)), (name, im.getpixel((5, 5)))
    assert by_name["cmyk.jpg"].mode == "CMYK" and by_name["deep16.png"].mode.startswith("I")


def test_changed_file_is_detected_not_reused(workspace: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(jpeg_bytes(photo(1)))
    (folder / "b.jpg").write_bytes(jpeg_bytes(photo(2)))
    import_images(workspace, str(folder), "folder")
    pool = ImagePool(workspace)
    old = {Path(r.path).name: r.sha256 for r in pool.records()}
    (folder / "a.jpg").write_bytes(jpeg_bytes(photo(3)))
    report = import_images(workspace, str(folder), "folder")
    assert report.changed_files == 1
    now = {Path(r.path).name: r.sha256 for r in pool.records()}
    assert now["a.jpg"] != old["a.jpg"] and old["a.jpg"] in pool.changed()
    assert old["a.jpg"] not in {r.sha256 for r in pool.records()}
    assert now["b.jpg"] == old["b.jpg"]


def test_copy_stores_files_in_the_workspace(workspace: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "x.jpg").write_bytes(jpeg_bytes(photo(5)))
    res = runner.invoke(app, ["images", "import", str(folder), "--format", "folder", "--copy", "-w", str(workspace.root), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["accepted"] == 1
    shutil.rmtree(folder)
    pool = ImagePool(workspace)
    (rec,) = list(pool.records())
    assert not Path(rec.path).is_absolute() and pool.image_path(rec.sha256).is_file()
    assert pool.open(rec.sha256).size == (96, 72)


# --- formats --------------------------------------------------------------------------------------

def test_jsonl_llava_mantis_folder_and_hf_formats(workspace: Workspace, tmp_path: Path) -> None:
    d = tmp_path / "src"
    d.mkdir()
    for i in range(4):
        (d / f"im{i}.jpg").write_bytes(jpeg_bytes(photo(10 + i)))
    (d / "im0.txt").write_text("A red kite over a beach.\n")
    (d / "pool.jsonl").write_text(json.dumps({"path": "im1.jpg", "captions": ["a knife on a table"],
                                              "objects": [{"category": "knife", "box": [0.1, 0.2, 0.3, 0.4]}],
                                              "license": "CC BY 2.0", "url": "http://example.org/1"}) + "\n")
    (d / "llava.json").write_text(json.dumps([
        {"id": "l1", "image": "im2.jpg", "conversations": [{"from": "human", "value": "<image>\nWhat is this?"},
                                                           {"from": "gpt", "value": "A dog on a sofa."}]},
        {"id": "l2", "conversations": [{"from": "human", "value": "text only"}]},
    ]))
    (d / "mantis.jsonl").write_text(json.dumps({"id": "m1", "images": ["im2.jpg", "im3.jpg"], "conversation": [
        {"role": "user", "content": "<image><image> Compare."}, {"role": "assistant", "content": "Both show animals."}]}) + "\n")
    assert import_images(workspace, str(d), "folder").accepted == 4
    pool = ImagePool(workspace)
    by = {Path(r.path).name: r for r in pool.records()}
    assert by["im0.jpg"].captions == ["A red kite over a beach."]
    assert import_images(workspace, str(d / "pool.jsonl"), "jsonl").accepted == 1
    r1 = pool.get(by["im1.jpg"].sha256)
    assert r1.captions == ["a knife on a table"] and r1.objects[0].box.w == pytest.approx(0.3) and r1.license == "CC BY 2.0"
    assert any(e.concept == "/c/en/knife" and e.box is not None for e in pool.entities(r1.sha256))
    assert import_images(workspace, str(d / "llava.json"), "llava").accepted == 1
    assert pool.get(by["im2.jpg"].sha256).captions == ["A dog on a sofa."]
    assert import_images(workspace, str(d / "mantis.jsonl"), "mantis").accepted == 2
    assert pool.get(by["im3.jpg"].sha256).captions == []  # multi-image text is not one image's caption
    assert workspace.db.execute("SELECT COUNT(*) FROM images_occurrences WHERE sha256 = ?", (by["im2.jpg"].sha256,)).fetchone()[0] == 3
    # hf: a saved dataset with two Image columns (bytes embedded) -> copied into the workspace
    import datasets

    ds = datasets.Dataset.from_dict({"image1": [str(d / "im0.jpg")], "image2": [jpeg_bytes(photo(99))], "id": ["h1"]})
    ds = ds.cast_column("image1", datasets.Image()).cast_column("image2", datasets.Image())
    ds = ds.map(lambda r: r)  # materialise
    ds.save_to_disk(str(tmp_path / "hfds"))
    rep = import_images(workspace, str(tmp_path / "hfds"), "hf")
    assert rep.accepted == 2 and rep.new_images == 1
    new = [r for r in pool.records() if r.record_id == "h1#image2"]
    assert len(new) == 1 and pool.image_path(new[0].sha256).is_file()


def test_malformed_jsonl_names_file_line_and_field(workspace: Workspace, tmp_path: Path) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text('{"path": "a.jpg"}\n{"captions": ["no path"]}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2: field 'path'"):
        import_images(workspace, str(f), "jsonl")
    f.write_text('{"path": "a.jpg", "objects": [{"category": "cup", "box": [0.5, 0.5, 2, 0.1]}]}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:1: field 'objects\[\]\.box'"):
        import_images(workspace, str(f), "jsonl")
    res = runner.invoke(app, ["images", "import", str(tmp_path / "nope"), "-w", str(workspace.root)])
    assert res.exit_code != 0


def test_bundled_demo_images_are_redistributable_and_import_cleanly(workspace: Workspace) -> None:
    demo = Path(__file__).resolve().parents[1] / "demo" / "images"
    lines = [json.loads(x) for x in (demo / "images.jsonl").read_text().splitlines()]
    attribution = (demo / "ATTRIBUTION.md").read_text()
    assert lines and all(r["license"] in ("Attribution License", "Attribution-ShareAlike License") for r in lines)
    assert all(f"`{r['path']}`" in attribution and r["url"] in attribution for r in lines)
    assert sum(p.stat().st_size for p in demo.iterdir()) < 8_500_000
    report = import_images(workspace, str(demo / "images.jsonl"), "jsonl")
    assert report.accepted == len(lines) and report.quarantined == {}
    pool = ImagePool(workspace)
    assert all(r.objects and r.captions and r.url for r in pool.records())


def test_coco_dataset_root_finds_its_annotations_folder(workspace, shared_data):
    from mmrakit.images.importer import import_images

    report = import_images(workspace, str(shared_data / "coco-mini"), "coco")
    assert report.accepted == 159


def test_concept_checker_without_a_store_is_unchecked_but_a_broken_store_fails_loudly(workspace) -> None:
    import sqlite3

    from mmrakit.images.entities import ConceptChecker

    assert not ConceptChecker.open(workspace).available  # nothing ingested: grounding unchecked, by design
    workspace.resolve(workspace.settings.relations.db_file).write_bytes(b"not a database at all" * 100)
    with pytest.raises(sqlite3.DatabaseError):  # a broken store is a bug to see, not a silent fallback
        ConceptChecker.open(workspace)
