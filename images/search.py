"""Queries over the pool: text -> images, image -> images (``--like``), and caption-similarity pairs in a band.

Results leave out duplicates that dedup did not keep, and changed files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mmrakit.errors import InputError, WorkspaceError
from mmrakit.workspace import Workspace

from .vectors import EmbeddingStore
from .index import load_index
from .store import ImagePool


@dataclass
class Hit:
    sha256: str
    score: float
    path: str | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _need(index, kind: str):
    if index is None:
        raise WorkspaceError(f"no {kind} embeddings in this workspace", hint="run `mmrakit images embed` first")
    return index


def _hits(ws: Workspace, index, query: np.ndarray, k: int, skip: set[str]) -> list[Hit]:
    pool = ImagePool(ws)
    hidden = pool.excluded() | pool.changed() | skip
    D, I = index.search(query[None, :], k + len(hidden))
    out = []
    for score, row in zip(D[0], I[0]):
        if row < 0:
            continue
        sha = index.keys[row]
        if sha in hidden:
            continue
        rec = pool.get(sha)
        out.append(Hit(sha, round(float(score), 6), rec.path if rec else None))
        if len(out) == k:
            break
    return out


def search_text(ws: Workspace, text: str, k: int = 10) -> list[Hit]:
    """Images whose CLIP vector is closest to the text's."""
    index = _need(load_index(ws, "clip-image"), "CLIP image")
    q = EmbeddingStore(ws).clip_text([text])
    if q is None:
        raise WorkspaceError("CLIP text encoder unavailable", hint="text search needs CLIP; run `mmrakit images embed` with CLIP on")
    return _hits(ws, index, q[0], k, set())


def search_like(ws: Workspace, like: str, k: int = 10) -> list[Hit]:
    """Images closest to a pool image (sha256 or prefix) or to an image file."""
    index = _need(load_index(ws, "clip-image"), "CLIP image")
    pool = ImagePool(ws)
    sha = _resolve_sha(ws, like)
    emb = EmbeddingStore(ws)
    if sha is not None and emb.has("clip-image", [sha])[0]:
        return _hits(ws, index, emb.clip_image([sha])[0], k, {sha})
    path = Path(like)
    if not path.is_file():
        raise InputError(f"--like {like!r}: neither a pool image (sha256 or prefix) nor an image file")
    from mmrakit.modelhub.clip import ClipSpec, load_clip
    from .encode import clip_batches_local, resolve_decode
    from .vectors import read_pointer
    from mmrakit.util import sha256_file

    ptr = read_pointer(ws, "clip-image")
    bundle = load_clip(ClipSpec(**ptr["spec"]))
    file_sha = sha256_file(path)
    (shas, vecs, failed), = list(clip_batches_local(bundle, [(file_sha, str(path))], batch_size=1, num_workers=0,
                                                     draft=ptr.get("draft_decode", True),
                                                     decode=resolve_decode(ptr.get("decode", "pil"), bundle.spec.device)))
    if failed:
        raise InputError(f"--like {like}: cannot decode ({failed[0][1]})")
    del pool
    return _hits(ws, index, vecs[0], k, {file_sha})


def _resolve_sha(ws: Workspace, text: str) -> str | None:
    t = text.lower()
    if len(t) < 6 or any(c not in "0123456789abcdef" for c in t):
        return None
    rows = ws.db.execute("SELECT sha256 FROM image_records WHERE sha256 LIKE ? LIMIT 2", (t + "%",)).fetchall()
    if len(rows) > 1:
        raise InputError(f"sha256 prefix {text!r} is ambiguous", hint="give more hex digits")
    return rows[0][0] if rows else None


def caption_pairs_in_band(ws: Workspace, lo: float, hi: float, k: int = 50) -> list[tuple[str, str, float]]:
    """Image pairs whose mean-caption cosine similarity lies in [lo, hi] (MMRA's SentenceBERT pair filter).

    Each image's ``k`` nearest caption neighbours are examined, so the result holds the band's
    pairs among near neighbours; pairs are unique (a < b), sorted by similarity descending.
    """
    if not -1.0 <= lo <= hi <= 1.0:
        raise InputError(f"caption band [{lo}, {hi}] must satisfy -1 <= lo <= hi <= 1")
    index = load_index(ws, "caption")
    if index is None:
        return []
    pool = ImagePool(ws)
    hidden = pool.excluded() | pool.changed()
    keys = index.keys
    vecs = EmbeddingStore(ws).caption(keys)
    out: dict[tuple[str, str], float] = {}
    step = 4096
    for start in range(0, len(keys), step):
        D, I = index.search(vecs[start:start + step], k + 1)
        for qi, (drow, irow) in enumerate(zip(D, I)):
            a = keys[start + qi]
            if a in hidden:
                continue
            for score, j in zip(drow, irow):
                if j < 0:
                    continue
                b = keys[j]
                if b == a or b in hidden:
                    continue
                s = float(score)
                if lo <= s <= hi:
                    out[(a, b) if a < b else (b, a)] = round(s, 6)
    return sorted(((a, b, s) for (a, b), s in out.items()), key=lambda t: (-t[2], t[0], t[1]))
