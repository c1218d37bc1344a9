"""Mining rules, question templates and word lists, loaded from ``builders/data/*.toml``."""

from __future__ import annotations

import tomllib
from functools import lru_cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from mmrakit.errors import ConfigError
from mmrakit.subtasks import mmra_subtasks


class SubtaskRule(BaseModel):
    """One subtask's mining rule (see data/rules.toml for the meaning of each field)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    task: str
    family: str
    rule: str
    relations: tuple[str, ...] = ()
    text_only_relations: tuple[str, ...] = ()
    entity_sources: tuple[str, ...] = ("object", "caption")
    target_kind: str = "any"
    distinct_entities: bool = True
    caption_band: bool = False
    require_subject: bool = False
    evidence: tuple[str, ...] = ()

    def param(self, name: str, default: Any = None) -> Any:
        """A family-specific number from the rule table (near_gap, margin, similar_at, ...)."""
        return (self.model_extra or {}).get(name, default)


class Templates(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str
    forms: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    option: dict[str, str] = Field(default_factory=dict)

    def phrasings(self, form: str) -> tuple[str, ...]:
        if form not in self.forms or not self.forms[form]:
            raise ConfigError(f"builders/data/templates.toml: [{self.task}] has no '{form}' phrasings")
        return self.forms[form]


def _read(name: str) -> dict:
    return tomllib.loads(resources.files(__package__).joinpath("data", name).read_text("utf-8"))


@lru_cache(maxsize=1)
def rules() -> dict[str, SubtaskRule]:
    raw = _read("rules.toml")
    known = mmra_subtasks()
    out: dict[str, SubtaskRule] = {}
    for task, fields in raw.items():
        if task not in known:
            raise ConfigError(f"builders/data/rules.toml: [{task}] is not an MMRA subtask", hint=f"one of {list(known)}")
        if "relations" in fields:
            raise ConfigError(f"builders/data/rules.toml: [{task}] sets 'relations'",
                              hint="relation semantics live in the subtask registry, mmrakit/data/mmra_subtasks.toml")
        out[task] = SubtaskRule(task=task, relations=known[task].relations, **fields)
    return out


@lru_cache(maxsize=1)
def templates() -> dict[str, Templates]:
    out = {}
    for task, fields in _read("templates.toml").items():
        option = fields.pop("option", {})
        out[task] = Templates(task=task, forms={k: tuple(v) for k, v in fields.items()}, option=option)
    return out


@lru_cache(maxsize=1)
def lexicon() -> dict[str, Any]:
    return _read("lexicon.toml")


@lru_cache(maxsize=1)
def perceived() -> dict[str, Any]:
    """The image-level builders' vocabularies (activities, activity domains, state distractors) in
    ``data/perceived.toml``; what the annotator reads stays in images/data/perception.toml."""
    return _read("perceived.toml")
