"""The ``eval`` stage: every model of the pipeline file on the export; a model whose last run saw
the same export, spec, limit and settings is not asked again."""

from __future__ import annotations

from mmrakit.stage import StageContext, StageReport


def _slug(spec: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in spec).strip("-") or "model"


class EvalStage:
    name = "eval"
    upstream = ("export",)

    def run(self, ctx: StageContext) -> StageReport:
        from .runner import run_eval, run_name

        ws, cfg = ctx.ws, ctx.config
        dataset = str(ws.resolve(cfg.export.out))
        models: dict[str, dict] = {}
        current = True
        for i, spec in enumerate(cfg.eval.models):
            inputs = [dataset, spec, "IQ", cfg.eval.limit, ws.settings.eval.circular]
            if not ctx.force and ws.runs.is_current("eval", key=run_name(dataset, spec, "IQ") + ("__circular" if ws.settings.eval.circular else ""), inputs=inputs,
                                                    settings=ws.settings.eval):
                models[spec] = {"up_to_date": True}
                continue
            current = False
            outcome = run_eval(dataset, spec, ws=ws, limit=cfg.eval.limit, out_dir=ws.path("eval", _slug(spec)),
                               progress=(lambda d, t, s=spec: ctx.tick(f"eval: {s}", d, t)) if ctx.progress else None)
            models[spec] = {"accuracy": (outcome.summary.get("overall") or {}).get("accuracy"),
                            "items": len(outcome.records), "errors": outcome.errors, "report": str(outcome.out_dir)}
            ctx.tick("eval: models", i + 1, len(cfg.eval.models))
        return StageReport(up_to_date=current, models=models)
