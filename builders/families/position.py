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

OPPOSITE = {"left": "right", "right": "left", "above": "below", "below": "above"}


def interleave_facts(*streams: Iterator) -> Iterator:
    """Round-robin over fact streams until all are exhausted."""
    live = list(streams)
    while live:
        for it in list(live):
            item = next(it, None)
            if item is None:
                live.remove(it)
            else:
                yield item
from ..rules import lexicon, templates
from ._common import most_within_caps, pairs_round_robin

def overlap(a, b) -> float:
    """Intersection area over the smaller box's area."""
    ix = max(0.0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0.0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    small = min(a.w * a.h, b.w * b.h)
    return 0.0 if small <= 0 else ix * iy / small


def _inside(a, b) -> float:
    """Share of box ``a``'s area that lies inside box ``b``."""
    ix = max(0.0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0.0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    return 0.0 if a.w * a.h <= 0 else ix * iy / (a.w * a.h)


def apart(a, b, side: str) -> bool:
    """Neither box's centre lies within the other's extent on the axis of ``side``: each is clearly on
    its side of the other (a cup on a table, a rider on a horse are not beside them)."""
    if side in ("left", "right"):
        ca, cb = a.x + a.w / 2, b.x + b.w / 2
        return not (b.x <= ca <= b.x + b.w) and not (a.x <= cb <= a.x + a.w)
    ca, cb = a.y + a.h / 2, b.y + b.h / 2
    return not (b.y <= ca <= b.y + b.h) and not (a.y <= cb <= a.y + a.h)


def unreadable_box(b, edge_strip: float, max_area: float, *, flush: float, elongation: float) -> bool:
    """A box no side can be read against: a thin strip along a frame edge (the rim of a table at the
    bottom of the picture: what is "left of" it?), or one that fills most of the frame (a table that
    is the whole picture has everything on it, not beside it). ``edge_strip``: depth from the edge it
    touches (within ``flush`` of it), as a share of the frame, below which a box at least ``elongation``
    times as long is a strip (rules.toml [RelativePosition] edge_strip, edge_flush, strip_elongation)."""
    if b.w * b.h > max_area:
        return True
    horiz = (b.y <= flush or b.y + b.h >= 1 - flush) and b.h < edge_strip and b.w >= elongation * b.h
    vert = (b.x <= flush or b.x + b.w >= 1 - flush) and b.w < edge_strip and b.h >= elongation * b.w
    return horiz or vert


def corner_cut(b, eps: float) -> bool:
    """The box runs out of the frame at the bottom AND at a side: something reaching in from a bottom
    corner, nearer the camera than the rest (a hand holding a can), whose "below" is "in front"."""
    return eps >= 0 and b.y + b.h >= 1 - eps and (b.x <= eps or b.x + b.w >= 1 - eps)


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

    def unreadable(self, box, max_area: float) -> bool:
        """:func:`unreadable_box` with this subtask's rule settings."""
        r = self.rule
        return unreadable_box(box, float(r.param("edge_strip", 0.0)), max_area,
                              flush=float(r.param("edge_flush")), elongation=float(r.param("strip_elongation")))

    def relations_in(self, sha: str) -> dict[tuple[str, str], tuple]:
        """(A, B) -> (side, A grounding, B grounding). A is the image's one salient instance of its kind
        (caption-named, not a crowd); B's salient instances ALL lie on that same side of A, so "the B"
        cannot be read two ways; boxes overlapping much are skipped (a plate ON a table has no side)."""
        im = self.ctx.pool[sha]
        ev = ImageEvidence(im, self.ctx.graph)
        margin = float(self.rule.param("margin", 0.12))
        max_overlap = float(self.rule.param("max_overlap", 0.1))
        stack = float(self.rule.param("stack_overlap", 0.5))
        min_area = ev.v.salience["min_area"]
        max_b = int(self.rule.param("max_reference_instances", 2))
        visible: dict[str, list] = {}  # every instance big enough to be seen, crowd boxes included
        for e in im.objects():
            if e.box.w * e.box.h >= min_area:
                visible.setdefault(e.concept, []).append(e)
        max_area = float(self.rule.param("max_box_area", 1.0))
        readable = lambda e: not self.unreadable(e.box, max_area)  # noqa: E731
        cut = float(self.rule.param("stack_bottom_cut", -1.0))  # off: no box is that far past the frame
        # every named box is one a reviewer can point at without it (ImageEvidence.pointable: no fragment
        # of a body cut by the frame, no surface label few captions support)
        anchors = [e for e in im.objects() if ev.dominant(e) and ev.recognisable(e) and ev.confirmed(e, the=True) and readable(e)]
        out = {}
        for a in anchors:
            for kind, bs in visible.items():
                if kind == a.concept or len(bs) > max_b or not all(readable(b) for b in bs) or not any(ev.pointable(b) and ev.confirmed(b, the=len(bs) == 1) for b in bs):
                    continue
                sides = {relation_of(b.box, a.box, margin, stack) if overlap(a.box, b.box) <= max_overlap else None
                         for b in bs}
                if len(sides) == 1 and None not in sides and not all(apart(b.box, a.box, next(iter(sides))) for b in bs):
                    continue
                if len(sides) != 1 or None in sides:
                    continue
                if sides & {"above", "below"} and any(corner_cut(x.box, cut) for x in (a, *bs)):
                    continue  # reaching in from a bottom corner (a hand holding a can): in front, not below
                side_of_b = sides.pop()  # where every B is relative to A
                b = max(bs, key=lambda x: x.box.w * x.box.h)
                key = tuple(sorted((a.concept, kind)))
                if key in out:
                    continue
                # stored as (where key[0] is relative to key[1], grounding of key[0], grounding of key[1])
                if key[0] == kind:
                    out[key] = (side_of_b, b, a)
                else:
                    out[key] = (OPPOSITE[side_of_b], a, b)
        return out

    def frame_sides(self, sha: str) -> dict[str, tuple]:
        """kind -> (side of the picture, grounding) for the image's one salient instance of a kind when it
        clearly sits in the left or right part of the picture (centre beyond ``frame_margin`` of the middle
        and the box not reaching past the middle by more than ``frame_overlap``)."""
        im = self.ctx.pool[sha]
        ev = ImageEvidence(im, self.ctx.graph)
        m = float(self.rule.param("frame_margin", 0.15))
        o = float(self.rule.param("frame_overlap", 0.1))
        enclosing = {f"/c/en/{k.replace(' ', '_')}" for k in self.rule.param("seen_through", [])}
        shells = [x.box for x in im.objects() if x.concept in enclosing]
        out = {}
        for e in im.objects():
            if not ev.dominant(e) or not ev.confirmed(e, the=True):
                continue  # "the {kind}": one of it, called so by the captions
            if not ev.recognisable(e):
                continue  # a hand reaching in, a sliver of a table: not something a reviewer can point at
            if self.unreadable(e.box, 1.0):
                continue  # a strip along the edge of the picture: hard to point at
            if e.concept not in enclosing and any(_inside(e.box, s) >= 0.9 for s in shells):
                continue  # a passenger seen through a train or bus window: hard to point at
            cx = e.box.x + e.box.w / 2
            if cx <= 0.5 - m and e.box.x + e.box.w <= 0.5 + o:
                out[e.concept] = ("left", e)
            elif cx >= 0.5 + m and e.box.x >= 0.5 - o:
                out[e.concept] = ("right", e)
        return out

    def mine(self) -> Iterator[Fact]:
        facts = list(interleave_facts(self._mine_pairs(), self._mine_frame()))
        room = self.ctx.image_room or (lambda sha: self.ctx.max_image_reuse)
        # the most facts the reuse caps allow first: hub images would spend their slots greedily
        yes_no = lambda f: {"Yes": 1, "No": -1}.get(f.answer, 0) if f.qa_type != "Choice QA" else 0  # noqa: E731
        yield from most_within_caps(facts, room, balance=yes_no)

    def _mine_frame(self) -> Iterator[Fact]:
        """On which side of the picture is an entity in each image? The same kind in both images first;
        then (``frame_cross_kinds``) two different kinds of one class (lexicon ``position_classes``), one
        per image ("the dog in the first image, the cat in the second"), for pairs of images inside the
        caption band (photos that share something)."""
        pool, text = self.ctx.pool, self.ctx.graph.text
        sides: dict[str, dict] = {}
        by_kind: dict[str, list[str]] = defaultdict(list)
        for sha in pool.order:
            sides[sha] = self.frame_sides(sha)
            for k in sides[sha]:
                by_kind[k].append(sha)
        words = lexicon()["position_frame"]
        option = templates()[self.task].option["frame_text"]
        opt = lambda r1, r2: option.format(r1=words[r1], r2=words[r2])  # noqa: E731
        pairs = []
        for kind, a, b in pairs_round_robin(by_kind, self.rng):
            if self.allowed_pair(a, b):
                pairs.append((kind, kind, a, b))
        cross = []
        if self.rule.param("frame_cross_kinds", False):
            framed = {"any": [sha for sha in pool.order if sides[sha]]}
            classes: dict[str, set[str]] = defaultdict(set)  # kind concept -> its classes
            for cls, kinds_of in lexicon()["position_classes"].items():
                for k in kinds_of:
                    classes[f"/c/en/{k.replace(' ', '_')}"].add(cls)
            for _, a, b in pairs_round_robin(framed, self.rng, max_offset=int(self.rule.param("frame_cross_offsets", 8))):
                kinds = [(x, y) for x in sorted(sides[a]) if x not in sides[b]
                         for y in sorted(sides[b]) if y not in sides[a] and classes.get(x, {x}) & classes.get(y, {y})]
                if kinds and self.allowed_pair(a, b) and self.in_caption_band(a, b)[0]:
                    cross.append((*self.rng.choice(kinds), a, b))
        # images with few partners first (the reuse caps), and the form chosen so that Yes/No items
        # come out balanced (same side = Yes, different sides = No; the others become Choice items)
        degree: dict[str, int] = defaultdict(int)
        for _, _, a, b in pairs:
            degree[a] += 1
            degree[b] += 1
        pairs.sort(key=lambda p: degree[p[2]] + degree[p[3]])
        cross.sort(key=lambda p: degree[p[2]] + degree[p[3]])
        tf_count = {"Yes": 0, "No": 0}
        for ka, kb, a, b in pairs + cross:
            (r1, ga), (r2, gb) = sides[a][ka], sides[b][kb]
            same = ka == kb
            slots = {"a": text(ka)} if same else {"a": text(ka), "b": text(kb)}
            form = "frame" if same else "frame2"
            ev = self.pair_evidence(a, b, frame_side1=r1, frame_side2=r2, frame_margin=self.rule.param("frame_margin"))
            ev.entities1, ev.entities2 = [ga], [gb]
            key = f"frame:{ka}" if same else f"frame:{ka}|{kb}"
            tf_answer = "Yes" if r1 == r2 else "No"
            other = "No" if tf_answer == "Yes" else "Yes"
            as_choice = "Choice QA" in self.qa_types and (  # one item per pair
                "True or false QA" not in self.qa_types or tf_count[tf_answer] > tf_count[other])
            if not as_choice:
                tf_count[tf_answer] += 1
            if as_choice:
                combos = [(x, y) for x in ("left", "right") for y in ("left", "right")]
                distractors = [opt(*c) for c in combos if c != (r1, r2)]
                fact = Fact(image1=a, image2=b, qa_type="Choice QA", form=f"{form}_choice", answer=opt(r1, r2),
                            distractors=distractors, slots=slots, evidence=ev, key=key,
                            support=({opt(r1, y) for y in ("left", "right")}, {opt(x, r2) for x in ("left", "right")}))
                if r1 != r2 and same:
                    twin_ev = ev.model_copy(update={"notes": dict(ev.notes)})
                    twin_ev.entities1, twin_ev.entities2 = ev.entities2, ev.entities1
                    twin_ev.notes.update(frame_side1=r2, frame_side2=r1)
                    fact.twin = Fact(image1=b, image2=a, qa_type="Choice QA", form="frame_choice", answer=opt(r2, r1),
                                     slots=slots, evidence=twin_ev, key=f"probe:{key}",
                                     support=({opt(r2, y) for y in ("left", "right")}, {opt(x, r1) for x in ("left", "right")}))
                yield fact
            else:
                yield Fact(image1=a, image2=b, qa_type="True or false QA", form=f"{form}_tf",
                           answer="Yes" if r1 == r2 else "No", slots=slots,
                           evidence=ev.model_copy(update={"notes": dict(ev.notes)}), key=f"tf:{key}")

    def _mine_pairs(self) -> Iterator[Fact]:
        pool = self.ctx.pool
        rels: dict[str, dict] = {}
        by_pair: dict[str, list[str]] = defaultdict(list)
        for sha in pool.order:
            r = self.relations_in(sha)
            if not r:
                self.missing("image without two salient objects on clear sides of each other")
                continue
            rels[sha] = r
            for k in r:
                by_pair["|".join(k)].append(sha)
        opposite = lexicon()["position"]["opposite"]
        for key, a, b in pairs_round_robin(by_pair, self.rng):
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
            tf_ok = "True or false QA" in self.qa_types and (r1 == r2 or r2 == opposite[r1])
            if "Choice QA" in self.qa_types and (not tf_ok or self.rng.random() < 0.5):  # one item per pair
                yield self._choice(a, b, r1, r2, slots, ev, key)
            elif tf_ok:
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
