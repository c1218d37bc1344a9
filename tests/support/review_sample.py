"""Hand-made candidates on real generated images, for tests, benchmarks and trying review out.

The builders produce the real candidates; this only writes small PNG files, registers them in
the image catalogue and inserts candidates that exercise both QA types.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from mmrakit.models import Candidate, ImageRecord
from mmrakit.records import CandidateStore, ImageCatalog
from mmrakit.workspace import Workspace

SUBTASKS = ("UsageSimilarity", "Environment")
COLOURS = [(220, 60, 60), (60, 160, 60), (60, 90, 220), (230, 180, 40), (150, 60, 200), (40, 190, 200)]


def make_images(ws: Workspace, folder: Path, n: int, *, tag: str = "") -> list[str]:
    """Write ``n`` distinct 96x64 PNGs into ``folder`` and register them; returns their sha256s.

    The same ``n`` and ``tag`` give the same bytes; another ``tag`` gives other images."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    records, shas = [], []
    for i in range(n):
        img = Image.new("RGB", (96, 64), COLOURS[i % len(COLOURS)])
        draw = ImageDraw.Draw(img)
        draw.rectangle([8 + (i * 7) % 40, 8, 40 + (i * 7) % 40, 40 + i % 16], fill=(255, 255, 255))
        draw.text((6, 46), f"img {i} {tag}".rstrip(), fill=(0, 0, 0))
        path = folder / f"img{i:05d}.png"
        img.save(path)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        records.append(ImageRecord(sha256=sha, width=96, height=64, format="PNG", mode="RGB", path=str(path),
                                   source="tests.support.review_sample"))
        shas.append(sha)
    ImageCatalog(ws).upsert(records)
    return shas


def make_candidates(shas: list[str], n: int, *, builder_version: str = "sample-1") -> list[Candidate]:
    """``n`` candidates alternating Choice QA and True-or-false QA over consecutive image pairs."""
    out = []
    for i in range(n):
        a, b = shas[(2 * i) % len(shas)], shas[(2 * i + 1) % len(shas)]
        task = SUBTASKS[i % len(SUBTASKS)]
        if i % 2 == 0:
            out.append(Candidate(
                task=task, granularity="image", qa_type="Choice QA",
                question=f"Item {i}: what do the objects in the two images have in common?",
                options={"A": "Both are used to cut", "B": "Both are found in a kitchen", "C": "Both are red",
                         "D": "Nothing"},
                answer="B", image1=a, image2=b, builder_version=builder_version))
        else:
            out.append(Candidate(
                task=task, granularity="image", qa_type="True or false QA",
                question=f"Item {i}: are the two scenes in the same kind of place?", answer="Yes",
                image1=a, image2=b, builder_version=builder_version))
    return out


def seed(ws: Workspace, folder: Path, n_candidates: int, *, builder_version: str = "sample-1") -> list[Candidate]:
    shas = make_images(ws, folder, min(max(2, 2 * n_candidates), 64))
    cands = make_candidates(shas, n_candidates, builder_version=builder_version)
    CandidateStore(ws).upsert(cands)
    return cands


def annotation_result(verdict: str, answer: str | None = None, reasons: tuple[str, ...] = (),
                      corrected_question: str | None = None) -> list[dict]:
    """A Label Studio annotation ``result`` as the reviewer form produces it (for simulated reviewers)."""
    def choices(name: str, values: list[str]) -> dict:
        return {"from_name": name, "to_name": "question", "type": "choices", "value": {"choices": values}}

    out = [choices("verdict", [verdict])]
    if answer is not None:
        out.append(choices("answer", [answer]))
    if reasons:
        out.append(choices("reasons", list(reasons)))
    if corrected_question:
        out.append({"from_name": "corrected_question", "to_name": "question", "type": "textarea",
                    "value": {"text": [corrected_question]}})
    return out
