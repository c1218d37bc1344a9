"""Extra caption grounding for events and emotional cues.

The image pool grounds caption n-grams as written ("riding a wave" -> /c/en/riding_a_wave?);
ConceptNet names events by their base verb phrase without articles ("ride wave", "cut vegetable").
Here each caption is also read with verbs reduced to their base form and articles dropped, and every
phrase the graph knows becomes a caption grounding. Results are cached per phrase.
"""

from __future__ import annotations

import re
from functools import lru_cache

from mmrakit.models import EntityGrounding
from mmrakit.relations.normalize import normalize_concept

from .rules import lexicon

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_SKIP = frozenset({"a", "an", "the", "some", "his", "her", "their", "its", "my", "our", "your", "two", "three",
                   "several", "many", "few", "this", "that", "these", "those"})
_VOWELS = set("aeiou")


@lru_cache(maxsize=1)
def _verbs() -> dict[str, str]:
    return dict(lexicon().get("verbs", {}))


@lru_cache(maxsize=50_000)
def base_forms(word: str) -> tuple[str, ...]:
    """Possible base forms of a caption word, most likely first (the word itself included)."""
    out = [word]
    irregular = _verbs().get(word)
    if irregular:
        out.insert(0, irregular)
    if word.endswith("ing") and len(word) > 5:
        stem = word[:-3]
        forms = [stem, stem + "e"]
        if len(stem) > 2 and stem[-1] == stem[-2] and stem[-1] not in _VOWELS:
            forms.insert(0, stem[:-1])
        out += [f for f in forms if f not in out]
    elif word.endswith("s") and len(word) > 3 and not word.endswith("ss"):
        out.append(word[:-1])
    return tuple(dict.fromkeys(out))


def caption_phrases(caption: str, n_max: int = 3) -> list[tuple[str, str]]:
    """(surface phrase, base-form phrase) pairs: n-grams over content words, verbs in base form."""
    words = [w for w in _WORD.findall(caption.lower()) if w not in _SKIP]
    out: list[tuple[str, str]] = []
    for i in range(len(words)):
        for n in range(1, n_max + 1):
            gram = words[i:i + n]
            if len(gram) < n:
                break
            surface = " ".join(gram)
            for first in base_forms(gram[0]):
                out.append((surface, " ".join([first, *gram[1:]])))
    return out


class CaptionGrounder:
    """Grounds caption phrases to concepts the graph knows (cached across images)."""

    def __init__(self, graph, n_max: int = 3) -> None:
        self.graph = graph
        self.n_max = n_max
        self._cache: dict[str, str | None] = {}

    def _concept(self, phrase: str) -> str | None:
        if phrase not in self._cache:
            try:
                c = normalize_concept(phrase)
            except ValueError:
                c = None
            self._cache[phrase] = c if c is not None and self.graph.known(c) else None
        return self._cache[phrase]

    def ground(self, captions: list[str], already: set[str]) -> list[EntityGrounding]:
        out: list[EntityGrounding] = []
        seen = set(already)
        for caption in captions:
            for surface, base in caption_phrases(caption, self.n_max):
                concept = self._concept(base)
                if concept is None or concept in seen:
                    continue
                seen.add(concept)
                out.append(EntityGrounding(concept=concept, text=surface, source="caption"))
        return out
