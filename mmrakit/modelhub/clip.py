"""open_clip models: one loader for the image stage (embeddings) and the evaluation's clip baseline.

Weights come from a named pretrained tag (downloaded when online, found in the HF cache offline), a
local checkpoint file, a self-contained ``local-dir:`` folder, or ``hf-hub:org/repo``. A model's
*fingerprint* (config, weights, precision) keys the embedding and response caches, so changing any
of them never mixes outputs. Offline, a named tag that is not cached fails at once with OfflineError
(the one Hub check, :mod:`.hub`), before open_clip retries downloads.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, OfflineError
from .fingerprint import file_digest, fingerprint
from .hub import hub_unreachable, in_hub_cache

log = logging.getLogger(__name__)
LOCAL_DIR = "local-dir:"

CLIP_OPTIONS_HINT = (
    "options: (1) set [clip] pretrained to a local checkpoint file (.pt/.bin/.safetensors) for [clip] model; "
    "(2) set [clip] model = 'local-dir:/path' (open_clip_config.json + open_clip_model.safetensors); "
    "(3) run once with network so the tag is cached (HF_HOME); or (4) pass `--clip none` to skip CLIP "
    "(caption embeddings, hashes and near-dup dedup keep working)"
)


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
    return fingerprint(parts)


def needs_download(spec: ClipSpec) -> bool:
    """True when loading ``spec`` would fetch weights that are not in the local HF cache."""
    name, pretrained = spec.model, spec.pretrained
    if name.startswith(LOCAL_DIR) or not (pretrained or name.startswith("hf-hub:")):
        return False
    if pretrained and Path(pretrained).is_file():
        return False
    import open_clip

    if name.startswith("hf-hub:"):
        repo = name[len("hf-hub:"):]
    else:
        try:
            repo = (open_clip.get_pretrained_cfg(name, pretrained) or {}).get("hf_hub", "")
        except RuntimeError:  # unknown model/tag: load_clip says so with the options
            return False
    repo = repo.strip("/")
    return bool(repo) and not in_hub_cache(repo, ("open_clip_model.safetensors", "open_clip_pytorch_model.bin"))


def load_clip(spec: ClipSpec) -> ClipBundle:
    """Create the open_clip model (eval mode, on ``spec.device``); OfflineError when weights are unreachable."""
    import torch

    import open_clip

    if needs_download(spec) and (reason := hub_unreachable()) is not None:
        raise OfflineError(f"CLIP weights {spec.model!r}/{spec.pretrained!r} are not reachable offline: not on this "
                           f"machine, and the Hugging Face Hub is not reachable ({reason})", hint=CLIP_OPTIONS_HINT)
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
    except FileNotFoundError as exc:  # a local-dir or config that is not there
        raise ConfigError(f"CLIP model {name!r}: {exc} (not found)", hint=CLIP_OPTIONS_HINT) from None
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
