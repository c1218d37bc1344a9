"""The graph view builders query: out/in edges, edge checks and "is this a kind of K" tests.

:class:`StoreGraph` adapts the workspace's :class:`~mmrakit.relations.RelationStore` (with caches:
a build asks the same questions thousands of times); :class:`MemoryGraph` holds edges in dicts
(synthetic graphs for the benchmark, and callers that already have edges in memory).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from functools import lru_cache

from mmrakit.models import Edge
from mmrakit.relations.normalize import concept_text, normalize_concept
from mmrakit.relations.ontology import RELATIONS


def uri(text: str) -> str:
    """Concept URI for text or URI ("teddy bear" -> /c/en/teddy_bear)."""
    return normalize_concept(text)


class GraphView:
    """Base class: subclasses implement ``_out``, ``_in`` and ``known``."""

    def __init__(self) -> None:
        self._out_cache: dict[tuple[str, str], list[Edge]] = {}
        self._in_cache: dict[tuple[str, str], list[Edge]] = {}
        self._end_index: dict[tuple[str, str], dict[str, Edge]] = {}

    def _out(self, concept: str, rel: str) -> list[Edge]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _in(self, concept: str, rel: str) -> list[Edge]:  # pragma: no cover - abstract
        raise NotImplementedError

    def known(self, concept: str) -> bool:  # pragma: no cover - abstract
        raise NotImplementedError

    def out(self, concept: str, rel: str) -> list[Edge]:
        key = (concept, rel)
        if key not in self._out_cache:
            self._out_cache[key] = self._out(concept, rel)
        return self._out_cache[key]

    def inn(self, concept: str, rel: str) -> list[Edge]:
        key = (concept, rel)
        if key not in self._in_cache:
            self._in_cache[key] = self._in(concept, rel)
        return self._in_cache[key]

    def _ends(self, start: str, rel: str) -> dict[str, Edge]:
        key = (start, rel)
        index = self._end_index.get(key)
        if index is None:
            index = {}
            for e in self.out(start, rel):
                index.setdefault(e.end, e)  # strongest first
            self._end_index[key] = index
        return index

    def has(self, start: str, rel: str, end: str) -> bool:
        return end in self._ends(start, rel)

    def edge(self, start: str, rel: str, end: str) -> Edge | None:
        return self._ends(start, rel).get(end)

    def linked(self, a: str, b: str, rels: Iterable[str]) -> bool:
        """Any of ``rels`` between a and b, either direction."""
        return any(self.has(a, r, b) or self.has(b, r, a) for r in rels)

    def is_kind(self, concept: str, parents: Iterable[str], depth: int = 2) -> bool:
        """concept IsA one of ``parents`` within ``depth`` hops."""
        parents = set(parents)
        frontier, seen = {concept}, {concept}
        for _ in range(depth):
            nxt = set()
            for c in frontier:
                for e in self.out(c, "IsA"):
                    if e.end in parents:
                        return True
                    if e.end not in seen:
                        seen.add(e.end)
                        nxt.add(e.end)
            frontier = nxt
        return False

    def siblings(self, concept: str, limit: int = 30) -> list[str]:
        """Other children of concept's IsA parents (co-hyponyms), strongest parents first."""
        out: list[str] = []
        for parent in self.out(concept, "IsA"):
            for e in self.inn(parent.end, "IsA"):
                if e.start != concept and e.start not in out:
                    out.append(e.start)
                    if len(out) >= limit:
                        return out
        return out

    def opposites(self, concept: str) -> list[str]:
        return [e.end for rel in ("Antonym", "DistinctFrom") for e in self.out(concept, rel)]

    @staticmethod
    def text(concept: str) -> str:
        return concept_text(concept)


class StoreGraph(GraphView):
    """Cached view over a RelationStore."""

    def __init__(self, store) -> None:  # store: mmrakit.relations.RelationStore
        super().__init__()
        self.store = store
        self._known = lru_cache(maxsize=200_000)(self._known_uncached)

    def _out(self, concept: str, rel: str) -> list[Edge]:
        return self.store.neighbours(concept, rel, "out")

    def _in(self, concept: str, rel: str) -> list[Edge]:
        return self.store.neighbours(concept, rel, "in")

    def _known_uncached(self, concept: str) -> bool:
        return bool(self.store.is_known(concept))

    def known(self, concept: str) -> bool:
        return self._known(concept)


class MemoryGraph(GraphView):
    """Edges held in dicts; symmetric relations answered both ways like the store does."""

    def __init__(self, edges: Iterable[Edge]) -> None:
        super().__init__()
        self._fwd: dict[tuple[str, str], list[Edge]] = defaultdict(list)
        self._bwd: dict[tuple[str, str], list[Edge]] = defaultdict(list)
        self._concepts: set[str] = set()
        for e in edges:
            self.add(e)

    def add(self, e: Edge) -> None:
        self._fwd[(e.start, e.relation)].append(e)
        self._bwd[(e.end, e.relation)].append(e)
        spec = RELATIONS.get(e.relation)
        if spec is not None and spec.symmetric:
            flipped = e.model_copy(update={"start": e.end, "end": e.start})
            self._fwd[(e.end, e.relation)].append(flipped)
            self._bwd[(e.start, e.relation)].append(flipped)
        self._concepts.update((e.start, e.end))

    def _out(self, concept: str, rel: str) -> list[Edge]:
        return sorted(self._fwd.get((concept, rel), []), key=lambda e: (-e.weight, e.end))

    def _in(self, concept: str, rel: str) -> list[Edge]:
        return sorted(self._bwd.get((concept, rel), []), key=lambda e: (-e.weight, e.start))

    def known(self, concept: str) -> bool:
        return concept in self._concepts
