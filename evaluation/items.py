"""What the runner evaluates: one benchmark item with its images, in either MMRA or ReMI form."""

from __future__ import annotations

import hashlib
import io
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mmrakit.errors import InputError

Format = Literal["mmra", "remi"]


class ImageRef:
    """An image given as bytes or as a file path; hashed and decoded only when needed."""

    def __init__(self, data: bytes | None = None, path: str | Path | None = None) -> None:
        if data is None and path is None:
            raise ValueError("ImageRef needs bytes or a path")
        self._data = data
        self.path = Path(path) if path is not None else None

    @property
    def data(self) -> bytes:
        if self._data is None:
            try:
                return self.path.read_bytes()  # type: ignore[union-attr]
            except OSError as exc:
                raise InputError(f"{self.path}: cannot read image ({exc.strerror})",
                                 hint="check that the dataset's image files are where its rows say") from None
        return self._data

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def pil(self):  # -> PIL.Image.Image
        from PIL import Image

        try:
            img = Image.open(io.BytesIO(self.data))
            img.load()
        except Exception as exc:  # PIL raises several types for broken files
            where = self.path or f"image {self.sha256[:12]}"
            raise InputError(f"{where}: not a readable image ({exc})") from None
        return img.convert("RGB")

    def __repr__(self) -> str:
        return f"ImageRef(path={str(self.path) if self.path else None!r}, bytes={self._data is not None})"


class EvalItem(BaseModel):
    """One item: MMRA (two images, Choice or Yes/No) or ReMI (2-6 interleaved images, free answer)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    id: str
    format: Format
    task: str = Field(description="MMRA subtask (canonical name when known) or ReMI task")
    level: str | None = Field(None, description="MMRA granularity: entity / image (None for ReMI)")
    qa_type: str | None = None
    question: str
    options: dict[str, str] | None = None
    answer: str = Field(description="Gold answer: option letter / Yes / No (MMRA) or label (ReMI)")
    images: list[ImageRef | None] = Field(description="MMRA: [image1, image2]; ReMI: image_K at index K-1 (None = empty slot)")
    order_probe: bool = False
    twin_of: str | None = None
    pair_id: str | None = Field(None, description="Items sharing it form a NaturalBench-style group (counterfactual partners)")

    def present_images(self) -> list[tuple[int, ImageRef]]:
        """(K, image) for the non-empty slots, K 1-based."""
        return [(k + 1, img) for k, img in enumerate(self.images) if img is not None]


def image_from_value(value: Any, *, root: Path | None, where: str) -> ImageRef | None:
    """Accept what datasets/parquet hand back for an image cell: bytes, a path, a {'bytes','path'}
    struct, or a PIL image. Relative paths are resolved against ``root`` (the dataset folder)."""
    if value is None:
        return None
    if isinstance(value, (bytes, bytearray)):
        return ImageRef(data=bytes(value)) if value else None
    if isinstance(value, dict):
        if value.get("bytes"):
            return ImageRef(data=bytes(value["bytes"]))
        if value.get("path"):
            return image_from_value(str(value["path"]), root=root, where=where)
        return None
    if isinstance(value, (str, Path)):
        if not str(value):
            return None
        p = Path(value)
        if not p.is_absolute() and root is not None:
            p = root / p
        if not p.is_file():
            raise InputError(f"{where}: image file {p} does not exist",
                             hint="relative image paths are resolved against the dataset's folder")
        return ImageRef(path=p)
    if hasattr(value, "save"):  # a PIL image
        buf = io.BytesIO()
        value.save(buf, format="PNG")
        return ImageRef(data=buf.getvalue())
    raise InputError(f"{where}: unsupported image value of type {type(value).__name__}")
