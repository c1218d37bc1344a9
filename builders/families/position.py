"""RelativePosition: where entity A is relative to entity B, compared across the two images.

Both images hold exactly one instance of A and of B; the box centres give left/right/above/below
when the offset on the dominant axis exceeds ``margin``. Choice QA asks for the (image 1, image 2)
combination; its swapped-order twin (same options, answer swapped) is an order probe. Yes/No asks
whether A keeps the same side of B (opposite sides on the same axis for No).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from ..base import Builder, Fact, register
from ..instances import ImageEvidence
from ..rules import lexicon, templates
from ._common import pairs_round_robin

def overlap(a, b) -> float:
    """Intersection area over the smaller box's area."""
    ix = max(0.0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0.0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    small = min(a.w * a.h, b.w * b.h)
    return 0.0 if small <= 0 else ix * iy / small


def relation_of(a_box, b_box, margin: float, stack_overlap: float = 0.5) -> str | None:
    """Side of A relative to B in the image plane. Left/right when the horizontal offset dominates;
    above/below only when the boxes are stacked (their x-ranges overlap by ``stack_overlap`` of the
    narrower box, a microwave above an oven): otherwise a vertical offset in a photo mostly means
    farther/nearer, which a reviewer does not read as "above"."""
    (ax, ay), (bx, by) = a_box.center, b_box.center
    dx, dy = ax - bx, ay - by
    if abs(dx) >= abs(dy) and abs(dx) > margin:
        return "left" if dx < 0 else "right"
    if abs(dy) > abs(dx) and abs(dy) > margin:
        ix = max(0.0, min(a_box.x + a_box.w, b_box.x + b_box.w) - max(a_box.x, b_box.x))
        narrow = min(a_box.w, b_box.w)
        if narrow > 0 and ix / narrow >= stack_overlap:
            return "above" if dy < 0 else "below"
    return None


@register
class RelativePosition(Builder):
    task = "RelativePosition"
    family = "position"

    def option(self, r1: str, r2: str) -> str:
        words = lexicon()["position"]
        return templates()[self.task].option["text"].format(r1=words[r1], r2=words[r2])

    def relations_in(self, sha: str) -> dict[tuple[str, str], tuple]:
        """(A, B) -> (side, A grounding, B grounding) for salient, caption-named, single-instance objects
        whose boxes overlap little (an object lying ON a table has no clear side of it)."""
        im = self.ctx.pool[sha]
        ev = ImageEvidence(im, self.ctx.graph)
        margin = float(self.rule.param("margin", 0.12))
        max_overlap = float(self.rule.param("max_overlap", 0.1))
        singles = [e for e in im.objects() if ev.dominant(e)]
        out = {}
        for a in singles:
            for b in singles:
                if a.concept >= b.concept or overlap(a.box, b.box) > max_overlap:
                    continue
                r = relation_of(a.box, b.box, margin, float(self.rule.param("stack_overlap", 0.5)))
                if r is not None:
                    out[(a.concept, b.concept)] = (r, a, b)
        return out

    def mine(self) -> Iterator[Fact]:
        pool = self.ctx.pool
        rels: dict[str, dict] = {}
        by_pair: dict[str, list[str]] = defaultdict(list)
        for sha in pool.order:
            r = self.relations_in(sha)
            if not r:
                self.missing("image without two single-instance boxed objects clearly apart")
                continue
            rels[sha] = r
            for k in r:
                by_pair["|".join(k)].append(sha)
        opposite = lexicon()["position"]["opposite"]
        for key, a, b in pairs_round_robin(by_pair, self.rng):
            if self.rng.random() < 0.5:
                a, b = b, a
            if not self.allowed_pair(a, b):
                continue
            pair = tuple(key.split("|"))
            r1, ga, gb = rels[a][pair]
            r2, ha, hb = rels[b][pair]
            if self.rng.random() < 0.5:  # ask about B relative to A half of the time
                pair = (pair[1], pair[0])
                r1, r2 = opposite[r1], opposite[r2]
                ga, gb, ha, hb = gb, ga, hb, ha
            text = self.ctx.graph.text
            slots = {"a": text(pair[0]), "b": text(pair[1])}
            ev = self.pair_evidence(a, b, position1=r1, position2=r2, margin=self.rule.param("margin"))
            ev.entities1, ev.entities2 = [ga, gb], [ha, hb]
            if "Choice QA" in self.qa_types:
                yield self._choice(a, b, r1, r2, slots, ev, key)
            if "True or false QA" in self.qa_types and (r1 == r2 or r2 == opposite[r1]):
                yield Fact(image1=a, image2=b, qa_type="True or false QA", form="tf",
                           answer="Yes" if r1 == r2 else "No", slots=slots, evidence=ev.model_copy(update={"notes": dict(ev.notes)}),
                           key=f"tf:{key}")

    def support(self, r1: str, r2: str) -> tuple[set[str], set[str]]:
        """Options image 1 alone allows (its side is r1) and image 2 alone allows (its side is r2)."""
        sides = ("left", "right", "above", "below")
        return {self.option(r1, x) for x in sides}, {self.option(x, r2) for x in sides}

    def _choice(self, a: str, b: str, r1: str, r2: str, slots: dict, ev, key: str) -> Fact:
        opposite = lexicon()["position"]["opposite"]
        o1, o2 = opposite[r1], opposite[r2]
        # distractors: swapped combination first (the order trap), then one keeping image 1's side and
        # one keeping image 2's side (so neither image alone decides), then the mirror
        combos = [(r2, r1), (r1, o2 if o2 != r2 else r1), (o1 if o1 != r1 else r2, r2), (o1, o2)]
        seen, distractors = {(r1, r2)}, []
        for c in combos:
            if c not in seen:
                seen.add(c)
                distractors.append(self.option(*c))
        for extra in ("left", "right", "above", "below"):
            for c in ((r1, extra), (extra, r2)):
                if c not in seen:
                    seen.add(c)
                    distractors.append(self.option(*c))
        answer = self.option(r1, r2)
        support = self.support(r1, r2)
        fact = Fact(image1=a, image2=b, qa_type="Choice QA", form="choice", answer=answer, distractors=distractors,
                    slots=slots, evidence=ev, support=support, key=key)
        if r1 != r2:
            twin_ev = ev.model_copy(update={"notes": dict(ev.notes)})
            twin_ev.entities1, twin_ev.entities2 = ev.entities2, ev.entities1
            twin_ev.notes.update(position1=r2, position2=r1, order_probe_of_positions=[r1, r2])
            fact.twin = Fact(image1=b, image2=a, qa_type="Choice QA", form="choice", answer=self.option(r2, r1),
                             slots=slots, evidence=twin_ev, support=self.support(r2, r1), key=f"probe:{key}")
        return fact
