"""Write a run's outputs: items.jsonl, results.json, report.md, chart.png and the prompts used.

For MMRA-format data the report sets the run beside the paper's published per-subtask numbers
(``data/mmra_main_results.csv``, see ``data/SOURCE.md``). Every file is written atomically.
"""

from __future__ import annotations

import csv
import io
import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from mmrakit import atomic
from mmrakit.subtasks import mmra_subtasks, normalise_task_name

from mmrakit.modelhub.prompts import PROMPT_TEMPLATES, PROMPT_TEMPLATES_TEXT


@lru_cache(maxsize=1)
def published_mmra() -> dict[str, dict[str, Any]]:
    """{model: {'setting': IQ/QO, 'Overall': float, <subtask name>: float}} from the bundled table."""
    data = resources.files(__package__).joinpath("data")
    columns = {}
    for row in csv.DictReader(io.StringIO(data.joinpath("subtask_columns.csv").read_text("utf-8"))):
        name = normalise_task_name(row["subtask"].replace("(s)", "")) or row["subtask"]
        columns[row["column"]] = name
    out: dict[str, dict[str, Any]] = {}
    for row in csv.DictReader(io.StringIO(data.joinpath("mmra_main_results.csv").read_text("utf-8"))):
        entry: dict[str, Any] = {"setting": row["setting"], "Overall": float(row["Overall"])}
        for col, name in columns.items():
            entry[name] = float(row[col])
        out[row["model"]] = entry
    return out


def published_comparison(summary: dict[str, Any], setting: str) -> dict[str, Any]:
    models = {m: v for m, v in published_mmra().items() if v["setting"] == setting}
    paper_order = [k for k in next(iter(published_mmra().values())) if k not in ("setting", "Overall")]
    rows = []
    for name in [*paper_order, *(t for t in mmra_subtasks() if t not in paper_order), "Overall"]:
        ours = summary["overall"]["accuracy"] if name == "Overall" else summary["tasks"].get(name, {}).get("accuracy")
        n = summary["n"] if name == "Overall" else summary["tasks"].get(name, {}).get("n", 0)
        rows.append({"subtask": name, "this_run": ours, "n": n, **{m: v.get(name) for m, v in models.items()}})
    return {"setting": setting, "models": list(models), "rows": rows,
            "source": "MMRA main results figure (github.com/Wusiwei0410/MMRA imgs/main_result.png), transcribed"}


def _fmt(x: Any) -> str:
    return "–" if x is None else (f"{x:.2f}" if isinstance(x, float) else str(x))


def _ci(block: dict[str, Any]) -> str:
    ci = block.get("ci95")
    return f"[{ci[0]:.1f}, {ci[1]:.1f}]" if ci else "–"


def render_markdown(meta: dict[str, Any], summary: dict[str, Any], comparison: dict[str, Any] | None) -> str:
    fmt = meta["format"].upper() if meta["format"] == "remi" else "MMRA"
    lines = [
        f"# {'ReMI' if fmt == 'REMI' else 'MMRA'}-format evaluation: `{meta['model']}` ({meta['setting']})", "",
        f"- dataset: `{meta['dataset']}`" + (f" (split `{meta['split']}`)" if meta.get("split") else ""),
        f"- items: {meta['items']} of {meta['rows']}" + (f" (--limit {meta['limit']}, round-robin over tasks)" if meta.get("limit") else ""),
        f"- backend: `{meta['backend_fingerprint']}`; generation: `{json.dumps(meta['generation'])}`",
        f"- model calls this run: {meta['calls']}; answers from cache: {meta['cached']}; failed calls: {meta['errors']}",
        "",
        f"**Overall: {_fmt(summary['overall']['accuracy'])}%** 95% CI {_ci(summary['overall'])} — "
        f"{summary['overall']['aggregation']}.",
        *([f"With MMRA's own extraction rule (evaluate_demo.py): {_fmt(summary['overall']['accuracy_demo_rule'])}%.", ""]
          if "accuracy_demo_rule" in summary["overall"] else []),
        "| task | n | accuracy % | 95% CI |",
        "|---|---|---|---|",
    ]
    for task, block in summary["tasks"].items():
        lines.append(f"| {task} | {block['n']} | {_fmt(block['accuracy'])} | {_ci(block)} |")
    if "levels" in summary:
        lines += ["", "| level | n | accuracy % | 95% CI |", "|---|---|---|---|"]
        for lv, block in summary["levels"].items():
            lines.append(f"| {lv} | {block['n']} | {_fmt(block['accuracy'])} | {_ci(block)} |")
    if "order_consistency" in summary:
        oc = summary["order_consistency"]
        lines += ["", f"Order consistency over {oc['pairs']} swapped-order pairs: both orders right "
                      f"{_fmt(oc['both_correct'])}%, same correctness in both orders {_fmt(oc['consistent'])}% "
                      f"(original {_fmt(oc['original_accuracy'])}%, swapped {_fmt(oc['swapped_accuracy'])}%)."]
    if "circular" in summary:
        c = summary["circular"]
        lines += ["", "## Circular scoring (VLMEvalKit CircularEval)", "",
                  f"{c['choice_items']} Choice QA items asked in {c['rotations']} rotations of their options; an item "
                  "counts only if every rotation is right.", "",
                  "| | plain % | circular % |", "|---|---|---|",
                  f"| Choice QA | {_fmt(c['choice_accuracy_plain'])} | {_fmt(c['choice_accuracy_circular'])} |",
                  f"| all items (True-or-false QA plain) | {_fmt(summary['overall']['accuracy'])} | "
                  f"{_fmt(c['overall_accuracy_circular'])} |", "",
                  "| task | circular % |", "|---|---|",
                  *(f"| {t} | {_fmt(v)} |" for t, v in c["by_task"].items())]
    if "pairs" in summary:
        p = summary["pairs"]
        lines += ["", "## Paired items (NaturalBench group scoring)", "",
                  f"{p['groups']} pair groups ({p['items']} items; {p['question_units']} question units, "
                  f"{p['image_units']} image units). {p['definition']}.", "",
                  "| metric | % |", "|---|---|",
                  f"| item accuracy (plain, paired items) | {_fmt(p['item_accuracy'])} |",
                  f"| question accuracy | {_fmt(p['question_accuracy'])} |",
                  f"| image accuracy | {_fmt(p['image_accuracy'])} |",
                  f"| group accuracy | {_fmt(p['group_accuracy'])} |", "",
                  "| task | group accuracy % |", "|---|---|",
                  *(f"| {t} | {_fmt(v)} |" for t, v in p["group_accuracy_by_task"].items())]
    lines += ["", "Answer extraction methods: " + ", ".join(f"{k} {v}" for k, v in summary["extraction_methods"].items())]
    if comparison is not None:
        models = comparison["models"]
        lines += ["", f"## Side by side with MMRA's published {comparison['setting']} results", "",
                  f"Source: {comparison['source']}. Published numbers are on the full 1,024-item MMRA; this run's "
                  "n is per row.", "",
                  "| subtask | n | this run | " + " | ".join(models) + " |",
                  "|---|---|---|" + "---|" * len(models)]
        for row in comparison["rows"]:
            lines.append(f"| {row['subtask']} | {row['n']} | {_fmt(row['this_run'])} | "
                         + " | ".join(_fmt(row[m]) for m in models) + " |")
    lines += ["", "Per-item outputs: `items.jsonl`; prompt templates used: `prompts.toml`; all numbers: `results.json`.", ""]
    return "\n".join(lines)


def render_chart(path: Path, meta: dict[str, Any], summary: dict[str, Any], comparison: dict[str, Any] | None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(summary["tasks"])
    acc = [summary["tasks"][t]["accuracy"] or 0.0 for t in tasks]
    lo = [a - (summary["tasks"][t]["ci95"] or (a, a))[0] for t, a in zip(tasks, acc)]
    hi = [(summary["tasks"][t]["ci95"] or (a, a))[1] - a for t, a in zip(tasks, acc)]
    fig, ax = plt.subplots(figsize=(max(6.0, 0.7 * len(tasks) + 2), 4.2))
    x = range(len(tasks))
    ax.bar(x, acc, yerr=[lo, hi], capsize=3, color="#4c72b0", label=f"{meta['model']} ({meta['setting']})")
    if comparison is not None and comparison["models"]:
        best = {row["subtask"]: max((row[m] for m in comparison["models"] if row[m] is not None), default=float("nan"))
                for row in comparison["rows"]}
        ax.scatter(list(x), [best.get(t, float("nan")) for t in tasks], marker="_", s=300, color="#dd8452",
                   label=f"best published {comparison['setting']}", zorder=3)
    overall = summary["overall"]["accuracy"]
    if overall is not None:
        ax.axhline(overall, color="#55a868", linestyle="--", linewidth=1, label=f"overall {overall:.1f}%")
    ax.set_xticks(list(x))
    ax.set_xticklabels(tasks, rotation=45, ha="right", fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_ylabel("accuracy %")
    ax.set_title(f"{meta['format'].upper()} on {Path(str(meta['dataset'])).name}", fontsize=10)
    ax.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    with atomic.atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


def write_report(out_dir: Path, *, meta: dict[str, Any], summary: dict[str, Any], records: list[dict[str, Any]]) -> None:
    comparison = published_comparison(summary, meta["setting"]) if meta["format"] == "mmra" else None
    atomic.write_text(out_dir / "items.jsonl",
                      "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    results = {"meta": meta, "scores": summary, "published_comparison": comparison, "prompt_templates": PROMPT_TEMPLATES}
    atomic.write_text(out_dir / "results.json", json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    atomic.write_text(out_dir / "report.md", render_markdown(meta, summary, comparison))
    atomic.write_text(out_dir / "prompts.toml", PROMPT_TEMPLATES_TEXT)
    render_chart(out_dir / "chart.png", meta, summary, comparison)
