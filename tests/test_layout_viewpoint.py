"""Layout and ObservationAngle evidence (images/perception.py, builders/families/geometry.py): a "Yes"
needs boxes AND captions for a composition and a caption for a viewpoint; boxes alone only ever show
that a hard negative's partner differs; camera words are not confused with gaze, lights or tricks."""

from __future__ import annotations

import pytest

from mmrakit.builders.families.geometry import LAYOUT_ASSERTED, LAYOUT_OPPOSITES
from mmrakit.builders.rules import rules, templates
from mmrakit.images.perception import Obj, attributes
from mmrakit.models import Attribute, Box


def got(attrs: list[Attribute], name: str) -> dict[str, float]:
    return {a.value: a.confidence for a in attrs if a.name == name}


DOG_CENTRE = [Obj("dog", Box(x=0.3, y=0.25, w=0.4, h=0.5))]
ONE_DOG = ["A dog sits on the grass.", "A brown dog in a park.", "The dog looks at the camera.", "A pet outside.",
           "A dog waits."]


def test_centred_subject_needs_the_captions_to_name_one_of_it() -> None:
    yes_min = float(rules()["Layout"].param("yes_min_confidence"))
    assert got(attributes(ONE_DOG, DOG_CENTRE), "layout") == {"one_subject_centre": 0.9}
    assert got(attributes(ONE_DOG, DOG_CENTRE), "layout")["one_subject_centre"] >= yes_min
    # the same box, but the captions never name a dog: boxes alone, a contrast at most
    unnamed = got(attributes(["A sunny day.", "Green grass.", "A park.", "Outside.", "Nice weather."], DOG_CENTRE), "layout")
    assert unnamed["one_subject_centre"] < yes_min
    # the captions say there are two dogs (one hidden behind the other, unboxed): not one subject
    two = got(attributes(["Two dogs sit on the grass.", "A couple of dogs in a park.", "Dogs outside.", "A pet.",
                          "A dog."], DOG_CENTRE), "layout")
    assert all(c < 0.5 for v, c in two.items() if v.startswith("one_subject")), two
    # a bigger box the captions do not talk about is not the main subject (a car cut by the frame
    # beside a parking meter the captions name)
    car = [Obj("car", Box(x=0.75, y=0.1, w=0.25, h=0.85)), Obj("parking meter", Box(x=0.3, y=0.2, w=0.1, h=0.6))]
    meter = ["A parking meter on a sidewalk.", "An old parking meter by the road.", "A parking meter next to a car.",
             "A grey parking meter.", "A parking meter in the sun."]
    assert all(c < 0.5 for c in got(attributes(meter, car), "layout").values())  # not even a contrast


def test_side_and_centre_bands_and_two_subjects_must_span_the_frame() -> None:
    left = got(attributes(ONE_DOG, [Obj("dog", Box(x=0.0, y=0.2, w=0.4, h=0.6))]), "layout")
    assert left == {"one_subject_left": 0.9}
    # centre x = 0.38: neither clearly centred nor in a side third: one subject (boxes and captions agree),
    # never a placement question, only "one large main subject" (the builder's one_main_subject)
    assert got(attributes(ONE_DOG, [Obj("dog", Box(x=0.13, y=0.25, w=0.5, h=0.5))]), "layout") == {
        "one_subject_offcentre": 0.9}
    assert "one_subject_offcentre" not in LAYOUT_ASSERTED and "one_main_subject" in LAYOUT_ASSERTED
    assert not set(LAYOUT_OPPOSITES["one_main_subject"]) & {"one_subject_centre", "one_subject_left",
                                                            "one_subject_right", "one_subject_offcentre"}
    pair = [Obj("dog", Box(x=0.05, y=0.3, w=0.3, h=0.5)), Obj("cat", Box(x=0.65, y=0.3, w=0.3, h=0.5))]
    caps = ["A dog and a cat.", "A cat next to a dog.", "Pets on a rug.", "A dog, a cat.", "Two pets."]
    assert got(attributes(caps, pair), "layout") == {"two_side_by_side": 0.8}
    # both boxes in the right half: not "one on the left and one on the right"
    right = [Obj("dog", Box(x=0.3, y=0.3, w=0.3, h=0.5)), Obj("cat", Box(x=0.68, y=0.3, w=0.3, h=0.5))]
    assert "two_side_by_side" not in got(attributes(caps, right), "layout")


def test_group_scattered_and_small_subjects() -> None:
    herd = [Obj("zebra", Box(x=0.05 + 0.3 * i, y=0.3, w=0.25, h=0.4)) for i in range(3)]
    caps = ["Three zebras grazing.", "A group of zebras on the plain.", "Zebras standing in the grass.",
            "Several zebras eat.", "Zebras in Africa."]
    assert got(attributes(caps, herd), "layout") == {"several_subjects": 0.8}
    # people standing around a parking meter the captions are about, the meter as large as the second
    # person: the group does not compose the picture (a contrast at most)
    crowd = [Obj("person", Box(x=0.6, y=0.3, w=0.25, h=0.7)), Obj("person", Box(x=0.0, y=0.3, w=0.25, h=0.6)),
             Obj("person", Box(x=0.2, y=0.35, w=0.1, h=0.5)), Obj("parking meter", Box(x=0.32, y=0.2, w=0.22, h=0.7))]
    meter = ["People standing around a parking meter.", "Several people near a parking meter.", "A parking meter.",
             "A woman by a parking machine.", "People on a sidewalk."]
    yes_min = float(rules()["Layout"].param("yes_min_confidence"))
    assert got(attributes(meter, crowd), "layout")["several_subjects"] < yes_min
    people = ["People standing on a sidewalk.", "Several people chat.", "A group of friends.", "People outside.",
              "A street."]  # the same boxes, the captions about the people: a group that composes the picture
    assert got(attributes(people, crowd), "layout")["several_subjects"] == 0.8
    # two people, or a herd of tiny animals in a landscape: not a group that composes the picture
    two = [Obj("person", Box(x=0.1, y=0.3, w=0.15, h=0.5)), Obj("person", Box(x=0.6, y=0.3, w=0.15, h=0.5))]
    assert got(attributes(["Two men in a forest.", "Two people playing.", "Men outside.", "Men.", "A game."], two),
               "layout").get("several_subjects", 0.0) < 0.8
    # a mother bear and her cub, overlapping in the middle: one subject group, not even a contrast
    cub = [Obj("bear", Box(x=0.35, y=0.3, w=0.25, h=0.4)), Obj("bear", Box(x=0.45, y=0.45, w=0.15, h=0.25))]
    assert got(attributes(["Two polar bears.", "A bear and her cub.", "Bears on rocks.", "A zoo.", "Polar bears."], cub),
               "layout").get("several_subjects", 0.0) < 0.5
    tiny = [Obj("horse", Box(x=0.2 + 0.2 * i, y=0.7, w=0.1, h=0.1)) for i in range(3)]
    assert got(attributes(["Horses on a hill.", "Several horses by a lake.", "Horses graze.", "A lake.", "Hills."], tiny),
               "layout").get("several_subjects", 0.0) < 0.8
    clutter = [Obj(c, Box(x=0.14 * i, y=0.25 * (i % 3), w=0.15, h=0.2)) for i, c in
               enumerate(["cup", "bowl", "bottle", "knife", "fork", "spoon"])]
    table = ["Many dishes on a table.", "Various kitchen items.", "A table with cups and bowls.", "Dishes.", "Food."]
    assert got(attributes(table, clutter), "layout") == {"many_scattered": 0.8}
    assert got(attributes(["Dishes.", "Food.", "A table.", "Cups.", "Bowls."], clutter), "layout") == {"many_scattered": 0.6}
    tiny = [Obj("person", Box(x=0.5, y=0.6, w=0.1, h=0.2))]
    assert got(attributes(["A man on a beach.", "Waves on the beach.", "A person by the sea.", "Sand.", "Sky."], tiny),
               "layout") == {"small_subjects": 0.6}
    # only small boxes and no place named: an unboxed thing may fill the frame, nothing usable
    assert got(attributes(["A red bush.", "Flowers.", "A stop sign.", "Leaves.", "A tree."], tiny), "layout")[
        "small_subjects"] < 0.5


def test_layout_classes_are_exclusive_data_and_every_asserted_class_has_a_question() -> None:
    for x, opposite in LAYOUT_OPPOSITES.items():
        assert x not in opposite
        for y in opposite:  # exclusivity is symmetric where both are defined
            assert x in LAYOUT_OPPOSITES.get(y, {x}), (x, y)
    forms = templates()["Layout"].forms
    for x in LAYOUT_ASSERTED:
        assert forms[x] and all("?" in q for q in forms[x]), x
    assert "tf" not in forms  # no vague "similar layout?" question is left


def test_viewpoint_words_are_about_the_camera() -> None:
    def views(caps: list[str]) -> set[str]:
        return {v for v, c in got(attributes(caps, []), "viewpoint").items() if c >= 0.5}

    assert views(["An aerial view of a city.", "A city.", "Buildings.", "Streets.", "Roofs."]) == {"high_angle"}
    assert views(["A kitchen with overhead lights.", "A kitchen.", "Lights.", "Cabinets.", "A room."]) == set()
    assert views(["A skateboarder does an aerial trick.", "A skater.", "A ramp.", "A jump.", "A boy."]) == set()
    assert views(["A man looking down on his phone.", "A man.", "A phone.", "A street.", "A guy."]) == set()
    assert views(["Food seen from above.", "A plate.", "Lunch.", "A meal.", "Food."]) == {"high_angle"}


def test_shot_yes_needs_a_caption_boxes_only_contrast() -> None:
    yes_min = float(rules()["ObservationAngle"].param("yes_min_confidence"))
    big = [Obj("cat", Box(x=0.1, y=0.1, w=0.8, h=0.8))]
    plain = ["A cat on a bed.", "A cat lying down.", "A white cat.", "The cat sleeps.", "A cat."]
    boxes_only = got(attributes(plain, big), "shot")
    assert 0.5 <= boxes_only["close_up"] < yes_min  # a contrast for a hard negative, never a "Yes"
    stated = got(attributes(["A close up of a cat.", *plain[1:]], big), "shot")
    assert stated["close_up"] >= yes_min
    # "in the distance" about the background of a large subject is not a wide shot
    far = got(attributes(["A cat with hills in the distance.", *plain[1:]], big), "shot")
    assert far.get("wide", 0.0) < 0.5
    tiny = [Obj("person", Box(x=0.5, y=0.5, w=0.05, h=0.1))]
    far_ok = got(attributes(["A skier in the distance on a snowy slope.", "A person skiing on the slope.",
                             "A skier.", "Snow.", "A man skis down a slope."], tiny), "shot")
    assert far_ok["wide"] >= yes_min


def test_shot_yes_from_captions_needs_the_boxes_to_agree() -> None:
    """A dataset 'Yes' needs the caption AND the boxes: "a close up of a pizza" whose pizza is a fifth of
    the picture is no close-up both photos clearly show (the strict judge rejected such pairs)."""
    yes_min = float(rules()["ObservationAngle"].param("yes_min_dataset_confidence"))
    caps = ["A close up of a pizza on a plate.", "A pizza on a table.", "A plate with pizza.", "Pizza and wine.",
            "A meal."]
    small = [Obj("pizza", Box(x=0.3, y=0.3, w=0.4, h=0.5))]  # 20% of the picture
    large = [Obj("pizza", Box(x=0.05, y=0.05, w=0.9, h=0.8))]  # 72%
    assert 0.5 <= got(attributes(caps, small), "shot")["close_up"] < yes_min
    assert got(attributes(caps, large), "shot")["close_up"] >= yes_min
    one = ["Food seen from above.", "A plate.", "Lunch.", "A meal.", "Food."]
    assert got(attributes(one, []), "viewpoint")["high_angle"] < yes_min  # one caption: not asserted
    two = ["Food seen from above.", "A top view of a plate.", "Lunch.", "A meal.", "Food."]
    assert got(attributes(two, []), "viewpoint")["high_angle"] >= yes_min


def test_a_source_with_one_caption_needs_that_caption() -> None:
    """A VLM or a one-caption dataset: the one caption must name the subject (two of five for COCO)."""
    assert got(attributes(["A dog sits on the grass in a park."], DOG_CENTRE), "layout") == {"one_subject_centre": 0.9}
    yes_min = float(rules()["Layout"].param("yes_min_confidence"))
    assert got(attributes(["A sunny park."], DOG_CENTRE), "layout")["one_subject_centre"] < yes_min
    # five captions, one naming the dog: not enough
    assert got(attributes(["A dog in a park.", "A sunny day.", "Green grass.", "A park.", "Outside."], DOG_CENTRE),
               "layout")["one_subject_centre"] < yes_min
