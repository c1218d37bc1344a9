"""A stage-agnostic pipeline engine: ordered steps, chained signatures, resumable re-runs.

Each step's signature hashes its own inputs and settings *and the signatures of the steps it
reads from* (distilabel-style), so changing one stage recomputes it and everything downstream,
while untouched steps are skipped. Runs are recorded as stage runs with key ``pipeline``
(datatrove-style markers): a step killed mid-way has no ``done`` record and simply runs again;
the stages themselves resume from their own partial outputs. The concrete steps live in the CLI,
the only layer that knows every stage.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .errors import MmrakitError
from .workspace import Workspace

PIPELINE_KEY = "pipeline"


class StepWaiting(Exception):
    """Raised by a step that cannot finish yet (e.g. reviews under way); the run stops cleanly there."""

    stage_status = "waiting"

    def __init__(self, message: str, counts: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.counts = counts or {}


@dataclass
class Step:
    name: str
    run: Callable[[Workspace], dict[str, Any]]
    upstream: tuple[str, ...] = ()
    inputs: Callable[[], list[Any]] = lambda: []
    settings: Callable[[], Any] = lambda: {}
    code_version: str = ""
    # Re-run every time (review pull: annotations arrive while no input changes); downstream steps
    # then see a signature that also covers this step's counts, so they recompute only on news.
    always_run: bool = False


@dataclass
class StepResult:
    name: str
    status: str  # ran | skipped | waiting | not-selected
    counts: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    message: str = ""


def select(steps: Sequence[Step], start: str | None, until: str | None) -> list[str]:
    names = [s.name for s in steps]
    for label, value in (("--from", start), ("--until", until)):
        if value is not None and value not in names:
            raise MmrakitError(f"{label} {value!r} is not a pipeline stage", hint=f"stages: {', '.join(names)}")
    lo = names.index(start) if start else 0
    hi = names.index(until) if until else len(names) - 1
    if lo > hi:
        raise MmrakitError(f"--from {start} comes after --until {until}")
    return names[lo : hi + 1]


def downstream_of(steps: Sequence[Step], names: set[str]) -> set[str]:
    """``names`` plus every step that (transitively) reads from them."""
    out = set(names)
    changed = True
    while changed:
        changed = False
        for s in steps:
            if s.name not in out and out.intersection(s.upstream):
                out.add(s.name)
                changed = True
    return out


def run_pipeline(
    ws: Workspace,
    steps: Sequence[Step],
    *,
    start: str | None = None,
    until: str | None = None,
    force: Sequence[str] = (),
    on_step: Callable[[StepResult], None] | None = None,
) -> list[StepResult]:
    """Run the selected steps in order; stops (without error) at the first step that is waiting."""
    selected = set(select(steps, start, until))
    unknown = set(force) - {s.name for s in steps}
    if unknown:
        raise MmrakitError(f"--force names unknown stage(s): {', '.join(sorted(unknown))}")
    forced = downstream_of(steps, set(force))
    effective: dict[str, str] = {}
    results: list[StepResult] = []

    def report(result: StepResult) -> None:
        results.append(result)
        if on_step:
            on_step(result)

    for step in steps:
        if step.name not in selected:
            effective[step.name] = _last_effective(ws, step.name)
            report(StepResult(step.name, "not-selected"))
            continue
        upstream = {u: effective.get(u) or _last_effective(ws, u) for u in step.upstream}
        t0 = time.monotonic()
        try:
            with ws.stage_run(step.name, key=PIPELINE_KEY, inputs=step.inputs() + [{"upstream": upstream}],
                              settings=step.settings(), code_version=step.code_version,
                              force=step.always_run or step.name in forced) as run:
                if run.up_to_date:
                    counts, status = run.previous_counts, "skipped"
                    effective[step.name] = json.loads(run.previous["outputs"]).get("effective_signature", run.signature)
                else:
                    counts, status = step.run(ws) or {}, "ran"
                    run.counts.update(counts)
                    eff = run.signature
                    if step.always_run:
                        eff = hashlib.sha256((run.signature + json.dumps(counts, sort_keys=True, default=str)).encode()).hexdigest()
                    run.outputs["effective_signature"] = effective[step.name] = eff
        except StepWaiting as wait:
            report(StepResult(step.name, "waiting", wait.counts, time.monotonic() - t0, str(wait)))
            return results
        report(StepResult(step.name, status, counts, time.monotonic() - t0))
    return results


def _last_effective(ws: Workspace, name: str) -> str:
    row = ws.runs.latest(name, PIPELINE_KEY)
    if row is None:
        return ""
    return json.loads(row["outputs"]).get("effective_signature", row["signature"])
