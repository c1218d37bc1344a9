"""Local Hugging Face transformers models: a vision-language model (AutoProcessor +
AutoModelForImageTextToText) or, for question-only baselines, a text-only language model
(AutoModelForCausalLM + its tokenizer's chat template). One loader for the evaluation's ``hf:``
backend and for any stage that needs to ask a local model (annotator, model panels)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, OfflineError
from .clip import resolve_device
from .fingerprint import file_digest, fingerprint
from .hub import hub_unreachable, in_hub_cache

OFFLINE_HINT = ("download it on a connected machine (`hf download ID --local-dir DIR`) and use hf:DIR, "
                "or run where the Hub is reachable")


@dataclass
class HFModel:
    model: Any
    processor: Any
    plain_text: bool    # a text-only language model (its template takes a string)
    device: str
    fingerprint: str    # local folder: its files' content; Hub id: the resolved commit


def hf_fingerprint(path_or_id: str) -> str:
    """``hf:<folder>#<digest of its files>`` for a local folder, ``hf:<id>`` for a Hub id (refined to the
    commit once loaded)."""
    p = Path(path_or_id).expanduser()
    if not p.is_dir():
        return f"hf:{path_or_id}"
    files = sorted(f for f in p.iterdir() if f.is_file())
    return f"hf:{p.resolve()}#{fingerprint({f.name: file_digest(f) for f in files})}"


def load_hf(path_or_id: str, *, device: str = "auto", sees_images: bool = True) -> HFModel:
    """Load a local folder or a (cached, or reachable) Hub id; OfflineError / ConfigError say what to do."""
    local = Path(path_or_id).expanduser()
    source = str(local) if local.exists() else path_or_id
    if not local.exists() and (reason := hub_unreachable()) is not None and not in_hub_cache(path_or_id, ("config.json",)):
        raise OfflineError(f"hf:{path_or_id}: cannot load it from the Hugging Face Hub ({reason})", hint=OFFLINE_HINT)
    import torch
    from transformers import AutoModelForImageTextToText, AutoProcessor

    device = resolve_device(device)
    dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    plain_text = False
    try:
        processor = AutoProcessor.from_pretrained(source)
        try:
            model = AutoModelForImageTextToText.from_pretrained(source, dtype=dtype)
        except ValueError as exc:  # "Unrecognized configuration class": a text-only language model
            if sees_images:
                raise ConfigError(f"hf:{path_or_id} is not a vision-language model ({str(exc)[:160]})",
                                  hint="use --setting QO (or text-only:hf:...) to run a text-only model") from None
            from transformers import AutoModelForCausalLM

            model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
            plain_text = True
    except OSError as exc:
        if local.exists():
            raise ConfigError(f"{local}: not a loadable transformers vision-language model ({exc})") from None
        raise OfflineError(f"hf:{path_or_id}: cannot load it from the Hugging Face Hub ({str(exc)[:200]})",
                           hint=OFFLINE_HINT) from None
    tok = getattr(processor, "tokenizer", processor)
    if getattr(tok, "chat_template", None) is None and getattr(processor, "chat_template", None) is None:
        raise ConfigError(f"hf:{path_or_id} has no chat template", hint="use an instruction-tuned (chat) model")
    if tok is not None:
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
    fp = hf_fingerprint(path_or_id) if local.exists() else \
        f"hf:{path_or_id}@{getattr(model.config, '_commit_hash', None) or 'unknown'}"
    return HFModel(model.to(device).eval(), processor, plain_text, device, fp)


def _padding_kwargs(processor: Any) -> dict[str, Any]:
    """transformers >= 5 takes processor options as ``processor_kwargs``; older ones as kwargs."""
    import inspect

    params = inspect.signature(processor.apply_chat_template).parameters
    return {"processor_kwargs": {"padding": True}} if "processor_kwargs" in params else {"padding": True}


def generate(loaded: HFModel, conversations: list[list[dict[str, Any]]], *, max_new_tokens: int,
             temperature: float = 0.0, seed: int | None = None) -> list[str]:
    """One left-padded batch through the chat template; greedy unless ``temperature`` > 0. A text-only
    model's messages carry a string as content, a VLM's a list of text / image parts."""
    import torch

    inputs = loaded.processor.apply_chat_template(
        conversations, add_generation_prompt=True, tokenize=True, return_dict=True,
        return_tensors="pt", **_padding_kwargs(loaded.processor),
    ).to(loaded.model.device)
    kwargs: dict[str, Any] = {"max_new_tokens": max_new_tokens}
    if temperature > 0:
        kwargs.update(do_sample=True, temperature=temperature)
        if seed is not None:
            torch.manual_seed(seed)
    else:
        kwargs.update(do_sample=False)
    with torch.inference_mode():
        generated = loaded.model.generate(**inputs, **kwargs)
    new = generated[:, inputs["input_ids"].shape[1]:]
    return loaded.processor.batch_decode(new, skip_special_tokens=True)
