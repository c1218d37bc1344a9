"""Turning image files into model input tensors, on CPU workers (PIL) or on the model's device.

``ImageFileDataset`` reads each file's bytes once, checks they still hash to the imported
sha256 (a changed file is reported, never embedded), and decodes with JPEG draft mode so a
4000 px photo is decoded at about the model's input size. In ``tensor`` mode JPEG bytes are
handed to :func:`decode_on_device` (torchvision's JPEG decoder, on the GPU when present).
"""

from __future__ import annotations

import hashlib

import numpy as np

JPEG_MAGIC = b"\xff\xd8\xff"


class ImageFileDataset:
    """Map-style dataset of (sha256, path): yields (tensor | raw bytes, index, status)."""

    def __init__(self, items: list[tuple[str, str]], preprocess, *, draft_size: int | None, raw_jpeg: bool = False,
                 verify: bool = True) -> None:
        self.items, self.preprocess, self.draft_size, self.raw_jpeg, self.verify = items, preprocess, draft_size, raw_jpeg, verify

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        from .validate import open_rgb

        sha, path = self.items[i]
        try:
            with open(path, "rb") as fh:
                data = fh.read()
        except OSError as exc:
            return None, i, f"missing: {exc}"
        if self.verify and hashlib.sha256(data).hexdigest() != sha:
            return None, i, "changed: the file's bytes no longer match the imported sha256"
        if self.raw_jpeg and data[:3] == JPEG_MAGIC:
            return np.frombuffer(data, dtype=np.uint8).copy(), i, "raw"
        try:
            img = open_rgb(data, draft_size=self.draft_size)
            return self.preprocess(img), i, "ok"
        except Exception as exc:  # noqa: BLE001 - one unreadable file must not stop the run
            return None, i, f"decode: {type(exc).__name__}: {exc}"


def collate(batch):
    """Keep tensors, raw bytes and failures apart (the default collate would choke on None)."""
    import torch

    tensors = [(x, i) for x, i, s in batch if s == "ok"]
    raws = [(x, i) for x, i, s in batch if s == "raw"]
    failed = [(i, s) for x, i, s in batch if s not in ("ok", "raw")]
    stacked = torch.stack([x for x, _ in tensors]) if tensors else None
    return stacked, [i for _, i in tensors], raws, failed


def decode_on_device(raws: list[np.ndarray], device: str, size: int, mean, std, interpolation: str = "bicubic"):
    """JPEG bytes -> normalised (n, 3, size, size) float tensor, resize-shortest-side + center-crop like open_clip."""
    import torch
    import torch.nn.functional as F
    from torchvision.io import ImageReadMode, decode_jpeg

    datas = [torch.from_numpy(r) for r in raws]
    imgs = decode_jpeg(datas, mode=ImageReadMode.RGB, device=device, apply_exif_orientation=True)
    mean_t = torch.tensor(mean, device=device).view(3, 1, 1)
    std_t = torch.tensor(std, device=device).view(3, 1, 1)
    out = []
    for img in imgs:
        img = img.to(device).float().div_(255.0)
        _, h, w = img.shape
        scale = size / min(h, w)
        nh, nw = max(size, round(h * scale)), max(size, round(w * scale))
        img = F.interpolate(img[None], size=(nh, nw), mode=interpolation if interpolation in ("bilinear", "bicubic") else "bilinear",
                            align_corners=False, antialias=True)[0].clamp_(0, 1)
        top, left = (nh - size) // 2, (nw - size) // 2
        img = img[:, top:top + size, left:left + size]
        out.append((img - mean_t) / std_t)
    return torch.stack(out)
