"""Source 1 of the annotator: what an image's own dataset annotations (captions + boxes) say about
scene, indoor/outdoor, viewpoint, shot distance, people/animals, visible state, activity and layout.

Pure functions over captions and boxes; every rule reads its vocabulary from ``data/perception.toml``.
A caption states a value; boxes only support it (raise the confidence) or veto it, except for the
coarse layout, which is the boxes' own geometry (with a caption naming the dominant subject as
support). Confidence: the share of captions stating the value, plus support, capped at 1.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from mmrakit.models import Attribute, Box

SOURCE = "dataset"


@lru_cache(maxsize=1)
def vocab() -> dict:
    return tomllib.loads(resources.files(__package__).joinpath("data", "perception.toml").read_text("utf-8"))


@lru_cache(maxsize=1)
def version() -> str:
    """The vocabulary's version plus a digest of the rules and vocabulary, so any change re-annotates."""
    import hashlib

    data = resources.files(__package__).joinpath("data", "perception.toml").read_bytes()
    code = resources.files(__package__).joinpath("perception.py").read_bytes()
    return f"{vocab()['version']}:{hashlib.sha256(data + code).hexdigest()[:12]}"


@dataclass(frozen=True)
class Obj:
    category: str
    box: Box


@lru_cache(maxsize=4096)
def _pattern(phrase: str) -> re.Pattern:
    return re.compile(r"(?<![a-z])" + re.escape(phrase.lower()) + r"(?![a-z])")


def _says(caption: str, phrases: list[str]) -> list[str]:
    c = caption.lower()
    return [p for p in phrases if _pattern(p).search(c)]


def _count(captions: list[str], phrases: list[str]) -> tuple[int, list[str]]:
    """How many captions state any of ``phrases``, and which phrases they used."""
    n, used = 0, []
    for cap in captions:
        hit = _says(cap, phrases)
        if hit:
            n += 1
            used.extend(hit)
    return n, sorted(set(used))


def _enough(n: int, total: int) -> bool:
    v = vocab()
    return n >= min(int(v["min_captions"]), max(1, total)) or (total > 0 and n / total >= float(v["min_caption_share"]) and n >= 2)


def _conf(n: int, total: int, support: float = 0.0) -> float:
    """0.2 + the share of captions stating it (COCO: 2 of 5 -> 0.6); with fewer than five captions the
    share counts in full but the confidence is capped by how many people wrote them (one caption: 0.6)."""
    if not total:
        return 0.0
    if total >= 5:
        base = n / total + 0.2
    else:
        base = min(0.2 + 0.8 * n / total, 0.4 + 0.2 * total)
    return round(min(1.0, base + support), 3)


def attributes(captions: list[str], objects: list[Obj], crowds: Sequence[Box] = ()) -> list[Attribute]:
    """Every attribute the captions and boxes of one image support. ``crowds``: the boxes the dataset
    marks as a crowd (COCO ``iscrowd``), which only the layout reads (never a subject; a crowd in the
    picture leaves no composition a reviewer cannot dispute); ``objects`` may hold them too."""
    caps = [c for c in captions if c and c.strip()]
    events = _caption_events(caps)
    out: list[Attribute] = []
    out += _scene(caps, objects)
    out += _subjects(caps, objects, events)
    out += _shot(caps, objects)
    out += _viewpoint(caps)
    out += _activity(caps, events, {o.category for o in objects})
    out += _layout(caps, objects, crowds)
    return out


def _attr(name: str, value: str, confidence: float, detail: str) -> Attribute:
    return Attribute(name=name, value=value, source=SOURCE, confidence=round(max(0.0, min(1.0, confidence)), 3),
                     detail=detail)


def is_depiction(captions: Sequence[str]) -> bool:
    """Enough captions call the picture a toy set, a model, a drawing or a rendering (``depiction_cues``):
    no real place to compare, and its things serve no real use."""
    v = vocab()
    return _count([c for c in captions if c and c.strip()], v["depiction_cues"])[0] >= int(v["depiction_min_captions"])


def _scene(caps: list[str], objects: list[Obj]) -> list[Attribute]:
    v = vocab()
    if is_depiction(caps):  # a toy set, model or drawing: no real place to compare
        return []
    cats = {o.category for o in objects}
    out = []
    indoor_votes: Counter = Counter()
    # a phrase inside a longer matched phrase of the same caption does not count ("field" in "baseball field")
    hits: dict[str, tuple[int, set[str]]] = {}
    for cap in caps:
        found = [(name, p) for name, spec in v["scenes"].items() for p in _says(cap, spec["phrases"])]
        found = [(name, p) for name, p in found if not any(p != q and _pattern(p).search(q) for _, q in found)]
        for name in {n for n, _ in found}:
            k, used = hits.get(name, (0, set()))
            hits[name] = (k + 1, used | {p for n2, p in found if n2 == name})
    for name, spec in v["scenes"].items():
        n, used = hits.get(name, (0, set()))
        used = sorted(used)
        if not n:
            continue
        support = sorted(cats & set(v["scene_support"].get(name, [])))
        if _enough(n, len(caps)):
            conf = _conf(n, len(caps), 0.1 if support else 0.0)
        else:  # one caption: usable only when a boxed object of the place agrees (two signals)
            conf = 0.5 if support else 0.3
        detail = f"{n}/{len(caps)} captions say {', '.join(used)}" + (f"; boxes: {', '.join(support)}" if support else "")
        out.append(_attr("scene", name, conf, detail))
        if conf >= 0.5:
            indoor_votes["indoor" if spec["indoor"] else "outdoor"] += n
    out = _scene_from_objects(caps, objects, hits, out)
    for side in ("indoor", "outdoor"):
        n, used = _count(caps, v["indoor_cues"][side])
        if n:
            indoor_votes[side] += n
    if indoor_votes:
        (side, n), *rest = indoor_votes.most_common()
        if not rest or rest[0][1] * 2 < n:
            out.append(_attr("indoor", side, _conf(n, len(caps)), f"scene and caption cues: {dict(indoor_votes)}"))
    return out


def _caption_events(caps: list[str]) -> list[list[tuple[str, str, str]]]:
    """Per caption: (event lemma, its object or "", its object through "on"/"at" or "") for the events
    a person or animal does in it ("working on a laptop" -> ("work", "", "laptop"))."""
    from mmrakit.relations.text import caption_events, tag

    out = []
    for cap in caps:
        evs = caption_events(cap, agents=True)
        toks = tag(cap) if evs else []
        out.append([(ev, _object_of(toks, ev.split(" ")[0]), _object_of(toks, ev.split(" ")[0], through=("on", "at")))
                    for ev in evs])
    return out


def _scene_from_objects(caps: list[str], objects: list[Obj], hits: dict[str, tuple[int, set[str]]],
                        out: list[Attribute]) -> list[Attribute]:
    """A decisive object set (``scene_objects``) names the scene when the captions talk about those
    objects and contradict it nowhere: no caption states a place of another family, no indoor/outdoor
    cue of the other side."""
    v = vocab()
    scenes = v["scenes"]
    have = {a.value: a for a in out}
    for rule in v.get("scene_objects", []):
        name = rule["scene"]
        spec = scenes[name]
        if name in have and have[name].confidence >= float(v["scene_object_confidence"]):
            continue
        boxed = sorted({o.category for o in objects if o.category in rule["boxes"] and o.box.area >= float(rule["min_area"])})
        if len(boxed) < int(rule["min_boxes"]):
            continue
        n_words, used = _count(caps, rule["words"])
        if n_words < int(rule["min_word_captions"]):
            continue
        others = sorted(o for o in hits if scenes[o]["family"] != spec["family"])
        against = _count(caps, v["indoor_cues"]["outdoor" if spec["indoor"] else "indoor"])[0]
        if others or against:
            continue
        stated = hits.get(name, (0, set()))[0]
        conf = float(v["scene_object_confidence"]) + (0.1 if stated else 0.0)
        detail = (f"boxes: {', '.join(boxed)}; {n_words}/{len(caps)} captions name {', '.join(used)}"
                  + (f"; {stated} caption(s) say the place" if stated else "") + "; no caption states another place")
        out = [a for a in out if a.value != name] + [_attr("scene", name, conf, detail)]
    return out


def _subjects(caps: list[str], objects: list[Obj], events: list[list[tuple[str, str, str]]] | None = None) -> list[Attribute]:
    v = vocab()["subjects"]
    minimum = float(v["min_visible_area"])
    people = [o for o in objects if o.category in v["people"] and o.box.area >= minimum]
    animals = [o for o in objects if o.category in v["animals"] and o.box.area >= minimum]
    out = []
    if people:
        k = len(people)
        out.append(_attr("people", "one" if k == 1 else "two" if k == 2 else "group", 0.9,
                         f"{k} person boxes of at least {minimum:.0%} of the picture"))
    for cat, k in Counter(o.category for o in animals).items():
        out.append(_attr("animals", cat, 0.9, f"{k} {cat} boxes"))
    if people or animals:
        kinds = set(v["people"]) | set(v["animals"])
        out += _emotion(caps, people + animals, events if events is not None else _caption_events(caps),
                        every=[o for o in objects if o.category in kinds])
    return out


def _states_in(caption: str, events: list[tuple[str, str, str]]) -> dict[str, list[str]]:
    """state -> the words or events of one caption that state it."""
    v = vocab()
    ev_map, not_playful = v["emotion_events"], set(v["emotion_events"]["not_playful_objects"])
    out: dict[str, list[str]] = {}
    bare = caption.lower()
    for phrase in v["emotions"]["not_states"]:  # "a happy birthday cake" states no mood
        bare = _pattern(phrase).sub(" ", bare)
    for state in emotion_states():
        words = v["emotions"][state]
        hit = _says(bare, words)
        hit += [f"{ev} {obj if obj not in ev.split() else ''}".strip() for ev, obj, _ in events if ev in ev_map.get(state, ())
                and not (state == "playful" and obj in not_playful)]
        with_obj = ev_map["with_object"].get(state, {})
        hit += [f"{ev} {pobj}" for ev, _, pobj in events if pobj and pobj in with_obj.get(ev, ())]
        if hit:
            out[state] = hit
    return out


def _emotion(caps: list[str], subjects: list[Obj], events: list[list[tuple[str, str, str]]],
             every: list[Obj] | None = None) -> list[Attribute]:
    """Visible states: caption words of a state, or events of a person/animal that show one
    (lemmatised: "sleeps", "laying down", "reading"); confident when two captions state it and the
    largest person/animal box is large enough to make it out (a box around a group of ``every``
    person/animal box is nobody's face or posture)."""
    sv = vocab()["subjects"]
    per_state: dict[str, tuple[int, set[str]]] = {}
    for cap, evs in zip(caps, events):
        for state, hit in _states_in(cap, evs).items():
            k, used = per_state.get(state, (0, set()))
            per_state[state] = (k + 1, used | set(hit))
    out = []
    seen_by = vocab()["emotion_visibility"]
    for state, (n, used_set) in per_state.items():
        used = sorted(used_set)
        who = state_subject(state, subjects, every)
        biggest = who.box.area if who is not None else 0.0  # only groups: no one to read a state from
        if biggest < float(sv["state_min_area"]):
            conf = 0.3  # too small to make out a face or a posture: recorded, never an answer
        elif state in seen_by["face_states"] and biggest < float(seen_by["face_min_area"]):
            conf = 0.3  # a smile or tears on a face of a few pixels: recorded, never an answer
        elif _enough(n, len(caps)):
            conf = _conf(n, len(caps), 0.1 if biggest >= 0.05 else 0.0)
        else:  # one caption: usable only when the subject is large enough to show it
            conf = 0.5 if biggest >= float(sv["visible_state_area"]) else 0.3
        out.append(_attr("emotion", state, conf, f"{n}/{len(caps)} captions say {', '.join(used)}; "
                                                 f"subject box {biggest:.0%} of the picture"))
    return out


def state_subject(state: str, subjects: list[Obj], every: list[Obj] | None = None) -> Obj | None:
    """Whose state it is: the largest person/animal box that is not a group; for a face state
    (a smile, tears) the largest box of ``[emotion_visibility] face_subjects`` (people) when the
    picture has one - a man smiling beside an elephant is the man, not the elephant."""
    v = vocab()["emotion_visibility"]
    others = every or subjects
    alone = [o for o in subjects
             if not holds_a_group(o.box, [p.box for p in others if p is not o and p.category == o.category])]
    if state in v["face_states"]:
        alone = [o for o in alone if o.category in v["face_subjects"]] or alone
    return max(alone, key=lambda o: (o.box.area, o.category), default=None)


def holds_a_group(box: Box, kin: list[Box], inside: float | None = None) -> bool:
    """A box holding two or more smaller boxes of its own kind (``kin``: the other boxes of its
    category) is a group (the stands behind a player), not one thing or one subject whose face or
    posture shows a state (sources without COCO's crowd flag). A box counts as held when at least
    ``inside`` of its area lies in ``box``; by default ``[emotion_visibility] group_inside`` (the people
    at the group's edge stick out of it a little), 1.0 for wholly inside."""
    share = float(vocab()["emotion_visibility"]["group_inside"]) if inside is None else inside
    # the tolerance keeps a wholly-inside box wholly inside under float rounding (inside = 1.0)
    return sum(1 for p in kin if p.area < box.area and _inside(p, box) >= share - 1e-9) >= 2


EMOTION_KEYS = ("compatible", "not_states")  # [emotions] keys that are not states


def emotion_states() -> list[str]:
    """The visible states the vocabulary lists ([emotions], less its rules)."""
    return [s for s in vocab()["emotions"] if s not in EMOTION_KEYS]


def compatible_states(a: str, b: str) -> bool:
    if a == b:
        return True
    return any({a, b} <= set(group) for group in vocab()["emotions"]["compatible"])


def main_subject(objects: list[Obj]) -> Obj | None:
    return max(objects, key=lambda o: (o.box.area, o.category)) if objects else None


def _named(caps: list[str], category: str) -> int:
    words = [category, category + "s", category + "es"]
    if category == "person":
        words += ["man", "woman", "men", "women", "people", "boy", "girl", "child", "kid", "player", "guy", "lady",
                  "person", "skier", "surfer", "skateboarder", "snowboarder", "rider", "couple", "group"]
    return _count(caps, words)[0]


def _shot(caps: list[str], objects: list[Obj]) -> list[Attribute]:
    v = vocab()
    sb = v["shot_boxes"]
    subj = main_subject([o for o in objects if o.category not in sb["background"]])
    out = []
    n_close, used_close = _count(caps, v["shot_cues"]["close_up"])
    n_wide, used_wide = _count(caps, v["shot_cues"]["wide"])
    named = _named(caps, subj.category) if subj else 0
    if subj is not None:
        same = [o for o in objects if o.category == subj.category]
        people = vocab()["subjects"]["people"]
        # a tall box is a full-body (medium) shot, not a close-up: only the area counts
        crowd = subj.category in people and sum(o.category in people and o.box.area >= 0.02 for o in objects) > 2
        big = subj.box.area >= float(sb["close_min_area"]) and not crowd
        small = max(o.box.area for o in objects) <= float(sb["wide_max_area"]) * 2.5 and all(
            o.box.area <= float(sb["wide_max_area"]) for o in same)
    else:
        big = small = False
    largest = max((o.box.area for o in objects if o.category not in sb["background"]), default=0.0)
    # a caption states the shot; boxes support it (0.9) or leave it at 0.7, or veto it. Boxes alone
    # (a large subject named by most captions; only small boxes in a place the captions name) are
    # recorded at 0.5: enough to show a partner is *not* the opposite shot (a hard negative's
    # contrast), never a "Yes" (the builder asks `yes_min_confidence`, above 0.5).
    if n_close and not small:
        out.append(_attr("shot", "close_up", 0.9 if big else 0.7,
                         f"{n_close} captions say {', '.join(used_close)}" + (f"; {subj.category} box {subj.box.area:.0%}" if subj else "")))
    elif big and named >= 3 and not n_wide:
        out.append(_attr("shot", "close_up", 0.5, f"{subj.category} named in {named}/{len(caps)} captions fills "
                                                   f"{subj.box.area:.0%} of the picture (boxes only: support, not evidence)"))
    if n_wide and not big:
        conf = 0.9 if small else 0.7 if largest <= float(sb["wide_caption_max_area"]) else 0.4
        out.append(_attr("shot", "wide", conf, f"{n_wide} captions say {', '.join(used_wide)}; largest box {largest:.0%}"))
    elif small and subj is not None and named >= 2 and not n_close:
        place = any(_count(caps, spec["phrases"])[0] >= 2 for spec in v["scenes"].values())
        out.append(_attr("shot", "wide", 0.5 if place else 0.4,
                         f"{subj.category} named in {named}/{len(caps)} captions, every box of it at most "
                         f"{float(sb['wide_max_area']):.0%} of the picture" + (", the captions name the place" if place else "")
                         + " (boxes only: support, not evidence)"))
    return out


def _viewpoint(caps: list[str]) -> list[Attribute]:
    out = []
    for view, cues in vocab()["viewpoint_cues"].items():
        n, used = _count(caps, cues) if cues else (0, [])
        if n:
            out.append(_attr("viewpoint", view, 0.9 if n >= 2 else 0.7, f"{n} captions say {', '.join(used)}"))
    return out


def _activity(caps: list[str], events: list[list[tuple[str, str, str]]] | None = None,
              boxed: set[str] | None = None) -> list[Attribute]:
    """Main activities: a caption event (relations/text.py) that a person or animal does, stated by at
    least two captions; its object is the noun most of those captions give it (``ride|horse``), or
    none (``sit|``). Events of things ("a kite flying", "hair cutting tools") are no activity."""
    canon = vocab()["activity_canonical"]
    verbs: Counter = Counter()
    objs: dict[str, Counter] = {}
    named: Counter = Counter()  # canonical activity -> captions stating it in any of its wordings
    wordings: dict[str, set[str]] = {}
    for evs in (events if events is not None else _caption_events(caps)):
        this: set[str] = set()
        for ev, obj, _ in evs:
            c = canon.get(f"{ev}|{obj}") if obj else None
            c = c or canon.get(ev)
            for key in (f"{ev}|{obj}", ev):
                by_box = vocab()["activity_canonical_with_box"].get(key, {})
                hit = sorted(v for k, v in by_box.items() if k in (boxed or set()))
                if not c and len(set(hit)) == 1:
                    c = hit[0]
            if c:
                this.add(c)
                wordings.setdefault(c, set()).add(f"{ev} {obj}".strip())
                continue
            verbs[ev] += 1
            objs.setdefault(ev, Counter())[obj] += 1
        named.update(sorted(this))  # sorted: a set iterates in a per-process hash order
    people = set(vocab()["subjects"]["people"])
    if boxed and boxed & people:
        for value, spec in vocab()["activity_from_words"].items():
            if not set(spec["boxes"]) & boxed:
                continue
            n_words, used = _count(caps, spec["words"])
            if n_words:
                named[value] = max(named.get(value, 0), n_words)
                wordings.setdefault(value, set()).update(used)
                wordings[value].update(sorted(set(spec["boxes"]) & boxed))
    out = []
    for value, n in named.items():
        conf = _conf(n, len(caps)) if n >= 2 and _enough(n, len(caps)) else 0.3  # two captions, as for an object
        out.append(_attr("activity", value, conf, f"{n}/{len(caps)} captions state it ({', '.join(sorted(wordings[value]))})"))
    for ev, n in verbs.items():
        obj, k = next(((o, k) for o, k in objs[ev].most_common() if o), ("", 0))
        if not _enough(n, len(caps)):  # one caption: recorded (vetoes, one-image options), never an answer
            out.append(_attr("activity", f"{ev}|{obj}", 0.3, f"1/{len(caps)} captions state '{ev}'"))
            continue
        value = f"{ev}|{obj if k >= 2 else ''}"
        out.append(_attr("activity", value, _conf(n, len(caps)), f"{n}/{len(caps)} captions state '{ev}'"
                                                                  + (f" with '{obj}' in {k}" if k >= 2 else "")))
    return out


def _object_of(toks, verb_lemma: str, through: tuple[str, ...] = ()) -> str:
    breaks = {",", ";", "while", "as", "that", "who", "which", "and", "with", "on", "in", "at", "near", "next", "by"} - set(through)
    for i, t in enumerate(toks):
        if t.pos == "VERB" and t.lemma == verb_lemma:
            for u in toks[i + 1:i + 6]:
                if u.text in breaks:
                    break
                if u.pos == "NOUN" and not u.modifier:
                    return u.lemma or u.text
            return ""
    return ""


def _several(caps: list[str], category: str) -> int:
    """How many captions say there is more than one of ``category`` ("two dogs", "a herd of zebras",
    "people"): such a subject is not one dominant subject, whatever its largest box says."""
    lv = vocab()["layout"]
    plural = [category + "s", category + "es"] + (lv["people_plural"] if category in vocab()["subjects"]["people"] else [])
    singular = [category] + (lv["people_singular"] if category in vocab()["subjects"]["people"] else [])
    counts = "|".join(re.escape(w) for w in lv["count_words"])
    nouns = "|".join(re.escape(w) for w in plural + singular)
    counted = re.compile(rf"(?<![a-z])(?:{counts})\s+(?:\w+\s+){{0,2}}(?:{nouns})(?![a-z])")
    n = 0
    for cap in caps:
        c = cap.lower()
        if _says(c, plural) or counted.search(c):
            n += 1
    return n


def _inside(p: Box, b: Box) -> float:
    """The share of box ``p`` that lies inside box ``b``."""
    w = min(b.x + b.w, p.x + p.w) - max(b.x, p.x)
    h = min(b.y + b.h, p.y + p.h) - max(b.y, p.y)
    return max(0.0, w) * max(0.0, h) / p.area if p.area > 0 else 0.0


def _cut_at_a_side(b: Box, tol: float, max_width: float) -> bool:
    """A box narrower than ``max_width`` that touches the top, the bottom and the left or right frame edge."""
    top, bottom = b.y <= tol, b.y + b.h >= 1 - tol
    side = b.x <= tol or b.x + b.w >= 1 - tol
    return top and bottom and side and b.w < max_width


def _same_box(a: Box, b: Box, tol: float = 1e-6) -> bool:
    return abs(a.x - b.x) <= tol and abs(a.y - b.y) <= tol and abs(a.w - b.w) <= tol and abs(a.h - b.h) <= tol


def _layout(caps: list[str], objects: list[Obj], crowds: Sequence[Box] = ()) -> list[Attribute]:
    """The coarse composition: the boxes' geometry decides the class, the captions must support it
    (they name the one dominant subject and none says there are several of it; they say there are
    many things for a scattered layout). Confidence 0.9/0.8 = boxes + captions agree (usable for a
    "Yes"); 0.6 = boxes alone (only a contrast for a hard negative); lower = recorded only.

    A crowd (a box the dataset marks as one, or, for sources without the flag, a box holding two or
    more boxes of its kind: :func:`holds_a_group`) is never the subject; a crowd at least `min_area`
    large anywhere in the picture (a batter before the stands, a man among people at a crossing) leaves
    each class disputable (one subject or a group? a group or many scattered?): recorded only."""
    lv = vocab()["layout"]
    least = float(lv["min_area"])
    plain = [o for o in objects if not any(_same_box(o.box, c) for c in crowds)]
    grouped = [o for o in plain if holds_a_group(o.box, [p.box for p in plain if p is not o and p.category == o.category])]
    crowd = [b for b in crowds if b.area >= least] + [o.box for o in grouped if o.box.area >= least]
    out = _layout_class(caps, [o for o in plain if o not in grouped])
    if crowd:
        out = [a.model_copy(update={"confidence": min(a.confidence, 0.4),
                                    "detail": a.detail + f"; a crowd box of {max(b.area for b in crowd):.0%} in the picture"})
               for a in out]
    return out


def _layout_class(caps: list[str], objects: list[Obj]) -> list[Attribute]:
    lv = vocab()["layout"]
    background = set(vocab()["shot_boxes"]["background"])
    salient = sorted((o for o in objects if o.box.area >= float(lv["min_area"]) and o.category not in background),
                     key=lambda o: -o.box.area)
    if not salient:
        return []
    top = salient[0]
    # a thing held by, ridden by or lying on the main subject (a bat in a girl's hands: its box mostly
    # inside the subject's) is part of that subject, no rival for dominance (`held_inside`)
    rivals = [o for o in salient[1:] if o.category == top.category or _inside(o.box, top.box) < float(lv["held_inside"])]
    second = rivals[0].box.area if rivals else 0.0
    cx, cy = top.box.center
    named = _named(caps, top.category)
    several = _several(caps, top.category)
    # "two captions" where a source has five; every caption where it has fewer (one VLM caption)
    need = min(int(vocab()["min_captions"]), max(1, len(caps)))
    alike = [o for o in salient if o.category == top.category]
    if several >= need and len(alike) >= 2:
        # boxes and captions agree there are several of the main subject: not one dominant subject.
        # A group that composes the picture (at least `group_min` of them, the largest not small, the
        # second at least `group_ratio` of it) is asserted; two, tiny ones or one much larger than the
        # rest are a contrast only.
        # ... and nothing of another kind that the captions talk about is as large as the group's second
        # member (people around a parking meter the captions are about: the meter may be the subject)
        rival = any(o.category != top.category and o.box.area >= alike[1].box.area and _named(caps, o.category) >= need
                    for o in salient)
        # ... and the group outweighs everything else salient (people round a table laden with glasses,
        # plates and phones are no group that composes the picture: `group_over_rest`)
        rest = sum(o.box.area for o in salient if o.category != top.category)
        even = (len(alike) >= int(lv["group_min"]) and top.box.area >= float(lv["group_min_area"])
                and alike[1].box.area >= float(lv["group_ratio"]) * top.box.area and not rival
                and sum(o.box.area for o in alike) >= float(lv["group_over_rest"]) * rest)
        # two overlapping ones (a mother and her cub) read as one subject group: not even a contrast
        apart = len(alike) >= 3 or abs(alike[0].box.center[0] - alike[1].box.center[0]) >= float(lv["pair_apart"])
        return [_attr("layout", "several_subjects", 0.8 if even else 0.6 if apart else 0.4,
                      f"{len(alike)} {top.category} boxes of at least {float(lv['min_area']):.1%} (the two largest "
                      f"{top.box.area:.0%}, {alike[1].box.area:.0%}); {several} captions say there are several")]
    if top.box.area >= float(lv["dominant_area"]) and top.box.area >= float(lv["dominance"]) * second:
        if top.box.w > float(lv["max_width"]):
            where = "fills"  # spans the frame's width: one main subject seen close, no placement to read
        elif abs(cx - 0.5) <= float(lv["centre_band"]) and abs(cy - 0.5) <= float(lv["centre_band_y"]):
            where = "centre"
        elif cx <= float(lv["side_third"]) or cx >= 1 - float(lv["side_third"]):
            where = "left" if cx < 0.5 else "right"
        else:
            where = "offcentre"  # one dominant subject, placed neither clearly centred nor in a side third
        # the captions' main subject: no other salient category is named in more captions
        rival = max((_named(caps, o.category) for o in salient[1:] if o.category != top.category), default=0)
        # boxes and captions disagree on the main subject (a car cut by the frame, the captions about the
        # parking meter beside it): no composition, not even a contrast
        conf = 0.9 if named >= need and named >= rival and not several else 0.6 if not several and named >= rival else 0.3
        # a person or animal of another kind beside it (a dog at a man's feet, a parakeet by a cat, a
        # worker beside a truck) makes two subjects a reviewer may see, and so does one the captions name
        # even inside its box (a dog on a truck's roof, a woman on her motorcycle: viewers always count a
        # person or animal as a subject): not asserted, not a contrast
        sv = vocab()["subjects"]
        living = set(sv["people"]) | set(sv["animals"])
        held = float(lv["held_inside"])
        companion = next((o for o in salient[1:] if o.category in living and o.category != top.category
                          and (_inside(o.box, top.box) < held or _named(caps, o.category) >= need)), None)
        # ... and any other thing the captions name beside it (a pizza "next to a wine glass and a book",
        # "a laptop, keyboard and mouse"): the captions describe several things, a busy table; a thing
        # held by the subject (a bat in a girl's hands, its box inside hers) is part of it
        named_rival = next((o for o in salient[1:] if o.category != top.category and o.category not in living
                            and _inside(o.box, top.box) < held and _named(caps, o.category) >= need), None)
        # ... and its own kind around it (a man among people at a crossing): one among a group
        kin = [o for o in salient[1:] if o.category == top.category]
        # ... and captions that call the picture cluttered or full of items (`busy_cues`, two captions),
        # or one that sees a crowd (`crowd_cues`)
        n_busy, busy = _count(caps, lv["busy_cues"])
        n_crowd, crowded = _count(caps, lv["crowd_cues"])
        why = []
        if companion is not None:
            why.append(f"a {companion.category} beside it")
        if named_rival is not None:
            why.append(f"the captions also name a {named_rival.category}")
        if len(kin) > int(lv["one_max_kin"]):
            why.append(f"{len(kin)} more {top.category} boxes around it")
        if n_busy >= need:
            why.append(f"{n_busy} captions say {', '.join(busy)}")
        if n_crowd:
            why.append(f"{n_crowd} captions say {', '.join(crowded)}")
        if why:
            conf = min(conf, 0.4)
        # near the boundary with a group or a busy picture (the next box more than 1/`dominance_clear` of
        # it): the boxes say one subject, a reviewer may not: a contrast at most
        if second and top.box.area < float(lv["dominance_clear"]) * second:
            conf = min(conf, 0.6)
            why.append(f"the next box {second / top.box.area:.0%} of it")
        # a narrow box cut by the frame at the top, the bottom and one side (a man's back at the edge of a
        # bathroom shot, his face in the mirror) is a foreground passer-by the picture is not composed
        # around: a contrast at most (`edge_cut`, `edge_cut_max_width`)
        if _cut_at_a_side(top.box, float(lv["edge_cut"]), float(lv["edge_cut_max_width"])):
            conf = min(conf, 0.6)
        # an off-centre subject is never asserted as a placement (no "centre" / "left" / "right" question);
        # with boxes and captions agreeing (0.9) it is asserted only as one main subject, placement aside
        # (the Layout builder's `one_main_subject`)
        return [_attr("layout", f"one_subject_{where}", conf,
                      f"{top.category} box {top.box.area:.0%} of the picture, centre ({cx:.2f}, {cy:.2f}); named in "
                      f"{named} captions" + (f"; {several} captions say there are several" if several else "")
                      + "".join(f"; {w}" for w in why))]
    if len(salient) >= int(lv["scattered_min"]) and top.box.area <= float(lv["scattered_max_area"]):
        n, used = _count(caps, lv["many_cues"])
        conf = 0.8 if n >= need else 0.6
        return [_attr("layout", "many_scattered", conf, f"{len(salient)} boxes of at least {float(lv['min_area']):.1%}, "
                                                       f"largest {top.box.area:.0%}" + (f"; {n} captions say {', '.join(used)}" if n else ""))]
    if top.box.area <= float(lv["small_max_area"]) and len(salient) <= 4:
        # only small boxes: a wide scene when the captions name the place (else an unboxed thing,
        # a bush or a counter, may fill the frame): a contrast for a hard negative, never a "Yes"
        place = any(_count(caps, spec["phrases"])[0] >= need for spec in vocab()["scenes"].values())
        return [_attr("layout", "small_subjects", 0.6 if place else 0.3,
                      f"{len(salient)} salient boxes, the largest ({top.category}) {top.box.area:.1%} of the picture"
                      + ("; the captions name the place" if place else ""))]
    if len(salient) >= 2:
        a, b = salient[0], salient[1]
        gap = abs(a.box.center[0] - b.box.center[0])
        rest = salient[2].box.area if len(salient) > 2 else 0.0
        xs = sorted((a.box.center[0], b.box.center[0]))
        # one in the left part and one in the right part of the frame, a third subject much smaller
        spans = xs[0] <= 0.5 - float(lv["pair_side"]) and xs[1] >= 0.5 + float(lv["pair_side"])
        if b.box.area >= 0.06 and b.box.area >= 0.4 * a.box.area and gap >= 0.3 and spans and rest * 2 <= b.box.area:
            both = _named(caps, a.category) >= 1 and _named(caps, b.category) >= 1
            two = a.category == b.category and _count(caps, lv["pair_cues"])[0] >= need
            return [_attr("layout", "two_side_by_side", 0.8 if (two if a.category == b.category else both) else 0.6,
                          f"{a.category} and {b.category} boxes side by side ({a.box.area:.0%}, {b.box.area:.0%}, "
                          f"centres {gap:.2f} apart)")]
    return []
