"""Shared mining for the image-level subtasks that read annotator attributes (scene, shot, layout,
activity, visible state): positives from a shared confident value, hard negatives from the pair miner.

A "Yes" needs a confident value (the settings rule of :mod:`..perception`) in both images; a "No"
needs confident, *different* values that the vocabulary says cannot hold together, and no weak
statement of the positive's value in the partner. Images without a confident value are counted as
missing evidence, by attribute, so the build report says what was missing.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator

from mmrakit.models import Attribute

from ..base import Builder, Fact
from ..pairs import PairMiner
from ..perception import perception_for
from ._common import either_order, pairs_round_robin


def describe(attrs: dict[str, Attribute]) -> list[dict]:
    return [{"value": a.value, "source": a.source, "confidence": a.confidence, "detail": a.detail} for a in attrs.values()]


class PerceivedBuilder(Builder):
    attribute: str = ""
    reuse_aware: bool = False  # yes_no skips pairs whose images the build's reuse cap has spent

    @property
    def seen(self):
        return perception_for(self.ctx)

    def values(self, sha: str) -> dict[str, Attribute]:
        return self.seen.confident(sha, self.attribute)

    def groups(self, usable: Callable[[str, str], bool] = lambda sha, v: True) -> dict[str, list[str]]:
        by_value: dict[str, list[str]] = defaultdict(list)
        for sha in self.ctx.pool.order:
            vals = [v for v in self.values(sha) if usable(sha, v)]
            if not vals:
                self.missing(f"image without a confident '{self.attribute}' attribute (captions/boxes/annotator)")
                continue
            for v in vals:
                by_value[v].append(sha)
        return by_value

    def evidence(self, a: str, b: str, **notes):
        ev = self.pair_evidence(a, b, attribute=self.attribute, **notes)
        ev.notes["attributes1"] = describe(self.seen.stated(a, self.attribute))
        ev.notes["attributes2"] = describe(self.seen.stated(b, self.attribute))
        return ev

    def yes_no(self, by_value: dict[str, list[str]], *, differs: Callable[[str, str, str], bool],
               close: Callable[[str, str], bool] | None = None, slots: Callable[[str, str, str], dict] | None = None,
               entities: Callable[[str, str], list] | None = None, key: str = "",
               pair_ok: Callable[[str, str, str], bool] | None = None, abundant_first: bool = False,
               pairs: Iterable[tuple[str, str, str]] | None = None) -> Iterator[Fact]:
        """Yes facts on shared values, each followed by its hard negative (same anchor image, same pair_id).

        ``abundant_first``: the values shared by the most images are paired first, so the images of a scarce
        value are left to serve as the "No" partners the abundant ones need (instead of spending their reuse
        budget on each other's "Yes" first).
        ``pairs``: the (value, a, b) positives to try, in order (default: round robin over the values)."""
        miner = PairMiner(self.ctx, f"{self.task}:{self.attribute}", max_gap=float(self.rule.param("pair_max_gap", 0.08)),
                          max_partner_uses=int(self.rule.param("pair_partner_uses", 2)),
                          rank_weight=float(self.rule.param("pair_rank_weight", 0.05)),
                          max_drift=self.rule.param("pair_max_drift", None))
        # the build keeps an image in at most `max_image_reuse` items of a subtask: a pair whose images
        # are spent would be dropped later (and its twin with it), so spend them on pairs that can be kept
        # (opt-in per subtask: `reuse_aware`)
        # (and at most `max_image_reuse_total` over the build, of which earlier subtasks used `reuse_total`)
        cap = (int(getattr(self.ctx, "max_image_reuse", 0) or 0) if self.reuse_aware else 0) or 10**9
        cap_total = (int(getattr(self.ctx, "max_image_reuse_total", 0) or 0) if self.reuse_aware else 0) or 10**9
        before: Counter = getattr(self.ctx, "reuse_total", None) or Counter()
        uses: Counter = Counter()

        def room(i: str, k: int) -> bool:  # can image i appear in k more items?
            return uses[i] + k <= cap and before[i] + uses[i] + k <= cap_total

        if pairs is not None:
            order = either_order(pairs, self.rng)
        elif abundant_first:
            sizes = sorted({len(set(v)) for v in by_value.values()}, reverse=True)
            stages = [{k: v for k, v in by_value.items() if len(set(v)) == n} for n in sizes]
            order = (p for stage in stages for p in pairs_round_robin(stage, self.rng))
        else:
            order = pairs_round_robin(by_value, self.rng)
        for x, a, b in order:  # each pair in either order (either_order)
            if not room(a, 2) and room(b, 2):
                a, b = b, a  # the anchor appears twice (Yes and No)
            if not room(a, 2) or not room(b, 1):
                continue
            if not self.allowed_pair(a, b):
                continue
            if pair_ok is not None and not pair_ok(a, b, x):
                self.missing(f"'{x}' pair not alike enough for a 'Yes'")
                continue

            def fresh(p: str, q: str) -> bool:
                return room(q, 1) and differs(x, p, q)

            found = miner.hard_negative(a, b, differs=fresh, close=close)
            if found is None and room(b, 2):  # anchor the negative on the other image of the positive
                found = miner.hard_negative(b, a, differs=fresh, close=close)
                if found is not None:
                    a, b = b, a
            if found is None:
                self.missing(f"no hard negative for a '{x}' pair (caption neighbours all share it or lack evidence)")
                continue
            c, _, pid = found
            yes_ev = self.evidence(a, b, value=x, pair_id=pid, pair_role="positive", partner=c)
            no_ev = self.evidence(a, c, value=x, partner_value=sorted(self.values(c)), pair_id=pid,
                                  pair_role="hard_negative", partner=b, likeness=list(miner.last_likeness))
            if entities:
                yes_ev.entities1, yes_ev.entities2 = entities(a, x), entities(b, x)
                no_ev.entities1 = entities(a, x)
            sl_yes = slots(a, b, x) if slots else {}
            sl_no = slots(a, c, x) if slots else {}
            if sl_yes is None or sl_no is None:
                continue
            uses.update([a, a, b, c])
            yield Fact(image1=a, image2=b, qa_type="True or false QA", form=sl_yes.pop("_form", "tf"), answer="Yes",
                       slots=sl_yes, evidence=yes_ev, key=f"{key or self.attribute}:{x}")
            yield Fact(image1=a, image2=c, qa_type="True or false QA", form=sl_no.pop("_form", "tf"), answer="No",
                       slots=sl_no, evidence=no_ev, key=f"{key or self.attribute}:{x}|no")
