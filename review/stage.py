"""The review stages: ``review.push`` (start Label Studio when needed, push kept candidates) and
``review.pull`` (fetch verdicts; wait until enough candidates are decided)."""

from __future__ import annotations

from mmrakit.stage import StageContext, StageReport, StageWaiting

DISABLED = "review disabled in the pipeline file"


class PushStage:
    name = "review.push"
    upstream = ("build",)

    def run(self, ctx: StageContext) -> StageReport:
        if not ctx.config.review.enabled:
            return StageReport(disabled=DISABLED)
        from mmrakit.records import CandidateStore
        from . import connection, push, serve
        from .server import server_state

        ws = ctx.ws
        reviewers = ctx.config.review.reviewers
        kept = [r["candidate"].id for r in CandidateStore(ws).rows(status="kept")]
        same_k = reviewers is None or reviewers == ws.settings.review.reviewers
        if not ctx.force and same_k and ws.runs.is_current("review.push", inputs=kept, settings=ws.settings.review):
            return StageReport(up_to_date=True, candidates=len(kept))
        if not ws.settings.review.url and not server_state(ws):
            serve(ws)  # a local Label Studio on 127.0.0.1
        return StageReport.of(push(ws, connection(ws), reviewers=reviewers, progress=ctx.progress))


class PullStage:
    """Always pulls (annotations arrive while no input changes); downstream stages see new verdicts
    through their own inputs and recompute only on news."""

    name = "review.pull"
    upstream = ("review.push",)

    def run(self, ctx: StageContext) -> StageReport:
        cfg = ctx.config.review
        if not cfg.enabled:
            return StageReport(disabled=DISABLED)
        from . import connection, pull, review_status

        conn = connection(ctx.ws)
        pull(ctx.ws, conn, on_page=(lambda n: ctx.tick("review: pages pulled", n, 0)) if ctx.progress else None)
        totals = review_status(ctx.ws).totals
        decided = totals.validated + totals.rejected
        counts = {"candidates": totals.candidates, "validated": totals.validated, "rejected": totals.rejected,
                  "conflict": totals.conflict, "pending": totals.pending}
        if decided / max(totals.candidates, 1) < cfg.min_reviewed_fraction:
            raise StageWaiting(
                f"{decided} of {totals.candidates} candidates decided by reviewers "
                f"(need {cfg.min_reviewed_fraction:.0%}). Review at {conn.url}, then run `mmrakit run` again "
                "to continue from the pull.", counts)
        return StageReport(**counts)
