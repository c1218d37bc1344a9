"""Export stage benchmark: time and size per output format, validate, import, and the embedding choice.

Run: ``.venv/bin/python -m benchmarks.bench_export [--items N] [--side PX]``. Builds a throwaway
workspace with N validated two-image items (distinct JPEG photos-like noise images, PX wide), then
measures side by side in one run:
  * each output format (hf save_to_disk, parquet shards, lmms-eval pack, VLMEvalKit TSV),
  * ``export validate`` (decodes every image), ``import-dataset`` of the export,
  * mmrakit's way of embedding (path-based Dataset + ``embed_table_storage``, shared setup-notes
    §1.4) against handing the image bytes to ``Dataset.from_dict`` directly.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(ws_root: Path, n_items: int, side: int):
    from mmrakit.models import Candidate, ImageRecord
    from mmrakit.records import CandidateStore, ImageCatalog
    from mmrakit.util import sha256_file
    from mmrakit.workspace import Workspace

    ws = Workspace.init(ws_root)
    rng = np.random.default_rng(0)
    folder = ws.path("images", "pool")
    folder.mkdir(parents=True, exist_ok=True)
    records = []
    h = side * 3 // 4
    base = rng.integers(0, 255, (h // 8, side // 8, 3), dtype=np.uint8)
    for i in range(n_items * 2):
        arr = np.kron(np.roll(base, i, axis=1), np.ones((8, 8, 1), dtype=np.uint8))
        arr = (arr + rng.integers(0, 30, arr.shape, dtype=np.uint8)).astype(np.uint8)
        path = folder / f"{i:05d}.jpg"
        Image.fromarray(arr).save(path, quality=85)
        records.append(ImageRecord(sha256=sha256_file(path), width=arr.shape[1], height=arr.shape[0], format="JPEG",
                                   path=str(path), license="CC BY 4.0" if i % 7 else "CC BY-NC 2.0", source="bench"))
    ImageCatalog(ws).upsert(records)
    tasks = ["UsageSimilarity", "Environment", "SubEvent", "MentalitySimilarity"]
    cands = []
    for k in range(n_items):
        task = tasks[k % len(tasks)]
        if task == "SubEvent":
            c = Candidate(task=task, granularity="image", qa_type="True or false QA", question=f"sub-event {k}?",
                          answer="Yes" if k % 2 else "No", image1=records[2 * k].sha256, image2=records[2 * k + 1].sha256)
        else:
            gran = "image" if task == "Environment" else "entity"
            c = Candidate(task=task, granularity=gran, qa_type="Choice QA", question=f"question {k}?",
                          options={"A": "a", "B": "b", "C": "c", "D": "d"}, answer="ABCD"[k % 4],
                          image1=records[2 * k].sha256, image2=records[2 * k + 1].sha256)
        cands.append(c)
    store = CandidateStore(ws)
    store.upsert(cands)
    for c in cands:
        store.set_review(c.id, "validated", agreement=0.8)
    return ws, sum(p.stat().st_size for p in folder.iterdir())


def _dir_mb(p: Path) -> float:
    return sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) / 2**20 if p.exists() else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=300)
    ap.add_argument("--side", type=int, default=640)
    args = ap.parse_args()
    import datasets

    from mmrakit.exports.export import run_export
    from mmrakit.exports.hf import build_dataset
    from mmrakit.exports.importer import import_dataset
    from mmrakit.exports.rows import collect_rows
    from mmrakit.exports.validate import validate_export
    from mmrakit.workspace import Workspace

    datasets.disable_progress_bars()
    tmp = Path(tempfile.mkdtemp(prefix="bench-export-"))
    try:
        t = time.perf_counter()
        ws, pool_bytes = build(tmp / "ws", args.items, args.side)
        print(f"setup: {args.items} items, {2 * args.items} JPEGs {args.side}px, pool {pool_bytes / 2**20:.1f} MiB "
              f"({time.perf_counter() - t:.1f}s)")
        print(f"{'step':34s} {'seconds':>8s} {'MiB out':>8s} {'rows/s':>8s}")
        timings = {}
        for fmt in ("hf", "parquet", "lmms-eval", "vlmevalkit"):
            out = tmp / f"out-{fmt}"
            t = time.perf_counter()
            run_export(ws, out, formats=fmt, force=True)
            dt = time.perf_counter() - t
            timings[fmt] = dt
            print(f"{'export --format ' + fmt:34s} {dt:8.2f} {_dir_mb(out):8.1f} {args.items / dt:8.0f}")
        out = tmp / "out-all"
        t = time.perf_counter()
        run_export(ws, out, formats="hf,parquet,lmms-eval,vlmevalkit", with_provenance=True, force=True)
        dt = time.perf_counter() - t
        print(f"{'export all four (+provenance)':34s} {dt:8.2f} {_dir_mb(out):8.1f} {args.items / dt:8.0f}")
        t = time.perf_counter()
        rep = validate_export(out)
        dt = time.perf_counter() - t
        assert rep.ok, rep.errors
        print(f"{'export validate (all outputs)':34s} {dt:8.2f} {'':>8s} {rep.images_decoded / dt:8.0f} img/s")
        t = time.perf_counter()
        imp = import_dataset(Workspace.init(tmp / "ws-import"), str(out))
        dt = time.perf_counter() - t
        print(f"{'import-dataset (the export)':34s} {dt:8.2f} {'':>8s} {imp.imported / dt:8.0f}")

        # embedding: path-based Dataset + embed_table_storage (mmrakit) vs Python bytes handed to from_dict
        from datasets import Dataset, Features, Image as ImageFeature, Value

        rows = collect_rows(ws)
        t = time.perf_counter()
        ds = build_dataset(rows, with_provenance=False, include_unreviewed=False)
        ds.to_parquet(str(tmp / "ours.parquet"), batch_size=100)
        ours = time.perf_counter() - t
        feats = Features({"Task": Value("string"), "image1": ImageFeature(), "image2": ImageFeature()})
        t = time.perf_counter()
        direct = Dataset.from_dict({"Task": [r.task for r in rows],
                                    "image1": [{"bytes": r.image1_file.read_bytes(), "path": None} for r in rows],
                                    "image2": [{"bytes": r.image2_file.read_bytes(), "path": None} for r in rows]},
                                   features=feats)
        direct.to_parquet(str(tmp / "direct.parquet"), batch_size=100)
        theirs = time.perf_counter() - t
        print(f"{'embed: paths + embed_table_storage':34s} {ours:8.2f} {(tmp / 'ours.parquet').stat().st_size / 2**20:8.1f}")
        print(f"{'embed: bytes in from_dict':34s} {theirs:8.2f} {(tmp / 'direct.parquet').stat().st_size / 2**20:8.1f}"
              f"   ratio embed/bytes {ours / theirs:.2f}")
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(next((tmp / "out-parquet" / "data").glob("*.parquet")))
        groups = [pf.metadata.row_group(i) for i in range(pf.metadata.num_row_groups)]
        print(f"parquet row groups: {len(groups)} of <= {max(g.num_rows for g in groups)} rows, "
              f"largest {max(g.total_byte_size for g in groups) / 2**20:.1f} MiB uncompressed (viewer limit ~100-300 MiB)")
        print(f"peak RSS {_rss_mb():.0f} MiB (pool {pool_bytes / 2**20:.1f} MiB: the export holds one split's image bytes in memory)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
