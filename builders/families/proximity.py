"""NearSameEntity: an entity in each image is next to the same kind of third entity.

Near = the boxes touch or are within ``near_gap`` (normalised units), and the graph agrees the two
kinds are found together (LocatedNear / AtLocation either way). The question names the two entities
(a in image 1, b in image 2) and asks for the shared neighbour Z. Distractors, in order: objects near
a in image 1 only, objects near b in image 2 only (so neither image alone singles Z out), then other
objects of the two images and graph neighbours of a/b; each checked not to be near a in image 1 and
near b in image 2 at the same time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from ..base import Builder, Fact, register
from ..graph import uri
from ..instances import ImageEvidence, _text
from ..pool import box_gap
from .position import _inside
from ._common import checked, interleave, lexically_close, most_within_caps, pairs_round_robin, scarce_first
from .shared_target import edge_evidence


@register
class NearSameEntity(Builder):
    task = "NearSameEntity"
    family = "proximity"

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._edge_cache: dict[tuple[str, str], object] = {}
        self._nb_cache: dict[str, set[str]] = {}
        self._ev: dict[str, ImageEvidence] = {}

    def near_map(self, sha: str) -> dict[str, dict[str, tuple]]:
        """entity concept -> {neighbour concept: (entity grounding, neighbour grounding, edge)}. The named
        entity is the image's only instance of its kind ("the dog"); both are pointable (big enough, not a
        crowd box, not a fragment of a body cut by the frame, not a surface label few captions support:
        ImageEvidence.pointable) and named as the question names them by ``name_captions`` captions, none of which
        calls them something else (a coffee table boxed "dining table"); with ``near_caption``, one
        caption also names the two together (boxes touching in the picture may be metres apart). Two kinds
        of one dish (``dish``) are never near each other when one box lies inside the other (``dish_inside``):
        the broccoli on a pizza is part of it."""
        im = self.ctx.pool[sha]
        ev = self._evidence(sha)
        gap = float(self.rule.param("near_gap", 0.04))
        need = int(self.rule.param("name_captions", 1))
        together = bool(self.rule.param("near_caption", False))
        dish = {f"/c/en/{k.replace(' ', '_')}" for k in self.rule.param("dish", [])}
        dish_inside = float(self.rule.param("dish_inside", 1.01))
        objs = [(e, e.box.x, e.box.y, e.box.x + e.box.w, e.box.y + e.box.h) for e in im.objects()
                if ev.pointable(e) and ev.confirmed(e, the=False, min_captions=need)]
        out: dict[str, dict[str, tuple]] = defaultdict(dict)
        for a, ax1, ay1, ax2, ay2 in objs:
            if not ev.dominant(a) or not ev.confirmed(a, the=True, min_captions=need):
                continue
            near = out[a.concept]
            for z, zx1, zy1, zx2, zy2 in objs:
                if a.concept == z.concept or z.concept in near:
                    continue
                gx = max(0.0, max(ax1, zx1) - min(ax2, zx2))
                gy = max(0.0, max(ay1, zy1) - min(ay2, zy2))
                if gx * gx + gy * gy > gap * gap:
                    continue
                if together and not ev.named_together(_text(a), _text(z)):
                    continue
                if {a.concept, z.concept} <= dish and max(_inside(z.box, a.box), _inside(a.box, z.box)) >= dish_inside:
                    continue  # a topping on the pizza, broccoli in the bowl: part of the dish, not near it
                edge = self._graph_edge(a.concept, z.concept)
                if edge is not None or not self.rule.param("require_graph_edge", True):
                    near[z.concept] = (a, z, edge)
        return {k: v for k, v in out.items() if v}

    def _evidence(self, sha: str) -> ImageEvidence:
        if sha not in self._ev:
            self._ev[sha] = ImageEvidence(self.ctx.pool[sha], self.ctx.graph)
        return self._ev[sha]

    def _graph_edge(self, a: str, z: str):
        key = (a, z)
        if key not in self._edge_cache:
            g, found = self.ctx.graph, None
            for rel in self.rule.relations:
                found = g.edge(a, rel, z) or g.edge(z, rel, a)
                if found is not None:
                    break
            self._edge_cache[key] = found
        return self._edge_cache[key]

    def _graph_nb(self, concept: str) -> set[str]:
        if concept not in self._nb_cache:
            self._nb_cache[concept] = {e.end for rel in self.rule.relations for e in self.ctx.graph.out(concept, rel)}
        return self._nb_cache[concept]

    def mine(self) -> Iterator[Fact]:
        # images with few partners first (the reuse caps); usable = each image offers a tempting distractor
        # and no option set can hide Z from a reader who knows what usually goes with what (a person beside
        # a dog and a car: no distractor is found with both nearly as often), so the filter will drop it
        usable = lambda f: bool(f.distractor_groups[0] and f.distractor_groups[1]) and not self._given_away(f)  # noqa: E731
        facts = scarce_first(list(self._mine()), usable)
        ok = [f for f in facts if usable(f)]
        room = self.ctx.image_room or (lambda sha: self.ctx.max_image_reuse)
        # the most usable facts the reuse caps allow first (hub images would spend their slots greedily)
        yield from most_within_caps(ok, room) + [f for f in facts if not usable(f)]

    def _given_away(self, f: Fact) -> bool:
        """The co-occurrence reader (filters.cooccurrence_answer) picks Z whatever distractors are drawn:
        Z leads even the most plausible candidate by the rule's margin."""
        margin = self.rule.param("cooccurrence_margin")
        pool = self.ctx.pool
        if margin is None or len(pool) < int(self.rule.param("cooccurrence_min_images", 30)):
            return False
        named = [uri(f.slots["a"]), uri(f.slots["b"])]
        score = lambda t: min(pool.found_with(uri(t), m) for m in named)  # noqa: E731
        best = max((score(d) for d in f.distractors), default=0.0)
        return score(f.answer) - best >= float(margin)

    def _mine(self) -> Iterator[Fact]:
        pool, graph = self.ctx.pool, self.ctx.graph
        maps: dict[str, dict] = {}
        by_z: dict[str, list[str]] = defaultdict(list)
        for sha in pool.order:
            if not pool[sha].objects():
                self.missing("image without object boxes")
                continue
            m = self.near_map(sha)
            if not m:
                self.missing("no two salient, caption-named objects whose boxes touch")
                continue
            maps[sha] = m
            for z in {z for nb in m.values() for z in nb}:
                by_z[z].append(sha)
        for z, a, b in pairs_round_robin(by_z, self.rng):
            if not self.allowed_pair(a, b):
                continue
            ma, mb = maps[a], maps[b]
            choices = [(ea, eb) for ea in sorted(ma) if z in ma[ea] for eb in sorted(mb) if z in mb[eb] and (eb != ea or not self.rule.distinct_entities)]
            if not choices:
                self.missing("same neighbour only next to the same kind of entity")
                continue
            # prefer entity pairs the graph links to other common neighbours besides Z (text-only confounders)
            self.rng.shuffle(choices)
            ea, eb = max(choices, key=lambda p: len(self._graph_nb(p[0]) & self._graph_nb(p[1]) - {z}))
            near_a, near_b = set(ma[ea]), set(mb[eb])
            box_a, box_b = ma[ea][z][0].box, mb[eb][z][0].box
            far = float(self.rule.param("far_gap", 0.1))
            # a distractor may be near the named entity of one image, never of both: checked against
            # EVERY box of the full annotation (any size, crowd boxes too) with a generous gap
            close_a = {e.concept for e in pool[a].objects() if box_gap(box_a, e.box) <= far}
            close_b = {e.concept for e in pool[b].objects() if box_gap(box_b, e.box) <= far}

            # ... and absent from at least one of the two images: no box of any size, no caption noun
            # (a reviewer cannot measure "near" for a thing present in both)
            # (a class word counts: "utensils" may hide an unboxed knife)
            kinds_a, kinds_b = self._evidence(a).possible_kinds(), self._evidence(b).possible_kinds()
            never = set(self.rule.param("never_distractors", []))

            def wrong(d: str) -> bool:
                t = text(d)
                return (d not in (z, ea, eb) and not (d in close_a and d in close_b) and not lexically_close(d, z)
                        and not (t in kinds_a and t in kinds_b) and t not in never
                        and not self.ctx.is_kind(d, "place"))  # options are objects, not places

            text = graph.text
            others = sorted(set(pool[a].concepts(("object",))) | set(pool[b].concepts(("object",))))
            self.rng.shuffle(others)
            nb_a, nb_b = self._graph_nb(ea), self._graph_nb(eb)
            # graph neighbours of both named entities: a text-only reader cannot tell them from Z
            ties = sorted(nb_a & nb_b - {z})
            self.rng.shuffle(ties)
            distractors = checked(interleave(ties, sorted(near_a - {z}), sorted(near_b - {z}), others,
                                             sorted(nb_a | nb_b)), wrong)
            # most plausible first: graph neighbours of both (above), then what is usually found with BOTH
            # named kinds in the pool (neither kind of text-only reader can rule it out)
            def plausible(d: str) -> tuple[bool, float]:
                return d in ties, min(pool.found_with(d, ea), pool.found_with(d, eb))

            distractors.sort(key=plausible, reverse=True)
            # options drawn in turn from: near a only (image 1), near b only (image 2), the rest, so that
            # neither image alone leaves only the answer
            only_a = [d for d in distractors if d in close_a]
            only_b = [d for d in distractors if d in close_b]
            rest = [d for d in distractors if d not in close_a and d not in close_b]
            ga, za, edge_a = ma[ea][z]
            gb, zb, edge_b = mb[eb][z]
            ev = self.pair_evidence(a, b, third=z, near_gap=self.rule.param("near_gap"),
                                    gap1=round(box_gap(ga.box, za.box), 4), gap2=round(box_gap(gb.box, zb.box), 4))
            ev.edges = [edge_evidence(e) for e in (edge_a, edge_b) if e is not None]
            ev.entities1, ev.entities2 = [ga, za], [gb, zb]
            text = graph.text
            yield Fact(image1=a, image2=b, qa_type="Choice QA", form="choice", answer=text(z),
                       distractors=[text(d) for d in distractors], slots={"a": text(ea), "b": text(eb)}, evidence=ev,
                       distractor_groups=[[text(d) for d in g] for g in (only_a, only_b, rest)],
                       support=({text(c) for c in close_a}, {text(c) for c in close_b}), key=f"{ea}|{eb}|{z}")
