"""The MMRA subtask registry: names, levels, default counts, QA types and relation semantics.

One table (``mmrakit/data/mmra_subtasks.toml``) that every stage reads: ``relations`` (the
ontology view ``mmrakit relations ontology --subtasks``), ``builders`` (which relations a subtask's
answers follow), review, export and the runner (names, levels, QA types). It is checked for
consistency when it is loaded; ``mmrakit.relations.ontology`` further checks that every relation it
names is a known ConceptNet relation (the core imports no stage, so that check lives there).
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .errors import ConfigError
from .models import Granularity, QAType

EvidenceKind = Literal["boxes", "captions", "clip", "sbert", "hash"]
_RELATION_NAME = re.compile(r"^[A-Z][A-Za-z]+$")
_CONCEPT_URI = re.compile(r"^/c/[a-z]{2,3}/[^/\s]+$")
REGISTRY_FILE = "mmrakit/data/mmra_subtasks.toml"


class SubtaskInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    abbreviation: str
    granularity: Granularity
    mmra_count: int
    qa_types: tuple[QAType, ...]
    order_dependent: bool
    description: str
    relations: tuple[str, ...] = ()
    direction: Literal["out", "in", "both"] = "out"
    evidence: tuple[EvidenceKind, ...] = ()
    anchors: tuple[str, ...] = ()
    anchor_relations: tuple[str, ...] = ()
    relation_note: str = ""

    @field_validator("relations", "anchor_relations")
    @classmethod
    def _relation_names(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [r for r in v if not _RELATION_NAME.match(r)]
        if bad:
            raise ValueError(f"relation names must be ConceptNet CamelCase names (UsedFor), got {bad}")
        if len(set(v)) != len(v):
            raise ValueError(f"repeated relation in {list(v)}")
        return v

    @field_validator("anchors")
    @classmethod
    def _anchor_uris(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [a for a in v if not _CONCEPT_URI.match(a)]
        if bad:
            raise ValueError(f"anchors must be concept URIs (/c/en/emotion), got {bad}")
        return v

    @field_validator("qa_types")
    @classmethod
    def _some_qa_type(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not v or len(set(v)) != len(v):
            raise ValueError("qa_types must list one or both QA types, each once")
        return v


def parse_registry(text: str, source: str = REGISTRY_FILE) -> dict[str, SubtaskInfo]:
    """Parse and check a registry table; ConfigError naming the subtask and field otherwise."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    out: dict[str, SubtaskInfo] = {}
    for name, fields in raw.items():
        if not isinstance(fields, dict):
            raise ConfigError(f"{source}: {name!r} must be a table [{name}]")
        try:
            out[name] = SubtaskInfo(name=name, **fields)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = ".".join(str(p) for p in err["loc"]) or "?"
            raise ConfigError(f"{source}: [{name}] field {field!r}: {err['msg']}",
                              hint="fix the table; see the field list at the top of the file") from None
        if out[name].anchors and not out[name].anchor_relations:
            raise ConfigError(f"{source}: [{name}] has anchors but no anchor_relations to reach them")
    abbrevs = [i.abbreviation.lower() for i in out.values()]
    dup = sorted({a for a in abbrevs if abbrevs.count(a) > 1})
    if dup:
        raise ConfigError(f"{source}: abbreviations used twice: {dup}")
    if not out:
        raise ConfigError(f"{source}: no subtasks")
    return out


@lru_cache(maxsize=1)
def mmra_subtasks() -> dict[str, SubtaskInfo]:
    """Subtask name -> info, in MMRA's table order (entity level first)."""
    return parse_registry(resources.files("mmrakit").joinpath("data/mmra_subtasks.toml").read_text("utf-8"))


def normalise_task_name(name: str) -> str | None:
    """Map spellings seen in the wild ('Environments', 'similar_event', 'SimE') to the canonical name."""
    key = name.replace("_", "").replace(" ", "").replace("-", "").lower()
    for info in mmra_subtasks().values():
        if key in (info.name.lower(), info.abbreviation.lower(), info.name.lower() + "s"):
            return info.name
    return None
