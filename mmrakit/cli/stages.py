"""The pipeline's stages, in order: the one list that knows every stage (the graph comes from their ``upstream``)."""

from __future__ import annotations

from ..stage import Stage


def pipeline_stages() -> list[Stage]:
    from ..builders.stage import BuildStage
    from ..evaluation.stage import EvalStage
    from ..exports.stage import ExportStage
    from ..images.stage import AnnotateStage, DedupStage, EmbedStage, ImportStage
    from ..relations.stage import IngestStage
    from ..review.stage import PullStage, PushStage

    return [IngestStage(), ImportStage(), EmbedStage(), DedupStage(), AnnotateStage(), BuildStage(), PushStage(), PullStage(),
            ExportStage(), EvalStage()]
