"""Option rotation for circular scoring (VLMEvalKit's CircularEval), used by the runner and the export packs.

Rotation ``k`` of options ``A..D`` puts the original option ``(i + k) mod n`` at letter ``i`` (ABCD, BCDA,
CDAB, DABC for k = 0..3), so every option text takes every letter once; the answer letter moves with its text.
"""

from __future__ import annotations

ROTATION_SEP = "@r"


def rotate(options: dict[str, str], answer: str, k: int) -> tuple[dict[str, str], str]:
    """(rotated options, the answer's letter after rotation ``k``)."""
    letters = list(options)
    n = len(letters)
    if answer not in options:
        raise ValueError(f"answer {answer!r} is not one of {letters}")
    texts = [options[letters[(i + k) % n]] for i in range(n)]
    new_answer = letters[(letters.index(answer) - k) % n]
    return dict(zip(letters, texts)), new_answer


def rotations(options: dict[str, str], answer: str) -> list[tuple[int, dict[str, str], str]]:
    """Every rotation, k = 0 (the original) first."""
    return [(k, *rotate(options, answer, k)) for k in range(len(options))]


def rotation_id(item_id: str, k: int) -> str:
    """The id of rotation ``k`` of an item: the item's own id for k = 0, ``<id>@r<k>`` otherwise."""
    return item_id if k == 0 else f"{item_id}{ROTATION_SEP}{k}"
