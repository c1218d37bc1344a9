"""The ``export`` stage: the validated (or a marked unreviewed preview) dataset in the chosen formats."""

from __future__ import annotations

from mmrakit.stage import StageContext, StageReport


class ExportStage:
    name = "export"
    upstream = ("build", "review.pull")

    def run(self, ctx: StageContext) -> StageReport:
        from .export import run_export

        cfg, ws = ctx.config, ctx.ws
        include_unreviewed = cfg.export.include_unreviewed or not cfg.review.enabled
        report = run_export(ws, ws.resolve(cfg.export.out), formats=cfg.export.formats, force=ctx.force,
                            with_provenance=cfg.export.with_provenance, include_unreviewed=include_unreviewed,
                            progress=ctx.progress)
        return StageReport.of(report)
