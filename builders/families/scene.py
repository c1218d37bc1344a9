"""Image-level subtasks where each image gets scene labels: Environment (kind of place) and
SimilarEvent (event/activity).

Labels come from caption phrases that are of the right kind (strong), or - for places - from
``min_object_votes`` or more objects of the image being AtLocation the same place (strong; fewer
votes = weak). A shared strong label is the answer; distractors are labels of only one image, then
IsA siblings, then other listed labels of the kind, each checked not to be a label of both images.
Pairs must lie inside the caption-similarity band (MMRA selected pairs by SentenceBERT similarity).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from mmrakit.models import EntityGrounding

from ..base import Builder, Fact, register
from ..graph import uri
from ..rules import lexicon
from ._common import checked, interleave, lexically_close, pairs_round_robin
from .shared_target import edge_evidence


class SceneLabels:
    """label concept -> (strong?, groundings, edges) for one image."""

    def __init__(self, builder: Builder) -> None:
        self.b = builder
        self._cache: dict[str, dict] = {}
        self._strong: dict[str, set[str]] = {}

    def __call__(self, sha: str) -> dict[str, tuple[bool, list[EntityGrounding], list]]:
        if sha in self._cache:
            return self._cache[sha]
        b, ctx = self.b, self.b.ctx
        im = ctx.pool[sha]
        kind = b.rule.target_kind
        out: dict[str, tuple[bool, list, list]] = {}
        for e in im.entities:
            if e.source == "caption" and e.concept not in out and ctx.is_kind(e.concept, kind):
                out[e.concept] = (True, [e], [])
        votes: dict[str, list] = defaultdict(list)
        seen = set()
        for e in im.entities:
            if e.source != "object" or e.concept in seen:
                continue
            seen.add(e.concept)
            for rel in b.rule.relations:
                if rel == "IsA":
                    continue
                for edge in ctx.graph.out(e.concept, rel):
                    if ctx.is_kind(edge.end, kind):
                        votes[edge.end].append((e, edge))
        need = int(b.rule.param("min_object_votes", 2))
        for label, vs in votes.items():
            if label in out:
                out[label][2].extend(edge for _, edge in vs)
                continue
            out[label] = (len(vs) >= need, [g for g, _ in vs], [edge for _, edge in vs])
        self._cache[sha] = out
        return out

    def strong(self, sha: str) -> set[str]:
        if sha not in self._strong:
            self._strong[sha] = {k for k, v in self(sha).items() if v[0]}
        return self._strong[sha]


class SceneBuilder(Builder):
    family = "scene"

    def mine(self) -> Iterator[Fact]:
        pool, graph = self.ctx.pool, self.ctx.graph
        labels = SceneLabels(self)
        by_label: dict[str, list[str]] = defaultdict(list)
        with_labels = []
        for sha in pool.order:
            strong = labels.strong(sha)
            if not strong:
                self.missing(f"image without any {self.rule.target_kind} from captions or objects")
                continue
            with_labels.append(sha)
            for lab in strong:
                by_label[lab].append(sha)
        wants_tf = "True or false QA" in self.qa_types
        no_items = self._different(with_labels, labels) if wants_tf else iter(())
        listed = [uri(w) for w in lexicon()["kinds"][self.rule.target_kind].get("listed", [])]
        for x, a, b in pairs_round_robin(by_label, self.rng):
            if self.rng.random() < 0.5:
                a, b = b, a
            if not self.allowed_pair(a, b):
                continue
            ok, _ = self.in_caption_band(a, b)
            if not ok:
                continue
            la, lb = labels(a), labels(b)
            both = set(la) & set(lb)
            only_a, only_b = sorted(set(la) - both), sorted(set(lb) - both)
            sibs = [s for s in graph.siblings(x) if self.ctx.is_kind(s, self.rule.target_kind)]
            others = [c for c in listed if c != x]
            self.rng.shuffle(others)

            def wrong(d: str) -> bool:
                return (d != x and d not in both and not lexically_close(d, x)
                        and not graph.linked(d, x, ("IsA", "Synonym", "PartOf")))

            distractors = checked(interleave(only_a, only_b, sibs, others), wrong)
            ev = self.pair_evidence(a, b, label=x, strength=[la[x][0], lb[x][0]])
            ev.entities1, ev.entities2 = la[x][1][:3], lb[x][1][:3]
            ev.edges = [edge_evidence(e) for e in (la[x][2][:2] + lb[x][2][:2])]
            text = graph.text
            if "Choice QA" in self.qa_types:
                yield Fact(image1=a, image2=b, qa_type="Choice QA", form="choice", answer=text(x),
                           distractors=[text(d) for d in distractors], evidence=ev,
                           support=({text(c) for c in la}, {text(c) for c in lb}), key=x)
            if wants_tf:
                yield Fact(image1=a, image2=b, qa_type="True or false QA", form="tf", answer="Yes",
                           evidence=ev.model_copy(update={"notes": dict(ev.notes)}), key=f"tf:{x}")
                no = next(no_items, None)
                if no is not None:
                    yield no

    def _different(self, shas: list[str], labels: SceneLabels) -> Iterator[Fact]:
        graph = self.ctx.graph
        order = list(shas)
        self.rng.shuffle(order)
        for offset in range(1, 25):
            for i in range(len(order) - offset):
                a, b = order[i], order[i + offset]
                la, lb = labels(a), labels(b)
                sa, sb = labels.strong(a), labels.strong(b)
                if set(la) & set(lb) or any(graph.linked(x, y, ("IsA", "Synonym", "PartOf")) for x in sa for y in sb):
                    continue
                if self.ctx.pool.same_group(a, b) or not self.in_caption_band(a, b)[0]:
                    continue
                xa, xb = sorted(sa)[0], sorted(sb)[0]
                ev = self.pair_evidence(a, b, labels1=sorted(sa), labels2=sorted(sb))
                ev.entities1, ev.entities2 = la[xa][1][:3], lb[xb][1][:3]
                yield Fact(image1=a, image2=b, qa_type="True or false QA", form="tf", answer="No", evidence=ev,
                           key=f"tf:{xa}|{xb}")


@register
class Environment(SceneBuilder):
    task = "Environment"


@register
class SimilarEvent(SceneBuilder):
    task = "SimilarEvent"
