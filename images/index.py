"""FAISS indexes over the cached embeddings, saved in ``index/`` of the workspace.

Exact inner-product search (``IndexFlatIP``) below ``[index] exact_below`` vectors; above it
HNSW or IVF (``[index] approximate``). Indexes are saved on CPU and moved to the GPU at load
time when faiss reports one (faiss-gpu, the ``gpu`` extra) and ``[index] use_gpu = 'auto'``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from mmrakit import atomic
from mmrakit.workspace import Workspace

INDEXED_KINDS = ("clip-image", "caption")


def gpu_count() -> int:
    import faiss

    return faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0


def build_index(vectors: np.ndarray, *, exact_below: int, approximate: str):
    import faiss

    n, d = vectors.shape
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if n < exact_below:
        index = faiss.IndexFlatIP(d)
    elif approximate == "hnsw":
        index = faiss.IndexHNSWFlat(d, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 128
    else:
        nlist = max(1, int(4 * math.sqrt(n)))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFFlat(quantizer, d, nlist, faiss.METRIC_INNER_PRODUCT)
        rng = np.random.default_rng(0)
        sample = x[rng.choice(n, size=min(n, nlist * 64), replace=False)]
        index.train(sample)
        index.nprobe = min(nlist, 32)
    index.add(x)
    return index


def kind_of(index) -> str:
    import faiss

    if isinstance(index, faiss.IndexHNSW):
        return "hnsw"
    if isinstance(index, faiss.IndexIVF):
        return "ivf"
    return "flat"


def maybe_to_gpu(index, use_gpu: str):
    """Flat and IVF indexes go to the GPU(s) when present; HNSW stays on CPU (no GPU HNSW in faiss)."""
    import faiss

    if use_gpu == "never" or gpu_count() == 0 or kind_of(index) == "hnsw":
        return index
    return faiss.index_cpu_to_all_gpus(index)


def _paths(ws: Workspace, kind: str) -> tuple[Path, Path]:
    return ws.path("index", f"{kind}.faiss"), ws.path("index", f"{kind}.json")


def save_index(ws: Workspace, kind: str, keys: list[str], index, fingerprint: str) -> dict[str, Any]:
    import faiss

    idx_path, meta_path = _paths(ws, kind)
    with atomic.atomic_path(idx_path) as tmp:
        faiss.write_index(index, str(tmp))
    meta = {"kind": kind, "fingerprint": fingerprint, "type": kind_of(index), "n": len(keys), "dim": index.d, "keys": keys}
    atomic.write_text(meta_path, json.dumps(meta))
    return {k: v for k, v in meta.items() if k != "keys"}


def build_all_indexes(ws: Workspace) -> dict[str, Any]:
    from .vectors import EmbeddingStore

    store, cfg, out = EmbeddingStore(ws), ws.settings.index, {}
    for kind in INDEXED_KINDS:
        got = store.all(kind)
        if got is None:
            continue
        keys, vecs = got
        index = build_index(vecs, exact_below=cfg.exact_below, approximate=cfg.approximate)
        out[kind] = save_index(ws, kind, keys, index, store.info(kind)["fingerprint"])
    return out


class LoadedIndex:
    def __init__(self, index, keys: list[str], meta: dict) -> None:
        self.index, self.keys, self.meta = index, keys, meta
        self.row = {k: i for i, k in enumerate(keys)}

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = max(1, min(k, len(self.keys)))
        return self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k)


def load_index(ws: Workspace, kind: str) -> LoadedIndex | None:
    """The saved index of ``kind`` if it matches the current embeddings (rebuilt when stale)."""
    import faiss

    from .vectors import read_pointer

    ptr = read_pointer(ws, kind)
    if ptr is None:
        return None
    idx_path, meta_path = _paths(ws, kind)
    meta = json.loads(meta_path.read_text(encoding="utf-8")) if meta_path.is_file() else None
    if meta is None or meta["fingerprint"] != ptr["fingerprint"] or not idx_path.is_file():
        build_all_indexes(ws)
        if not meta_path.is_file():
            return None
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    index = faiss.read_index(str(idx_path))
    return LoadedIndex(maybe_to_gpu(index, ws.settings.index.use_gpu), meta.pop("keys"), meta)
