"""Entity-level subtasks where an entity of each image reaches the same target through the graph:
(MentalitySimilarity moved to :mod:`.mentality`: visible states from annotator attributes.)
(UsageSimilarity, SimilarMaterial and AppearanceSimilarity moved to :mod:`.attributes`: instance
evidence, not graph reachability.)

Choice QA: "what do they share?" with answer X; distractors first come from targets that only one
image's entities reach (so neither image alone singles out X), then IsA siblings and antonyms of X;
every distractor is checked so that no grounded entity pair of the two images shares it.
Yes/No (MentalitySimilarity): same state (shared target) vs disjoint states.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from mmrakit.models import EdgeEvidence, EntityGrounding

from ..base import Builder, Fact, register
from ..graph import uri
from ..rules import lexicon
from ._common import checked, interleave, lexically_close, pairs_round_robin


def edge_evidence(e) -> EdgeEvidence:
    return EdgeEvidence(uri=e.uri, relation=e.relation, start=e.start, end=e.end, weight=e.weight,
                        surface_text=e.surface_text, dataset=e.dataset)


class SharedTargetBuilder(Builder):
    family = "shared_target"

    def _subjects(self) -> tuple[set[str], set[str]]:
        lex = lexicon()
        return {uri(w) for w in lex["subjects"]}, {uri(w) for w in lex["subject_parents"]}

    def _has_subject(self, im) -> EntityGrounding | None:
        listed, parents = self._subjects()
        for e in im.entities:
            if e.source == "object" and (e.concept in listed or self.ctx.graph.is_kind(e.concept, parents)):
                return e
        return None

    def targets(self, sha: str) -> dict[str, list[tuple[EntityGrounding, object]]]:
        """target concept -> [(entity grounding, edge)] for one image."""
        im = self.ctx.pool[sha]
        out: dict[str, list] = defaultdict(list)
        seen_concepts = set()
        for ent in im.entities:
            if ent.source not in self.rule.entity_sources or ent.concept in seen_concepts:
                continue
            seen_concepts.add(ent.concept)
            for rel in self.rule.relations:
                for edge in self.ctx.graph.out(ent.concept, rel):
                    if edge.end != ent.concept and self.ctx.is_kind(edge.end, self.rule.target_kind):
                        out[edge.end].append((ent, edge))
        return out

    def mine(self) -> Iterator[Fact]:
        graph, pool = self.ctx.graph, self.ctx.pool
        per_image: dict[str, dict] = {}
        subjects: dict[str, EntityGrounding] = {}
        for sha in pool.order:
            if self.rule.require_subject:
                subj = self._has_subject(pool[sha])
                if subj is None:
                    self.missing("image without a person or animal")
                    continue
                subjects[sha] = subj
            t = self.targets(sha)
            if t:
                per_image[sha] = t
            else:
                self.missing(f"image whose entities have no {'/'.join(self.rule.relations)} edge to a {self.rule.target_kind}")
        by_target: dict[str, list[str]] = defaultdict(list)
        for sha, t in per_image.items():
            for x in t:
                by_target[x].append(sha)
        if not any(len(v) >= 2 for v in by_target.values()):
            self.missing(f"no two images share a {'/'.join(self.rule.relations)} target")
        wants_tf = "True or false QA" in self.qa_types
        yes_no = self._disjoint_pairs(per_image) if wants_tf else iter(())
        for x, a, b in pairs_round_robin(by_target, self.rng):
            if not self.allowed_pair(a, b):
                continue
            fact = self._shared_fact(x, a, b, per_image, subjects)
            if fact is None:
                continue
            if "Choice QA" in self.qa_types:
                yield fact
            if wants_tf:
                yield self._tf(fact, "Yes")
                no = next(yes_no, None)
                if no is not None:
                    yield no

    def _shared_fact(self, x: str, a: str, b: str, per_image: dict, subjects: dict) -> Fact | None:
        graph = self.ctx.graph
        ta, tb = per_image[a], per_image[b]
        pairs = [(ea, eda, eb, edb) for ea, eda in ta[x] for eb, edb in tb[x]
                 if not self.rule.distinct_entities or ea.concept != eb.concept]
        if not pairs:
            self.missing("shared target only through the same kind of entity")
            return None
        ea, eda, eb, edb = pairs[0]
        both = set(ta) & set(tb)
        only_a = sorted(set(ta) - both)
        only_b = sorted(set(tb) - both)
        self.rng.shuffle(only_a)
        self.rng.shuffle(only_b)
        related = [s for s in graph.siblings(x) if self.ctx.is_kind(s, self.rule.target_kind)]
        related += graph.opposites(x)

        def wrong(d: str) -> bool:
            return (d != x and d not in both and not lexically_close(d, x)
                    and not graph.linked(d, x, ("IsA", "Synonym", "FormOf"))
                    and self.ctx.is_kind(d, self.rule.target_kind))

        distractors = checked(interleave(only_a, only_b, related), wrong)
        text = graph.text
        ents1 = [ea] + ([subjects[a]] if a in subjects else [])
        ents2 = [eb] + ([subjects[b]] if b in subjects else [])
        ev = self.pair_evidence(a, b, target=x, relations=list(self.rule.relations))
        ev.edges = [edge_evidence(eda), edge_evidence(edb)]
        ev.entities1, ev.entities2 = ents1, ents2
        support = ({text(t) for t in ta}, {text(t) for t in tb})
        return Fact(image1=a, image2=b, qa_type="Choice QA", form="choice", answer=text(x),
                    distractors=[text(d) for d in distractors], evidence=ev, support=support, key=x)

    def _tf(self, fact: Fact, answer: str) -> Fact:
        return Fact(image1=fact.image1, image2=fact.image2, qa_type="True or false QA", form="tf", answer=answer,
                    evidence=fact.evidence.model_copy(update={"notes": dict(fact.evidence.notes)}), key=f"tf:{fact.key}")

    def _disjoint_pairs(self, per_image: dict) -> Iterator[Fact]:
        """No items: two images whose states are all different (and not linked by IsA/Synonym)."""
        graph = self.ctx.graph
        shas = sorted(per_image)
        self.rng.shuffle(shas)
        for offset in range(1, 25):
            for i in range(len(shas) - offset):
                a, b = shas[i], shas[i + offset]
                ta, tb = set(per_image[a]), set(per_image[b])
                if ta & tb or any(graph.linked(x, y, ("IsA", "Synonym")) for x in ta for y in tb):
                    continue
                if self.ctx.pool.same_group(a, b):
                    continue
                xa, xb = sorted(ta)[0], sorted(tb)[0]
                (ea, eda), (eb, edb) = per_image[a][xa][0], per_image[b][xb][0]
                ev = self.pair_evidence(a, b, states1=sorted(ta), states2=sorted(tb))
                ev.edges = [edge_evidence(eda), edge_evidence(edb)]
                ev.entities1, ev.entities2 = [ea], [eb]
                yield Fact(image1=a, image2=b, qa_type="True or false QA", form="tf", answer="No", evidence=ev,
                           key=f"tf:{xa}|{xb}")
