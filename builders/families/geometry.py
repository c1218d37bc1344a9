"""Image-level subtasks about how a picture is framed: Layout and ObservationAngle.

Both read annotator attributes (:mod:`..perception`), never a box heuristic on its own, and every
question *names* the composition or viewpoint it asks about, so a reviewer can check it in each image:

- Layout: the coarse composition (one dominant subject in the centre / on the left / on the right,
  two subjects side by side, many separate objects spread over the frame). A "Yes" needs the class in
  both images with boxes AND captions agreeing (or a VLM's answer; confidence >= ``yes_min_confidence``); the "No" partner
  (hard negative from the pair miner) is a caption neighbour of image 1 whose composition is a
  different, exclusive class (boxes alone suffice for that contrast), in the same indoor/outdoor
  setting and of the same scene kind (a shared scene family or main subject category).
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
from ..rules import rules
from ._perceived import PerceivedBuilder

# the composition classes that exclude each other, and those a "Yes" may assert (each with its own
# question form in templates.toml): the builder's data, builders/data/rules.toml [Layout]
LAYOUT_OPPOSITES: dict[str, set[str]] = {k: set(v) for k, v in rules()["Layout"].param("exclusive").items()}
LAYOUT_ASSERTED: tuple[str, ...] = tuple(rules()["Layout"].param("asserted"))
MAIN = "one_main_subject"  # a class of the builder, not of the annotator: one dominant subject, placement aside


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
        return sorted((e for e in self.ctx.pool[sha].objects() if e.text not in bg and e.box.area >= least),
                      key=lambda e: -e.box.area)

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
        the same main subject (not a person) in settings (indoor/outdoor) not known to differ; or, in
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
        if ia is None or ia != ic:  # by kind only in one known setting: a zoo panda and a kitchen dog are not kin
            return False
        kinds = {cat: k for k, cats in self.rule.param("subject_kinds").items() for cat in cats}

        def shown(objs: list) -> set[str]:
            return {kinds.get(e.text, e.text) for e in objs if e.box.area >= least}

        def leads(objs: list, other: list) -> bool:  # a main subject that is itself a subject (not a speck)
            m = objs[0]
            return m.text not in people and m.box.area >= least and kinds.get(m.text, m.text) in shown(other)

        return leads(sa, sc) or leads(sc, sa)

    def mine(self) -> Iterator[Fact]:
        seen = self.seen
        yes_min = float(self.rule.param("yes_min_confidence", 0.7))

        one_subject = set(self.rule.param("one_subject_classes"))

        def clear(sha: str, v: str) -> bool:
            return self.values(sha)[v].confidence >= yes_min

        def stated(c: str) -> set[str]:  # every class stated for c, however weakly, "one main subject" included
            out = set(seen.stated(c, "layout"))
            return out | ({MAIN} if out & one_subject else set())

        def differs(x: str, a: str, c: str) -> bool:
            vc = self.values(c)
            if (x in one_subject or x == MAIN) and not all(clear(c, v) for v in vc):
                # against "one main subject" only a composition that boxes and captions agree on is a clear
                # contrast: an uneven group (a large zebra, a small one behind it) or many small boxes no
                # caption calls many (the parts of one plate of food) may read as one main subject
                return False
            return bool(vc) and x not in stated(c) and all(v in LAYOUT_OPPOSITES[x] for v in vc)

        # a "Yes" asserts a clear composition that boxes and captions agree on; the rest is contrast only.
        # One dominant subject (any placement, off-centre included) is also asserted as just that.
        strong = self.groups(lambda sha, v: (v in LAYOUT_ASSERTED or v in one_subject) and clear(sha, v))
        main = {sha for v in one_subject for sha in strong.get(v, [])}
        strong.pop("one_subject_offcentre", None)  # no placement question: only "one main subject"
        if main:
            strong[MAIN] = [sha for sha in self.ctx.pool.order if sha in main]

        bg = set(vocab()["shot_boxes"]["background"])

        def entities(sha: str, x: str) -> list:
            objs = sorted((e for e in self.ctx.pool[sha].objects() if e.text not in bg), key=lambda e: -e.box.area)
            if x == "several_subjects":
                return [e for e in objs if objs and e.text == objs[0].text][:3]
            return objs[:2] if x == "two_side_by_side" else objs[:1] if x.startswith("one_") else []

        def slots(a: str, b: str, x: str) -> dict:
            return {"_form": x}

        yield from self.yes_no(strong, differs=differs, close=self._kin, entities=entities, slots=slots)


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
