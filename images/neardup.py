"""Pairs of 64-bit hashes within a Hamming radius, and keypoint verification of borderline pairs.

Small pools use faiss's exact binary index. Large pools use multi-index hashing: the 64 bits
are cut into 3 chunks of ~21 bits, and by pigeonhole any pair within radius r agrees on some
chunk up to r // 3 flipped bits; those chunk neighbours are looked up in a direct-address table,
so the work grows with n (times the few hundred flip masks), not with n^2.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

FLAT_BINARY_BELOW = 100_000
CHUNKS = ((0, 21), (21, 42), (42, 64))  # bit ranges [lo, hi) counted from the least significant bit
MIH_MAX_RADIUS = 8  # 3 chunks x (2 flips + 1) - 1: beyond this the mask count explodes


def popcount64(x: np.ndarray) -> np.ndarray:
    return np.bitwise_count(x.astype(np.uint64)).astype(np.int64)


def _flip_masks(bits: int, max_flips: int) -> np.ndarray:
    masks = [0]
    for k in range(1, max_flips + 1):
        for combo in combinations(range(bits), k):
            m = 0
            for b in combo:
                m |= 1 << b
            masks.append(m)
    return np.array(masks, dtype=np.uint64)


def flat_pairs(index: np.ndarray, queries: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """(query row, index row) with distance <= radius, by faiss brute force."""
    import faiss

    from .hashing import to_codes

    idx = faiss.IndexBinaryFlat(64)
    idx.add(to_codes(index))
    qs, js = [], []
    step = 65_536
    qcodes = to_codes(queries)
    for start in range(0, len(queries), step):
        lims, D, I = idx.range_search(qcodes[start:start + step], radius + 1)  # strict: d < radius + 1
        qs.append(np.repeat(np.arange(start, start + len(qcodes[start:start + step])), np.diff(lims).astype(np.int64)))
        js.append(I.astype(np.int64))
    return (np.concatenate(qs), np.concatenate(js)) if qs else (np.zeros(0, np.int64), np.zeros(0, np.int64))


def _mih_chunk(index: np.ndarray, queries: np.ndarray, radius: int, lo: int, hi: int, per_chunk: int
               ) -> tuple[np.ndarray, np.ndarray]:
    bits = hi - lo
    mask_all = np.uint64((1 << bits) - 1)
    vals = ((index >> np.uint64(lo)) & mask_all).astype(np.int32)
    order = np.argsort(vals, kind="stable").astype(np.int64)
    index_sorted = index[order]  # bucket-ordered copy: candidate reads become (nearly) sequential
    counts = np.bincount(vals, minlength=1 << bits).astype(np.int32)
    present = counts > 0  # 1 byte per bucket: the hot lookup stays cache-friendly
    offsets = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
    qvals = ((queries >> np.uint64(lo)) & mask_all).astype(np.int32)
    qorder = np.argsort(qvals, kind="stable")  # sorted keys: the table is walked nearly in order
    qsorted = qvals[qorder]
    qfull = queries[qorder]
    out_q, out_j = [], []
    for m in _flip_masks(bits, per_chunk).astype(np.int32):
        keys = qsorted ^ m
        hit = np.flatnonzero(present[keys])
        if not len(hit):
            continue
        hk = keys[hit]
        start = offsets[hk]
        # every hit bucket's first entry (most buckets hold one hash) ...
        d = popcount64(qfull[hit] ^ index_sorted[start])
        ok = d <= radius
        out_q.append(qorder[hit[ok]])
        out_j.append(order[start[ok]])
        # ... then the further entries of buckets holding several
        c = counts[hk]
        multi = np.flatnonzero(c > 1)
        if len(multi):
            extra = (c[multi] - 1).astype(np.int64)
            h2 = np.repeat(hit[multi], extra)
            pos = np.repeat(start[multi] + 1 - np.concatenate([[0], np.cumsum(extra)[:-1]]), extra) + np.arange(len(h2))
            d2 = popcount64(qfull[h2] ^ index_sorted[pos])
            ok2 = d2 <= radius
            out_q.append(qorder[h2[ok2]])
            out_j.append(order[pos[ok2]])
    if not out_q:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(out_q), np.concatenate(out_j)


def mih_pairs(index: np.ndarray, queries: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray]:
    """(query row, index row) with distance <= radius (exact for radius <= MIH_MAX_RADIUS); chunks run in threads."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    if radius > MIH_MAX_RADIUS:
        raise ValueError(f"multi-index hashing supports radius <= {MIH_MAX_RADIUS}, got {radius}")
    index, queries = index.astype(np.uint64), queries.astype(np.uint64)
    per_chunk = radius // len(CHUNKS)
    with ThreadPoolExecutor(max_workers=min(len(CHUNKS), os.cpu_count() or 1)) as ex:
        parts = list(ex.map(lambda c: _mih_chunk(index, queries, radius, c[0], c[1], per_chunk), CHUNKS))
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


def hash_pairs(hashes: np.ndarray, radius: int, variants: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Unique pairs (i < j) and their smallest distance, comparing every variant of i with j's main hash."""
    n = len(hashes)
    if n < 2:
        return np.zeros((0, 2), np.int64), np.zeros(0, np.int64)
    hashes = hashes.astype(np.uint64)
    queries = [hashes] + ([variants[:, k].astype(np.uint64) for k in range(variants.shape[1])] if variants is not None else [])
    finder = flat_pairs if n < FLAT_BINARY_BELOW else mih_pairs
    pairs, dists = [], []
    for q in queries:
        qi, j = finder(hashes, q, radius)
        keep = qi != j
        qi, j = qi[keep], j[keep]
        pairs.append(np.stack([np.minimum(qi, j), np.maximum(qi, j)], axis=1))
        dists.append(popcount64(q[qi] ^ hashes[j]))
    p, d = np.concatenate(pairs), np.concatenate(dists)
    if not len(p):
        return p, d
    key = p[:, 0] * n + p[:, 1]
    order = np.lexsort((d, key))  # smallest distance first within each pair
    key, p, d = key[order], p[order], d[order]
    first = np.concatenate([[True], key[1:] != key[:-1]])
    return p[first], d[first]


class KeypointVerifier:
    """Confirms a borderline pair by ORB keypoints agreeing under one similarity transform (RANSAC).

    Robust to crops, rescaling, recolouring and re-encoding; distinct photos rarely share more
    than a handful of consistent matches.
    """

    def __init__(self, open_image, min_inliers: int = 30, max_side: int = 512) -> None:
        import cv2

        self.cv2, self.open_image, self.min_inliers, self.max_side = cv2, open_image, min_inliers, max_side
        self.orb = cv2.ORB_create(nfeatures=500)
        self.matcher = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True)
        self._cache: dict[str, tuple] = {}

    def _features(self, key: str):
        if key not in self._cache:
            try:
                img = self.open_image(key)
                img.thumbnail((self.max_side, self.max_side))
                gray = np.asarray(img.convert("L"))
                self._cache[key] = self.orb.detectAndCompute(gray, None)
            except Exception:  # noqa: BLE001 - an unreadable file cannot confirm anything
                self._cache[key] = ((), None)
            if len(self._cache) > 20_000:
                self._cache.pop(next(iter(self._cache)))
        return self._cache[key]

    def inliers(self, a: str, b: str) -> int:
        (ka, da), (kb, db) = self._features(a), self._features(b)
        if da is None or db is None or len(ka) < 8 or len(kb) < 8:
            return 0
        matches = [m for m in self.matcher.match(da, db) if m.distance < 64]
        if len(matches) < 8:
            return 0
        pa = np.float32([ka[m.queryIdx].pt for m in matches])
        pb = np.float32([kb[m.trainIdx].pt for m in matches])
        _, mask = self.cv2.estimateAffinePartial2D(pa, pb, method=self.cv2.RANSAC, ransacReprojThreshold=4.0)
        return int(mask.sum()) if mask is not None else 0

    def same(self, a: str, b: str) -> bool:
        return self.inliers(a, b) >= self.min_inliers
