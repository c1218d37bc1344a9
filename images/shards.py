"""An append-only cache of vectors keyed by string (a sha256 or a concept URI), in shard files.

Each shard is written whole to a temporary file and renamed into place, so a reader (or a
re-run after ``kill -9``) sees complete shards only: a kill loses at most the shard being
filled, and the re-run computes exactly the keys no shard holds, so nothing is duplicated.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

from mmrakit import atomic

SHARD_RE = re.compile(r"^shard-(\d{6})-(\d+)\.npz$")


class ShardStore:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._index: dict[str, tuple[int, int]] | None = None
        self._mats: list[np.ndarray] | None = None

    def shard_files(self) -> list[Path]:
        if not self.dir.is_dir():
            return []
        return sorted(p for p in self.dir.iterdir() if SHARD_RE.match(p.name))

    def keys(self) -> set[str]:
        out: set[str] = set()
        for f in self.shard_files():
            with np.load(f, allow_pickle=False) as z:
                out.update(z["keys"].tolist())
        return out

    def write(self, keys: list[str], vectors: np.ndarray) -> Path:
        if len(keys) != len(vectors):
            raise ValueError(f"{len(keys)} keys for {len(vectors)} vectors")
        self.dir.mkdir(parents=True, exist_ok=True)
        existing = [int(SHARD_RE.match(p.name).group(1)) for p in self.shard_files()]
        seq = (max(existing) + 1) if existing else 0
        target = self.dir / f"shard-{seq:06d}-{os.getpid()}.npz"
        with atomic.atomic_path(target) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, keys=np.asarray(keys, dtype=str), vectors=np.ascontiguousarray(vectors, dtype=np.float32))
        self._index = None
        return target

    def _load(self) -> None:
        index: dict[str, tuple[int, int]] = {}
        mats: list[np.ndarray] = []
        for i, f in enumerate(self.shard_files()):
            with np.load(f, allow_pickle=False) as z:
                keys, vecs = z["keys"].tolist(), z["vectors"]
            mats.append(vecs)
            for row, k in enumerate(keys):
                index.setdefault(k, (i, row))  # first shard wins should a key ever repeat
        self._index, self._mats = index, mats

    def __len__(self) -> int:
        if self._index is None:
            self._load()
        return len(self._index)

    def has(self, keys: list[str]) -> np.ndarray:
        if self._index is None:
            self._load()
        return np.array([k in self._index for k in keys], dtype=bool)

    def get(self, keys: list[str]) -> np.ndarray:
        """Rows for ``keys`` in order; KeyError naming how many are missing."""
        if self._index is None:
            self._load()
        missing = [k for k in keys if k not in self._index]
        if missing:
            raise KeyError(f"{len(missing)} of {len(keys)} keys have no cached vector (first: {missing[0]}); "
                           "run `mmrakit images embed`")
        if not keys:
            dim = self._mats[0].shape[1] if self._mats else 0
            return np.zeros((0, dim), dtype=np.float32)
        return np.stack([self._mats[s][r] for s, r in (self._index[k] for k in keys)]).astype(np.float32, copy=False)

    def all(self) -> tuple[list[str], np.ndarray]:
        if self._index is None:
            self._load()
        keys = list(self._index)
        return keys, self.get(keys)
