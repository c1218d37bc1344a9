"""``images.embed``: embed the pool (CLIP images and concept names, captions), then build the indexes.

One run record per pool/settings signature (:meth:`Workspace.stage_run`); CLIP weights are loaded
before the record opens, so unavailable weights fail without leaving a failed run behind.
"""

from __future__ import annotations

import hashlib

from mmrakit.modelhub.clip import ClipSpec, clip_fingerprint, load_clip
from mmrakit.modelhub.text import caption_fingerprint
from mmrakit.stage import Progress
from mmrakit.workspace import Workspace

from .embeddings import EmbedReport, embed_captions, embed_clip_images, embed_concepts
from .index import build_all_indexes
from .store import ImagePool


def run_embed(ws: Workspace, *, clip: bool | None = None, captions: bool = True, executor: str | None = None,
              progress: Progress | None = None, force: bool = False) -> EmbedReport:
    """The `images embed` stage: CLIP images + concept texts, caption vectors, then the FAISS indexes."""
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
