"""Entity-level subtasks answered from instance evidence: UsageSimilarity (purposes), SimilarMaterial
(materials) and AppearanceSimilarity (colours).

UsageSimilarity and SimilarMaterial (Choice QA) ask what SOMETHING in each image shares, without
naming the entities (naming them would let common sense answer from the text). The answer comes from
a salient, caption-named object of each image: its kind's typical use, or its material as a caption
states it for this instance ("a wooden bench") or as the kind's single strong default when nothing
contradicts it (a book is paper). A distractor must be impossible in at least one of the two images
given ALL their evidence (:mod:`..instances`), so it cannot be shared; options are phrased as answers.

AppearanceSimilarity (Yes/No) names one entity per image whose colour the captions state (one colour,
for this instance) and whose pixels show it (:mod:`mmrakit.images.colour`; a "Yes" also needs close shades),
and asks whether they are the same colour: both images are needed, and no shape or size words (always true
of something) are used.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from mmrakit.images.colour import ColourReading, accepts, chromatic, read_box, shade_difference
from mmrakit.images.validate import open_rgb

from ..base import Builder, Fact, register
from ..instances import Entity, ImageEvidence, vocab
from ._common import interleave, pairs_round_robin, scarce_first


class _EvidenceBuilder(Builder):
    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._ev: dict[str, ImageEvidence] = {}

    def ev(self, sha: str) -> ImageEvidence:
        if sha not in self._ev:
            self._ev[sha] = ImageEvidence(self.ctx.pool[sha], self.ctx.graph)
        return self._ev[sha]

    def pair_ok(self, a: str, b: str) -> bool:
        if not self.allowed_pair(a, b):
            return False
        ok, _ = self.in_caption_band(a, b)
        return ok


class InventoryBuilder(_EvidenceBuilder):
    """Shared value of an unnamed entity per image; distractors impossible in one image."""

    dim = ""  # "use" | "material"

    def answers(self, ev: ImageEvidence) -> dict[str, list[tuple[Entity, str, str | None]]]:
        """value -> [(entity, evidence kind, caption)] for values salient entities of the image have,
        instance evidence first."""
        raise NotImplementedError

    def possible(self, ev: ImageEvidence) -> set[str]:
        """Values the image may hold (uses: also through things the dataset often leaves unboxed)."""
        raise NotImplementedError

    def values(self) -> list[str]:
        raise NotImplementedError

    def mine(self) -> Iterator[Fact]:
        # usable = neither image alone singles the answer out (a tempting distractor on each side)
        usable = lambda f: bool(f.distractor_groups[0] and f.distractor_groups[1])  # noqa: E731
        yield from scarce_first(list(self._mine()), usable)

    def _mine(self) -> Iterator[Fact]:
        v = vocab()
        per_image: dict[str, dict] = {}
        by_value: dict[str, list[str]] = defaultdict(list)
        for sha in self.ctx.pool.order:
            if self.ev(sha).depiction():
                self.missing(f"a picture its captions call a cartoon, CGI or screenshot: its things have no real {self.dim}")
                continue
            ans = self.answers(self.ev(sha))
            if not ans:
                self.missing(f"image without a salient, caption-named object whose {self.dim} is known")
                continue
            per_image[sha] = ans
            for x in ans:
                by_value[x].append(sha)
        for x, a, b in pairs_round_robin(by_value, self.rng):
            if not self.pair_ok(a, b):
                continue
            pairs = [(p, q) for p in per_image[a][x] for q in per_image[b][x]]
            pairs.sort(key=lambda pq: pq[0][0].kind == pq[1][0].kind)  # different kinds first
            if self.rule.distinct_entities:
                pairs = [pq for pq in pairs if pq[0][0].kind != pq[1][0].kind]
            if not pairs:
                self.missing("shared value only through the same kind of object")
                continue
            (ea, kind_a, cap_a), (eb, kind_b, cap_b) = pairs[0]
            # what each image may hold (uses count things the dataset often leaves unboxed: a knife by a plate):
            # a distractor is impossible in at least one image, and no image alone singles the answer out
            pa, pb = self.possible(self.ev(a)), self.possible(self.ev(b))
            pa.add(x)
            pb.add(x)
            # tempting distractors first, alternating: possible in image 1 only, in image 2 only (so
            # neither image alone singles the answer out), then possible in neither
            never = set(self.rule.param("never_distractors", []))
            values = [d for d in self.values() if d != x and d not in never]
            only_a = [d for d in values if d in pa and d not in pb]
            only_b = [d for d in values if d in pb and d not in pa]
            neither = [d for d in values if d not in pa and d not in pb]
            for part in (only_a, only_b, neither):
                self.rng.shuffle(part)
            only_a, only_b, neither = self.plausible_first(x, ea, eb, a, b, only_a, only_b, neither)
            distractors = interleave(only_a, only_b) + neither
            if len(distractors) < 2:
                self.missing(f"too few {self.dim} options impossible in one of the two images")
                continue
            opt = lambda d: v.option(self.dim, d)  # noqa: E731
            ev = self.pair_evidence(a, b, target=x, dimension=self.dim,
                                    evidence1={"entity": ea.kind, "kind": kind_a, "caption": cap_a},
                                    evidence2={"entity": eb.kind, "kind": kind_b, "caption": cap_b},
                                    possible1=sorted(pa), possible2=sorted(pb))
            ev.entities1, ev.entities2 = self._shown(ea), self._shown(eb)
            yield Fact(image1=a, image2=b, qa_type="Choice QA", form="choice", answer=opt(x),
                       distractors=[opt(d) for d in distractors], evidence=ev,
                       distractor_groups=[[opt(d) for d in g] for g in (only_a, only_b, neither)],
                       support=({opt(d) for d in pa}, {opt(d) for d in pb}), key=x)

    def plausible_first(self, x: str, ea: Entity, eb: Entity, a: str, b: str, only_a: list[str], only_b: list[str],
                        neither: list[str]) -> tuple[list[str], list[str], list[str]]:
        """Distractor lists reordered so the plausible ones come first (a subtask may also drop some)."""
        return only_a, only_b, neither

    @staticmethod
    def _shown(e: Entity) -> list:
        return [e.grounding]


@register
class UsageSimilarity(InventoryBuilder):
    task = "UsageSimilarity"
    family = "attributes"
    dim = "use"

    def values(self) -> list[str]:
        return sorted(u for u in vocab().uses if u not in self.rule.param("never_options", []))

    def answers(self, ev: ImageEvidence) -> dict:
        skip = set(self.rule.param("never_options", []))
        out: dict[str, list] = defaultdict(list)
        for ent in ev.present():  # the question names no entity: several chairs serve as well as one
            if ent.boxed:
                for u in vocab().kinds[ent.kind].uses:
                    if u in skip:
                        continue
                    if not ev.use_holds(ent.kind, u):
                        self.missing(f"a toy {ent.kind}: none of its kind's uses" if ev.named_as_toy(ent.kind) else
                                     f"a {ent.kind} whose captions name nothing it holds for '{vocab().option('use', u)}'")
                        continue
                    out[u].append((ent, "kind", None))
        return dict(out)

    def possible(self, ev: ImageEvidence) -> set[str]:
        return ev.possible_uses()

    def plausible_first(self, x, ea, eb, a, b, only_a, only_b, neither):
        """Plausible uses only, in this order: what something in that image is for, what it could serve,
        then uses of the answer's settings (``groups``: street, kitchen, ...) or of that image's settings
        (the groups of what its objects are for); a use that is none of these ("for working on a computer"
        beside a car and a train) is an odd option and is dropped."""
        v = vocab()
        home = set(v.uses[x].get("groups", ()))

        def served(sha: str, also: bool) -> set[str]:
            return {u for k in self.ev(sha).all_kinds() if k in v.kinds and not v.kinds[k].scene  # objects, not scene words
                    for u in (*v.kinds[k].uses, *(v.kinds[k].also if also else ()))}

        def near(d: str) -> bool:
            return bool(home & set(v.uses[d].get("groups", ())))

        def settings(sha: str) -> set[str]:  # the image's settings: the groups of what its objects are for
            return {g for u in served(sha, False) for g in v.uses[u].get("groups", ())}

        def fits(d: str, sha: str) -> bool:
            return bool(settings(sha) & set(v.uses[d].get("groups", ())))

        def order(ds: list[str], sha: str) -> list[str]:
            typical, could = served(sha, False), served(sha, True)
            ds = [d for d in ds if d in could or near(d) or fits(d, sha)]
            return sorted(ds, key=lambda d: (d not in typical, d not in could, not near(d)))  # stable: shuffled within

        # a use neither image serves must suit the answer AND both scenes: "for paying for parking" shares the
        # street with "for telling the time", but beside a kitchen clock it is an odd option
        return order(only_a, a), order(only_b, b), [d for d in neither if near(d) and fits(d, a) and fits(d, b)]


@register
class SimilarMaterial(InventoryBuilder):
    task = "SimilarMaterial"
    family = "attributes"
    dim = "material"

    def values(self) -> list[str]:
        return list(vocab().dimensions["material"]["values"])

    def answers(self, ev: ImageEvidence) -> dict:
        out: dict[str, list] = defaultdict(list)
        allow_defaults = bool(self.rule.param("category_defaults", True))
        for ent in ev.entities():
            attr = ev.material(ent)
            # a default needs a salient instance: a dominant box, or (kinds never boxed: windows,
            # curtains) a thing enough captions name (ImageEvidence.entities)
            unboxed_ok = vocab().kinds[ent.kind].caption_only
            if attr is None or (attr.kind == "default" and (not allow_defaults or not (ent.boxed or unboxed_ok))):
                continue
            out[attr.value].append((ent, attr.kind, attr.caption))
        for ent in ev.several():  # no "the {kind}": only a default true of every instance, nothing stated
            attr = ev.material(ent)
            if allow_defaults and attr is not None and attr.kind == "default":
                out[attr.value].append((ent, attr.kind, attr.caption))
        for ent in ev.scene_things():  # "a brick building" in enough captions: stated for it, never a default
            attr = ev.material(ent)
            if attr is not None and attr.kind == "instance":
                ev.ground(ent)
                out[attr.value].append((ent, attr.kind, attr.caption))
        for v in out.values():
            v.sort(key=lambda t: t[1] != "instance")  # instance evidence first
        return dict(out)

    def possible(self, ev: ImageEvidence) -> set[str]:
        return ev.possible_materials()


@register
class AppearanceSimilarity(_EvidenceBuilder):
    task = "AppearanceSimilarity"
    family = "attributes"

    def __init__(self, ctx) -> None:
        super().__init__(ctx)
        self._readings: dict = {}

    def mine(self) -> Iterator[Fact]:
        coloured: dict[str, list[tuple[Entity, str, str]]] = {}
        by_colour: dict[str, list[str]] = defaultdict(list)
        for sha in self.ctx.pool.order:
            ev = self.ev(sha)
            items = []
            for ent in ev.entities():
                if ent.boxed and not (ev.recognisable(ent.grounding) and ev.confirmed(ent.grounding, the=True)):
                    continue  # "the {kind}": the captions call this box by that name (a toy sheep is no teddy bear)
                attr = ev.colour(ent, int(self.rule.param("min_colour_captions", 1)))
                if attr is not None and self._shows(sha, ent, attr.value):
                    items.append((ent, attr.value, attr.caption))
            if not items:
                self.missing("image without a salient entity whose one colour a caption states")
                continue
            coloured[sha] = items
            for _, c, _ in items:
                by_colour[c].append(sha)
        yes_facts = []
        for c, a, b in pairs_round_robin(by_colour, self.rng):
            if not self.pair_ok(a, b):
                continue
            ea = next(i for i in coloured[a] if i[1] == c)
            eb = next(i for i in coloured[b] if i[1] == c)
            yes = self._fact(a, b, ea, eb, "Yes")
            if yes is not None:
                yes_facts.append(yes)
        # "Yes" pairs are few (same stated colour, caption band): images with few partners go first,
        # so the reuse caps leave as many of them usable as possible; each "Yes" is followed by the
        # "No" pair whose images have been used least so far (coloured images are scarce: a "No" on
        # an image the "Yes" items still need would leave a "Yes" without its balancing "No")
        no_pairs = self._different(coloured)
        cap = self.ctx.max_image_reuse
        used: dict[str, int] = defaultdict(int)

        def take(f: Fact) -> Fact:
            used[f.image1] += 1
            used[f.image2] += 1
            return f

        def next_no() -> Fact | None:
            open_ = [i for i, (a, b, _, _) in enumerate(no_pairs) if used[a] < cap and used[b] < cap]
            if not open_:
                return None
            i = min(open_, key=lambda j: (used[no_pairs[j][0]] + used[no_pairs[j][1]], j))
            a, b, ea, eb = no_pairs.pop(i)
            return self._fact(a, b, ea, eb, "No")

        for yes in scarce_first(yes_facts, turn=lambda f: f.evidence.notes["colour1"]):
            if used[yes.image1] >= cap or used[yes.image2] >= cap:
                continue  # the reuse cap would skip it
            yield take(yes)
            no = next_no()
            while no is None and no_pairs and any(used[a] < cap and used[b] < cap for a, b, _, _ in no_pairs):
                no = next_no()  # a CLIP veto: try the next one
            if no is not None:
                yield take(no)
        while (no := next_no()) is not None or any(used[a] < cap and used[b] < cap for a, b, _, _ in no_pairs):
            if no is not None:
                yield take(no)

    def _different(self, coloured: dict) -> list[tuple[str, str, tuple, tuple]]:
        """Candidate "No" pairs (a, b, entity a, entity b): stated colours differ, caption band holds;
        each image is paired with its next ``40`` neighbours in a seeded order (bounded work)."""
        shas = sorted(coloured)
        self.rng.shuffle(shas)
        out = []
        for offset in range(1, 40):
            for i in range(len(shas) - offset):
                a, b = shas[i], shas[i + offset]
                for ea in coloured[a]:
                    eb = next((x for x in coloured[b] if x[1] != ea[1] and x[1] not in {y[1] for y in coloured[a]}), None)
                    if eb is None or not self.pair_ok(a, b):
                        continue
                    out.append((a, b, ea, eb))
                    break
        return out

    # --- the pixels of the named boxes ----------------------------------------------------------

    def _reading(self, sha: str, ent: Entity) -> ColourReading | str | None:
        """The colour reading of the thing's box; None when the box holds too few pixels; a string saying why
        nothing can be read (no image file at hand, as in synthetic pools; a thing only captions name, with no
        box): that side's colour then rests on the captions, and the evidence says so."""
        box = ent.grounding.box
        key = (sha, ent.kind, None if box is None else (box.x, box.y, box.w, box.h))
        if key not in self._readings:
            path = self.ctx.pool[sha].path
            if not self.rule.param("pixel_check", True):
                self._readings[key] = "pixel check off"
            elif path is None:
                self._readings[key] = "image file not at hand"
            elif box is None:
                self._readings[key] = "no box: named by captions only"
            else:
                self._readings[key] = read_box(open_rgb(path), box)  # the pool's own view: EXIF-oriented RGB
        return self._readings[key]

    def _shows(self, sha: str, ent: Entity, col: str) -> bool:
        """The thing's pixels show the caption-stated colour. A chromatic colour: its hue covers at least
        ``pixel_min_hue_share`` of the thing and leads every other hue (windows, tyres and shadows are grey and
        do not count against it). A grey-scale colour: the greys it accepts cover at least
        ``pixel_min_grey_share`` and no hue reaches ``pixel_grey_rival`` times that (a "white" racket whose
        frame is red, a "white" oven of dark steel are not asked about)."""
        reading = self._reading(sha, ent)
        if isinstance(reading, str):
            return True
        if reading is None:
            self.missing("a box with too few pixels to read the stated colour from")
            return False
        names = accepts(col)
        shown = reading.share_of(names)
        hues = max((v for k, v in reading.shares.items() if chromatic(k) and k not in names), default=0.0)
        if chromatic(col):
            ok = shown >= float(self.rule.param("pixel_min_hue_share")) and shown >= hues
        else:
            ok = shown >= float(self.rule.param("pixel_min_grey_share")) and \
                hues < float(self.rule.param("pixel_grey_rival")) * shown
        if not ok:
            self.missing("the thing's pixels do not show the caption-stated colour")
        return ok

    def _pixel_check(self, a: str, b: str, ea: Entity, eb: Entity, col_a: str, col_b: str,
                     answer: str) -> dict | None:
        """Yes, a chromatic colour: the two things' shades of it are close (CIEDE2000 at most ``pixel_max_shade``:
        a bright red bicycle is not the colour of a maroon car). No: each thing shows its own colour at least
        ``pixel_no_margin`` times as much as the other's (a white bus with red panels is no fair "No" against a
        red car), and two greys only as white against black. A side without a reading is left to its captions."""
        if answer == "No" and not chromatic(col_a) and not chromatic(col_b) and {col_a, col_b} != {"white", "black"}:
            self.missing("two greys told apart only by the light (white / gray, gray / black)")
            return None
        ra, rb = self._reading(a, ea), self._reading(b, eb)
        out: dict = {"method": "CIELAB names of the thing's pixels (images/colour.py)",
                     "image1": ra if isinstance(ra, str) else ra.summary(),
                     "image2": rb if isinstance(rb, str) else rb.summary()}
        if answer == "Yes":
            if not chromatic(col_a):
                out["shade_difference"] = "not compared: across two photos a grey's lightness is the light's"
            elif isinstance(ra, str) or isinstance(rb, str):
                out["shade_difference"] = "not compared: one thing has no reading"
            else:
                diff = shade_difference(ra.shade_of(accepts(col_a)), rb.shade_of(accepts(col_b)))
                out["shade_difference"] = round(diff, 1)
                if diff > float(self.rule.param("pixel_max_shade")):
                    self.missing("the two things' shades of the stated colour differ (CIEDE2000)")
                    return None
            return out
        margin = float(self.rule.param("pixel_no_margin"))
        for key, r, own, other in (("image1", ra, col_a, col_b), ("image2", rb, col_b, col_a)):
            if isinstance(r, str):
                continue
            mine = accepts(own)
            # a red bus's windows read gray: against a grey colour a chromatic thing counts that grey's own name only
            theirs = [other] if chromatic(own) and not chromatic(other) else [n for n in accepts(other) if n not in mine]
            out[f"{key}_own_other"] = [round(r.share_of(mine), 3), round(r.share_of(theirs), 3)]
            if r.share_of(mine) < margin * r.share_of(theirs):
                self.missing("a box shows the other image's colour about as much as its own")
                return None
        return out

    def _clip_check(self, a: str, b: str, ent_a: Entity, ent_b: Entity, col_a: str, col_b: str) -> dict | None:
        """With CLIP image vectors: score "a photo of a {colour} {entity}" for every colour on each image
        and veto (None) when a stated colour ranks in the bottom half there. Without them, say so."""
        pool = self.ctx.pool
        colours = list(vocab().dimensions["colour"]["values"])
        out: dict = {"method": "CLIP prompts 'a photo of a {colour} {entity}'"}
        for key, sha, ent, col in (("image1", a, ent_a, col_a), ("image2", b, ent_b, col_b)):
            scores = pool.clip_prompt_scores(sha, [f"a photo of a {c} {ent.kind}" for c in colours])
            if scores is None:
                return {"method": f"skipped: {pool.clip_note}; the colour rests on the captions"}
            out[key] = dict(zip(colours, scores))
            rank = sorted(colours, key=lambda c: -out[key][c]).index(col)
            if rank >= len(colours) // 2:
                self.missing("CLIP ranks a caption-stated colour in the bottom half (vetoed)")
                return None
        return out

    def _fact(self, a: str, b: str, ea: tuple, eb: tuple, answer: str) -> Fact | None:
        (ent_a, col_a, cap_a), (ent_b, col_b, cap_b) = ea, eb
        pixels = self._pixel_check(a, b, ent_a, ent_b, col_a, col_b, answer)
        if pixels is None:
            return None
        check = self._clip_check(a, b, ent_a, ent_b, col_a, col_b)
        if check is None:
            return None
        ev = self.pair_evidence(a, b, colour1=col_a, colour2=col_b, evidence_kind="instance",
                                caption1=cap_a, caption2=cap_b, clip_check=check, pixel_check=pixels)
        ev.entities1, ev.entities2 = [ent_a.grounding], [ent_b.grounding]
        return Fact(image1=a, image2=b, qa_type="True or false QA", form="tf", answer=answer,
                    slots={"a": ent_a.kind, "b": ent_b.kind}, evidence=ev,
                    key=f"tf:{ent_a.kind}|{ent_b.kind}|{col_a}|{col_b}")
