"""Facts -> Candidates: phrasing from templates, option lists, and uniformly spread answer letters."""

from __future__ import annotations

import random

from mmrakit.models import OPTION_LETTERS, Candidate

from .base import Fact
from .rules import templates


class LetterSchedule:
    """Answer positions for one subtask: shuffled blocks of all letters, so every letter is used
    equally often after each block (and at most one apart at any time)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._queues: dict[int, list[str]] = {}

    def next(self, n_options: int) -> str:
        q = self._queues.setdefault(n_options, [])
        if not q:
            block = list(OPTION_LETTERS[:n_options])
            self.rng.shuffle(block)
            q.extend(block)
        return q.pop(0)


def option_texts(fact: Fact, n_options: int, allowed=None, prefer=None) -> list[str] | None:
    """Answer + distractors (answer first), or None when there are too few distractors for 3 options.
    ``allowed(text, answer)`` may veto a distractor (e.g. one repeated too often without being an answer);
    ``prefer(text)`` ranks the candidates of each distractor group (lower first, stable)."""
    if fact.option_order is not None:
        return list(fact.option_order)
    seen = {fact.answer.casefold()}
    chosen: list[str] = []
    if fact.distractor_groups:
        queues = [sorted(g, key=prefer) if prefer is not None else list(g) for g in fact.distractor_groups]
        while len(chosen) < n_options - 1 and any(queues):
            for q in queues:
                while q:
                    d = q.pop(0)
                    if d.casefold() not in seen and (allowed is None or allowed(d, fact.answer)):
                        seen.add(d.casefold())
                        chosen.append(d)
                        break
                if len(chosen) == n_options - 1:
                    break
        return [fact.answer, *chosen] if len(chosen) >= 2 else None
    for d in fact.distractors:
        if allowed is not None and not allowed(d, fact.answer):
            continue
        if d.casefold() not in seen:
            seen.add(d.casefold())
            chosen.append(d)
        if len(chosen) == n_options - 1:
            break
    if len(chosen) < 2:
        return None
    return [fact.answer, *chosen]


def place(texts: list[str], answer: str, letter: str) -> dict[str, str]:
    """Options dict with ``answer`` at ``letter`` and the others in their given order."""
    others = [t for t in texts if t != answer]
    pos = OPTION_LETTERS.index(letter)
    ordered = others[:pos] + [answer] + others[pos:]
    return dict(zip(OPTION_LETTERS, ordered))


def question(task: str, fact: Fact, phrasing: int) -> str:
    phrasings = templates()[task].phrasings(fact.form)
    return phrasings[phrasing % len(phrasings)].format(**fact.slots)


def compose(
    task: str,
    granularity: str,
    fact: Fact,
    *,
    phrasing: int,
    letter: str | None,
    builder_version: str,
    seed: int,
    texts: list[str] | None = None,
    order_probe: bool = False,
    twin_of: str | None = None,
    options: dict[str, str] | None = None,
) -> Candidate:
    """One Candidate. Choice QA needs ``texts`` (answer first) and a ``letter``, or fixed ``options``."""
    q = question(task, fact, phrasing)
    if fact.qa_type == "Choice QA":
        if options is None:
            assert texts is not None and letter is not None
            options = place(texts, fact.answer, letter)
        answer = next(k for k, v in options.items() if v == fact.answer)
    else:
        options, answer = None, fact.answer
    # shallow copy with its own notes: entity/edge lists are shared, never mutated after mining
    notes = {**fact.evidence.notes, "phrasing": phrasing % len(templates()[task].phrasings(fact.form))}
    evidence = fact.evidence.model_copy(update={"notes": notes})
    return Candidate(task=task, granularity=granularity, qa_type=fact.qa_type, question=q, options=options,
                     answer=answer, image1=fact.image1, image2=fact.image2, evidence=evidence,
                     builder_version=builder_version, seed=seed, order_probe=order_probe, twin_of=twin_of)
