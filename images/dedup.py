"""`images dedup`: exact, near (perceptual hash) and semantic (CLIP) duplicate groups.

* exact: the same bytes (sha256) seen at several paths/records; they already share one record.
* near: 64-bit pHash Hamming distance <= t between any hash variant of one image (whole frame,
  5%/10% centre crops) and the whole-frame hash of another. Pairs a little further apart (up to
  ``hamming_verify``) count only when ORB keypoints confirm them, which catches crops and recolours
  that move pHash too far (see :mod:`neardup` for the exact faiss / multi-index-hashing search).
* semantic: SemDeDup-style. k-means on the CLIP vectors (k = n / cluster size), then an exact
  cosine self-join inside each cluster only, so the cost grows ~ n * cluster size, not n^2.

Pairs from all tiers are joined into groups (union-find); one image per group is kept by the
keep policy, the others are excluded from building (``ImagePool.excluded``), never deleted.
"""

from __future__ import annotations

import json
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import numpy as np

from pydantic import Field

from mmrakit import atomic
from mmrakit.stage import Progress, StageReport
from mmrakit.workspace import Workspace

from . import neardup
from .neardup import hash_pairs
from .store import ImagePool, to_unsigned64

log = logging.getLogger(__name__)
TIERS = ("exact", "near", "semantic")


# --- near tier -----------------------------------------------------------------------------------

def near_pairs(hashes: np.ndarray, threshold: int, variants: np.ndarray | None = None) -> np.ndarray:
    """Pairs (i < j) within ``threshold`` bits (any variant of one vs the main hash of the other)."""
    pairs, _ = hash_pairs(hashes, threshold, variants)
    return pairs


def near_tier(shas: list[str], H: np.ndarray, threshold: int, verify_radius: int, verifier) -> tuple[list[tuple[int, int]], dict]:
    """Accept pairs within ``threshold``; confirm pairs up to ``verify_radius`` by keypoints."""
    radius = max(threshold, verify_radius)
    if len(shas) >= neardup.FLAT_BINARY_BELOW:
        radius = min(radius, neardup.MIH_MAX_RADIUS)
    pairs, dists = hash_pairs(H[:, 0], radius, H[:, 1:])
    direct = [(int(a), int(b)) for (a, b), d in zip(pairs, dists) if d <= threshold]
    borderline = [(int(a), int(b)) for (a, b), d in zip(pairs, dists) if d > threshold]
    confirmed = [(a, b) for a, b in borderline if verifier.same(shas[a], shas[b])] if borderline else []
    return direct + confirmed, {"radius": radius, "direct": len(direct), "verified": len(borderline), "confirmed": len(confirmed)}


# --- semantic tier ---------------------------------------------------------------------------------

def kmeans_assign(vectors: np.ndarray, k: int, seed: int = 0, niter: int = 10, probes: int = 1) -> np.ndarray:
    """(n, probes) nearest centroid ids per vector, closest first (spherical k-means, sampled training)."""
    import faiss

    n, d = vectors.shape
    k = max(1, min(k, n))
    probes = max(1, min(probes, k))
    if k == 1:
        return np.zeros((n, 1), dtype=np.int64)
    km = faiss.Kmeans(d, k, niter=niter, seed=seed, spherical=True, max_points_per_centroid=64, verbose=False)
    km.train(vectors)
    _, assign = km.index.search(vectors, probes)
    return assign.astype(np.int64)


def cluster_pairs(vectors: np.ndarray, members: np.ndarray, min_sim: float, guests: np.ndarray | None = None,
                  block: int = 4096) -> np.ndarray:
    """Pairs (global indices) with cosine >= min_sim inside one cluster (i < j), plus guest x member pairs."""
    x = vectors[members]
    out = []
    for start in range(0, len(members), block):
        sims = x[start:start + block] @ x.T
        rows, cols = np.nonzero(sims >= min_sim)
        keep = cols > rows + start
        out.append(np.stack([members[rows[keep] + start], members[cols[keep]]], axis=1))
    if guests is not None and len(guests):
        for start in range(0, len(guests), block):
            g = guests[start:start + block]
            rows, cols = np.nonzero(vectors[g] @ x.T >= min_sim)
            out.append(np.stack([g[rows], members[cols]], axis=1))
    return np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)


def _groups_by(labels: np.ndarray) -> dict[int, np.ndarray]:
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    return {int(labels[g[0]]): g for g in np.split(order, bounds) if len(g)}


def semantic_pairs(vectors: np.ndarray, epsilon: float, *, clusters: int | None = None, cluster_size: int = 1000,
                   probes: int = 2, executor: str = "local", seed: int = 0) -> tuple[np.ndarray, dict[str, Any]]:
    """SemDeDup-style pairs with cosine >= 1 - epsilon; returns (pairs, stats).

    Each vector lives in its nearest cluster; with ``probes`` > 1 it is also compared (as a guest)
    with the members of its next-nearest clusters, so near-duplicates split by a cluster boundary
    are still found, at about ``probes`` times the within-cluster cost.
    """
    n = len(vectors)
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64), {"clusters": 0}
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    k = clusters or max(1, round(n / cluster_size))
    t0 = time.monotonic()
    assign = kmeans_assign(x, k, seed=seed, probes=probes)
    t1 = time.monotonic()
    members = _groups_by(assign[:, 0])
    guests: dict[int, list[np.ndarray]] = defaultdict(list)
    for p in range(1, assign.shape[1]):
        for c, g in _groups_by(assign[:, p]).items():
            guests[c].append(g)
    work = [(m, np.concatenate(guests[c]) if guests.get(c) else np.zeros(0, np.int64)) for c, m in sorted(members.items())]
    work = [(m, g) for m, g in work if len(m) > 1 or len(g)]
    min_sim = 1.0 - epsilon - 1e-6
    if executor == "ray":
        pairs = _cluster_pairs_ray(x, work, min_sim)
    else:
        pairs = [cluster_pairs(x, m, min_sim, g) for m, g in work]
    t2 = time.monotonic()
    allp = np.concatenate(pairs) if pairs else np.zeros((0, 2), dtype=np.int64)
    allp = allp[allp[:, 0] != allp[:, 1]] if len(allp) else allp
    allp.sort(axis=1)
    allp = np.unique(allp, axis=0) if len(allp) else allp
    sizes = np.bincount(assign[:, 0])
    return allp, {"clusters": int(k), "probes": int(assign.shape[1]), "largest_cluster": int(sizes.max()),
                  "kmeans_s": round(t1 - t0, 3), "within_cluster_s": round(t2 - t1, 3)}


def _cluster_pairs_ray(x: np.ndarray, work: list[tuple[np.ndarray, np.ndarray]], min_sim: float) -> list[np.ndarray]:
    from .executors import ray_session

    with ray_session() as ray:
        import ray.data

        ref = ray.put(x)

        def fn(batch: dict) -> dict:
            vecs = ray.get(ref)
            out = [cluster_pairs(vecs, np.asarray(m, dtype=np.int64), min_sim, np.asarray(g, dtype=np.int64))
                   for m, g in zip(batch["members"], batch["guests"])]
            pairs = np.concatenate(out) if out else np.zeros((0, 2), dtype=np.int64)
            return {"a": pairs[:, 0], "b": pairs[:, 1]}

        ds = ray.data.from_items([{"members": m.tolist(), "guests": g.tolist()} for m, g in work])
        res = ds.map_batches(fn, batch_size=8, batch_format="numpy")
        return [np.stack([b["a"], b["b"]], axis=1).astype(np.int64) for b in res.iter_batches(batch_format="numpy")
                if len(b["a"])]


# --- groups -----------------------------------------------------------------------------------------

class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, a: int) -> int:
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


class DedupReport(StageReport):
    tiers: list[str]
    images: int = 0
    exact: dict[str, int] = Field(default_factory=dict)
    near: dict[str, Any] = Field(default_factory=dict)
    semantic: dict[str, Any] = Field(default_factory=dict)
    groups: int = 0
    excluded: int = 0
    report_path: str | None = None
    contact_sheet: str | None = None
    seconds: float = 0.0


def keep_order(records: list, policy: str) -> list[int]:
    """Rank of each record for keeping (0 = keep first): resolution, then import order."""
    idx = list(range(len(records)))
    if policy == "first":
        return idx
    return sorted(idx, key=lambda i: (-(records[i].width * records[i].height), i))


def run_dedup(ws: Workspace, *, exact: bool = True, near: bool = True, semantic: bool = True, executor: str | None = None,
              force: bool = False, progress: Progress | None = None) -> DedupReport:
    import hashlib

    from .vectors import EmbeddingStore, read_pointer

    started = time.monotonic()
    cfg = ws.settings.dedup
    executor = executor or ws.settings.execution.executor
    pool = ImagePool(ws)
    changed = pool.changed()
    records = [r for r in pool.records(include_excluded=True) if r.sha256 not in changed]
    shas = [r.sha256 for r in records]
    tiers = [t for t, on in zip(TIERS, (exact, near, semantic)) if on]
    report = DedupReport(tiers=tiers, images=len(records))
    ptr = read_pointer(ws, "clip-image")
    inputs = [{"pool": hashlib.sha256("\n".join(shas).encode()).hexdigest(), "clip": ptr["fingerprint"] if ptr else None}]
    with ws.stage_run("images.dedup", inputs=inputs, settings={"dedup": cfg.model_dump(mode="json"), "tiers": tiers},
                      code_version="images.dedup/1", force=force) as run:
        if run.up_to_date:
            report.__dict__.update({k: v for k, v in run.previous_counts.items() if k in report.__dict__})
            report.up_to_date = True
            return report
        uf = UnionFind(len(shas))
        edge_tiers: dict[int, set[str]] = defaultdict(set)

        def add(pairs: Iterable, tier: str) -> int:
            n = 0
            for a, b in pairs:
                uf.union(int(a), int(b))
                edge_tiers[int(a)].add(tier)
                edge_tiers[int(b)].add(tier)
                n += 1
            return n

        finished = 0

        def tick() -> None:  # one tier done
            nonlocal finished
            finished += 1
            if progress:
                progress("dedup tiers", finished, len(tiers))

        if exact:
            rows = ws.db.execute("SELECT sha256, COUNT(*) FROM images_occurrences GROUP BY sha256 HAVING COUNT(*) > 1").fetchall()
            report.exact = {"images_seen_more_than_once": len(rows), "extra_copies": sum(r[1] - 1 for r in rows)}
            tick()
        if near:
            t0 = time.monotonic()
            hrows = {r[0]: r[1:] for r in ws.db.execute("SELECT sha256, phash, phash_c05, phash_c10 FROM images_hashes")}
            have = [i for i, s in enumerate(shas) if s in hrows]
            H = np.array([[to_unsigned64(v) for v in hrows[shas[i]]] for i in have], dtype=np.uint64).reshape(-1, 3)
            if len(have) > 1:
                from .neardup import KeypointVerifier

                verifier = KeypointVerifier(pool.open, min_inliers=cfg.verify_min_inliers)
                found, stats = near_tier([shas[i] for i in have], H, cfg.hamming_threshold, cfg.hamming_verify, verifier)
            else:
                found, stats = [], {}
            mapped = [(have[a], have[b]) for a, b in found]
            report.near = {"pairs": add(mapped, "near"), "hashed": len(have), "threshold": cfg.hamming_threshold, **stats,
                           "seconds": round(time.monotonic() - t0, 3)}
            tick()
        if semantic:
            emb = EmbeddingStore(ws)
            mask = emb.has("clip-image", shas)
            if not mask.any():
                report.semantic = {"skipped": "no CLIP embeddings (run `mmrakit images embed` with CLIP on)"}
            else:
                t0 = time.monotonic()
                idx = np.flatnonzero(mask)
                vecs = emb.clip_image([shas[i] for i in idx])
                pairs, stats = semantic_pairs(vecs, cfg.semantic_epsilon, clusters=cfg.semantic_clusters,
                                              cluster_size=cfg.semantic_cluster_size, probes=cfg.semantic_probes,
                                              executor=executor)
                report.semantic = {"pairs": add(((idx[a], idx[b]) for a, b in pairs), "semantic"), "embedded": len(idx),
                                   "epsilon": cfg.semantic_epsilon, **stats, "seconds": round(time.monotonic() - t0, 3)}
            tick()
        # groups and keep policy
        members: dict[int, list[int]] = defaultdict(list)
        for i in range(len(shas)):
            members[uf.find(i)].append(i)
        rank = {i: r for r, i in enumerate(keep_order(records, cfg.keep_policy))}
        rows = []
        group_list = []
        for root, ms in members.items():
            if len(ms) < 2:
                continue
            keep = min(ms, key=lambda i: rank[i])
            gid = "dup-" + shas[keep][:16]
            group_list.append((gid, keep, ms))
            for i in ms:
                rows.append((shas[i], gid, int(i == keep), ",".join(sorted(edge_tiers[i]))))
        with ws.db as db:
            db.execute("DELETE FROM images_dedup")
            db.executemany("INSERT INTO images_dedup (sha256, group_id, kept, tiers) VALUES (?, ?, ?, ?)", rows)
        report.groups = len(group_list)
        report.excluded = sum(len(ms) - 1 for _, _, ms in group_list)
        report.seconds = round(time.monotonic() - started, 3)
        out_dir = ws.path("dedup")
        sheet = out_dir / "contact-sheet.png"
        if group_list and cfg.contact_sheet_groups:
            contact_sheet(pool, [(gid, [shas[keep]] + [shas[i] for i in sorted(ms) if i != keep])
                                 for gid, keep, ms in sorted(group_list)[:cfg.contact_sheet_groups]], sheet)
            report.contact_sheet = str(sheet)
        report.report_path = str(out_dir / "report.json")
        full = report.model_dump(mode="json") | {"groups_detail": [
            {"group": gid, "kept": shas[keep], "excluded": [shas[i] for i in sorted(ms) if i != keep],
             "tiers": sorted(set().union(*(edge_tiers[i] for i in ms)))} for gid, keep, ms in sorted(group_list)]}
        atomic.write_text(out_dir / "report.json", json.dumps(full, indent=2))
        run.counts = report.counts()
        run.outputs = {"report": report.report_path, "contact_sheet": report.contact_sheet}
    return report


def contact_sheet(pool: ImagePool, groups: list[tuple[str, list[str]]], target, thumb: int = 128, max_per_row: int = 6) -> None:
    """One row per group: the kept image (green frame) then the excluded ones (red frame)."""
    from PIL import Image, ImageDraw

    pad, label_h = 6, 16
    rows = len(groups)
    width = pad + max_per_row * (thumb + pad)
    height = pad + rows * (thumb + label_h + pad)
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for r, (gid, members) in enumerate(groups):
        y = pad + r * (thumb + label_h + pad)
        draw.text((pad, y), f"{gid} ({len(members)} images)", fill=(0, 0, 0))
        for c, sha in enumerate(members[:max_per_row]):
            x = pad + c * (thumb + pad)
            try:
                img = pool.open(sha)
                img.thumbnail((thumb - 6, thumb - 6))
            except Exception:  # noqa: BLE001 - a missing file leaves a grey tile
                img = Image.new("RGB", (thumb - 6, thumb - 6), (200, 200, 200))
            frame = (30, 160, 60) if c == 0 else (200, 40, 40)
            draw.rectangle([x, y + label_h, x + thumb - 1, y + label_h + thumb - 1], outline=frame, width=3)
            sheet.paste(img, (x + 3 + (thumb - 6 - img.width) // 2, y + label_h + 3 + (thumb - 6 - img.height) // 2))
    with atomic.atomic_path(target, suffix=".png") as tmp:
        sheet.save(tmp, "PNG")
