"""CLIP image/concept embeddings and MiniLM caption embeddings, cached in shards per model fingerprint.

Layout (under the workspace): ``embeddings/<kind>/<fingerprint>/shard-*.npz`` plus
``embeddings/<kind>/CURRENT.json`` naming the fingerprint (and model spec) of the last
completed run, which is what :class:`EmbeddingStore` serves. Kinds: ``clip-image`` (keyed by
sha256), ``clip-text`` (keyed by concept URI) and ``caption`` (keyed by sha256).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from pydantic import Field

from mmrakit import atomic
from mmrakit.stage import StageReport
from mmrakit.workspace import Workspace

from .shards import ShardStore

log = logging.getLogger(__name__)
KINDS = ("clip-image", "clip-text", "caption")
Progress = Callable[[str, int, int], None]  # (task, done, total)


def l2_normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.ascontiguousarray(x / np.maximum(norms, 1e-12), dtype=np.float32)


def _pointer(ws: Workspace, kind: str) -> Path:
    return ws.path("embeddings", kind, "CURRENT.json")


def read_pointer(ws: Workspace, kind: str) -> dict | None:
    p = _pointer(ws, kind)
    return json.loads(p.read_text(encoding="utf-8")) if p.is_file() else None


def write_pointer(ws: Workspace, kind: str, info: dict) -> None:
    atomic.write_text(_pointer(ws, kind), json.dumps(info, indent=2, sort_keys=True))


def shard_store(ws: Workspace, kind: str, fingerprint: str) -> ShardStore:
    return ShardStore(ws.path("embeddings", kind, fingerprint))


class EmbeddingStore:
    """Read side: vectors of the last completed embed run (what builders and search use)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self._stores: dict[str, ShardStore | None] = {}
        self._clip = None

    def _store(self, kind: str) -> ShardStore | None:
        if kind not in self._stores:
            ptr = read_pointer(self.ws, kind)
            self._stores[kind] = shard_store(self.ws, kind, ptr["fingerprint"]) if ptr else None
        return self._stores[kind]

    def info(self, kind: str) -> dict | None:
        return read_pointer(self.ws, kind)

    def _get(self, kind: str, keys: list[str]) -> np.ndarray | None:
        store = self._store(kind)
        if store is None or len(store) == 0:
            return None
        return store.get(list(keys))

    def clip_image(self, shas: list[str]) -> np.ndarray | None:
        """L2-normalised CLIP image vectors; None when never computed (or CLIP was off)."""
        return self._get("clip-image", shas)

    def caption(self, shas: list[str]) -> np.ndarray | None:
        """Mean MiniLM caption vector per image, L2-normalised; None when never computed."""
        return self._get("caption", shas)

    def clip_concepts(self, uris: list[str]) -> np.ndarray | None:
        """"a photo of a {concept}" text vectors computed at embed time for the pool's concepts."""
        return self._get("clip-text", uris)

    def has(self, kind: str, keys: list[str]) -> np.ndarray:
        store = self._store(kind)
        return np.zeros(len(keys), dtype=bool) if store is None else store.has(list(keys))

    def all(self, kind: str) -> tuple[list[str], np.ndarray] | None:
        store = self._store(kind)
        return None if store is None or len(store) == 0 else store.all()

    def clip_text(self, texts: list[str]) -> np.ndarray | None:
        """Text vectors in the same space as :meth:`clip_image`; None when CLIP is disabled/unavailable."""
        from mmrakit.errors import OfflineError

        ptr = read_pointer(self.ws, "clip-image")
        if not self.ws.settings.clip.enabled and ptr is None:
            return None
        if self._clip is None:
            from mmrakit.modelhub.clip import ClipSpec, load_clip

            if ptr is not None:
                spec = ClipSpec(**ptr["spec"])
                spec.device = _usable_device(spec.device)
            else:
                spec = ClipSpec.from_settings(self.ws.settings.clip)
            try:
                self._clip = load_clip(spec)
            except OfflineError:
                return None
        return encode_texts(self._clip, list(texts))


def _usable_device(device: str) -> str:
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


# --- write side ------------------------------------------------------------------------------------

class EmbedReport(StageReport):
    clip: str = "off"
    clip_fingerprint: str | None = None
    clip_images: int = 0
    clip_cached: int = 0
    clip_failed: dict[str, int] = Field(default_factory=dict)
    clip_img_per_s: float | None = None
    concepts: int = 0
    captions_fingerprint: str | None = None
    caption_images: int = 0
    caption_cached: int = 0
    caption_per_s: float | None = None
    executor: str = "local"
    indexes: dict[str, Any] = Field(default_factory=dict)


def image_fingerprint(bundle, draft: bool, decode: str) -> str:
    import hashlib

    return hashlib.sha256(f"{bundle.fingerprint}|draft={draft}|decode={decode}".encode()).hexdigest()[:16]


def resolve_decode(decode: str, device: str) -> str:
    return ("tensor" if device == "cuda" else "pil") if decode == "auto" else decode


def _clip_batches_local(bundle, items: list[tuple[str, str]], *, batch_size: int, num_workers: int, draft: bool,
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


def _clip_batches_ray(spec_dict: dict, items: list[tuple[str, str]], *, batch_size: int, draft: bool, decode: str
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
                for s, v, f in _clip_batches_local(self.bundle, pairs, batch_size=len(pairs), num_workers=0, draft=draft,
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


def embed_clip_images(ws: Workspace, bundle, items: list[tuple[str, str]], *, executor: str = "local",
                      progress: Progress | None = None, report: EmbedReport | None = None) -> EmbedReport:
    """Embed every (sha, path) not already cached for this model; append shards as it goes."""
    cfg = ws.settings.clip
    report = report or EmbedReport()
    decode = resolve_decode(cfg.decode, bundle.spec.device)
    fp = image_fingerprint(bundle, cfg.draft_decode, decode)
    store = shard_store(ws, "clip-image", fp)
    have = store.keys()
    pending = [(s, p) for s, p in items if s not in have]
    report.clip, report.clip_fingerprint, report.clip_cached = bundle.spec.model, fp, len(items) - len(pending)
    report.executor = executor
    started, done = time.monotonic(), 0
    buf_keys: list[str] = []
    buf_vecs: list[np.ndarray] = []
    failures: dict[str, str] = {}
    if pending:
        if executor == "ray":
            batches = _clip_batches_ray(bundle.spec.as_dict(), pending, batch_size=cfg.batch_size, draft=cfg.draft_decode,
                                        decode=decode)
        else:
            batches = _clip_batches_local(bundle, pending, batch_size=cfg.batch_size, num_workers=cfg.num_workers,
                                          draft=cfg.draft_decode, decode=decode)
        for shas, vecs, failed in batches:
            buf_keys += shas
            buf_vecs.append(vecs)
            failures.update(failed)
            done += len(shas) + len(failed)
            if progress:
                progress("clip images", done, len(pending))
            while len(buf_keys) >= cfg.shard_size:
                mat = np.concatenate(buf_vecs)
                store.write(buf_keys[:cfg.shard_size], mat[:cfg.shard_size])
                buf_keys, buf_vecs = buf_keys[cfg.shard_size:], [mat[cfg.shard_size:]]
        if buf_keys:
            store.write(buf_keys, np.concatenate(buf_vecs))
    elapsed = time.monotonic() - started
    report.clip_images = len(items) - len(failures)
    report.clip_failed = {}
    for why in failures.values():
        key = why.split(":")[0]
        report.clip_failed[key] = report.clip_failed.get(key, 0) + 1
    _record_changed(ws, {s: w for s, w in failures.items() if w.startswith("changed")})
    if pending:
        report.clip_img_per_s = round((len(pending) - len(failures)) / max(elapsed, 1e-9), 2)
        log.info("clip: %d images in %.1fs (%.1f img/s, %s, %s)", len(pending), elapsed, report.clip_img_per_s,
                 bundle.spec.device, executor)
    write_pointer(ws, "clip-image", {"fingerprint": fp, "spec": bundle.spec.as_dict(), "dim": bundle.dim,
                                     "draft_decode": cfg.draft_decode, "decode": decode})
    return report


def _record_changed(ws: Workspace, changed: dict[str, str]) -> None:
    if not changed:
        return
    from mmrakit.util import now_iso

    from .store import ImagePool

    pool = ImagePool(ws)
    with ws.db as db:
        for sha in changed:
            rec = pool.get(sha)
            db.execute("INSERT OR IGNORE INTO images_changed (sha256, path, now_sha256, detected_at, detected_by) "
                       "VALUES (?, ?, NULL, ?, 'embed')", (sha, rec.path if rec else "", now_iso()))


def embed_concepts(ws: Workspace, bundle, concepts: list[str], *, image_fp: str, progress: Progress | None = None) -> int:
    """Text vectors for concept URIs with [clip] text_template (cached like image vectors)."""
    from .entities import concept_label

    store = shard_store(ws, "clip-text", image_fp)
    have = store.keys()
    pending = [c for c in concepts if c not in have]
    template = ws.settings.clip.text_template
    for i in range(0, len(pending), ws.settings.clip.shard_size):
        chunk = pending[i:i + ws.settings.clip.shard_size]
        store.write(chunk, encode_texts(bundle, [template.format(concept_label(c)) for c in chunk]))
        if progress:
            progress("concept texts", i + len(chunk), len(pending))
    write_pointer(ws, "clip-text", {"fingerprint": image_fp, "spec": bundle.spec.as_dict(), "dim": bundle.dim,
                                    "template": template})
    return len(pending)


def embed_captions(ws: Workspace, records: list[tuple[str, list[str]]], *, progress: Progress | None = None,
                   report: EmbedReport | None = None) -> EmbedReport:
    """Mean sentence-transformers vector of each image's captions (images without captions are skipped)."""
    from mmrakit.modelhub.clip import resolve_device
    from mmrakit.modelhub.text import caption_fingerprint, load_caption_model

    cfg = ws.settings.captions
    report = report or EmbedReport()
    fp = caption_fingerprint(cfg.model)
    store = shard_store(ws, "caption", fp)
    have = store.keys()
    pending = [(s, caps) for s, caps in records if caps and s not in have]
    report.captions_fingerprint, report.caption_cached = fp, sum(1 for s, caps in records if caps and s in have)
    started = time.monotonic()
    if pending:
        model = load_caption_model(cfg.model, device=resolve_device("auto"))
        shard = ws.settings.clip.shard_size
        for i in range(0, len(pending), shard):
            chunk = pending[i:i + shard]
            texts = [c for _, caps in chunk for c in caps]
            vecs = model.encode(texts, batch_size=cfg.batch_size, normalize_embeddings=True, convert_to_numpy=True,
                                show_progress_bar=False)
            out, at = [], 0
            for _, caps in chunk:
                out.append(vecs[at:at + len(caps)].mean(axis=0))
                at += len(caps)
            store.write([s for s, _ in chunk], l2_normalize(np.stack(out)))
            if progress:
                progress("captions", i + len(chunk), len(pending))
        report.caption_per_s = round(len(pending) / max(time.monotonic() - started, 1e-9), 2)
    report.caption_images = sum(1 for _, caps in records if caps)
    fresh = ShardStore(store.dir)
    keys = fresh.all()[0] if len(fresh) else []
    write_pointer(ws, "caption", {"fingerprint": fp, "model": cfg.model,
                                  "dim": int(fresh.get(keys[:1]).shape[1]) if keys else None})
    return report


def run_embed(ws: Workspace, *, clip: bool | None = None, captions: bool = True, executor: str | None = None,
              progress: Progress | None = None, force: bool = False) -> EmbedReport:
    """The `images embed` stage: CLIP images + concept texts, caption vectors, then the FAISS indexes."""
    import hashlib

    from .index import build_all_indexes
    from mmrakit.modelhub.clip import ClipSpec, clip_fingerprint
    from mmrakit.modelhub.text import caption_fingerprint
    from .store import ImagePool

    pool = ImagePool(ws)
    clip = ws.settings.clip.enabled if clip is None else clip
    executor = executor or ws.settings.execution.executor
    records = list(pool.records(include_excluded=True))
    changed = pool.changed()
    records = [r for r in records if r.sha256 not in changed and r.path]
    pool_digest = hashlib.sha256("\n".join(sorted(r.sha256 for r in records)).encode()).hexdigest()
    spec = ClipSpec.from_settings(ws.settings.clip) if clip else None
    run_settings = {"clip": ws.settings.clip.model_dump(mode="json") if clip else None,
                    "clip_fingerprint": clip_fingerprint(spec) if spec else None,
                    "captions": caption_fingerprint(ws.settings.captions.model) if captions else None,
                    "index": ws.settings.index.model_dump(mode="json")}
    report = EmbedReport(executor=executor)
    inputs, code_version = [{"pool": pool_digest}], "images.embed/1"
    bundle = None
    if clip and (force or not ws.runs.is_current("images.embed", inputs=inputs, settings=run_settings,
                                                 code_version=code_version)):
        from mmrakit.modelhub.clip import load_clip

        bundle = load_clip(spec)  # unavailable weights fail here, before a run is recorded
    with ws.stage_run("images.embed", inputs=inputs, settings=run_settings, code_version=code_version,
                      force=force) as run:
        if run.up_to_date:
            report.__dict__.update({k: v for k, v in run.previous_counts.items() if k in report.__dict__})
            report.up_to_date = True
            return report
        if bundle is not None:
            embed_clip_images(ws, bundle, [(r.sha256, str(pool.catalog.file_path(r))) for r in records], executor=executor,
                              progress=progress, report=report)
            concepts = [row[0] for row in ws.db.execute("SELECT DISTINCT concept FROM images_entities ORDER BY concept")]
            report.concepts = embed_concepts(ws, bundle, concepts, image_fp=report.clip_fingerprint, progress=progress)
        if captions:
            embed_captions(ws, [(r.sha256, r.captions) for r in records], progress=progress, report=report)
        report.indexes = build_all_indexes(ws)
        run.counts = report.counts()
    return report
