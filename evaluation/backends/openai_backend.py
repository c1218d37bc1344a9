"""``openai:MODEL``: any OpenAI-compatible chat-completions endpoint (vLLM, SGLang, Ollama, hosted APIs).

The client (retries, Retry-After, key handling) is the model layer's :mod:`mmrakit.modelhub.openai`;
this module turns a runner Request into its message: images travel as base64 data URLs in prompt order.
"""

from __future__ import annotations

from typing import Any

from mmrakit.modelhub.openai import (  # noqa: F401 (re-exported)
    DEFAULT_BASE_URL, BackendError, OpenAIChat, RetryableError, data_url_for,
)

from ..items import ImageRef
from .base import AsyncBackend, Request

def data_url(image: ImageRef) -> str:
    try:
        return data_url_for(image.data)
    except (OSError, ValueError):  # not decodable by PIL: the item's own error names it
        image.pil()
        raise


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
