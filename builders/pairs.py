"""One pair miner for hard negatives and counterfactual partners, with a stable ``pair_id``.

A positive pair (a, b) shares what a subtask asks about. Its hard negative keeps image ``a`` and
finds a partner ``c`` among a's nearest images by caption (a FAISS inner-product index over the
caption vectors) that differs in the asked relation but is close in everything else: the caller's
``differs(a, c)`` says the relation is verifiably different, ``close(a, c)`` that the rest matches.
Among those within ``max_gap`` of the positive pair's caption similarity, the partner closest to ``a``
in everything else (:func:`likeness`: the same broad scene setting, the same indoor/outdoor side,
shared object kinds) that keeps the running (negative - positive) similarity drift near zero is
chosen, so caption similarity alone cannot tell positives from negatives and a "No" is never two
trivially unrelated photos when a closer partner exists; a positive without a partner is not used.
Pairs stay whole: an anchor needs room (``ctx.image_room``) for its "Yes" and its "No", a partner for
one item. The positive and its negative share one ``pair_id`` (issue 17's counterfactual partners use
the same mechanism).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable

import numpy as np


def pair_id(relation: str, a: str, b: str, partner: str | None = None) -> str:
    parts = [relation, a, b] + ([partner] if partner else [])
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:16]


class CaptionNeighbours:
    """k nearest pool images by caption vector (FAISS flat inner product on L2-normalised vectors)."""

    def __init__(self, pool) -> None:
        self.pool = pool
        self.shas = [s for s in pool.order if pool.caption_vectors.get(s) is not None]
        self._index = None
        if self.shas:
            import faiss

            mat = np.stack([np.asarray(pool.caption_vectors.get(s), dtype=np.float32) for s in self.shas])
            norms = np.linalg.norm(mat, axis=1, keepdims=True)
            mat = mat / np.where(norms == 0, 1, norms)
            self._index = faiss.IndexFlatIP(mat.shape[1])
            self._index.add(mat)
            self._mat = mat
            self._pos = {s: i for i, s in enumerate(self.shas)}

    def near(self, sha: str, k: int = 50) -> list[tuple[str, float]]:
        if self._index is None or sha not in self._pos:
            return []
        q = self._mat[self._pos[sha]][None, :]
        sims, idx = self._index.search(q, min(k + 1, len(self.shas)))
        return [(self.shas[i], float(s)) for s, i in zip(sims[0], idx[0]) if i >= 0 and self.shas[i] != sha]


def caption_neighbours(ctx) -> CaptionNeighbours:
    """The build's one caption index (built on first use, shared by every miner and family)."""
    nb = getattr(ctx, "_caption_neighbours", None)
    if nb is None:
        nb = ctx._caption_neighbours = CaptionNeighbours(ctx.pool)
    return nb


def salient_kinds(pool, sha: str, min_area: float = 0.01) -> set[str]:
    """Object kinds boxed at a visible size (at least ``min_area`` of the picture)."""
    return {e.text for e in pool[sha].objects() if e.box is not None and e.box.area >= min_area}


def scene_settings(ctx, sha: str) -> set[str]:
    """The broad settings (``setting`` of images/data/perception.toml: indoor_room, urban,
    green_outdoors, waterside, sports_venue) of the image's confident scene categories."""
    from mmrakit.images.perception import vocab

    from .perception import perception_for

    scenes = vocab()["scenes"]
    return {scenes[v]["setting"] for v in perception_for(ctx).confident(sha, "scene") if v in scenes}


def likeness(ctx, a: str, c: str) -> list[str]:
    """What two images have in common besides the asked relation, as the miner ranks partners: the
    same broad scene setting, the same indoor/outdoor side, shared salient object kinds."""
    from .perception import perception_for

    seen = perception_for(ctx)
    out = [f"setting:{s}" for s in sorted(scene_settings(ctx, a) & scene_settings(ctx, c))]
    ia, ic = seen.top(a, "indoor"), seen.top(c, "indoor")
    if ia is not None and ic is not None and ia.value == ic.value:
        out.append(f"side:{ia.value}")
    out += [f"object:{k}" for k in sorted(salient_kinds(ctx.pool, a) & salient_kinds(ctx.pool, c))]
    return out


def closeness_rank(like: list[str]) -> int:
    """0: same setting and a shared object; 1: same setting, or same side and a shared object;
    2: one of them; 3: nothing in common (the trivially unrelated pair reviewers flag)."""
    setting = any(x.startswith("setting:") for x in like)
    side = any(x.startswith("side:") for x in like)
    obj = any(x.startswith("object:") for x in like)
    if setting and obj:
        return 0
    if setting or (side and obj):
        return 1
    if side or obj:
        return 2
    return 3


class PairMiner:
    def __init__(self, ctx, relation: str, *, k: int = 200, max_partner_uses: int = 2, max_gap: float = 0.08,
                 rank_weight: float = 0.05, max_drift: float | None = None) -> None:
        self.ctx = ctx
        self.rank_weight = rank_weight
        self.max_drift = max_drift
        self.max_gap = max_gap
        self.relation = relation
        self.k = k
        self.max_partner_uses = max_partner_uses
        self.neighbours = caption_neighbours(ctx)
        self.used: Counter = Counter()
        self.drift = 0.0
        self.used_pairs: set[frozenset] = set()
        self.last_likeness: list[str] = []

    def hard_negative(self, a: str, b: str, differs: Callable[[str, str], bool],
                      close: Callable[[str, str], bool] | None = None) -> tuple[str, float | None, str] | None:
        """A partner c for anchor ``a`` (c differs from a in the relation, is close otherwise), with the
        caption similarity nearest that of the positive (a, b); returns (c, similarity, pair_id).

        Among the partners within ``max_gap`` the one with the lowest ``|drift + gap| + rank_weight *
        closeness_rank`` wins: close in everything else (:func:`closeness_rank`: same broad setting,
        shared objects; each rank step weighs as much as ``rank_weight`` of caption similarity) and
        keeping the running similarity drift of negatives against positives near zero (with
        ``max_drift``, never beyond it: the sum of all (negative - positive) gaps stays within it). What
        the chosen partner shares with ``a`` is left in ``last_likeness`` for the item's evidence."""
        # the build shows an image in a bounded number of items: a pair needs its anchor twice (the "Yes"
        # and the "No") and each partner once, else one of the two is dropped and the pair is broken
        room = getattr(self.ctx, "image_room", None)
        if room is not None and (room(a) < 2 or room(b) < 1):
            return None
        target = self.ctx.pool.caption_similarity(a, b)
        best = None
        for c, sim in self.neighbours.near(a, self.k):
            if c == b or self.used[c] >= self.max_partner_uses or frozenset((a, c)) in self.used_pairs:
                continue
            if room is not None and room(c) < 1:
                continue
            if self.ctx.pool.same_group(a, c) or not differs(a, c) or (close is not None and not close(a, c)):
                continue
            diff = sim - target if target is not None else 0.0
            if abs(diff) > self.max_gap:  # caption similarity must not give the answer away
                continue
            if self.max_drift is not None and abs(self.drift + diff) > self.max_drift:
                continue  # negatives would sit systematically below (or above) their positives
            like = likeness(self.ctx, a, c)
            # keep the running sum of (negative - positive) similarity near zero, so negatives sit as
            # often above their positives as below them
            score = abs(self.drift + diff) + self.rank_weight * closeness_rank(like)
            if best is None or score < best[0]:
                best = (score, c, sim, diff, like)
        if best is None:
            return None
        _, c, sim, diff, like = best
        self.drift += diff
        self.used[c] += 1
        self.used_pairs.add(frozenset((a, c)))
        self.last_likeness = like
        return c, round(sim, 4), pair_id(self.relation, a, b, c)
