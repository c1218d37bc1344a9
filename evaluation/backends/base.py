"""What every backend receives (a :class:`Request`) and the two ways it can answer.

``AsyncBackend`` s (remote APIs) answer one request per coroutine and the runner bounds how many
are in flight; ``BatchBackend`` s (local models) answer a list at a time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..items import ImageRef

Part = str | ImageRef


@dataclass
class Request:
    """One model call: text and images interleaved in the order the model must see them."""

    item_id: str
    format: str
    parts: list[Part]
    max_new_tokens: int
    choices: list[str] | None = None
    """Closed answer set (option letters, or Yes/No) for scoring backends; None for free answers."""
    option_texts: dict[str, str] | None = None
    question: str = ""
    label_pool: list[str] = field(default_factory=list)
    """ReMI: the labels of the item's task (for the random baseline)."""

    @property
    def images(self) -> list[ImageRef]:
        return [p for p in self.parts if isinstance(p, ImageRef)]

    @property
    def text(self) -> str:
        return "".join(p for p in self.parts if isinstance(p, str))

    def prompt_repr(self) -> str:
        """The prompt as text with ``<image:N>`` where each image goes (for the per-item log)."""
        out, n = [], 0
        for p in self.parts:
            if isinstance(p, str):
                out.append(p)
            else:
                n += 1
                out.append(f"<image:{n}>")
        return "".join(out)

    def key_parts(self) -> list[Any]:
        return [p if isinstance(p, str) else {"image": p.sha256} for p in self.parts]


class Backend:
    """Base: a spec string, a fingerprint (what the cache key names), and whether it sees images."""

    spec: str = ""
    fingerprint: str = ""
    sees_images: bool = True
    answers_per_item: bool = False
    """True when the response depends on the item id, not only on the prompt (saved predictions, the
    seeded random baseline): the runner then never shares one response between items with equal prompts."""
    batch_size: int = 1
    generation: dict[str, Any] = {}

    def close(self) -> None:  # release sockets / memory
        pass


class AsyncBackend(Backend):
    async def agenerate(self, request: Request) -> str:
        raise NotImplementedError

    async def aclose(self) -> None:
        pass


class BatchBackend(Backend):
    def generate_batch(self, requests: list[Request]) -> list[str]:
        raise NotImplementedError
