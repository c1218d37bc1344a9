"""What a question may call a boxed object, and where an object clearly sits: the naming rules of
builders/instances.py (captions must use the question's name, in the singular for "the X", and never call
the box something else) and the geometry of RelativePosition, on small hand-made images."""

from __future__ import annotations

import pytest

from mmrakit.builders.families.position import apart
from mmrakit.builders.instances import ImageEvidence, vocab
from mmrakit.builders.pool import PoolImage
from mmrakit.models import Box, EntityGrounding


def _image(captions: list[str], *objects: tuple[str, Box]) -> PoolImage:
    return PoolImage(sha="0" * 64, captions=captions, entities=[
        EntityGrounding(concept=f"/c/en/{k.replace(' ', '_')}", text=k, source="object", box=b) for k, b in objects])


BIG = Box(x=0.1, y=0.1, w=0.5, h=0.5)
SMALL = Box(x=0.65, y=0.1, w=0.2, h=0.2)


def _ev(im: PoolImage) -> ImageEvidence:
    return ImageEvidence(im, graph=None)


def test_a_table_the_captions_call_a_coffee_table_is_not_the_dining_table() -> None:
    im = _image(["A cat on a coffee table.", "A cat sits on the table in a living room."], ("dining table", BIG))
    ev = _ev(im)
    n = ev.naming("dining table")
    assert n.other == "coffee table" and n.singular == 2  # "table" is said, but of a coffee table
    assert not ev.confirmed(im.objects()[0], the=True)
    assert not ev.confirmed(im.objects()[0], the=False)


def test_a_stove_boxed_as_oven_is_not_named_oven() -> None:
    im = _image(["A pot on a stove in a kitchen.", "A kitchen with a stove and a pan."], ("oven", BIG))
    assert not _ev(im).confirmed(im.objects()[0], the=False)
    im2 = _image(["An open oven with a pizza inside.", "Pizza baking in the oven."], ("oven", BIG))
    assert _ev(im2).confirmed(im2.objects()[0], the=True)


def test_a_stuffed_sheep_boxed_as_teddy_bear_is_not_the_teddy_bear() -> None:
    """COCO boxes every stuffed toy "teddy bear"; captions calling it a sheep make the name wrong, unless the
    sheep word names a sheep box of its own."""
    im = _image(["A large stuffed sheep laying on top of a white bed.", "A big white doll on a bed."], ("teddy bear", BIG))
    assert _ev(im).naming("teddy bear").other == "sheep"
    assert not _ev(im).confirmed(im.objects()[0], the=True)
    bear = _image(["A teddy bear sitting on a bed.", "A brown teddy bear."], ("teddy bear", BIG))
    assert _ev(bear).confirmed(bear.objects()[0], the=True)
    both = _image(["A teddy bear next to a dog.", "A dog and a teddy bear on a rug."], ("teddy bear", BIG), ("dog", SMALL))
    teddy = next(e for e in both.objects() if e.text == "teddy bear")
    assert _ev(both).confirmed(teddy, the=True)


def test_an_other_word_naming_its_own_box_does_not_count_against() -> None:
    """"a chair next to a couch": the word chair names the chair box, the couch is still a couch."""
    im = _image(["A chair next to a couch.", "A living room couch."], ("couch", BIG), ("chair", SMALL))
    ev = _ev(im)
    couch = next(e for e in im.objects() if e.text == "couch")
    assert ev.naming("couch").other is None and ev.confirmed(couch, the=True)
    alone = _image(["A man asleep in a chair.", "A couch."], ("couch", BIG))
    assert _ev(alone).naming("couch").other == "chair"


def test_plural_only_mentions_do_not_name_the_x() -> None:
    im = _image(["Tables and chairs next to umbrellas on a beach.", "Some outdoor tables."], ("dining table", BIG))
    ev = _ev(im)
    n = ev.naming("dining table")
    assert (n.singular, n.plural) == (0, 2)
    assert ev.confirmed(im.objects()[0], the=False)  # "a kind of object near both": tables will do
    assert not ev.confirmed(im.objects()[0], the=True)  # "the dining table": which one?
    people = _image(["People standing near a bus.", "A group of people."], ("person", SMALL), ("bus", BIG))
    assert _ev(people).naming("person").singular == 0


def test_min_captions_and_missing_names() -> None:
    im = _image(["A dog on a lawn.", "A brown dog plays."], ("dog", BIG), ("frisbee", SMALL))
    ev = _ev(im)
    dog, frisbee = im.objects()
    assert ev.confirmed(dog, the=True, min_captions=2)
    assert not ev.confirmed(dog, the=True, min_captions=3)
    assert not ev.confirmed(frisbee, the=False)  # boxed, but no caption says frisbee


def test_named_together() -> None:
    ev = _ev(_image(["A man walks his dog.", "A red car parked."], ("person", BIG), ("dog", SMALL), ("car", SMALL)))
    assert ev.named_together("person", "dog")
    assert not ev.named_together("dog", "car")


def test_present_keeps_kinds_with_several_instances() -> None:
    """Three chairs have no "the chair", but something in the picture is still for sitting on."""
    im = _image(["Three chairs around a table.", "Chairs in a room."],
                ("chair", Box(x=0.0, y=0.5, w=0.25, h=0.4)), ("chair", Box(x=0.3, y=0.5, w=0.25, h=0.4)),
                ("chair", Box(x=0.6, y=0.5, w=0.25, h=0.4)))
    ev = _ev(im)
    assert not ev.entities()
    present = ev.present()
    assert [p.kind for p in present] == ["chair"] and present[0].instances == 3


def test_naming_vocabulary_is_checked() -> None:
    v = vocab()
    assert set(v.naming) <= set(v.kinds)
    for kind, (confirm, other) in v.naming.items():
        assert confirm and not confirm & other, kind


@pytest.mark.parametrize(("a", "b", "side", "expected"), [
    (Box(x=0.0, y=0.3, w=0.3, h=0.3), Box(x=0.5, y=0.3, w=0.3, h=0.3), "left", True),
    # a cup on a table: its centre lies within the table's extent, so it is not beside it
    (Box(x=0.1, y=0.2, w=0.1, h=0.1), Box(x=0.0, y=0.25, w=0.9, h=0.5), "left", False),
    # overlapping boxes, each centre outside the other: still clearly side by side
    (Box(x=0.0, y=0.3, w=0.4, h=0.3), Box(x=0.3, y=0.3, w=0.4, h=0.3), "left", True),
    # a microwave above an oven: apart on the vertical axis
    (Box(x=0.3, y=0.0, w=0.3, h=0.2), Box(x=0.3, y=0.4, w=0.3, h=0.4), "above", True),
])
def test_apart(a: Box, b: Box, side: str, expected: bool) -> None:
    assert apart(a, b, side) is expected
