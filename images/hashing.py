"""64-bit perceptual hashes of an image: the whole frame and two centre crops.

Comparing every variant of one image with the whole-frame hash of another tolerates slight
crops (a copy cropped by a few percent matches a centre crop of the original) as well as
re-encoding, resizing and mild recolouring (pHash works on luminance).
"""

from __future__ import annotations

import numpy as np

CROPS = (0.0, 0.05, 0.10)  # fraction trimmed from each side: full frame, 5%, 10%


def _bits_to_int(bits: np.ndarray) -> int:
    return int.from_bytes(np.packbits(bits.astype(bool).flatten()).tobytes(), "big")


def phash_variants(img) -> tuple[int, int, int]:
    import imagehash

    gray = img.convert("L")
    out = []
    w, h = gray.size
    for f in CROPS:
        g = gray if f == 0 else gray.crop((int(w * f), int(h * f), w - int(w * f), h - int(h * f)))
        out.append(_bits_to_int(imagehash.phash(g).hash))
    return tuple(out)  # type: ignore[return-value]


def to_codes(hashes: np.ndarray) -> np.ndarray:
    """uint64[n] -> uint8[n, 8] big-endian codes (faiss binary index layout)."""
    return np.ascontiguousarray(hashes.astype(">u8").view(np.uint8).reshape(-1, 8))
