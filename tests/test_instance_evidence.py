"""What one image's evidence says about its instances (builders/instances.py): attributes stated for an
instance stop at the start of its noun phrase, caption-only things carry their near-certain defaults,
kinds with several instances carry only what is true of every instance, and a clear caption majority
decides a colour. Each test builds a real PoolImage and reads the real vocabulary (evidence.toml)."""

from __future__ import annotations

from mmrakit.builders.instances import ImageEvidence, vocab
from mmrakit.builders.pool import PoolImage
from mmrakit.models import Box, EntityGrounding


def _obj(kind: str, x: float = 0.1, y: float = 0.1, w: float = 0.4, h: float = 0.4) -> EntityGrounding:
    return EntityGrounding(concept=f"/c/en/{kind.replace(' ', '_')}", text=kind, source="object",
                           box=Box(x=x, y=y, w=w, h=h))


def _ev(captions: list[str], objects: list[EntityGrounding]) -> ImageEvidence:
    return ImageEvidence(PoolImage(sha="0" * 64, captions=captions, entities=objects), graph=_NoGraph())


class _NoGraph:
    def out(self, concept, rel):
        return []

    def text(self, node):
        return node


def _entity(ev: ImageEvidence, kind: str):
    return next(e for e in ev.entities() if e.kind == kind)


def test_an_adjective_of_another_noun_phrase_is_not_stated_for_the_noun() -> None:
    # "glass" is the noun of "wine glass": nothing says the book is made of glass; the book is paper
    ev = _ev(["Pizza on a plate next to a wine glass and a book.", "A book beside a pizza."],
             [_obj("book"), _obj("wine glass", x=0.55, w=0.2)])
    book = _entity(ev, "book")
    assert book.stated["material"] == set()
    assert ev.material(book).value == "paper" and ev.material(book).kind == "default"
    # an adjective through modifiers still binds: "a large red and white bus"
    ev = _ev(["A large red and white bus on a street.", "A bus."], [_obj("bus")])
    assert _entity(ev, "bus").stated["colour"] == {"red", "white"}
    # a determiner starts the noun phrase: "a red car and a bus" states nothing of the bus
    ev = _ev(["A red car and a bus.", "A bus and a car."], [_obj("bus"), _obj("car", x=0.55, w=0.3)])
    assert _entity(ev, "bus").stated["colour"] == set()
    assert _entity(ev, "car").stated["colour"] == {"red"}


def test_caption_only_things_carry_their_near_certain_default_when_named_enough() -> None:
    v = vocab()
    assert v.kinds["window"].default == "glass" and v.kinds["curtain"].default == "fabric"
    # ambiguous kinds are never defaulted (the list)
    for kind in ("cup", "bottle", "bowl", "dining table", "chair", "bench", "baseball bat"):
        assert v.kinds[kind].default is None, kind
    ev = _ev(["A bedroom with curtains on the window.", "Curtains hang by a bed.", "A bed."], [_obj("bed")])
    kinds = {e.kind for e in ev.entities()}
    assert "curtain" in kinds and "window" not in kinds  # the window is named once: not salient enough
    assert ev.material(_entity(ev, "curtain")).value == "fabric"
    # a caption stating another material wins over the default (two captions for an unboxed thing)
    ev = _ev(["Plastic curtains in a shower.", "Plastic curtains hang there.", "A shower."], [])
    assert ev.material(_entity(ev, "curtain")).value == "plastic"
    assert ev.material(_entity(ev, "curtain")).kind == "instance"


def test_several_instances_carry_only_a_default_and_never_a_stated_value() -> None:
    two_buses = [_obj("bus", x=0.05, w=0.4), _obj("bus", x=0.5, w=0.4)]
    ev = _ev(["Two buses parked on a street.", "Buses at a stop."], two_buses)
    assert "bus" not in {e.kind for e in ev.entities()}  # no "the bus"
    several = {e.kind: e for e in ev.several()}
    assert ev.material(several["bus"]).value == "metal"
    # a stated material for any of them: no default
    ev = _ev(["Two wooden benches.", "Benches in a park."], [_obj("bench", x=0.05), _obj("bench", x=0.5)])
    assert all(ev.material(e) is None or ev.material(e).kind != "default" for e in ev.several())


def test_colour_by_a_clear_majority_of_captions_and_never_for_two_coloured_things() -> None:
    truck = [_obj("truck")]
    caps = ["A white truck.", "A white truck parked.", "A dog on a white truck.", "A dog on a green truck.", "A truck."]
    assert _ev(caps, truck).colour(_entity(_ev(caps, truck), "truck")).value == "white"
    ev = _ev(["A white truck.", "A white truck.", "A green truck.", "A green truck."], truck)
    assert ev.colour(_entity(ev, "truck")) is None  # two captions each: no majority
    ev = _ev(["A red and white bus.", "A red bus.", "A red bus.", "A red bus."], [_obj("bus")])
    assert ev.colour(_entity(ev, "bus")) is None  # one caption says it has two colours


def test_a_material_no_option_names_blocks_the_default() -> None:
    # beach parasols of straw are not fabric, and "straw" is no answer either
    parasols = [_obj("umbrella", x=0.05, w=0.3), _obj("umbrella", x=0.5, w=0.3)]
    ev = _ev(["Thatched umbrellas on a sandy beach.", "Straw umbrellas and chairs."], parasols)
    assert all(ev.material(e) is None for e in ev.several())
    assert "(unlisted)" not in ev.possible_materials()  # never a distractor value
    ev = _ev(["Umbrellas on a sandy beach.", "Blue umbrellas and chairs."], parasols)
    assert {ev.material(e).value for e in ev.several()} == {"fabric"}


def test_a_thing_that_may_lie_unboxed_is_never_verified_absent() -> None:
    # a table set with a cup: no knife box, no caption word for one, yet a knife may lie there unboxed
    table = _ev(["A cup of coffee on a wooden table.", "A table with a mug."],
                [_obj("dining table", y=0.5, w=0.9, h=0.5), _obj("cup", x=0.4, y=0.3, w=0.1, h=0.2)])
    assert "knife" not in table.all_kinds()  # the evidence names none ...
    assert {"knife", "fork", "spoon"} <= table.possible_kinds()  # ... but none is ruled out
    # a caption's class word names its members as possible: "utensils", "luggage"
    cls = _ev(["A plate of food with utensils.", "Bags on the floor next to luggage."], [_obj("bowl")])
    assert {"fork", "knife", "spoon", "suitcase", "handbag", "backpack"} <= cls.possible_kinds()
    # a street with a car has no table scene: a knife there stays verified absent
    street = _ev(["A car parked on a street.", "A blue car."], [_obj("car")])
    assert not {"knife", "fork", "spoon"} & street.possible_kinds()


def test_what_may_lie_unboxed_keeps_its_uses_possible() -> None:
    # the demo's pizza beside a wine glass and a fork: a knife lies at the plate's edge with no box and no
    # caption word, so "for cutting things" is no verified-absent use there
    pizza = _ev(["Pizza on a plate next to a wine glass and a book.", "A close up of a pizza on a plate."],
                [_obj("pizza", y=0.4, w=0.8, h=0.5), _obj("fork", x=0.05, y=0.5, w=0.05, h=0.2),
                 _obj("wine glass", x=0.7, w=0.2), _obj("book")])
    assert "knife" not in pizza.all_kinds() and "knife" in pizza.possible_kinds()
    knife = vocab().kinds["knife"]
    assert "cut" in knife.uses and vocab().option("use", "cut") == "for cutting things"
    assert set(knife.uses) <= pizza.possible_uses()
    # a street with a car: the knife's uses stay verified absent
    street = _ev(["A car parked on a street.", "A blue car."], [_obj("car")])
    assert not set(knife.uses) & street.possible_uses()


def test_the_thing_an_unnamed_use_rests_on_is_one_a_reviewer_can_see() -> None:
    # a plate on a table whose box is only the rim along the picture's bottom edge: "for putting things on"
    # may not rest on that rim; the same table filling the lower half of the picture is fine
    caps = ["A plate of food on a table.", "A table with a plate and a cup on it.", "Lunch on the table."]
    rim = _ev(caps, [_obj("dining table", x=0.0, y=0.88, w=1.0, h=0.12), _obj("cup", x=0.4, y=0.3, w=0.2, h=0.3)])
    table = _entity_box(rim, "dining table")
    assert rim.salient(table) and not rim.recognisable(table)
    assert "dining table" not in {e.kind for e in rim.present()}
    assert "cup" in {e.kind for e in rim.present()}
    whole = _ev(caps, [_obj("dining table", x=0.0, y=0.5, w=1.0, h=0.5), _obj("cup", x=0.4, y=0.3, w=0.2, h=0.3)])
    assert "dining table" in {e.kind for e in whole.present()}


def _entity_box(ev: ImageEvidence, kind: str):
    return next(e for e in ev.im.objects() if e.text == kind)


def test_a_bottle_is_for_drinking_from_only_when_a_caption_says_it_holds_a_drink() -> None:
    # a refrigerator door of sauce bottles: the bottle's category use is not this instance's
    fridge = _ev(["An open refrigerator including bottles of various food.",
                  "An open refrigerator filled up with food and condiments."],
                 [_obj("refrigerator", w=0.8, h=0.8), _obj("bottle", x=0.5, w=0.2, h=0.3)])
    assert not fridge.use_holds("bottle", "drink")
    assert "drink" not in fridge.typical_uses()
    # ... but it stays a possible use there: never a verified-absent distractor beside a bottle
    assert "drink" in fridge.possible_uses()
    # a drink named for the bottle, after "of" or before it, makes the use true
    for caption in ("Two teddy bears sharing a bottle of vodka.", "A bottle of cold beer on a table.",
                    "Beer bottles on a table.", "A water bottle on a desk."):
        ev = _ev([caption, "A table."], [_obj("bottle", w=0.3, h=0.4)])
        assert ev.use_holds("bottle", "drink"), caption
    # a drink named for something else in the caption is not the bottle's content
    other = _ev(["A glass of wine and a bottle on a table.", "A bottle beside a glass."], [_obj("bottle", w=0.3, h=0.4)])
    assert not other.use_holds("bottle", "drink")
    # kinds that serve the use whatever they hold are unchanged
    cup = _ev(["A cup on a table.", "A mug."], [_obj("cup", w=0.3, h=0.4)])
    assert cup.use_holds("cup", "drink") and "drink" in cup.typical_uses()


def test_beside_sidewalk_furniture_a_planter_may_stand_unboxed() -> None:
    # a parking meter on a sidewalk: flowers in a planter along the wall are often left unboxed, so neither
    # "for growing plants" nor "for holding flowers" is a verified-absent distractor there
    street = _ev(["A bike locked to a parking meter.", "A parking meter on a sidewalk."],
                 [_obj("parking meter", w=0.2, h=0.3), _obj("bicycle", y=0.5, w=0.6, h=0.4)])
    assert "potted plant" in street.possible_kinds()
    assert {"grow", "flowers"} <= street.possible_uses()
    # a kitchen has no such scene: nothing there serves either use
    kitchen = _ev(["A white refrigerator in a kitchen.", "A fridge with magnets."], [_obj("refrigerator", w=0.5, h=0.8)])
    assert "potted plant" not in kitchen.possible_kinds()
    assert not {"grow", "flowers"} & kitchen.possible_uses()


def test_a_picture_enough_captions_call_a_cartoon_or_cgi_is_a_depiction() -> None:
    table = [_obj("dining table", w=0.8, h=0.5)]
    cgi = _ev(["A cartoon image of a fast food meal.", "A CGI room filled with a table covered in hamburgers.",
               "A computer-generated table with food."], table)
    assert cgi.depiction()
    # one caption is not enough (perception.toml depiction_min_captions), nor a word inside another phrase
    once = _ev(["A cartoon drawn on a napkin on a table.", "A table with food."], table)
    assert not once.depiction()
    photo = _ev(["A drawing room with a table.", "A man drawing at a table."], table)
    assert not photo.depiction()


def test_a_toy_of_a_kind_has_none_of_its_uses_and_no_default_material() -> None:
    # COCO boxes a toy train "train": it takes no one anywhere and is seldom metal
    toy = _ev(["A toy train on a wooden track.", "A small toy steam train on the floor."], [_obj("train", w=0.6, h=0.4)])
    assert toy.named_as_toy("train")
    assert not toy.use_holds("train", "transport") and "transport" not in toy.typical_uses()
    assert toy.material(_entity(toy, "train")) is None
    # ... but a material a caption states for it still counts
    wooden = _ev(["A wooden toy train on the floor.", "A wooden toy train."], [_obj("train", w=0.6, h=0.4)])
    assert wooden.material(_entity(wooden, "train")).value == "wood"
    # a real train keeps both; a toy word before another noun says nothing of the train
    real = _ev(["A train at a station.", "A child with a toy watches a train."], [_obj("train", w=0.6, h=0.4)])
    assert not real.named_as_toy("train")
    assert "transport" in real.typical_uses() and real.material(_entity(real, "train")).value == "metal"
    # a kind whose use is to be a toy is untouched by the word
    bear = _ev(["A stuffed teddy bear on a bed.", "A plush teddy bear."], [_obj("teddy bear", w=0.4, h=0.5)])
    assert not bear.named_as_toy("teddy bear") and "toy" in bear.typical_uses()
