"""MMRA and ReMI prompts and answer extraction, shared by the runner and exported lmms-eval packs.

The wording lives in ``data/prompts.toml`` (``PROMPT_TEMPLATES``); this module only fills it in
and parses responses, so a pack can embed the same data and get the same prompts.
Pure Python, no heavy imports.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections import Counter
from importlib import resources
from typing import Any

from ..errors import InputError

PROMPT_TEMPLATES_TEXT: str = resources.files("mmrakit").joinpath("data/prompts.toml").read_text("utf-8")
"""``mmrakit/data/prompts.toml`` as written (reports copy it beside their results)."""
PROMPT_TEMPLATES: dict[str, Any] = tomllib.loads(PROMPT_TEMPLATES_TEXT)
"""The raw template data (``data/prompts.toml``) — embed it to reproduce the prompts elsewhere."""

_MMRA = PROMPT_TEMPLATES["mmra"]
_REMI = PROMPT_TEMPLATES["remi"]
REMI_TASKS: tuple[str, ...] = tuple(_REMI["answer_field"])
BAD_JSON: str = _REMI["bad_json"]
CHOICE_QA, TRUE_FALSE_QA = "Choice QA", "True or false QA"
_IMAGE_TAG = re.compile(r"<image(\d+)>")


# The MMRA section below is copied verbatim into exported lmms-eval packs (exports/lmms_pack.py cuts
# between the "# --- MMRA" and "# --- ReMI" markers): keep the markers, and use only re, Counter, _MMRA,
# TRUE_FALSE_QA and InputError from outside the section.
# --- MMRA -----------------------------------------------------------------------------------------

def normalise_qa_type(qa_type: str) -> str:
    """'Chooice QA', 'choice qa', 'True or false QA' ... -> 'Choice QA' / 'True or false QA'."""
    key = " ".join(str(qa_type).lower().split())
    canonical = _MMRA["qa_types"].get(key)
    if canonical is None:
        raise InputError(
            f"unknown QA_type {qa_type!r}",
            hint=f"MMRA items are one of {sorted(set(_MMRA['qa_types'].values()))}",
        )
    return canonical


def mmra_prompt(question: str, options: dict[str, str] | None, qa_type: str) -> str:
    """The text MMRA's evaluation sends with the two images (images go first, in order)."""
    qa = normalise_qa_type(qa_type)
    if qa == TRUE_FALSE_QA:
        return _MMRA["true_false"].format(question=question)
    if not options:
        raise InputError(f"Choice QA item has no options: {question[:80]!r}", hint="options must map letters to texts")
    rendered = "".join(_MMRA["option_item"].format(letter=k, text=v) for k, v in options.items())
    letters = list(options)
    template = {3: _MMRA["choice_3"], 4: _MMRA["choice_4"]}.get(len(letters), _MMRA["choice_n"])
    return template.format(question=question, options=rendered, count=len(letters), letters=", ".join(letters))


# "answer is (B)", "Answer: B", "option b." -- a lower-case letter only when nothing follows it
# ("the answer is a dog" names no option).
_ANSWER_PHRASE = re.compile(
    r"(?:answer|option|choice)\s*(?:is|would be|should be|:)?\s*[:\-]?\s*[\(\[*]*"
    r"(?:((?-i:[A-Z]))(?![A-Za-z])|((?-i:[a-z]))(?=[\)\]*]*\s*(?:[.,:;!]|$)))",
    re.IGNORECASE,
)
# "(A) or (B)", "A and C", "A/B": the response hedges between letters
_LETTER_LIST = re.compile(r"\s*[\(\[*]*[A-Za-z][\)\]*.:]*\s*(?:or|and|,|/|&)\s*[\(\[*]*[A-Za-z](?![A-Za-z])")
_NOT_ARTICLE = {"and", "or", "nor", "vs", "versus", "then"}


def _letters_in(pattern: re.Pattern[str], text: str, valid: set[str]) -> list[str]:
    return [m.upper() for m in pattern.findall(text) if m.upper() in valid]


def _standalone_letters(text: str, valid: set[str]) -> list[str]:
    """Upper-case letters standing alone, skipping the article 'A' ('A dog is...')."""
    found = []
    for m in re.finditer(r"\b([A-Z])\b", text):
        letter = m.group(1)
        if letter not in valid:
            continue
        if letter == "A":
            nxt = re.match(r"\s+([a-z]+)", text[m.end():])
            if nxt and nxt.group(1) not in _NOT_ARTICLE:
                continue
        found.append(letter)
    return found


def _single(letters: list[str]) -> str | None:
    distinct = set(letters)
    return letters[0] if len(distinct) == 1 else None


def _extract_choice(response: str, options: dict[str, str] | None) -> tuple[str | None, str]:
    valid = set(options) if options else {"A", "B", "C", "D"}
    bare = re.sub(r"[\s\W_]+", "", response)
    if len(bare) == 1 and bare.upper() in valid:
        return bare.upper(), "letter_only"
    phrase = [(up or low).upper() for up, low in _ANSWER_PHRASE.findall(response) if (up or low).upper() in valid]
    if phrase:
        return phrase[-1], "answer_phrase"
    lead = re.match(r"\s*[\(\[*]*([A-Za-z])(?:[\)\].:,*]|\s*$)", response)
    if lead and lead.group(1).upper() in valid:
        if _LETTER_LIST.match(response):
            return None, "ambiguous_letters"
        return lead.group(1).upper(), "leading_letter"
    paren = _letters_in(re.compile(r"\(([A-Za-z])\)"), response, valid)
    if paren:
        one = _single(paren)
        return (one, "paren_letter") if one else (None, "ambiguous_letters")
    standalone = _standalone_letters(response, valid)
    if standalone:
        one = _single(standalone)
        return (one, "standalone_letter") if one else (None, "ambiguous_letters")
    if options:
        low = response.lower()
        hits = [k for k, v in options.items() if v and re.search(r"(?<!\w)" + re.escape(v.lower().strip()) + r"(?!\w)", low)]
        # a hit contained in a longer hit ("red" inside "dark red") is not evidence of its own
        hits = [k for k in hits if not any(k != o and options[k].lower() in options[o].lower() for o in hits)]
        if len(hits) == 1:
            return hits[0], "option_text"
        if len(hits) > 1:
            return None, "ambiguous_option_text"
    return None, "none"


def _extract_yes_no(response: str) -> tuple[str | None, str]:
    words = {w: "Yes" for w in _MMRA["yes_no"]["yes"]} | {w: "No" for w in _MMRA["yes_no"]["no"]}
    alternatives = "|".join(map(re.escape, words))
    bare = re.sub(r"[\W_]+", " ", response).strip().lower()
    if bare in words:
        return words[bare], "yes_no_only"
    lead = re.match(rf"\s*[\W_]*({alternatives})\b", response, re.IGNORECASE)
    if lead:
        return words[lead.group(1).lower()], "leading_yes_no"
    phrase = re.findall(rf"answer\s*(?:is|:)?\s*[:\-]?\s*[\"'*]*({alternatives})\b", response, re.IGNORECASE)
    if phrase:
        return words[phrase[-1].lower()], "answer_phrase"
    found = [words[w.lower()] for w in re.findall(rf"\b({alternatives})\b", response, re.IGNORECASE)]
    if not found:
        return None, "none"
    counts = Counter(found).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return None, "ambiguous_yes_no"
    return counts[0][0], "yes_no_majority"


def extract_mmra_answer(response: str, options: dict[str, str] | None, qa_type: str) -> tuple[str | None, str]:
    """(answer, method): a letter / 'Yes' / 'No', or None; method names the rule that decided.

    Order: the whole response is the answer; an explicit "answer is X"; a leading letter; letters in
    parentheses; standalone capital letters; finally the text of exactly one option. Two different
    letters at the same level count as no answer ('ambiguous_*'), never as a guess.
    """
    if response is None:
        return None, "none"
    if normalise_qa_type(qa_type) == TRUE_FALSE_QA:
        return _extract_yes_no(str(response))
    return _extract_choice(str(response), options)


def extract_mmra_answer_demo(response: str, qa_type: str) -> str | None:
    """MMRA's own evaluate_demo.py rule (for comparison with the paper): most frequent
    ``(X)`` letter, else most frequent ``\\b[A-D]\\b``; yes/no by majority; ties go to the
    tied value first seen latest."""
    if normalise_qa_type(qa_type) == TRUE_FALSE_QA:
        found = [w.capitalize() for w in re.findall(r"\b(yes|no)\b", response or "", re.IGNORECASE)]
    else:
        found = re.findall(r"\(([A-D])\)", response or "") or re.findall(r"\b([A-D])\b", response or "")
    if not found:
        return None
    counts = Counter(found).most_common()
    top = [value for value, n in counts if n == counts[0][1]]
    return top[-1]


# --- ReMI -----------------------------------------------------------------------------------------

def remi_appendix(task: str) -> str:
    """The per-task JSON answer instruction appended to the question."""
    try:
        field = _REMI["answer_field"][task]
    except KeyError:
        raise InputError(f"unknown ReMI task {task!r}", hint=f"ReMI tasks are {', '.join(REMI_TASKS)}") from None
    return _REMI["json_instruction"] + " " + field


def remi_prompt_text(question: str, task: str) -> str:
    """'Question: ' + question + appendix, with the ``<imageK>`` tags still in place."""
    return _REMI["question_prefix"] + question + remi_appendix(task)


def remi_prompt_parts(question: str, task: str, available: list[int] | None = None) -> list[str | int]:
    """The prompt as interleaved parts: text strings and image numbers K (1-based, ``image_K``).

    Each ``<imageK>`` tag becomes the int K at its place (the Colab replaces tag K by the
    K-th image). ``available`` lists the image numbers that exist; a tag naming a missing image is
    an error, and an available image whose tag is absent is dropped (as in the Colab).
    """
    text = remi_prompt_text(question, task)
    parts: list[str | int] = []
    pos = 0
    for m in _IMAGE_TAG.finditer(text):
        k = int(m.group(1))
        if available is not None and k not in available:
            raise InputError(f"ReMI question names <image{k}> but image_{k} is empty: {question[:80]!r}")
        if m.start() > pos:
            parts.append(text[pos:m.start()])
        parts.append(k)
        pos = m.end()
    if pos < len(text):
        parts.append(text[pos:])
    return parts


def _strip_json(text: str) -> str:
    start = text.index("{") if "{" in text else 0
    end = text.rindex("}") + 1 if "}" in text else 0
    return text[start:end]


def extract_remi_answer(response: str) -> tuple[str, str]:
    """(prediction, method) by the Colab's parsing: the ``answer`` field of the first ``{``…last ``}``
    span, lower-cased and cut at ``%``; ``('BAD_JSON', 'bad_json')`` when that fails."""
    candidate = _strip_json(response or "").replace('\\"', "").replace("\\", "")
    try:
        value = json.loads(candidate)["answer"]
    except (KeyError, TypeError, IndexError, json.JSONDecodeError):
        return BAD_JSON, "bad_json"
    return str(value).lower().split("%")[0].strip(), "json"


def remi_label(label: str) -> str:
    """Gold labels get the same normalisation as predictions (lower, no backslashes, cut at %)."""
    return str(label).lower().replace("\\", "").split("%")[0].strip()


__all__ = [
    "BAD_JSON", "CHOICE_QA", "PROMPT_TEMPLATES", "REMI_TASKS", "TRUE_FALSE_QA",
    "extract_mmra_answer", "extract_mmra_answer_demo", "extract_remi_answer", "mmra_prompt",
    "normalise_qa_type", "remi_appendix", "remi_label", "remi_prompt_parts", "remi_prompt_text",
]
