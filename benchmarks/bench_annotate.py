"""Annotator calls against a local OpenAI-compatible server with a fixed latency (default 200 ms), real
image sizes (coco-mini photos, downscaled as the annotator sends them): N1 calls at concurrency 1 and N16
calls at concurrency 16, through the annotator's client (mmrakit/modelhub/openai.py ChatClient, no cache).

    .venv/bin/python -m benchmarks.bench_annotate [--latency 0.2] [--n1 32] [--n16 256] [--images DIR]

Reports calls/s at both concurrencies, their ratio (target >= 12x), the client CPU per call (process
CPU time of this process while the calls run, divided by the calls) and the ceiling it implies: one
core serialises the client work, so at most (latency + cpu) / cpu calls overlap, capped at 16.
The server runs in its own process (tests/support/fake_openai.py) so it does not share our GIL.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from mmrakit.images.annotate import vlm_messages
from mmrakit.modelhub.openai import ChatClient, data_url_for

REPO = Path(__file__).resolve().parents[1]
ANSWER = json.dumps({"scene": "kitchen", "indoor": "indoor", "viewpoint": "eye_level", "shot": "medium",
                     "emotion": [], "activity": "cut|cake", "layout": "one_subject_centre",
                     "caption": "A cake on a table.", "objects": [{"name": "cake", "box": [0.2, 0.2, 0.5, 0.5]}]})


def run(client: ChatClient, jobs: list, concurrency: int) -> tuple[float, float, int]:
    got = []
    cpu0, t0 = time.process_time(), time.perf_counter()
    client.map(jobs, lambda k, text: got.append(text), concurrency=concurrency)
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    assert len(got) == len(jobs) and all(got), "some calls failed"
    return wall, cpu, len(got)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency", type=float, default=0.2)
    ap.add_argument("--n1", type=int, default=32)
    ap.add_argument("--n16", type=int, default=256)
    ap.add_argument("--images", default=str(REPO.parent / "shared" / "data" / "coco-mini" / "train2017"))
    ap.add_argument("--max-side", type=int, default=768)
    args = ap.parse_args(argv)
    files = sorted(Path(args.images).glob("*.jpg"))
    if not files:
        print(f"no images in {args.images}", file=sys.stderr)
        return 2
    t0 = time.process_time()
    urls = [data_url_for(f, args.max_side) for f in files]
    encode_cpu = (time.process_time() - t0) / len(files)
    kb = sum(len(u) for u in urls) / len(urls) / 1024
    server = subprocess.Popen([sys.executable, "-m", "tests.support.fake_openai", str(args.latency), ANSWER],
                              stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        base = server.stdout.readline().strip()
        client = ChatClient(base, "bench", max_retries=0, timeout_s=30)
        warm = [(f"w{i}", vlm_messages(urls[i % len(urls)])) for i in range(4)]
        run(client, warm, 4)
        jobs1 = [(f"a{i}", vlm_messages(urls[i % len(urls)])) for i in range(args.n1)]
        jobs16 = [(f"b{i}", vlm_messages(urls[i % len(urls)])) for i in range(args.n16)]
        w1, c1, n1 = run(client, jobs1, 1)
        w16, c16, n16 = run(client, jobs16, 16)
        client.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    r1, r16 = n1 / w1, n16 / w16
    cpu_call = max(c1 / n1, c16 / n16)
    ceiling = min(16.0, (args.latency + cpu_call) / cpu_call)
    out = {"latency_s": args.latency, "images": len(files), "mean_payload_kib": round(kb, 1),
           "encode_cpu_ms_per_image": round(encode_cpu * 1000, 2),
           "c1": {"calls": n1, "wall_s": round(w1, 3), "calls_per_s": round(r1, 2)},
           "c16": {"calls": n16, "wall_s": round(w16, 3), "calls_per_s": round(r16, 2)},
           "speedup": round(r16 / r1, 2), "client_cpu_ms_per_call": round(cpu_call * 1000, 2),
           "cpu_ceiling": round(ceiling, 2), "share_of_ceiling": round((r16 / r1) / ceiling, 3)}
    print(json.dumps(out, indent=2))
    ok = out["speedup"] >= 12 or out["share_of_ceiling"] >= 0.8
    print("target met" if ok else "target NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
