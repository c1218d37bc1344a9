"""MentalitySimilarity: do the people or animals of the two images show a similar visible state?

States are annotator attributes (``emotion``): a caption word of a state the vocabulary lists
(smiling, sleeping, grazing, playing, reading, crying, ...; a player's effort is no caption-read mood)
stated by at least two captions, in an image with a boxed person or animal (never a crowd box) large
enough to show it (a face state needs a larger box than a posture: images/data/perception.toml). Yes: both images share a state. No: the pair
miner's hard negative for image 1 - a caption neighbour with people or animals whose confident state
the vocabulary marks as incompatible. Choice: the shared state; distractors are states of only one
image, then other listed states, never one compatible with the answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import zip_longest

from mmrakit.images.perception import Obj, compatible_states, emotion_states, state_subject, vocab

from ..base import register
from ..instances import ImageEvidence
from ..base import Fact
from ..rules import perceived
from .scene import ChoiceFromShared

STATE_TEXT = {"joyful": "happy", "playful": "playful", "calm": "calm and relaxed", "focused": "focused",
              "sad": "sad", "angry": "angry", "scared": "scared", "excited": "excited",
              "determined": "focused and determined"}


@register
class MentalitySimilarity(ChoiceFromShared):
    task = "MentalitySimilarity"
    family = "mentality"
    attribute = "emotion"
    reuse_aware = True  # few images show a state: spend them only on pairs the reuse caps let through

    def text(self, value: str) -> str:
        return STATE_TEXT.get(value, value)

    def conflicts(self, d: str, x: str) -> bool:
        return compatible_states(d, x)

    def option_pool(self, values: list[str], answer: str) -> list[str]:
        """Listed states a reviewer can tell apart from the answer at a glance (data:
        [emotion_distractors]), then the pool's other states."""
        listed = list(perceived()["emotion_distractors"].get(answer, []))
        return listed + [v for v in values if v not in listed]

    def _subjects(self, sha: str, state: str) -> list:
        """The person or animal whose ``state`` it is, as the annotator measured it (images/perception.py
        ``state_subject``): never a crowd box (marked by the dataset, or holding two or more boxes of its
        kind: the stands behind a tennis player), never one too small to see; a person for a face state."""
        subj = vocab()["subjects"]
        kinds = set(subj["people"]) | set(subj["animals"])
        im = self.ctx.pool[sha]
        ev = ImageEvidence(im, self.ctx.graph)  # salient_box: no crowd-flagged box, none too small to see
        mine = [e for e in im.objects() if e.text in kinds and e.box is not None]
        boxes = [Obj(e.text, e.box) for e in mine]
        ok = [o for e, o in zip(mine, boxes) if ev.salient_box(e)]
        who = state_subject(state, ok, boxes)
        return [mine[boxes.index(who)]] if who is not None else []

    def unlike(self, x: str, a: str, c: str) -> bool:
        """A fair "No" partner c for anchor a of a shared state x: c's confident states are all unlike x,
        and nothing c states (even once) is like x or any other state of a - a person reading in bed
        (calm and focused) is no "No" against a focused player."""
        states = emotion_states()
        vc = self.values(c)
        return bool(vc) and all(self._subjects(c, v) for v in vc) \
            and all(v in states and not compatible_states(v, x) for v in vc) \
            and not any(compatible_states(v, w) for v in self.seen.stated(c, "emotion")
                        for w in {x} | set(self.values(a)))

    def mine(self) -> Iterator[Fact]:
        by_value = self.groups(lambda sha, v: bool(self._subjects(sha, v)))
        choice = self.choice(by_value) if "Choice QA" in self.qa_types else iter(())

        tf = (self.yes_no(by_value, differs=self.unlike, entities=lambda sha, x: self._subjects(sha, x))
              if "True or false QA" in self.qa_types else iter(()))
        # alternate the two forms; zip() would drop a Choice item whenever no True/False item follows it
        for pair in zip_longest(choice, tf):
            yield from (f for f in pair if f is not None)
