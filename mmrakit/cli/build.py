"""CLI commands of the build stage: ``mmrakit build`` and ``mmrakit candidates list|show|stats|sheets|audit``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ..errors import InputError
from .common import JsonOpt, WorkspaceOpt, console, emit, open_workspace, progress_bar, table

candidates_app = typer.Typer(name="candidates", help="Inspect built candidates: list, show, stats, contact sheets, audits.",
                             no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach this stage's commands to the main app."""
    app.command("build")(build)
    app.add_typer(candidates_app, name="candidates")


def build(
    subtasks: Annotated[str, typer.Option("--subtasks", help="'all' or a comma-separated list of subtask names/abbreviations.")] = "all",
    per_subtask: Annotated[int | None, typer.Option("--per-subtask", min=1, help="Target kept candidates per subtask (default: [builders] per_subtask).")] = None,
    mmra_distribution: Annotated[bool, typer.Option("--mmra-distribution", help="Targets = MMRA's per-subtask counts (81, 63, ... 126; 1,024 in all).")] = False,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed for every random choice (default: [builders] seed).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when inputs, settings and code are unchanged.")] = False,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Mine MMRA-style candidates from the relation store and the image pool (deterministic under --seed)."""
    from mmrakit.builders import build as run_build

    if per_subtask is not None and mmra_distribution:
        raise InputError("--per-subtask and --mmra-distribution exclude each other", hint="pass only one of them")
    ws = open_workspace(workspace)
    with progress_bar(enabled=not json_out) as progress:
        report = run_build(ws, subtasks=subtasks, per_subtask=per_subtask, mmra_distribution=mmra_distribution,
                           seed=seed, force=force, progress=progress)

    def render(r: dict) -> None:
        if r.get("up_to_date"):
            console.print("build is up to date (same inputs, settings and code); pass --force to rebuild")
        table(f"build (seed {r.get('seed')}, {r.get('images')} images, captions: {r.get('caption_similarity_method')}, "
              f"{r.get('clip')})", ["subtask", "target", "mined", "kept", "alone", "overall cap", "probes", "filtered",
                                    "short of target because"],
              [[s["task"], s["target"], s["mined"], s["kept"], s.get("alone", ""), s.get("dropped_overall_cap", ""), s["order_probes"],
                ", ".join(f"{k}={v}" for k, v in s["filtered"].items()),
                "; ".join(f"{k} ({v})" for k, v in (s.get("missing_evidence") or {}).items())] for s in r["subtasks"]])
        alloc = r.get("allocation") or {}
        if alloc.get("method"):
            console.print(f"image budget (max_image_reuse_total) shared by: {alloc['method']}; 'alone' = kept when the subtask "
                          "builds by itself, 'overall cap' = of those, dropped because other subtasks keep their images")
        if r.get("panels"):
            p = r["panels"]
            for kind in ("blind", "single_image"):
                if p[kind]["n"]:
                    console.print(f"{kind.replace('_', '-')} panel ({p[kind]['k']} of {p[kind]['n']}: "
                                  f"{', '.join(p[kind]['members'])}): filtered {p[kind]['filtered']} as {p[kind]['reason']}")
            flags = p["artifact_flags"]["subtasks"]
            if flags:
                console.print(f"artifact solvers beat chance by > {p['artifact_flags']['threshold_points']:g} points in: "
                              + "; ".join(f"{t} ({', '.join(m)})" for t, m in flags.items()))
        if r.get("pairs", {}).get("groups"):
            console.print(f"counterfactual pairs kept: {r['pairs']['groups']} "
                          f"({', '.join(f'{t} {n}' for t, n in r['pairs']['by_subtask'].items())})")

    emit(report, json_out, render)


@candidates_app.command("list")
def list_cmd(
    task: Annotated[str | None, typer.Option("--task", help="Only these subtasks (comma-separated).")] = None,
    status: Annotated[str, typer.Option("--status", help="kept | filtered | all")] = "kept",
    reason: Annotated[str | None, typer.Option("--reason", help="Only filtered candidates with this reason.")] = None,
    probes: Annotated[bool | None, typer.Option("--probes/--no-probes", help="Only / no order probes (default: both).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=0, help="At most this many rows (0 = all).")] = 50,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List candidates with their build status and review status."""
    from mmrakit.builders import resolve_subtasks
    from mmrakit.records import CandidateStore

    if status not in ("kept", "filtered", "all"):
        raise InputError(f"--status must be kept, filtered or all, not {status!r}")
    ws = open_workspace(workspace)
    rows = CandidateStore(ws).rows(task=resolve_subtasks(task) if task else None,
                                   status=None if status == "all" else status)  # type: ignore[arg-type]
    if reason:
        rows = [r for r in rows if r["filter_reason"] == reason]
    if probes is not None:
        rows = [r for r in rows if r["candidate"].order_probe == probes]
    total = len(rows)
    rows = rows[:limit] if limit else rows
    data = {"total": total, "shown": len(rows), "candidates": [
        {"id": r["id"], "task": r["task"], "qa_type": r["qa_type"], "status": r["status"],
         "filter_reason": r["filter_reason"], "review_status": r["review_status"],
         "order_probe": r["candidate"].order_probe, "question": r["candidate"].question,
         "options": r["candidate"].options, "answer": r["candidate"].answer} for r in rows]}

    def render(d: dict) -> None:
        table(f"candidates ({d['shown']} of {d['total']})", ["id", "task", "qa", "status", "answer", "question"],
              [[c["id"], c["task"], "choice" if c["qa_type"] == "Choice QA" else "y/n",
                c["status"] if c["status"] == "kept" else f"filtered:{c['filter_reason']}",
                c["answer"] + (f" ({c['options'][c['answer']]})" if c["options"] else ""), c["question"][:70]]
               for c in d["candidates"]])

    emit(data, json_out, render)


@candidates_app.command("show")
def show(
    candidate_id: Annotated[str, typer.Argument(help="Candidate id (a unique prefix is enough).")],
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """One candidate in full: question, options, answer and all its evidence."""
    from mmrakit.records import CandidateStore

    ws = open_workspace(workspace)
    store = CandidateStore(ws)
    ids = [r[0] for r in ws.db.execute("SELECT id FROM candidates WHERE id LIKE ? LIMIT 3", (candidate_id + "%",))]
    if len(ids) != 1:
        raise InputError(f"{'no' if not ids else 'more than one'} candidate matches {candidate_id!r}",
                         hint="list ids with `mmrakit candidates list`")
    row = dict(ws.db.execute("SELECT * FROM candidates WHERE id = ?", (ids[0],)).fetchone())
    row.pop("data", None)
    cand = store.get(ids[0])
    data = {**row, "candidate": cand.model_dump(mode="json")}

    from rich.markup import escape

    def render(d: dict) -> None:
        c = d["candidate"]
        console.print(f"[bold]{c['task']}[/] {c['qa_type']}  id {c['id']}  status {d['status']}"
                      + (f" ({d['filter_reason']})" if d["filter_reason"] else "") + f"  review {d['review_status']}")
        console.print(f"images: 1={c['image1']}\n        2={c['image2']}")
        console.print(f"Q: {c['question']}")
        for k, v in (c["options"] or {}).items():
            console.print(f"  {k}. {v}" + ("   <- answer" if k == c["answer"] else ""))
        if not c["options"]:
            console.print(f"answer: {c['answer']}")
        ev = c["evidence"]
        for e in ev["edges"]:
            console.print(f"  edge {e['relation']}: {e['start']} -> {e['end']} (w={e['weight']}, {e.get('dataset')})")
        for side in ("entities1", "entities2"):
            console.print(escape(f"  {side}: " + ", ".join(f"{g['text']} [{g['source']}]" for g in ev[side])))
        console.print(f"  caption sim {ev['caption_similarity']}  clip sim {ev['clip_similarity']}  hash dist {ev['hash_distance']}")
        console.print(escape(f"  notes: {ev['notes']}"))

    emit(data, json_out, render)


@candidates_app.command("stats")
def stats(workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """Per subtask: mined, filtered by reason, kept, order probes, answer balance (chi-squared p), image reuse."""
    from mmrakit.builders.stats import load_report, subtask_stats
    from mmrakit.records import CandidateStore

    ws = open_workspace(workspace)
    data = subtask_stats(CandidateStore(ws).rows(status=None), load_report(ws))

    def render(rows: list[dict]) -> None:
        def bal(b: dict) -> str:
            return "; ".join(f"{k}: {'/'.join(str(v) for v in x['counts'].values())} p={x['chi2_p']}" for k, x in b.items())

        table("candidates per subtask", ["subtask", "mined", "kept", "probes", "filtered", "answer balance", "reuse max/mean", "short"],
              [[r["task"], r["mined"], r["kept"], r["order_probes"],
                ", ".join(f"{k}={v}" for k, v in r["filtered_by_reason"].items()) or "0", bal(r["answer_balance"]),
                f"{r['image_reuse']['max']}/{r['image_reuse']['mean']}", r["shortfall"] or ""] for r in rows])
        with_panels = [r for r in rows if r.get("difficulty")]
        if with_panels:
            bins = list(dict.fromkeys(b for r in with_panels for b in r["difficulty"]))
            table("difficulty per subtask (model panels: share of panel answers wrong)", ["subtask", *bins],
                  [[r["task"], *(r["difficulty"].get(b, 0) for b in bins)] for r in with_panels])

    emit(data, json_out, render)


@candidates_app.command("sheets")
def sheets(
    task: Annotated[str | None, typer.Option("--task", help="Only these subtasks (comma-separated).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for the PNGs (default: WORKSPACE/candidates/sheets).")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Candidates per sheet.")] = 24,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Write one contact-sheet PNG per subtask: both images side by side with question, options and answer."""
    from mmrakit.builders import resolve_subtasks
    from mmrakit.builders.sheets import write_sheets

    ws = open_workspace(workspace)
    written = write_sheets(ws, resolve_subtasks(task) if task else None, out, limit)
    emit({"sheets": written}, json_out,
         lambda d: [console.print(f"{t}: {p}") for t, p in d["sheets"].items()] or None)


@candidates_app.command("audit")
def audit(
    sample: Annotated[int, typer.Option("--sample", min=0, help="Items per subtask and per workspace (0 = all kept).")] = 10,
    seed: Annotated[int, typer.Option("--seed", help="Seed for the sample and the shuffle.")] = 0,
    subtasks: Annotated[str | None, typer.Option("--subtasks", help="Only these subtasks (comma-separated; default all).")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for PNGs, sheet and sealed key (default: WORKSPACE/candidates/audit).")] = None,
    mix: Annotated[list[str] | None, typer.Option("--mix", help="Also draw from OTHER_WORKSPACE[:LABEL] for blind A/B judging (repeatable).")] = None,
    label: Annotated[str | None, typer.Option("--label", help="This workspace's label in the key (default: its folder name).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an --out folder that already holds files.")] = False,
    score: Annotated[Path | None, typer.Option("--score", help="Score this filled judgments sheet instead of writing an audit.")] = None,
    key: Annotated[Path | None, typer.Option("--key", help="With --score: the sealed key, to report per label side by side.")] = None,
    report: Annotated[Path | None, typer.Option("--report", help="With --score: also write the Markdown report to this file.")] = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Audit a sample as a strict reviewer: one PNG per item + a judgments sheet; --score reads it back."""
    from mmrakit import atomic
    from mmrakit.builders import resolve_subtasks
    from mmrakit.builders.audit import Source, parse_mix, score_sheet, to_markdown, write_audit
    from mmrakit.workspace import Workspace

    if score is not None:
        data = score_sheet(score, key=key)
        md = to_markdown(data)
        if report is not None:
            atomic.write_text(report, md)
        emit(data, json_out, lambda _: print(md, end=""))
        return
    if key is not None or report is not None:
        raise InputError("--key and --report go with --score", hint="score a filled sheet: --score SHEET --key KEY")
    ws = open_workspace(workspace)
    sources = [Source(label or ws.root.resolve().name, ws)]
    for spec in mix or []:
        path, lab = parse_mix(spec)
        sources.append(Source(lab, Workspace.open(path)))
    res = write_audit(sources, out or ws.path("candidates", "audit"), sample=sample, seed=seed,
                      subtasks=resolve_subtasks(subtasks) if subtasks else None, force=force)

    def render(d: dict) -> None:
        console.print(f"{d['items']} items -> {d['out']}")
        for lab, counts in d["per_label"].items():
            console.print(f"  {lab}: " + ", ".join(f"{t}={n}" for t, n in sorted(counts.items())))
        console.print(f"judge the PNGs and fill {d['sheet']}; keep {d['key']} closed until then; then "
                      f"`mmrakit candidates audit --score {d['sheet']}" + (f" --key {d['key']}`" if len(d['per_label']) > 1 else "`"))

    emit(res.as_dict(), json_out, render)
