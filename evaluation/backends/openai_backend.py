"""``openai:MODEL``: any OpenAI-compatible chat-completions endpoint (vLLM, SGLang, Ollama, hosted APIs).

The client (retries, Retry-After, key handling) is the model layer's :mod:`mmrakit.modelhub.openai`;
this module turns a runner Request into its message: images travel as base64 data URLs in prompt order.
"""

from __future__ import annotations

import base64
import io
from typing import Any

from mmrakit.modelhub.openai import DEFAULT_BASE_URL, BackendError, OpenAIChat, RetryableError  # noqa: F401 (re-exported)

from ..items import ImageRef
from .base import AsyncBackend, Request

_MAGIC = ((b"\x89PNG", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF8", "image/gif"))


def data_url(image: ImageRef) -> str:
    data = image.data
    mime = next((m for magic, m in _MAGIC if data.startswith(magic)), None)
    if mime is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        mime = "image/webp"
    if mime is None:  # anything else (bmp, tiff, ...) is re-encoded as PNG
        buf = io.BytesIO()
        image.pil().save(buf, format="PNG")
        data, mime = buf.getvalue(), "image/png"
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def chat_content(request: Request, with_images: bool) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    for part in request.parts:
        if isinstance(part, str):
            if content and content[-1]["type"] == "text":
                content[-1]["text"] += part
            else:
                content.append({"type": "text", "text": part})
        elif with_images:
            content.append({"type": "image_url", "image_url": {"url": data_url(part)}})
    return content


class OpenAIBackend(OpenAIChat, AsyncBackend):
    """The runner's view of :class:`mmrakit.modelhub.openai.OpenAIChat`: a Request becomes one chat message."""

    def __init__(self, model: str, *, base_url: str | None, api_key_env: str, temperature: float, seed: int | None,
                 timeout_s: float, max_retries: int, retry_initial_s: float = 1.0, retry_max_s: float = 60.0,
                 sees_images: bool = True) -> None:
        OpenAIChat.__init__(self, model, base_url=base_url, api_key_env=api_key_env, temperature=temperature, seed=seed,
                            timeout_s=timeout_s, max_retries=max_retries, retry_initial_s=retry_initial_s,
                            retry_max_s=retry_max_s)
        self.sees_images = sees_images
        self.spec = f"openai:{model}"

    def body(self, request: Request) -> dict[str, Any]:
        return self.chat_body(chat_content(request, self.sees_images), request.max_new_tokens)

    async def agenerate(self, request: Request) -> str:
        return await self.send(self.body(request))
