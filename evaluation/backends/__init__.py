"""Model backends, chosen by a SPEC string: openai:MODEL, hf:PATH_OR_ID, clip:MODEL[@PRETRAINED],
random, text-only:SPEC (the QO setting with any language backend), or a predictions file."""

from __future__ import annotations

from mmrakit.errors import ConfigError
from mmrakit.settings import ClipSettings, EvalSettings

from .base import AsyncBackend, Backend, BatchBackend, Request

SPEC_HELP = "openai:MODEL, hf:PATH_OR_ID, clip:MODEL[@PRETRAINED], random, text-only:SPEC"


def split_text_only(spec: str) -> tuple[str, bool]:
    """'text-only:openai:gpt-4o' -> ('openai:gpt-4o', True): the QO setting with that backend."""
    if spec == "text-only":
        raise ConfigError("text-only needs the language backend to run without images",
                          hint="e.g. text-only:openai:MODEL or text-only:hf:PATH (or pass --setting QO)")
    if spec.startswith("text-only:"):
        return spec[len("text-only:"):], True
    return spec, False


def make_backend(spec: str, settings: EvalSettings, clip: ClipSettings | None = None, *, text_only: bool = False) -> Backend:
    """``text_only``: the QO setting (no images will be sent; hf: may then load a plain language model)."""
    kind, _, rest = spec.partition(":")
    if kind == "openai":
        from .openai_backend import OpenAIBackend

        return OpenAIBackend(rest, base_url=settings.openai_base_url, api_key_env=settings.api_key_env,
                             temperature=settings.temperature, seed=settings.seed, timeout_s=settings.timeout_s,
                             max_retries=settings.max_retries, retry_initial_s=settings.retry_initial_s,
                             retry_max_s=settings.retry_max_s)
    if kind == "hf":
        from .hf_backend import HFBackend

        return HFBackend(rest, temperature=settings.temperature, seed=settings.seed, batch_size=settings.batch_size,
                         device=settings.device, sees_images=not text_only)
    if kind == "clip":
        from .clip_backend import ClipBackend

        clip = clip or ClipSettings()
        model, at, pretrained = rest.rpartition("@") if "@" in rest else (rest, "", "")
        if not at:
            model, pretrained = rest, (clip.pretrained if rest == clip.model else None)
        return ClipBackend(model, pretrained or None, batch_size=settings.batch_size, device=settings.device)
    if spec == "random":
        from .baselines import RandomBackend

        return RandomBackend(settings.seed)
    raise ConfigError(f"unknown model spec {spec!r}", hint=f"use one of: {SPEC_HELP}; or --predictions FILE")


__all__ = ["AsyncBackend", "Backend", "BatchBackend", "Request", "SPEC_HELP", "make_backend", "split_text_only"]
