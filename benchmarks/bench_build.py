"""Build throughput: candidates per second on a synthetic pool of 10,000 images with a synthetic graph.

Target (issue 5): 1,000 kept candidates (91 per subtask x 11) in under 60 s on 2 cores.
Measured side by side in one run: the same pool and edges with the graph held in memory
(MemoryGraph) and served by the real SQLite relation store (RelationStore via StoreGraph, after a
real `relations ingest` of the edges as a pack).

    .venv/bin/python -m benchmarks.bench_build [--images 10000] [--per-subtask 91]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from mmrakit.builders import BuildContext, build_candidates, resolve_subtasks
from mmrakit.builders.graph import StoreGraph
from tests.support.synthetic import synthetic_graph, synthetic_pool


def write_pack(graph, path: Path) -> int:
    rows = ["start\trelation\tend\tweight"]
    seen = set()
    for edges in graph._fwd.values():
        for e in edges:
            key = (e.start, e.relation, e.end)
            if key in seen or (e.end, e.relation, e.start) in seen and e.relation == "LocatedNear":
                continue
            seen.add(key)
            rows.append(f"{e.start}\t{e.relation}\t{e.end}\t{e.weight:g}")
    path.write_text("\n".join(rows) + "\n")
    return len(rows) - 1


def timed_build(graph, pool, subtasks, per_subtask, seed=0):
    ctx = BuildContext(graph=graph, pool=pool, seed=seed, caption_band=(0.05, 0.8))
    per_task = {}
    kept = 0
    t0 = time.perf_counter()
    for task in subtasks:
        t = time.perf_counter()
        res = build_candidates(ctx, [task], {task: per_subtask})[task]
        per_task[task] = (len(res.kept), res.mined, time.perf_counter() - t)
        kept += len(res.kept)
    return kept, time.perf_counter() - t0, per_task


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=10_000)
    ap.add_argument("--objects", type=int, default=200)
    ap.add_argument("--per-subtask", type=int, default=91)
    ap.add_argument("--skip-store", action="store_true", help="only the in-memory graph")
    args = ap.parse_args()
    subtasks = resolve_subtasks("all")
    print(f"cores available: {len(os.sched_getaffinity(0))}; images {args.images}; objects {args.objects}; "
          f"target {args.per_subtask} x {len(subtasks)} = {args.per_subtask * len(subtasks)} candidates")
    t = time.perf_counter()
    graph, vocab = synthetic_graph(args.objects, seed=0)
    pool = synthetic_pool(vocab, args.images, seed=0)
    print(f"synthetic graph + pool (incl. TF-IDF caption vectors): {time.perf_counter() - t:.1f} s")

    results = {}
    kept, secs, per_task = timed_build(graph, pool, subtasks, args.per_subtask)
    results["memory graph"] = (kept, secs, per_task)
    if not args.skip_store:
        from mmrakit.relations.ingest import ingest
        from mmrakit.relations import RelationStore
        from mmrakit.workspace import Workspace

        with tempfile.TemporaryDirectory() as tmp:
            ws = Workspace.init(Path(tmp) / "ws")
            n = write_pack(graph, Path(tmp) / "synthetic-pack.tsv")
            t = time.perf_counter()
            ingest(ws, Path(tmp) / "synthetic-pack.tsv", format="pack")
            print(f"ingested {n} synthetic edges into the SQLite relation store: {time.perf_counter() - t:.1f} s")
            store_graph = StoreGraph(RelationStore.open(ws))
            results["SQLite relation store"] = timed_build(store_graph, pool, subtasks, args.per_subtask)
            ws.close()

    print()
    print(f"{'subtask':<22}" + "".join(f"{name:>34}" for name in results))
    for task in subtasks:
        cells = [f"{r[2][task][0]:>5} kept /{r[2][task][1]:>5} mined {r[2][task][2]:>7.2f} s" for r in results.values()]
        print(f"{task:<22}" + "".join(f"{c:>34}" for c in cells))
    print()
    base = None
    for name, (kept, secs, _) in results.items():
        rate = kept / secs if secs else float("inf")
        base = base or rate
        print(f"{name:<24} {kept:>5} candidates in {secs:7.1f} s = {rate:7.1f} candidates/s "
              f"(x{rate / base:.2f} of the memory graph); 1,000 candidates in {1000 / rate:6.1f} s "
              f"-> target < 60 s {'MET' if 1000 / rate < 60 else 'MISSED'}")


if __name__ == "__main__":
    main()
