"""VLMEvalKit TSVs: drop them into ``$LMUData`` and run ``python run.py --config <name>_config.json``.

VLMEvalKit's conventions (its docs/en/Development.md and ``ImageBaseDataset``): one TSV per dataset;
``index`` unique; ``image`` is base64, or for several images a list literal of base64 strings, which
then needs ``image_path`` (a list of file names to decode them to); ``question``; options as ``A``..``D``
columns (empty when an item has fewer options); ``answer``; ``category`` (here the MMRA subtask) and
``l2-category`` (entity/image level). A TSV with ``A``/``B`` columns and images is treated as a custom MCQ
dataset, so Choice QA items go to ``<name>.tsv``. Yes/no items have no options: they go to
``<name>_YN.tsv`` (answer Yes/No, question ending in "Please answer yes or no."). Named by ``--data``
alone VLMEvalKit would load that file as ``CustomVQADataset``, whose ``evaluate`` raises
``NotImplementedError``; the ``<name>_config.json`` written beside the TSVs names ``ImageYORNDataset`` for it
(and ``CustomMCQDataset`` for the Choice file), so both files score. With ``--judge exact_matching``
VLMEvalKit extracts answers by rule instead of calling a GPT judge. Checked with VLMEvalKit's own code
(ms-vlmeval, tests/test_export_vlmeval.py).
"""
from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from pathlib import Path

from mmrakit.models import OPTION_LETTERS
from .hf import _EXT
from .rows import ExportRow, rotated_rows

MCQ_COLUMNS = ["index", "image", "image_path", "question", *OPTION_LETTERS, "answer", "category", "l2-category", "split",
               "pair_id"]
YN_COLUMNS = ["index", "image", "image_path", "question", "answer", "category", "l2-category", "split", "pair_id"]
CIRCULAR_COLUMNS = [*MCQ_COLUMNS, "g_index"]
#: VLMEvalKit's circular rows: rotation k of the item with index g has index g + k * CIRCULAR_STRIDE (g_index = g).
CIRCULAR_STRIDE = 1_000_000
YES_NO_INSTRUCTION = "Please answer yes or no."
#: VLMEvalKit dataset class per file (run.py's --config "data" section); the model entry is an example to replace.
DATASET_CLASSES = {"": "CustomMCQDataset", "_YN": "ImageYORNDataset", "_circular": "CustomMCQDataset"}
EXAMPLE_MODEL = "Qwen2-VL-2B-Instruct"


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode("ascii")


def _image_names(row: ExportRow) -> list[str]:
    out = []
    for rec, f in ((row.image1, row.image1_file), (row.image2, row.image2_file)):
        ext = _EXT.get((rec.format or "").upper(), f.suffix.lstrip(".").lower() or "jpg")
        out.append(f"{rec.sha256[:24]}.{ext}")
    return out


def list_literal(items: list[str]) -> str:
    """``['a', 'b']``: what VLMEvalKit's ``toliststr`` evaluates. Single quotes on purpose: base64 and
    our file names contain no quote, tab or newline, so the csv writer never has to quote the (huge)
    cell — with double quotes it spends seconds escaping every image (benchmarks/bench_export.py)."""
    assert all("'" not in x and "\\" not in x for x in items)
    return "[" + ", ".join(f"'{x}'" for x in items) + "]"


def tsv_record(row: ExportRow, index: int, split: str) -> dict[str, object]:
    c = row.candidate
    rec: dict[str, object] = {
        "index": index,
        "image": list_literal([_b64(row.image1_file), _b64(row.image2_file)]),
        "image_path": list_literal(_image_names(row)),
        "question": row.question if c.options else yes_no_question(row.question),
        "answer": row.answer,
        "category": c.task,
        "l2-category": c.granularity,
        "split": split,
        "pair_id": c.pair_id or "",
    }
    if c.options:
        for letter in OPTION_LETTERS:
            rec[letter] = c.options.get(letter, "")
    return rec


def yes_no_question(question: str) -> str:
    """The question with VLMEvalKit's yes/no instruction appended (once)."""
    question = question.rstrip()
    return question if question.endswith(YES_NO_INSTRUCTION) else f"{question} {YES_NO_INSTRUCTION}"


def config_name(name: str) -> str:
    return f"{name}_config.json"


def run_config(name: str, files: Sequence[str]) -> dict[str, object]:
    """VLMEvalKit ``run.py --config`` content: each written TSV with the dataset class that scores it."""
    data = {}
    for suffix, cls in DATASET_CLASSES.items():
        if f"{name}{suffix}.tsv" in files:
            data[f"{name}{suffix}"] = {"class": cls, "dataset": f"{name}{suffix}"}
    return {"model": {EXAMPLE_MODEL: {}}, "data": data}


def tsv_cell(value: object) -> str:
    """One TSV cell, quoted the way pandas/csv read it back (only when it has a tab, newline or quote)."""
    text = "" if value is None else str(value)
    if any(ch in text for ch in '\t\n\r"'):
        return '"' + text.replace('"', '""') + '"'
    return text


def write_vlmevalkit(directory: Path, splits: Mapping[str, Sequence[ExportRow]], *, name: str = "MMRA_mmrakit") -> dict[str, int]:
    """Write ``<name>.tsv`` (Choice QA), ``<name>_YN.tsv`` (yes/no), ``<name>_circular.tsv`` and
    ``<name>_config.json``; returns rows per TSV (the config names only TSVs with rows).

    The circular file holds every Choice QA item in each rotation of its options (rotation 0 first, with the
    item's own index; rotation k at ``index + k * CIRCULAR_STRIDE``, ``g_index`` = the item's index).
    VLMEvalKit switches on CircularEval for a dataset whose name contains "circular"
    (``ImageMCQDataset.evaluate`` -> ``mcq_circular_eval``): an item counts only if every rotation is right.
    ``pair_id`` names counterfactual partners (empty when the item has none); VLMEvalKit ignores the column.

    Written by hand rather than with ``csv.writer``: its C writer takes ~30 ms per multi-MB image
    cell, the hand-written cells are plain joins (benchmarks/bench_export.py)."""
    directory.mkdir(parents=True, exist_ok=True)
    circular = f"{name}_circular.tsv"
    files = {f"{name}.tsv": MCQ_COLUMNS, f"{name}_YN.tsv": YN_COLUMNS, circular: CIRCULAR_COLUMNS}
    handles = {fn: open(directory / fn, "w", encoding="utf-8", newline="") for fn in files}
    counts = dict.fromkeys(files, 0)
    try:
        for fn, cols in files.items():
            handles[fn].write("\t".join(cols) + "\n")
        index = 0
        for split, rows in splits.items():
            for row in rows:
                fn = f"{name}.tsv" if row.candidate.options else f"{name}_YN.tsv"
                rec = tsv_record(row, index, split)
                handles[fn].write("\t".join(tsv_cell(rec.get(c)) for c in files[fn]) + "\n")
                counts[fn] += 1
                if row.candidate.options:
                    turns = [(0, row), *rotated_rows(row)]
                    for k, turn in turns:  # the images are encoded once; only options and answer move
                        rec = {**rec, "index": index + k * CIRCULAR_STRIDE, "g_index": index, "answer": turn.answer,
                               **{letter: (turn.candidate.options or {}).get(letter, "") for letter in OPTION_LETTERS}}
                        handles[circular].write("\t".join(tsv_cell(rec.get(c)) for c in CIRCULAR_COLUMNS) + "\n")
                    counts[circular] += len(turns)
                index += 1
    finally:
        for h in handles.values():
            h.close()
    config = run_config(name, [fn for fn, n in counts.items() if n])  # an empty TSV would fail in VLMEvalKit
    (directory / config_name(name)).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    return counts
