"""Run every stage benchmark in turn (`make bench`); each prints its figures and ratios.

Pass --quick for smaller sizes where a benchmark offers them. Full sizes take tens of minutes on
2 cores; the figures recorded in benchmarks/RESULTS.md come from these scripts.
"""

from __future__ import annotations

import subprocess
import sys
import time

BENCHMARKS: list[tuple[str, list[str], list[str]]] = [
    # module, full-size args, --quick args
    ("benchmarks.bench_relations", [], ["--sizes", "100000,250000", "--ratio-size", "250000", "--repeat", "1"]),
    ("benchmarks.bench_images", [], ["--quick"]),
    ("benchmarks.bench_build", [], ["--images", "2000", "--per-subtask", "20"]),
    ("benchmarks.bench_review", ["2000"], ["300"]),
    ("benchmarks.bench_export", [], ["--items", "60"]),
    ("benchmarks.bench_eval", [], ["--items-c16", "128", "--mmra-size", "256"]),
    ("benchmarks.bench_panels", [], ["--items", "256", "--items-c1", "64"]),
]


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    failed = []
    for module, full, small in BENCHMARKS:
        args = small if quick else full
        print(f"\n=== {module} {' '.join(args)}", flush=True)
        t0 = time.monotonic()
        rc = subprocess.call([sys.executable, "-m", module, *args])
        print(f"=== {module}: exit {rc} after {time.monotonic() - t0:.0f} s", flush=True)
        if rc:
            failed.append(module)
    if failed:
        print("failed: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
