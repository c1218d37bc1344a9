"""Image-level subtasks about how a picture is framed: Layout and ObservationAngle.

Both read annotator attributes (:mod:`..perception`), never a box heuristic on its own:

- Layout: the coarse layout class (one dominant subject centred / on the left / on the right, two
  subjects side by side, many scattered objects, only small subjects). Yes: both images in one class; No (hard negative
  from the pair miner): a caption neighbour of image 1 in a different class, indoor/outdoor alike.
- ObservationAngle: shot distance (close-up / wide, stated by a caption or by a caption-named
  subject whose boxes support it) and camera angle (high angle / top-down from caption cues). Yes:
  both images share a close-up, a wide shot or a high angle; No: a close-up against a wide shot of
  a caption neighbour. Eye level is never asserted (no source states it).
"""

from __future__ import annotations

from collections.abc import Iterator

from mmrakit.images.perception import main_subject, Obj, vocab

from ..base import Fact, register
from ._perceived import PerceivedBuilder

LAYOUT_OPPOSITES = {
    "one_subject_centre": {"many_scattered", "two_side_by_side", "one_subject_left", "one_subject_right", "small_subjects"},
    "one_subject_left": {"one_subject_right", "many_scattered", "one_subject_centre", "small_subjects"},
    "one_subject_right": {"one_subject_left", "many_scattered", "one_subject_centre", "small_subjects"},
    "two_side_by_side": {"one_subject_centre", "many_scattered", "small_subjects"},
    "many_scattered": {"one_subject_centre", "one_subject_left", "one_subject_right", "two_side_by_side"},
    "small_subjects": {"one_subject_centre", "one_subject_left", "one_subject_right", "two_side_by_side"},
}


def _same_setting(seen, a: str, b: str) -> bool:
    ia, ib = seen.top(a, "indoor"), seen.top(b, "indoor")
    return ia is None or ib is None or ia.value == ib.value


@register
class Layout(PerceivedBuilder):
    task = "Layout"
    family = "layout"
    attribute = "layout"

    def mine(self) -> Iterator[Fact]:
        seen = self.seen

        def differs(x: str, a: str, c: str) -> bool:
            vc = self.values(c)
            return bool(vc) and x not in seen.stated(c, "layout") and all(v in LAYOUT_OPPOSITES[x] for v in vc)

        # "similar layout" is asserted only for a clear composition (one dominant subject placed the same
        # way, or two subjects side by side); scattered or small subjects serve only as the contrast
        strong = {k: v for k, v in self.groups().items() if k.startswith("one_subject") or k == "two_side_by_side"}

        bg = set(vocab()["shot_boxes"]["background"])

        def entities(sha: str, x: str) -> list:
            objs = sorted((e for e in self.ctx.pool[sha].objects() if e.text not in bg), key=lambda e: -e.box.area)
            return objs[:2] if x == "two_side_by_side" else objs[:1]

        def alike(a: str, b: str, x: str) -> bool:
            """The dominant subjects are placed alike: box areas within a factor 1.6, centres close."""
            if x == "two_side_by_side":
                return True
            ea, eb = entities(a, x), entities(b, x)
            if not ea or not eb:
                return False
            ba, bb = ea[0].box, eb[0].box
            ratio = max(ba.area, bb.area) / max(1e-6, min(ba.area, bb.area))
            dx, dy = ba.center[0] - bb.center[0], ba.center[1] - bb.center[1]
            return ratio <= float(self.rule.param("max_area_ratio", 1.6)) and (dx * dx + dy * dy) ** 0.5 <= float(
                self.rule.param("max_centre_distance", 0.15))

        yield from self.yes_no(strong, differs=differs, close=lambda a, c: _same_setting(seen, a, c), entities=entities,
                               pair_ok=alike)


@register
class ObservationAngle(PerceivedBuilder):
    task = "ObservationAngle"
    family = "viewpoint"
    attribute = "shot"

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

    def _subject_class(self, sha: str) -> str:
        s = self._subject(sha)
        subj = vocab()["subjects"]
        if s is None:
            return "none"
        return "people" if s.text in subj["people"] else "animals" if s.text in subj["animals"] else "things"

    def mine(self) -> Iterator[Fact]:
        seen = self.seen
        # a shared close-up of a person and of a pizza is not one viewpoint: split by subject class
        by_value: dict[str, list[str]] = {}
        for x, shas in self.groups().items():
            for sha in shas:
                cls = self._subject_class(sha)
                if cls == "things":  # things alike only when the same kind (a truck and a teddy bear differ)
                    s = self._subject(sha)
                    cls = f"things:{s.concept if s is not None else '-'}"
                by_value.setdefault(f"{x}@{cls}", []).append(sha)
        opposite = {"close_up": "wide", "wide": "close_up"}

        def differs(xk: str, a: str, c: str) -> bool:
            x = xk.split("@")[0]
            if x not in opposite:
                return False  # a high angle has no verified opposite (eye level is never stated)
            vc = self.values(c)
            return opposite[x] in vc and x not in seen.stated(c, "shot")

        def slots(a: str, b: str, x: str) -> dict:
            sa, sb = self._subject(a), self._subject(b)
            if sa is not None and sb is not None and sa.concept == sb.concept:
                return {"subject": self.ctx.graph.text(sa.concept)}
            return {"_form": "tf_any"}

        def entities(sha: str, x: str) -> list:
            s = self._subject(sha)
            return [s] if s is not None else []

        yield from self.yes_no(by_value, differs=differs, slots=slots, entities=entities, key="view")
