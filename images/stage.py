"""The image stages: ``images.import`` (every image source), ``images.embed``, ``images.dedup``."""

from __future__ import annotations

from mmrakit.errors import OfflineError
from mmrakit.stage import StageContext, StageReport


class ImportTotals(StageReport):
    sources: int = 0
    totals: dict[str, int] = {}  # SUMMED counts over the sources; quarantined = all reasons together


SUMMED = ("seen", "accepted", "new_images", "exact_duplicates", "changed_files", "entities")


class ImportStage:
    name = "images.import"
    upstream: tuple[str, ...] = ()

    def run(self, ctx: StageContext) -> ImportTotals:
        from .importer import import_images

        cfg = ctx.config.images
        out = ImportTotals(up_to_date=True)
        for src in cfg.sources:
            r = import_images(ctx.ws, str(ctx.config.resolve(src.path)), src.format,
                              image_root=ctx.config.resolve(cfg.image_root) if cfg.image_root else None,
                              copy=cfg.copy_files, force=ctx.force, progress=ctx.progress)
            out.sources += 1
            for key in SUMMED:
                out.totals[key] = out.totals.get(key, 0) + getattr(r, key)
            out.totals["quarantined"] = out.totals.get("quarantined", 0) + sum(r.quarantined.values())
            out.up_to_date &= r.up_to_date
        return out


class EmbedStage:
    """CLIP and caption embeddings. Without CLIP weights offline, it says so once and carries on."""

    name = "images.embed"
    upstream = ("images.import",)

    def run(self, ctx: StageContext) -> StageReport:
        from .embed import run_embed

        cfg = ctx.config.embed
        use_clip = cfg.clip and ctx.ws.settings.clip.enabled
        try:
            return run_embed(ctx.ws, clip=use_clip, captions=cfg.captions, progress=ctx.progress, force=ctx.force)
        except OfflineError as exc:
            ctx.note(f"CLIP skipped: {exc.message}. The caption and hash paths carry on; "
                     "point at local weights with --clip-checkpoint PATH.")
            return run_embed(ctx.ws, clip=False, captions=cfg.captions, progress=ctx.progress, force=ctx.force)


class DedupStage:
    name = "images.dedup"
    upstream = ("images.import", "images.embed")

    def run(self, ctx: StageContext) -> StageReport:
        from .dedup import run_dedup

        cfg = ctx.config.dedup
        return run_dedup(ctx.ws, exact=cfg.exact, near=cfg.near, semantic=cfg.semantic, force=ctx.force,
                         progress=ctx.progress)


class AnnotateStage:
    """Structured attributes per image (scene, viewpoint, shot, people/animals, state, activity, layout)
    from the sources in ``[annotate] sources``; cached per image, source and prompt version."""

    name = "images.annotate"
    upstream = ("images.import", "images.embed")

    def run(self, ctx: StageContext) -> StageReport:
        from .annotate import run_annotate

        return StageReport.model_validate(run_annotate(ctx.ws, force=ctx.force).as_dict())
