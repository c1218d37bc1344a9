"""Scoring: MMRA (per subtask, per level, sample-weighted overall) and ReMI (per-task rules,
unweighted mean over tasks), bootstrap 95% intervals, and order consistency of swapped twins.

Accuracies are percentages, as both papers print them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from mmrakit.subtasks import mmra_subtasks

from mmrakit.modelhub.prompts import BAD_JSON, PROMPT_TEMPLATES, remi_label

_RULES: dict[str, dict[str, Any]] = PROMPT_TEMPLATES["remi"]["rules"]


# --- per-item correctness -------------------------------------------------------------------------

def mmra_correct(gold: str, extracted: str | None) -> bool:
    """MMRA compares case-insensitively; no extracted answer is wrong."""
    return extracted is not None and extracted.strip().lower() == gold.strip().lower()


def _is_float(x: Any) -> bool:
    try:
        float(x)
        return True
    except (TypeError, ValueError):
        return False


def relaxed_accuracy(label: str, pred: str, eps: float) -> bool:
    """(1-eps)*label <= pred <= (1+eps)*label, as ReMI's Colab writes it (so a negative label never matches
    unless equal — the bounds invert; kept for comparability with published ReMI numbers)."""
    if not _is_float(label) or not _is_float(pred):
        return False
    return (1 - eps) * float(label) <= float(pred) <= (1 + eps) * float(label)


def within_tolerance(label: str, pred: str, tolerance: float) -> bool:
    if not _is_float(label) or not _is_float(pred):
        return False
    return float(label) - tolerance <= float(pred) <= float(label) + tolerance


def exact_match(label: str, pred: str, eps: float = 0.01) -> bool:
    """ReMI's exact_match: string, float, f(x)~f, parentheses, spaces, or within eps relatively."""
    return (
        label == pred
        or (_is_float(label) and _is_float(pred) and float(label) == float(pred))
        or (pred in ("f(x)", "g(x)", "h(x)") and label == pred[0])
        or f"({pred})" == label or f"({label})" == pred
        or pred.replace(" ", "") == label or label.replace(" ", "") == pred
        or relaxed_accuracy(label, pred, eps)
    )


def remi_correct(task: str, label: str, pred: str) -> bool:
    """``pred`` as returned by :func:`extract_remi_answer`; ``label`` raw from the dataset."""
    if pred == BAD_JSON:
        return False
    gold = remi_label(label)
    rule = _RULES.get(task, _RULES["default"])
    kind = rule["rule"]
    if kind == "any_listed":
        return pred in gold.split(",")
    if kind == "relative":
        return relaxed_accuracy(gold, pred, rule["eps"])
    if kind == "absolute":
        return within_tolerance(gold, pred, rule["tolerance"])
    return exact_match(gold, pred, rule.get("eps", 0.01))


# --- aggregates -----------------------------------------------------------------------------------

def _pct(x: float) -> float:
    return round(100.0 * float(x), 2)


def bootstrap_ci(groups: list[np.ndarray], *, samples: int, seed: int, weighted: bool) -> tuple[float, float] | None:
    """95% percentile interval. Each group is resampled within itself; the statistic is the
    sample-weighted mean (``weighted``) or the unweighted mean of group means."""
    groups = [g for g in groups if len(g)]
    if samples <= 0 or not groups:
        return None
    rng = np.random.default_rng(seed)
    sizes = np.array([len(g) for g in groups], dtype=float)
    means = np.stack([g[rng.integers(0, len(g), (samples, len(g)))].mean(axis=1) for g in groups], axis=1)
    stats = (means * sizes).sum(axis=1) / sizes.sum() if weighted else means.mean(axis=1)
    lo, hi = np.percentile(stats, [2.5, 97.5])
    return _pct(lo), _pct(hi)  # plain floats (JSON-ready)


def _block(values: list[bool], *, samples: int, seed: int) -> dict[str, Any]:
    arr = np.array(values, dtype=float)
    return {"n": len(values), "correct": int(arr.sum()), "accuracy": _pct(arr.mean()) if len(arr) else None,
            "ci95": bootstrap_ci([arr], samples=samples, seed=seed, weighted=True)}


def order_consistency(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """For each (item, swapped twin) pair present: how often both are right, and how often the
    model is right on one order but not the other."""
    by_id = {r["id"]: r for r in records}
    pairs = [(by_id[r["twin_of"]], r) for r in records if r.get("twin_of") and r["twin_of"] in by_id]
    if not pairs:
        return None
    both = sum(a["correct"] and b["correct"] for a, b in pairs)
    same = sum(a["correct"] == b["correct"] for a, b in pairs)
    by_task: dict[str, list[bool]] = {}
    for a, b in pairs:
        by_task.setdefault(a["task"], []).append(a["correct"] and b["correct"])
    return {
        "pairs": len(pairs),
        "both_correct": _pct(both / len(pairs)),
        "consistent": _pct(same / len(pairs)),
        "original_accuracy": _pct(sum(a["correct"] for a, _ in pairs) / len(pairs)),
        "swapped_accuracy": _pct(sum(b["correct"] for _, b in pairs) / len(pairs)),
        "both_correct_by_task": {t: _pct(sum(v) / len(v)) for t, v in sorted(by_task.items())},
    }


def pair_scores(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """NaturalBench's metrics over items that share a ``pair_id`` (arXiv 2410.14669, §4).

    A group is all items with one ``pair_id``: the same question asked of different images (a
    counterfactual partner swaps one image and flips the answer) and, where present, different
    questions of the same images. *Question accuracy*: share of (group, question) units whose items
    are all right (the question is answered right on every image of the group). *Image accuracy*:
    share of (group, image pair) units whose items are all right (every question of those images).
    *Group accuracy*: share of groups whose items are all right. Items without a pair id are left out.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if r.get("pair_id"):
            groups.setdefault(str(r["pair_id"]), []).append(r)
    groups = {g: rs for g, rs in groups.items() if len(rs) > 1}
    if not groups:
        return None
    questions: dict[tuple[str, str], list[bool]] = {}
    images: dict[tuple[str, tuple[str, ...]], list[bool]] = {}
    by_task: dict[str, list[bool]] = {}
    for g, rs in groups.items():
        for r in rs:
            questions.setdefault((g, r.get("question") or ""), []).append(bool(r["correct"]))
            images.setdefault((g, tuple(r.get("item_images") or r.get("images") or ())), []).append(bool(r["correct"]))
        by_task.setdefault(rs[0]["task"], []).append(all(r["correct"] for r in rs))

    def share(units: dict[Any, list[bool]]) -> float:
        return _pct(sum(all(v) for v in units.values()) / len(units))

    return {
        "groups": len(groups), "items": sum(len(rs) for rs in groups.values()),
        "question_units": len(questions), "image_units": len(images),
        "question_accuracy": share(questions), "image_accuracy": share(images),
        "group_accuracy": _pct(sum(all(r["correct"] for r in rs) for rs in groups.values()) / len(groups)),
        "item_accuracy": _pct(sum(r["correct"] for rs in groups.values() for r in rs)
                              / sum(len(rs) for rs in groups.values())),
        "group_accuracy_by_task": {t: _pct(sum(v) / len(v)) for t, v in sorted(by_task.items())},
        "definition": "NaturalBench (arXiv 2410.14669): question = all images right for a question; "
                      "image = all questions right for an image pair; group = every item of the pair group right",
    }


def circular_scores(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """VLMEvalKit's CircularEval: a Choice QA item counts only if every rotation of its options is
    answered right. Records carry ``circular_correct`` (None for items that are not rotated, i.e.
    True-or-false QA, which count with their plain result)."""
    if not any(r.get("circular_correct") is not None for r in records):
        return None
    choice = [r for r in records if r.get("circular_correct") is not None]
    by_task: dict[str, list[bool]] = {}
    for r in choice:
        by_task.setdefault(r["task"], []).append(bool(r["circular_correct"]))
    overall = [bool(r["circular_correct"]) if r.get("circular_correct") is not None else bool(r["correct"])
               for r in records]
    return {
        "choice_items": len(choice),
        "rotations": sum(r.get("rotations", 1) for r in choice),
        "choice_accuracy_plain": _pct(sum(r["correct"] for r in choice) / len(choice)),
        "choice_accuracy_circular": _pct(sum(r["circular_correct"] for r in choice) / len(choice)),
        "overall_accuracy_circular": _pct(sum(overall) / len(overall)),
        "by_task": {t: _pct(sum(v) / len(v)) for t, v in sorted(by_task.items())},
        "definition": "VLMEvalKit CircularEval: the options are rotated (ABCD, BCDA, CDAB, DABC); a Choice item is "
                      "right only if every rotation is; True-or-false items count with their plain result overall",
    }


def summarise(fmt: str, records: Iterable[dict[str, Any]], *, samples: int = 1000, seed: int = 0) -> dict[str, Any]:
    """Records carry task, level, correct, method, error, id, twin_of. Returns the score tree."""
    records = list(records)
    by_task: dict[str, list[bool]] = {}
    for r in records:
        by_task.setdefault(r["task"], []).append(bool(r["correct"]))
    if fmt == "mmra":
        known = list(mmra_subtasks())
        task_order = [t for t in known if t in by_task] + sorted(t for t in by_task if t not in known)
    else:
        task_order = sorted(by_task)
    tasks = {t: _block(by_task[t], samples=samples, seed=seed) for t in task_order}
    methods: dict[str, int] = {}
    for r in records:
        methods[r["method"]] = methods.get(r["method"], 0) + 1
    out: dict[str, Any] = {"n": len(records), "tasks": tasks, "extraction_methods": dict(sorted(methods.items())),
                           "errors": sum(1 for r in records if r.get("error"))}
    groups = [np.array(by_task[t], dtype=float) for t in task_order]
    if fmt == "mmra":
        levels: dict[str, list[bool]] = {}
        for r in records:
            levels.setdefault(r.get("level") or "unknown", []).append(bool(r["correct"]))
        out["levels"] = {lv: _block(v, samples=samples, seed=seed) for lv, v in sorted(levels.items())}
        total = sum(len(g) for g in groups)
        out["overall"] = {
            "aggregation": "sample-weighted mean over subtasks (as MMRA reports)",
            "accuracy": _pct(sum(g.sum() for g in groups) / total) if total else None,
            "ci95": bootstrap_ci(groups, samples=samples, seed=seed, weighted=True),
        }
        if records and all("correct_demo_rule" in r for r in records):
            out["overall"]["accuracy_demo_rule"] = _pct(sum(r["correct_demo_rule"] for r in records) / len(records))
    else:
        means = [g.mean() for g in groups if len(g)]
        out["overall"] = {
            "aggregation": "unweighted mean over tasks (as ReMI reports)",
            "accuracy": _pct(float(np.mean(means))) if means else None,
            "ci95": bootstrap_ci(groups, samples=samples, seed=seed, weighted=False),
        }
    consistency = order_consistency(records)
    if consistency is not None:
        out["order_consistency"] = consistency
    pairs = pair_scores(records)
    if pairs is not None:
        out["pairs"] = pairs
    circular = circular_scores(records)
    if circular is not None:
        out["circular"] = circular
    return out
