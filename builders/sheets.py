"""Contact sheets: one PNG per subtask showing each candidate's two images side by side with the
question, options and answer - a quick look before sending items to review."""

from __future__ import annotations

import textwrap
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from mmrakit import atomic
from mmrakit.models import Candidate

THUMB = 240
TEXT_W = 520
ROW_H = THUMB + 16


def _thumb(path: Path | None) -> Image.Image:
    tile = Image.new("RGB", (THUMB, THUMB), (230, 230, 230))
    if path is None or not Path(path).exists():
        ImageDraw.Draw(tile).text((10, THUMB // 2), "image file missing", fill=(160, 0, 0))
        return tile
    with Image.open(path) as im:
        im = im.convert("RGB")
        im.thumbnail((THUMB, THUMB))
        tile.paste(im, ((THUMB - im.width) // 2, (THUMB - im.height) // 2))
    return tile


def _lines(c: Candidate) -> list[str]:
    out = textwrap.wrap(f"Q: {c.question}", 70)
    if c.options:
        for k, v in c.options.items():
            mark = "  <= answer" if k == c.answer else ""
            out += textwrap.wrap(f"{k}. {v}{mark}", 70)
    else:
        out.append(f"Answer: {c.answer}")
    tag = " [order probe]" if c.order_probe else ""
    out.append(f"{c.qa_type} | id {c.id}{tag}")
    return out


def contact_sheet(task: str, candidates: list[Candidate], image_path, out_path: Path, limit: int = 24) -> Path:
    """Write ``out_path`` (PNG) for up to ``limit`` candidates; ``image_path(sha)`` -> file or None."""
    items = candidates[:limit]
    font = ImageFont.load_default()
    width = 2 * THUMB + TEXT_W + 30
    height = 36 + max(1, len(items)) * ROW_H
    sheet = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((10, 10), f"{task}: {len(items)} of {len(candidates)} candidates", fill="black", font=font)
    for i, c in enumerate(items):
        y = 36 + i * ROW_H
        sheet.paste(_thumb(image_path(c.image1)), (10, y))
        sheet.paste(_thumb(image_path(c.image2)), (20 + THUMB, y))
        draw.text((14, y + 2), "1", fill=(255, 255, 0), font=font)
        draw.text((24 + THUMB, y + 2), "2", fill=(255, 255, 0), font=font)
        for j, line in enumerate(_lines(c)[:18]):
            draw.text((30 + 2 * THUMB, y + 2 + j * 13), line, fill="black", font=font)
    with atomic.atomic_path(out_path) as tmp:
        sheet.save(tmp, format="PNG")
    return out_path


def write_sheets(ws, tasks: list[str] | None = None, out_dir: Path | None = None, limit: int = 24) -> dict[str, str]:
    from mmrakit.images import ImagePool
    from mmrakit.records import CandidateStore

    pool = ImagePool(ws)
    store = CandidateStore(ws)
    out_dir = Path(out_dir) if out_dir else ws.path("candidates", "sheets")
    out_dir.mkdir(parents=True, exist_ok=True)

    def image_path(sha: str) -> Path | None:
        try:
            return pool.image_path(sha)
        except (KeyError, FileNotFoundError):
            return None

    written = {}
    by_task: dict[str, list[Candidate]] = {}
    for c in store.list(task=tasks, status="kept"):
        by_task.setdefault(c.task, []).append(c)
    for task, cands in by_task.items():
        written[task] = str(contact_sheet(task, cands, image_path, out_dir / f"{task}.png", limit))
    return written
