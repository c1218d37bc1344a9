"""SubEvent: image 2 shows a sub-event (step, first/last step, prerequisite) of image 1's event.

Events per image are the SceneLabels of kind ``event``. Yes: A in image 1, B in image 2, A -rel-> B
for a rule relation, and neither image also shows the other's event. The swapped twin (B first) is an
order probe whose answer is No unless the graph also has B -rel-> A. No: two images whose events are
not linked either way by any rule relation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from itertools import zip_longest

from ..base import Builder, Fact, register
from .scene import SceneLabels
from .shared_target import edge_evidence


@register
class SubEvent(Builder):
    task = "SubEvent"
    family = "subevent"

    def mine(self) -> Iterator[Fact]:
        pool, graph = self.ctx.pool, self.ctx.graph
        labels = SceneLabels(self)
        events: dict[str, set[str]] = {}
        by_event: dict[str, list[str]] = defaultdict(list)
        for sha in pool.order:
            ev = labels.strong(sha)
            if not ev:
                self.missing("image without a caption event")
                continue
            events[sha] = ev
            for e in ev:
                by_event[e].append(sha)
        links: list[tuple[str, str, object]] = []
        for a_event in sorted(by_event):
            for rel in self.rule.relations:
                for edge in graph.out(a_event, rel):
                    if edge.end in by_event and edge.end != a_event:
                        links.append((a_event, edge.end, edge))
        if not links:
            self.missing(f"no two pool events linked by {'/'.join(self.rule.relations)}")
        self.rng.shuffle(links)
        no_items = self._unrelated(events)
        streams = []
        for a_event, b_event, edge in links:  # up to 400 random image pairs per link, drawn without building the product
            ia, ib = sorted(by_event[a_event]), sorted(by_event[b_event])
            n = min(400, len(ia) * len(ib))
            seen: set[tuple[str, str]] = set()
            for _ in range(4 * n):
                if len(seen) >= n:
                    break
                seen.add((ia[self.rng.randrange(len(ia))], ib[self.rng.randrange(len(ib))]))
            streams.append([(a, b, a_event, b_event, edge) for a, b in sorted(seen)])
            self.rng.shuffle(streams[-1])
        for batch in zip_longest(*streams):
            for item in batch:
                if item is None:
                    continue
                a, b, a_event, b_event, edge = item
                if a == b or b_event in events[a] or a_event in events[b]:
                    continue
                if not self.allowed_pair(a, b) or not self.in_caption_band(a, b)[0]:
                    continue
                yield self._yes(a, b, a_event, b_event, edge, labels)
                no = next(no_items, None)
                if no is not None:
                    yield no

    def _yes(self, a, b, a_event, b_event, edge, labels) -> Fact:
        graph = self.ctx.graph
        la, lb = labels(a), labels(b)
        ev = self.pair_evidence(a, b, event1=a_event, event2=b_event, relation=edge.relation)
        ev.edges = [edge_evidence(edge)]
        ev.entities1, ev.entities2 = la[a_event][1][:2], lb[b_event][1][:2]
        reverse = any(graph.has(b_event, r, a_event) for r in self.rule.relations)
        twin_ev = ev.model_copy(update={"notes": dict(ev.notes)})
        twin_ev.entities1, twin_ev.entities2 = ev.entities2, ev.entities1
        twin_ev.notes.update(event1=b_event, event2=a_event)
        twin = Fact(image1=b, image2=a, qa_type="True or false QA", form="tf", answer="Yes" if reverse else "No",
                    evidence=twin_ev, key=f"probe:{b_event}>{a_event}")
        return Fact(image1=a, image2=b, qa_type="True or false QA", form="tf", answer="Yes", evidence=ev,
                    key=f"{a_event}>{b_event}", twin=twin)

    def _unrelated(self, events: dict[str, set[str]]) -> Iterator[Fact]:
        graph = self.ctx.graph
        rels = self.rule.relations
        order = sorted(events)
        self.rng.shuffle(order)
        for offset in range(1, 25):
            for i in range(len(order) - offset):
                a, b = order[i], order[i + offset]
                ea, eb = events[a], events[b]
                if ea & eb or any(graph.linked(x, y, (*rels, "IsA", "Synonym")) for x in ea for y in eb):
                    continue
                if self.ctx.pool.same_group(a, b) or not self.in_caption_band(a, b)[0]:
                    continue
                xa, xb = sorted(ea)[0], sorted(eb)[0]
                ev = self.pair_evidence(a, b, events1=sorted(ea), events2=sorted(eb))
                ev.entities1 = [g for x in sorted(ea) for g in self.ctx.pool[a].groundings(x)][:2]
                ev.entities2 = [g for x in sorted(eb) for g in self.ctx.pool[b].groundings(x)][:2]
                yield Fact(image1=a, image2=b, qa_type="True or false QA", form="tf", answer="No", evidence=ev,
                           key=f"{xa}|{xb}")
