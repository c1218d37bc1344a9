"""The bundled demo (demo/images: 51 CC BY / BY-SA COCO photos) + the bundled real ConceptNet subset +
the project's COCO pack: every MMRA subtask yields valid candidates without ../shared/data."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmrakit.builders import build
from mmrakit.images.importer import import_images
from mmrakit.records import CandidateStore
from mmrakit.relations import bundled_subset
from mmrakit.relations.ingest import ingest
from mmrakit.subtasks import mmra_subtasks
from mmrakit.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]
DEMO_IMAGES = REPO / "demo" / "images" / "images.jsonl"


@pytest.mark.skipif(not DEMO_IMAGES.exists(), reason="demo/images not bundled in this checkout")
def test_every_subtask_yields_candidates_on_the_bundled_demo(tmp_path):
    ws = Workspace.init(tmp_path / "ws")
    ingest(ws, bundled_subset())
    ingest(ws, REPO / "demo" / "relations" / "mmrakit-coco-pack.tsv", format="pack")
    import_images(ws, str(DEMO_IMAGES), "jsonl")
    report = build(ws, per_subtask=4, seed=0)
    kept = {s["task"]: s["kept"] for s in report["subtasks"]}
    assert set(kept) == set(mmra_subtasks())
    # the demo's captions state no shared visible state / linked activities, and no pair of its photos with
    # a shared activity has another activity in each photo (a SimilarEvent item either photo alone decides
    # is filtered as single-image answerable; its two photos whose caption-stated close-up the boxes back have
    # no farther shot of a near caption as their hard "No"; its few photos whose boxes and captions agree on a
    # composition find no same-scene-kind partner whose caption similarity keeps the Yes/No drift within bounds)
    perceived = {"MentalitySimilarity", "SubEvent", "SimilarEvent", "ObservationAngle", "Layout"}
    assert all(n >= 1 for t, n in kept.items() if t not in perceived), kept
    for s in report["subtasks"]:
        if s["kept"] == 0:
            assert s["missing_evidence"], s  # says which evidence was missing
    store = CandidateStore(ws)
    for task in mmra_subtasks():
        for c in store.list(task=task):
            assert c.evidence.notes["rule"] and c.evidence.caption_similarity is not None
            assert all(e.dataset and e.dataset.startswith("/d/") for e in c.evidence.edges)
    ws.close()
