"""Read side of the embeddings: vectors of the last completed embed run, as builders, search and dedup use them.

Layout (under the workspace): ``embeddings/<kind>/<fingerprint>/shard-*.npz`` plus
``embeddings/<kind>/CURRENT.json`` naming the fingerprint (and model spec) of the last
completed run, which is what :class:`EmbeddingStore` serves. Kinds: ``clip-image`` (keyed by
sha256), ``clip-text`` (keyed by concept URI) and ``caption`` (keyed by sha256).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mmrakit import atomic
from mmrakit.errors import OfflineError
from mmrakit.modelhub.clip import ClipSpec, load_clip
from mmrakit.workspace import Workspace

from .encode import encode_texts, l2_normalize, usable_device
from .shards import ShardStore

KINDS = ("clip-image", "clip-text", "caption")

__all__ = ["KINDS", "EmbeddingStore", "l2_normalize", "read_pointer", "shard_store", "write_pointer"]


def _pointer(ws: Workspace, kind: str) -> Path:
    return ws.path("embeddings", kind, "CURRENT.json")

def read_pointer(ws: Workspace, kind: str) -> dict | None:
    p = _pointer(ws, kind)
    return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else None

def write_pointer(ws: Workspace, kind: str, info: dict) -> None:
    atomic.write_text(_pointer(ws, kind), json.dumps(info, indent=2, sort_keys=True))

def shard_store(ws: Workspace, kind: str, fingerprint: str) -> ShardStore:
    return ShardStore(ws.path("embeddings", kind, fingerprint))

class EmbeddingStore:
    """Read side: vectors of the last completed embed run (what builders and search use)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._stores: dict[str, ShardStore | None] = {}
        self._clip = None

    def _store(self, kind: str) -> ShardStore | None:
        if kind not in self._stores:
            ptr = read_pointer(self.ws, kind)
            self._stores[kind] = shard_store(self.ws, kind, ptr["fingerprint"]) if ptr else None
        return self._stores[kind]

    def info(self, kind: str) -> dict | None:
        return read_pointer(self.ws, kind)

    def _get(self, kind: str, keys: list[str]) -> np.ndarray | None:
        store = self._store(kind)
        if store is None or len(store) == 0:
            return None
        return store.get(list(keys))

    def clip_image(self, shas: list[str]) -> np.ndarray | None:
        """L2-normalised CLIP image vectors; None when never computed (or CLIP was off)."""
        return self._get("clip-image", shas)

    def caption(self, shas: list[str]) -> np.ndarray | None:
        """Mean MiniLM caption vector per image, L2-normalised; None when never computed."""
        return self._get("caption", shas)

    def clip_concepts(self, uris: list[str]) -> np.ndarray | None:
        """"a photo of a {concept}" text vectors computed at embed time for the pool's concepts."""
        return self._get("clip-text", uris)

    def has(self, kind: str, keys: list[str]) -> np.ndarray:
        store = self._store(kind)
        return np.zeros(len(keys), dtype=bool) if store is None else store.has(list(keys))

    def all(self, kind: str) -> tuple[list[str], np.ndarray] | None:
        store = self._store(kind)
        return None if store is None or len(store) == 0 else store.all()

    def clip_text(self, texts: list[str]) -> np.ndarray | None:
        """Text vectors in the same space as :meth:`clip_image`; None when CLIP is disabled/unavailable."""
        ptr = read_pointer(self.ws, "clip-image")
        if not self.ws.settings.clip.enabled and ptr is None:
            return None
        if self._clip is None:
            if ptr is not None:
                spec = ClipSpec(**ptr["spec"])
                spec.device = usable_device(spec.device)
            else:
                spec = ClipSpec.from_settings(self.ws.settings.clip)
            try:
                self._clip = load_clip(spec)
            except OfflineError:
                return None
        return encode_texts(self._clip, list(texts))
