"""Export stage: HF/parquet round trip, MMRA compatibility, card, splits, atomicity, validate, import."""

from __future__ import annotations

import ast
import base64
import hashlib
import io
import json
import os
import re
from collections import Counter
from pathlib import Path

import pytest
import yaml
from PIL import Image

from mmrakit.errors import InputError, OfflineError
from mmrakit.exports.card import parse_card, restricted_terms
from mmrakit.exports.export import run_export
from mmrakit.exports.importer import import_dataset
from mmrakit.exports.schema import MMRA_COLUMNS, PROVENANCE_COLUMNS
from mmrakit.exports.validate import validate_export
from mmrakit.records import CandidateStore, ImageCatalog
from mmrakit.workspace import Workspace
from test_export_helpers import build_workspace

ALL_FORMATS = "hf,parquet,lmms-eval,vlmevalkit"


@pytest.fixture
def built(workspace: Workspace):
    return workspace, build_workspace(workspace)


def _validated(info) -> list:
    return [c for c in info["candidates"] if info["status"][c.id] == "validated"]


def _load_parquet(out: Path, cache: Path):
    import datasets

    files = {s: sorted(str(p) for p in (out / "data").glob(f"{s}-*.parquet"))
             for s in {p.name.split("-")[0] for p in (out / "data").glob("*.parquet")}}
    return datasets.load_dataset("parquet", data_files=files, cache_dir=str(cache))


def _pixels(im: Image.Image) -> tuple:
    return (im.mode, im.size, im.tobytes())


# --- round trip and MMRA compatibility ------------------------------------------------------------

def test_round_trip_parquet_and_load_from_disk_identical(built, tmp_path):
    from datasets import load_from_disk

    ws, info = built
    out = tmp_path / "export"
    report = run_export(ws, out, formats="hf,parquet")
    assert report.splits == {"test": len(_validated(info))}
    from_parquet = _load_parquet(out, tmp_path / "cache")["test"]
    from_disk = load_from_disk(str(out / "hf"))["test"]
    assert from_parquet.column_names == list(MMRA_COLUMNS) == from_disk.column_names
    assert len(from_parquet) == len(from_disk) == len(_validated(info))
    catalog = ImageCatalog(ws)
    originals = {r.sha256: _pixels(Image.open(catalog.file_path(r))) for r in info["images"]}
    for a, b in zip(from_parquet, from_disk, strict=True):
        for col in ("Task", "QA_type", "question", "options", "answer"):
            assert a[col] == b[col]
        for col in ("image1", "image2"):
            assert isinstance(a[col], Image.Image) and _pixels(a[col]) == _pixels(b[col])
            assert _pixels(a[col]) in originals.values()  # the pool image itself, pixel for pixel
    import datasets

    raw = from_parquet.cast_column("image1", datasets.Image(decode=False))
    assert all(cell["bytes"] and "/" not in (cell["path"] or "") for cell in raw["image1"])  # no local folder leaks
    # bytes really are embedded: the parquet alone is enough once the pool is gone
    for p in ws.path("images", "pool").iterdir():
        p.unlink()
    again = _load_parquet(out, tmp_path / "cache2")["test"]
    assert all(_pixels(r["image1"]) in originals.values() for r in again)


def test_default_export_is_validated_only_with_mmra_schema_and_corrections(built, tmp_path):
    ws, info = built
    out = tmp_path / "export"
    run_export(ws, out, formats="parquet")
    ds = _load_parquet(out, tmp_path / "cache")["test"]
    assert ds.column_names == ["Task", "QA_type", "question", "image1", "image2", "options", "answer"]
    exported_questions = Counter(ds["question"])
    expected = _validated(info)
    assert len(ds) == len(expected)
    corrected = next(c for c in info["candidates"] if c.id == info["corrected"])
    assert corrected.question not in exported_questions
    row = ds[ds["question"].index("Corrected: what are both objects used for?")]
    assert row["answer"] == "C" and row["Task"] == "UsageSimilarity"
    assert "filtered?" not in exported_questions  # filtered by the builder: never exported
    rejected = [c for c in info["candidates"] if info["status"][c.id] != "validated"]
    assert all(c.question not in exported_questions for c in rejected if c.question != corrected.question)


def test_code_written_for_mmra_runs_unchanged(built, tmp_path):
    """The evaluate_demo.py loop: literal_eval the options, build the prompt, compare answers lower-cased."""
    ws, info = built
    out = tmp_path / "export"
    run_export(ws, out, formats="parquet")
    ds = _load_parquet(out, tmp_path / "cache")["test"]
    by_question = {c.question: c for c in info["candidates"]}
    n_choice = n_tf = 0
    for item in ds:
        if item["QA_type"] == "Choice QA":
            options = ast.literal_eval(item["options"])
            assert isinstance(options, dict) and list(options) in (["A", "B", "C"], ["A", "B", "C", "D"])
            prompt = f"questions: {item['question']} answer: " + " ".join(f"{k}: {v}" for k, v in options.items())
            assert all(v in prompt for v in options.values())
            pred = f"({item['answer']})"
            letters = re.findall(r"\(([A-D])\)", pred)
            assert Counter(letters).most_common()[0][0].lower() == item["answer"].lower()
            n_choice += 1
        elif item["QA_type"] == "True or false QA":
            assert item["options"] is None and item["answer"] in ("Yes", "No")
            n_tf += 1
        else:
            pytest.fail(f"unexpected QA_type {item['QA_type']}")
        item["image1"].convert("RGB"), item["image2"].convert("RGB")
        source = by_question.get(item["question"])
        if source is not None and source.id != info["corrected"]:
            assert item["answer"] == source.answer
    assert n_choice and n_tf


def test_include_unreviewed_marks_rows_and_card(built, tmp_path):
    ws, info = built
    out = tmp_path / "export"
    report = run_export(ws, out, formats="parquet", include_unreviewed=True)
    ds = _load_parquet(out, tmp_path / "cache")["test"]
    statuses = Counter(ds["review_status"])
    assert statuses["validated"] == len(_validated(info))
    assert statuses["unreviewed"] == 2 and statuses["pending"] == 1 and "rejected" not in statuses
    assert report.unreviewed == 3 and any("NOT validated" in w for w in report.warnings)
    meta, body = parse_card((out / "README.md").read_text())
    assert "PREVIEW" in body and "not validated" in body.lower()
    assert "review_status" in [f["name"] for f in meta["dataset_info"]["features"]]


def test_with_provenance_columns(built, tmp_path):
    ws, info = built
    out = tmp_path / "export"
    run_export(ws, out, formats="parquet", with_provenance=True)
    ds = _load_parquet(out, tmp_path / "cache")["test"]
    assert ds.column_names[:7] == list(MMRA_COLUMNS)
    assert set(PROVENANCE_COLUMNS) <= set(ds.column_names)
    by_id = {c.id: c for c in info["candidates"]}
    images = {r.sha256: r for r in info["images"]}
    for row in ds:
        cand = by_id[row["id"]]
        assert row["granularity"] == cand.granularity and row["order_probe"] == cand.order_probe
        assert row["image1_sha256"] == cand.image1 and row["image2_license"] == images[cand.image2].license
        assert row["image1_source"] == "synthetic-pool"
        assert row["review_agreement"] is not None
        evidence = json.loads(row["evidence"])
        assert evidence.get("edges", []) == [e.model_dump(mode="json", exclude_defaults=True) for e in cand.evidence.edges]
    twin = next(r for r in ds if r["order_probe"])
    assert twin["twin_of"] in set(ds["id"])


# --- card ------------------------------------------------------------------------------------------

def test_card_yaml_parses_and_counts_match(built, tmp_path):
    ws, info = built
    out = tmp_path / "export"
    report = run_export(ws, out, formats="hf,parquet", dev_fraction=0.3, seed=1)
    text = (out / "README.md").read_text()
    meta, body = parse_card(text)
    assert yaml.safe_load(text.split("---\n")[1]) == meta
    assert meta["license"] == "cc-by-sa-4.0"
    splits = {s["name"]: s["num_examples"] for s in meta["dataset_info"]["splits"]}
    assert splits == report.splits and set(splits) == {"test", "dev"}
    assert meta["configs"][0]["data_files"] == [{"split": s, "path": f"data/{s}-*"} for s in report.splits]
    import datasets

    for split, n in report.splits.items():  # the card's configs make the folder itself loadable
        assert len(datasets.load_dataset(str(out), split=split, cache_dir=str(tmp_path / "cache"))) == n
    features = {f["name"]: f["dtype"] for f in meta["dataset_info"]["features"]}
    assert features["image1"] == "image" and features["options"] == "string"
    # per-subtask table agrees with the data
    for task, n in Counter(c.task for c in _validated(info)).items():
        row = next(line for line in body.splitlines() if line.startswith(f"| {task} |"))
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert int(cells[2]) + int(cells[3]) == n
    assert "CC BY-SA 4.0" in body and "ConceptNet" in body and "arXiv:2407.17379" in body
    assert "Warning:" in body and "NonCommercial" in body  # one pool licence is BY-NC-SA
    assert "@article{wu2024mmra" in body and "speer2017conceptnet" in body
    assert re.search(r"\| \*\*all\*\* \| \d+ \| 0\.\d{3} \|", body)  # agreement figures


@pytest.mark.parametrize("name,terms", [
    ("CC BY-NC-SA 2.0", ["NonCommercial"]), ("Attribution-NonCommercial-NoDerivs License", ["NonCommercial", "NoDerivatives"]),
    ("cc-by-nd-4.0", ["NoDerivatives"]), ("CC BY 4.0", []), (None, []), ("CC0 1.0", []),
])
def test_restricted_licence_detection(name, terms):
    assert restricted_terms(name) == terms


# --- splits ----------------------------------------------------------------------------------------

def test_dev_split_is_stratified_deterministic_and_keeps_twins_together(built, tmp_path):
    from mmrakit.exports.rows import collect_rows
    from mmrakit.exports.splits import assign_splits

    ws, info = built
    rows = collect_rows(ws)
    a = assign_splits(rows, dev_fraction=0.4, seed=7)
    b = assign_splits(list(reversed(rows)), dev_fraction=0.4, seed=7)
    assert [r.id for r in a["dev"]] == [r.id for r in b["dev"]]
    assert len(a["dev"]) + len(a["test"]) == len(rows)
    test_tasks = Counter(r.task for r in a["test"])
    assert set(test_tasks) == {r.task for r in rows}  # no subtask vanishes from test
    others = [assign_splits(rows, dev_fraction=0.4, seed=s)["dev"] for s in range(8)]
    assert len({tuple(sorted(r.id for r in d)) for d in others}) > 1  # the seed matters
    for split in a.values():
        ids = {r.id for r in split}
        for r in split:
            if r.candidate.twin_of:
                assert r.candidate.twin_of in ids
    # counterfactual partners (one pair_id) land in one split, whatever the seed
    for seed in range(8):
        where = {}
        for name, split in assign_splits(rows, dev_fraction=0.5, seed=seed).items():
            for r in split:
                if r.candidate.pair_id:
                    where.setdefault(r.candidate.pair_id, set()).add(name)
        assert where and all(len(v) == 1 for v in where.values()), where


# --- atomicity -------------------------------------------------------------------------------------

def test_interrupted_export_leaves_nothing_half_written(built, tmp_path):
    ws, _ = built
    out = tmp_path / "export"

    def interrupt(_tmp):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_export(ws, out, formats=ALL_FORMATS, _after_write=interrupt)
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".tmp-")] == []
    # a complete export, then an interrupted re-export: the complete one survives untouched
    run_export(ws, out, formats="parquet")
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    with pytest.raises(KeyboardInterrupt):
        run_export(ws, out, formats=ALL_FORMATS, force=True, _after_write=interrupt)
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert validate_export(out).ok
    last = ws.runs.latest("export", str(out.resolve()), status=None)
    assert last["status"] == "interrupted"


def test_reexport_is_a_noop_until_reviews_change(built, tmp_path):
    ws, info = built
    out = tmp_path / "export"
    first = run_export(ws, out, formats="parquet")
    assert not first.up_to_date
    assert run_export(ws, out, formats="parquet").up_to_date
    pending = next(c for c in info["candidates"] if info["status"][c.id] == "pending")
    CandidateStore(ws).set_review(pending.id, "validated", agreement=1.0)
    third = run_export(ws, out, formats="parquet")
    assert not third.up_to_date and third.splits["test"] == first.splits["test"] + 1


def test_nothing_to_export_is_a_clear_error(workspace, tmp_path):
    with pytest.raises(InputError, match="nothing to export"):
        run_export(workspace, tmp_path / "out")
    assert not (tmp_path / "out").exists()


# --- validate --------------------------------------------------------------------------------------

def test_validate_accepts_a_fresh_export_of_every_format(built, tmp_path):
    ws, info = built
    out = tmp_path / "export"
    run_export(ws, out, formats=ALL_FORMATS, with_provenance=True, dev_fraction=0.3)
    report = validate_export(out)
    assert report.ok, report.errors
    n = len(_validated(info))
    assert sum(report.card_counts.values()) == n
    assert set(report.counts) == {"parquet", "hf", "lmms-eval", "vlmevalkit"}
    # parquet, hf, vlmevalkit (the pack's parquet links data/), plus each Choice item once per option rotation
    rotated = sum(len(c.options or {}) for c in _validated(info))
    assert report.images_decoded == 2 * n * 3 + 2 * rotated


def test_vlmevalkit_circular_file_rotates_every_choice_item(built, tmp_path):
    import pandas as pd

    ws, info = built
    out = tmp_path / "export"
    run_export(ws, out, formats="vlmevalkit", dev_fraction=0.3)
    read = lambda name: pd.read_csv(out / "vlmevalkit" / name, sep="\t", keep_default_na=False)  # noqa: E731
    mcq, circ = read("MMRA_mmrakit.tsv"), read("MMRA_mmrakit_circular.tsv")
    config = json.loads((out / "vlmevalkit" / "MMRA_mmrakit_config.json").read_text())
    assert config["data"]["MMRA_mmrakit_circular"] == {"class": "CustomMCQDataset", "dataset": "MMRA_mmrakit_circular"}
    assert "pair_id" in mcq.columns
    assert set(circ["g_index"]) == set(mcq["index"])
    for _, row in mcq.iterrows():
        group = circ[circ["g_index"] == row["index"]].sort_values("index")
        letters = [c for c in "ABCD" if row[c]]
        assert list(group["index"]) == [row["index"] + k * 1_000_000 for k in range(len(letters))]
        # the answer's text is the same in every rotation, and it sits at a different letter each time
        assert {g[g["answer"]] for _, g in group.iterrows()} == {row[row["answer"]]}
        assert sorted(group["answer"]) == sorted(letters)
        assert set(group["image"]) == {row["image"]}


def test_validate_catches_corrupt_image(built, tmp_path):
    import pyarrow.parquet as pq

    ws, _ = built
    out = tmp_path / "export"
    run_export(ws, out, formats="parquet")
    shard = next((out / "data").glob("test-*.parquet"))
    table = pq.read_table(shard)
    cells = table.column("image2").to_pylist()
    cells[1] = {"bytes": cells[1]["bytes"][: len(cells[1]["bytes"]) // 3], "path": cells[1]["path"]}
    import pyarrow as pa

    table = table.set_column(table.schema.get_field_index("image2"), "image2",
                             pa.array(cells, type=table.schema.field("image2").type))
    pq.write_table(table, shard)
    report = validate_export(out)
    assert not report.ok
    assert any("row 1 image2" in e and "decode" in e for e in report.errors), report.errors


def test_validate_catches_count_mismatch_and_broken_card(built, tmp_path):
    ws, _ = built
    out = tmp_path / "export"
    report = run_export(ws, out, formats="parquet")
    card = out / "README.md"
    text = card.read_text()
    n = report.splits["test"]
    card.write_text(text.replace(f"num_examples: {n}", f"num_examples: {n + 5}"))
    result = validate_export(out)
    assert not result.ok and any("do not match the card" in e for e in result.errors)
    card.write_text("no yaml here\n")
    result = validate_export(out)
    assert any("no YAML metadata" in e for e in result.errors)


def test_validate_catches_a_wrong_schema(built, tmp_path):
    ws, _ = built
    out = tmp_path / "export"
    run_export(ws, out, formats="hf")
    from datasets import load_from_disk

    dsd = load_from_disk(str(out / "hf"))
    renamed = dsd.rename_column("QA_type", "qa_type")
    import shutil

    renamed.save_to_disk(str(tmp_path / "hf-renamed"))
    del dsd, renamed
    shutil.rmtree(out / "hf")
    shutil.move(str(tmp_path / "hf-renamed"), str(out / "hf"))
    result = validate_export(out)
    assert not result.ok and any("are not MMRA's" in e for e in result.errors)


# --- VLMEvalKit ------------------------------------------------------------------------------------

def _toliststr(s: str) -> list[str]:
    """VLMEvalKit's smp.toliststr: a string that looks like a list is eval'ed."""
    return [str(x) for x in eval(s)] if s[0] == "[" and s[-1] == "]" else [s]  # noqa: S307


def test_vlmevalkit_tsv_follows_the_documented_layout(built, tmp_path):
    import pandas as pd

    ws, info = built
    out = tmp_path / "export"
    run_export(ws, out, formats="vlmevalkit")
    mcq = pd.read_csv(out / "vlmevalkit" / "MMRA_mmrakit.tsv", sep="\t")
    yn = pd.read_csv(out / "vlmevalkit" / "MMRA_mmrakit_YN.tsv", sep="\t")
    expected = _validated(info)
    assert len(mcq) == sum(1 for c in expected if c.options) and len(yn) == sum(1 for c in expected if not c.options)
    assert {"index", "image", "image_path", "question", "A", "B", "C", "D", "answer", "category"} <= set(mcq.columns)
    assert len(set(mcq["index"]) | set(yn["index"])) == len(expected)  # index unique across both files
    assert set(mcq["category"]) <= {"UsageSimilarity", "Environment"} and set(yn["category"]) <= {"SubEvent", "RelativePosition"}
    env = mcq[mcq["category"] == "Environment"]
    assert env["D"].isna().all() and env["C"].notna().all()  # 3-option items leave D empty
    pairs = []
    for _, line in pd.concat([mcq, yn]).iterrows():
        images = _toliststr(line["image"])
        names = _toliststr(line["image_path"])
        assert len(images) == len(names) == 2
        blobs = [base64.b64decode(b64) for b64 in images]
        for blob, name in zip(blobs, names):  # each image is the file its name says, in order
            assert name.split(".")[0] == hashlib.sha256(blob).hexdigest()[:24]
            Image.open(io.BytesIO(blob)).load()
        pairs.append((line["category"], names[0][:24], names[1][:24]))
    assert sorted(pairs) == sorted((c.task, c.image1[:24], c.image2[:24]) for c in expected)
    assert set(yn["answer"]) <= {"Yes", "No"} and set(mcq["answer"]) <= set("ABCD")
    assert all(q.endswith(" Please answer yes or no.") for q in yn["question"])
    assert not any("Please answer yes or no." in q for q in mcq["question"])
    config = json.loads((out / "vlmevalkit" / "MMRA_mmrakit_config.json").read_text())
    assert {k: v["class"] for k, v in config["data"].items()} == {"MMRA_mmrakit": "CustomMCQDataset",
                                                                  "MMRA_mmrakit_YN": "ImageYORNDataset",
                                                                  "MMRA_mmrakit_circular": "CustomMCQDataset"}
    assert validate_export(out).ok
    # a config that leaves the yes/no file to VLMEvalKit's guess (CustomVQADataset, which cannot score) is caught
    config["data"].pop("MMRA_mmrakit_YN")
    (out / "vlmevalkit" / "MMRA_mmrakit_config.json").write_text(json.dumps(config))
    result = validate_export(out)
    assert not result.ok and any("MMRA_mmrakit_YN.tsv: the run.py config" in e for e in result.errors)
    (out / "vlmevalkit" / "MMRA_mmrakit_config.json").write_text("{not json")
    result = validate_export(out)
    assert not result.ok and any("not a run.py config" in e for e in result.errors)


# --- import-dataset --------------------------------------------------------------------------------

def test_import_of_a_provenance_export_reproduces_the_candidates(built, tmp_path):
    ws, info = built
    out = tmp_path / "export"
    run_export(ws, out, formats="hf,parquet", with_provenance=True, dev_fraction=0.3)
    fresh = Workspace.init(tmp_path / "ws2")
    report = import_dataset(fresh, str(out))
    expected = {c.id: c for c in _validated(info)}
    assert report.imported == len(expected) and report.skipped == 0
    rows = CandidateStore(fresh).rows(origin=f"import:{out}")
    assert {r["id"] for r in rows} == set(expected)
    for r in rows:
        got, want = r["candidate"], expected[r["id"]]
        assert r["review_status"] == "unreviewed"
        for field in ("task", "granularity", "qa_type", "options", "image1", "image2", "evidence", "order_probe", "twin_of"):
            assert getattr(got, field) == getattr(want, field), field
        if want.id != info["corrected"]:
            assert (got.question, got.answer) == (want.question, want.answer)
        else:  # the reviewed version is what was published
            assert (got.question, got.answer) == ("Corrected: what are both objects used for?", "C")
    catalog = ImageCatalog(fresh)
    for sha in {c.image1 for c in expected.values()} | {c.image2 for c in expected.values()}:
        rec = catalog.get(sha)
        path = catalog.file_path(rec)
        assert path.is_relative_to(fresh.path("images", "imported")) and path.is_file()
        assert rec.source == f"import:{out}"
    # again: a no-op
    assert import_dataset(fresh, str(out)).up_to_date


def test_import_of_plain_mmra_parquet_and_reexport(built, tmp_path):
    """MMRA's seven columns only (as m-a-p/MMRA ships): ids are recomputed, images stored once."""
    ws, info = built
    out = tmp_path / "export"
    run_export(ws, out, formats="parquet")
    shard = next((out / "data").glob("test-*.parquet"))
    fresh = Workspace.init(tmp_path / "ws2")
    report = import_dataset(fresh, str(shard))
    n = len(_validated(info))
    assert report.imported == n
    assert report.images_written == len({c.image1 for c in _validated(info)} | {c.image2 for c in _validated(info)})
    store = CandidateStore(fresh)
    for row in store.rows(status="kept"):
        store.set_review(row["id"], "validated", agreement=1.0)
    out2 = tmp_path / "export2"
    run_export(fresh, out2, formats="parquet")
    a = _load_parquet(out, tmp_path / "c1")["test"]
    b = _load_parquet(out2, tmp_path / "c2")["test"]

    def key(r):
        return (r["Task"], r["question"], r["answer"], r["options"], _pixels(r["image1"]), _pixels(r["image2"]))

    assert sorted(map(key, a)) == sorted(map(key, b))


def test_import_rejects_bad_sources(workspace, tmp_path):
    import datasets

    with pytest.raises(InputError, match="no such file"):
        import_dataset(workspace, str(tmp_path / "missing"))
    bad = tmp_path / "bad.parquet"
    datasets.Dataset.from_dict({"question": ["q"], "answer": ["A"]}).to_parquet(str(bad))
    with pytest.raises(InputError, match=r"missing columns \['Task', 'QA_type', 'image1', 'image2'\]"):
        import_dataset(workspace, str(bad))


def test_import_hub_id_offline_is_a_clear_error(workspace, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    with pytest.raises(OfflineError, match="m-a-p/MMRA"):
        import_dataset(workspace, "m-a-p/MMRA")


# --- Hub push --------------------------------------------------------------------------------------

SECRET = "hf_FAKE-test-token-that-must-never-be-written"


def test_push_offline_is_a_clear_error_and_the_token_goes_nowhere(built, tmp_path, monkeypatch):
    ws, _ = built
    out = tmp_path / "export"
    monkeypatch.setenv("HF_TOKEN", SECRET)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(OfflineError) as exc:
        run_export(ws, out, formats="parquet", push_to_hub="someone/mmra-test")
    assert SECRET not in str(exc.value)
    # connection refused (no offline flag): still an OfflineError, not a traceback
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    from mmrakit.exports.hub import push_export

    with pytest.raises(OfflineError) as exc:
        push_export(out, "someone/mmra-test")
    assert SECRET not in str(exc.value)
    for p in list(out.rglob("*")) + [ws.path("mmrakit.toml"), ws.catalog_path]:
        if p.is_file():
            assert SECRET.encode() not in p.read_bytes(), p


def test_push_needs_a_token(built, tmp_path, monkeypatch):
    ws, _ = built
    monkeypatch.delenv("HF_TOKEN", raising=False)
    out = tmp_path / "export"
    run_export(ws, out, formats="parquet")
    from mmrakit.exports.hub import push_export

    with pytest.raises(InputError, match=r"\$HF_TOKEN"):
        push_export(out, "someone/x")


# --- lmms-eval pack (mmrakit side; lmms-eval itself runs in test_export_lmms.py) --------------------

def test_lmms_pack_utils_is_self_contained_and_matches_the_runner(built, tmp_path):
    from mmrakit.modelhub.prompts import extract_mmra_answer, mmra_prompt

    ws, _ = built
    out = tmp_path / "export"
    report = run_export(ws, out, formats="lmms-eval")
    pack = out / "lmms-eval" / "mmrakit_mmra"
    source = (pack / "utils.py").read_text()
    assert not re.search(r"^\s*(from|import)\s+mmrakit", source, re.MULTILINE)
    ns: dict = {}
    exec(compile(source, str(pack / "utils.py"), "exec"), ns)  # noqa: S102
    opts = {"A": "red apple", "B": "dark red", "C": "blue", "D": "green"}
    responses = ["B", "The answer is (C).", "(A) or (B)", "I think D", "a dark red one", "", "answer: b.", "Yes", "no!",
                 "It is true", "Yes and no", "A dog is here, so C"]
    for resp in responses:
        for qa, o in (("Choice QA", opts), ("True or false QA", None)):
            assert ns["extract_mmra_answer"](resp, o, qa) == extract_mmra_answer(resp, o, qa), (resp, qa)
    assert ns["mmra_prompt"]("Q?", opts, "Choice QA") == mmra_prompt("Q?", opts, "Choice QA")
    assert ns["mmra_prompt"]("Q?", None, "True or false QA") == mmra_prompt("Q?", None, "True or false QA")
    doc = {"question": "Q?", "options": repr(opts), "QA_type": "Choice QA", "answer": "C", "Task": "UsageSimilarity"}
    assert ns["doc_to_text"](doc) == mmra_prompt("Q?", opts, "Choice QA")
    assert ns["process_results"](doc, ["The answer is (C)."]) == {"accuracy": 1.0, "acc_UsageSimilarity": 1.0}
    cfg = yaml.safe_load((pack / "mmrakit_mmra.yaml").read_text().replace("!function ", ""))
    assert cfg["task"] == report.lmms_tasks["test"] and cfg["dataset_path"] == "parquet"
    assert all((pack / f).is_file() for f in cfg["dataset_kwargs"]["data_files"]["test"])


# --- CLI -------------------------------------------------------------------------------------------

def test_cli_export_validate_and_import(built, tmp_path):
    from typer.testing import CliRunner

    from mmrakit.cli.main import app

    ws, info = built
    out = tmp_path / "export"
    runner = CliRunner()
    res = runner.invoke(app, ["export", "-w", str(ws.root), "--out", str(out), "--format", "parquet,vlmevalkit",
                              "--dev-fraction", "0.3", "--seed", "3", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert sum(data["splits"].values()) == len(_validated(info)) and data["formats"] == ["parquet", "vlmevalkit"]
    res = runner.invoke(app, ["export", "validate", str(out), "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["ok"] is True
    (out / "README.md").write_text((out / "README.md").read_text().replace("num_examples:", "num_examples: 1"), encoding="utf-8")
    res = runner.invoke(app, ["export", "validate", str(out)])
    assert res.exit_code == 1
    res = runner.invoke(app, ["export", "-w", str(ws.root), "--format", "zip", "--out", str(out)])
    assert isinstance(res.exception, InputError) and "unknown export format" in str(res.exception)
    ws2 = Workspace.init(tmp_path / "ws2")
    res = runner.invoke(app, ["import-dataset", str(out), "-w", str(ws2.root), "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["imported"] == len(_validated(info))


# --- real photos (../shared/data/coco-mini) -------------------------------------------------------

@pytest.mark.shared
def test_export_of_coco_photos_keeps_bytes_and_flags_licences(shared_data, workspace, tmp_path):
    from mmrakit.models import Candidate, ImageRecord
    from mmrakit.util import sha256_file

    lines = [json.loads(x) for x in (shared_data / "coco-mini" / "images.jsonl").read_text().splitlines()[:6]]
    records = []
    for line in lines:
        path = shared_data / "coco-mini" / line["image"]
        with Image.open(path) as im:
            fmt = im.format
        records.append(ImageRecord(sha256=sha256_file(path), width=line["width"], height=line["height"], format=fmt,
                                   path=str(path), license=line["license_name"], url=line.get("flickr_url"),
                                   source="coco-mini", captions=line["captions"]))
    ImageCatalog(workspace).upsert(records)
    store = CandidateStore(workspace)
    cands = [Candidate(task="Environment", granularity="image", qa_type="Choice QA", question=f"Where? {i}",
                       options={"A": "street", "B": "kitchen", "C": "field"}, answer="B",
                       image1=records[i].sha256, image2=records[i + 1].sha256) for i in range(0, 6, 2)]
    store.upsert(cands)
    for c in cands:
        store.set_review(c.id, "validated", agreement=1.0)
    out = tmp_path / "export"
    report = run_export(workspace, out, formats="parquet")
    ds = _load_parquet(out, tmp_path / "cache")["test"].cast_column("image1", __import__("datasets").Image(decode=False))
    originals = {sha256_file(shared_data / "coco-mini" / x["image"]) for x in lines}
    import hashlib

    assert {hashlib.sha256(r["image1"]["bytes"]).hexdigest() for r in ds} <= originals  # JPEG bytes, not re-encoded
    body = (out / "README.md").read_text()
    licences = {line["license_name"] for line in lines}
    assert all(name in body for name in licences)
    if any(restricted_terms(n) for n in licences):
        assert "Warning:" in body and report.warnings
    assert validate_export(out).ok


def test_import_tolerates_mmra_quirks_and_reports_bad_rows(workspace, tmp_path):
    """Spellings seen in m-a-p/MMRA ('Chooice QA', plural task names, lower-case answers, 'None' options)."""
    import datasets

    from test_export_helpers import png_bytes

    img = [{"bytes": png_bytes((i * 40, 0, 0)), "path": None} for i in range(6)]
    rows = {
        "Task": ["Environments", "SubEvent", "Usage_Similarity", "NotATask"],
        "QA_type": ["Chooice QA", "True or false QA", "Choice QA", "Choice QA"],
        "question": ["Where?", "Sub-event?", "Use?", "?"],
        "image1": [img[0], img[2], img[4], img[0]],
        "image2": [img[1], img[3], img[5], img[1]],
        "options": ["{'A': 'sea', 'B': 'park', 'C': 'shop'}", "None", "{'A': 'x', 'B': 'y', 'C': 'z', 'D': 'w'}", "{'A': 'x', 'B': 'y', 'C': 'z'}"],
        "answer": ["b", "yes", "E", "A"],
    }
    feats = datasets.Features({k: datasets.Image() if k.startswith("image") else datasets.Value("string") for k in rows})
    path = tmp_path / "mmra-like.parquet"
    datasets.Dataset.from_dict(rows, features=feats).to_parquet(str(path))
    report = import_dataset(workspace, str(path))
    assert report.imported == 2 and report.skipped == 2
    assert any("row 2" in p and "answer" in p for p in report.problems), report.problems
    assert any("row 3" in p and "NotATask" in p for p in report.problems), report.problems
    got = {c.task: c for c in CandidateStore(workspace).list()}
    assert got["Environment"].qa_type == "Choice QA" and got["Environment"].answer == "B"
    assert got["SubEvent"].options is None and got["SubEvent"].answer == "Yes"


def test_row_groups_are_bounded_in_rows_and_bytes(built, tmp_path):
    import pyarrow.parquet as pq

    from mmrakit.exports.hf import rows_per_group
    from mmrakit.exports.rows import collect_rows

    ws, info = built
    ws.settings.export.row_group_size = 4
    out = tmp_path / "export"
    run_export(ws, out, formats="parquet")
    meta = pq.ParquetFile(next((out / "data").glob("test-*.parquet"))).metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert max(sizes) == 4 and sum(sizes) == len(_validated(info))
    rows = collect_rows(ws)
    per_row = sum(r.image1_file.stat().st_size + r.image2_file.stat().st_size for r in rows) // len(rows)
    assert rows_per_group(rows, 100, per_row * 3) == 3  # the byte cap wins over the row count
    assert rows_per_group(rows, 100, 1) == 1


def test_vlmevalkit_tsv_keeps_tabs_quotes_and_newlines_in_text(built, tmp_path):
    import pandas as pd

    ws, info = built
    tricky = 'A "quoted"\tword\nand a new line: which use?'
    target = next(c for c in _validated(info) if c.options and c.id != info["corrected"])
    CandidateStore(ws).set_review(target.id, "validated", question=tricky, agreement=1.0)
    out = tmp_path / "export"
    run_export(ws, out, formats="vlmevalkit")
    mcq = pd.read_csv(out / "vlmevalkit" / "MMRA_mmrakit.tsv", sep="\t")
    assert tricky in set(mcq["question"])
    assert validate_export(out).ok
