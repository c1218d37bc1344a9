"""The one OpenAI-compatible chat-completions client (vLLM, SGLang, Ollama, hosted APIs), for any stage.

Async httpx with the one retry policy (:mod:`.retry`: exponential backoff with jitter, honouring
Retry-After) on 429, 5xx, timeouts, dropped connections and malformed bodies. The API key comes from
the environment variable named in the settings and is never logged, cached or written anywhere.
The runner's ``openai:`` backend and the build-time model panels use :class:`OpenAIChat`; stages that
run synchronously (the annotator) use :class:`ChatClient`, a thin sync adapter over it that adds the
response cache and bounded concurrency.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from ..errors import ConfigError, MmrakitError
from .cache import ResponseCache, cache_key
from .retry import aretrying

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


def data_url_for(image: bytes | str | Path, max_side: int | None = None) -> str:
    """An image (bytes or a file) as a base64 data URL. Without ``max_side`` the bytes go as they are
    (formats other than PNG/JPEG/GIF/WebP are re-encoded as PNG); with it the image is downscaled so its
    longer side is at most ``max_side`` and sent as JPEG."""
    import base64
    import io

    data = image if isinstance(image, bytes) else Path(image).read_bytes()
    if max_side is not None:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            im = im.convert("RGB")
            im.thumbnail((max_side, max_side))
            buf = io.BytesIO()
            im.save(buf, format="JPEG", quality=90)
        return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")
    mime = next((m for magic, m in _MAGIC if data.startswith(magic)), None)
    if mime is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        mime = "image/webp"
    if mime is None:
        from PIL import Image

        buf = io.BytesIO()
        Image.open(io.BytesIO(data)).convert("RGB").save(buf, format="PNG")
        data, mime = buf.getvalue(), "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


class BackendError(MmrakitError):
    """A model call failed for good. ``fatal``: every call would fail the same way (bad key, unknown
    model), so the run stops instead of recording the same error for every item."""

    def __init__(self, message: str, *, hint: str | None = None, fatal: bool = False) -> None:
        super().__init__(message, hint=hint)
        self.fatal = fatal


class RetryableError(Exception):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class OpenAIChat:
    """``await chat.complete(content, max_tokens)`` -> the reply text; ``content`` is the user message's
    parts (``[{"type": "text", ...}, {"type": "image_url", ...}]``) or a plain string."""

    def __init__(self, model: str, *, base_url: str | None, api_key_env: str, temperature: float, seed: int | None,
                 timeout_s: float, max_retries: int, retry_initial_s: float = 1.0, retry_max_s: float = 60.0) -> None:
        if not model:
            raise ConfigError("openai backend needs a model name", hint="write the spec as openai:MODEL, e.g. openai:gpt-4o")
        self.model = model
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
        self._api_key_env = api_key_env
        key = os.environ.get(api_key_env)
        if not key and self.base_url == DEFAULT_BASE_URL:
            raise ConfigError(f"${api_key_env} is not set and the endpoint is {DEFAULT_BASE_URL}",
                              hint=f"export {api_key_env}=... or point the base URL (or $OPENAI_BASE_URL) at a local server")
        self._headers = {"Authorization": f"Bearer {key}"} if key else {}
        self.temperature, self.seed = temperature, seed
        self.timeout_s, self.max_retries = timeout_s, max_retries
        self.retry_initial_s, self.retry_max_s = retry_initial_s, retry_max_s
        self.fingerprint = f"openai:{model}@{self.base_url}"
        self.generation = {"temperature": temperature, "seed": seed}
        self.calls = 0
        self.retries = 0
        self._client: httpx.AsyncClient | None = None
        self.connections = 16  # callers set it to their concurrency

    def _get_client(self) -> httpx.AsyncClient:
        if self._client is None:
            # as many connections as requests in flight: kept alive and reused, no pool scans over idle ones
            limits = httpx.Limits(max_connections=self.connections, max_keepalive_connections=self.connections)
            self._client = httpx.AsyncClient(timeout=httpx.Timeout(self.timeout_s), limits=limits, headers=self._headers)
        return self._client

    def chat_body(self, content: list[dict[str, Any]] | str, max_tokens: int) -> dict[str, Any]:
        return self.messages_body([{"role": "user", "content": content}], max_tokens)

    def messages_body(self, messages: list[dict[str, Any]], max_tokens: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": self.temperature,
            "max_tokens": max_tokens,
        }
        if self.seed is not None:
            body["seed"] = self.seed
        return body

    async def _call_once(self, body: dict[str, Any]) -> str:
        self.calls += 1
        try:
            resp = await self._get_client().post(f"{self.base_url}/chat/completions", json=body)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise RetryableError(f"{type(exc).__name__} talking to {self.base_url}") from None
        if resp.status_code == 429 or resp.status_code >= 500:
            raise RetryableError(f"HTTP {resp.status_code} from {self.base_url}", _retry_after(resp))
        if resp.status_code >= 400:
            hint = f"check ${self._api_key_env}" if resp.status_code in (401, 403) else "check the model name and endpoint"
            raise BackendError(f"HTTP {resp.status_code} from {self.base_url}/chat/completions: {resp.text[:300]}",
                               hint=hint, fatal=True)
        try:
            message = resp.json()["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise RetryableError(f"malformed response body from {self.base_url}: {resp.text[:120]!r}") from None
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):  # some servers return content parts
            content = "".join(c.get("text", "") for c in content if isinstance(c, dict))
        return content or ""

    async def send(self, body: dict[str, Any]) -> str:
        """POST ``body`` with the retry policy; BackendError when it fails for good."""
        retrying = aretrying(RetryableError, max_retries=self.max_retries, initial_s=self.retry_initial_s,
                             max_s=self.retry_max_s, jitter=True)
        try:
            async for attempt in retrying:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        self.retries += 1
                    return await self._call_once(body)
        except RetryableError as exc:
            raise BackendError(f"{exc} (gave up after {self.max_retries + 1} attempts)",
                               hint="the run can be resumed: finished answers are cached") from None
        raise AssertionError("unreachable")

    async def complete(self, content: list[dict[str, Any]] | str, max_tokens: int) -> str:
        return await self.send(self.chat_body(content, max_tokens))

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


class ChatClient:
    """A synchronous view of :class:`OpenAIChat` for stages: ``chat(messages)`` -> the reply text and
    ``map(jobs, on_result, concurrency)`` with at most ``concurrency`` requests in flight, both through
    the response cache (:mod:`.cache`). Same wire format, retries and errors as the async client."""

    def __init__(self, base_url: str, model: str, *, api_key_env: str = "OPENAI_API_KEY", max_retries: int = 4,
                 timeout_s: float = 60.0, cache_path: str | Path | None = None, max_tokens: int = 256,
                 backoff_s: float = 0.5) -> None:
        self.inner = OpenAIChat(model, base_url=base_url, api_key_env=api_key_env, temperature=0.0, seed=None,
                                timeout_s=timeout_s, max_retries=max_retries, retry_initial_s=backoff_s, retry_max_s=10.0)
        self.max_tokens = max_tokens
        self.fingerprint = self.inner.fingerprint
        self.cache = ResponseCache(cache_path) if cache_path else None

    @property
    def calls(self) -> int:
        return self.inner.calls

    def _generation(self) -> dict:
        return {"temperature": 0.0, "max_tokens": self.max_tokens}

    async def _achat(self, messages: list[dict]) -> str:
        key = cache_key(self.fingerprint, messages, self._generation())
        if self.cache is not None:
            hit = self.cache.get_many([key]).get(key)
            if hit is not None:
                return hit[0]
        start = time.perf_counter()
        text = await self.inner.send(self.inner.messages_body(messages, self.max_tokens))
        if self.cache is not None:
            self.cache.put(key, self.fingerprint, text, time.perf_counter() - start)
        return text

    async def _run(self, coro_fn: Callable[[], Any]) -> Any:
        try:
            return await coro_fn()
        finally:
            await self.inner.aclose()  # the async client belongs to this event loop

    def chat(self, messages: list[dict]) -> str:
        """One completion (cached); BackendError when the retries ran out or the request is refused."""
        return asyncio.run(self._run(lambda: self._achat(messages)))

    def map(self, jobs: list[tuple[str, list[dict]]], on_result: Callable[[str, str | None], None], *,
            concurrency: int = 8) -> None:
        """Run ``(key, messages)`` jobs with at most ``concurrency`` in flight; ``on_result(key, text)`` is
        called in the caller's thread as each finishes (``text`` None when that request failed for good)."""
        limit = max(1, concurrency)
        self.inner.connections = limit

        async def one(sem: asyncio.Semaphore, key: str, messages: list[dict]) -> tuple[str, str | None]:
            async with sem:
                try:
                    return key, await self._achat(messages)
                except BackendError:
                    return key, None

        async def run_all() -> None:
            sem = asyncio.Semaphore(limit)
            for fut in asyncio.as_completed([one(sem, k, m) for k, m in jobs]):
                on_result(*(await fut))

        asyncio.run(self._run(run_all))

    def close(self) -> None:
        if self.cache is not None:
            self.cache.close()
