"""Per-subtask statistics of the candidates in a workspace: counts, filter reasons, answer balance
(chi-squared goodness of fit against uniform letters / Yes-No), image reuse, and the last build's
mined counts and missing evidence."""

from __future__ import annotations

import json
from collections import Counter

from mmrakit.subtasks import mmra_subtasks


def answer_balance(answers: list[str], qa_type: str, n_options: int | None = None) -> dict:
    """Counts and chi-squared p-value against a uniform spread (None with fewer than 2 items)."""
    from scipy.stats import chisquare

    if qa_type == "Choice QA":
        cats = list("ABCD"[: n_options or max(3, max(("ABCD".index(a) + 1 for a in answers), default=3))])
    else:
        cats = ["Yes", "No"]
    counts = Counter(answers)
    observed = [counts.get(c, 0) for c in cats]
    p = None
    if sum(observed) >= 2:
        p = float(chisquare(observed).pvalue)
        p = round(p, 4) if p == p else None  # NaN when every count is equal to zero
    return {"counts": dict(zip(cats, observed)), "chi2_p": p}


def subtask_stats(rows: list[dict], report: dict | None = None) -> list[dict]:
    """rows: CandidateStore.rows(status=None); report: the last build report (mined, missing)."""
    by_task: dict[str, list[dict]] = {}
    for r in rows:
        by_task.setdefault(r["task"], []).append(r)
    built = {s["task"]: s for s in (report or {}).get("subtasks", [])}
    out = []
    for task in mmra_subtasks():
        rs = by_task.get(task, [])
        if not rs and task not in built:
            continue
        kept = [r for r in rs if r["status"] == "kept"]
        main = [r["candidate"] for r in kept if not r["candidate"].order_probe]
        probes = [r["candidate"] for r in kept if r["candidate"].order_probe]
        reasons = Counter(r["filter_reason"] for r in rs if r["status"] == "filtered")
        balance = {}
        for qa in ("Choice QA", "True or false QA"):
            items = [c for c in main if c.qa_type == qa]
            if not items:
                continue
            if qa == "Choice QA":
                for n in sorted({len(c.options or {}) for c in items}):
                    sub = [c.answer for c in items if len(c.options or {}) == n]
                    balance[f"Choice QA ({n} options)"] = answer_balance(sub, qa, n)
            else:
                balance[qa] = answer_balance([c.answer for c in items], qa)
        reuse = Counter()
        for c in main:
            reuse[c.image1] += 1
            reuse[c.image2] += 1
        b = built.get(task, {})
        from .panels import difficulty_histogram

        paneled = [c for c in main if "panel" in c.evidence.notes]
        difficulty = [c.evidence.notes["panel"].get("difficulty") for c in main if "panel" in c.evidence.notes]
        out.append({
            "task": task, "mined": b.get("mined"), "kept": len(main), "order_probes": len(probes),
            "filtered": sum(reasons.values()), "filtered_by_reason": dict(sorted(reasons.items())),
            "review": dict(Counter(r["review_status"] for r in kept)),
            "answer_balance": balance,
            "image_reuse": {"images": len(reuse), "max": max(reuse.values(), default=0),
                            "mean": round(sum(reuse.values()) / len(reuse), 3) if reuse else 0.0},
            "target": b.get("target"), "shortfall": b.get("shortfall"), "missing_evidence": b.get("missing_evidence"),
            # the model panels' difficulty of the kept items (share of panel answers that were wrong)
            # ('none': every member abstained, e.g. option solvers on yes/no items)
            "difficulty": difficulty_histogram(difficulty) if paneled else None,
        })
    return out


def load_report(ws) -> dict | None:
    p = ws.path("candidates", "build-report.json")
    return json.loads(p.read_text()) if p.exists() else None
