"""Embeddings (real open_clip load paths with a tiny random-init model, real MiniLM), resumability, search, Ray."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mmrakit.cli.main import app
from mmrakit.images import ImagePool
from mmrakit.images.embed import run_embed
from mmrakit.images.vectors import EmbeddingStore
from mmrakit.images.importer import import_images
from mmrakit.images.search import caption_pairs_in_band, search_like, search_text
from mmrakit.workspace import Workspace

sys.path.insert(0, str(Path(__file__).parent))
from fixtures_images import build_tiny_clip, jpeg_bytes, photo, use_tiny_clip  # noqa: E402

runner = CliRunner()
REPO = Path(__file__).resolve().parents[1]
CAPTIONS = ["a dog running on the beach", "a puppy playing on the sand", "a plate of pasta on a table",
            "spaghetti served in a bowl", "a red car parked on a street", "an old truck on the road"]


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory) -> dict[str, Path]:
    return build_tiny_clip(tmp_path_factory.getbasetemp() / "tiny-clip")


def make_pool(ws: Workspace, root: Path, n: int, captions: bool = True) -> list[str]:
    folder = root / "pool"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"img{i:03d}.jpg").write_bytes(jpeg_bytes(photo(100 + i, (64 + i % 5 * 8, 48))))
        if captions:
            (folder / f"img{i:03d}.txt").write_text(CAPTIONS[i % len(CAPTIONS)] + "\n")
    import_images(ws, str(folder), "folder")
    return ImagePool(ws).shas()


def test_checkpoint_file_and_local_dir_load_the_same_weights(workspace: Workspace, tmp_path: Path, tiny_clip) -> None:
    shas = make_pool(workspace, tmp_path, 8, captions=False)
    use_tiny_clip(workspace, tiny_clip)
    r1 = run_embed(workspace, captions=False)
    assert r1.clip_images == 8 and r1.clip_cached == 0 and r1.indexes["clip-image"]["type"] == "flat"
    a = EmbeddingStore(workspace).clip_image(shas)
    assert a.shape == (8, 32) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    use_tiny_clip(workspace, tiny_clip, local_dir=True)
    r2 = run_embed(workspace, captions=False)
    assert r2.clip_fingerprint != r1.clip_fingerprint  # a different model spec never mixes with the old cache
    b = EmbeddingStore(workspace).clip_image(shas)
    assert np.allclose(a, b, atol=1e-5)
    # concept texts were embedded with the template; clip_text lives in the same space
    emb = EmbeddingStore(workspace)
    t = emb.clip_text(["a photo of a dog", "a photo of a cat"])
    assert t.shape == (2, 32) and not np.allclose(t[0], t[1])
    # unchanged pool: the stage is a no-op
    assert run_embed(workspace, captions=False).up_to_date


def test_kill_9_mid_run_then_rerun_has_no_duplicates_and_no_loss(workspace: Workspace, tmp_path: Path, tiny_clip) -> None:
    shas = make_pool(workspace, tmp_path, 40, captions=False)
    use_tiny_clip(workspace, tiny_clip, shard_size=4, num_workers=1)  # decoding in a DataLoader worker process
    workspace.settings.clip.batch_size = 4
    workspace.save_settings()
    script = (
        "import sys, time\n"
        "from mmrakit.workspace import Workspace\n"
        "from mmrakit.images.embed import run_embed\n"
        "ws = Workspace.open(sys.argv[1])\n"
        "run_embed(ws, captions=False, progress=lambda task, done, total: time.sleep(0.4))\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script, str(workspace.root)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shard_dir = workspace.path("embeddings", "clip-image")
    deadline = time.monotonic() + 180
    try:
        while time.monotonic() < deadline:
            if len(list(shard_dir.rglob("shard-*.npz"))) >= 3:
                break
            assert proc.poll() is None, "the embed run ended before it could be killed"
            time.sleep(0.1)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    written_before = len(list(shard_dir.rglob("shard-*.npz")))
    assert 3 <= written_before < 10  # killed mid-run
    report = run_embed(workspace, captions=False)
    assert report.clip_cached >= 12 and report.clip_images == 40
    keys: list[str] = []
    for f in sorted(shard_dir.rglob("shard-*.npz")):
        with np.load(f) as z:
            keys += z["keys"].tolist()
    assert len(keys) == len(set(keys)) == 40 and set(keys) == set(shas)
    # identical to a clean, uninterrupted run
    clean = Workspace.init(tmp_path / "clean")
    make_pool(clean, tmp_path / "clean-src", 40, captions=False)
    use_tiny_clip(clean, tiny_clip, shard_size=4)
    run_embed(clean, captions=False)
    assert np.allclose(EmbeddingStore(workspace).clip_image(shas), EmbeddingStore(clean).clip_image(shas), atol=1e-5)


def test_clip_none_keeps_real_minilm_captions_and_band_pairs(workspace: Workspace, tmp_path: Path) -> None:
    shas = make_pool(workspace, tmp_path, 12)
    res = runner.invoke(app, ["images", "embed", "--clip", "none", "-w", str(workspace.root), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["clip"] == "off" and out["caption_images"] == 12 and "caption" in out["indexes"]
    emb = EmbeddingStore(workspace)
    assert emb.clip_image(shas) is None
    workspace.settings.clip.enabled = False
    assert emb.clip_text(["a dog"]) is None
    cap = emb.caption(shas)
    assert cap.shape == (12, 384) and np.allclose(np.linalg.norm(cap, axis=1), 1.0, atol=1e-5)
    sim = cap @ cap.T
    assert sim[0, 1] > sim[0, 2] + 0.2  # dog/beach vs puppy/sand beats dog vs pasta (real MiniLM semantics)
    pairs = caption_pairs_in_band(workspace, 0.3, 0.95, k=11)
    assert pairs and all(0.3 <= s <= 0.95 and a < b for a, b, s in pairs)
    assert [s for _, _, s in pairs] == sorted((s for _, _, s in pairs), reverse=True)
    exact = {(min(shas[i], shas[j]), max(shas[i], shas[j])) for i in range(12) for j in range(i + 1, 12)
             if 0.3 <= sim[i, j] <= 0.95}
    assert {(a, b) for a, b, _ in pairs} == exact  # k covers the pool, so the band is complete
    res = runner.invoke(app, ["images", "search", "--caption-band", "0.3,0.95", "-w", str(workspace.root), "--json"])
    assert res.exit_code == 0 and len(json.loads(res.stdout)) == len(pairs)


def test_named_weights_offline_fail_with_options(tmp_path: Path) -> None:
    ws = Workspace.init(tmp_path / "w")
    ws.settings.clip.model, ws.settings.clip.pretrained = "ViT-B-32", "openai"
    ws.save_settings()
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.run([sys.executable, "-m", "mmrakit.cli.main", "images", "embed", "--no-captions", "-w", str(ws.root)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "not reachable offline" in proc.stderr and "--clip none" in proc.stderr and "local-dir:" in proc.stderr


def test_search_text_like_and_excluded(workspace: Workspace, tmp_path: Path, tiny_clip) -> None:
    shas = make_pool(workspace, tmp_path, 10, captions=False)
    use_tiny_clip(workspace, tiny_clip)
    workspace.settings.index.exact_below = 5  # force the approximate (HNSW) index
    workspace.save_settings()
    report = run_embed(workspace, captions=False)
    assert report.indexes["clip-image"]["type"] == "hnsw"
    hits = search_text(workspace, "a photo of a dog", k=4)
    assert len(hits) == 4 and [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    like = search_like(workspace, shas[0][:12], k=3)
    assert shas[0] not in {h.sha256 for h in like}
    vecs = EmbeddingStore(workspace).clip_image(shas)
    best = max((i for i in range(1, 10)), key=lambda i: float(vecs[0] @ vecs[i]))
    assert like[0].sha256 == shas[best]
    # an image file outside the pool also works
    f = tmp_path / "query.jpg"
    f.write_bytes(jpeg_bytes(photo(100, (64, 48))))  # identical bytes to img000 -> nearest is itself... excluded
    res = runner.invoke(app, ["images", "search", "--like", str(f), "-k", "2", "-w", str(workspace.root), "--json"])
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)) == 2
    # dedup-excluded images never come back from search
    with workspace.db as db:
        db.execute("INSERT INTO images_dedup (sha256, group_id, kept, tiers) VALUES (?, 'g', 0, 'near')", (shas[best],))
        db.execute("INSERT INTO images_dedup (sha256, group_id, kept, tiers) VALUES (?, 'g', 1, 'near')", (shas[0],))
    assert shas[best] not in {h.sha256 for h in search_like(workspace, shas[0], k=9)}
    assert shas[best] not in set(ImagePool(workspace).shas())


def test_tensor_decode_path_matches_pil_preprocessing(tmp_path: Path, tiny_clip) -> None:
    """The GPU decode path (torchvision decode_jpeg + tensor resize/crop) runs here on CPU."""
    import torch

    from mmrakit.images.decode import decode_on_device
    from mmrakit.modelhub.clip import ClipSpec, load_clip
    from mmrakit.images.validate import open_rgb

    bundle = load_clip(ClipSpec(str(tiny_clip["config"]), str(tiny_clip["checkpoint"]), "cpu", "fp32"))
    data = jpeg_bytes(photo(3, (160, 120)), quality=95)
    a = decode_on_device([np.frombuffer(data, np.uint8).copy()], "cpu", bundle.image_size, bundle.mean, bundle.std)
    b = bundle.preprocess(open_rgb(data))[None]
    assert a.shape == b.shape
    assert float((a - b).abs().mean()) < 0.05
    with torch.inference_mode():
        va, vb = (torch.nn.functional.normalize(bundle.model.encode_image(x), dim=-1) for x in (a, b))
    assert float((va * vb).sum()) > 0.99


def test_changed_file_found_at_embed_time(workspace: Workspace, tmp_path: Path, tiny_clip) -> None:
    shas = make_pool(workspace, tmp_path, 4, captions=False)
    use_tiny_clip(workspace, tiny_clip)
    victim = ImagePool(workspace).image_path(shas[1])
    victim.write_bytes(jpeg_bytes(photo(555)))
    report = run_embed(workspace, captions=False)
    assert report.clip_failed == {"changed": 1}
    assert shas[1] in ImagePool(workspace).changed()
    assert not EmbeddingStore(workspace).has("clip-image", [shas[1]])[0]


@pytest.mark.slow
def test_ray_executor_gives_identical_outputs(tmp_path: Path, tiny_clip) -> None:
    pytest.importorskip("ray")
    outs = {}
    for executor in ("local", "ray"):
        ws = Workspace.init(tmp_path / executor)
        shas = make_pool(ws, tmp_path / f"src-{executor}", 12, captions=False)
        use_tiny_clip(ws, tiny_clip, shard_size=5)
        report = run_embed(ws, captions=False, executor=executor)
        assert report.executor == executor and report.clip_images == 12
        outs[executor] = EmbeddingStore(ws).clip_image(shas)
    assert np.allclose(outs["local"], outs["ray"], atol=1e-6)
