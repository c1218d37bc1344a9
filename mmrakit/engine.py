"""The pipeline engine: runs :class:`~mmrakit.stage.Stage` objects in order, resumable, skipping what is unchanged.

The graph comes from the stages themselves (``Stage.upstream``). The engine keeps no run record of
its own: each stage records its work once (:meth:`StageContext.record`, the one signature layer), so
an unchanged stage reports ``up_to_date`` and shows as ``skipped``; a stage killed mid-way has no
``done`` record and simply runs again, resuming from its own partial outputs. ``--force STAGE``
recomputes that stage and everything downstream of it; a stage that raises
:class:`~mmrakit.stage.StageWaiting` stops the run cleanly (e.g. waiting for reviewers).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .errors import MmrakitError
from .stage import Progress, Stage, StageContext, StageWaiting

if TYPE_CHECKING:
    from .pipeline_config import PipelineConfig
    from .workspace import Workspace


@dataclass
class StageResult:
    name: str
    status: str  # ran | skipped (up to date) | disabled (off in the pipeline file) | waiting | not-selected
    counts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    message: str = ""


def stage_graph(stages: Sequence[Stage]) -> dict[str, tuple[str, ...]]:
    """stage name -> the stages it reads from, in pipeline order; checks every upstream comes first."""
    graph: dict[str, tuple[str, ...]] = {}
    for s in stages:
        missing = [u for u in s.upstream if u not in graph]
        if missing:
            raise MmrakitError(f"stage {s.name!r} reads from {missing} which do not come before it")
        graph[s.name] = tuple(s.upstream)
    return graph


def select(stages: Sequence[Stage], start: str | None, until: str | None) -> list[str]:
    names = [s.name for s in stages]
    for label, value in (("--from", start), ("--until", until)):
        if value is not None and value not in names:
            raise MmrakitError(f"{label} {value!r} is not a pipeline stage", hint=f"stages: {', '.join(names)}")
    lo = names.index(start) if start else 0
    hi = names.index(until) if until else len(names) - 1
    if lo > hi:
        raise MmrakitError(f"--from {start} comes after --until {until}")
    return names[lo : hi + 1]


def downstream_of(graph: dict[str, tuple[str, ...]], names: set[str]) -> set[str]:
    """``names`` plus every stage that (transitively) reads from them."""
    out = set(names)
    for name, upstream in graph.items():  # graph is in pipeline order: one pass suffices
        if out.intersection(upstream):
            out.add(name)
    return out


def run_pipeline(
    ws: Workspace,
    config: PipelineConfig,
    stages: Sequence[Stage],
    *,
    start: str | None = None,
    until: str | None = None,
    force: Sequence[str] = (),
    on_stage: Callable[[StageResult], None] | None = None,
    on_note: Callable[[str], None] | None = None,
    progress: Progress | None = None,
) -> tuple[list[StageResult], list[str]]:
    """Run the selected stages in order; stops (without error) at the first stage that is waiting.

    Returns the per-stage results and the notes the stages left for the user."""
    graph = stage_graph(stages)
    selected = set(select(stages, start, until))
    unknown = set(force) - set(graph)
    if unknown:
        raise MmrakitError(f"--force names unknown stage(s): {', '.join(sorted(unknown))}")
    forced = downstream_of(graph, set(force))
    results: list[StageResult] = []
    notes: list[str] = []

    def report(result: StageResult) -> None:
        results.append(result)
        if on_stage:
            on_stage(result)

    for stage in stages:
        if stage.name not in selected:
            report(StageResult(stage.name, "not-selected"))
            continue
        ctx = StageContext(ws, config, force=stage.name in forced, progress=progress, notes=notes, on_note=on_note)
        t0 = time.monotonic()
        try:
            out = stage.run(ctx)
        except StageWaiting as wait:
            report(StageResult(stage.name, "waiting", wait.counts, time.monotonic() - t0, str(wait)))
            return results, notes
        status = "disabled" if out.disabled else "skipped" if out.up_to_date else "ran"
        report(StageResult(stage.name, status, out.counts(), time.monotonic() - t0))
    return results, notes
