"""The ``relations.ingest`` stage: every relation source of the pipeline file into the relation store."""

from __future__ import annotations

from mmrakit.stage import StageContext, StageReport


class RelationsIngestReport(StageReport):
    sources: int = 0
    edges: int = 0
    malformed: int = 0


class IngestStage:
    name = "relations.ingest"
    upstream: tuple[str, ...] = ()

    def run(self, ctx: StageContext) -> RelationsIngestReport:
        from .ingest import ingest

        out = RelationsIngestReport(up_to_date=True)
        sources = ctx.config.relations.sources
        for i, src in enumerate(sources):
            report = ingest(ctx.ws, ctx.config.resolve(src.path), format=src.format, force=ctx.force,
                            progress=ctx.progress)
            out.sources += 1
            out.edges += report.edges
            out.malformed += sum(report.malformed.values())
            out.up_to_date &= report.up_to_date
            ctx.tick("relations: sources", i + 1, len(sources))
        return out
