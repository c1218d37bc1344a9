"""``hf:PATH_OR_ID``: a transformers vision-language model through the generic auto classes.

AutoProcessor + AutoModelForImageTextToText, the processor's chat template with several images
interleaved as the prompt says, left-padded batches, greedy unless a temperature is set,
CUDA when present. Images are handed over as PIL objects (no file paths inside messages).
In the QO setting a text-only language model also works (AutoModelForCausalLM + its tokenizer's
chat template), for MMRA's question-only baselines.
"""

from __future__ import annotations

from typing import Any

from mmrakit.errors import ConfigError
from mmrakit.modelhub.hf import generate, hf_fingerprint, load_hf

from .base import BatchBackend, Request

class HFBackend(BatchBackend):
    def __init__(self, path_or_id: str, *, temperature: float, seed: int | None, batch_size: int,
                 device: str = "auto", sees_images: bool = True) -> None:
        if not path_or_id:
            raise ConfigError("hf backend needs a model path or Hub id", hint="write the spec as hf:PATH_OR_ID")
        self.path_or_id = path_or_id
        self.spec = f"hf:{path_or_id}"
        self.fingerprint = hf_fingerprint(path_or_id)
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
        loaded = load_hf(self.path_or_id, device=self._device_pref, sees_images=self.sees_images)
        self._loaded = loaded
        self._processor, self._model, self._plain_text = loaded.processor, loaded.model, loaded.plain_text
        self.fingerprint = loaded.fingerprint

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

    def generate_batch(self, requests: list[Request]) -> list[str]:
        self._load()
        out: list[str] = [""] * len(requests)
        by_budget: dict[int, list[int]] = {}
        for i, r in enumerate(requests):
            by_budget.setdefault(r.max_new_tokens, []).append(i)
        for budget, idxs in by_budget.items():
            texts = generate(self._loaded, [self.messages(requests[i]) for i in idxs], max_new_tokens=budget,
                             temperature=self.temperature, seed=self.seed)
            for i, text in zip(idxs, texts):
                out[i] = text
        return out

    def close(self) -> None:
        self._model = self._processor = self._loaded = None

