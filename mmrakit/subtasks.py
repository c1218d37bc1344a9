"""The MMRA subtask table (names, levels, default counts, QA types) loaded from package data.

It is part of the core because builders, review, exports and evaluation all need the same
answer to "which subtasks exist and at which level"; the relation mapping of each subtask lives
with the relation ontology (``mmrakit.relations``), the mining rules with the builders.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources

from pydantic import BaseModel, ConfigDict

from .models import Granularity, QAType


class SubtaskInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    abbreviation: str
    granularity: Granularity
    mmra_count: int
    qa_types: tuple[QAType, ...]
    order_dependent: bool
    description: str


@lru_cache(maxsize=1)
def mmra_subtasks() -> dict[str, SubtaskInfo]:
    """Subtask name -> info, in MMRA's table order (entity level first)."""
    raw = tomllib.loads(resources.files("mmrakit").joinpath("data/mmra_subtasks.toml").read_text("utf-8"))
    return {name: SubtaskInfo(name=name, **fields) for name, fields in raw.items()}


def normalise_task_name(name: str) -> str | None:
    """Map spellings seen in the wild ('Environments', 'similar_event', 'SimE') to the canonical name."""
    key = name.replace("_", "").replace(" ", "").replace("-", "").lower()
    for info in mmra_subtasks().values():
        if key in (info.name.lower(), info.abbreviation.lower(), info.name.lower() + "s"):
            return info.name
    return None
