"""The colours of one boxed thing, read from its pixels.

Captions state a colour for an instance ("a red car"); the pixels say whether the thing in the box shows it, and in
what shade. The thing's pixels (GrabCut's foreground in the box, with OpenCV) are converted from sRGB to CIELAB
with colour-science, and each is named with a basic colour term from its lightness (for the greys, against the
photo's own white), chroma and hue (bounds kept as data in ``data/colours.toml``); the reading keeps the share
of each name and the mean CIELAB shade of its pixels. Two things both called "red" can then be compared: a bright red bicycle and a maroon car differ by a
large CIEDE2000 distance (:func:`shade_difference`).
"""

from __future__ import annotations

import tomllib
import warnings
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import numpy as np
from PIL import Image

from mmrakit.models import Box


GREYS = ("white", "gray", "black")  # the grey-scale names; every other name is a hue


@lru_cache(maxsize=1)
def rules() -> dict:
    return tomllib.loads(resources.files(__package__).joinpath("data", "colours.toml").read_text("utf-8"))


def _colour():
    with warnings.catch_warnings():  # colour-science warns at import about optional plotting extras
        warnings.simplefilter("ignore")
        import colour
    return colour


@dataclass(frozen=True)
class ColourReading:
    """Named pixels of one box: share of each colour name and the mean CIELAB (L*, a*, b*) of its pixels."""

    pixels: int
    shares: dict[str, float] = field(default_factory=dict)
    shades: dict[str, tuple[float, float, float]] = field(default_factory=dict)

    def share(self, name: str) -> float:
        return self.shares.get(name, 0.0)

    def ranked(self) -> list[tuple[str, float]]:
        return sorted(self.shares.items(), key=lambda kv: (-kv[1], kv[0]))

    def summary(self, top: int = 3) -> dict[str, float]:
        return {k: round(v, 3) for k, v in self.ranked()[:top]}

    def share_of(self, names) -> float:
        return sum(self.shares.get(n, 0.0) for n in set(names))

    def shade_of(self, names) -> tuple[float, float, float] | None:
        """Mean CIELAB of the pixels carrying any of ``names`` (None when there are none)."""
        names = [n for n in set(names) if self.shares.get(n)]
        total = sum(self.shares[n] for n in names)
        if not total:
            return None
        return tuple(sum(self.shares[n] * self.shades[n][i] for n in names) / total for i in range(3))


def accepts(stated: str) -> list[str]:
    """Pixel names that count as showing a caption-stated colour (data: ``[accepts]``)."""
    return list(rules()["accepts"].get(stated, [stated]))


def chromatic(name: str) -> bool:
    return name not in GREYS


def to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB values in [0, 1] (any shape ending in 3) -> CIELAB under D65."""
    c = _colour()
    return c.XYZ_to_Lab(c.sRGB_to_XYZ(rgb))


def name_lab(lab: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """One basic colour name per CIELAB row (an object array of strings). ``gain`` scales the lightness that
    tells white from gray from black (the photo's own white); chromatic names read the lightness as it is."""
    r = rules()
    lab = np.asarray(lab, dtype=np.float64).reshape(-1, 3)
    L, a, b = lab[:, 0], lab[:, 1], lab[:, 2]
    chroma = np.hypot(a, b)
    hue = np.degrees(np.arctan2(b, a)) % 360.0
    names = np.full(len(lab), "", dtype=object)
    ach = r["achromatic"]
    hi, lo, dark = float(ach["max_chroma"]), float(ach["min_chroma"]), float(ach["dark_l"])
    grey = chroma < np.where(L < dark, lo + (hi - lo) * np.clip(L, 0, None) / dark, hi)
    seen_l = np.minimum(100.0, L * gain)
    white, gray, black = GREYS
    names[grey & (seen_l < float(ach["black_below"]))] = black
    names[grey & (seen_l > float(ach["white_above"]))] = white
    names[grey & (names == "")] = gray
    for rule in r["chromatic"]:
        lo, hi = (float(x) for x in rule["hue"])
        in_hue = (hue >= lo) & (hue < hi) if lo < hi else (hue >= lo) | (hue < hi)
        ok = (names == "") & in_hue
        if "min_l" in rule:
            ok &= L >= float(rule["min_l"])
        if "max_l" in rule:
            ok &= L <= float(rule["max_l"])
        names[ok] = rule["name"]
    return names


def read_box(image: Image.Image, box: Box) -> ColourReading | None:
    """The colour names of the thing in ``box`` (normalised) in ``image``; None when it holds too few pixels.

    The thing's pixels are the foreground OpenCV's GrabCut finds in the box (a bicycle's box is mostly road, a
    gull's mostly sky); when GrabCut keeps too few, the inner part of the box (``inset`` trimmed from each side).
    Lightness is read against the photo's own white (its ``white_percentile`` lightness counts as L* 100, at
    most ``max_gain`` times brighter): a white truck under a grey sky is still white."""
    m = rules()["measure"]
    rgb = image.convert("RGB")
    scale = min(1.0, float(m["work_side"]) / max(rgb.size))
    if scale < 1.0:
        rgb = rgb.resize((max(1, round(rgb.width * scale)), max(1, round(rgb.height * scale))),
                         Image.Resampling.BILINEAR)
    arr = np.asarray(rgb, dtype=np.uint8)
    h, w = arr.shape[:2]
    x0, y0 = int(box.x * w), int(box.y * h)
    x1, y1 = min(w, int(np.ceil((box.x + box.w) * w))), min(h, int(np.ceil((box.y + box.h) * h)))
    if (x1 - x0) * (y1 - y0) < int(m["min_pixels"]):
        return None
    pixels = _foreground(arr, (x0, y0, x1, y1), int(m["min_pixels"]))
    if pixels is None:
        inset = float(m["inset"])
        ix, iy = int((x1 - x0) * inset), int((y1 - y0) * inset)
        pixels = arr[y0 + iy:y1 - iy, x0 + ix:x1 - ix].reshape(-1, 3)
        if len(pixels) < int(m["min_pixels"]):
            return None
    lab = to_lab(pixels.astype(np.float64) / 255.0)
    white = float(np.percentile(to_lab(arr.reshape(-1, 3)[:: max(1, arr.shape[0] * arr.shape[1] // 20000)]
                                       .astype(np.float64) / 255.0)[:, 0], float(m["white_percentile"])))
    names = name_lab(lab, gain=max(1.0, min(float(m["max_gain"]), 100.0 / max(white, 1.0))))
    shares: dict[str, float] = {}
    shades: dict[str, tuple[float, float, float]] = {}
    for name in sorted(set(names)):
        sel = names == name
        shares[name] = float(sel.mean())
        shades[name] = tuple(round(float(v), 2) for v in lab[sel].mean(axis=0))
    return ColourReading(pixels=len(names), shares=shares, shades=shades)


def _foreground(arr: np.ndarray, rect: tuple[int, int, int, int], least: int) -> np.ndarray | None:
    """RGB rows of the pixels GrabCut (seeded, a fixed number of rounds) calls foreground in ``rect``."""
    import cv2

    x0, y0, x1, y1 = rect
    if x1 - x0 < 3 or y1 - y0 < 3 or (x0 == 0 and y0 == 0 and x1 == arr.shape[1] and y1 == arr.shape[0]):
        return None  # GrabCut needs some background around the box
    mask = np.zeros(arr.shape[:2], np.uint8)
    cv2.setRNGSeed(0)
    try:
        cv2.grabCut(np.ascontiguousarray(arr[:, :, ::-1]), mask, (x0, y0, x1 - x0, y1 - y0),
                    np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64),
                    int(rules()["measure"]["grabcut_rounds"]), cv2.GC_INIT_WITH_RECT)
    except cv2.error:
        return None
    fg = (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)
    if int(fg.sum()) < least:
        return None
    return arr[fg]


def shade_difference(lab1, lab2) -> float:
    """CIEDE2000 distance between two CIELAB colours: about 2 is just noticeable; red #dc1414 against the
    same red in shade #960f0f is 14, against maroon #780a14 21."""
    return float(_colour().delta_E(np.asarray(lab1, dtype=np.float64), np.asarray(lab2, dtype=np.float64),
                                   method="CIE 2000"))
