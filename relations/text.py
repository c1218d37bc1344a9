"""Caption linguistics: parts of speech, lemmas, events, head nouns and attribute pairs.

Lemmas and each word's possible parts of speech come from lemminflect's dictionary (a PyPI package
whose data installs with it; nothing is downloaded at run time). lemminflect does not tag in
context, so a small rule tagger written for caption syntax ("a man riding a horse", "two plates of
food on a table") picks one reading per token. The word classes that decide what is an event (light,
stative, posture verbs, phrasal events) and the closed classes are data: ``data/caption_lexicon.toml``.

    caption_events("A man riding a wave on top of a surfboard")   -> ["ride"]
    caption_events("Types of fruit on a table")                    -> []
    caption_events("A clock that reads 2:46")                      -> []
    caption_events("A kite flying in the sky", agents=True)       -> []
    caption_nouns("A dog sitting on a dining table")               -> ["dog", "table"]
    attribute_pairs("a paper cup on a wooden table")               -> [("cup", "paper"), ("table", "wooden")]

Accuracy on 200 hand-tagged COCO captions: tests/test_caption_text.py (figures in benchmarks/RESULTS.md).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

OPEN = ("NOUN", "VERB", "ADJ", "ADV")
BE = {"is", "are", "was", "were", "be", "been", "am", "'s"}
HAVE = {"has", "have", "had"}
MODALS = {"can", "could", "will", "would", "should", "may", "might", "must", "shall", "does", "did", "do"}
CLAUSE_BREAKS = {",", ";", ":", "while", "as", "that", "who", "which", "because", "when", "where", "whilst"}
IRREGULAR_PARTICIPLES = {"set", "cut", "lit", "shown", "taken", "strewn", "made", "done", "put", "hung", "spread",
                         "fallen", "broken", "frozen", "built", "sold", "left", "held", "worn", "torn", "grown",
                         "known", "seen", "given", "hidden", "drawn", "thrown", "blown", "ridden", "eaten", "bound",
                         "laid", "stuck", "split", "shut", "hit", "sat", "stood"}
_TOKEN = re.compile(r"\d+(?:[:.,]\d+)*|[a-z]+(?:-[a-z]+)*|'s\b|'|[^\sa-z0-9]")


@dataclass
class Token:
    text: str
    pos: str = "X"
    lemma: str = ""
    readings: tuple[str, ...] = ()
    form: str = ""        # "ing", "ed", "s", "base" for open-class verbs; "" otherwise
    finite: bool = False
    modifier: bool = False  # a noun that modifies the next noun, or is part of a compound adjective


@dataclass(frozen=True)
class Lexicon:
    closed: dict[str, str]
    activity: frozenset[str]
    light: frozenset[str]
    stative: frozenset[str]
    agentive: frozenset[str]
    phrasal: dict[str, frozenset[str]]
    force_noun: frozenset[str]
    ing_nouns: frozenset[str]
    ing_compounds: frozenset[str]
    animate: frozenset[str]
    partitives: frozenset[str]
    plural_invariant: frozenset[str]
    inanimate_modifiers: frozenset[str]
    materials: frozenset[str]
    noun_lemmas: dict[str, str]

    @property
    def known_verbs(self) -> frozenset[str]:
        return self.activity | self.light | self.stative | self.agentive


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    raw = tomllib.loads(resources.files(__package__).joinpath("data", "caption_lexicon.toml").read_text("utf-8"))
    closed: dict[str, str] = {}
    for cls in raw["closed"]["order"]:
        for w in raw["closed"][cls]:
            closed.setdefault(w, cls)
    v, n = raw["verbs"], raw["nouns"]
    fs = frozenset
    return Lexicon(closed=closed, activity=fs(v["activity"]), light=fs(v["light"]), stative=fs(v["stative"]),
                   agentive=fs(v["agentive"]), phrasal={k: fs(x) for k, x in raw["phrasal"].items()},
                   force_noun=fs(n["force"]), ing_nouns=fs(n["ing"]), ing_compounds=fs(n["ing_compounds"]),
                   animate=fs(n["animate"]), partitives=fs(n["partitives"]),
                   plural_invariant=fs(n["plural_invariant"]), inanimate_modifiers=fs(n["inanimate_modifiers"]),
                   materials=fs(n["materials"]), noun_lemmas=dict(raw.get("noun_lemmas", {})))


@lru_cache(maxsize=65536)
def _readings(word: str) -> dict[str, tuple[str, ...]]:
    """{UPOS: lemmas} from lemminflect's dictionary; out-of-vocabulary words read as nouns."""
    import lemminflect

    part = word.rsplit("-", 1)[-1]
    found = {k: v for k, v in lemminflect.getAllLemmas(part).items() if k in OPEN}
    if not found:
        if part.endswith("ing") and len(part) > 5:
            found = dict(lemminflect.getAllLemmasOOV(part, "VERB"))
        else:
            found = dict(lemminflect.getAllLemmasOOV(part, "NOUN"))
    if "-" in word:  # "frost-covered", "t-shirt": the last part decides, the whole word is the lemma
        pre = word.rsplit("-", 1)[0] + "-"
        return {k: tuple(pre + x for x in lem) for k, lem in found.items()}
    return found


def tokenize(caption: str) -> list[Token]:
    return [Token(t) for t in _TOKEN.findall(caption.lower())]


def _nounish(toks: list[Token], j: int, lex: Lexicon) -> bool:
    """Can token ``j`` start or continue a noun (so that the word before it is a prenominal modifier)?"""
    tok = toks[j] if 0 <= j < len(toks) else None
    if tok is None or tok.text in lex.closed or not tok.text[0].isalpha():
        return False
    w = tok.text
    r = _readings(w)
    if w in lex.ing_compounds:
        return _nounish(toks, j + 1, lex)
    if w in lex.force_noun or w in lex.ing_nouns:
        return True
    if w.endswith("ing") and "VERB" in r and r["VERB"][0] in lex.known_verbs:
        return False  # "a fork holding ...": the -ing form of a known verb starts a verb phrase
    return "NOUN" in r


def _is_participle(word: str, r: dict[str, tuple[str, ...]]) -> bool:
    if "VERB" not in r:
        return False
    return word in IRREGULAR_PARTICIPLES or (word not in r["VERB"] and word.endswith(("ed", "en")))


def _plural_subject(toks: list[Token], i: int, lex: Lexicon) -> bool:
    """Is the noun phrase ending at token ``i`` plural ("trains", "sheep", "a herd of sheep", "buses and a taxi")?"""
    t = toks[i]
    if t.pos != "NOUN":
        return False
    if t.text != t.lemma or t.text in lex.plural_invariant:
        return True
    start = i
    while start > 0 and toks[start - 1].pos in ("DET", "ADJ", "NUM", "NOUN", "ADV"):
        start -= 1
    return start >= 2 and toks[start - 1].text in ("and", "or") and toks[start - 2].pos == "NOUN"


def tag(caption: str) -> list[Token]:
    """Tokens with one part of speech (UPOS) and lemma each."""
    lex = lexicon()
    toks = tokenize(caption)
    finite_seen = False
    for i, t in enumerate(toks):
        prev = toks[i - 1] if i else None
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        w = t.text
        if w in CLAUSE_BREAKS:
            finite_seen = False
        if not w[0].isalpha() and w != "'s":
            t.pos, t.lemma = ("NUM" if w[0].isdigit() else "PUNCT"), w
            continue
        if w in lex.closed:
            t.pos, t.lemma = lex.closed[w], w
            if w == "to":
                r_next = _readings(nxt.text) if nxt is not None and nxt.text[0].isalpha() else {}
                base_verb = "VERB" in r_next and nxt.text in r_next["VERB"]
                t.pos = "PART" if base_verb or (nxt is not None and nxt.text == "be") else "ADP"
            if w == "'s":
                t.pos = "AUX" if nxt is not None and not _nounish(toks, i + 1, lex) and prev and prev.pos == "PRON" else "PART"
            if w in HAVE | {"do", "does", "did"} and nxt is not None and (
                    nxt.pos == "X" and (nxt.text in ("a", "an", "the", "some", "his", "her", "their", "its", "many",
                                                     "several", "two", "three") or _nounish(toks, i + 1, lex))):
                t.pos, t.lemma, t.form = "VERB", ("have" if w in HAVE else "do"), "base"  # "has a frisbee", "does a trick"
            if t.pos in ("AUX", "VERB") and w not in MODALS:
                finite_seen = True
            continue
        r = _readings(w)
        t.readings = tuple(r)
        prev_pos = prev.pos if prev else None
        pos = _choose(t, r, toks, i, prev_pos, finite_seen, lex)
        t.pos = pos
        t.lemma = (r.get(pos) or r.get("NOUN") or next(iter(r.values()), (w,)))[0]
        if pos == "NOUN":
            t.lemma = lex.noun_lemmas.get(w, t.lemma)
        if pos == "VERB":
            infinitive = prev is not None and (prev.text in MODALS or (prev.text == "to" and prev.pos == "PART"))
            t.form = ("ing" if w.endswith("ing") and w != t.lemma else "base" if infinitive
                      else "ed" if _is_participle(w, r)
                      else "s" if w.endswith("s") and w != t.lemma else "base")
            if t.form == "s" or (t.form == "base" and prev is not None and prev.pos in ("NOUN", "PRON")):
                t.finite = True
                finite_seen = True
    _mark_modifiers(toks)
    return toks


#: words that start a verb's object noun phrase: after "a girl wearing pink", "holds a kite" is a verb
OBJECT_STARTS = frozenset({"a", "an", "the", "his", "her", "their", "its", "some", "two", "three", "one"})


def _choose(t: Token, r: dict, toks: list[Token], i: int, prev_pos: str | None, finite_seen: bool,
            lex: Lexicon) -> str:
    w = t.text
    prev = toks[i - 1] if i else None
    nxt = toks[i + 1] if i + 1 < len(toks) else None
    next_noun = _nounish(toks, i + 1, lex)
    if w in lex.force_noun:
        return "NOUN"
    if "VERB" in r and w.endswith("ing") and w not in r["VERB"]:  # -ing form of a verb
        if prev_pos == "AUX" and prev is not None and prev.text in BE | {"being"}:
            return "VERB"
        if prev is not None and prev.text in ("all", "both", "each") and i >= 2 and toks[i - 2].pos in ("NOUN", "PRON"):
            return "VERB"  # floating quantifier: "three men all eating bananas"
        if w in lex.ing_compounds and next_noun and prev_pos not in ("NOUN", "PRON"):
            return "NOUN"
        if prev_pos in ("DET", "ADJ", "NUM", "PART"):
            if w in lex.ing_nouns or not next_noun:
                return "NOUN"
            return "ADJ"
        if w in lex.ing_nouns and prev_pos not in ("NOUN", "PRON", "AUX", "ADV", "ADP"):
            return "NOUN"
        return "VERB"
    if set(r) == {"VERB"} and prev_pos in (None, "DET", "ADJ", "NUM", "ADP") and w not in r["VERB"] \
            and not (prev is not None and prev.text in ("that", "which", "who")) \
            and w.endswith("s") and not _is_participle(w, r):
        return "NOUN"  # a finite verb does not follow a determiner or start a caption: "pans of potatoes"
    if "VERB" in r and prev is not None and prev.pos == "PART" and prev.text == "to" and w in r["VERB"]:
        return "VERB"  # infinitive: "reaching up to hit the ball"
    if _is_participle(w, r):
        if next_noun and prev_pos in (None, "DET", "ADJ", "NUM", "ADV", "CCONJ", "PUNCT", "ADP"):
            return "ADJ"
        if prev_pos in ("DET", "NUM") and "NOUN" in r:
            return "NOUN"  # "a set of plates"
        return "VERB"
    if len(r) == 1:
        return next(iter(r))
    verb_lemma = r.get("VERB", ("",))[0]
    known_verb = verb_lemma in lex.known_verbs
    if "VERB" in r and known_verb:
        after_to = prev is not None and (prev.text == "to" or prev.text in MODALS)
        if after_to and (prev.text in MODALS or "NOUN" not in r or not next_noun):
            return "VERB"
        subject_before = prev is not None and (
            prev.pos == "NOUN" or prev.text in ("he", "she", "it", "they", "we", "i", "you", "who", "that", "which"))
        third_person_s = w.endswith("s") and w != verb_lemma
        clause_goes_on = nxt is not None and nxt.pos != "PUNCT" and nxt.text not in (".", "!", "?")
        if subject_before and not finite_seen and clause_goes_on:
            plural_prev = _plural_subject(toks, i - 1, lex)
            if third_person_s and prev.text == prev.lemma and not next_noun:
                return "VERB"
            if not third_person_s and (plural_prev or prev.text in ("they", "we", "i", "you")):
                return "VERB"
        if subject_before and not finite_seen and third_person_s and prev.text in ("he", "she", "it", "who",
                                                                                   "that", "which"):
            return "VERB"
        if (third_person_s and not finite_seen and prev_pos == "ADJ" and nxt is not None
                and nxt.text in OBJECT_STARTS and any(p.pos in ("NOUN", "PRON") for p in toks[:i - 1])):
            return "VERB"  # a colour worn as a noun, then the clause's verb: "a man in white holds a kite"
    if "ADJ" in r and (next_noun or prev_pos in ("AUX", "ADV") or (nxt is not None and nxt.text in ("and", ",", "or"))
                       or (prev_pos == "NOUN" and nxt is not None and nxt.pos == "X" and nxt.text in lex.closed
                           and nxt.text in ("of", "to", "with", "for", "from"))):
        return "ADJ"
    for pos in ("NOUN", "ADJ", "VERB", "ADV"):
        if pos in r:
            return pos
    return "X"


def _mark_modifiers(toks: list[Token]) -> None:
    """Nouns that are not heads: before another noun ("fire hydrant"), or inside a compound adjective
    ("a snow covered field", "a rock strewn beach")."""
    for i, t in enumerate(toks):
        if t.pos != "NOUN":
            continue
        nxt = toks[i + 1] if i + 1 < len(toks) else None
        after = toks[i + 2] if i + 2 < len(toks) else None
        if nxt is not None and nxt.pos == "NOUN":
            t.modifier = True
        elif (nxt is not None and nxt.text.endswith(("ed", "en")) and nxt.pos in ("VERB", "ADJ")
              and after is not None and after.pos in ("NOUN", "ADJ")):
            t.modifier = True
        elif nxt is not None and nxt.text in ("like", "high") and after is not None and after.pos == "NOUN":
            t.modifier = True  # "ghost like people", "a sky high view"


def _heads(toks: list[Token]) -> list[int]:
    return [i for i, t in enumerate(toks) if t.pos == "NOUN" and not t.modifier]


def _np_start(toks: list[Token], head: int) -> int:
    j = head
    while j > 0 and toks[j - 1].pos in ("DET", "ADJ", "NUM", "NOUN", "ADV", "PART") and toks[j - 1].text != "to":
        j -= 1
    return j


def _animate(toks: list[Token], head: int, lex: Lexicon) -> bool:
    t = toks[head]
    if t.lemma not in lex.animate and t.text not in lex.animate:
        return False
    return not any(toks[j].text in lex.inanimate_modifiers for j in range(_np_start(toks, head), head))


def _subject_is_animate(toks: list[Token], verb: int, lex: Lexicon) -> bool:
    """Nearest subject-like phrase before the verb: not an object of a preposition (other than the
    partitive 'of') or of a verb. No subject found (a caption starting with the verb) counts as animate."""
    for j in range(verb - 1, -1, -1):
        t = toks[j]
        if t.pos == "PRON" and t.text not in ("who", "that", "which", "there", "others", "one"):
            return t.text in lex.animate
        if t.pos != "NOUN" or t.modifier:
            continue
        start = _np_start(toks, j)
        gov = toks[start - 1] if start > 0 else None
        partitive = (gov is not None and gov.text == "of" and start >= 2 and toks[start - 2].pos == "NOUN"
                     and toks[start - 2].lemma in lex.partitives)
        if gov is not None and ((gov.pos == "ADP" and not partitive) or gov.pos == "VERB"):
            continue
        return _animate(toks, j, lex)
    return True


def _events(toks: list[Token], agents: bool = False) -> list[str]:
    lex = lexicon()
    out: list[str] = []
    for i, t in enumerate(toks):
        if t.pos != "VERB":
            continue
        lemma = t.lemma
        prev = toks[i - 1] if i else None
        if lemma in lex.light:
            obj = next((toks[j] for j in range(i + 1, min(len(toks), i + 5)) if toks[j].pos == "NOUN"
                        and not toks[j].modifier), None)
            if obj is not None and obj.lemma in lex.phrasal.get(lemma, ()):
                out.append(f"{lemma} {obj.lemma}")
            continue
        if lemma in lex.stative:
            continue
        if t.form == "ed":
            nxt = toks[i + 1] if i + 1 < len(toks) else None
            active_past = (prev is not None and prev.pos in ("NOUN", "PRON") and nxt is not None
                           and nxt.pos in ("DET",) and nxt.text not in ("that", "which"))
            progressive_passive = prev is not None and prev.text == "being"
            perfect = prev is not None and prev.text in HAVE
            if not (active_past or progressive_passive or perfect):
                continue
        if (agents or lemma in lex.agentive) and not _subject_is_animate(toks, i, lex):
            continue
        if lemma not in out:
            out.append(lemma)
    return out


def caption_events(caption: str, *, agents: bool = False) -> list[str]:
    """Event lemmas (activities) a caption states, in order, without repeats. ``agents``: only events
    whose subject is a person or an animal ("a man cutting a cake" -> cut; "hair cutting tools",
    "a kite flying" -> nothing), i.e. activities somebody visibly does."""
    return _events(tag(caption), agents)


def caption_nouns(caption: str, *, compounds: bool = False) -> list[str]:
    """Head-noun lemmas in order without repeats; ``compounds`` keeps noun modifiers ("dining table")."""
    toks = tag(caption)
    out: list[str] = []
    for i in _heads(toks):
        lemma = toks[i].lemma
        if compounds:
            j = i
            while j > 0 and toks[j - 1].pos == "NOUN" and toks[j - 1].modifier:
                j -= 1
            lemma = " ".join([t.text for t in toks[j:i]] + [lemma])
        if lemma not in out:
            out.append(lemma)
    return out


def attribute_pairs(caption: str) -> list[tuple[str, str]]:
    """(head noun, attribute) for adjectives and material nouns before a head noun: "a wooden table"
    -> ("table", "wooden"); "a paper cup" -> ("cup", "paper"); "a green and white bus" -> both colours."""
    lex = lexicon()
    toks = tag(caption)
    out: list[tuple[str, str]] = []
    for i in _heads(toks):
        j = i - 1
        while j >= 0 and (toks[j].pos in ("ADJ", "CCONJ", "ADV") or toks[j].text == ","
                          or (toks[j].pos == "NOUN" and toks[j].modifier)):
            t = toks[j]
            if t.pos == "ADJ" or (t.pos == "NOUN" and t.text in lex.materials):
                pair = (toks[i].lemma, t.text)
                if pair not in out:
                    out.insert(len(out), pair)
            j -= 1
    return out


__all__ = ["Token", "attribute_pairs", "caption_events", "caption_nouns", "lexicon", "tag", "tokenize"]
