"""Hand-made candidates and small generated images for the export tests (builders/review run elsewhere)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from PIL import Image, ImageDraw

from mmrakit.models import Candidate, EdgeEvidence, EntityGrounding, Evidence, ImageRecord
from mmrakit.records import CandidateStore, ImageCatalog
from mmrakit.util import sha256_file
from mmrakit.workspace import Workspace

LICENSES = ["CC BY 4.0", "CC BY-NC-SA 2.0", "CC BY 2.0", "CC0 1.0", None]


def make_images(ws: Workspace, n: int) -> list[ImageRecord]:
    """n distinct small images (PNG and JPEG, RGB and L) registered in the catalogue."""
    folder = ws.path("images", "pool")
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    for i in range(n):
        fmt = "PNG" if i % 3 else "JPEG"
        mode = "L" if i % 5 == 4 else "RGB"
        size = (48 + 3 * i, 32 + 2 * (i % 4))
        im = Image.new(mode, size, (i * 37) % 256 if mode == "L" else ((i * 37) % 256, (i * 91) % 256, 120))
        ImageDraw.Draw(im).rectangle([2, 2, 10 + i, 12], fill=255 if mode == "L" else (255, 255, 255))
        path = folder / f"img{i:02d}.{'png' if fmt == 'PNG' else 'jpg'}"
        im.save(path, format=fmt)
        records.append(ImageRecord(
            sha256=sha256_file(path), width=size[0], height=size[1], format=fmt, mode=mode,
            path=str(path.relative_to(ws.root)), url=f"https://example.org/img{i}.jpg",
            license=LICENSES[i % len(LICENSES)], source="synthetic-pool", record_id=str(i)))
    ImageCatalog(ws).upsert(records)
    return records


def _evidence(a: str, b: str, relation: str = "UsedFor") -> Evidence:
    return Evidence(
        edges=[EdgeEvidence(uri=f"/a/[/r/{relation}/,/c/en/{a}/,/c/en/{b}/]", relation=relation,
                            start=f"/c/en/{a}", end=f"/c/en/{b}", weight=2.0)],
        entities1=[EntityGrounding(concept=f"/c/en/{a}", text=a, source="caption")],
        entities2=[EntityGrounding(concept=f"/c/en/{b}", text=b, source="object")],
        caption_similarity=0.5,
    )


def make_candidates(images: list[ImageRecord]) -> list[Candidate]:
    """A mix over subtasks: 4- and 3-option Choice QA, yes/no, an order-probe twin pair, and two pair groups
    (``pair_id`` p-use: UsageSimilarity 4 and 5, gold A and B; p-sub: SubEvent 0 and 1, gold No and Yes)."""
    sha = [r.sha256 for r in images]
    opts4 = {"A": "cutting", "B": "sleeping", "C": "swimming", "D": "singing"}
    opts3 = {"A": "kitchen", "B": "beach", "C": "forest"}
    cands = []
    for k in range(6):
        cands.append(Candidate(task="UsageSimilarity", granularity="entity", qa_type="Choice QA",
                               question=f"What can the objects in both images be used for? ({k})", options=opts4,
                               answer="ABCD"[k % 4], image1=sha[k], image2=sha[k + 1], evidence=_evidence("knife", "cut"),
                               pair_id="p-use" if k in (4, 5) else None))
    for k in range(5):
        cands.append(Candidate(task="Environment", granularity="image", qa_type="Choice QA",
                               question=f"Which environment do both images share? ({k})", options=opts3,
                               answer="ABC"[k % 3], image1=sha[k + 2], image2=sha[k + 6]))
    for k in range(4):
        cands.append(Candidate(task="SubEvent", granularity="image", qa_type="True or false QA",
                               question=f"Is the second image a sub-event of the first? ({k})",
                               answer="Yes" if k % 2 else "No", image1=sha[k + 3], image2=sha[k + 8],
                               pair_id="p-sub" if k in (0, 1) else None))
    base = Candidate(task="RelativePosition", granularity="entity", qa_type="True or false QA",
                     question="Is the cup left of the plate in both images?", answer="Yes",
                     image1=sha[0], image2=sha[9], evidence=_evidence("cup", "plate", "AtLocation"))
    twin = Candidate(task="RelativePosition", granularity="entity", qa_type="True or false QA",
                     question="Is the cup left of the plate in both images?", answer="Yes",
                     image1=sha[9], image2=sha[0], order_probe=True, twin_of=base.id)
    return cands + [base, twin]


def build_workspace(ws: Workspace) -> dict:
    """Populate ``ws``; returns what the tests assert against."""
    images = make_images(ws, 12)
    cands = make_candidates(images)
    store = CandidateStore(ws)
    store.upsert(cands)
    # one filtered candidate that must never be exported
    filtered = Candidate(task="SubEvent", granularity="image", qa_type="True or false QA", question="filtered?",
                         answer="No", image1=images[10].sha256, image2=images[11].sha256)
    store.upsert([filtered], status="filtered", filter_reason="too easy")
    store.set_review(filtered.id, "validated", agreement=1.0)
    status: dict[str, str] = {}
    for i, c in enumerate(cands):
        st = "validated"
        if i in (2, 9):
            st = "unreviewed"
        elif i == 13:
            st = "rejected"
        elif i == 7:
            st = "pending"
        status[c.id] = st
        if st == "validated":
            store.set_review(c.id, st, agreement=round(0.6 + 0.1 * (i % 4), 2))
        elif st != "unreviewed":
            store.set_review(c.id, st)
    # a reviewer correction on a validated item: new answer and question
    corrected = cands[0]
    store.set_review(corrected.id, "validated", answer="C", question="Corrected: what are both objects used for?",
                     agreement=0.67)
    return {"images": images, "candidates": cands, "status": status, "corrected": corrected.id, "filtered": filtered.id}


def png_bytes(color=(10, 20, 30), size=(16, 16)) -> bytes:
    b = io.BytesIO()
    Image.new("RGB", size, color).save(b, format="PNG")
    return b.getvalue()


def read_json(path: Path) -> dict:
    return json.loads(path.read_text("utf-8"))
