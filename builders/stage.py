"""The ``build`` stage: candidates for the chosen subtasks from the relation store and the image pool."""

from __future__ import annotations

from mmrakit.stage import StageContext, StageReport


class BuildReport(StageReport):
    candidates: int = 0
    subtasks: int = 0
    per_subtask: dict[str, int] = {}


class BuildStage:
    name = "build"
    upstream = ("relations.ingest", "images.import", "images.embed", "images.dedup", "images.annotate")

    def run(self, ctx: StageContext) -> BuildReport:
        from .pipeline import build

        cfg = ctx.config.build
        report = build(ctx.ws, subtasks=cfg.subtasks, per_subtask=cfg.per_subtask,
                       mmra_distribution=cfg.mmra_distribution, force=ctx.force, progress=ctx.progress)
        kept = {s["task"]: s.get("kept", 0) for s in report.get("subtasks", [])}
        return BuildReport(candidates=sum(kept.values()), subtasks=len(kept), per_subtask=kept,
                           up_to_date=bool(report.get("up_to_date")))
