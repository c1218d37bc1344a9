"""Image-level subtasks about where and what: Environment (kind of place) and SimilarEvent (activity).

Both read annotator attributes (:mod:`..perception`): the scene category that at least two captions
state (objects only support it: a bottle and a fork never make a street restaurant a kitchen), and
the main activity (a caption event with its object, ``ride|horse``, stated by at least two captions,
from relations/text.py).

Choice QA: the shared value is the answer; distractors are values stated (even weakly) by only one
of the two images, so neither image alone singles the answer out, then values of caption neighbours;
never a value either image states, never one of the answer's scene family (a kitchen and a dining
room may be one room). Yes/No (Environment): a shared scene vs. a hard negative from the pair miner:
a caption neighbour whose one clear place is of the same broad setting (an indoor room, urban,
green outdoors, waterside, a sports venue) but of another family, and which states no trace of the
positive's family (kitchen vs bathroom, street vs train station; never a bathroom vs a garden).
Yes/No (SimilarEvent) is relational in the same way ("Are the people in the two pictures doing the
same activity?"): the question never names the activity, so a "No" partner must show its own,
clearly different confident activity and both photos are needed for either answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from mmrakit.images.perception import vocab

from ..base import Fact, register
from ._common import pairs_round_robin
from ._perceived import PerceivedBuilder
from ..pairs import pair_id
from ..rules import perceived


def subjects_and_objects(im) -> set[str]:
    return {e.text for e in im.objects() if e.box is not None and e.box.area >= 0.01}


def has_agent(seen, sha: str) -> bool:
    """An activity needs someone doing it: a confident person or animal in the picture."""
    return bool(seen.confident(sha, "people") or seen.confident(sha, "animals"))


def scene_text(value: str) -> str:
    return value.replace("_", " ")


def activity_text(value: str) -> str:
    from lemminflect import getInflection

    verb, _, obj = value.partition("|")
    fixed = perceived()["activities"]["text"].get(verb)
    if fixed and not obj:
        return fixed
    words = verb.split(" ")
    ing = getInflection(words[0], "VBG")
    head = ing[0] if ing else words[0] + "ing"
    if len(words) > 1:  # phrasal event: "do trick" -> "doing a trick"
        rest = " ".join(words[1:])
        head = f"{head} {'an' if rest[0] in 'aeiou' else 'a'} {rest}"
    if obj and obj not in words:
        if obj in perceived()["activities"]["mass_nouns"]:
            return f"{head} {obj}"
        article = "an" if obj[0] in "aeiou" else "a"
        return f"{head} {article} {obj}"
    return head


def vague_verbs() -> set[str]:
    """Verbs that are never a shared event nor an option of one (data: perceived.toml [activities] vague_verbs)."""
    return set(perceived()["activities"]["vague_verbs"])


class ChoiceFromShared(PerceivedBuilder):
    """Choice items on a shared confident value with one-image distractors."""

    def text(self, value: str) -> str:
        return value

    def conflicts(self, d: str, x: str) -> bool:
        return d == x

    def choice(self, by_value: dict[str, list[str]]) -> Iterator[Fact]:
        seen = self.seen
        everything = sorted(by_value)
        for x, a, b in pairs_round_robin(by_value, self.rng):
            if not self.allowed_pair(a, b):
                continue
            sa, sb = self.stated_values(a), self.stated_values(b)
            only_a = [v for v in sa if v not in sb and not self.conflicts(v, x) and self.absent(v, b)]
            only_b = [v for v in sb if v not in sa and not self.conflicts(v, x) and self.absent(v, a)]
            near = []
            for c, _ in self.neighbours(a):
                near += [v for v in self.values(c) if v not in sa and v not in sb and not self.conflicts(v, x)
                         and self.absent(v, a) and self.absent(v, b)]
            pool_rest = [v for v in self.option_pool(everything, x) if v not in sa and v not in sb
                         and not self.conflicts(v, x) and self.absent(v, a) and self.absent(v, b)]
            self.rng.shuffle(pool_rest)
            ordered: list[str] = []
            for v in only_a[:1] + only_b[:1] + near + pool_rest:
                if v not in ordered and all(not self.conflicts(v, o) for o in ordered):
                    ordered.append(v)
            ev = self.evidence(a, b, value=x, pair_id=pair_id(f"{self.task}:choice", a, b), pair_role="positive")
            t = self.text
            yield Fact(image1=a, image2=b, qa_type="Choice QA", form="choice", answer=t(x),
                       distractors=[t(d) for d in ordered[:12]], evidence=ev,
                       support=({t(v) for v in sa}, {t(v) for v in sb}), key=x)

    def absent(self, value: str, sha: str) -> bool:
        """Whether an option is verifiably not true of image ``sha`` (beyond not being stated there)."""
        return True

    def option_pool(self, values: list[str], answer: str) -> list[str]:
        """Values that may fill the remaining options (default: every value the pool has)."""
        return values

    def stated_values(self, sha: str) -> dict:
        key = getattr(self, "key", lambda v: v)
        return {key(v): a for v, a in self.seen.stated(sha, self.attribute).items()}

    def neighbours(self, sha: str):
        from ..pairs import caption_neighbours

        return caption_neighbours(self.ctx).near(sha, 20)


@register
class Environment(ChoiceFromShared):
    task = "Environment"
    family = "scene"
    attribute = "scene"

    def text(self, value: str) -> str:
        return scene_text(value)

    def conflicts(self, d: str, x: str) -> bool:
        scenes = vocab()["scenes"]
        return d == x or scenes[d]["family"] == scenes[x]["family"]

    def clear_scene(self, sha: str, v: str) -> bool:
        """A "Yes" or an answer needs the image's one clear place: stated by at least two captions
        (confidence >= yes_confidence) and no confident place of another family beside it."""
        vals = self.values(sha)
        a = vals.get(v)
        return (a is not None and a.confidence >= float(self.rule.param("yes_confidence", 0.6))
                and all(w.confidence <= a.confidence for w in vals.values())  # the image's top place
                and not any(not self.conflicts(w, v) for w in vals))

    def mine(self) -> Iterator[Fact]:
        seen = self.seen
        by_value = self.groups(self.clear_scene)
        choice = self.choice(by_value) if "Choice QA" in self.qa_types else iter(())

        scenes = vocab()["scenes"]

        def differs(x: str, a: str, c: str) -> bool:
            """c's one clear place is of another family than x, and nothing in c (not even one caption)
            states a place of x's family."""
            vc = self.values(c)
            return bool(vc) and any(self.clear_scene(c, v) for v in vc) and not any(
                self.conflicts(v, x) for v in seen.stated(c, "scene")) and not any(
                self.conflicts(v, w) for v in vc for w in self.values(a))

        def same_setting(x: str, c: str) -> bool:
            """A fair "No": c's place is of the same broad setting as x (an indoor room against another
            room, a street against a station, a court against a field), never a bathroom vs a garden."""
            return all(scenes[v]["setting"] == scenes[x]["setting"] for v in self.values(c))

        def hard(x: str, a: str, c: str) -> bool:
            return differs(x, a, c) and same_setting(x, c)

        tf = self.yes_no(by_value, differs=hard) if "True or false QA" in self.qa_types else iter(())
        # Yes/No first: a shared place is nearly always visible in each image alone, so most Choice items
        # fail the one-image check and would only spend the images' reuse budget
        yield from tf
        yield from choice


def game(v: str) -> str | None:
    """The game of a game-playing activity ("play|tennis" -> "tennis"; data: [activities] games)."""
    verb, _, obj = v.partition("|")
    acts = perceived()["activities"]
    return obj if verb in acts["game_verbs"] and obj in acts["games"] else None


def other_games(d: str, x: str) -> bool:
    """Playing two different listed games: two activities, whatever the shared verb."""
    gd, gx = game(d), game(x)
    return gd is not None and gx is not None and gd != gx


def one_event_group(d: str, x: str) -> bool:
    """Two activities ("verb|object") a reviewer calls one event: one group of `[activities] same_event`
    holds both, by verb, by the verb's head or by "verb object" (a pitcher is playing baseball); two
    different games are never one event by their shared verb ("play")."""
    games_apart = other_games(d, x)

    def names(v: str) -> set[str]:
        verb, _, obj = v.partition("|")
        if games_apart:
            return {f"{verb} {obj}"}
        return {verb, verb.split(" ")[0]} | ({f"{verb} {obj}"} if obj else set())

    nd, nx = names(d), names(x)
    return any(nd & set(g) and nx & set(g) for g in perceived()["activities"]["same_event"])


@register
class SimilarEvent(ChoiceFromShared):
    task = "SimilarEvent"
    family = "scene"
    attribute = "activity"

    def text(self, value: str) -> str:
        return activity_text(value)

    def conflicts(self, d: str, x: str) -> bool:
        # same verb (riding a horse / riding a wave may both hold loosely) or same object: too close; a
        # vague verb ("standing", "looking") may hold in both images, so it is never an option
        dv, _, do = d.partition("|")
        xv, _, xo = x.partition("|")
        from mmrakit.relations.text import lexicon

        if dv.split(" ")[0] not in lexicon().activity and " " not in dv:
            return True  # a verb of no listed activity ("illuminating" from "an illuminated board") is no option
        postures = perceived()["activities"]["posture_excluded_by"]
        if other_games(d, x):
            return False  # playing tennis / playing baseball: two activities
        if dv == xv or bool(do and do == xo) or (dv.split(" ")[0] in vague_verbs() and not do and dv not in postures):
            return True
        return one_event_group(d, x)

    def absent(self, value: str, sha: str) -> bool:
        """An option is wrong for an image only when no caption of it uses the option's verb in any form
        and, for a vague verb with an object ("holding a knife"), nothing of the image (caption word or
        box) is that object."""
        from .subevent import caption_lemmas

        verb, _, obj = value.partition("|")
        lemmas = caption_lemmas(self.ctx.pool[sha].captions)
        g = game(value)
        if g is not None:
            # "playing" is said of every game: a game is absent when no caption names it (nor a word
            # of it, [activity_from_words]) and every "play" the captions state is of another listed game
            text = " ".join(self.ctx.pool[sha].captions).lower()
            words = set(vocab()["activity_from_words"].get(value, {}).get("words", [])) | {g}
            plays = [v for v in self.seen.stated(sha, "activity") if v.partition("|")[0] == verb]
            return (not any(re.search(rf"\b{re.escape(w)}", text) for w in words)
                    and all(other_games(v, value) for v in plays))
        if set(verb.split(" ")[:1]) & lemmas:
            return False
        postures = perceived()["activities"]["posture_excluded_by"]
        if verb in postures and not obj:
            # a posture is wrong for an image whose confident activity rules it out ("sitting" / skiing)
            doing = {v.partition("|")[0].split(" ")[0] for v in self.seen.confident(sha, "activity")}
            return bool(doing & set(postures[verb])) and not ({"sit", "lay", "lie"} & lemmas if verb != "sit" else {"sit"} & lemmas)
        if verb.split(" ")[0] in vague_verbs():
            # only a handling verb with a boxed kind of object is concrete enough ("holding a frisbee";
            # never "standing a table", "holding a piece")
            kinds = {e.text for e in self.ctx.pool[sha].objects()}
            return (verb in perceived()["activities"]["handling_verbs"] and obj in self.box_kinds()
                    and obj not in lemmas and obj not in kinds)
        return True

    def box_kinds(self) -> set[str]:
        if not hasattr(self, "_box_kinds"):
            self._box_kinds = {e.text for s in self.ctx.pool.order for e in self.ctx.pool[s].objects()}
        return self._box_kinds

    def usable(self, sha: str, v: str) -> bool:
        verb, _, obj = v.partition("|")
        head = verb.split(" ")[0]
        if head in vague_verbs():
            return False
        needs_object = head in perceived()["activities"]["object_sensitive_verbs"]
        return has_agent(self.seen, sha) and (bool(obj) or not needs_object)

    @staticmethod
    def key(v: str) -> str:
        """Activities compared by verb ("eating" an apple / a banana); posture verbs and verbs whose sense
        depends on the object (serve, fly, play ...) with their object."""
        verb, _, obj = v.partition("|")
        head = verb.split(" ")[0]
        acts = perceived()["activities"]
        # a posture in any wording ([activity_canonical]: "lay" is "lie|") is compared without its object
        # ("sitting at dinner")
        posture = vocab()["activity_canonical"].get(verb, f"{verb}|")
        if posture.partition("|")[0] in acts["posture_excluded_by"]:
            return posture
        return v if head in vague_verbs() or head in acts["object_sensitive_verbs"] else f"{verb}|"

    def values(self, sha: str):
        return {self.key(v): a for v, a in self.seen.confident(sha, "activity").items()}

    def same_event(self, d: str, x: str) -> bool:
        """The two activities may be one (same verb, same object, or one group of [activities] same_event):
        a "No" partner stating ``d`` (even in one caption) is no verified "not ``x``"."""
        dv, _, do = d.partition("|")
        xv, _, xo = x.partition("|")
        if other_games(d, x):
            return False
        if dv == xv or dv.split(" ")[0] == xv.split(" ")[0] or bool(do and do == xo):
            return True
        return one_event_group(d, x)

    def not_doing(self, x: str, c: str) -> bool:
        """Image ``c`` verifiably does not show activity ``x``: someone in it does another, clearly
        different activity that two captions state (a listed activity, not a posture or a vague verb),
        and no caption of it states ``x`` in any wording (its verb in any form, an event of its
        same-event group, a sport word of ``x``)."""
        if not has_agent(self.seen, c):
            return False
        vc = [v for v in self.values(c) if self.usable(c, v)]
        if not vc or any(self.conflicts(v, x) or self.same_event(v, x) for v in vc):
            return False
        if any(self.same_event(self.key(v), x) for v in self.seen.stated(c, "activity")):
            return False
        if not self.absent(x, c):
            return False
        from .subevent import caption_lemmas

        words = set(vocab()["activity_from_words"].get(x, {}).get("words", []))
        return not (words & caption_lemmas(self.ctx.pool[c].captions))

    def others(self, sha: str, x: str) -> list[str]:
        """The image's confident listed activities (not postures, not vague verbs) that are not one event
        with ``x``: someone in it doing another kind of thing."""
        return [v for v in self.values(sha) if self.usable(sha, v) and not (v == x or self.same_event(v, x)
                                                                             or self.conflicts(v, x))]

    def one_kind(self, sha: str, x: str) -> bool:
        """A "Yes" photo of the relational question shows one kind of thing being done: ``x``, and no
        other confident activity beside it (a man skiing and two men talking on the slope: are they
        "doing the same kind of thing" as a skier? a reviewer cannot say)."""
        return not self.others(sha, x)

    def shows_none_of(self, a: str, c: str) -> bool:
        """The anchor ``a`` verifiably does not do what partner ``c`` does: for each confident activity
        of ``c``, no caption of ``a`` states it or one event with it (in any wording), nor uses its verb."""
        stated_a = [self.key(v) for v in self.seen.stated(a, "activity")]
        for y in (v for v in self.values(c) if self.usable(c, v)):
            if any(self.same_event(s, y) for s in stated_a) or not self.absent(y, a):
                return False
        return True

    def doers(self, a: str, b: str) -> str:
        """Who the relational question is about: the kinds of doer of the two photos."""
        kinds = {k for s in (a, b) for k in ("people", "animals") if self.seen.confident(s, k)}
        texts = perceived()["activities"]["doers_text"]
        return texts["both" if len(kinds) == 2 else next(iter(kinds), "both")]

    def mine(self) -> Iterator[Fact]:
        # a posture is never the shared "same kind of thing": two people sitting (a family at a birthday
        # cake, a woman posing on a motorcycle) are doing different things to a reviewer
        by_value = self.groups(lambda sha, v: self.usable(sha, v))
        choice = self.choice(by_value) if "Choice QA" in self.qa_types else iter(())

        def differs(x: str, a: str, c: str) -> bool:
            # a "No" needs both photos: c does its own, clearly different confident activity (never x in
            # any wording), and a does none of c's
            return self.not_doing(x, c) and self.shows_none_of(a, c)

        def slots(a: str, b: str, x: str) -> dict:
            # the relational question names the dimension compared (what the people or animals are
            # doing), never the activity: a "No" that names it is decided by the partner alone
            return {"_form": "tf", "doers": self.doers(a, b)}

        def agents(sha: str) -> set[str]:
            return {k for k in ("people", "animals") if self.seen.confident(sha, k)}

        def close(a: str, c: str) -> bool:
            # a fair "No" keeps the doer (people against people, animals against animals: never a bird
            # eating against a snowboarder) and something of the scene: the same broad setting, or the
            # same indoor/outdoor side, or a shared object kind (pairs.closeness_rank <= 2), never a
            # restaurant dinner against surfers on a wave (the doers themselves are not counted)
            from ..pairs import closeness_rank, likeness

            doers = set(vocab()["subjects"]["people"]) | set(vocab()["subjects"]["animals"])
            like = [k for k in likeness(self.ctx, a, c) if k.partition(":")[2] not in doers]  # the doers are no scene
            return agents(a) == agents(c) and closeness_rank(like) <= 2

        def pair_ok(a: str, b: str, x: str) -> bool:
            # a "Yes" is an obvious shared value: each photo shows x and nothing else confidently done,
            # and the same kind of doer
            return self.one_kind(a, x) and self.one_kind(b, x) and agents(a) == agents(b)

        # the positives least alike in their captions first: the same activity makes captions alike, and
        # a "No" partner (another activity) sits at the caption similarity of its positive (the miner's
        # max_gap), so caption similarity alone must not tell "Yes" from "No"
        sim = self.ctx.pool.caption_similarity
        pairs = sorted(((x, a, b) for x, shas in by_value.items() for i, a in enumerate(sorted(set(shas)))
                        for b in sorted(set(shas))[i + 1:]), key=lambda t: (sim(t[1], t[2]) or 0.0, t))
        tf = (self.yes_no(by_value, differs=differs, close=close, slots=slots, pair_ok=pair_ok, pairs=pairs)
              if "True or false QA" in self.qa_types else iter(()))
        # Yes/No first: a shared activity is nearly always the one activity of each image, so most Choice
        # items fail the one-image check and would only spend the images' reuse budget
        yield from tf
        yield from choice
