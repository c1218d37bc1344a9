"""Pixel colour readings (images/colour.py) and the AppearanceSimilarity checks built on them."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from mmrakit.builders import build_candidates, open_context
from mmrakit.images.colour import accepts, name_lab, read_box, shade_difference, to_lab
from mmrakit.images.importer import import_images
from mmrakit.models import Box
from mmrakit.relations.ingest import ingest
from mmrakit.workspace import Workspace

sys.path.insert(0, str(Path(__file__).parent))
from test_build_tiny import PACK, make_tiny_pool  # noqa: E402


@pytest.mark.parametrize("rgb, name", [
    ((255, 0, 0), "red"), ((128, 0, 0), "red"), ((255, 165, 0), "orange"), ((139, 69, 19), "brown"),
    ((255, 255, 0), "yellow"), ((0, 128, 0), "green"), ((0, 0, 255), "blue"), ((0, 0, 128), "blue"),
    ((128, 0, 128), "purple"), ((255, 192, 203), "pink"), ((255, 105, 180), "pink"), ((250, 250, 250), "white"),
    ((128, 128, 128), "gray"), ((10, 10, 10), "black"), ((25, 35, 70), "blue"),
])
def test_reference_colours_get_their_basic_names(rgb, name):
    assert name_lab(to_lab(np.array([rgb], dtype=float) / 255.0))[0] == name


def _picture(background, shape, fill, size=(200, 160)) -> Image.Image:
    img = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(img)
    getattr(draw, shape[0])(shape[1], fill=fill)
    return img


def test_the_reading_is_of_the_thing_not_of_the_background_in_its_box():
    """A thin red ring on grass: most of its box is green, GrabCut's foreground is red."""
    img = Image.new("RGB", (200, 160), (50, 140, 50))
    ImageDraw.Draw(img).ellipse([60, 40, 140, 120], outline=(210, 25, 25), width=12)
    box = Box(x=55 / 200, y=35 / 160, w=90 / 200, h=90 / 160)
    reading = read_box(img, box)
    assert reading.share("red") > 0.5 > reading.share("green"), reading.summary()
    inner = np.asarray(img.crop((73, 53, 127, 107)))  # what the box's inner part alone would show: grass
    assert (inner[..., 1] > inner[..., 0]).mean() > 0.5


def test_white_under_a_dim_light_reads_white_and_a_night_photo_stays_dark():
    dim = _picture((60, 60, 62), ("rectangle", [50, 40, 150, 120]), (150, 150, 152))  # L* 62 is the photo's white
    box = Box(x=0.2, y=0.2, w=0.6, h=0.6)
    assert read_box(dim, box).ranked()[0][0] == "white"
    night = _picture((5, 5, 5), ("rectangle", [50, 40, 150, 120]), (30, 30, 32))
    assert read_box(night, box).ranked()[0][0] == "black"


def test_shades_of_one_colour_name_are_compared():
    red, maroon, red2 = (to_lab(np.array(c, dtype=float) / 255.0) for c in ((220, 20, 20), (120, 10, 20), (200, 30, 25)))
    assert shade_difference(red, red2) < 15 < shade_difference(red, maroon)
    assert set(accepts("white")) >= {"white", "gray"} and accepts("red") == ["red"]


def test_a_box_too_small_gives_no_reading():
    img = _picture((0, 0, 0), ("rectangle", [0, 0, 3, 3]), (255, 0, 0))
    assert read_box(img, Box(x=0, y=0, w=0.02, h=0.02)) is None


POOL = {
    "red1": (["A red car parked on the street", "A red car by the curb"], [("car", [0.1, 0.15, 0.7, 0.7])]),
    "red2": (["A red bus on a city street", "A red bus waiting at a stop"], [("bus", [0.15, 0.1, 0.7, 0.75])]),
    "blue1": (["A blue truck on the street", "A blue truck parked"], [("truck", [0.1, 0.2, 0.75, 0.6])]),
    "liar": (["A white car parked on the street", "A white car on a road"], [("car", [0.12, 0.2, 0.7, 0.6])]),
    "maroon": (["A red truck on a city street", "A red truck parked by a store"], [("truck", [0.1, 0.1, 0.75, 0.7])]),
    "snowy": (["A white truck on the street", "A white truck parked by the road"], [("truck", [0.15, 0.2, 0.7, 0.6])]),
    "ash": (["A gray car on a city street", "A gray car parked on the street"], [("car", [0.1, 0.2, 0.75, 0.6])]),
    "coal": (["A black car on the street", "A black car parked by a curb"], [("car", [0.1, 0.15, 0.75, 0.65])]),
}


def _ws(tmp_path, repaint: dict) -> Workspace:
    ws = Workspace.init(tmp_path / "ws")
    ingest(ws, PACK, format="pack")
    folder = tmp_path / "pool"
    jsonl = make_tiny_pool(folder, POOL)
    for name, fill in repaint.items():  # pixels that contradict the captions
        img = Image.open(folder / f"{name}.jpg").convert("RGB")
        (cat, (x, y, w, h)), = POOL[name][1]
        ImageDraw.Draw(img).rectangle([x * 320, y * 240, (x + w) * 320, (y + h) * 240], fill=fill)
        img.save(folder / f"{name}.jpg", quality=90)
    import_images(ws, str(jsonl), "jsonl")
    return ws


def test_appearance_keeps_only_colours_the_pixels_show(tmp_path):
    """A "white" car painted blue is never named; a "red" truck painted maroon is no "same colour" as bright red
    things; every kept item records its pixel reading."""
    ws = _ws(tmp_path, {"liar": (30, 60, 200), "maroon": (95, 15, 20)})
    res = build_candidates(open_context(ws, 0), ["AppearanceSimilarity"], {"AppearanceSimilarity": 10})["AppearanceSimilarity"]
    missing = res.missing
    assert missing.get("the thing's pixels do not show the caption-stated colour", 0) >= 1
    assert missing.get("the two things' shades of the stated colour differ (CIEDE2000)", 0) >= 1
    names = {c.image1 for c in res.kept} | {c.image2 for c in res.kept}
    pool = open_context(ws, 0).pool
    by_name = {Path(str(pool[s].path)).stem: s for s in pool.order}
    assert by_name["liar"] not in names
    assert res.kept
    for c in res.kept:
        check = c.evidence.notes["pixel_check"]
        assert check["method"].startswith("CIELAB")
        if c.answer == "Yes":
            assert check["shade_difference"] <= 15
            assert by_name["maroon"] not in (c.image1, c.image2)
        else:
            own1, other1 = check["image1_own_other"]
            assert own1 >= 2 * other1
            greys = {c.evidence.notes["colour1"], c.evidence.notes["colour2"]}
            assert greys & {"red", "blue"} or greys == {"white", "black"}, greys  # never white / gray, gray / black
    assert missing.get("two greys told apart only by the light (white / gray, gray / black)", 0) >= 1


def test_every_colour_question_says_which_image_holds_which_thing():
    """Both photos may hold both kinds (a cat photo with a budgerigar, a gull photo): every phrasing ties
    {a} to the first image and {b} to the second."""
    from mmrakit.builders.rules import templates

    phrasings = templates()["AppearanceSimilarity"].phrasings("tf")
    assert len(phrasings) >= 3
    for p in phrasings:
        assert "{a}" in p and "{b}" in p and "first" in p and "second" in p, p


def test_the_reading_follows_the_exif_orientation_the_boxes_use(tmp_path):
    """Boxes are drawn on the EXIF-oriented photo (the pool's view): a camera JPEG stored sideways with an
    orientation tag is read the way the boxes see it, not as stored."""
    ws = Workspace.init(tmp_path / "ws")
    ingest(ws, PACK, format="pack")
    pool = {  # things in a corner: turned a quarter, their boxes would fall on noise
        "red1": (["A red car parked on the street", "A red car by the curb"], [("car", [0.05, 0.05, 0.4, 0.4])]),
        "red2": (["A red bus on a city street", "A red bus waiting at a stop"], [("bus", [0.05, 0.05, 0.45, 0.42])]),
        "blue1": (["A blue truck on the street", "A blue truck parked"], [("truck", [0.04, 0.06, 0.42, 0.4])]),
    }
    folder = tmp_path / "pool"
    jsonl = make_tiny_pool(folder, pool)
    for name in pool:  # store each photo turned a quarter, with the tag that turns it back
        upright = Image.open(folder / f"{name}.jpg").convert("RGB")
        exif = Image.Exif()
        exif[0x0112] = 6  # "rotate 90 CW to view"
        upright.transpose(Image.Transpose.ROTATE_90).save(folder / f"{name}.jpg", quality=90, exif=exif)
    import_images(ws, str(jsonl), "jsonl")
    res = build_candidates(open_context(ws, 0), ["AppearanceSimilarity"], {"AppearanceSimilarity": 4})["AppearanceSimilarity"]
    assert res.missing.get("the thing's pixels do not show the caption-stated colour", 0) == 0, res.missing
    assert any(c.answer == "Yes" for c in res.kept)  # the two red things, read upright


def test_the_pixel_names_are_the_colours_the_builders_ask_about():
    """One colour vocabulary: every colour a caption may state has its pixel names, and naming yields no
    colour the builders do not know."""
    from mmrakit.builders.instances import vocab
    from mmrakit.images.colour import rules

    asked = set(vocab().dimensions["colour"]["values"])
    assert set(rules()["accepts"]) == asked
    from mmrakit.images.colour import GREYS

    named = {r["name"] for r in rules()["chromatic"]} | set(GREYS)
    assert named == asked
    assert all(set(v) <= asked for v in rules()["accepts"].values())
