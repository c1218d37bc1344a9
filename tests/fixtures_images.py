"""Helpers for the images tests: a tiny random-init open_clip model saved to disk, and generated images.

The tiny model goes through the real open_clip load paths (a checkpoint file with a model-config
JSON, and a self-contained ``local-dir:``); it is built once per test session and cached on disk.
"""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

TINY_CLIP_CFG = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 16},
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}


def build_tiny_clip(root: Path) -> dict[str, Path]:
    """Save ``tiny-clip`` as (config JSON + .pt checkpoint) and as a local-dir; returns their paths."""
    out = {"config": root / "tiny-clip.json", "checkpoint": root / "tiny-clip.pt", "local_dir": root / "tiny-local"}
    if out["checkpoint"].exists() and (out["local_dir"] / "open_clip_model.safetensors").exists():
        return out
    import open_clip
    import torch
    from safetensors.torch import save_file

    root.mkdir(parents=True, exist_ok=True)
    out["config"].write_text(json.dumps(TINY_CLIP_CFG))
    open_clip.add_model_config(out["config"])
    torch.manual_seed(1234)
    model, _, _ = open_clip.create_model_and_transforms("tiny-clip", pretrained=None)
    torch.save({"state_dict": model.state_dict()}, out["checkpoint"])
    out["local_dir"].mkdir(exist_ok=True)
    (out["local_dir"] / "open_clip_config.json").write_text(json.dumps({"model_cfg": TINY_CLIP_CFG}))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out["local_dir"] / "open_clip_model.safetensors"))
    return out


def use_tiny_clip(ws, paths: dict[str, Path], *, local_dir: bool = False, shard_size: int = 4096, num_workers: int = 0) -> None:
    s = ws.settings
    if local_dir:
        s.clip.model, s.clip.pretrained = f"local-dir:{paths['local_dir']}", None
    else:
        s.clip.model, s.clip.pretrained = str(paths["config"]), str(paths["checkpoint"])
    s.clip.batch_size, s.clip.shard_size, s.clip.num_workers = 16, shard_size, num_workers
    ws.save_settings()


def photo(seed: int, size=(96, 72)) -> Image.Image:
    """A synthetic 'photo': smooth random blobs (distinct seeds give distinct images)."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.zeros((h, w, 3))
    for _ in range(6):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(8, 30)
        color = rng.uniform(0, 255, 3)
        mask = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))[..., None]
        img = img * (1 - mask) + color * mask
    return Image.fromarray(img.clip(0, 255).astype("uint8"), "RGB")


def jpeg_bytes(img: Image.Image, quality: int = 90, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, **kw)
    return buf.getvalue()


def write_bad_images(folder: Path, *, bomb_pixels: int) -> dict[str, str]:
    """One file per quarantine reason; returns {file name: expected reason}."""
    folder.mkdir(parents=True, exist_ok=True)
    good = jpeg_bytes(photo(1, (200, 150)))
    expected = {}

    def put(name: str, data: bytes, reason: str) -> None:
        (folder / name).write_bytes(data)
        expected[name] = reason

    put("empty.jpg", b"", "zero_byte")
    put("truncated.jpg", good[: len(good) // 2], "truncated")
    put("notes.dat", b"this is plainly text, not pixels\n" * 10, "not_an_image")
    put("photo.heic", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64, "unsupported")
    # a PNG header claiming a huge canvas (PIL reads the size from IHDR before decoding)
    side = int(bomb_pixels ** 0.5) + 10
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    idat = zlib.compress(b"\x00" * 16)
    png += struct.pack(">I", len(idat)) + b"IDAT" + idat + struct.pack(">I", zlib.crc32(b"IDAT" + idat))
    png += struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND"))
    put("bomb.png", png, "decompression_bomb")
    put("tiny.png", _png(photo(2, (20, 20))), "too_small")
    put("banner.png", _png(photo(3, (900, 60))), "extreme_aspect")
    ico = io.BytesIO()
    photo(4, (64, 64)).save(ico, "ICO")
    put("icon.ico", ico.getvalue(), "unsupported")
    return expected


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()
