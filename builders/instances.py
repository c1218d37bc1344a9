"""What the evidence of ONE image says about its instances: which objects are salient, which attribute
a caption states for an instance ("a wooden table", "a red bus"), and every value an image could hold
(for ruling distractors out). Vocabularies live in ``data/evidence.toml``.

Two rules the builders rely on:

- **Instance evidence beats category defaults.** An attribute is an answer for an instance when a caption
  states it for that instance (adjectives before its noun, and the adjective-noun pairs of
  :mod:`mmrakit.relations.text`), or (materials only) when it is the kind's single strong default and no
  caption states another value for it. :attr:`Attribute.kind` records which.
- **A distractor is false for an image only when nothing in it could have that value**: every box of
  every size (crowd and tiny boxes included), every caption noun, the ConceptNet edges of every
  grounded concept, and the scene words (a street has metal and glass even when no caption says so).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from mmrakit.errors import ConfigError
from mmrakit.images.perception import holds_a_group, is_depiction
from mmrakit.models import EntityGrounding

_TOKEN = re.compile(r"[a-z]+")
TOY_USE = "toy"  # [uses.toy]: "as a toy for children"
EVIDENCE_FILE = "builders/data/evidence.toml"
UNLISTED = "(unlisted)"  # the value of a material word outside the option vocabulary ("straw umbrellas")


@dataclass(frozen=True)
class Kind:
    name: str
    words: tuple[str, ...]
    materials: frozenset[str]
    default: str | None
    uses: tuple[str, ...]
    also: frozenset[str]
    fixed_colour: bool
    scene: bool
    caption_only: bool
    implies: tuple[str, ...]


@dataclass(frozen=True)
class Vocab:
    kinds: dict[str, Kind]
    by_words: dict[tuple[str, ...], tuple[str, ...]]  # word tuple -> kind names it may name
    max_words: int
    dimensions: dict[str, dict]  # material / colour: values, adjectives, option
    modifiers: frozenset[str]
    uses: dict[str, dict]  # use id -> option, concepts
    use_by_concept: dict[str, frozenset[str]]  # ConceptNet concept text -> use ids
    salience: dict[str, float]
    naming: dict[str, tuple[frozenset[tuple[str, ...]], frozenset[tuple[str, ...]]]]  # kind -> (confirm, other)
    plural_nouns: frozenset[str]
    class_words: dict[str, tuple[str, ...]] = field(default_factory=dict)  # "utensils" -> fork, knife, spoon
    often_unboxed: dict[str, frozenset[str]] = field(default_factory=dict)  # knife -> kinds of the scenes it hides in
    recognisable: dict = field(default_factory=dict)  # [recognisable]: body fragments and surface labels
    toy_words: frozenset[str] = frozenset()  # [toys] words: "a toy train" is no train for its uses

    def option(self, dim: str, value: str) -> str:
        if dim == "use":
            return self.uses[value]["option"]
        return self.dimensions[dim]["option"].format(value=value)

    def kind_of(self, concept_text: str) -> Kind | None:
        return self.kinds.get(concept_text)


@lru_cache(maxsize=1)
def vocab() -> Vocab:
    raw = tomllib.loads(resources.files(__package__).joinpath("data", "evidence.toml").read_text("utf-8"))
    dims = raw["dimensions"]
    for word in dims["material"].get("unlisted", []):  # a material outside the vocabulary: blocks defaults
        dims["material"]["adjectives"].setdefault(word, UNLISTED)
    uses = raw["uses"]
    kinds: dict[str, Kind] = {}
    by_words: dict[tuple[str, ...], list[str]] = {}
    for name, f in raw["kinds"].items():
        for key in ("materials", "default"):
            vals = f.get(key) or []
            vals = [vals] if isinstance(vals, str) else vals
            bad = [v for v in vals if v not in dims["material"]["values"]]
            if bad:
                raise ConfigError(f"{EVIDENCE_FILE}: [kinds.{name}] {key} {bad} not in dimensions.material.values")
        bad = [u for u in (*f.get("uses", []), *f.get("also", [])) if u not in uses]
        if bad:
            raise ConfigError(f"{EVIDENCE_FILE}: [kinds.{name}] unknown uses {bad}", hint=f"one of {sorted(uses)}")
        bad = [k for k in f.get("implies", []) if k not in raw["kinds"]]
        if bad:
            raise ConfigError(f"{EVIDENCE_FILE}: [kinds.{name}] implies unknown kinds {bad}")
        if f.get("default") and f["default"] not in f.get("materials", []):
            raise ConfigError(f"{EVIDENCE_FILE}: [kinds.{name}] default must be one of its materials")
        k = Kind(name=name, words=tuple(f.get("words", [name])), materials=frozenset(f.get("materials", [])),
                 default=f.get("default"), uses=tuple(f.get("uses", [])), also=frozenset(f.get("also", [])),
                 fixed_colour=bool(f.get("fixed_colour", False) or f.get("never_colour", False)), scene=bool(f.get("scene", False)),
                 caption_only=bool(f.get("caption_only", False)), implies=tuple(f.get("implies", ())))
        kinds[name] = k
        for w in {*k.words, name}:
            by_words.setdefault(tuple(w.split()), []).append(name)
    naming: dict[str, tuple[frozenset, frozenset]] = {}
    for name, n in raw.get("naming", {}).items():
        if name not in kinds:
            raise ConfigError(f"{EVIDENCE_FILE}: [naming.{name}] is not a kind", hint="add it under [kinds] first")
        bad = sorted(set(n) - {"confirm", "other"})
        if bad:
            raise ConfigError(f"{EVIDENCE_FILE}: [naming.{name}] unknown keys {bad}", hint="confirm, other")
        confirm = n.get("confirm", kinds[name].words)
        naming[name] = (frozenset(tuple(w.split()) for w in confirm), frozenset(tuple(w.split()) for w in n.get("other", [])))
    class_words: dict[str, tuple[str, ...]] = {}
    for word, members in raw.get("class_words", {}).items():
        bad = [k for k in members if k not in kinds]
        if bad:
            raise ConfigError(f"{EVIDENCE_FILE}: [class_words] {word} = unknown kinds {bad}", hint="add them under [kinds] first")
        class_words[word] = tuple(members)
    often_unboxed: dict[str, frozenset[str]] = {}
    for kind, scene in raw.get("often_unboxed", {}).items():
        bad = [k for k in (kind, *scene) if k not in kinds]
        if bad:
            raise ConfigError(f"{EVIDENCE_FILE}: [often_unboxed] {kind} names unknown kinds {bad}", hint="add them under [kinds] first")
        often_unboxed[kind] = frozenset(scene)
    for uid, u in uses.items():
        bad = [k for k in u.get("held_by", []) if k not in kinds]
        if bad:
            raise ConfigError(f"{EVIDENCE_FILE}: [uses.{uid}] held_by names unknown kinds {bad}", hint="add them under [kinds] first")
        if u.get("held_by") and not u.get("contents"):
            raise ConfigError(f"{EVIDENCE_FILE}: [uses.{uid}] held_by needs contents (the words that name what they hold)")
    use_by_concept: dict[str, set[str]] = {}
    for uid, u in uses.items():
        for c in u["concepts"]:
            use_by_concept.setdefault(c, set()).add(uid)
    return Vocab(kinds=kinds, by_words={k: tuple(v) for k, v in by_words.items()},
                 max_words=max(len(k) for k in by_words), dimensions=dims,
                 modifiers=frozenset(raw["modifiers"]["words"]), uses=uses,
                 use_by_concept={k: frozenset(v) for k, v in use_by_concept.items()},
                 salience={k: float(v) for k, v in raw["salience"].items()}, naming=naming,
                 plural_nouns=frozenset(raw.get("plural_nouns", {}).get("words", ())), class_words=class_words,
                 often_unboxed=often_unboxed, recognisable=_recognisable(raw.get("recognisable", {}), kinds),
                 toy_words=frozenset(w.lower() for w in raw.get("toys", {}).get("words", ())))


def _recognisable(r: dict, kinds: dict) -> dict:
    """The ``[recognisable]`` section, checked: every kind it names is a kind of the vocabulary."""
    if not r:
        return {}
    bad = [k for k in (*r.get("surface_kinds", []), *r.get("body_aspect", {})) if k not in kinds]
    if bad:
        raise ConfigError(f"{EVIDENCE_FILE}: [recognisable] names unknown kinds {bad}", hint="add them under [kinds] first")
    return {"cut_flush": float(r["cut_flush"]), "cut_min_area": float(r["cut_min_area"]),
            "aspect_tolerance": float(r["aspect_tolerance"]), "surface_kinds": frozenset(r.get("surface_kinds", [])),
            "surface_min_captions": int(r["surface_min_captions"]), "surface_min_area": float(r["surface_min_area"]),
            "surface_strip_depth": float(r["surface_strip_depth"]), "surface_strip_elongation": float(r["surface_strip_elongation"]),
            "body_aspect": {k: float(v) for k, v in r.get("body_aspect", {}).items()}}


@dataclass
class Mention:
    kinds: tuple[str, ...]
    start: int
    end: int  # exclusive token index


def caption_mentions(tokens: list[str], v: Vocab) -> list[Mention]:
    """Longest noun matches; a word that is an attribute adjective directly before another noun is a
    modifier, not a noun ("glass vase", "orange bus", "stone bench")."""
    out: list[Mention] = []
    i = 0
    while i < len(tokens):
        hit = None
        for n in range(min(v.max_words, len(tokens) - i), 0, -1):
            kinds = v.by_words.get(tuple(tokens[i:i + n]))
            if kinds:
                hit = Mention(kinds, i, i + n)
                break
        if hit is None:
            i += 1
            continue
        out.append(hit)
        i = hit.end
    adjectives = {w for d in v.dimensions.values() for w in d["adjectives"]}
    keep = []
    for j, m in enumerate(out):
        nxt = out[j + 1] if j + 1 < len(out) else None
        if m.end - m.start == 1 and tokens[m.start] in adjectives and nxt is not None and nxt.start == m.end:
            continue
        keep.append(m)
    return keep


def stated_values(tokens: list[str], m: Mention, dim: dict, modifiers: frozenset[str],
                  nouns: frozenset[int] = frozenset()) -> set[str]:
    """Values of one dimension a caption states for the noun of mention ``m`` (adjectives right before it,
    through modifiers: "a large red and white bus" -> {red, white}). The walk stops at the start of the noun
    phrase: a determiner or number is not a modifier, and a word that is the noun of another mention
    (``nouns``: token indices) belongs to that mention ("a wine glass and a book" states nothing of the book)."""
    out: set[str] = set()
    j = m.start - 1
    while j >= 0 and m.start - j <= 6:
        w = tokens[j]
        if j in nouns:
            break
        if w in dim["adjectives"]:
            out.add(dim["adjectives"][w])
        elif w not in modifiers:
            break
        j -= 1
    return out


@dataclass(frozen=True)
class Naming:
    """What the captions call one boxed kind of an image."""

    singular: int  # captions naming it with a confirming word in the singular ("the table")
    plural: int  # captions naming it with a confirming word in the plural only ("tables")
    other: str | None  # a caption word for a different thing filed under this label ("coffee table")


def _plural(word: str) -> bool:
    from lemminflect import getAllLemmas

    lemmas = getAllLemmas(word).get("NOUN", ())
    return bool(lemmas) and word not in lemmas


@dataclass
class Attribute:
    value: str
    kind: str  # "instance" (a caption states it) or "default" (the kind's single strong default)
    caption: str | None = None


@dataclass
class Entity:
    """A salient thing of one image the question may name."""

    kind: str
    grounding: EntityGrounding
    boxed: bool
    mentions: int
    instances: int
    stated: dict[str, set[str]] = field(default_factory=dict)  # dimension -> stated values
    stated_in: dict[str, str] = field(default_factory=dict)  # value -> caption stating it
    stated_count: dict[str, int] = field(default_factory=dict)  # value -> captions stating it
    per_caption: dict[str, list[set[str]]] = field(default_factory=dict)  # dimension -> values each caption states


class ImageEvidence:
    """Instances, stated attributes and the full value inventory of one pool image."""

    def __init__(self, im, graph, v: Vocab | None = None) -> None:
        self.im = im
        self.v = v or vocab()
        self.graph = graph
        self.tokens = [_TOKEN.findall(c.lower()) for c in im.captions]
        self.mentions = [caption_mentions(t, self.v) for t in self.tokens]
        self._entities: list[Entity] | None = None

    def depiction(self) -> bool:
        """Whether enough captions call the picture a cartoon, a CGI scene, a Lego set... (the perception
        vocabulary's ``depiction_cues``): then its things serve no real use and are made of nothing a caption
        can tell."""
        return is_depiction(self.im.captions)

    # --- salience -------------------------------------------------------------------------------

    def mention_count(self, kind: str) -> int:
        return sum(1 for ms in self.mentions if any(kind in m.kinds for m in ms))

    def named(self, e: EntityGrounding) -> bool:
        """A caption names the entity's kind (any of its words)."""
        return self.mention_count(_text(e)) >= self.v.salience["min_caption_mentions"]

    def naming(self, kind: str) -> Naming:
        """How the captions name ``kind``: confirming words in the singular / plural, and any caption word
        for another thing that the dataset files under this label (see ``[naming]`` in the vocabulary)."""
        v = self.v
        confirm, other = v.naming.get(kind, (frozenset(tuple(w.split()) for w in (*v.kinds[kind].words, kind))
                                             if kind in v.kinds else frozenset(), frozenset()))
        boxed = {_text(e) for e in self.im.objects()}
        singular = plural = 0
        found_other = None
        for toks, ms in zip(self.tokens, self.mentions):
            sing = plur = False
            for m in ms:
                words = tuple(toks[m.start:m.end])
                if kind in m.kinds and words in confirm:
                    if words[-1] in v.plural_nouns or _plural(words[-1]):
                        plur = True
                    else:
                        sing = True
            singular += sing
            plural += plur and not sing
            for n in range(1, 3):
                for i in range(len(toks) - n + 1):
                    gram = tuple(toks[i:i + n])
                    if gram in other and found_other is None:
                        named = set(v.by_words.get(gram, ())) - {kind}
                        if not named & boxed:  # a word for a boxed kind of its own names that box
                            found_other = " ".join(gram)
        return Naming(singular, plural, found_other)

    def named_together(self, kind1: str, kind2: str) -> bool:
        """One caption names both kinds ("a dog next to a man")."""
        return any(any(kind1 in m.kinds for m in ms) and any(kind2 in m.kinds for m in ms) for ms in self.mentions)

    def confirmed(self, e: EntityGrounding, *, the: bool, min_captions: int = 1) -> bool:
        """The captions use the question's name for this box: at least ``min_captions`` of them name its
        kind with a confirming word, none calls it something else, and (``the``: a question says "the
        {kind}") they speak of one of it, not only of several ("tables and chairs")."""
        n = self.naming(_text(e))
        if n.other is not None or n.singular + n.plural < min_captions:
            return False
        return not the or n.singular > n.plural

    def salient(self, e: EntityGrounding) -> bool:
        """Large enough, not a crowd box, and named by a caption (or, unnamed, large enough that no one
        can miss it: ``unnamed_min_area``): something a reviewer can point at."""
        if not self.salient_box(e):
            return False
        return self.named(e) or e.box.w * e.box.h >= self.v.salience["unnamed_min_area"]

    def recognisable(self, e: EntityGrounding) -> bool:
        """A reviewer can tell what the box is without seeing the box (``[recognisable]``): not a fragment
        of a body cut by the frame (a hand reaching in, a trouser leg at the side: the box touches an edge
        and is far off the kind's whole-body aspect, or small), and not a surface label few captions
        support on a small box (a sliver of wood under plant pots boxed "dining table")."""
        r, b, kind = self.v.recognisable, e.box, _text(e)
        if not r or b is None:
            return True
        if kind in r["surface_kinds"]:
            n = self.naming(kind)
            if n.singular + n.plural < r["surface_min_captions"] and b.w * b.h < r["surface_min_area"]:
                return False
        f = r["cut_flush"]
        if kind in r["surface_kinds"]:
            depth, long = r["surface_strip_depth"], r["surface_strip_elongation"]
            if (b.y <= f or b.y + b.h >= 1 - f) and b.h < depth and b.w >= long * b.h:
                return False  # a rim along the top or bottom of the picture
            if (b.x <= f or b.x + b.w >= 1 - f) and b.w < depth and b.h >= long * b.w:
                return False  # ... or along a side
        usual = r["body_aspect"].get(kind)
        side_or_bottom = b.x <= f or b.x + b.w >= 1 - f or b.y + b.h >= 1 - f
        if usual is not None and (side_or_bottom or b.y <= f):
            if b.w * b.h < r["cut_min_area"]:
                return False  # what is left of a body cut by the frame is too small to tell
            aspect = (b.h * self.im.height) / max(b.w * self.im.width, 1e-9)
            tol = r["aspect_tolerance"]
            if aspect > usual * tol:
                return False  # a sliver: a shoulder, a trouser leg at the side
            if aspect < usual / tol and side_or_bottom:
                return False  # a hand or a head reaching in from the bottom or a side (a body cut at the
                # top only has lost its head, not its body: a cook's torso and arms are still a person)
        return True

    def pointable(self, e: EntityGrounding) -> bool:
        """Salient and recognisable: an object a question may name ("the person", "the dining table")."""
        return self.salient(e) and self.recognisable(e)

    def dominant(self, e: EntityGrounding) -> bool:
        """Salient, and "the {kind}" points at it: every other instance of its kind is much smaller and
        too small to be salient itself (two toilets side by side have no "the toilet")."""
        if not self.salient(e):
            return False
        share, min_area = self.v.salience["dominant_share"], self.v.salience["min_area"]
        area = e.box.w * e.box.h
        return all(o is e or (o.box.w * o.box.h < share * area and o.box.w * o.box.h < min_area)
                   for o in self.im.objects() if o.concept == e.concept)

    def salient_box(self, e: EntityGrounding) -> bool:
        s, im = self.v.salience, self.im
        b = e.box
        if b is None or getattr(e, "crowd", False) or self._is_crowd(e):
            return False
        if b.w * b.h < s["min_area"]:
            return False
        return min(b.w * im.width, b.h * im.height) >= s["min_side"]

    def _is_crowd(self, e: EntityGrounding) -> bool:
        """Marked as a crowd by the dataset, or (sources without the flag) a box holding two or more
        whole other boxes of its own kind: a group, not one thing (the annotator's rule,
        :func:`mmrakit.images.perception.holds_a_group`, with nothing sticking out)."""
        if any(_same_box(e.box, cb) for cb in getattr(self.im, "crowd_boxes", ())):
            return True
        kin = [o.box for o in self.im.objects()
               if o is not e and o.concept == e.concept and o.box is not None and not _same_box(o.box, e.box)]
        return holds_a_group(e.box, kin, inside=1.0)

    # --- entities with stated attributes -----------------------------------------------------------

    def entities(self) -> list[Entity]:
        """Salient, caption-named things: single-instance boxed objects, or caption-only things that
        at least ``caption_only_mentions`` captions name (walls, floors, plates)."""
        if self._entities is not None:
            return self._entities
        v, s = self.v, self.v.salience
        out: list[Entity] = []
        boxed_kinds: dict[str, list[EntityGrounding]] = {}
        for e in self.im.objects():
            boxed_kinds.setdefault(_text(e), []).append(e)
        for kind, ents in sorted(boxed_kinds.items()):
            if kind not in v.kinds:
                continue
            main = max(ents, key=lambda e: e.box.w * e.box.h)
            if not self.dominant(main):
                continue
            out.append(self._with_stated(Entity(kind, main, True, self.mention_count(kind), len(ents))))
        for kind in sorted({k for ms in self.mentions for m in ms for k in m.kinds} - set(boxed_kinds)):
            k = v.kinds[kind]
            if k.scene or not k.caption_only:
                continue  # a boxable kind with no box is not there (or too small to be boxed)
            n = self.mention_count(kind)
            if n >= s["caption_only_mentions"]:
                concept = f"/c/en/{kind.replace(' ', '_')}"
                found = self.im.groundings(concept)
                g = found[0] if found else EntityGrounding(concept=concept, text=kind, source="caption")
                if not found:  # the captions name it: record that grounding on the image
                    self.im.add_entities([g])
                out.append(self._with_stated(Entity(kind, g, False, n, 0)))
        self._entities = out
        return out

    def present(self) -> list[Entity]:
        """One entry per boxed kind with at least one pointable (salient and recognisable), caption-named
        instance (its largest such box), whether or not it is the only one: for questions that do not say
        "the {kind}" ("something in the picture is for sitting on" holds with three chairs as with one).
        The thing that makes the answer true must be one a reviewer can see, not the rim of a table along
        the frame's edge or blankets boxed "bed"."""
        out = []
        by_kind: dict[str, list[EntityGrounding]] = {}
        for e in self.im.objects():
            if _text(e) in self.v.kinds and self.pointable(e) and self.confirmed(e, the=False):
                by_kind.setdefault(_text(e), []).append(e)
        for kind, ents in sorted(by_kind.items()):
            main = max(ents, key=lambda e: e.box.w * e.box.h)
            n = sum(1 for e in self.im.objects() if _text(e) == kind)
            out.append(Entity(kind, main, True, self.mention_count(kind), n))
        return out

    def scene_things(self) -> list[Entity]:
        """Scene words that name a thing (a building, a bridge, a fence) at least
        ``caption_only_mentions`` captions name and some caption states an attribute of: for an
        attribute enough captions state for it ("a brick building" twice); never for a default (a scene
        word has none). Not grounded on the image until used (:meth:`ground`)."""
        out: list[Entity] = []
        for kind in sorted({k for ms in self.mentions for m in ms for k in m.kinds}):
            k = self.v.kinds[kind]
            if not (k.scene and k.caption_only) or self.mention_count(kind) < self.v.salience["caption_only_mentions"]:
                continue
            concept = f"/c/en/{kind.replace(' ', '_')}"
            found = self.im.groundings(concept)
            g = found[0] if found else EntityGrounding(concept=concept, text=kind, source="caption")
            ent = self._with_stated(Entity(kind, g, False, self.mention_count(kind), 0))
            if ent.stated.get("material") or ent.stated.get("colour"):
                out.append(ent)
        return out

    def ground(self, ent: Entity) -> None:
        """Record a caption-named entity's grounding on the image once a question uses it."""
        if not self.im.grounded(ent.grounding.concept):
            self.im.add_entities([ent.grounding])

    def several(self) -> list[Entity]:
        """Boxed kinds with several instances and no dominant one (two buses side by side), whose
        largest instance is salient: "the bus" names none of them, but what is true of every instance
        of the kind (a category default: buses are metal) is true of something plainly in the image."""
        named = {e.kind for e in self.entities()}
        out: list[Entity] = []
        by_kind: dict[str, list[EntityGrounding]] = {}
        for e in self.im.objects():
            by_kind.setdefault(_text(e), []).append(e)
        for kind, ents in sorted(by_kind.items()):
            if kind in named or kind not in self.v.kinds:
                continue
            main = max(ents, key=lambda e: e.box.w * e.box.h)
            if self.salient(main):
                out.append(self._with_stated(Entity(kind, main, True, self.mention_count(kind), len(ents))))
        return out

    def _with_stated(self, ent: Entity) -> Entity:
        heads = {w.split()[-1] for w in (*self.v.kinds[ent.kind].words, ent.kind)}
        for dim_name, dim in self.v.dimensions.items():
            vals: set[str] = set()
            each: list[set[str]] = []
            for cap in self.im.captions:  # the caption linguistics module's adjective-noun pairs too
                got = {dim["adjectives"][adj] for noun, adj in _pairs(cap) if noun in heads and adj in dim["adjectives"]}
                each.append(set(got))
                for val in got:
                    ent.stated_in.setdefault(val, cap)
                    ent.stated_count[val] = ent.stated_count.get(val, 0) + 1
                vals |= got
            for i, (cap, toks, ms) in enumerate(zip(self.im.captions, self.tokens, self.mentions)):
                nouns = frozenset(i for m in ms for i in range(m.start, m.end))
                for m in ms:
                    if ent.kind in m.kinds:
                        got = stated_values(toks, m, dim, self.v.modifiers, nouns)
                        for val in got:
                            ent.stated_in.setdefault(val, cap)
                        vals |= got
                        each[i] |= got
                for val in {x for m in ms if ent.kind in m.kinds for x in stated_values(toks, m, dim, self.v.modifiers, nouns)}:
                    if val not in {dim["adjectives"].get(a) for n, a in _pairs(cap) if n in heads}:  # not counted twice
                        ent.stated_count[val] = ent.stated_count.get(val, 0) + 1
            ent.stated[dim_name] = vals
            ent.per_caption[dim_name] = each
        return ent

    def _enough(self, ent: Entity, val: str, min_captions: int = 1) -> bool:
        """An entity without a box (a plate, a wall) needs ``caption_only_statements`` captions to state a
        value: one caption's "blue plate" may describe a blue-rimmed white plate."""
        need = max(min_captions, int(self.v.salience["caption_only_statements"]) if not ent.boxed else 1)
        return ent.stated_count.get(val, 0) >= need

    def material(self, ent: Entity) -> Attribute | None:
        """The entity's material: stated for it (exactly one value), else its kind's strong default
        when no caption states any material for it."""
        stated = ent.stated.get("material", set())
        if UNLISTED in stated:  # "thatched umbrellas": made of something no option names, no default
            return None
        if len(stated) == 1:
            val = next(iter(stated))
            if not self._enough(ent, val):
                return None
            return Attribute(val, "instance", ent.stated_in.get(val))
        if stated:
            return None
        k = self.v.kinds[ent.kind]
        return Attribute(k.default, "default") if k.default and not self.named_as_toy(ent.kind) else None

    def colour(self, ent: Entity, min_captions: int = 1) -> Attribute | None:
        """The entity's colour when captions state exactly one for it, in at least ``min_captions``
        captions (no defaults: colour varies by instance)."""
        stated = ent.stated.get("colour", set())
        if self.v.kinds[ent.kind].fixed_colour:
            return None
        if len(stated) == 1 and not self._enough(ent, next(iter(stated)), min_captions):
            return None
        if len(stated) == 1:
            val = next(iter(stated))
            return Attribute(val, "instance", ent.stated_in.get(val))
        return self._colour_majority(ent) if stated and ent.boxed else None

    def _colour_majority(self, ent: Entity) -> Attribute | None:
        """Captions disagree ("a white truck" x4, "a green truck" x1): the colour when every caption
        states at most one colour for it (none says "red and white": a two-coloured thing has no one
        colour), at least ``colour_majority_min`` captions state the same one and every other colour
        is stated by at most ``colour_majority_max_other`` caption (a slip or a part, not the thing)."""
        sets = [c for c in ent.per_caption.get("colour", []) if c]
        if any(len(c) > 1 for c in sets):
            return None
        counts: dict[str, int] = {}
        for c in sets:
            val = next(iter(c))
            counts[val] = counts.get(val, 0) + 1
        top = max(counts, key=lambda k: counts[k])
        s = self.v.salience
        if counts[top] < s["colour_majority_min"] or any(n > s["colour_majority_max_other"]
                                                         for k, n in counts.items() if k != top):
            return None
        return Attribute(top, "instance", ent.stated_in.get(top))

    # --- inventories (what the image could hold) --------------------------------------------------

    def all_kinds(self) -> set[str]:
        """Every kind of thing any evidence puts in the image: all boxes (any size) and caption nouns."""
        kinds = {_text(e) for e in self.im.entities if e.source == "object"}
        kinds |= {k for ms in self.mentions for m in ms for k in m.kinds}
        kinds |= {s for k in list(kinds) if k in self.v.kinds for s in self.v.kinds[k].implies}
        return kinds

    def possible_kinds(self) -> set[str]:
        """:meth:`all_kinds` plus the members of every class a caption names ("a plate of food and
        utensils": a knife may lie there unboxed), for ruling an object option out: an option that
        may be in the picture is never a verified-absent distractor. Small things the dataset often leaves
        unboxed (``often_unboxed``: a knife beside a plate) count as possible wherever their scene is."""
        kinds = self.all_kinds() | {k for toks in self.tokens for w in toks for k in self.v.class_words.get(w, ())}
        return kinds | {k for k, scene in self.v.often_unboxed.items() if scene & kinds}

    def possible_materials(self) -> set[str]:
        v = self.v
        out: set[str] = set()
        for kind in self.all_kinds():
            k = v.kinds.get(kind)
            if k is not None:
                out |= k.materials
        for toks in self.tokens:  # any material adjective anywhere in the captions
            out |= {v.dimensions["material"]["adjectives"][w] for w in toks if w in v.dimensions["material"]["adjectives"]}
        out.discard(UNLISTED)
        values = set(v.dimensions["material"]["values"])
        for concept in self.im.concepts():
            for e in self.graph.out(concept, "MadeOf"):
                text = self.graph.text(e.end)
                if text in values:
                    out.add(text)
        return out

    def possible_uses(self) -> set[str]:
        """Every use some thing that may be in the picture (:meth:`possible_kinds`) could serve: an unboxed
        knife beside a plate makes "for cutting things" no verified-absent distractor."""
        v = self.v
        out: set[str] = set()
        for kind in self.possible_kinds():
            k = v.kinds.get(kind)
            if k is not None:
                out |= set(k.uses) | k.also
        for concept in self.im.concepts():
            for e in self.graph.out(concept, "UsedFor"):
                out |= v.use_by_concept.get(self.graph.text(e.end), frozenset())
        words = {w for toks in self.tokens for w in toks}
        out |= {uid for uid, u in v.uses.items() if words & set(u.get("cues", ()))}
        return out

    def typical_uses(self) -> dict[str, Entity]:
        """use id -> a salient entity typically used for it (answers come only from these)."""
        out: dict[str, Entity] = {}
        for ent in self.entities():
            if not ent.boxed:
                continue
            for u in self.v.kinds[ent.kind].uses:
                if self.use_holds(ent.kind, u):
                    out.setdefault(u, ent)
        return out

    def use_holds(self, kind: str, use: str) -> bool:
        """Whether the kind's typical ``use`` is true of this image's instances. Not for a thing a caption
        calls a toy of its kind (:meth:`named_as_toy`), nor for a kind that serves the use only through
        what it holds (``[uses.X] held_by``: a bottle is for drinking from when it holds a drink, not sauce
        in a fridge door) unless a caption names one of the use's ``contents`` for that kind, right before
        it ("beer bottles") or after "of" ("a bottle of vodka"). A category fact is not applied to an
        instance nothing says it fits."""
        if self.named_as_toy(kind):
            return False
        u = self.v.uses.get(use, {})
        if kind not in u.get("held_by", ()):
            return True
        contents = set(u.get("contents", ()))
        return any(contents & {*before, *after} for before, after in self._around_mentions(kind))

    def named_as_toy(self, kind: str) -> bool:
        """A caption calls this kind a toy ("a toy train", "a stuffed dog": ``[toys]``, the word within the
        two before the mention): it serves none of its kind's uses and has no default material here.
        Kinds whose use is to be a toy (a teddy bear) never are."""
        k = self.v.kinds.get(kind)
        if k is None or TOY_USE in k.uses:
            return False
        return any(self.v.toy_words & set(before) for before, _ in self._around_mentions(kind))

    def _around_mentions(self, kind: str) -> Iterator[tuple[list[str], list[str]]]:
        """For each caption mention of ``kind``: the two words before it, and the three after an "of"
        right after it ("a bottle of cold beer")."""
        for toks, ms in zip(self.tokens, self.mentions):
            for m in ms:
                if kind in m.kinds:
                    of = m.end < len(toks) and toks[m.end] == "of"
                    yield toks[max(0, m.start - 2):m.start], (toks[m.end + 1:m.end + 4] if of else [])

    def stated_anywhere(self, dim: str) -> set[str]:
        adj = self.v.dimensions[dim]["adjectives"]
        return {adj[w] for toks in self.tokens for w in toks if w in adj} - {UNLISTED}


@lru_cache(maxsize=50_000)
def _pairs(caption: str) -> tuple[tuple[str, str], ...]:
    """(head noun lemma, adjective) pairs of a caption, from the caption linguistics module."""
    from mmrakit.relations.text import attribute_pairs

    return tuple(attribute_pairs(caption))


def _text(e: EntityGrounding) -> str:
    return e.concept.rsplit("/", 1)[-1].replace("_", " ")


def _same_box(a, b, tol: float = 1e-4) -> bool:
    return a is not None and b is not None and all(abs(x - y) <= tol for x, y in ((a.x, b.x), (a.y, b.y), (a.w, b.w), (a.h, b.h)))
