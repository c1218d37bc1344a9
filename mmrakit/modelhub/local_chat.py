"""A local Hugging Face vision-language model behind the same small interface as
:class:`.openai.ChatClient` (``chat(messages)``, ``map(jobs, on_result, concurrency)``), so a
stage asks a local model and an endpoint the same way. Messages use the OpenAI format (images as data
URLs); they are turned into the processor's chat format here. Responses go to the same cache.
"""

from __future__ import annotations

import base64
import io
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .cache import ResponseCache, cache_key
from .hf import hf_fingerprint, load_hf


def _to_hf(messages: list[dict]) -> list[dict]:
    from PIL import Image

    out = []
    for m in messages:
        content = m["content"]
        if isinstance(content, str):
            out.append({"role": m["role"], "content": [{"type": "text", "text": content}]})
            continue
        parts = []
        for c in content:
            if c.get("type") == "image_url":
                url = c["image_url"]["url"]
                data = base64.b64decode(url.split(",", 1)[1])
                parts.append({"type": "image", "image": Image.open(io.BytesIO(data)).convert("RGB")})
            elif c.get("type") == "text":
                parts.append({"type": "text", "text": c["text"]})
        out.append({"role": m["role"], "content": parts})
    return out


class LocalChatClient:
    def __init__(self, path_or_id: str, *, device: str = "auto", max_new_tokens: int = 256,
                 cache_path: str | Path | None = None) -> None:
        self.path_or_id = path_or_id
        self.device = device
        self.max_new_tokens = max_new_tokens
        self.fingerprint = hf_fingerprint(path_or_id)
        self.cache = ResponseCache(cache_path) if cache_path else None
        self._loaded = None
        self._lock = threading.Lock()  # one generate at a time: the model is not thread-safe
        self.calls = 0

    def _model(self):
        if self._loaded is None:
            self._loaded = load_hf(self.path_or_id, device=self.device)
            self.fingerprint = self._loaded.fingerprint
        return self._loaded

    def chat(self, messages: list[dict]) -> str:
        key = cache_key(self.fingerprint, messages, {"max_new_tokens": self.max_new_tokens, "do_sample": False})
        if self.cache is not None:
            hit = self.cache.get_many([key]).get(key)
            if hit is not None:
                return hit[0]
        import torch

        start = time.perf_counter()
        with self._lock:
            m = self._model()
            self.calls += 1
            inputs = m.processor.apply_chat_template(_to_hf(messages), add_generation_prompt=True, tokenize=True,
                                                     return_dict=True, return_tensors="pt").to(m.model.device)
            with torch.inference_mode():
                ids = m.model.generate(**inputs, max_new_tokens=self.max_new_tokens, do_sample=False)
            text = m.processor.batch_decode(ids[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)[0]
        if self.cache is not None:
            self.cache.put(key, self.fingerprint, text, time.perf_counter() - start)
        return text

    def map(self, jobs: list[tuple[str, list[dict]]], on_result: Callable[[str, str | None], None], *,
            concurrency: int = 1) -> None:
        for key, messages in jobs:  # a local model runs one request at a time
            on_result(key, self.chat(messages))

    def close(self) -> None:
        self._loaded = None
        if self.cache is not None:
            self.cache.close()
