"""MentalitySimilarity: do the people or animals of the two images show a similar visible state?

States are annotator attributes (``emotion``): a caption word of a state the vocabulary lists
(smiling, sleeping, playing, reading, crying, ...) stated by at least two captions, in an image with
a boxed person or animal large enough to show it. Yes: both images share a state. No: the pair
miner's hard negative for image 1 - a caption neighbour with people or animals whose confident state
the vocabulary marks as incompatible. Choice: the shared state; distractors are states of only one
image, then other listed states, never one compatible with the answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import zip_longest

from mmrakit.images.perception import compatible_states, vocab

from ..base import register
from ..base import Fact
from .scene import ChoiceFromShared

STATE_TEXT = {"joyful": "happy", "playful": "playful", "calm": "calm and relaxed", "focused": "focused",
              "sad": "sad", "angry": "angry", "scared": "scared", "excited": "excited"}


@register
class MentalitySimilarity(ChoiceFromShared):
    task = "MentalitySimilarity"
    family = "mentality"
    attribute = "emotion"

    def text(self, value: str) -> str:
        return STATE_TEXT.get(value, value)

    def conflicts(self, d: str, x: str) -> bool:
        return compatible_states(d, x)

    def option_pool(self, values: list[str], answer: str) -> list[str]:
        """Listed states a reviewer can tell apart from the answer at a glance (data:
        [emotion_distractors]), then the pool's other states."""
        listed = list(vocab()["emotion_distractors"].get(answer, []))
        return listed + [v for v in values if v not in listed]

    def _subjects(self, sha: str) -> list:
        subj = vocab()["subjects"]
        kinds = set(subj["people"]) | set(subj["animals"])
        objs = [e for e in self.ctx.pool[sha].objects() if e.text in kinds]
        return sorted(objs, key=lambda e: -e.box.area)[:1]

    def mine(self) -> Iterator[Fact]:
        seen = self.seen
        by_value = self.groups(lambda sha, v: bool(self._subjects(sha)))
        states = [s for s in vocab()["emotions"] if s != "compatible"]
        choice = self.choice(by_value) if "Choice QA" in self.qa_types else iter(())

        def differs(x: str, a: str, c: str) -> bool:
            vc = self.values(c)
            return bool(vc) and bool(self._subjects(c)) and all(v in states and not compatible_states(v, x) for v in vc) \
                and not any(compatible_states(v, x) for v in seen.stated(c, "emotion"))

        tf = (self.yes_no(by_value, differs=differs, entities=lambda sha, x: self._subjects(sha))
              if "True or false QA" in self.qa_types else iter(()))
        # alternate the two forms; zip() would drop a Choice item whenever no True/False item follows it
        for pair in zip_longest(choice, tf):
            yield from (f for f in pair if f is not None)
