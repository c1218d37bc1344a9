"""An MMRA-format sample built from ../shared/data/coco-mini (real JPEG photos, image paths relative
to the dataset folder), evaluated with the random baseline, an oracle predictions file, the tiny
CLIP model and the openai wire format."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mmrakit.evaluation.datasets import load_eval_dataset
from support.fake_openai import FakeOpenAI
from mmrakit.evaluation.runner import run_eval
from mmrakit.settings import Settings
from test_eval_support import build_tiny_open_clip, coco_mmra_rows, write_parquet

pytestmark = pytest.mark.shared


@pytest.fixture(scope="module")
def coco_sample(shared_data, tmp_path_factory) -> Path:
    """Parquet next to a copy of the images it names (so relative paths resolve against its folder)."""
    root = tmp_path_factory.mktemp("coco-mmra")
    coco = shared_data / "coco-mini"
    rows = coco_mmra_rows(coco, 12)
    for r in rows:
        for col in ("image1", "image2"):
            (root / r[col]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(coco / r[col], root / r[col])
    return write_parquet(root / "mmra-coco.parquet", rows)


def fast() -> Settings:
    s = Settings()
    s.eval.bootstrap_samples = 100
    return s


def test_coco_sample_loads_with_real_jpegs(coco_sample):
    ds = load_eval_dataset(str(coco_sample))
    assert ds.format == "mmra" and len(ds.items) == 12
    assert {it.qa_type for it in ds.items} == {"Choice QA", "True or false QA"}
    assert {it.answer for it in ds.items if it.qa_type == "Choice QA"} >= {"A", "B"}
    assert ds.items[0].images[0].data[:3] == b"\xff\xd8\xff"
    assert {it.level for it in ds.items} == {"entity", "image"}


def test_oracle_predictions_score_100_and_random_is_lower(coco_sample, tmp_path):
    ds = load_eval_dataset(str(coco_sample))
    preds = tmp_path / "oracle.jsonl"
    preds.write_text("\n".join(json.dumps({"id": it.id, "response": f"The answer is ({it.answer})" if
                                           it.qa_type == "Choice QA" else it.answer}) for it in ds.items))
    oracle = run_eval(str(coco_sample), predictions=preds, settings=fast(), out_dir=tmp_path / "oracle")
    assert oracle.summary["overall"]["accuracy"] == 100.0
    assert oracle.summary["levels"]["entity"]["n"] + oracle.summary["levels"]["image"]["n"] == 12
    rnd = run_eval(str(coco_sample), "random", settings=fast(), out_dir=tmp_path / "random")
    assert rnd.summary["overall"]["accuracy"] < 100.0
    md = (tmp_path / "oracle" / "report.md").read_text()
    assert "| NearSameEntity |" in md and "Side by side with MMRA's published IQ results" in md


def test_coco_sample_through_clip_and_openai_wire(coco_sample, tmp_path):
    clip_dir = build_tiny_open_clip(tmp_path / "clip")
    out = run_eval(str(coco_sample), f"clip:local-dir:{clip_dir}", settings=fast(), out_dir=tmp_path / "clip-run")
    assert out.errors == 0 and all(r["extracted"] is not None for r in out.records)
    with FakeOpenAI(lambda body: "Yes") as srv:
        s = fast()
        s.eval.openai_base_url = srv.base_url
        run_eval(str(coco_sample), "openai:m", settings=s, limit=2, out_dir=tmp_path / "oa")
    urls = [c["image_url"]["url"] for c in srv.requests[0]["messages"][0]["content"] if c["type"] == "image_url"]
    assert len(urls) == 2 and all(u.startswith("data:image/jpeg;base64,") for u in urls)
