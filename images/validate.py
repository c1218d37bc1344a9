"""Decode an image fully, decide whether it may enter the pool, and normalise it to RGB.

Validation never raises for a bad file: it returns a :class:`Verdict` with a quarantine reason,
so one broken file cannot stop an import of a million.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

QuarantineReason = Literal[
    "missing", "zero_byte", "not_an_image", "unsupported", "decompression_bomb", "truncated", "corrupt",
    "too_small", "extreme_aspect",
]

# Magic numbers of image formats PIL cannot decode here (or that we refuse): a file that starts
# like one of these is "unsupported", not "not an image".
_FOREIGN_IMAGE_MAGIC: tuple[tuple[int, bytes, str], ...] = (
    (4, b"ftypheic", "HEIC"), (4, b"ftypheix", "HEIC"), (4, b"ftypmif1", "HEIF"), (4, b"ftypavif", "AVIF"),
    (0, b"\xff\x0a", "JPEG XL"), (0, b"\x00\x00\x00\x0cJXL ", "JPEG XL"), (0, b"<svg", "SVG"), (0, b"<?xml", "SVG/XML"),
    (0, b"8BPS", "PSD"), (0, b"\x00\x00\x01\x00", "ICO"), (0, b"%!PS", "EPS"),
)


@dataclass(frozen=True)
class Verdict:
    """The outcome of validating one file's bytes."""

    sha256: str | None
    ok: bool
    reason: str | None = None
    detail: str = ""
    width: int = 0
    height: int = 0
    format: str | None = None
    mode: str | None = None
    image: Image.Image | None = None  # the normalised RGB image when ok (for hashing at import)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def to_rgb(img: Image.Image) -> Image.Image:
    """EXIF-orient, take the first frame of animations, and convert any mode to 8-bit RGB."""
    if getattr(img, "is_animated", False):
        img.seek(0)
    img = ImageOps.exif_transpose(img) or img
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype("uint8")
        return Image.fromarray(arr, "L").convert("RGB")
    if mode == "F":
        import numpy as np

        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = ((arr - lo) / (hi - lo or 1.0) * 255.0).astype("uint8")
        return Image.fromarray(arr, "L").convert("RGB")
    if mode == "P":
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")  # CMYK, YCbCr, L, 1, LAB, HSV


def _foreign_format(head: bytes) -> str | None:
    stripped = head.lstrip()
    for offset, magic, name in _FOREIGN_IMAGE_MAGIC:
        if head[offset:offset + len(magic)] == magic or (offset == 0 and stripped.startswith(magic)):
            return name
    return None


def validate_bytes(
    data: bytes,
    *,
    max_pixels: int,
    min_side: int,
    max_aspect: float,
    allowed_formats: tuple[str, ...] | list[str],
    keep_image: bool = True,
) -> Verdict:
    """Decode ``data`` completely and return a verdict (never raises for bad image data)."""
    if not data:
        return Verdict(None, False, "zero_byte", "the file is empty")
    sha = sha256_bytes(data)
    Image.MAX_IMAGE_PIXELS = max_pixels  # PIL's own guard fires at 2x this; we check exactly below
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            fmt, mode, (w, h) = img.format, img.mode, img.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return Verdict(sha, False, "decompression_bomb", str(exc))
    except UnidentifiedImageError:
        foreign = _foreign_format(data[:32])
        if foreign:
            return Verdict(sha, False, "unsupported", f"{foreign} is not a supported image format")
        return Verdict(sha, False, "not_an_image", "no image format recognises these bytes")
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a verdict, not a crash
        return Verdict(sha, False, "corrupt", f"{type(exc).__name__}: {exc}")
    if fmt not in allowed_formats:
        return Verdict(sha, False, "unsupported", f"{fmt} is not in [images] allowed_formats", w, h, fmt, mode)
    if w * h > max_pixels:
        return Verdict(sha, False, "decompression_bomb", f"{w}x{h} = {w * h} pixels > max_pixels {max_pixels}",
                       w, h, fmt, mode)
    try:
        img.load()
        if getattr(img, "is_animated", False):
            img.seek(0)
        rgb = to_rgb(img)
        rgb.load()
    except (OSError, SyntaxError, EOFError, ValueError) as exc:
        msg = f"{type(exc).__name__}: {exc}"
        reason = "truncated" if any(s in str(exc).lower() for s in ("truncat", "end of file", "eof", "broken data stream",
                                                                     "premature")) else "corrupt"
        return Verdict(sha, False, reason, msg, w, h, fmt, mode)
    except Exception as exc:  # noqa: BLE001
        return Verdict(sha, False, "corrupt", f"{type(exc).__name__}: {exc}", w, h, fmt, mode)
    w, h = rgb.size  # after EXIF orientation
    if min(w, h) < min_side:
        return Verdict(sha, False, "too_small", f"{w}x{h}: shorter side < min_side {min_side}", w, h, fmt, mode)
    if max(w, h) / min(w, h) > max_aspect:
        return Verdict(sha, False, "extreme_aspect", f"{w}x{h}: aspect {max(w, h) / min(w, h):.1f} > max_aspect {max_aspect}",
                       w, h, fmt, mode)
    return Verdict(sha, True, None, "", w, h, fmt, mode, rgb if keep_image else None)


def open_rgb(data_or_path, *, draft_size: int | None = None) -> Image.Image:
    """Open bytes or a path as normalised RGB; ``draft_size`` lets JPEG decode at a reduced scale."""
    img = Image.open(io.BytesIO(data_or_path) if isinstance(data_or_path, (bytes, bytearray)) else data_or_path)
    if draft_size and img.format == "JPEG":
        img.draft("RGB", (draft_size, draft_size))
    return to_rgb(img)
