"""The one weights fingerprint: sha256 of weight files (cached per path, size and mtime), so a cache
keyed by it never mixes outputs of different weights."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..util import sha256_file

_DIGESTS: dict[str, str] = {}


def file_digest(path: Path) -> str:
    """sha256 of a weights file, computed once per (path, size, mtime) in this process."""
    st = path.stat()
    key = f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"
    if key not in _DIGESTS:
        _DIGESTS[key] = sha256_file(path, chunk=1 << 22)
    return _DIGESTS[key]


def fingerprint(parts: dict[str, Any]) -> str:
    """16 hex digits over a model's identity: name/config, :func:`file_digest` of its weights, precision."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def local_weights(model: str, pretrained: str | None, prefix: str = "local-dir:") -> list[Path]:
    """The local weight files a model spec names: a ``local-dir:`` folder's files and/or a checkpoint file."""
    paths: list[Path] = []
    if model.startswith(prefix) and (d := Path(model[len(prefix):])).is_dir():
        paths += sorted(p for p in d.iterdir() if p.is_file())
    if pretrained and Path(pretrained).is_file():
        paths.append(Path(pretrained))
    return paths
