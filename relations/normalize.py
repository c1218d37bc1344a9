"""Text <-> ConceptNet concept URIs: "Dining Tables" -> /c/en/dining_table -> "dining table".

Follows ConceptNet's own convention (lower-cased, NFC, words joined by underscores) and adds
a small, data-driven singulariser for the last word (``data/normalization.toml``) so caption
phrases and COCO categories meet ConceptNet's singular lemmas.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from functools import lru_cache
from importlib import resources

# Word characters plus in-word apostrophes ("fahr's syndrome"); everything else separates words.
_TOKEN_RE = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_LANG_RE = re.compile(r"^[a-z]{2,3}(?:-[a-z0-9]+)?$")


@lru_cache(maxsize=1)
def _rules() -> dict:
    return tomllib.loads(resources.files(__package__).joinpath("data", "normalization.toml").read_text("utf-8"))


def singularize(word: str) -> str:
    """Singular of one lower-case English word by exceptions first, then suffix rules."""
    rules = _rules()
    if "'" in word or not word.isalpha():  # possessives, numbers, codes: leave alone
        return word
    if word in rules["irregular"]:
        return rules["irregular"][word]
    if word in _invariant():
        return word
    for plural, singular in rules["suffix_rules"]:
        if word.endswith(plural):
            if len(word) <= len(plural) + 1:
                return word
            return word[: len(word) - len(plural)] + singular
    return word


@lru_cache(maxsize=1)
def _invariant() -> frozenset[str]:
    return frozenset(_rules()["invariant"])


def split_uri(uri: str) -> tuple[str, str, str]:
    """``/c/en/knife/n/wn/artifact`` -> ("en", "knife", "n/wn/artifact"); ValueError if not a concept URI."""
    parts = uri.split("/", 4)
    if len(parts) < 4 or parts[0] != "" or parts[1] != "c" or not parts[2] or not parts[3]:
        raise ValueError(f"not a ConceptNet concept URI: {uri!r}")
    return parts[2], parts[3], parts[4] if len(parts) == 5 else ""


def base_uri(uri: str) -> str:
    """Strip the sense suffix: ``/c/en/knife/n/wn/artifact`` -> ``/c/en/knife``."""
    lang, text, _ = split_uri(uri)
    return f"/c/{lang}/{text}"


def tokens(text: str) -> list[str]:
    text = unicodedata.normalize("NFC", text).casefold().replace("’", "'")
    return _TOKEN_RE.findall(text)


def normalize_concept(text: str, lang: str = "en", *, singular: bool = True) -> str:
    """Concept URI for a phrase or URI: "Dining Tables" -> "/c/en/dining_table".

    An existing concept URI is kept (only its sense suffix is stripped). For English, a leading
    article is dropped and the last word singularised (rules and exceptions in data).
    Raises ValueError for text with no word characters.
    """
    text = text.strip()
    if text.startswith("/c/"):
        return base_uri(text)
    words = tokens(text)
    if lang == "en":
        articles = _rules()["leading_articles"]
        while len(words) > 1 and words[0] in articles:
            words = words[1:]
        if singular and words:
            words[-1] = singularize(words[-1])
    if not words:
        raise ValueError(f"no concept in {text!r}: it has no letters or digits")
    return f"/c/{lang}/{'_'.join(words)}"


def candidate_uris(text: str, lang: str = "en") -> list[str]:
    """Normalised forms to try in order: singularised first, then the words as written."""
    first = normalize_concept(text, lang)
    if text.strip().startswith("/c/"):
        return [first]
    second = normalize_concept(text, lang, singular=False)
    return [first] if second == first else [first, second]


def concept_text(uri: str) -> str:
    """Readable text of a concept: "/c/en/dining_table/n" -> "dining table"; URLs are returned as is."""
    if not uri.startswith("/c/"):
        return uri
    _, text, _ = split_uri(uri)
    return text.replace("_", " ")


def is_language_code(code: str) -> bool:
    return bool(_LANG_RE.match(code))
