"""What a question may name in RelativePosition and NearSameEntity: a box a reviewer can point at without
the box (rubric check 1). ``ImageEvidence.recognisable`` / ``pointable`` and ``evidence.toml
[recognisable]``: no fragment of a body cut by the frame (a hand reaching in, a sliver of a person at the
side), no surface label (dining table, bed, ...) that one caption supports on a small box, and no surface
that is a strip along a frame edge. Small hand-made images; the real-data check is in
tests/test_build_quality_coco.py."""

from __future__ import annotations

from mmrakit.builders.base import BuildContext
from mmrakit.builders.families.position import RelativePosition
from mmrakit.builders.families.proximity import NearSameEntity
from mmrakit.builders.instances import ImageEvidence, vocab
from mmrakit.builders.pool import PoolImage, PoolView
from mmrakit.models import Box, EntityGrounding
from tests.support.synthetic import synthetic_graph


def _image(captions: list[str], *objects: tuple[str, Box], size=(640, 480), sha: str = "0" * 64) -> PoolImage:
    return PoolImage(sha=sha, width=size[0], height=size[1], captions=captions, entities=[
        EntityGrounding(concept=f"/c/en/{k.replace(' ', '_')}", text=k, source="object", box=b) for k, b in objects])


def _one(im: PoolImage, kind: str) -> tuple[ImageEvidence, EntityGrounding]:
    return ImageEvidence(im, graph=None), next(e for e in im.objects() if e.text == kind)


def _ctx(*ims: PoolImage) -> BuildContext:
    return BuildContext(graph=synthetic_graph(10)[0], pool=PoolView(list(ims)), caption_band=(-1.0, 1.0))


DOG_CAPTIONS = ["A person holding a can of food in front of a dog.", "A dog looks at the can a person holds.",
                "A person with a can in their hand and a dog in a doorway."]
HAND = Box(x=0.0, y=0.67, w=0.68, h=0.31)  # a hand reaching in from the bottom-left corner (portrait photo)
DOG = Box(x=0.39, y=0.24, w=0.22, h=0.39)


def test_the_rule_is_data():
    r = vocab().recognisable
    assert r["body_aspect"]["person"] > 1.5 and r["aspect_tolerance"] > 1
    assert {"dining table", "bed"} <= r["surface_kinds"]
    assert r["surface_min_captions"] >= 2 and 0 < r["surface_min_area"] < 1


def test_a_hand_reaching_in_from_the_frame_is_not_the_person():
    im = _image(DOG_CAPTIONS, ("person", HAND), ("dog", DOG), size=(480, 640))
    ev, person = _one(im, "person")
    assert ev.salient(person) and ev.confirmed(person, the=True)  # big and named: the old rules let it through
    assert not ev.recognisable(person) and not ev.pointable(person)
    _, dog = _one(im, "dog")
    assert ev.pointable(dog)  # the dog in the middle stays


def test_a_whole_person_at_the_edge_stays_and_a_sliver_does_not():
    caps = ["A man standing in a forest.", "A man in the woods."]
    standing = _image(caps, ("person", Box(x=0.0, y=0.3, w=0.15, h=0.55)))  # whole, touching the left edge
    ev, p = _one(standing, "person")
    assert ev.pointable(p)
    leg = _image(caps, ("person", Box(x=0.0, y=0.6, w=0.1, h=0.35)))  # a trouser leg and a shoe at the left edge
    ev, p = _one(leg, "person")
    assert ev.salient(p) and not ev.pointable(p)
    inside = _image(caps, ("person", Box(x=0.4, y=0.6, w=0.1, h=0.35)))  # the same size, whole in the picture
    ev, p = _one(inside, "person")
    assert ev.pointable(p)
    sliver = _image(caps, ("person", Box(x=0.92, y=0.4, w=0.08, h=0.51)), size=(480, 640))  # a shoulder and an arm
    ev, p = _one(sliver, "person")
    assert ev.salient(p) and not ev.pointable(p)
    away = _image(caps, ("person", Box(x=0.5, y=0.4, w=0.08, h=0.51)), size=(480, 640))  # same box, not cut
    ev, p = _one(away, "person")
    assert ev.pointable(p)


def test_a_body_cut_at_the_top_keeps_its_torso():
    """A cook whose head is cut off by the top edge is still a person; the same box reaching in from the
    bottom edge is a hand and a forearm."""
    caps = ["A woman cutting a pizza at a table.", "A person slicing a pizza."]
    cook = _image(caps, ("person", Box(x=0.25, y=0.0, w=0.6, h=0.4)))
    ev, p = _one(cook, "person")
    assert ev.pointable(p)
    hand = _image(caps, ("person", Box(x=0.25, y=0.6, w=0.6, h=0.4)))
    ev, p = _one(hand, "person")
    assert ev.salient(p) and not ev.pointable(p)


def test_a_small_cut_box_of_an_animal_is_a_fragment():
    caps = ["A dog lying on a rug.", "A brown dog rests."]
    tail = _image(caps, ("dog", Box(x=0.86, y=0.5, w=0.14, h=0.19)))  # area 0.027 at the right edge
    ev, d = _one(tail, "dog")
    assert ev.salient(d) and not ev.pointable(d)
    whole = _image(caps, ("dog", Box(x=0.4, y=0.5, w=0.14, h=0.19)))
    ev, d = _one(whole, "dog")
    assert ev.pointable(d)


def test_a_surface_one_caption_names_on_a_small_box_is_not_named():
    caps = ["A child's blankets and a teddy bear.", "an umbrella resting on a bed next to a teddy bear",
            "A stuffed bear and an umbrella.", "The umbrella is left open in the house."]
    im = _image(caps, ("bed", Box(x=0.36, y=0.47, w=0.64, h=0.51)))
    ev, bed = _one(im, "bed")
    assert ev.confirmed(bed, the=True) and ev.salient(bed)
    assert not ev.pointable(bed)
    more = _image(caps + ["A teddy bear on a bed.", "A bed with pink blankets."], ("bed", Box(x=0.36, y=0.47, w=0.64, h=0.51)))
    ev, bed = _one(more, "bed")
    assert ev.pointable(bed)  # three captions call it a bed
    big = _image(["People eating at a table in a dark restaurant.", "Candles and plates."],
                 ("dining table", Box(x=0.0, y=0.25, w=0.99, h=0.69)))
    ev, table = _one(big, "dining table")
    assert ev.pointable(table)  # one caption, but the table fills the picture
    bodies_are_not_surfaces = _image(["A dog on a lawn."], ("dog", Box(x=0.3, y=0.3, w=0.2, h=0.2)))
    ev, d = _one(bodies_are_not_surfaces, "dog")
    assert ev.pointable(d)  # one caption is enough for a dog


def test_a_table_rim_along_the_bottom_edge_is_not_named():
    caps = ["A man sitting at a table with a tv behind him.", "A man at a table in a kitchen."]
    im = _image(caps, ("dining table", Box(x=0.46, y=0.88, w=0.41, h=0.11)))
    ev, table = _one(im, "dining table")
    assert ev.salient(table) and ev.confirmed(table, the=True)
    assert not ev.pointable(table)
    deep = _image(caps, ("dining table", Box(x=0.46, y=0.6, w=0.41, h=0.39)))
    ev, table = _one(deep, "dining table")
    assert ev.pointable(table)


def test_relative_position_never_names_a_hand_for_the_person():
    hand = Box(x=0.0, y=0.78, w=0.35, h=0.2)  # a hand and a can in the bottom-left corner
    im = _image(DOG_CAPTIONS, ("person", hand), ("dog", Box(x=0.62, y=0.24, w=0.22, h=0.39)), size=(480, 640))
    assert ImageEvidence(im, graph=None).salient(im.objects()[0])
    rp = RelativePosition(_ctx(im))
    sides = rp.frame_sides(im.sha)
    assert "/c/en/person" not in sides  # the hand sits on the left, but it is no person to point at
    assert sides["/c/en/dog"][0] == "right"
    assert all("/c/en/person" not in pair for pair in rp.relations_in(im.sha))


def test_near_same_entity_never_names_a_thinly_named_bed():
    caps = ["A child's blankets and teddy bear with a teddy bear umbrella.",
            "an umbrella decorated like a bear resting on a bed next to a teddy bear",
            "a stuffed bear holding a bear umbrella next to a little stuffed bear"]
    bed = ("bed", Box(x=0.36, y=0.47, w=0.64, h=0.51))
    bear = ("teddy bear", Box(x=0.13, y=0.68, w=0.21, h=0.31))
    umbrella = ("umbrella", Box(x=0.25, y=0.0, w=0.75, h=0.94))
    im = _image(caps, umbrella, bear, bed)
    near = NearSameEntity(_ctx(im)).near_map(im.sha)
    assert "/c/en/bed" not in near and all("/c/en/bed" not in nb for nb in near.values())
    assert "/c/en/teddy_bear" in near["/c/en/umbrella"]  # the rest of the picture still counts
    named = _image(caps + ["A teddy bear sits on the bed.", "A bed with pink blankets."], umbrella, bear, bed)
    near = NearSameEntity(_ctx(named)).near_map(named.sha)
    assert "/c/en/bed" in near  # three captions call it a bed: a reviewer looks for one and finds it


def test_a_topping_is_not_near_the_pizza_it_lies_on():
    caps = ["A pizza with broccoli on a plate next to a glass of wine.", "Broccoli pizza and a wine glass.",
            "A pizza topped with broccoli."]
    pizza = ("pizza", Box(x=0.1, y=0.3, w=0.6, h=0.6))
    broccoli = ("broccoli", Box(x=0.3, y=0.5, w=0.2, h=0.2))  # on the pizza
    glass = ("wine glass", Box(x=0.72, y=0.2, w=0.15, h=0.4))  # beside it
    im = _image(caps, pizza, broccoli, glass)
    near = NearSameEntity(_ctx(im)).near_map(im.sha)
    assert "/c/en/broccoli" not in near.get("/c/en/pizza", {})
    assert "/c/en/pizza" not in near.get("/c/en/broccoli", {})
    assert "/c/en/wine_glass" in near["/c/en/pizza"]
    beside = _image(caps, pizza, ("broccoli", Box(x=0.72, y=0.6, w=0.2, h=0.2)), glass)  # a side dish beside it
    assert "/c/en/broccoli" in NearSameEntity(_ctx(beside)).near_map(beside.sha)["/c/en/pizza"]
