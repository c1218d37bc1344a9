"""Leakage and quality filters. Each returns a reason string (recorded with the candidate) or None.

- ``entity_not_grounded``: an entity named in the evidence is not grounded in its image.
- ``same_duplicate_group``: both images belong to one duplicate group (or are the same image).
- ``duplicate_item``: the same subtask on the same image pair (either order when order does not
  matter) and the same answer key was already kept (in this build or a reviewed earlier one).
- ``text_only_answerable``: a text-only solver (question + options + the graph, no images)
  picks the answer: the answer appears in the question, or it is the only option the graph links
  to the concepts the question names.
  A second text-only reader, for rules with ``cooccurrence_margin``, knows what usually goes with what
  (the pool's own co-occurrence of kinds stands in for that common sense): it picks the option most often
  found with every kind the question names, when it leads the next option by the margin.
- ``single_image_answerable``: the evidence of one image alone singles out the answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from mmrakit.models import Candidate
from mmrakit.relations.normalize import normalize_concept

from .base import BuildContext, Fact
from .rules import SubtaskRule, lexicon

_WORD = re.compile(r"[a-z]+")


@lru_cache(maxsize=1)
def _stop() -> frozenset[str]:
    from mmrakit.images.entities import stopwords

    return frozenset(set(stopwords()) | set(lexicon()["question_stopwords"]))


def _concept(text: str) -> str | None:
    try:
        return normalize_concept(text)
    except ValueError:
        return None


def mentioned_concepts(text: str, ctx: BuildContext, n_max: int = 3) -> set[str]:
    """Concepts the graph knows that a question names (n-grams not starting/ending in stop words)."""
    words = _WORD.findall(text.lower())
    stop = _stop()
    out: set[str] = set()
    for i in range(len(words)):
        for n in range(1, n_max + 1):
            gram = words[i:i + n]
            if len(gram) < n or gram[0] in stop or gram[-1] in stop:
                continue
            c = _concept(" ".join(gram))
            if c and ctx.graph.known(c):
                out.add(c)
    return out


def text_only_answer(c: Candidate, ctx: BuildContext, rels: Iterable[str]) -> str | None:
    """What a text-only solver answers (None = it cannot tell)."""
    rels = tuple(rels)
    q = c.question.casefold()
    if c.options:
        leaked = [k for k, v in c.options.items() if re.search(rf"\b{re.escape(v.casefold())}\b", q)]
        if len(leaked) == 1:
            return leaked[0]
        if not rels:
            return None
        mentions = mentioned_concepts(c.question, ctx)
        if not mentions:
            return None
        scores = {}
        for k, v in c.options.items():
            oc = _concept(v)
            scores[k] = 0 if oc is None else sum(ctx.graph.linked(m, oc, rels) for m in mentions if m != oc)
        best = max(scores.values())
        winners = [k for k, s in scores.items() if s == best]
        return winners[0] if best > 0 and len(winners) == 1 else None
    if not rels:
        return None
    mentions = sorted(mentioned_concepts(c.question, ctx))
    if len(mentions) < 2:
        return None
    # the mention most linked from the others plays the target; Yes iff every other mention links to it
    links = {t: sum(ctx.graph.linked(m, t, rels) for m in mentions if m != t) for t in mentions}
    target = max(mentions, key=lambda t: (links[t], t))
    return "Yes" if links[target] == len(mentions) - 1 else "No"


def cooccurrence_answer(c: Candidate, ctx: BuildContext, margin: float, min_images: int = 30) -> str | None:
    """What a reader who knows which things usually occur together answers (None = it cannot tell):
    the option found most often with every kind the question names (``PoolView.found_with``, the
    smallest share over the named kinds), when it leads the next option by ``margin``. A pool of fewer
    than ``min_images`` images says nothing about what usually goes together: the reader abstains."""
    if not c.options or len(ctx.pool) < min_images:
        return None
    named = sorted(mentioned_concepts(c.question, ctx))
    if not named:
        return None
    scores = {}
    for k, v in c.options.items():
        oc = _concept(v)
        scores[k] = 0.0 if oc is None else min(ctx.pool.found_with(oc, m) for m in named)
    ranked = sorted(scores.items(), key=lambda kv: -kv[1])
    if len(ranked) < 2 or ranked[0][1] - ranked[1][1] < margin:
        return None
    return ranked[0][0]


def support_from_graph(c: Candidate, ctx: BuildContext, rule: SubtaskRule) -> tuple[set[str], set[str]] | None:
    """Option texts each image alone supports: some entity grounded in it reaches the option via the rule's relations."""
    if not c.options or not rule.relations:
        return None
    out = []
    for sha in (c.image1, c.image2):
        if sha not in ctx.pool.images:
            return None
        im = ctx.pool[sha]
        reach = {e.end for concept in im.concepts() for r in rule.relations for e in ctx.graph.out(concept, r)}
        out.append({v for v in c.options.values() if _concept(v) in reach})
    return out[0], out[1]


class FilterState:
    """Per-subtask memory of what was kept, for duplicate detection."""

    def __init__(self, order_dependent: bool, reviewed: Iterable[Candidate] = ()) -> None:
        self.order_dependent = order_dependent
        self.seen: set[tuple] = set()  # item keys kept in this build
        self.reviewed: dict[tuple, tuple] = {}  # item key -> content of a reviewed candidate from an earlier build
        for c in reviewed:
            self.reviewed[self.key(c, c.evidence.notes.get("key", ""))] = self.content(c)

    @staticmethod
    def content(c: Candidate) -> tuple:
        """What an item says, independent of where its answer letter landed."""
        answer = c.options[c.answer] if c.options else c.answer
        return (c.image1, c.image2, c.question, frozenset((c.options or {}).values()), answer)

    def key(self, c: Candidate, fact_key: str) -> tuple:
        pair = (c.image1, c.image2) if self.order_dependent else tuple(sorted((c.image1, c.image2)))
        return (c.task, pair, c.qa_type, fact_key)


def check(c: Candidate, fact: Fact | None, ctx: BuildContext, rule: SubtaskRule, state: FilterState) -> str | None:
    """The first filter the candidate fails, or None. Kept candidates are remembered in ``state``."""
    pool = ctx.pool
    for sha, ents in ((c.image1, c.evidence.entities1), (c.image2, c.evidence.entities2)):
        if sha not in pool.images:
            return "entity_not_grounded"
        if any(not pool[sha].grounded(e.concept) for e in ents):
            return "entity_not_grounded"
    if pool.same_group(c.image1, c.image2):
        return "same_duplicate_group"
    fact_key = fact.key if fact is not None else c.evidence.notes.get("key", "")
    key = state.key(c, fact_key)
    if not c.order_probe:
        if key in state.seen:
            return "duplicate_item"
        held = state.reviewed.get(key)
        if held is not None and held != state.content(c):  # a reviewed item already covers this pair and answer
            return "duplicate_item"
    guess = text_only_answer(c, ctx, rule.text_only_relations)
    if guess is not None and guess == c.answer:
        return "text_only_answerable"
    margin = rule.param("cooccurrence_margin")
    if margin is not None and cooccurrence_answer(c, ctx, float(margin),
                                                  int(rule.param("cooccurrence_min_images", 30))) == c.answer:
        return "text_only_answerable"
    if c.options:
        support = fact.support if fact is not None and fact.support is not None else support_from_graph(c, ctx, rule)
        if support is not None:
            for side in support:
                letters = [k for k, v in c.options.items() if v in side]
                if letters == [c.answer]:
                    return "single_image_answerable"
    else:
        one = fact.one_image if fact is not None else tuple(c.evidence.notes.get("one_image", (None, None)))
        if c.answer in one:
            return "single_image_answerable"
    if not c.order_probe:
        state.seen.add(key)
    return None
