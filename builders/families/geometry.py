"""Image-level subtasks read from box geometry: Layout and ObservationAngle.

Layout: each image's object boxes spread over a 3x3 grid (share of box area per cell); similarity
is 1 - L1/2 of the two grids. Yes when >= ``similar_at``, No when <= ``different_at``.

ObservationAngle: both images' largest object is the same kind of subject. Similar viewpoint: same
scale bin of the subject box (close / medium / far), close box aspect ratios, no conflicting caption
view cues and, when CLIP embeddings exist, CLIP similarity >= ``clip_similar``. Different: scale bins
two apart or conflicting cues. Near-duplicates (small hash distance) are skipped. Every item notes
which evidence decided it; these are proposals for reviewers to confirm.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterator

import numpy as np

from ..base import Builder, Fact, register
from ..rules import lexicon
from ._common import pairs_round_robin


def layout_vector(objs, n: int = 3) -> np.ndarray | None:
    v = np.zeros(n * n)
    edges = np.linspace(0.0, 1.0, n + 1)
    for e in objs:
        b = e.box
        for i in range(n):
            oy = max(0.0, min(b.y + b.h, edges[i + 1]) - max(b.y, edges[i]))
            if oy <= 0:
                continue
            for j in range(n):
                ox = max(0.0, min(b.x + b.w, edges[j + 1]) - max(b.x, edges[j]))
                v[i * n + j] += ox * oy
    s = v.sum()
    return v / s if s > 0 else None


@register
class Layout(Builder):
    task = "Layout"
    family = "layout"

    def mine(self) -> Iterator[Fact]:
        pool = self.ctx.pool
        min_boxes = int(self.rule.param("min_boxes", 2))
        hi, lo = float(self.rule.param("similar_at", 0.72)), float(self.rule.param("different_at", 0.4))
        vecs = {}
        for sha in pool.order:
            objs = pool[sha].objects()
            v = layout_vector(objs) if len(objs) >= min_boxes else None
            if v is None:
                self.missing(f"image with fewer than {min_boxes} object boxes")
                continue
            vecs[sha] = v
        order = sorted(vecs)
        self.rng.shuffle(order)
        for offset in range(1, 60):
            for i in range(len(order) - offset):
                a, b = order[i], order[i + offset]
                if self.rng.random() < 0.5:
                    a, b = b, a
                sim = 1.0 - 0.5 * float(np.abs(vecs[a] - vecs[b]).sum())
                if lo < sim < hi:
                    continue
                if not self.allowed_pair(a, b) or not self.in_caption_band(a, b)[0]:
                    continue
                ev = self.pair_evidence(a, b, layout_similarity=round(sim, 4),
                                        grid1=[round(x, 3) for x in vecs[a]], grid2=[round(x, 3) for x in vecs[b]])
                ev.entities1 = pool[a].objects()[:6]
                ev.entities2 = pool[b].objects()[:6]
                yield Fact(image1=a, image2=b, qa_type="True or false QA", form="tf",
                           answer="Yes" if sim >= hi else "No", evidence=ev, key="layout")


SCALE_BINS = ((0.35, "close"), (0.08, "medium"), (0.0, "far"))


def scale_bin(area: float) -> int:
    for i, (lo, _) in enumerate(SCALE_BINS):
        if area >= lo:
            return i
    return len(SCALE_BINS) - 1


def view_cues(captions: list[str]) -> set[str]:
    text = " ".join(captions).lower()
    return {cls for cls, cues in lexicon()["viewpoint"].items() if any(c in text for c in cues)}


@register
class ObservationAngle(Builder):
    task = "ObservationAngle"
    family = "viewpoint"

    def subject(self, sha: str):
        im = self.ctx.pool[sha]
        objs = im.objects()
        if not objs:
            return None
        best = max(objs, key=lambda e: (e.box.area, e.concept))
        return best if best.box.area >= float(self.rule.param("min_subject_area", 0.04)) else None

    def mine(self) -> Iterator[Fact]:
        pool = self.ctx.pool
        subjects, by_subject = {}, defaultdict(list)
        for sha in pool.order:
            s = self.subject(sha)
            if s is None:
                self.missing("image without a dominant boxed subject")
                continue
            subjects[sha] = s
            by_subject[s.concept].append(sha)
        use_clip = pool.clip_vectors is not None
        method = ("CLIP similarity + subject box geometry + caption view cues" if use_clip else
                  f"subject box geometry + caption view cues + hash distance ({pool.clip_note}; CLIP checks skipped)")
        min_hash = int(self.rule.param("min_hash_distance", 10))
        for concept, a, b in pairs_round_robin(by_subject, self.rng):
            if self.rng.random() < 0.5:
                a, b = b, a
            if not self.allowed_pair(a, b) or not self.in_caption_band(a, b)[0]:
                continue
            hd = pool.hash_distance(a, b)
            if hd is not None and hd < min_hash:
                self.missing("pair too close to a near-duplicate (hash distance)")
                continue
            sa, sb = subjects[a], subjects[b]
            ia, ib = pool[a], pool[b]
            bin_a, bin_b = scale_bin(sa.box.area), scale_bin(sb.box.area)
            asp_a = (sa.box.w * ia.width) / max(1e-6, sa.box.h * ia.height)
            asp_b = (sb.box.w * ib.width) / max(1e-6, sb.box.h * ib.height)
            cues_a, cues_b = view_cues(ia.captions), view_cues(ib.captions)
            conflict = bool(cues_a and cues_b and not (cues_a & cues_b))
            clip = pool.clip_similarity(a, b)
            similar = (bin_a == bin_b and abs(math.log(max(asp_a, 1e-6) / max(asp_b, 1e-6))) < 0.3 and not conflict
                       and (clip is None or clip >= float(self.rule.param("clip_similar", 0.8))))
            different = abs(bin_a - bin_b) == 2 or conflict
            if similar == different:
                continue
            ev = self.pair_evidence(a, b, method=method, subject=concept,
                                    scale=[SCALE_BINS[bin_a][1], SCALE_BINS[bin_b][1]],
                                    aspect=[round(asp_a, 3), round(asp_b, 3)], view_cues=[sorted(cues_a), sorted(cues_b)],
                                    needs_review="viewpoint is a heuristic proposal; reviewers confirm")
            ev.entities1, ev.entities2 = [sa], [sb]
            yield Fact(image1=a, image2=b, qa_type="True or false QA", form="tf", answer="Yes" if similar else "No",
                       slots={"subject": self.ctx.graph.text(concept)}, evidence=ev, key=f"view:{concept}")
