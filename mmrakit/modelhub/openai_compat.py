"""A small synchronous OpenAI-compatible chat client for stages (the annotator): bounded concurrency
(a thread pool), the layer's one retry policy (:mod:`.retry`), and the response cache (:mod:`.cache`).

The evaluation runner keeps its async batched backend; this one serves stages that may not import
``evaluation/``. Both speak the same wire format (chat completions, images as data URLs).
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import httpx

from .cache import ResponseCache, cache_key
from .retry import retrying


class RetryableError(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def image_data_url(path: str | Path, max_side: int = 768) -> str:
    """JPEG data URL of the image, downscaled so its longer side is at most ``max_side``."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB")
        im.thumbnail((max_side, max_side))
        buf = io.BytesIO()
        im.save(buf, format="JPEG", quality=90)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class ChatClient:
    def __init__(self, base_url: str, model: str, *, api_key: str | None = None, max_retries: int = 4,
                 timeout_s: float = 60.0, cache_path: str | Path | None = None, max_tokens: int = 256,
                 backoff_s: float = 0.5) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.max_tokens = max_tokens
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(timeout=timeout_s, headers=headers,
                                  limits=httpx.Limits(max_connections=256, max_keepalive_connections=256))
        self.cache = ResponseCache(cache_path) if cache_path else None
        self.fingerprint = f"openai:{base_url}:{model}"
        self.calls = 0

    def _generation(self) -> dict:
        return {"temperature": 0.0, "max_tokens": self.max_tokens}

    def chat(self, messages: list[dict]) -> str:
        """One completion (cached); retries 429/5xx/timeouts with backoff, honouring Retry-After."""
        key = cache_key(self.fingerprint, messages, self._generation())
        if self.cache is not None:
            hit = self.cache.get_many([key]).get(key)
            if hit is not None:
                return hit[0]
        start = time.perf_counter()
        for attempt in retrying((RetryableError, httpx.TransportError), max_retries=self.max_retries,
                                initial_s=self.backoff_s, max_s=10.0):
            with attempt:
                self.calls += 1
                r = self._http.post(self.url, json={"model": self.model, "messages": messages, **self._generation()})
                if r.status_code == 429 or r.status_code >= 500:
                    ra = r.headers.get("retry-after")
                    raise RetryableError(f"HTTP {r.status_code}", float(ra) if ra and ra.replace(".", "").isdigit() else None)
                r.raise_for_status()
                try:
                    text = r.json()["choices"][0]["message"]["content"]
                except (json.JSONDecodeError, KeyError, IndexError, TypeError) as exc:
                    raise RetryableError(f"malformed response: {exc}") from None
        if self.cache is not None:
            self.cache.put(key, self.fingerprint, text, time.perf_counter() - start)
        return text

    def map(self, jobs: list[tuple[str, list[dict]]], on_result: Callable[[str, str | None], None], *,
            concurrency: int = 8) -> None:
        """Run ``(key, messages)`` jobs with at most ``concurrency`` in flight; ``on_result(key, text)`` is
        called in the caller's thread as each finishes (``text`` None after the retries ran out)."""
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            futures = {pool.submit(self.chat, m): k for k, m in jobs}
            for fut in as_completed(futures):
                try:
                    text = fut.result()
                except (RetryableError, httpx.HTTPError):
                    text = None
                on_result(futures[fut], text)

    def close(self) -> None:
        self._http.close()
        if self.cache is not None:
            self.cache.close()
