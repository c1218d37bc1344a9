"""The audit harness: judge a sample of candidates as a strict reviewer would, then score the sheet.

``write_audit`` draws a per-subtask stratified sample (deterministic under ``seed``) from one or more
workspaces, shuffles it, gives every item a neutral id (``item-007``) and writes, into one folder::

    item-007.png          both images side by side, the named entities' boxes, question, options, answer
    judgments.csv         one row per item: the rubric's columns, verdict/reasons/right_answer/note blank
    sealed/items.jsonl    what the scorer needs (images, options, caption similarity); not for the judge
    sealed/key.json       audit id -> source label + candidate id; the judge never opens sealed/

Nothing the judge opens names a workspace, a builder version or a candidate id, so items from an
old and a new build can be judged blind side by side (``sources`` with several labels).

``score_sheet`` reads the filled sheet back (errors name the row and column) and reports precision
per subtask with Wilson 95% intervals, Yes/No precision, reasons, and the rubric's figures (image
reuse, option reuse, caption similarity of positive and negative pairs); with a key, per label.
The rubric itself: ../shared/docs/review-rubric.md (verdicts and reasons below mirror it).
"""

from __future__ import annotations

import csv
import io
import json
import math
import random
import statistics
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from mmrakit import atomic
from mmrakit.errors import InputError
from mmrakit.models import Candidate, EntityGrounding
from mmrakit.workspace import Workspace

VERDICTS = ("accept", "correct", "reject")
REASONS = ("wrong_answer", "ambiguous", "entity_not_visible", "answerable_without_images",
           "answerable_from_one_image", "nonsensical", "duplicate")
SHEET_COLUMNS = ("item_id", "subtask", "qa_type", "proposed_answer", "verdict", "reasons", "right_answer", "note")
SHEET_NAME, SEALED, ITEMS_NAME, KEY_NAME = "judgments.csv", "sealed", "items.jsonl", "key.json"

# --- layout (pixels) --------------------------------------------------------------------------
WIDTH, PANEL_H, PAD, GAP = 1400, 640, 16, 16
PANEL_W = (WIDTH - 2 * PAD - GAP) // 2
BOX_COLOURS = ((255, 40, 40), (0, 200, 255), (255, 200, 0), (60, 220, 60), (255, 0, 200), (255, 130, 0))
MAX_BOXES = 8


@dataclass
class Source:
    """One workspace to draw items from, and the label its items carry in the key."""

    label: str
    ws: Workspace


@dataclass
class AuditItem:
    audit_id: str
    label: str
    candidate: Candidate


@dataclass
class AuditReport:
    out: Path
    items: list[AuditItem] = field(default_factory=list)
    per_label: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"out": str(self.out), "items": len(self.items), "sheet": str(self.out / SHEET_NAME),
                "key": str(self.out / SEALED / KEY_NAME), "per_label": self.per_label}


# --- sampling ---------------------------------------------------------------------------------

def stratified_sample(candidates: Iterable[Candidate], n: int, seed: int) -> list[Candidate]:
    """Up to ``n`` candidates per subtask (all when ``n`` is 0), chosen by a seeded RNG per subtask.

    Order probes (swapped twins of another item) are left out: they would show the judge the same
    item twice."""
    by_task: dict[str, list[Candidate]] = {}
    for c in candidates:
        if not c.order_probe:
            by_task.setdefault(c.task, []).append(c)
    out: list[Candidate] = []
    for task in sorted(by_task):
        pool = sorted(by_task[task], key=lambda c: c.id)
        rng = random.Random(f"audit:{seed}:{task}")
        out += pool if not n or n >= len(pool) else rng.sample(pool, n)
    return out


def draw_items(sources: list[Source], *, sample: int, seed: int, subtasks: list[str] | None) -> list[AuditItem]:
    """Sample every source, shuffle all items together and number them in the shuffled order."""
    from mmrakit.records import CandidateStore

    labels = [s.label for s in sources]
    if len(set(labels)) != len(labels):
        raise InputError(f"audit source labels must differ, got {labels}", hint="name them: --mix PATH:LABEL")
    drawn: list[tuple[str, Candidate]] = []
    for s in sources:
        cands = CandidateStore(s.ws).list(task=subtasks, status="kept")
        drawn += [(s.label, c) for c in stratified_sample(cands, sample, seed)]
    drawn.sort(key=lambda lc: (lc[0], lc[1].task, lc[1].id))
    random.Random(f"audit:{seed}:shuffle").shuffle(drawn)
    width = max(3, len(str(len(drawn))))
    return [AuditItem(f"item-{i + 1:0{width}d}", label, c) for i, (label, c) in enumerate(drawn)]


# --- rendering --------------------------------------------------------------------------------

def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    """DejaVu Sans as shipped by matplotlib (a dependency); Pillow's scalable default otherwise."""
    try:
        import matplotlib

        name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
        return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name), size)
    except (ImportError, OSError):
        return ImageFont.load_default(size)


def _wrap(text: str, font, width: int) -> list[str]:
    """Greedy word wrap to ``width`` pixels."""
    out: list[str] = []
    for para in text.split("\n"):
        line = ""
        for word in para.split(" "):
            trial = f"{line} {word}" if line else word
            if line and font.getlength(trial) > width:
                out.append(line)
                line = word
            else:
                line = trial
        out.append(line)
    return out


def _panel(img: Image.Image | None, entities: list[EntityGrounding], number: int) -> Image.Image:
    """One image scaled to fit the panel, with the boxed entities drawn and labelled on it."""
    panel = Image.new("RGB", (PANEL_W, PANEL_H), (235, 235, 235))
    draw = ImageDraw.Draw(panel)
    if img is None:
        draw.text((20, PANEL_H // 2), f"image {number}: file missing", fill=(170, 0, 0), font=_font(24))
        return panel
    scale = min(PANEL_W / img.width, PANEL_H / img.height)
    w, h = max(1, round(img.width * scale)), max(1, round(img.height * scale))
    x0, y0 = (PANEL_W - w) // 2, (PANEL_H - h) // 2
    panel.paste(img.resize((w, h), Image.Resampling.LANCZOS), (x0, y0))
    font = _font(18, bold=True)
    boxed = [e for e in entities if e.box is not None][:MAX_BOXES]
    rects = []
    for i, e in enumerate(boxed):
        colour = BOX_COLOURS[i % len(BOX_COLOURS)]
        b = e.box
        x1, y1 = x0 + b.x * w, y0 + b.y * h
        x2, y2 = x0 + (b.x + b.w) * w, y0 + (b.y + b.h) * h
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=3)
        rects.append((e.text, colour, x1, y1, x2, y2))
    placed: list[tuple[float, float, float, float]] = []
    for label, colour, x1, y1, x2, y2 in rects:  # labels after all boxes, so no outline crosses a label
        tw, th = font.getlength(label) + 8, 24
        tries = [(x1, y1 - th), (x1, y1), (x1, y2), (x2 - tw, y1 - th), (x1, y2 - th)]
        tries = [(min(max(0.0, tx), PANEL_W - tw), min(max(0.0, ty), PANEL_H - th)) for tx, ty in tries]
        tx, ty = next((t for t in tries if not any(_overlap((t[0], t[1], t[0] + tw, t[1] + th), r) for r in placed)),
                      tries[0])
        placed.append((tx, ty, tx + tw, ty + th))
        draw.rectangle((tx, ty, tx + tw, ty + th), fill=colour)
        draw.text((tx + 4, ty + 2), label, fill=(0, 0, 0) if sum(colour) > 400 else (255, 255, 255), font=font)
    badge = _font(28, bold=True)
    draw.rectangle((0, 0, 40, 40), fill=(0, 0, 0))
    draw.text((11, 4), str(number), fill=(255, 255, 255), font=badge)
    return panel


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _entity_line(entities: list[EntityGrounding]) -> str:
    seen: list[str] = []
    for e in entities:
        tag = f"{e.text} ({e.source}{', boxed' if e.box is not None else ''})"
        if tag not in seen:
            seen.append(tag)
    return ", ".join(seen) if seen else "none recorded"


def render_item(item: AuditItem, open_image: Callable[[str], Image.Image | None], out_path: Path) -> Path:
    """Write one item's PNG: header, both images, then question, options and the proposed answer."""
    c = item.candidate
    head_f, q_f, o_f, o_bf, small = _font(22, True), _font(24, True), _font(22), _font(22, True), _font(17)
    text_w = WIDTH - 2 * PAD
    blocks: list[tuple[str, object, tuple[int, int, int]]] = []  # (line, font, colour)
    for line in _wrap(f"Q: {c.question}", q_f, text_w):
        blocks.append((line, q_f, (0, 0, 0)))
    blocks.append(("", small, (0, 0, 0)))
    if c.options:
        for k, v in c.options.items():
            mine = k == c.answer
            text = f"{k}. {v}" + ("      <- proposed answer" if mine else "")
            for line in _wrap(text, o_bf if mine else o_f, text_w - 30):
                blocks.append(("   " + line, o_bf if mine else o_f, (0, 120, 0) if mine else (0, 0, 0)))
    else:
        blocks.append((f"Proposed answer: {c.answer}", o_bf, (0, 120, 0)))
    blocks.append(("", small, (0, 0, 0)))
    for n, ents in ((1, c.evidence.entities1), (2, c.evidence.entities2)):
        for line in _wrap(f"Entities used from image {n}: {_entity_line(ents)}", small, text_w):
            blocks.append((line, small, (80, 80, 80)))
    line_h = {id(f): f.size + 8 for f in (q_f, o_f, o_bf, small)}
    header_h = 44
    text_h = sum(line_h[id(f)] for _, f, _ in blocks)
    height = header_h + PANEL_H + 2 * PAD + text_h
    sheet = Image.new("RGB", (WIDTH, height), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((PAD, 10), f"{item.audit_id}    subtask: {c.task}    QA type: {c.qa_type}", fill=(0, 0, 0), font=head_f)
    for n, (sha, ents) in enumerate(((c.image1, c.evidence.entities1), (c.image2, c.evidence.entities2)), start=1):
        x = PAD + (n - 1) * (PANEL_W + GAP)
        sheet.paste(_panel(open_image(sha), ents, n), (x, header_h))
    y = header_h + PANEL_H + PAD
    for line, font, colour in blocks:
        draw.text((PAD, y), line, fill=colour, font=font)
        y += line_h[id(font)]
    with atomic.atomic_path(out_path, suffix=".png") as tmp:
        sheet.save(tmp, format="PNG")
    return out_path


# --- writing an audit -------------------------------------------------------------------------

def proposed_answer(c: Candidate) -> str:
    return f"{c.answer}. {c.options[c.answer]}" if c.options else c.answer


def caption_polarity(c: Candidate) -> str:
    """'negative' for a No item (the pair does not share the relation), 'positive' otherwise."""
    return "negative" if c.qa_type == "True or false QA" and c.answer == "No" else "positive"


def image_opener(pool) -> Callable[[str], Image.Image | None]:
    """``sha -> image`` from ``pool``, or None when the file is gone (the panel is drawn empty)."""
    def open_image(sha: str) -> Image.Image | None:
        try:
            return pool.open(sha)
        except (KeyError, FileNotFoundError, OSError):
            return None
    return open_image


def write_audit(sources: list[Source], out: Path, *, sample: int = 10, seed: int = 0,
                subtasks: list[str] | None = None, force: bool = False) -> AuditReport:
    """Sample, render one PNG per item, and write the blank judgments sheet, items and key."""
    from mmrakit.images import ImagePool

    out = Path(out)
    if out.exists() and any(out.iterdir()) and not force:
        raise InputError(f"{out} already holds files (perhaps a judged sheet)",
                         hint="choose another --out, or pass --force to replace the folder")
    items = draw_items(sources, sample=sample, seed=seed, subtasks=subtasks)
    if not items:
        raise InputError("no kept candidates to audit" + (f" for subtasks {subtasks}" if subtasks else ""),
                         hint="run `mmrakit build` first, or widen --subtasks")
    pools = {s.label: ImagePool(s.ws) for s in sources}
    report = AuditReport(out=out, items=items)
    with atomic.atomic_dir(out) as tmp:
        openers = {label: image_opener(pool) for label, pool in pools.items()}
        for item in items:
            render_item(item, openers[item.label], tmp / f"{item.audit_id}.png")
            counts = report.per_label.setdefault(item.label, {})
            counts[item.candidate.task] = counts.get(item.candidate.task, 0) + 1
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(SHEET_COLUMNS)
        for item in items:
            c = item.candidate
            writer.writerow([item.audit_id, c.task, c.qa_type, proposed_answer(c), "", "", "", ""])
        atomic.write_text(tmp / SHEET_NAME, buf.getvalue())
        lines = [json.dumps({"item_id": i.audit_id, "subtask": i.candidate.task, "qa_type": i.candidate.qa_type,
                             "question": i.candidate.question, "options": i.candidate.options,
                             "answer": i.candidate.answer, "image1": i.candidate.image1, "image2": i.candidate.image2,
                             "polarity": caption_polarity(i.candidate),
                             "caption_similarity": i.candidate.evidence.caption_similarity}, ensure_ascii=False)
                 for i in items]
        atomic.write_text(tmp / SEALED / ITEMS_NAME, "\n".join(lines) + "\n")
        key = {"note": "audit id -> source; keep this file from the judge until the sheet is filled",
               "items": {i.audit_id: {"label": i.label, "candidate_id": i.candidate.id} for i in items}}
        atomic.write_text(tmp / SEALED / KEY_NAME, json.dumps(key, indent=1, ensure_ascii=False) + "\n")
    return report


# --- reading a filled sheet -------------------------------------------------------------------

@dataclass
class Judgment:
    item_id: str
    subtask: str
    qa_type: str
    proposed_answer: str
    verdict: str | None
    reasons: list[str]
    right_answer: str
    note: str

    @property
    def proposed_yes_no(self) -> str | None:
        return self.proposed_answer if self.proposed_answer in ("Yes", "No") else None


def _split_reasons(text: str) -> list[str]:
    return [r for r in (p.strip().lower() for p in text.replace(";", ",").replace("|", ",").split(",")) if r]


def read_sheet(path: Path) -> list[Judgment]:
    """The judged sheet (CSV, or TSV by extension). Every problem is collected, then raised at once,
    naming the line and column; rows without a verdict count as not judged."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no judgments sheet at {path}")
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    text = path.read_text(encoding="utf-8-sig")
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    columns = [c.strip().lower() for c in (reader.fieldnames or [])]
    missing = [c for c in SHEET_COLUMNS if c not in columns]
    if missing:
        raise InputError(f"{path}: line 1 (header) lacks column(s) {missing}",
                         hint=f"the sheet needs the columns {', '.join(SHEET_COLUMNS)}")
    errors: list[str] = []
    out: list[Judgment] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(reader, start=2):
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in raw.items() if isinstance(v, str) or v is None}
        where = f"{path.name} line {n}"
        item_id = row.get("item_id", "")
        if not item_id:
            errors.append(f"{where}, column item_id: empty")
            continue
        if item_id in seen:
            errors.append(f"{where}, column item_id: {item_id!r} already on line {seen[item_id]}")
            continue
        seen[item_id] = n
        verdict = row.get("verdict", "").lower() or None
        reasons = _split_reasons(row.get("reasons", ""))
        if verdict is not None and verdict not in VERDICTS:
            errors.append(f"{where}, column verdict: {row['verdict']!r} is not one of {', '.join(VERDICTS)}")
        bad = [r for r in reasons if r not in REASONS]
        if bad:
            errors.append(f"{where}, column reasons: unknown reason(s) {bad}; use {', '.join(REASONS)}")
        if verdict == "reject" and not reasons:
            errors.append(f"{where}, column reasons: a reject needs at least one reason")
        if verdict == "accept" and reasons:
            errors.append(f"{where}, column reasons: an accept takes no reasons (got {reasons})")
        if verdict == "correct" and not row.get("right_answer"):
            errors.append(f"{where}, column right_answer: a correct verdict must say the right answer")
        if verdict is None and (reasons or row.get("right_answer")):
            errors.append(f"{where}, column verdict: empty, but reasons/right_answer are filled")
        out.append(Judgment(item_id, row.get("subtask", ""), row.get("qa_type", ""), row.get("proposed_answer", ""),
                            verdict, reasons, row.get("right_answer", ""), row.get("note", "")))
    if errors:
        shown = errors[:25] + ([f"... and {len(errors) - 25} more"] if len(errors) > 25 else [])
        raise InputError(f"{path}: {len(errors)} problem(s) in the judgments sheet:\n  " + "\n  ".join(shown),
                         hint="verdict is accept | correct | reject; reasons are separated by ';'")
    return out


def _read_jsonl(path: Path) -> dict[str, dict]:
    out = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                d = json.loads(line)
                out[d["item_id"]] = d
            except (json.JSONDecodeError, KeyError) as exc:
                raise InputError(f"{path} line {n}: not an audit item ({exc})") from exc
    return out


def read_key(path: Path) -> dict[str, str]:
    """audit id -> label."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        return {k: v["label"] for k, v in data["items"].items()}
    except FileNotFoundError as exc:
        raise InputError(f"no audit key at {path}") from exc
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path} is not an audit key ({exc.__class__.__name__}: {exc})",
                         hint="pass the sealed/key.json that `candidates audit` wrote") from exc


# --- statistics -------------------------------------------------------------------------------

Z95 = 1.959963984540054  # two-sided 95% normal quantile


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (Wilson 1927; Newcombe 1998, method 3)."""
    if n <= 0:
        return (0.0, 1.0)
    if not 0 <= successes <= n:
        raise ValueError(f"successes {successes} outside 0..{n}")
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def _precision(accepted: int, judged: int) -> dict:
    lo, hi = wilson_interval(accepted, judged)
    return {"judged": judged, "accept": accepted, "precision": round(accepted / judged, 4) if judged else None,
            "ci95": [round(lo, 4), round(hi, 4)] if judged else None}


def summarize(judgments: list[Judgment]) -> dict:
    """Counts, precision with its Wilson interval, the two most common reasons, Yes/No precision."""
    judged = [j for j in judgments if j.verdict]
    counts = Counter(j.verdict for j in judged)
    reasons = Counter(r for j in judged for r in j.reasons)
    out = {**_precision(counts["accept"], len(judged)), "correct": counts["correct"], "reject": counts["reject"],
           "unjudged": len(judgments) - len(judged), "top_reasons": reasons.most_common(2)}
    yn = [j for j in judged if j.proposed_yes_no]
    if yn:
        for side in ("Yes", "No"):
            part = [j for j in yn if j.proposed_yes_no == side]
            out[f"{side.lower()}_items"] = _precision(sum(j.verdict == "accept" for j in part), len(part))
    return out


def figures(items: list[dict], top: int = 3) -> dict:
    """The rubric's figures for a set of audited items (from sealed/items.jsonl)."""
    slots = [sha for d in items for sha in (d["image1"], d["image2"])]
    reuse = Counter(slots)
    options: dict[str, dict] = {}
    by_task: dict[str, list[dict]] = {}
    for d in items:
        by_task.setdefault(d["subtask"], []).append(d)
    for task, ds in sorted(by_task.items()):
        choice = [d for d in ds if d.get("options")]
        if not choice:
            continue
        c = Counter(s for d in choice for s in {v.strip().casefold() for v in d["options"].values()})
        ranked = sorted(c.items(), key=lambda sk: (-sk[1], sk[0]))[:top]  # ties by name: the same report every run
        options[task] = [{"option": s, "items": k, "share": round(k / len(choice), 3)} for s, k in ranked]
    sims = {p: [d["caption_similarity"] for d in items if d.get("polarity") == p and d.get("caption_similarity") is not None]
            for p in ("positive", "negative")}
    return {"image_slots": len(slots), "distinct_images": len(reuse),
            "most_reused_image_count": max(reuse.values()) if reuse else 0, "top_options": options,
            "caption_similarity_median": {p: (round(statistics.median(v), 4) if v else None) for p, v in sims.items()},
            "caption_similarity_n": {p: len(v) for p, v in sims.items()}}


def _group_report(judgments: list[Judgment], items: dict[str, dict] | None) -> dict:
    by_task: dict[str, list[Judgment]] = {}
    for j in judgments:
        by_task.setdefault(j.subtask, []).append(j)
    rep = {"subtasks": {t: summarize(js) for t, js in sorted(by_task.items())}, "overall": summarize(judgments)}
    if items is not None:
        rep["figures"] = figures([items[j.item_id] for j in judgments if j.item_id in items])
    return rep


def score_sheet(sheet: Path, *, key: Path | None = None, items: Path | None = None) -> dict:
    """Score a filled sheet. ``items`` defaults to sealed/items.jsonl beside the sheet (for the
    figures; skipped when absent); with ``key`` every table is given per label as well."""
    sheet = Path(sheet)
    judgments = read_sheet(sheet)
    items_path = Path(items) if items else sheet.parent / SEALED / ITEMS_NAME
    item_data = _read_jsonl(items_path) if items_path.is_file() else None
    if items and item_data is None:
        raise InputError(f"no audit items file at {items}")
    if item_data is not None:
        unknown = [j.item_id for j in judgments if j.item_id not in item_data]
        if unknown:
            raise InputError(f"{sheet}: item_id(s) {unknown[:5]} are not in {items_path}",
                             hint="score the sheet with the items file of the same audit")
        for j in judgments:  # the sealed record is authoritative for what was proposed
            d = item_data[j.item_id]
            j.subtask, j.qa_type = d["subtask"], d["qa_type"]
            if d["qa_type"] == "True or false QA":
                j.proposed_answer = d["answer"]
    groups: dict[str, list[Judgment]] = {"all": judgments}
    labels: list[str] = []
    if key is not None:
        labels_of = read_key(key)
        missing = [j.item_id for j in judgments if j.item_id not in labels_of]
        if missing:
            raise InputError(f"{sheet}: item_id(s) {missing[:5]} are not in the key {key}",
                             hint="pass the key written by the same audit")
        labels = sorted({labels_of[j.item_id] for j in judgments})
        for lab in labels:
            groups[lab] = [j for j in judgments if labels_of[j.item_id] == lab]
    return {"sheet": sheet.name, "labels": labels, "items": len(judgments),
            "judged": sum(1 for j in judgments if j.verdict),
            "groups": {g: _group_report(js, item_data) for g, js in groups.items()}}


# --- Markdown ---------------------------------------------------------------------------------

def _pct(p: dict | None) -> str:
    if not p or not p.get("judged"):
        return "-"
    lo, hi = p["ci95"]
    return f"{p['accept']}/{p['judged']} = {100 * p['precision']:.0f}% [{100 * lo:.0f}–{100 * hi:.0f}]"


def to_markdown(report: dict) -> str:
    """Tables for benchmarks/RESULTS.md: precision per subtask (a column per label), counts and
    reasons, Yes/No precision, and the rubric's figures."""
    cols = report["labels"] or ["all"]
    groups = report["groups"]
    tasks = sorted({t for g in cols for t in groups[g]["subtasks"]})
    out = [f"Audit of `{report['sheet']}`: {report['judged']} of {report['items']} items judged. "
           "Precision = accept / judged, Wilson 95% interval in brackets.", ""]
    out += ["| subtask | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for t in tasks:
        out.append(f"| {t} | " + " | ".join(_pct(groups[g]["subtasks"].get(t)) for g in cols) + " |")
    out.append("| **overall** | " + " | ".join(f"**{_pct(groups[g]['overall'])}**" for g in cols) + " |")
    out += ["", "| subtask | label | judged | accept | correct | reject | most common reasons |", "|---|---|---|---|---|---|---|"]
    for t in tasks:
        for g in cols:
            s = groups[g]["subtasks"].get(t)
            if s:
                reasons = ", ".join(f"{r} ({k})" for r, k in s["top_reasons"]) or "-"
                out.append(f"| {t} | {g} | {s['judged']} | {s['accept']} | {s['correct']} | {s['reject']} | {reasons} |")
    yn_rows = [(t, g, s) for t in tasks for g in cols if (s := groups[g]["subtasks"].get(t)) and "yes_items" in s]
    if yn_rows:
        out += ["", "True-or-false items: precision of proposed Yes and of proposed No.", "",
                "| subtask | label | Yes items | No items |", "|---|---|---|---|"]
        out += [f"| {t} | {g} | {_pct(s.get('yes_items'))} | {_pct(s.get('no_items'))} |" for t, g, s in yn_rows]
    if all("figures" in groups[g] for g in cols):
        out += ["", "| label | distinct images / slots | most reused image | median caption sim. (positive / negative) |",
                "|---|---|---|---|"]
        for g in cols:
            f = groups[g]["figures"]
            med = f["caption_similarity_median"]
            out.append(f"| {g} | {f['distinct_images']} / {f['image_slots']} | {f['most_reused_image_count']} | "
                       f"{med['positive'] if med['positive'] is not None else '-'} (n={f['caption_similarity_n']['positive']}) / "
                       f"{med['negative'] if med['negative'] is not None else '-'} (n={f['caption_similarity_n']['negative']}) |")
        out += ["", "Most frequent option strings (share of the subtask's Choice items that show them):", "",
                "| subtask | label | options |", "|---|---|---|"]
        for t in tasks:
            for g in cols:
                opts = groups[g]["figures"]["top_options"].get(t)
                if opts:
                    out.append(f"| {t} | {g} | " + ", ".join(f"{o['option']} ({100 * o['share']:.0f}%)" for o in opts) + " |")
    return "\n".join(out) + "\n"


def parse_mix(spec: str) -> tuple[Path, str]:
    """``PATH[:LABEL]`` -> (path, label); the label defaults to the folder's name."""
    path, _, label = spec.rpartition(":") if ":" in spec and not Path(spec).exists() else (spec, "", "")
    label = label.strip() or Path(path).resolve().name
    return Path(path), label


__all__ = ["AuditItem", "AuditReport", "Judgment", "REASONS", "SHEET_COLUMNS", "Source", "VERDICTS", "draw_items",
           "figures", "parse_mix", "read_key", "read_sheet", "render_item", "score_sheet", "stratified_sample",
           "summarize", "to_markdown", "wilson_interval", "write_audit"]
