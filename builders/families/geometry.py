"""Image-level subtasks about how a picture is framed: Layout and ObservationAngle.

Both read annotator attributes (:mod:`..perception`), never a box heuristic on its own:

- Layout: a relational question along one named dimension of the composition (rules.toml
  ``[Layout.dimensions]``): *count* (one large main subject / two side by side / a group of several
  subjects of one kind / many scattered objects) or *side* (where the one main subject is placed). Every
  photo of an item, "No" partner included, has an asserted value of that dimension (boxes AND captions
  agreeing, or a VLM's answer; confidence >= ``yes_min_confidence``). Yes: the same value in both; No
  (hard negative from the pair miner): a caption neighbour of image 1 of the same scene kind whose
  asserted value differs and which states image 1's value nowhere, so neither photo alone decides it
  (a question naming one composition let the photo lacking it decide a "No" alone).
- ObservationAngle: shot distance (close-up / wide) and camera angle (from above), each stated by a
  caption; a dataset "Yes" also needs the boxes to agree (boxes never decide alone, but a caption they
  do not back is no viewpoint both photos clearly show). Yes: both images share it; No: a close-up
  against a wide shot of a caption neighbour. A high angle has no verified opposite (eye level is
  never stated), so it makes no pair.
"""

from __future__ import annotations

from collections.abc import Iterator

from mmrakit.images.perception import SOURCE as DATASET_SOURCE, main_subject, Obj, vocab

from ..base import Fact, register
from ..pairs import scene_settings
from ._perceived import PerceivedBuilder



def _same_setting(seen, a: str, b: str) -> bool:
    ia, ib = seen.top(a, "indoor"), seen.top(b, "indoor")
    return ia is None or ib is None or ia.value == ib.value


def _scene_families(seen, sha: str) -> set[str]:
    scenes = vocab()["scenes"]
    return {scenes[v]["family"] for v in seen.confident(sha, "scene") if v in scenes}


@register
class Layout(PerceivedBuilder):
    task = "Layout"
    family = "layout"
    attribute = "layout"
    reuse_aware = True

    def _salient(self, sha: str) -> list:
        bg = set(vocab()["shot_boxes"]["background"])
        least = float(vocab()["layout"]["min_area"])
        crowd = getattr(self.ctx.pool[sha], "crowd_boxes", ())
        return sorted((e for e in self.ctx.pool[sha].objects() if e.text not in bg and e.box.area >= least
                       and e.box not in crowd), key=lambda e: -e.box.area)  # a crowd box is no main subject

    def _setting(self, sha: str) -> str | None:
        """Indoor/outdoor: the annotator's, else what the salient objects' places agree on (an oven's
        kitchen, a giraffe's zoo; scene_support in perception.toml) -- only to match a hard negative."""
        known = self.seen.top(sha, "indoor")
        if known is not None:
            return known.value
        v = vocab()
        sides = {("indoor" if v["scenes"][scene]["indoor"] else "outdoor")
                 for e in self._salient(sha) for scene, objs in v["scene_support"].items() if e.text in objs}
        return sides.pop() if len(sides) == 1 else None

    def _kin(self, a: str, c: str) -> bool:
        """Same scene kind (a hard negative, not a bathroom against a ski slope): a shared scene family;
        the same main subject (not a person) in settings (indoor/outdoor) not known to differ; people
        leading both pictures on one known side (indoor/outdoor), in broad settings not known to differ; or, in
        one known setting, one image's main subject is of a kind (an animal, a vehicle, food, ...) the
        other image also shows."""
        if _scene_families(self.seen, a) & _scene_families(self.seen, c):
            return True
        ia, ic = self._setting(a), self._setting(c)
        sa, sc = self._salient(a), self._salient(c)
        if not sa or not sc or (ia is not None and ic is not None and ia != ic):
            return False
        people = set(vocab()["subjects"]["people"])
        least = float(self.rule.param("kin_min_area"))  # a few parked cars far off do not make a scene kin
        if sa[0].text == sc[0].text and sa[0].text not in people and min(sa[0].box.area, sc[0].box.area) >= least:
            return True  # the same main subject (a dog and a dog)
        if (sa[0].text in people and sc[0].text in people and min(sa[0].box.area, sc[0].box.area) >= least
                and ia is not None and ia == ic):
            # people leading both pictures, on one known side (indoor/outdoor) and in no two different broad
            # settings: one person against a group of people is the fairest test of a composition
            wa, wc = scene_settings(self.ctx, a), scene_settings(self.ctx, c)
            return not (wa and wc) or bool(wa & wc)
        if ia is None or ia != ic:  # by kind only in one known setting: a zoo panda and a kitchen dog are not kin
            return False
        kinds = {cat: k for k, cats in self.rule.param("subject_kinds").items() for cat in cats}

        def shown(objs: list) -> set[str]:
            return {kinds.get(e.text, e.text) for e in objs if e.box.area >= least}

        def leads(objs: list, other: list) -> bool:  # a main subject that is itself a subject (not a speck)
            m = objs[0]
            return m.text not in people and m.box.area >= least and kinds.get(m.text, m.text) in shown(other)

        return leads(sa, sc) or leads(sc, sa)

    def dimensions(self) -> dict[str, dict[str, set[str]]]:
        """The compared dimensions (rules.toml [Layout.dimensions]): dimension -> value -> the annotator's
        layout classes that are that value (count: one main subject / two side by side / a group / many
        scattered things; side: where the one main subject is placed)."""
        dims = self.rule.param("dimensions") or {}
        return {d: {v: set(cls) for v, cls in vals.items()} for d, vals in dims.items()}

    def mine(self) -> Iterator[Fact]:
        seen = self.seen
        yes_min = float(self.rule.param("yes_min_confidence", 0.7))
        dims = self.dimensions()

        def clear(sha: str) -> set[str]:  # classes boxes and captions agree on (or a VLM's answer)
            return {v for v, a in self.values(sha).items() if a.confidence >= yes_min}

        def value_of(sha: str, dim: str) -> str | None:
            """The image's one asserted value of the dimension (None: none, or two that disagree)."""
            got = {val for val, cls in dims[dim].items() if cls & clear(sha)}
            return got.pop() if len(got) == 1 else None

        def stated_in(sha: str, dim: str) -> set[str]:  # every value stated however weakly (for vetoes)
            have = set(seen.stated(sha, "layout"))
            return {val for val, cls in dims[dim].items() if cls & have}

        def differs(x: str, a: str, c: str) -> bool:
            # a relational "No" needs both photos: the partner has its own asserted composition of the
            # asked dimension (boxes AND captions agreeing, like a "Yes"), a different one, states the
            # anchor's value nowhere (not even weakly), and no weaker reading of it disagrees
            dim, _, val = x.partition(":")
            other = value_of(c, dim)
            if other is None or other == val or val in stated_in(c, dim):
                return False
            return all(a.confidence >= yes_min for a in self.values(c).values())

        # a "Yes" and its "No" ask one relational question about one named dimension ("are the two
        # pictures composed the same way: one large main subject / ... ?"); every photo in either has an
        # asserted value of it, so neither answer is decided by one photo
        strong: dict[str, list[str]] = {}
        for sha in self.ctx.pool.order:
            found = False
            for dim in dims:
                val = value_of(sha, dim)
                if val is not None:
                    strong.setdefault(f"{dim}:{val}", []).append(sha)
                    found = True
            if not found:
                self.missing("image without a composition that boxes and captions agree on (layout)")

        bg = set(vocab()["shot_boxes"]["background"])

        def entities(sha: str, x: str) -> list:
            crowd = getattr(self.ctx.pool[sha], "crowd_boxes", ())
            objs = sorted((e for e in self.ctx.pool[sha].objects() if e.text not in bg and e.box not in crowd),
                          key=lambda e: -e.box.area)
            cls = clear(sha)
            if "several_subjects" in cls:
                return [e for e in objs if objs and e.text == objs[0].text][:3]
            return objs[:2] if "two_side_by_side" in cls else objs[:1] if any(v.startswith("one_") for v in cls) else []

        def slots(a: str, b: str, x: str) -> dict:
            return {"_form": x.partition(":")[0]}  # the question names the dimension, never one photo's value

        # the classes many photos share (one main subject) first: the few groups and scattered layouts are
        # the "No" partners they need
        yield from self.yes_no(strong, differs=differs, close=self._kin, entities=entities, slots=slots,
                               abundant_first=True)


@register
class ObservationAngle(PerceivedBuilder):
    task = "ObservationAngle"
    family = "viewpoint"
    attribute = "shot"
    reuse_aware = True

    def values(self, sha: str):
        out = dict(self.seen.confident(sha, "shot"))
        out.update(self.seen.confident(sha, "viewpoint"))
        out.pop("low_angle", None)
        return out

    def _subject(self, sha: str):
        objs = self.ctx.pool[sha].objects()
        bg = set(vocab()["shot_boxes"]["background"])
        best = main_subject([Obj(e.text, e.box) for e in objs if e.text not in bg])
        return next((e for e in objs if best and e.text == best.category and e.box == best.box), None)

    def mine(self) -> Iterator[Fact]:
        seen = self.seen
        opposite = {"close_up": "wide", "wide": "close_up"}

        def differs(x: str, a: str, c: str) -> bool:
            if x not in opposite:
                return False  # a high angle has no verified opposite (eye level is never stated)
            vc = self.values(c)
            return opposite[x] in vc and x not in seen.stated(c, "shot")

        def slots(a: str, b: str, x: str) -> dict:
            # the question names the viewpoint it asks about (close-up, wide shot, from above)
            sa, sb = self._subject(a), self._subject(b)
            if x == "close_up" and sa is not None and sb is not None and sa.concept == sb.concept:
                return {"_form": f"{x}_subject", "subject": self.ctx.graph.text(sa.concept)}
            return {"_form": x}

        def entities(sha: str, x: str) -> list:
            s = self._subject(sha)
            return [s] if s is not None else []

        # a "Yes" needs a caption stating the viewpoint (confidence >= yes_min_confidence); boxes alone
        # only show that a hard negative's partner is not the asked shot
        # (the dataset source: a caption AND the boxes agreeing, `yes_min_dataset_confidence`; a caption
        # whose boxes do not back it ("a close up of a pizza" with the pizza a fifth of the picture) is
        # no viewpoint both photos clearly show)
        yes_min = float(self.rule.param("yes_min_confidence", 0.7))
        yes_min_dataset = float(self.rule.param("yes_min_dataset_confidence", yes_min))

        def asserted(sha: str, v: str) -> bool:
            a = self.values(sha)[v]
            return a.confidence >= (yes_min_dataset if a.source == DATASET_SOURCE else yes_min)

        groups = self.groups(asserted)
        yield from self.yes_no(groups, differs=differs, slots=slots, entities=entities, key="view")
