"""Encoders: CLIP image batches (local DataLoader workers or Ray), CLIP text, vector normalisation.

Pure compute over a loaded model bundle (:mod:`mmrakit.modelhub.clip`); nothing here reads or
writes the workspace.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def l2_normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, 1e-12), dtype=np.float32)

def usable_device(device: str) -> str:
    import torch

    return device if device != "cuda" or torch.cuda.is_available() else "cpu"

def encode_texts(bundle, texts: list[str], batch_size: int = 256) -> np.ndarray:
    import torch

    outs = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            tok = bundle.tokenizer(texts[i:i + batch_size]).to(bundle.spec.device)
            outs.append(bundle.model.encode_text(tok).float().cpu().numpy())
    return l2_normalize(np.concatenate(outs)) if outs else np.zeros((0, bundle.dim), dtype=np.float32)

def image_fingerprint(bundle, draft: bool, decode: str) -> str:
    import hashlib

    return hashlib.sha256(f"{bundle.fingerprint}|draft={draft}|decode={decode}".encode()).hexdigest()[:16]

def resolve_decode(decode: str, device: str) -> str:
    return ("tensor" if device == "cuda" else "pil") if decode == "auto" else decode

def clip_batches_local(bundle, items: list[tuple[str, str]], *, batch_size: int, num_workers: int, draft: bool,
                        decode: str) -> Iterator[tuple[list[str], np.ndarray, list[tuple[str, str]]]]:
    """Yield (shas, vectors, failures) per batch, decoding in DataLoader workers."""
    import torch
    from torch.utils.data import DataLoader

    from .decode import ImageFileDataset, collate, decode_on_device

    ds = ImageFileDataset(items, bundle.preprocess, draft_size=bundle.image_size if draft else None,
                          raw_jpeg=(decode == "tensor"))
    loader = DataLoader(ds, batch_size=batch_size, num_workers=num_workers, collate_fn=collate,
                        pin_memory=(bundle.spec.device == "cuda"), persistent_workers=False,
                        prefetch_factor=4 if num_workers else None)
    dtype = next(bundle.model.parameters()).dtype
    with torch.inference_mode():
        for stacked, idx, raws, failed in loader:
            parts, order = [], []
            if stacked is not None:
                parts.append(stacked.to(bundle.spec.device, non_blocking=True))
                order += idx
            if raws:
                parts.append(decode_on_device([r for r, _ in raws], bundle.spec.device, bundle.image_size, bundle.mean,
                                              bundle.std, bundle.interpolation))
                order += [i for _, i in raws]
            vecs = np.zeros((0, bundle.dim), dtype=np.float32)
            if parts:
                x = torch.cat(parts).to(dtype)
                vecs = l2_normalize(bundle.model.encode_image(x).float().cpu().numpy())
            yield [items[i][0] for i in order], vecs, [(items[i][0], why) for i, why in failed]

def clip_batches_ray(spec_dict: dict, items: list[tuple[str, str]], *, batch_size: int, draft: bool, decode: str
                      ) -> Iterator[tuple[list[str], np.ndarray, list[tuple[str, str]]]]:
    """The same batches computed by a Ray Data actor pool (local Ray when no cluster is configured)."""
    from .executors import ray_session

    with ray_session() as ray:
        import ray.data

        ctx = ray.data.DataContext.get_current()
        ctx.execution_options.preserve_order = True
        ds = ray.data.from_items([{"sha": s, "path": p} for s, p in items])

        class ClipEmbedder:
            def __init__(self) -> None:
                from mmrakit.modelhub.clip import ClipSpec, load_clip

                self.bundle = load_clip(ClipSpec(**spec_dict))

            def __call__(self, batch: dict) -> dict:
                pairs = list(zip(batch["sha"].tolist(), batch["path"].tolist()))
                shas, vecs, failed = [], [], []
                for s, v, f in clip_batches_local(self.bundle, pairs, batch_size=len(pairs), num_workers=0, draft=draft,
                                                   decode=decode):
                    shas += s
                    vecs.append(v)
                    failed += f
                dim = self.bundle.dim
                mat = np.concatenate(vecs) if vecs else np.zeros((0, dim), np.float32)
                # one output row per input row; failures carry a reason and a zero vector
                reason = dict(failed)
                row = {s: r for s, r in zip(shas, mat)}
                return {
                    "sha": batch["sha"],
                    "vec": np.stack([row.get(s, np.zeros(dim, np.float32)) for s in batch["sha"].tolist()]),
                    "why": np.array([reason.get(s, "") for s in batch["sha"].tolist()], dtype=object),
                }

        out = ds.map_batches(ClipEmbedder, batch_size=batch_size, concurrency=1, batch_format="numpy")
        for b in out.iter_batches(batch_size=batch_size, batch_format="numpy"):
            shas = b["sha"].tolist()
            whys = [str(w) for w in b["why"].tolist()]
            ok = [i for i, w in enumerate(whys) if not w]
            yield [shas[i] for i in ok], np.asarray(b["vec"], np.float32)[ok], [(shas[i], whys[i]) for i in range(len(shas)) if whys[i]]
