"""Evaluation runner figures, measured side by side in one run:

1. requests/s of the openai: backend at concurrency 16 vs 1 against the local scripted server with
   a fixed 200 ms latency per call (target: >= 12x);
2. re-scoring a finished run from the response cache (no calls), and at MMRA size (1,024 items).

Run: .venv/bin/python -m benchmarks.bench_eval [--items-c1 32] [--items-c16 256] [--latency 0.2]
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _png(i: int) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), ((i * 37) % 256, (i * 11) % 256, 90)).save(buf, format="PNG")
    return buf.getvalue()


def make_dataset(path: Path, n: int) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    tasks = ["UsageSimilarity", "SubEvent", "Environment", "Layout", "SimilarMaterial", "ObservationAngle",
             "RelativePosition", "MentalitySimilarity", "AppearanceSimilarity", "NearSameEntity", "SimilarEvent"]
    rows = []
    for i in range(n):
        choice = i % 2 == 0
        rows.append({"Task": tasks[i % len(tasks)], "QA_type": "Choice QA" if choice else "True or false QA",
                     "question": f"Question {i}: how are the two images related?",
                     "image1": {"bytes": _png(i), "path": None}, "image2": {"bytes": _png(i + 1000), "path": None},
                     "options": str({"A": "cut", "B": "eat", "C": "sit", "D": "run"}) if choice else None,
                     "answer": "B" if choice else "Yes"})
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


class CallClock:
    """Progress callback that times the calling phase only (first report -> all done)."""

    def __init__(self) -> None:
        self.start: float | None = None
        self.end: float | None = None

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if self.start is None:
            self.start = now
        if done == total:
            self.end = now

    @property
    def seconds(self) -> float:
        return (self.end or 0.0) - (self.start or 0.0)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items-c1", type=int, default=32)
    ap.add_argument("--items-c16", type=int, default=256)
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--mmra-size", type=int, default=1024)
    args = ap.parse_args(argv)

    # the server runs in its own process, as a real endpoint would (no GIL shared with the client)
    server = subprocess.Popen([sys.executable, "-m", "tests.support.fake_openai", str(args.latency),
                               "The answer is (B)."], stdout=subprocess.PIPE, text=True)
    try:
        base_url = server.stdout.readline().strip()
        with tempfile.TemporaryDirectory() as tmp_name:
            ratio = _measure(Path(tmp_name), base_url, args)
    finally:
        server.terminate()
        server.wait(timeout=10)
    return 0 if ratio >= 12 else 1


def _measure(tmp: Path, base_url: str, args: argparse.Namespace) -> float:
    from mmrakit.evaluation.runner import run_eval
    from mmrakit.settings import Settings

    settings = Settings()
    settings.eval.openai_base_url = base_url
    settings.eval.timeout_s = 30
    rates = {}
    for conc, n in ((1, args.items_c1), (16, args.items_c16)):
        data = make_dataset(tmp / f"c{conc}.parquet", n)
        clock = CallClock()
        out = run_eval(str(data), "openai:bench", settings=settings, concurrency=conc, out_dir=tmp / f"run{conc}",
                       progress=clock)
        assert out.calls == n and out.errors == 0
        rates[conc] = n / clock.seconds
        print(f"concurrency {conc:>2}: {n:>4} calls in {clock.seconds:6.2f} s = {rates[conc]:6.2f} requests/s")
    ratio = rates[16] / rates[1]
    ideal = 1 / args.latency
    print(f"speed-up 16 vs 1: {ratio:.1f}x (target >= 12x; ideal {16 * ideal:.0f} vs {ideal:.0f} req/s at "
          f"{args.latency * 1000:.0f} ms latency)")

    # re-score a finished run: every answer from the cache, no calls
    t = time.perf_counter()
    again = run_eval(str(tmp / "c16.parquet"), "openai:bench", settings=settings, out_dir=tmp / "run16")
    rescore = time.perf_counter() - t
    assert again.calls == 0 and again.cached == args.items_c16
    print(f"cache-hit re-score of {args.items_c16} items (load, lookup, extract, score with "
          f"{settings.eval.bootstrap_samples} bootstrap samples, report+chart): {rescore:.2f} s")

    # MMRA size: fill the cache with the random baseline, then re-score
    big = make_dataset(tmp / "mmra-size.parquet", args.mmra_size)
    t = time.perf_counter()
    run_eval(str(big), "random", settings=settings, out_dir=tmp / "big")
    first = time.perf_counter() - t
    t = time.perf_counter()
    again = run_eval(str(big), "random", settings=settings, out_dir=tmp / "big")
    second = time.perf_counter() - t
    assert again.calls == 0
    print(f"MMRA-size ({args.mmra_size} items) random baseline: first run {first:.2f} s, "
          f"cache-hit re-score {second:.2f} s ({1000 * second / args.mmra_size:.2f} ms/item)")
    return ratio


if __name__ == "__main__":
    sys.exit(main())
