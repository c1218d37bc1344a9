"""SubEvent: image 2 shows a sub-event (step, first/last step, prerequisite) of image 1's activity.

Activities are annotator attributes (a caption event stated by at least two captions, with its
object). Yes: image 1's activity A and image 2's activity B with A -rel-> B in the graph for a rule
relation (tried as ``verb object``, then ``verb`` unless the verb's sense depends on its object), image 1
does not itself show the step B (image 2 may also show A: a batter swinging is playing baseball too),
and both are set in one family of places, share an object kind, or are of one activity domain (data:
[activity_domains]; preparing food and eating happen in different rooms). No: the pair miner's hard negative for the same image 1 - a caption neighbour whose
activities are confident, of another activity domain (data: [activity_domains]) and linked to A by
no rule relation either way.
Order probe: only when the graph also states B -rel-> A (the reversed order then has its own
verified "Yes"); an absent edge is not a verified "No", so no probe is made from it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from ..base import Fact, register
from ..graph import uri
from ..pairs import PairMiner
from ..rules import perceived
from ._perceived import PerceivedBuilder
from .shared_target import edge_evidence


def domain(value: str) -> str | None:
    verb, _, obj = value.partition("|")
    domains = perceived()["activity_domains"]
    if obj:  # "serve ball" is a ball game, "serve" alone food
        for name, verbs in domains.items():
            if f"{verb} {obj}" in verbs:
                return name
    for name, verbs in domains.items():
        if verb in verbs or verb.split(" ")[0] in verbs:
            return name
    return None


def domain_words(value: str) -> set[str]:
    """The verb of an activity and every verb and noun of its domain (single words)."""
    verb = value.partition("|")[0]
    d = domain(value)
    words = set(perceived()["activity_domains"].get(d, [])) | set(perceived()["activity_domain_nouns"].get(d, [])) if d else set()
    return {w for w in words | {verb, verb.split(" ")[0]} if " " not in w}


def caption_lemmas(captions) -> set[str]:
    """Every word lemma of the captions, whatever its part of speech ("to eat the food" -> eat)."""
    from mmrakit.relations.text import tag

    return {t.lemma for cap in captions for t in tag(cap) if t.lemma}


def other_domain(a: str, b: str) -> bool:
    """Both activities have a known domain and the domains differ (a verified 'not a step of')."""
    da, db = domain(a), domain(b)
    return da is not None and db is not None and da != db


def concepts(value: str) -> list[str]:
    """Graph concepts an activity is looked up as: ``verb object``, then the bare verb unless the verb's
    sense depends on its object (cutting a card is no "cut" step of preparing food)."""
    verb, _, obj = value.partition("|")
    out = [uri(f"{verb} {obj}")] if obj else []
    if obj and verb.split(" ")[0] in perceived()["activities"]["object_sensitive_verbs"]:
        return out
    return out + [uri(verb)]


@register
class SubEvent(PerceivedBuilder):
    task = "SubEvent"
    family = "subevent"
    attribute = "activity"

    def link(self, a_val: str, b_val: str):
        graph = self.ctx.graph
        for ca in concepts(a_val):
            for cb in concepts(b_val):
                if ca == cb:
                    continue
                for rel in self.rule.relations:
                    e = graph.edge(ca, rel, cb)
                    if e is not None:
                        return e
        return None

    def same_setting(self, a: str, b: str) -> bool:
        """Both images in one family of places (kitchen / dining room ...), or sharing a salient object kind
        besides people."""
        from mmrakit.images.perception import vocab

        fam = vocab()["scenes"]
        fa = {fam[v]["family"] for v in self.seen.confident(a, "scene")}
        fb = {fam[v]["family"] for v in self.seen.confident(b, "scene")}
        if fa & fb:
            return True
        objs = [{e.text for e in self.ctx.pool[s].objects() if e.box.area >= 0.01 and e.text != "person"} for s in (a, b)]
        return bool(objs[0] & objs[1])

    def games_shown(self, sha: str) -> set[str]:
        """Listed games (perceived.toml [activities] games) an image shows: named by any caption, or the game of an
        activity any caption states."""
        import re

        from .scene import game

        text = " ".join(self.ctx.pool[sha].captions).lower()
        named = {g for g in perceived()["activities"]["games"] if re.search(rf"\b{re.escape(g)}\b", text)}
        return named | {g for v in self.seen.stated(sha, "activity") for g in [game(v)] if g}

    def other_game(self, x: str, b: str) -> bool:
        """Image ``b`` shows a game other than activity ``x``'s (a tennis player hitting a ball is no step
        of playing baseball, though both games have "hit ball" as a step)."""
        from .scene import game

        g = game(x)
        return g is not None and bool(self.games_shown(b) - {g})

    def another_game_only(self, x: str, c: str, weak: set[str], verbs_a: set[str]) -> bool:
        """A verified "not a step of ``x``" in the same kind of place: ``x`` is playing a listed game, image
        ``c`` shows another listed game and never names ``x``'s (nor a word of it, [activity_from_words]),
        and none of ``c``'s activities (however weakly stated) is linked to ``x`` either way or shares a
        verb with image 1's activities other than the game verb (a tennis serve is no part of a baseball
        game; a tennis player "hitting a ball" is never used: hitting a ball is a step of baseball too)."""
        import re

        from mmrakit.images.perception import vocab

        from .scene import game

        g = game(x)
        if g is None:
            return False
        shown = self.games_shown(c)
        if not shown or g in shown:
            return False
        text = " ".join(self.ctx.pool[c].captions).lower()
        words = set(vocab()["activity_from_words"].get(x, {}).get("words", [])) | {g}
        if any(re.search(rf"\b{re.escape(w)}", text) for w in words):
            return False
        game_verbs = set(perceived()["activities"]["game_verbs"])
        return not any(self.link(x, v) or self.link(v, x) for v in weak) and not (
            {v.partition("|")[0] for v in weak} - game_verbs) & verbs_a

    def mine(self) -> Iterator[Fact]:
        acts: dict[str, set[str]] = {}
        by_value: dict[str, list[str]] = defaultdict(list)
        from .scene import has_agent

        for sha in self.ctx.pool.order:
            # the graph's steps and prerequisites are people's (cooking before eating): a bird eating an
            # apple has no "preparing food" step, so both images need a person doing the activity
            if has_agent(self.seen, sha) and self.values(sha):
                acts[sha] = set(self.values(sha))  # a "No" partner may be an animal's activity
            vals = set(self.values(sha)) if self.seen.confident(sha, "people") else set()
            if not vals:
                self.missing("image without a confident activity (two captions stating one event) and a person doing it")
                continue
            for v in vals:
                by_value[v].append(sha)
        links = [(x, y, e) for x in sorted(by_value) for y in sorted(by_value) if x != y
                 for e in [self.link(x, y)] if e is not None]
        if not links:
            self.missing(f"no two confident activities linked by {'/'.join(self.rule.relations)}")
        self.rng.shuffle(links)
        miner = PairMiner(self.ctx, "SubEvent", max_gap=float(self.rule.param("pair_max_gap", 0.08)),
                          max_drift=self.rule.param("pair_max_drift", None))
        from mmrakit.images.perception import vocab

        from ..pairs import closeness_rank, likeness

        doers = set(vocab()["subjects"]["people"]) | set(vocab()["subjects"]["animals"])

        def fair(p: str, c: str) -> bool:
            # a fair "No" shares something of the scene with image 1 besides its doers (the same broad
            # setting, indoor/outdoor side or an object kind: pairs.closeness_rank <= 2), never a
            # restaurant dinner against surfers on a wave
            like = [k for k in likeness(self.ctx, p, c) if k.partition(":")[2] not in doers]
            return closeness_rank(like) <= 2

        for x, y, edge in links:
            for a in sorted(by_value[x]):
                for b in sorted(by_value[y]):
                    if a == b or y in acts[a] or not self.allowed_pair(a, b):
                        continue
                    if self.other_game(x, b):
                        self.missing("the step's image shows another game than the activity's")
                        continue
                    if not (self.same_setting(a, b) or (domain(x) is not None and domain(x) == domain(y))):
                        self.missing("linked activities in two different kinds of place (a step happens where its activity does)")
                        continue

                    def differs(p: str, c: str) -> bool:
                        vc = acts.get(c)
                        if not vc:
                            return False
                        # every activity any caption of c states, however weakly, is checked: a partner
                        # with one caption "eating" is no verified "not a step of eating"
                        weak = set(self.seen.stated(c, "activity")) | set(vc)
                        verbs_a = {v.partition("|")[0] for v in acts[p]} | {x.partition("|")[0], y.partition("|")[0]}
                        if self.another_game_only(x, c, weak, verbs_a):
                            return True
                        return not (verbs_a & {v.partition("|")[0] for v in weak}) and not any(
                            self.link(x, v) or self.link(v, x) for v in weak) and all(
                            other_domain(x, v) for v in vc if domain(v) is not None) and any(
                            other_domain(x, v) for v in vc) and not any(
                            domain(v) is not None and domain(v) == domain(x) for v in weak) and not (
                            domain_words(x) & caption_lemmas(self.ctx.pool[c].captions))

                    found = miner.hard_negative(a, b, differs=differs, close=fair)
                    if found is None:
                        self.missing("no hard negative (caption neighbour with an unlinked activity)")
                        continue
                    c, _, pid = found
                    ev = self.evidence(a, b, event1=x, event2=y, relation=edge.relation, pair_id=pid,
                                       pair_role="positive", partner=c)
                    ev.edges = [edge_evidence(edge)]
                    reverse = self.link(y, x)
                    twin = None
                    if reverse is not None:
                        tev = self.evidence(b, a, event1=y, event2=x, relation=reverse.relation, pair_id=pid,
                                            pair_role="order_probe")
                        tev.edges = [edge_evidence(reverse)]
                        twin = Fact(image1=b, image2=a, qa_type="True or false QA", form="tf", answer="Yes",
                                    evidence=tev, key=f"probe:{y}>{x}")
                    yield Fact(image1=a, image2=b, qa_type="True or false QA", form="tf", answer="Yes", evidence=ev,
                               key=f"{x}>{y}", twin=twin)
                    nev = self.evidence(a, c, event1=x, events2=sorted(acts[c]), pair_id=pid, pair_role="hard_negative",
                                        partner=b)
                    yield Fact(image1=a, image2=c, qa_type="True or false QA", form="tf", answer="No", evidence=nev,
                               key=f"{x}|{sorted(acts[c])[0]}")
