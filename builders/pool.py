"""The image side of a build: pool images with their groundings, and pair measurements.

:class:`PoolView` is built from the workspace's :class:`~mmrakit.images.ImagePool` (plus cached
embeddings when the images stage computed them), or directly from :class:`PoolImage` objects
(synthetic pools). Caption similarity uses SentenceBERT vectors when present, else TF-IDF cosine
over the captions (recorded as the method, so the band is read with that in mind).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mmrakit.models import Box, EntityGrounding


@dataclass
class PoolImage:
    sha: str
    width: int = 640
    height: int = 480
    captions: list[str] = field(default_factory=list)
    entities: list[EntityGrounding] = field(default_factory=list)
    group: str | None = None
    phash: int | None = None
    path: Path | None = None
    crowd_boxes: tuple[Box, ...] = ()  # boxes the dataset marks as a crowd (never a named entity)

    def __post_init__(self) -> None:
        self._by_concept: dict[str, list[EntityGrounding]] = defaultdict(list)
        for e in self.entities:
            self._by_concept[e.concept].append(e)

    def add_entities(self, extra: list[EntityGrounding]) -> None:
        self.entities.extend(extra)
        for e in extra:
            self._by_concept[e.concept].append(e)

    def concepts(self, sources: tuple[str, ...] = ("object", "caption", "clip")) -> list[str]:
        seen: dict[str, None] = {}
        for e in self.entities:
            if e.source in sources:
                seen.setdefault(e.concept, None)
        return list(seen)

    def grounded(self, concept: str) -> bool:
        return concept in self._by_concept

    def groundings(self, concept: str) -> list[EntityGrounding]:
        return self._by_concept.get(concept, [])

    def objects(self) -> list[EntityGrounding]:
        """Object groundings with boxes (one per annotated instance)."""
        return [e for e in self.entities if e.source == "object" and e.box is not None]

    def instance_count(self, concept: str) -> int:
        return sum(1 for e in self._by_concept.get(concept, []) if e.source == "object")


def box_gap(a: Box, b: Box) -> float:
    """Euclidean gap between two boxes (0 when they touch or overlap), in normalised units."""
    gx = max(0.0, max(a.x, b.x) - min(a.x + a.w, b.x + b.w))
    gy = max(0.0, max(a.y, b.y) - min(a.y + a.h, b.y + b.h))
    return math.hypot(gx, gy)


class PoolView:
    """Images of one build plus caption/CLIP vectors and hashes for pair measurements."""

    def __init__(
        self,
        images: list[PoolImage],
        *,
        caption_vectors: dict[str, np.ndarray] | None = None,
        clip_vectors: dict[str, np.ndarray] | None = None,
        caption_method: str | None = None,
        clip_note: str | None = None,
        clip_text=None,
    ) -> None:
        self.images = {im.sha: im for im in sorted(images, key=lambda im: im.sha)}
        self.order = list(self.images)
        self.clip_vectors = clip_vectors or None
        self._clip_text = clip_text  # texts -> L2-normalised CLIP text vectors (or None), same space as images
        self._text_cache: dict[str, np.ndarray] = {}
        self._holding: dict[str, frozenset[str]] | None = None
        self.clip_note = clip_note or ("CLIP embeddings present" if clip_vectors else "no CLIP embeddings")
        if caption_vectors:
            self.caption_vectors, self.caption_method = caption_vectors, caption_method or "sbert"
        else:
            self.caption_vectors, self.caption_method = _tfidf_vectors(images), "tfidf"

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, sha: str) -> PoolImage:
        return self.images[sha]

    def images_holding(self, concept: str) -> frozenset[str]:
        """The images whose boxes or captions put ``concept`` in them (co-occurrence statistics)."""
        if self._holding is None:
            holding: dict[str, set[str]] = {}
            for sha, im in self.images.items():
                for c in im.concepts(("object", "caption")):
                    holding.setdefault(c, set()).add(sha)
            self._holding = {c: frozenset(s) for c, s in holding.items()}
        return self._holding.get(concept, frozenset())

    def found_with(self, concept: str, kind: str, prior: float = 3.0) -> float:
        """Share of the images holding ``kind`` that also hold ``concept``, smoothed towards ``concept``'s
        share of the whole pool with ``prior`` pseudo-images (a kind seen in one image says little)."""
        held, with_kind = self.images_holding(concept), self.images_holding(kind)
        base = len(held) / len(self.images) if self.images else 0.0
        return (len(held & with_kind) + prior * base) / (len(with_kind) + prior)

    def same_group(self, a: str, b: str) -> bool:
        if a == b:
            return True
        ga, gb = self.images[a].group, self.images[b].group
        return ga is not None and ga == gb

    def caption_similarity(self, a: str, b: str) -> float | None:
        va, vb = self.caption_vectors.get(a), self.caption_vectors.get(b)
        if va is None or vb is None:
            return None
        return round(float(np.dot(va, vb)), 4)

    def clip_similarity(self, a: str, b: str) -> float | None:
        if not self.clip_vectors:
            return None
        va, vb = self.clip_vectors.get(a), self.clip_vectors.get(b)
        if va is None or vb is None:
            return None
        return round(float(np.dot(va, vb)), 4)

    def clip_prompt_scores(self, sha: str, prompts: list[str]) -> list[float] | None:
        """Cosine of the image's CLIP vector with each prompt; None without CLIP image/text vectors."""
        if not self.clip_vectors or self._clip_text is None or sha not in self.clip_vectors:
            return None
        missing = [p for p in prompts if p not in self._text_cache]
        if missing:
            vecs = self._clip_text(missing)
            if vecs is None:
                self._clip_text = None
                return None
            self._text_cache.update(zip(missing, np.asarray(vecs, dtype=np.float32)))
        img = self.clip_vectors[sha]
        return [round(float(np.dot(img, self._text_cache[p])), 4) for p in prompts]

    def hash_distance(self, a: str, b: str) -> int | None:
        ha, hb = self.images[a].phash, self.images[b].phash
        if ha is None or hb is None:
            return None
        return int(bin(int(ha) ^ int(hb)).count("1"))


def _tfidf_vectors(images: list[PoolImage]) -> dict[str, np.ndarray]:
    """L2-normalised TF-IDF rows over each image's captions (sparse rows kept dense only per lookup)."""
    docs = [" ".join(im.captions) for im in images]
    if not any(d.strip() for d in docs):
        return {}
    from sklearn.feature_extraction.text import TfidfVectorizer

    mat = TfidfVectorizer(stop_words="english", min_df=1).fit_transform(docs)
    return _SparseRows({im.sha: i for i, im in enumerate(images)}, mat)


class _SparseRows(dict):
    """sha -> dense row of a sparse matrix, computed on demand (10k images x vocab stays sparse)."""

    def __init__(self, index: dict[str, int], mat) -> None:
        super().__init__()
        self._index, self._mat = index, mat.tocsr()

    def get(self, key, default=None):
        i = self._index.get(key)
        if i is None:
            return default
        if not super().__contains__(key):
            self[key] = np.asarray(self._mat[i].todense()).ravel()
        return super().__getitem__(key)

    def __bool__(self) -> bool:
        return bool(self._index)


def pool_from_workspace(ws, graph, *, ground_captions: bool = True, annotated: dict | None = None) -> PoolView:
    """PoolView over the workspace's accepted pool (excluded duplicates and changed files left out).
    ``annotated`` (sha -> ImageAttributes from `mmrakit annotate`) gives images without captions or
    boxes of their own the caption and objects an annotator model stated (recorded with source)."""
    from mmrakit.images import ImagePool

    from .grounding import CaptionGrounder

    pool = ImagePool(ws)
    grounder = CaptionGrounder(graph) if ground_captions else None
    images: list[PoolImage] = []
    for rec in pool.records():
        ents = pool.entities(rec.sha256)
        if not any(e.source == "object" for e in ents):  # fall back to the record's own annotations
            ents = ents + [EntityGrounding(concept=_uri(o.category), text=o.category, source="object", box=o.box)
                           for o in rec.objects if _uri(o.category)]
        captions = list(rec.captions)
        if annotated and rec.sha256 in annotated and (not captions or not any(e.source == "object" for e in ents)):
            from mmrakit.images.annotate import annotated_captions_objects

            model_caps, model_objs = annotated_captions_objects(annotated[rec.sha256])
            captions = captions or model_caps
            if not any(e.source == "object" for e in ents):
                ents = ents + [EntityGrounding(concept=_uri(n), text=n, source="object", box=b, score=0.5)
                               for n, b in model_objs if b is not None and _uri(n)]
        path = None
        try:
            path = pool.image_path(rec.sha256)
        except (KeyError, FileNotFoundError):
            pass
        im = PoolImage(sha=rec.sha256, width=rec.width, height=rec.height, captions=captions,
                       entities=list(ents), group=pool.duplicate_group(rec.sha256), phash=pool.phash(rec.sha256),
                       path=path, crowd_boxes=tuple(o.box for o in rec.objects if o.crowd and o.box is not None))
        if grounder is not None and im.captions:
            im.add_entities(grounder.ground(im.captions, set(im.concepts())))
        images.append(im)
    shas = [im.sha for im in images]
    caption_vectors, clip_vectors, clip_note, clip_text = _cached_embeddings(ws, shas)
    if caption_vectors is not None and any(im.captions and im.sha not in caption_vectors for im in images):
        caption_vectors = None  # captions from the annotator have no SBERT vector: TF-IDF over all captions instead
    return PoolView(images, caption_vectors=caption_vectors, clip_vectors=clip_vectors, clip_note=clip_note,
                    clip_text=clip_text)


def _uri(text: str) -> str | None:
    from mmrakit.relations.normalize import normalize_concept

    try:
        return normalize_concept(text)
    except ValueError:
        return None


def _cached_embeddings(ws, shas: list[str]):
    """Caption (SBERT) and CLIP image vectors the images stage already computed; None when absent.

    Absent vectors (never embedded, CLIP off, no weights offline) are normal and reported in the note;
    a failure of the embedding store itself is a bug and propagates, so the build fails loudly."""
    from mmrakit.images.vectors import EmbeddingStore

    if not shas:
        return None, None, "no images", None
    store = EmbeddingStore(ws)

    def as_dict(arr, kind: str) -> dict[str, np.ndarray] | None:
        if arr is None:
            return None
        arr = np.asarray(arr, dtype=np.float32)
        if arr.ndim != 2 or arr.shape[0] != len(shas):
            raise RuntimeError(f"embedding store returned {kind} vectors of shape {arr.shape} for {len(shas)} images")
        return {s: arr[i] for i, s in enumerate(shas) if np.isfinite(arr[i]).all() and np.any(arr[i])}

    caption_vectors = as_dict(store.caption(shas), "caption")
    clip_vectors = as_dict(store.clip_image(shas), "CLIP image")
    note = "CLIP image embeddings from the images stage" if clip_vectors else "CLIP unavailable (not embedded)"
    # clip_text answers None when CLIP is disabled or its weights are not available offline
    return caption_vectors, clip_vectors, note, (store.clip_text if clip_vectors else None)
