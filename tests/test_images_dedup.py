"""Deduplication: injected near-duplicates of real photos (100% recall, no merges), keep policy,
exclusion without deletion, report + contact sheet, faiss multi-hash path, SemDeDup-style semantic tier."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance
from typer.testing import CliRunner

from mmrakit.cli.main import app
from mmrakit.images import ImagePool
from mmrakit.images import neardup
from mmrakit.images.dedup import near_pairs, run_dedup, semantic_pairs
from mmrakit.images.importer import import_images
from mmrakit.workspace import Workspace

runner = CliRunner()


def _jpeg(img: Image.Image, q: int = 90) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=q)
    return buf.getvalue()


def _crop(img: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = img.size
    return img.crop((int(w * left), int(h * top), w - int(w * right), h - int(h * bottom)))


def _tint(img: Image.Image) -> Image.Image:
    a = np.asarray(img).astype(float) * np.array([1.1, 1.0, 0.85])
    return Image.fromarray(a.clip(0, 255).astype("uint8"))


TRANSFORMS = {
    "reencoded": lambda im: im,  # saved at quality 50 below
    "resized": lambda im: im.resize((im.width // 2, im.height // 2), Image.LANCZOS),
    "cropped": lambda im: _crop(im, 0.03, 0.03, 0.03, 0.03),
    "cropped-side": lambda im: _crop(im, 0.03, 0.0, 0.0, 0.02),
    "desaturated": lambda im: ImageEnhance.Color(im).enhance(0.6),
    "channel-swap": lambda im: Image.merge("RGB", im.split()[::-1]),
    "tinted": _tint,
    "brighter": lambda im: ImageEnhance.Brightness(im).enhance(1.1),
}


@pytest.fixture(scope="module")
def injected(tmp_path_factory, shared_data: Path) -> tuple[Path, dict[str, str]]:
    """Every coco-mini photo, plus transformed copies of the first 20; returns (folder, copy name -> original name)."""
    folder = tmp_path_factory.mktemp("injected")
    photos = sorted((shared_data / "coco-mini").glob("*2017/*.jpg"))
    truth: dict[str, str] = {}
    kinds = list(TRANSFORMS)
    for k, src in enumerate(photos):
        name = f"a-{src.stem}.jpg"
        shutil.copy(src, folder / name)
        if k < 20:
            im = Image.open(src).convert("RGB")
            for kind in (kinds[k % len(kinds)], kinds[(k + 3) % len(kinds)]):
                copy = f"b-{src.stem}-{kind}.jpg"
                (folder / copy).write_bytes(_jpeg(TRANSFORMS[kind](im), 50 if kind == "reencoded" else 88))
                truth[copy] = name
    return folder, truth


@pytest.mark.shared
def test_injected_duplicates_full_recall_no_merges_keep_policy(workspace: Workspace, injected) -> None:
    folder, truth = injected
    report = import_images(workspace, str(folder), "folder")
    assert report.quarantined == {}
    res = runner.invoke(app, ["images", "dedup", "--near", "--exact", "-w", str(workspace.root), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    pool = ImagePool(workspace)
    name = {r.sha256: Path(r.path).name for r in pool.records(include_excluded=True)}
    groups: dict[str, set[str]] = {}
    for sha, n in name.items():
        gid = pool.duplicate_group(sha)
        if gid:
            groups.setdefault(gid, set()).add(n)
    expected: dict[str, set[str]] = {}
    for copy, original in truth.items():
        expected.setdefault(original, {original}).add(copy)
    assert sorted(map(sorted, groups.values())) == sorted(map(sorted, expected.values()))  # 100% recall, no merges
    assert out["groups"] == 20 and out["excluded"] == len(truth)
    # borderline pairs went through keypoint verification: copies confirmed, distinct photos rejected
    assert 0 < out["near"]["confirmed"] < out["near"]["verified"]
    # keep policy: highest resolution, then first imported -> the original every time
    kept = {name[s] for s in name if pool.duplicate_group(s) and s not in pool.excluded()}
    assert kept == set(expected)
    # excluded from building, never deleted
    assert {name[s] for s in pool.excluded()} == set(truth)
    assert all(pool.image_path(s).is_file() for s in pool.excluded())
    assert len(list(pool.records())) == len(name) - len(truth)
    # report + contact sheet
    rep = json.loads(workspace.path("dedup", "report.json").read_text())
    assert len(rep["groups_detail"]) == 20 and all(g["tiers"] == ["near"] for g in rep["groups_detail"])
    sheet = Image.open(workspace.path("dedup", "contact-sheet.png"))
    assert sheet.format == "PNG" and sheet.height > 128
    res = runner.invoke(app, ["images", "stats", "-w", str(workspace.root), "--json"])
    stats = json.loads(res.stdout)
    assert stats["duplicate_groups"] == 20 and stats["excluded"] == len(truth) and stats["images"] == len(name)


def test_exact_tier_counts_repeated_bytes(workspace: Workspace, tmp_path: Path) -> None:
    d = tmp_path / "x"
    d.mkdir()
    rng = np.random.default_rng(0)
    data = _jpeg(Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)))
    (d / "one.jpg").write_bytes(data)
    (d / "two.jpg").write_bytes(data)
    rep = import_images(workspace, str(d), "folder")
    assert rep.accepted == 2 and rep.new_images == 1 and rep.exact_duplicates == 1
    out = run_dedup(workspace, exact=True, near=False, semantic=False)
    assert out.exact == {"images_seen_more_than_once": 1, "extra_copies": 1}
    assert len(ImagePool(workspace)) == 1


def _planted_hashes(n: int, n_dup: int, max_flip: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    h = rng.integers(0, 2**63, n, dtype=np.int64).astype(np.uint64) * np.uint64(2) + rng.integers(0, 2, n).astype(np.uint64)
    truth = set()
    for k in range(n_dup):
        i, j = 2 * k, 2 * k + 1
        flips = rng.choice(64, size=rng.integers(0, max_flip + 1), replace=False)
        v = int(h[i])
        for b in flips:
            v ^= 1 << int(b)
        h[j] = np.uint64(v)
        truth.add((i, j))
    return h, truth


def test_near_pairs_flat_and_multihash_agree(monkeypatch) -> None:
    h, truth = _planted_hashes(5000, 200, 8)
    flat = {tuple(p) for p in near_pairs(h, 8).tolist()}
    assert truth <= flat
    monkeypatch.setattr(neardup, "FLAT_BINARY_BELOW", 100)  # force multi-index hashing
    multi = {tuple(p) for p in near_pairs(h, 8).tolist()}
    assert multi == flat


def _planted_vectors(n: int, n_dup: int, d: int = 64, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    truth = set()
    for k in range(n_dup):
        i, j = 2 * k, 2 * k + 1
        y = x[i] + rng.normal(scale=0.01, size=d).astype(np.float32)
        x[j] = y / np.linalg.norm(y)
        truth.add((i, j))
    return x, truth


def test_semantic_pairs_find_planted_duplicates_within_clusters() -> None:
    x, truth = _planted_vectors(3000, 60)
    recall = {}
    for probes in (1, 2):
        pairs, stats = semantic_pairs(x, 0.02, cluster_size=300, probes=probes)
        assert stats["clusters"] == 10 and stats["probes"] == probes
        found = {tuple(p) for p in pairs.tolist()}
        assert all(float(x[a] @ x[b]) >= 0.98 - 1e-5 for a, b in found)  # nothing below the threshold
        assert found <= truth  # random distinct vectors never merge
        recall[probes] = len(found & truth) / len(truth)
    assert recall[1] >= 0.8  # plain SemDeDup misses only pairs split across clusters
    assert recall[2] == 1.0 and recall[2] >= recall[1]


@pytest.mark.slow
def test_semantic_per_cluster_step_on_ray_is_identical() -> None:
    pytest.importorskip("ray")
    x, _ = _planted_vectors(600, 30)
    local, _ = semantic_pairs(x, 0.02, cluster_size=100)
    ray_pairs, _ = semantic_pairs(x, 0.02, cluster_size=100, executor="ray")
    assert np.array_equal(local, ray_pairs)


def test_semantic_tier_end_to_end_with_clip_vectors(workspace: Workspace, tmp_path: Path) -> None:
    """run_dedup reads the CLIP cache; two images given (near-)identical vectors are grouped."""
    from mmrakit.images.vectors import shard_store, write_pointer

    d = tmp_path / "imgs"
    d.mkdir()
    rng = np.random.default_rng(1)
    for i in range(6):
        Image.fromarray(rng.integers(0, 255, (40 + i * 10, 60, 3), dtype=np.uint8)).save(d / f"{i}.png")
    import_images(workspace, str(d), "folder")
    pool = ImagePool(workspace)
    shas = pool.shas()
    x, _ = _planted_vectors(6, 0, d=16)
    x[1] = x[4] + 0.001
    x[1] /= np.linalg.norm(x[1])
    shard_store(workspace, "clip-image", "manualfp").write(shas, x)
    write_pointer(workspace, "clip-image", {"fingerprint": "manualfp", "spec": {}, "dim": 16})
    out = run_dedup(workspace, exact=False, near=False, semantic=True)
    assert out.semantic["pairs"] == 1 and out.groups == 1
    recs = {r.sha256: r for r in pool.records(include_excluded=True)}
    kept = max((shas[1], shas[4]), key=lambda s: recs[s].width * recs[s].height)
    assert pool.excluded() == {shas[1], shas[4]} - {kept}
