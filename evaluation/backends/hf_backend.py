"""``hf:PATH_OR_ID``: a transformers vision-language model through the generic auto classes.

AutoProcessor + AutoModelForImageTextToText, the processor's chat template with several images
interleaved as the prompt says, left-padded batches, greedy unless a temperature is set,
CUDA when present. Images are handed over as PIL objects (no file paths inside messages).
In the QO setting a text-only language model also works (AutoModelForCausalLM + its tokenizer's
chat template), for MMRA's question-only baselines.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from mmrakit.errors import ConfigError, OfflineError

from ..hub import hub_unreachable
from .base import BatchBackend, Request

_OFFLINE_HINT = ("download it on a connected machine (`hf download ID --local-dir DIR`) and use hf:DIR, "
                 "or run where the Hub is reachable")


def _in_hf_cache(repo_id: str) -> bool:
    """A model already in the local HF cache loads offline."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, "config.json"), str)
    except Exception:
        return False


def _fingerprint(path_or_id: str) -> str:
    p = Path(path_or_id).expanduser()
    if not p.is_dir():
        return f"hf:{path_or_id}"
    h = hashlib.sha256()
    for f in sorted(p.iterdir()):
        if f.is_file():
            h.update(f.name.encode())
            if f.suffix in (".json", ".jinja", ".txt"):
                h.update(f.read_bytes())
            else:
                st = f.stat()
                h.update(f"{st.st_size}:{int(st.st_mtime)}".encode())
    return f"hf:{p.resolve()}#{h.hexdigest()[:16]}"


class HFBackend(BatchBackend):
    def __init__(self, path_or_id: str, *, temperature: float, seed: int | None, batch_size: int,
                 device: str = "auto", sees_images: bool = True) -> None:
        if not path_or_id:
            raise ConfigError("hf backend needs a model path or Hub id", hint="write the spec as hf:PATH_OR_ID")
        self.path_or_id = path_or_id
        self.spec = f"hf:{path_or_id}"
        self.fingerprint = _fingerprint(path_or_id)
        self.temperature, self.seed = temperature, seed
        self.batch_size = batch_size
        self.sees_images = sees_images
        self.generation = {"temperature": temperature, "seed": seed}
        self._device_pref = device
        self._model: Any = None
        self._processor: Any = None
        self._plain_text = False

    def _load(self) -> None:
        if self._model is not None:
            return
        local = Path(self.path_or_id).expanduser()
        source = str(local) if local.exists() else self.path_or_id
        if not local.exists() and (reason := hub_unreachable()) is not None and not _in_hf_cache(self.path_or_id):
            raise OfflineError(f"hf:{self.path_or_id}: cannot load it from the Hugging Face Hub ({reason})",
                               hint=_OFFLINE_HINT)
        import torch
        from transformers import AutoModelForImageTextToText, AutoProcessor

        if self._device_pref == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        else:
            device = self._device_pref
        dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
        try:
            processor = AutoProcessor.from_pretrained(source)
            try:
                model = AutoModelForImageTextToText.from_pretrained(source, dtype=dtype)
            except ValueError as exc:  # "Unrecognized configuration class": a text-only language model
                if self.sees_images:
                    raise ConfigError(f"hf:{self.path_or_id} is not a vision-language model ({str(exc)[:160]})",
                                      hint="use --setting QO (or text-only:hf:...) to run a text-only model") from None
                from transformers import AutoModelForCausalLM

                model = AutoModelForCausalLM.from_pretrained(source, dtype=dtype)
                self._plain_text = True
        except OSError as exc:
            if local.exists():
                raise ConfigError(f"{local}: not a loadable transformers vision-language model ({exc})") from None
            raise OfflineError(
                f"hf:{self.path_or_id}: cannot load it from the Hugging Face Hub ({str(exc)[:200]})",
                hint=_OFFLINE_HINT,
            ) from None
        tok = getattr(processor, "tokenizer", processor)
        if getattr(tok, "chat_template", None) is None and getattr(processor, "chat_template", None) is None:
            raise ConfigError(f"hf:{self.path_or_id} has no chat template", hint="use an instruction-tuned (chat) model")
        if tok is not None:
            tok.padding_side = "left"
            if tok.pad_token is None:
                tok.pad_token = tok.eos_token
        self._processor, self._model = processor, model.to(device).eval()
        self.fingerprint = self.fingerprint if local.exists() else \
            f"hf:{self.path_or_id}@{getattr(model.config, '_commit_hash', None) or 'unknown'}"

    def messages(self, request: Request) -> list[dict[str, Any]]:
        if self._plain_text:  # a language model's template takes a string
            return [{"role": "user", "content": request.text}]
        content: list[dict[str, Any]] = []
        for part in request.parts:
            if isinstance(part, str):
                content.append({"type": "text", "text": part})
            elif self.sees_images:
                content.append({"type": "image", "image": part.pil()})
        return [{"role": "user", "content": content}]

    def _padding_kwargs(self) -> dict[str, Any]:
        """transformers >= 5 takes processor options as ``processor_kwargs``; older ones as kwargs."""
        import inspect

        params = inspect.signature(self._processor.apply_chat_template).parameters
        return {"processor_kwargs": {"padding": True}} if "processor_kwargs" in params else {"padding": True}

    def generate_batch(self, requests: list[Request]) -> list[str]:
        import torch

        self._load()
        out: list[str] = [""] * len(requests)
        by_budget: dict[int, list[int]] = {}
        for i, r in enumerate(requests):
            by_budget.setdefault(r.max_new_tokens, []).append(i)
        for budget, idxs in by_budget.items():
            conversations = [self.messages(requests[i]) for i in idxs]
            inputs = self._processor.apply_chat_template(
                conversations, add_generation_prompt=True, tokenize=True, return_dict=True,
                return_tensors="pt", **self._padding_kwargs(),
            ).to(self._model.device)
            kwargs: dict[str, Any] = {"max_new_tokens": budget}
            if self.temperature > 0:
                kwargs.update(do_sample=True, temperature=self.temperature)
                if self.seed is not None:
                    torch.manual_seed(self.seed)
            else:
                kwargs.update(do_sample=False)
            with torch.inference_mode():
                generated = self._model.generate(**inputs, **kwargs)
            new = generated[:, inputs["input_ids"].shape[1]:]
            texts = self._processor.batch_decode(new, skip_special_tokens=True)
            for i, text in zip(idxs, texts):
                out[i] = text
        return out

    def close(self) -> None:
        self._model = self._processor = None

