"""Caption-similarity-only (and CLIP-only) AUC of Yes vs No pairs per subtask, for a built workspace.

    .venv/bin/python -m benchmarks.pair_auc WORKSPACE [--subtasks A,B]

Prints one Markdown row per subtask; the target for the image-level subtasks is separability
(max(AUC, 1 - AUC)) <= 0.65. See builders/pair_stats.py.
"""

from __future__ import annotations

import argparse

from mmrakit.builders.pair_stats import pair_auc
from mmrakit.records import CandidateStore
from mmrakit.workspace import Workspace


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workspace")
    ap.add_argument("--subtasks", default="")
    args = ap.parse_args()
    ws = Workspace.open(args.workspace)
    wanted = {t for t in args.subtasks.split(",") if t}
    cands = [c for c in CandidateStore(ws).list() if not wanted or c.task in wanted]
    print("| subtask | measure | Yes | No | AUC | separability | <= 0.65 |")
    print("|---|---|---|---|---|---|---|")
    for measure in ("caption_similarity", "clip_similarity"):
        for task, r in pair_auc(cands, measure).items():
            ok = "yes" if r["separability"] is not None and r["separability"] <= 0.65 else "no"
            print(f"| {task} | {measure} | {r['yes']} | {r['no']} | {r['auc']} | {r['separability']} | {ok} |")


if __name__ == "__main__":
    main()
