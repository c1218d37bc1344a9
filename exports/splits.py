"""Deterministic stratified splits: `test`, plus an optional small `dev` for few-shot/prompt work.

Stratified by (subtask, QA type) so every subtask keeps its share in both splits. Order-probe twins
stay in the split of the item they were swapped from: a twin in dev would leak its test partner.
Membership depends only on item ids and the seed, so re-exporting after adding items moves as few
items as possible.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence

from .rows import ExportRow


def _rank(seed: int, key: str) -> str:
    return hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()


def assign_splits(rows: Sequence[ExportRow], *, dev_fraction: float = 0.0, seed: int = 0) -> dict[str, list[ExportRow]]:
    """{'test': [...], 'dev': [...]} ('dev' only when dev_fraction > 0 and some stratum can spare an item),
    each in (task, id) order."""
    if not 0.0 <= dev_fraction < 1.0:
        raise ValueError(f"dev_fraction must be in [0, 1), got {dev_fraction}")
    ids = {r.id for r in rows}
    groups: dict[str, list[ExportRow]] = defaultdict(list)  # group key = the original of a twin pair
    pair_root: dict[str, str] = {}  # counterfactual partners (one pair_id) stay in one split, as one group
    for r in sorted(rows, key=lambda r: r.id):
        root = r.candidate.twin_of if r.candidate.twin_of in ids else r.id
        if r.candidate.pair_id:
            root = pair_root.setdefault(r.candidate.pair_id, root)
        groups[root].append(r)
    strata: dict[tuple[str, str], list[str]] = defaultdict(list)
    for root, members in groups.items():
        lead = next((m for m in members if m.id == root), members[0])
        strata[(lead.task, lead.candidate.qa_type)].append(root)
    dev_roots: set[str] = set()
    if dev_fraction > 0:
        for key in sorted(strata):
            roots = sorted(strata[key], key=lambda k: _rank(seed, k))
            n_dev = int(round(len(roots) * dev_fraction))
            if n_dev >= len(roots):  # never empty a stratum's test share
                n_dev = len(roots) - 1
            dev_roots.update(roots[:n_dev])
    out: dict[str, list[ExportRow]] = {"test": []}
    if dev_fraction > 0:
        out["dev"] = []
    for root, members in groups.items():
        out["dev" if root in dev_roots else "test"].extend(members)
    for split in out.values():
        split.sort(key=lambda r: (r.task, r.id))
    if not out.get("dev", True):  # every stratum too small to spare an item: no empty dev split
        del out["dev"]
    return out
