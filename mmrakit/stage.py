"""The ``Stage`` protocol: what every pipeline stage implements, in its own folder.

A stage has a ``name`` (its run name in the catalogue), the names of the stages whose outputs it
reads (``upstream``: the pipeline's graph is derived from these, nowhere else), and
``run(ctx) -> StageReport``. Inside ``run`` a stage records its work through
:meth:`StageContext.record` (= :meth:`Workspace.stage_run`, the one signature layer): it declares the
key, the inputs it read and the settings it used; an identical finished run makes the stage a no-op
and its report says ``up_to_date``. Orchestration policy that belongs to a stage (start Label Studio
before a push, wait for enough reviews after a pull, carry on without CLIP when its weights are
offline) lives in the stage, not in the CLI.

Modelled on datatrove's ``PipelineStep`` (a named step with stats) and clip-retrieval's split of a
run into small parts handed to one runner (:mod:`mmrakit.engine`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from .pipeline_config import PipelineConfig
    from .runs import StageRun
    from .workspace import Workspace

# progress(task, done, total): every long stage calls it; the CLI draws one kind of bar for all
Progress = Callable[[str, int, int], None]


class StageReport(BaseModel):
    """Base of every stage's report: JSON-safe counts for the run record and the CLI."""

    # extra fields allowed: a stage may publish a sub-step's own pydantic report through this base
    model_config = ConfigDict(extra="allow")

    up_to_date: bool = False            # an identical run had already finished: nothing was done
    disabled: str | None = None         # why the stage did not run (e.g. review off in the pipeline file)

    def counts(self) -> dict[str, Any]:
        """What the run record and ``mmrakit run`` show."""
        return self.model_dump(mode="json", exclude={"up_to_date", "disabled"})

    @classmethod
    def of(cls, report: BaseModel, **extra: Any) -> "StageReport":
        """Publish a sub-step's pydantic report (its fields kept) as a stage report."""
        return cls.model_validate({**report.model_dump(mode="json"), **extra})


class StageWaiting(Exception):
    """Raised by a stage that cannot finish yet (e.g. reviews under way); the run stops cleanly there."""

    stage_status = "waiting"

    def __init__(self, message: str, counts: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.counts = dict(counts or {})


@dataclass
class StageContext:
    """What a stage gets to run: the workspace, the pipeline file, --force, a progress sink, notes."""

    ws: Workspace
    config: PipelineConfig
    force: bool = False
    progress: Progress | None = None
    notes: list[str] = field(default_factory=list)
    on_note: Callable[[str], None] | None = None

    def note(self, message: str) -> None:
        """Tell the user something that changed how the stage ran (kept in the run summary)."""
        self.notes.append(message)
        if self.on_note:
            self.on_note(message)

    def tick(self, task: str, done: int, total: int) -> None:
        if self.progress:
            self.progress(task, done, total)

    @contextmanager
    def record(self, stage: str, *, key: str = "", inputs: Any = (), settings: Any = None,
               code_version: str = "") -> Iterator[StageRun]:
        """Record a run of ``stage`` (see :meth:`Workspace.stage_run`), honouring ``--force``."""
        with self.ws.stage_run(stage, key=key, inputs=inputs, settings=settings, code_version=code_version,
                               force=self.force) as run:
            yield run


@runtime_checkable
class Stage(Protocol):
    """One pipeline stage. Implementations live in the stage's folder (``<folder>/stage.py``)."""

    name: ClassVar[str]
    upstream: ClassVar[tuple[str, ...]]

    def run(self, ctx: StageContext) -> StageReport: ...
