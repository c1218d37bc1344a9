"""The ConceptNet 5.7 relation ontology and the MMRA subtask -> relation mapping, loaded from data.

Both live in ``relations/data/*.toml`` so they can be read and corrected without touching code.
Relation names are accepted in every spelling seen in the wild: ``UsedFor``, ``used_for``,
``/r/UsedFor``, ``/r/used_for`` (conceptnet-lite's), ``dbpedia/genre``.
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from importlib import resources
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mmrakit.errors import InputError
from mmrakit.subtasks import EvidenceKind  # one definition, in the core registry

RelationKind = Literal["core", "negative", "dbpedia", "pseudo"]


class RelationSpec(BaseModel):
    """One relation: its semantics and how to say it in English."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="CamelCase name without /r/, e.g. UsedFor or dbpedia/genre")
    kind: RelationKind
    symmetric: bool = False
    inverse: str | None = None
    opposite: str | None = None
    entails: str | None = None
    ingest: bool = True
    description: str
    template: str

    @property
    def uri(self) -> str:
        return f"/r/{self.name}"

    @property
    def snake(self) -> str:
        """conceptnet-lite's stored name (``/r/MadeOf`` -> ``made_of``)."""
        return to_snake_case(self.name)

    @property
    def negative(self) -> bool:
        return self.kind == "negative"

    def render(self, start: str, end: str) -> str:
        return self.template.format(start=start, end=end)

    def entailment_chain(self) -> list[str]:
        """This relation and every more general one it implies, most specific first."""
        chain, cur = [self.name], self.entails
        while cur and cur not in chain:
            chain.append(cur)
            cur = RELATIONS[cur].entails
        return chain


class SubtaskRelations(BaseModel):
    """Which relations and which non-ConceptNet evidence an MMRA subtask uses."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    task: str
    relations: tuple[str, ...] = ()
    direction: Literal["out", "in", "both"] = "out"
    evidence: tuple[EvidenceKind, ...] = ()
    anchors: tuple[str, ...] = ()
    anchor_relations: tuple[str, ...] = ()
    note: str = ""


_SNAKE_RE = re.compile(r"((?<=[a-z0-9])[A-Z]|(?!^)[A-Z](?=[a-z]))")


def to_snake_case(name: str) -> str:
    """Same rule as conceptnet-lite uses for its ``relation.name`` column."""
    return _SNAKE_RE.sub(r"_\1", name).lower()


def _read(name: str) -> dict:
    return tomllib.loads(resources.files(__package__).joinpath("data", name).read_text("utf-8"))


@lru_cache(maxsize=1)
def _relations() -> dict[str, RelationSpec]:
    specs = {name: RelationSpec(name=name, **fields) for name, fields in _read("relations.toml").items()}
    for spec in specs.values():
        for ref in (spec.inverse, spec.opposite, spec.entails):
            if ref is not None and ref not in specs:
                raise ValueError(f"relations.toml: [{spec.name}] refers to unknown relation {ref!r}")
    return specs


@lru_cache(maxsize=1)
def _lookup() -> dict[str, str]:
    table: dict[str, str] = {}
    for name, spec in _relations().items():
        for key in (name, spec.snake, name.lower(), spec.snake.replace("_", "")):
            table[key.lower()] = name
    return table


@lru_cache(maxsize=1)
def _subtasks() -> dict[str, SubtaskRelations]:
    """The relation view of the core subtask registry (``mmrakit/data/mmra_subtasks.toml``): one
    table, read here, by the builders, review, export and the runner. Every relation it names must be
    a ConceptNet relation of relations.toml (checked here: the core cannot import this stage)."""
    from mmrakit.subtasks import REGISTRY_FILE, mmra_subtasks

    out = {}
    for task, info in mmra_subtasks().items():
        for rel in (*info.relations, *info.anchor_relations):
            if rel not in _relations():
                raise ValueError(f"{REGISTRY_FILE}: [{task}] uses unknown relation {rel!r}")
        out[task] = SubtaskRelations(task=task, relations=info.relations, direction=info.direction,
                                     evidence=info.evidence, anchors=info.anchors,
                                     anchor_relations=info.anchor_relations, note=info.relation_note)
    return out


def relation_name(name: str) -> str | None:
    """Canonical CamelCase name for any spelling, or None when it is not a ConceptNet 5.7 relation."""
    key = name.strip()
    if key.startswith("/r/"):
        key = key[3:]
    key = key.strip("/")
    return _lookup().get(key.lower())


def relation(name: str) -> RelationSpec:
    """The spec for ``UsedFor`` / ``used_for`` / ``/r/UsedFor``; InputError naming the choices otherwise."""
    canonical = relation_name(name)
    if canonical is None:
        raise InputError(f"unknown relation {name!r}", hint=f"use one of: {', '.join(RELATIONS)}")
    return RELATIONS[canonical]


RELATIONS: dict[str, RelationSpec] = _relations()
SUBTASK_RELATIONS: dict[str, SubtaskRelations] = _subtasks()
SNAKE_TO_NAME: dict[str, str] = {spec.snake: name for name, spec in RELATIONS.items()}
