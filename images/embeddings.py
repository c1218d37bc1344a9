"""Write side of the embeddings: CLIP image/concept and MiniLM caption vectors into shards per model
fingerprint, resumable (what a shard already holds is not encoded again). The read side is
:mod:`.vectors`; the stage entry point (what to embed, the run record, indexes) is :mod:`.embed`.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from pydantic import Field

from mmrakit.stage import Progress, StageReport
from mmrakit.workspace import Workspace

from .encode import clip_batches_local, clip_batches_ray, encode_texts, image_fingerprint, l2_normalize, resolve_decode
from .shards import ShardStore
from .vectors import shard_store, write_pointer

log = logging.getLogger(__name__)


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
            batches = clip_batches_ray(bundle.spec.as_dict(), pending, batch_size=cfg.batch_size, draft=cfg.draft_decode,
                                        decode=decode)
        else:
            batches = clip_batches_local(bundle, pending, batch_size=cfg.batch_size, num_workers=cfg.num_workers,
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
