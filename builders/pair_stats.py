"""How hard are a subtask's "No" pairs? The AUC of a classifier that sees only one pair similarity.

For the True-or-false items of a subtask, "Yes" is the positive class and the score is the pair's
caption similarity (or CLIP similarity). An AUC near 0.5 means the similarity alone cannot tell "Yes"
pairs from "No" pairs; ``separability`` = max(AUC, 1 - AUC), since a classifier may use either
direction (the target is at most 0.65).
"""

from __future__ import annotations

from collections import defaultdict

from mmrakit.models import Candidate


def pair_auc(candidates: list[Candidate], measure: str = "caption_similarity") -> dict[str, dict]:
    """subtask -> {yes, no, auc, separability} over True-or-false items that carry ``measure``."""
    from sklearn.metrics import roc_auc_score

    by_task: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for c in candidates:
        if c.qa_type != "True or false QA" or c.order_probe:
            continue
        v = getattr(c.evidence, measure)
        if v is None:
            continue
        by_task[c.task].append((1 if c.answer == "Yes" else 0, float(v)))
    out = {}
    for task, rows in sorted(by_task.items()):
        y = [r[0] for r in rows]
        s = [r[1] for r in rows]
        n_yes, n_no = sum(y), len(y) - sum(y)
        auc = float(roc_auc_score(y, s)) if n_yes and n_no else None
        out[task] = {"yes": n_yes, "no": n_no, "auc": None if auc is None else round(auc, 3),
                     "separability": None if auc is None else round(max(auc, 1 - auc), 3)}
    return out
