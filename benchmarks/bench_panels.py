"""Model-panel cost per 1,000 items (builders/panels.py), measured side by side in one run:

1. a blind panel of one openai: member against the local scripted server (its own process) with a fixed
   latency per call, at concurrency 1 and 16, no response cache: wall seconds per 1,000 items;
2. the same panel again from the response cache (no calls);
3. the three offline artifact solvers (option-frequency, answer-prior, embedding with the bundled MiniLM).

Run: .venv/bin/python -m benchmarks.bench_panels [--items 1000] [--items-c1 200] [--latency 0.05]
(concurrency 1 runs ``--items-c1`` items and is scaled to 1,000: at a fixed latency it is linear).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_items(n: int):
    from mmrakit.models import Candidate

    words = ["cut", "eat", "sit", "run", "wood", "glass", "metal", "paper", "swim", "read", "cook", "sing"]
    items = []
    for i in range(n):
        opts = {k: f"{words[(i + j) % len(words)]} {i}" for j, k in enumerate("ABCD")}
        items.append(Candidate(task=["UsageSimilarity", "SimilarMaterial", "Environment"][i % 3], granularity="entity",
                               qa_type="Choice QA", question=f"Question {i}: what do the objects share?",
                               options=opts, answer="ABCD"[i % 4], image1=f"{2 * i + 1:064x}", image2=f"{2 * i + 2:064x}"))
    return items


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--items-c1", type=int, default=200)
    ap.add_argument("--latency", type=float, default=0.05)
    args = ap.parse_args(argv)

    from mmrakit.builders.panels import run_panels
    from mmrakit.settings import PanelsSettings

    server = subprocess.Popen([sys.executable, "-m", "tests.support.fake_openai", str(args.latency),
                               "The answer is (B)."], stdout=subprocess.PIPE, text=True)
    rows = []
    try:
        base_url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            for conc, n in ((1, args.items_c1), (16, args.items)):
                items = make_items(n)
                s = PanelsSettings(blind=["openai:panel-llm"], openai_base_url=base_url, api_key_env="MMRAKIT_BENCH_KEY",
                                   concurrency=conc, timeout_s=30)
                t0 = time.perf_counter()
                out = run_panels(items, s, cache_path=tmp / f"c{conc}.sqlite")
                sec = time.perf_counter() - t0
                calls = out.report["members"]["openai:panel-llm"]["calls"]
                assert calls == n, out.report
                rows.append((f"openai member, concurrency {conc}", n, sec, sec * 1000 / n, calls))
                t0 = time.perf_counter()
                again = run_panels(items, s, cache_path=tmp / f"c{conc}.sqlite")
                sec = time.perf_counter() - t0
                assert again.report["members"]["openai:panel-llm"]["calls"] == 0
                rows.append((f"same, from the response cache (concurrency {conc})", n, sec, sec * 1000 / n, 0))
            items = make_items(args.items)
            for solver in ("option-frequency", "answer-prior", "embedding"):
                t0 = time.perf_counter()
                run_panels(items, PanelsSettings(blind=[solver]))
                sec = time.perf_counter() - t0
                rows.append((f"artifact solver {solver}", args.items, sec, sec * 1000 / args.items, 0))
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"# model panels, scripted server latency {args.latency * 1000:.0f} ms per call\n")
    print("| panel | items | wall s | s per 1,000 items | model calls |")
    print("|---|---|---|---|---|")
    for name, n, sec, per, calls in rows:
        print(f"| {name} | {n} | {sec:.2f} | {per:.2f} | {calls} |")
    c1 = rows[0][3]
    c16 = rows[2][3]
    print(f"\nconcurrency 16 ÷ 1 speed-up: {c1 / c16:.1f}x (ideal 16x; floor = {args.latency * 1000:.0f} s per 1,000 at c=1)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
