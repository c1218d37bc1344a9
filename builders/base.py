"""The builder interface, the registry, and the context a build hands to every builder.

A builder declares its subtask, granularity, QA types and the evidence it needs, and yields
:class:`Fact` objects: an ordered image pair, the answer and its graph-checked distractors, and
everything the filters need. Composing facts into :class:`~mmrakit.models.Candidate` items
(phrasing, option letters, balance) is shared code in :mod:`.compose` and :mod:`.pipeline`.
Adding a subtask = a module under ``families/`` registering a builder + a table in data/rules.toml
+ phrasings in data/templates.toml.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import ClassVar

from mmrakit.models import Evidence, Granularity, QAType
from mmrakit.subtasks import SubtaskInfo, mmra_subtasks

from .graph import GraphView
from .pool import PoolView
from .rules import SubtaskRule, lexicon, rules


@dataclass
class Fact:
    """One mined item before phrasing: what is asked about which ordered image pair."""

    image1: str
    image2: str
    qa_type: QAType
    form: str  # template form: "choice" or "tf"
    answer: str  # option text (Choice QA) or "Yes"/"No"
    distractors: list[str] = field(default_factory=list)  # ordered by preference, already graph-checked
    # optional: distractors in groups that options should draw from in turn (e.g. "possible in image 1
    # only", "in image 2 only", "in neither"), so vetoing one option does not unbalance the rest
    distractor_groups: list[list[str]] | None = None
    slots: dict[str, str] = field(default_factory=dict)
    evidence: Evidence = field(default_factory=Evidence)
    support: tuple[set[str], set[str]] | None = None  # option texts each image alone supports
    one_image: tuple[str | None, str | None] = (None, None)  # T/F answer knowable from one image alone
    key: str = ""  # what the item is about (dedup: same pair + same key = same item)
    twin: "Fact | None" = None  # swapped-order twin (order-dependent subtasks)
    option_order: list[str] | None = None  # fixed option texts (twins reuse the original's options)


class Builder:
    """Base class of subtask builders. Subclasses set ``task`` and implement :meth:`mine`."""

    task: ClassVar[str]
    family: ClassVar[str] = ""

    def __init__(self, ctx: "BuildContext") -> None:
        self.ctx = ctx
        self.rule: SubtaskRule = rules()[self.task]
        self.info: SubtaskInfo = mmra_subtasks()[self.task]
        self.rng = ctx.rng(self.task, "mine")

    @property
    def granularity(self) -> Granularity:
        return self.info.granularity

    @property
    def qa_types(self) -> tuple[QAType, ...]:
        return self.info.qa_types

    def missing(self, reason: str, n: int = 1) -> None:
        """Count a reason why evidence for this subtask was missing (reported when short of target)."""
        self.ctx.missing[self.task][reason] += n

    def mine(self) -> Iterator[Fact]:  # pragma: no cover - abstract
        raise NotImplementedError

    # helpers shared by families -----------------------------------------------------------------

    def allowed_pair(self, a: str, b: str) -> bool:
        """Never pair an image with itself or with a member of its duplicate group."""
        if self.ctx.pool.same_group(a, b):
            self.missing("pair rejected: same duplicate group")
            return False
        return True

    def in_caption_band(self, a: str, b: str) -> tuple[bool, float | None]:
        sim = self.ctx.pool.caption_similarity(a, b)
        if not self.rule.caption_band:
            return True, sim
        if sim is None:
            self.missing("no captions to measure caption similarity")
            return False, None
        lo, hi = self.ctx.caption_band
        if not (lo <= sim <= hi):
            self.missing(f"pair outside caption band [{lo}, {hi}] ({self.ctx.pool.caption_method})")
            return False, sim
        return True, sim

    def pair_evidence(self, a: str, b: str, **notes) -> Evidence:
        pool = self.ctx.pool
        notes.setdefault("rule", self.rule.rule)
        notes.setdefault("caption_similarity_method", pool.caption_method)
        return Evidence(caption_similarity=pool.caption_similarity(a, b), clip_similarity=pool.clip_similarity(a, b),
                        hash_distance=pool.hash_distance(a, b), notes=notes)


_REGISTRY: dict[str, type[Builder]] = {}


def register(cls: type[Builder]) -> type[Builder]:
    """Class decorator: make a builder findable by its subtask name."""
    if cls.task in _REGISTRY and _REGISTRY[cls.task] is not cls:
        raise ValueError(f"two builders registered for {cls.task}: {_REGISTRY[cls.task].__name__}, {cls.__name__}")
    _REGISTRY[cls.task] = cls
    return cls


def registry() -> dict[str, type[Builder]]:
    """Subtask name -> builder class, in MMRA's table order."""
    from . import families  # noqa: F401 - importing registers every family

    order = list(mmra_subtasks())
    return {t: _REGISTRY[t] for t in order if t in _REGISTRY}


@dataclass
class BuildContext:
    """What every builder can read: the graph, the pool, settings and the seeded RNG factory."""

    graph: GraphView
    pool: PoolView
    seed: int = 0
    caption_band: tuple[float, float] = (0.2, 0.85)
    choice_options: int = 4
    max_image_reuse: int = 2
    max_image_reuse_total: int = 6
    max_option_repeats: int = 2
    # annotator attributes stored by `mmrakit annotate` (sha -> ImageAttributes); images without an
    # entry get source 1 (captions + boxes) computed on the fly (builders/perception.py)
    attributes: dict = field(default_factory=dict)
    attribute_min_confidence: float = 0.5
    attribute_agree_for_yes: int = 1
    missing: dict[str, Counter] = field(default_factory=lambda: {t: Counter() for t in mmra_subtasks()})
    # set by the build while a subtask is mined: how many more of its items may show an image (the
    # per-subtask and per-build reuse caps); the pair miner keeps positive and negative whole with it
    image_room: Callable[[str], int] | None = None
    _kind_cache: dict[tuple[str, str], bool] = field(default_factory=dict)

    def rng(self, *parts: object) -> random.Random:
        """A deterministic RNG per (seed, purpose): string seeds hash with SHA-512 in CPython."""
        return random.Random(":".join(str(p) for p in (self.seed, *parts)))

    def is_kind(self, concept: str, kind: str) -> bool:
        """Whether ``concept`` qualifies as an answer of ``kind`` (lexicon lists + IsA graph)."""
        key = (concept, kind)
        if key not in self._kind_cache:
            self._kind_cache[key] = _is_kind(self.graph, concept, kind)
        return self._kind_cache[key]



@lru_cache(maxsize=None)
def _kind_spec(kind: str) -> tuple[set[str], set[str], tuple[str, ...]]:
    from .graph import uri

    spec = lexicon()["kinds"].get(kind)
    if spec is None:
        raise KeyError(f"unknown target kind {kind!r} (builders/data/lexicon.toml [kinds])")
    return ({uri(w) for w in spec.get("listed", [])}, {uri(w) for w in spec.get("parents", [])},
            tuple(spec.get("has_relations", [])))


def _is_kind(graph: GraphView, concept: str, kind: str) -> bool:
    if kind == "any":
        return True
    listed, parents, has_rels = _kind_spec(kind)
    if concept in parents:  # the kind's own category words ("room", "sport") are too vague to be answers
        return False
    if concept in listed:
        return True
    if parents and graph.is_kind(concept, parents):
        return True
    return any(graph.out(concept, r) for r in has_rels)

