"""One blind judging round on a coco-mini split, as the quality section of RESULTS.md reports it.

    python -m benchmarks.quality_round build val2017 WS [--per-subtask 40] [--seed 0]
    python -m benchmarks.quality_round prepare WS OUT [--chunks 2] [--decoys 4] [--seed 0]
    python -m benchmarks.quality_round merge OUT [--save benchmarks/quality/val2017-roundN]
    python -m benchmarks.quality_round agree PREFIX_A PREFIX_B

``build`` makes a workspace from the bundled real ConceptNet subset, the project's COCO pack and one
coco-mini split (``train2017``, ``val2017`` or ``full``), with annotations only (captions + boxes, MiniLM
caption vectors, no CLIP), then ``mmrakit build``.

``prepare`` audits every kept item (``mmrakit candidates audit --sample 0``). An item identical in content
(subtask, question, options, answer, both images) to one judged blind in an earlier round
(``benchmarks/quality/val2017-round*-items.jsonl`` beside its ``-judgments.csv``) keeps that verdict; the
rest go to fresh judges in ``OUT/chunkN/`` (PNGs + a blank sheet with neutral ids), shuffled with a few
carried items as decoys. ``OUT/sealed/`` maps the chunk ids back; no judge opens it.

``merge`` reads the filled chunk sheets back, writes ``OUT/final/`` (judgments.csv with a provenance
column, items.jsonl, key.json, report.md), prints the report and how often the judges repeated a decoy's
earlier verdict. ``--save PREFIX`` copies the four files to ``PREFIX-{judgments.csv,key.json,items.jsonl,report.md}``.

``agree`` sets two filed rounds side by side (``PREFIX-items.jsonl`` + ``PREFIX-judgments.csv`` each): for the
items identical in content, how often the two panels agree on accept vs not, per subtask, with Cohen's kappa.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

from mmrakit import atomic
from mmrakit.builders.audit import (ITEMS_NAME, KEY_NAME, SEALED, SHEET_COLUMNS, SHEET_NAME, Source,
                                    image_opener, read_sheet, render_item, score_sheet, to_markdown,
                                    write_audit)
from mmrakit.errors import InputError
from mmrakit.images import ImagePool
from mmrakit.workspace import Workspace

ROOT = Path(__file__).resolve().parents[1]
QUALITY = ROOT / "benchmarks" / "quality"
COCO = ROOT.parent / "shared" / "data" / "coco-mini"
SPLITS = ("train2017", "val2017", "full")
PROVENANCE = "provenance"


# --- build ------------------------------------------------------------------------------------

def _cli(*args: str) -> None:
    cmd = [str(Path(sys.executable).with_name("mmrakit")), *args]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-2000:]}")


def build(split: str, ws: Path, *, per_subtask: int, seed: int, coco: Path) -> None:
    if split not in SPLITS:
        raise InputError(f"split {split!r} is not one of {SPLITS}")
    ann = coco / "annotations"
    if not ann.is_dir():
        raise InputError(f"no coco-mini annotations at {ann}", hint="pass --coco DIR (the folder with annotations/)")
    w = ["-w", str(ws)]
    _cli("init", str(ws))
    _cli("relations", "ingest", "--bundled", *w)
    _cli("relations", "ingest", str(ROOT / "demo" / "relations" / "mmrakit-coco-pack.tsv"), "--format", "pack", *w)
    for part in (("train2017", "val2017") if split == "full" else (split,)):
        _cli("images", "import", str(ann / f"captions_{part}.json"), "--format", "coco", *w)
    _cli("images", "embed", "--clip", "none", *w)
    _cli("build", "--force", "--per-subtask", str(per_subtask), "--seed", str(seed), *w)


# --- prepare ----------------------------------------------------------------------------------

def content_key(item: dict) -> str:
    return json.dumps([item["subtask"], item["qa_type"], item["question"], item.get("options"), item["answer"],
                       item["image1"], item["image2"]], sort_keys=True, ensure_ascii=False)


def _round_number(path: Path) -> tuple:
    return tuple(int(x) if x.isdigit() else x for x in re.split(r"(\d+)", path.name))


def earlier_verdicts(prior: Path, pattern: str) -> dict[str, dict]:
    """content key -> the latest blind judgment of an identical item (later rounds override earlier)."""
    out: dict[str, dict] = {}
    for items_file in sorted(prior.glob(f"{pattern}-items.jsonl"), key=_round_number):
        stem = items_file.name[: -len("-items.jsonl")]
        sheet = items_file.with_name(f"{stem}-judgments.csv")
        if not sheet.is_file():
            continue
        rows = _read_rows(sheet)
        for item in _read_items(items_file):
            row = rows.get(item["item_id"])
            if not row or not row.get("verdict"):
                continue
            origin = row.get(PROVENANCE) or ""
            origin = origin.removeprefix("carried: identical item judged blind in ") if origin.startswith("carried") else stem
            out[content_key(item)] = {**{c: row.get(c, "") for c in ("verdict", "reasons", "right_answer", "note")},
                                      "origin": origin}
    return out


def _proposed(item: dict) -> str:
    """The proposed answer as the sheet shows it: "Yes", or "B. made of wood"."""
    return item["answer"] if not item.get("options") else f"{item['answer']}. {item['options'][item['answer']]}"


def _read_rows(sheet: Path) -> dict[str, dict]:
    """item_id -> row of a filed judgments sheet."""
    return {r["item_id"]: r for r in csv.DictReader(io.StringIO(sheet.read_text(encoding="utf-8-sig")))}


def _read_items(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _sheet_text(rows: list[list[str]], columns=SHEET_COLUMNS) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    return buf.getvalue()


def prepare(ws: Path, out: Path, *, chunks: int, decoys: int, seed: int, prior: Path, pattern: str,
            subtasks: list[str] | None = None) -> dict:
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} already holds files", hint="choose another OUT folder")
    audit = out / "audit"
    workspace = Workspace.open(ws)
    report = write_audit([Source(ws.name, workspace)], audit, sample=0, seed=seed, subtasks=subtasks)
    drawn = {i.audit_id: i for i in report.items}
    open_image = image_opener(ImagePool(workspace))
    items = _read_items(audit / SEALED / ITEMS_NAME)
    known = earlier_verdicts(prior, pattern)
    carried = {i["item_id"]: known[content_key(i)] for i in items if content_key(i) in known}
    fresh = [i["item_id"] for i in items if i["item_id"] not in carried]
    rng = random.Random(seed)
    decoy_ids = rng.sample(sorted(carried), min(decoys, len(carried)))
    to_judge = fresh + decoy_ids
    rng.shuffle(to_judge)
    by_id = {i["item_id"]: i for i in items}
    chunk_of: dict[str, dict] = {}
    n = max(1, min(chunks, len(to_judge)))
    for c in range(n):
        part = to_judge[c::n]
        folder = out / f"chunk{c + 1}"
        folder.mkdir(parents=True)
        rows = []
        for k, audit_id in enumerate(part, 1):
            cid = f"c{c + 1}-{k:02d}"
            # drawn again under the chunk id: the judge's picture names nothing but cN-XX
            render_item(dataclasses.replace(drawn[audit_id], audit_id=cid), open_image, folder / f"{cid}.png")
            item = by_id[audit_id]
            rows.append([cid, item["subtask"], item["qa_type"], _proposed(item), "", "", "", ""])
            chunk_of[cid] = {"audit_id": audit_id, "chunk": c + 1, "decoy": audit_id in carried}
        atomic.write_text(folder / "sheet.csv", _sheet_text(rows))
    sealed = {"note": "chunk id -> audit id; keep from the judges until every sheet is filled",
              "chunks": chunk_of, "carried": carried}
    atomic.write_text(out / "sealed" / "round.json", json.dumps(sealed, indent=1, ensure_ascii=False) + "\n")
    summary = {"items": len(items), "carried": len(carried), "fresh": len(fresh), "decoys": len(decoy_ids),
               "chunks": n, "fresh_by_subtask": {}}
    for audit_id in fresh:
        t = by_id[audit_id]["subtask"]
        summary["fresh_by_subtask"][t] = summary["fresh_by_subtask"].get(t, 0) + 1
    return summary


# --- agreement between two panels -------------------------------------------------------------

def _filed(prefix: str) -> dict[str, tuple[str, str]]:
    """content key -> (subtask, verdict) of one filed round."""
    items = _read_items(Path(f"{prefix}-items.jsonl"))
    rows = _read_rows(Path(f"{prefix}-judgments.csv"))
    return {content_key(i): (i["subtask"], rows[i["item_id"]]["verdict"]) for i in items
            if i["item_id"] in rows and rows[i["item_id"]].get("verdict")}


def cohen_kappa(pairs: list[tuple[bool, bool]]) -> float | None:
    n = len(pairs)
    if not n:
        return None
    observed = sum(a == b for a, b in pairs) / n
    pa, pb = sum(a for a, _ in pairs) / n, sum(b for _, b in pairs) / n
    expected = pa * pb + (1 - pa) * (1 - pb)
    return None if expected >= 1 else (observed - expected) / (1 - expected)


def agree(prefix_a: str, prefix_b: str) -> dict:
    a, b = _filed(prefix_a), _filed(prefix_b)
    common = sorted(set(a) & set(b))
    per: dict[str, list[tuple[bool, bool]]] = {}
    for k in common:
        per.setdefault(a[k][0], []).append((a[k][1] == "accept", b[k][1] == "accept"))
    rows = {t: {"items": len(v), "agree": sum(x == y for x, y in v), "accept_a": sum(x for x, _ in v),
                "accept_b": sum(y for _, y in v), "accept_both": sum(x and y for x, y in v)} for t, v in sorted(per.items())}
    every = [p for v in per.values() for p in v]
    return {"common": len(common), "only_a": len(set(a) - set(b)), "only_b": len(set(b) - set(a)),
            "agree": sum(x == y for x, y in every), "kappa": cohen_kappa(every), "by_subtask": rows}


def agree_markdown(r: dict, name_a: str, name_b: str) -> str:
    lines = [f"Items judged by both panels: {r['common']} (only {name_a}: {r['only_a']}, only {name_b}: {r['only_b']}).",
             "", f"| subtask | items | accepted by {name_a} | accepted by {name_b} | accepted by both | same verdict |",
             "|---|---|---|---|---|---|"]
    for t, v in r["by_subtask"].items():
        lines.append(f"| {t} | {v['items']} | {v['accept_a']} | {v['accept_b']} | {v['accept_both']} | {v['agree']} |")
    kappa = "n/a" if r["kappa"] is None else f"{r['kappa']:.2f}"
    lines.append(f"| **all** | {r['common']} | {sum(v['accept_a'] for v in r['by_subtask'].values())} | "
                 f"{sum(v['accept_b'] for v in r['by_subtask'].values())} | "
                 f"{sum(v['accept_both'] for v in r['by_subtask'].values())} | {r['agree']} (Cohen's kappa {kappa}) |")
    return "\n".join(lines)


# --- merge ------------------------------------------------------------------------------------

def merge(out: Path, *, save: str | None) -> dict:
    sealed = json.loads((out / "sealed" / "round.json").read_text(encoding="utf-8"))
    audit = out / "audit"
    items = _read_items(audit / SEALED / ITEMS_NAME)
    judged: dict[str, dict] = {}
    for folder in sorted(out.glob("chunk*")):
        sheet = folder / "sheet.csv"
        for j in read_sheet(sheet):
            if j.item_id not in sealed["chunks"]:
                raise InputError(f"{sheet}: item_id {j.item_id} is not one this round prepared")
            if not j.verdict:
                raise InputError(f"{sheet}: item {j.item_id} has no verdict", hint="finish the sheet first")
            judged[j.item_id] = {"verdict": j.verdict, "reasons": ",".join(j.reasons), "right_answer": j.right_answer,
                                 "note": j.note}
    missing = sorted(set(sealed["chunks"]) - set(judged))
    if missing:
        raise InputError(f"chunk items {missing[:5]} have no sheet row", hint="finish every chunk's sheet first")
    fresh_by_audit = {v["audit_id"]: (cid, judged[cid]) for cid, v in sealed["chunks"].items() if not v["decoy"]}
    decoys = [(cid, v["audit_id"]) for cid, v in sealed["chunks"].items() if v["decoy"]]
    rows = []
    for item in items:
        aid = item["item_id"]
        if aid in fresh_by_audit:
            cid, j = fresh_by_audit[aid]
            prov = f"fresh: blind judge, chunk item {cid}"
        else:
            j = sealed["carried"][aid]
            prov = f"carried: identical item judged blind in {j['origin']}"
        rows.append([aid, item["subtask"], item["qa_type"], _proposed(item),
                     j["verdict"], j["reasons"], j["right_answer"], j["note"], prov])
    final = out / "final"
    atomic.write_text(final / SHEET_NAME, _sheet_text(rows, (*SHEET_COLUMNS, PROVENANCE)))
    shutil.copyfile(audit / SEALED / ITEMS_NAME, final / ITEMS_NAME)
    shutil.copyfile(audit / SEALED / KEY_NAME, final / KEY_NAME)
    report = score_sheet(final / SHEET_NAME, items=final / ITEMS_NAME)
    md = to_markdown(report)
    repeated = [judged[cid]["verdict"] == sealed["carried"][aid]["verdict"] for cid, aid in decoys]
    fresh_ids = set(fresh_by_audit)
    fresh_report = None
    if fresh_ids:
        fresh_sheet = final / "fresh-judgments.csv"
        atomic.write_text(fresh_sheet, _sheet_text([r[:8] for r in rows if r[0] in fresh_ids]))
        fresh_report = score_sheet(fresh_sheet, items=final / ITEMS_NAME)
        fresh_sheet.unlink()
    lines = [md, "", f"Decoys (carried items judged again, blind): the judges repeated the earlier verdict on "
                     f"{sum(repeated)} of {len(repeated)}."]
    if fresh_report:
        lines += ["", "### Items judged fresh this round", "", to_markdown(fresh_report)]
    text = "\n".join(lines) + "\n"
    atomic.write_text(final / "report.md", text)
    if save:
        for name, src in (("judgments.csv", SHEET_NAME), ("items.jsonl", ITEMS_NAME), ("key.json", KEY_NAME),
                          ("report.md", "report.md")):
            shutil.copyfile(final / src, Path(f"{save}-{name}"))
    return {"report": text, "decoys_agreed": sum(repeated), "decoys": len(repeated)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.quality_round", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="a workspace on one coco-mini split, annotations only")
    b.add_argument("split", choices=SPLITS)
    b.add_argument("ws", type=Path)
    b.add_argument("--per-subtask", type=int, default=40)
    b.add_argument("--seed", type=int, default=0)
    b.add_argument("--coco", type=Path, default=COCO)
    pr = sub.add_parser("prepare", help="audit, carry earlier verdicts, write blind chunks")
    pr.add_argument("ws", type=Path)
    pr.add_argument("out", type=Path)
    pr.add_argument("--chunks", type=int, default=2)
    pr.add_argument("--decoys", type=int, default=4)
    pr.add_argument("--seed", type=int, default=0)
    pr.add_argument("--prior", type=Path, default=QUALITY)
    pr.add_argument("--pattern", default="val2017-round*", help="which earlier rounds' files to carry from")
    pr.add_argument("--subtasks", help="only these subtasks (comma-separated; default all)")
    m = sub.add_parser("merge", help="read the filled chunk sheets back and score the round")
    m.add_argument("out", type=Path)
    m.add_argument("--save", help="copy the final files to PREFIX-{judgments.csv,key.json,items.jsonl,report.md}")
    g = sub.add_parser("agree", help="two filed rounds side by side: accept/not agreement on identical items")
    g.add_argument("prefix_a")
    g.add_argument("prefix_b")
    a = p.parse_args(argv)
    try:
        if a.cmd == "build":
            build(a.split, a.ws, per_subtask=a.per_subtask, seed=a.seed, coco=a.coco)
            print(f"built {a.ws}")
        elif a.cmd == "prepare":
            subtasks = [t.strip() for t in a.subtasks.split(",")] if a.subtasks else None
            print(json.dumps(prepare(a.ws, a.out, chunks=a.chunks, decoys=a.decoys, seed=a.seed, prior=a.prior,
                                     pattern=a.pattern, subtasks=subtasks), indent=1))
        elif a.cmd == "agree":
            print(agree_markdown(agree(a.prefix_a, a.prefix_b), Path(a.prefix_a).name, Path(a.prefix_b).name))
        else:
            r = merge(a.out, save=a.save)
            print(r["report"])
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
