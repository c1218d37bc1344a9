"""The annotator's model sources, for wiring only (their labels are scripted, never judged for precision):
a VLM through an OpenAI-compatible endpoint (the scripted test server) with bounded concurrency,
retries and the response cache; a local HF VLM (tiny random-weight Qwen2-VL); CLIP zero-shot with the
tiny random-init open_clip; and a Mantis-style source without captions or boxes that yields candidates
in every subtask once an annotator model describes its images."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mmrakit.builders import build
from mmrakit.images import ImagePool
from mmrakit.images.annotate import AttributeStore, parse_vlm, run_annotate
from mmrakit.images.embed import run_embed
from mmrakit.images.importer import import_images
from mmrakit.modelhub.openai import data_url_for
from mmrakit.records import CandidateStore
from mmrakit.relations import bundled_subset
from mmrakit.relations.ingest import ingest
from mmrakit.subtasks import mmra_subtasks
from mmrakit.workspace import Workspace

from fixtures_images import build_tiny_clip, jpeg_bytes, photo, use_tiny_clip  # noqa: E402
from tests.support.fake_openai import FakeOpenAI  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
PACK = REPO / "demo" / "relations" / "mmrakit-coco-pack.tsv"


def image_of(body: dict) -> str:
    for m in body["messages"]:
        if isinstance(m["content"], list):
            for c in m["content"]:
                if c.get("type") == "image_url":
                    return c["image_url"]["url"]
    raise AssertionError("no image in the request")


def _folder(tmp_path: Path, n: int) -> Path:
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(n):
        (folder / f"p{i}.jpg").write_bytes(jpeg_bytes(photo(i, (160, 120))))
    return folder


def test_parse_vlm_keeps_only_the_vocabulary() -> None:
    text = 'Sure! {"scene": "kitchen", "indoor": "indoor", "shot": "zoomed", "emotion": ["calm", "bliss"],' \
           ' "activity": "cut|cake", "caption": "A cake on a table.", "objects": [{"name": "cake", "box": [0.1, 0.2, 0.3, 0.4]},' \
           ' {"name": "knife", "box": [2, 0, 1, 1]}, "fork"]} thanks'
    got = {(a.name, a.value) for a in parse_vlm(text)}
    assert ("scene", "kitchen") in got and ("indoor", "indoor") in got and ("emotion", "calm") in got
    assert ("activity", "cut|cake") in got and ("caption", "A cake on a table.") in got
    assert ("object", "cake|0.1000,0.2000,0.3000,0.4000") in got and ("object", "knife|") in got and ("object", "fork|") in got
    assert not any(v in ("zoomed", "bliss") for _, v in got)
    assert parse_vlm("no json here") == [] and parse_vlm("{broken") == []


def test_vlm_source_through_an_openai_compatible_endpoint(workspace: Workspace, tmp_path: Path) -> None:
    folder = _folder(tmp_path, 6)
    import_images(workspace, str(folder), "folder")
    pool = ImagePool(workspace)
    s = workspace.settings.annotate
    urls = {data_url_for(pool.image_path(sha), s.max_image_side): sha for sha in pool.shas()}
    order = sorted(urls.values())

    def answer(body: dict) -> str:
        i = order.index(urls[image_of(body)])
        return json.dumps({"scene": "beach" if i % 2 else "kitchen", "indoor": "outdoor" if i % 2 else "indoor",
                           "shot": "wide", "caption": f"photo number {i}", "objects": [{"name": "dog", "box": [0.1, 0.1, 0.5, 0.5]}]})

    with FakeOpenAI(answer, latency_s=0.05) as srv:
        s.sources, s.vlm_url, s.vlm_model, s.concurrency, s.max_retries = ["vlm"], srv.base_url, "scripted", 2, 3
        workspace.save_settings()
        srv.faults = ["500", "429"]  # the first two calls fail, retries recover
        report = run_annotate(workspace)
        assert report.annotated == {"vlm": 6} and report.failed == {"vlm": 0}
        assert srv.hits == 8 and srv.max_in_flight <= 2
        assert all(r["model"] == "scripted" and r["temperature"] == 0.0 for r in srv.requests)
        store = AttributeStore(workspace)
        for i, sha in enumerate(order):
            attrs = store.get(sha).attributes
            assert {a.source for a in attrs} == {"vlm"}
            assert ("scene", "beach" if i % 2 else "kitchen") in {(a.name, a.value) for a in attrs}
            assert ("caption", f"photo number {i}") in {(a.name, a.value) for a in attrs}
        # cached: a forced re-run asks the server nothing, a new prompt version would
        hits = srv.hits
        again = run_annotate(workspace, force=True)
        assert again.annotated == {"vlm": 6} and srv.hits == hits
    # the build's pool sees the model's captions and boxes for images without their own
    from mmrakit.builders.pipeline import open_context

    ingest(workspace, bundled_subset())
    ctx = open_context(workspace)
    im = ctx.pool[order[0]]
    assert im.captions == ["photo number 0"] and [e.text for e in im.objects()] == ["dog"]


def test_vlm_source_without_an_endpoint_is_a_clear_error(workspace: Workspace, tmp_path: Path) -> None:
    from mmrakit.errors import ConfigError

    import_images(workspace, str(_folder(tmp_path, 1)), "folder")
    with pytest.raises(ConfigError, match="vlm_url"):
        run_annotate(workspace, sources=["vlm"])


@pytest.mark.slow
def test_local_hf_vlm_source_runs_the_tiny_qwen2vl(workspace: Workspace, tmp_path: Path) -> None:
    from test_eval_support import build_tiny_qwen2vl

    model = build_tiny_qwen2vl(tmp_path / "tiny-qwen2vl")
    import_images(workspace, str(_folder(tmp_path, 2)), "folder")
    s = workspace.settings.annotate
    s.sources, s.vlm_backend, s.vlm_model = ["vlm"], "hf", str(model)
    s.max_image_side = 64
    workspace.save_settings()
    report = run_annotate(workspace)
    # random weights answer junk: every image is asked, nothing outside the vocabulary is stored
    assert report.annotated == {"vlm": 2} and report.failed == {"vlm": 0}
    from mmrakit.images.perception import vocab

    allowed = set(vocab()["scenes"])
    for attrs in AttributeStore(workspace).all().values():
        assert all(a.value in allowed for a in attrs.attributes if a.name == "scene")
    again = run_annotate(workspace, force=True)  # from the response cache
    assert again.annotated == {"vlm": 2}


def test_clip_zero_shot_source_with_the_tiny_open_clip(workspace: Workspace, tmp_path: Path) -> None:
    clip = build_tiny_clip(tmp_path / "tiny-clip")
    use_tiny_clip(workspace, clip)
    import_images(workspace, str(_folder(tmp_path, 4)), "folder")
    run_embed(workspace, clip=True, captions=False)
    report = run_annotate(workspace, sources=["clip"])
    assert report.annotated == {"clip": 4}
    from mmrakit.images.annotate import prompts

    sets = prompts()["clip"]
    for attrs in AttributeStore(workspace).all().values():
        for a in attrs.attributes:
            assert a.source == "clip" and a.value in sets[a.name]["labels"] and 0 < a.confidence <= 1


@pytest.mark.slow
def test_mantis_source_without_captions_yields_every_subtask_with_an_annotator_model(shared_data, tmp_path: Path) -> None:
    """Wiring: Mantis-style multi-image conversations carry no captions and no boxes; a (scripted) VLM
    describes each image (captions, boxed objects, scene, state) and every MMRA subtask yields."""
    coco = shared_data / "coco-mini"
    ann = json.loads((coco / "annotations" / "instances_train2017.json").read_text())
    caps = json.loads((coco / "annotations" / "captions_train2017.json").read_text())
    cats = {c["id"]: c["name"] for c in ann["categories"]}
    images = sorted(ann["images"], key=lambda i: i["file_name"])
    records = [{"id": f"conv{k}", "images": [str(coco / "train2017" / a["file_name"]), str(coco / "train2017" / b["file_name"])],
                "conversation": [{"role": "user", "content": "<image><image> What differs?"},
                                 {"role": "assistant", "content": "The second one is brighter."}]}
               for k, (a, b) in enumerate(zip(images[::2], images[1::2]))]
    src = tmp_path / "mantis.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in records))
    ws = Workspace.init(tmp_path / "ws")
    ingest(ws, bundled_subset())
    ingest(ws, PACK, format="pack")
    import_images(ws, str(src), "mantis")
    pool = ImagePool(ws)
    assert all(not r.captions and not r.objects for r in pool.records())
    empty = build(ws, subtasks="all", per_subtask=4, seed=0)
    assert sum(s["kept"] for s in empty["subtasks"]) == 0  # nothing to go on without an annotator

    s = ws.settings.annotate
    by_url = {}
    for img in images:
        path = coco / "train2017" / img["file_name"]
        sha = next(r.sha256 for r in pool.records() if Path(r.path).name == img["file_name"])
        w, h = img["width"], img["height"]
        objs = [{"name": cats[a["category_id"]], "box": [round(a["bbox"][0] / w, 4), round(a["bbox"][1] / h, 4),
                                                         round(min(a["bbox"][2] / w, 1 - a["bbox"][0] / w), 4),
                                                         round(min(a["bbox"][3] / h, 1 - a["bbox"][1] / h), 4)]}
                for a in ann["annotations"] if a["image_id"] == img["id"] and not a.get("iscrowd")]
        has_subject = any(o["name"] in ("person", "dog", "cat", "horse", "bird") for o in objs)
        biggest = max((o["box"][2] * o["box"][3] for o in objs), default=0.0)  # a scripted shot distance (wiring only)
        shot = "close_up" if biggest >= 0.45 else "wide" if biggest <= 0.05 else "medium"
        by_url[data_url_for(path, s.max_image_side)] = {
            "caption": [c["caption"] for c in caps["annotations"] if c["image_id"] == img["id"]], "objects": objs,
            "emotion": (["calm"] if img["id"] % 2 else ["joyful"]) if has_subject else [], "shot": shot, "sha": sha,
            # one indoor/outdoor side per half of the pool, so a SubEvent "No" partner can share something of the scene
            "indoor": "outdoor" if img["id"] % 2 else "indoor",
            # a shared activity and one of each photo alone, so a SimilarEvent item needs both photos
            "activity": (["play|frisbee", ["read|book", "ride|bicycle", "eat|"][img["id"] % 3]]) if has_subject else []}

    with FakeOpenAI(lambda body: json.dumps({k: v for k, v in by_url[image_of(body)].items() if k != "sha"})) as srv:
        s.sources, s.vlm_url, s.vlm_model, s.concurrency = ["vlm"], srv.base_url, "scripted", 8
        ws.save_settings()
        report = run_annotate(ws)
        assert report.annotated == {"vlm": 80} and report.failed == {"vlm": 0}
    built = build(ws, subtasks="all", per_subtask=6, seed=0, force=True)
    kept = {x["task"]: x["kept"] for x in built["subtasks"]}
    assert set(kept) == set(mmra_subtasks())
    assert all(n > 0 for n in kept.values()), str(kept)
    # the evidence says where captions/attributes came from
    store = AttributeStore(ws)
    for c in CandidateStore(ws).list(task="Environment"):
        for side in ("attributes1", "attributes2"):
            assert {a["source"] for a in c.evidence.notes.get(side, [])} <= {"vlm"}
    assert all(a.source == "vlm" for attrs in store.all().values() for a in attrs.attributes)
    ws.close()
