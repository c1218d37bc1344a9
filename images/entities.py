"""Ground concepts in an image from its captions (n-grams) and object annotations.

Concept URIs come from the relation layer's :func:`normalize_concept`, so an image's
"Dining Tables" meets ConceptNet's ``/c/en/dining_table``. When a relation store has been
ingested, caption n-grams are kept only if the store knows the concept; without one, every
n-gram that passes the stop-word filter is kept and marked unchecked (``validated`` NULL).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from importlib import resources

from mmrakit.errors import WorkspaceError
from mmrakit.models import EntityGrounding, ObjectAnnotation
from mmrakit.relations import RelationStore, concept_text, normalize_concept
from mmrakit.relations.normalize import tokens


@lru_cache(maxsize=1)
def stopwords() -> frozenset[str]:
    text = resources.files(__package__).joinpath("data", "stopwords.txt").read_text("utf-8")
    return frozenset(w.strip() for w in text.splitlines() if w.strip() and not w.startswith("#"))


def caption_ngrams(caption: str, n_max: int) -> list[str]:
    """Distinct n-grams (n <= n_max) that neither start nor end with a stop word, in caption order."""
    words, stop, seen, out = tokens(caption), stopwords(), set(), []
    for i in range(len(words)):
        for n in range(1, n_max + 1):
            gram = words[i:i + n]
            if len(gram) < n or gram[0] in stop or gram[-1] in stop or not any(c.isalpha() for c in gram[-1]):
                continue
            phrase = " ".join(gram)
            if phrase not in seen:
                seen.add(phrase)
                out.append(phrase)
    return out


class ConceptChecker:
    """Answers "is this a concept the relation store knows?"; ``None`` when no store is ingested."""

    def __init__(self, store: RelationStore | None) -> None:
        self.store = store
        self._cache: dict[str, str | None] = {}

    @classmethod
    def open(cls, ws) -> "ConceptChecker":
        try:
            store = RelationStore.open(ws)
        except WorkspaceError:  # nothing ingested yet: grounding stays unchecked (validated NULL)
            store = None
        return cls(store)

    @property
    def available(self) -> bool:
        return self.store is not None

    def resolve(self, text: str) -> tuple[str | None, bool | None]:
        """(concept URI, confirmed?) for a phrase: the store's known form when it has one (singular or as
        written), else the normalised form with False; with no store, the normalised form and None."""
        uri = _uri(text)
        if self.store is None or uri is None:
            return uri, None
        if text not in self._cache:
            self._cache[text] = self.store.resolve(text)
        known = self._cache[text]
        return (known, True) if known else (uri, False)


def _uri(text: str) -> str | None:
    try:
        return normalize_concept(text)
    except ValueError:
        return None


def ground(captions: Iterable[str], objects: Iterable[ObjectAnnotation], checker: ConceptChecker, n_max: int = 3
           ) -> tuple[list[EntityGrounding], list[bool | None]]:
    """Entities (and whether each concept was confirmed by the store: True/False/None=unchecked)."""
    out: list[EntityGrounding] = []
    validated: list[bool | None] = []
    for obj in objects:  # annotations are trusted: kept even when the store lacks the concept
        uri, ok = checker.resolve(obj.category)
        if uri:
            out.append(EntityGrounding(concept=uri, text=obj.category, source="object", box=obj.box))
            validated.append(ok)
    seen: set[str] = set()
    for caption in captions:
        for phrase in caption_ngrams(caption, n_max):
            uri, ok = checker.resolve(phrase)
            if uri is None or ok is False or uri in seen:
                continue
            seen.add(uri)
            out.append(EntityGrounding(concept=uri, text=phrase, source="caption"))
            validated.append(ok)
    return out, validated


def concept_label(uri: str) -> str:
    """Readable text of a concept URI ("/c/en/dining_table" -> "dining table") for prompts."""
    return concept_text(uri)
