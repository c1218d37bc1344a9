"""An lmms-eval task directory for an export: ``lmms-eval --include_path DIR --tasks <name>``.

The pack holds its own parquet (hard links to the export's shards when possible), a task YAML per
split, and a ``utils.py`` that needs nothing but lmms-eval: the prompt templates and the MMRA answer
extraction of mmrakit's evaluation runner are rendered into it, so a pack scores a response exactly
as ``mmrakit eval`` does. lmms-eval resolves relative ``data_files`` against the YAML's folder.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import shutil
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from string import Template

import yaml

from mmrakit.modelhub import prompts as eval_prompts
from mmrakit.modelhub.prompts import PROMPT_TEMPLATES

SECTION_START, SECTION_END = "# --- MMRA ", "# --- ReMI "


def mmra_section_source() -> str:
    """The MMRA part of ``mmrakit.modelhub.prompts`` (prompt + extraction), as source text."""
    source = inspect.getsource(eval_prompts)
    start, end = source.find(SECTION_START), source.find(SECTION_END)
    if start < 0 or end < start:
        raise RuntimeError(
            "mmrakit.modelhub.prompts lost its '# --- MMRA' / '# --- ReMI' section markers; "
            "the lmms-eval pack renders the MMRA section between them"
        )
    section = source[source.index("\n", start) + 1:end]
    return section.rstrip() + "\n"


PAIR_METRICS = ("pair_question_accuracy", "pair_image_accuracy", "pair_group_accuracy")


def render_utils(tasks: Sequence[str]) -> str:
    template = Template(resources.files(__package__).joinpath("data/lmms_utils.py.tmpl").read_text("utf-8"))
    return template.substitute(
        templates_version=PROMPT_TEMPLATES.get("version", "?"),
        templates_json=repr(json.dumps(PROMPT_TEMPLATES, ensure_ascii=False, sort_keys=True)),
        tasks_json=json.dumps(sorted(tasks)),
        mmra_section=mmra_section_source(),
    )


def metric_key(task: str) -> str:
    return "acc_" + re.sub(r"[^0-9A-Za-z]+", "_", task)


def task_yaml(task_name: str, split: str, data_files: Sequence[str], subtasks: Sequence[str], *, max_new_tokens: int,
              paired: bool = False, circular: bool = False) -> str:
    """``paired``: add NaturalBench's question/image/group accuracy over rows sharing a ``pair_id``;
    ``circular``: the rows are every rotation of each Choice item's options, scored with CircularEval."""
    metrics = [{"metric": "accuracy", "aggregation": "mean", "higher_is_better": True}]
    if circular:
        metrics.append({"metric": "circular_accuracy", "aggregation": "!function utils.circular_accuracy",
                        "higher_is_better": True})
    else:
        metrics += [{"metric": metric_key(t), "aggregation": "mean", "higher_is_better": True} for t in sorted(subtasks)]
    if paired and not circular:
        metrics += [{"metric": m, "aggregation": f"!function utils.{m}", "higher_is_better": True} for m in PAIR_METRICS]
    config = {
        "task": task_name,
        "dataset_path": "parquet",
        "dataset_kwargs": {"data_files": {split: list(data_files)}},
        "test_split": split,
        "output_type": "generate_until",
        "doc_to_visual": "!function utils.doc_to_visual",
        "doc_to_text": "!function utils.doc_to_text",
        "doc_to_target": "!function utils.doc_to_target",
        "process_results": "!function utils.process_results_circular" if circular else "!function utils.process_results",
        "lmms_eval_specific_kwargs": {"default": {"pre_prompt": "", "post_prompt": ""}},
        "generation_kwargs": {"max_new_tokens": max_new_tokens, "temperature": 0, "do_sample": False},
        "metric_list": metrics,
        "metadata": {"version": 1.0, "generator": "mmrakit", "prompt_templates_version": PROMPT_TEMPLATES.get("version")},
    }
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    # lmms-eval's loader needs the !function tag unquoted
    return re.sub(r"'(!function [\w.]+)'", r"\1", text)


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def write_lmms_pack(
    directory: Path,
    shards: Mapping[str, Sequence[Path]],
    subtasks: Sequence[str],
    *,
    task_prefix: str = "mmrakit_mmra",
    max_new_tokens: int = 16,
    circular: Mapping[str, Path] | None = None,
    paired: bool = False,
) -> dict[str, str]:
    """Write ``directory/{task_prefix}/`` with one task per split; returns {split: task name}.

    ``circular``: {split: parquet of every rotation of each Choice QA row (with the ``id`` column)}; each
    becomes a task ``<name>_circular`` (returned under the key ``<split>_circular``)."""
    pack = directory / task_prefix
    pack.mkdir(parents=True, exist_ok=True)
    names = {}
    for split, paths in shards.items():
        rel = []
        for p in paths:
            dst = pack / "data" / p.name
            _link_or_copy(p, dst)
            rel.append(f"data/{p.name}")
        name = task_prefix if split == "test" else f"{task_prefix}_{split}"
        (pack / f"{name}.yaml").write_text(
            task_yaml(name, split, rel, subtasks, max_new_tokens=max_new_tokens, paired=paired), encoding="utf-8")
        names[split] = name
        if circular and split in circular:
            dst = pack / "data" / f"circular-{split}.parquet"
            _link_or_copy(circular[split], dst)
            (pack / f"{name}_circular.yaml").write_text(
                task_yaml(f"{name}_circular", split, [f"data/{dst.name}"], subtasks, max_new_tokens=max_new_tokens,
                          circular=True), encoding="utf-8")
            names[f"{split}_circular"] = f"{name}_circular"
    (pack / "utils.py").write_text(render_utils(subtasks), encoding="utf-8")
    (pack / "README.md").write_text(_pack_readme(task_prefix, names), encoding="utf-8")
    return names


def _pack_readme(prefix: str, names: Mapping[str, str]) -> str:
    tasks = ", ".join(f"`{n}` ({s})" for s, n in names.items())
    return (
        f"# lmms-eval task pack `{prefix}`\n\nGenerated by `mmrakit export --format lmms-eval`. Tasks: {tasks}.\n\n"
        "```bash\nlmms-eval --include_path . --tasks " + names.get("test", next(iter(names.values())))
        + " --model <model> --output_path out/ --log_samples\n```\n\n"
        "Metrics: `accuracy` over all items and `acc_<Subtask>` per MMRA subtask (mean over that subtask's items);\n"
        "with pair ids (counterfactual partners), `pair_question_accuracy`, `pair_image_accuracy` and "
        "`pair_group_accuracy` as NaturalBench defines them. A `<task>_circular` task asks every Choice QA item once "
        "per rotation of its options; `circular_accuracy` counts an item only if every rotation is right "
        "(VLMEvalKit's CircularEval).\n"
        "The prompt is MMRA's (text after the two images); the answer extraction is mmrakit's "
        "(`mmrakit.modelhub.prompts.extract_mmra_answer`), rendered into `utils.py`.\n\n"
        "Note: lmms-eval 0.7.3's CLI exits 0 even when a task fails; check that `*_results.json` exists.\n"
    )
