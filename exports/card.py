"""The dataset card (README.md): Hub YAML metadata plus the text a user needs to trust the data.

The prose lives in ``data/card.md`` (a ``string.Template``); this module computes what goes in it:
per-split/per-subtask counts, review agreement, and the licences of the images actually exported.
``parse_card`` reads a card back (``export validate`` checks its counts against the data).
"""

from __future__ import annotations

import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from importlib import resources
from itertools import combinations
from string import Template
from typing import Any

import yaml

from mmrakit.agreement import krippendorff_alpha
from mmrakit.errors import InputError
from mmrakit.subtasks import mmra_subtasks
from .rows import ExportRow

CONCEPTNET_ATTRIBUTION = (
    "Questions and options are derived from **ConceptNet 5** relations. ConceptNet is licensed under "
    "[CC BY-SA 4.0](https://creativecommons.org/licenses/by-sa/4.0/) and includes material from WordNet, "
    "Wiktionary, OpenCyc, DBPedia and the Open Mind Common Sense project; see "
    "<https://github.com/commonsense/conceptnet5/wiki/Copying-and-sharing-ConceptNet>. "
    "The text of this dataset is shared under the same licence (share-alike)."
)


def restricted_terms(license_name: str | None) -> list[str]:
    """['NonCommercial', 'NoDerivatives'] as far as a licence string says so ('CC BY-NC-ND 2.0', ...)."""
    if not license_name:
        return []
    text = license_name.lower()
    tokens = set(re.split(r"[^a-z0-9]+", text))
    squashed = re.sub(r"[^a-z]", "", text)
    out = []
    if "nc" in tokens or "noncommercial" in squashed:
        out.append("NonCommercial")
    if "nd" in tokens or "noderiv" in squashed:
        out.append("NoDerivatives")
    return out


def size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "n>1M"


def image_licences(rows: Sequence[ExportRow]) -> dict[str, int]:
    """Licence -> number of distinct exported images carrying it ('unknown' when none recorded)."""
    seen: dict[str, str] = {}
    for r in rows:
        for rec in (r.image1, r.image2):
            seen[rec.sha256] = rec.license or "unknown"
    return dict(sorted(Counter(seen.values()).items(), key=lambda kv: (-kv[1], kv[0])))


def _count_table(splits: Mapping[str, Sequence[ExportRow]]) -> str:
    order = list(mmra_subtasks())
    tasks = sorted({r.task for rows in splits.values() for r in rows}, key=lambda t: (order.index(t) if t in order else len(order), t))
    names = list(splits)
    head = "| Task | level | " + " | ".join(names) + " | Choice QA | True or false QA |"
    lines = [head, "|" + "---|" * (4 + len(names))]
    info = mmra_subtasks()
    for t in tasks:
        per = [sum(1 for r in splits[s] if r.task == t) for s in names]
        all_rows = [r for s in names for r in splits[s] if r.task == t]
        level = info[t].granularity if t in info else "?"
        choice = sum(1 for r in all_rows if r.candidate.qa_type == "Choice QA")
        lines.append(f"| {t} | {level} | " + " | ".join(map(str, per)) + f" | {choice} | {len(all_rows) - choice} |")
    totals = [len(splits[s]) for s in names]
    all_rows = [r for s in names for r in splits[s]]
    choice = sum(1 for r in all_rows if r.candidate.qa_type == "Choice QA")
    lines.append("| **total** | | " + " | ".join(f"**{n}**" for n in totals) + f" | {choice} | {len(all_rows) - choice} |")
    return "\n".join(lines)


def _review_text(rows: Sequence[ExportRow], include_unreviewed: bool) -> str:
    by_status = Counter(r.review_status for r in rows)
    validated = by_status.get("validated", 0)
    parts = [
        "Every candidate was checked in Label Studio by several reviewers, each of whom accepted it, corrected its "
        "answer/question, or rejected it with a reason (wrong answer, ambiguous, answerable without the images or from "
        "one image, entity not visible, unsafe, duplicate). An item is **validated** when enough reviewers accept it "
        "with the same answer (review consensus); reviewer corrections replace the generated answer or question. "
        f"**{validated}** of the {len(rows)} rows here are validated."
    ]
    if include_unreviewed and len(rows) > validated:
        parts.append(
            f"\n\n> **Preview export:** {len(rows) - validated} rows are **not validated** "
            f"({', '.join(f'{k}: {v}' for k, v in sorted(by_status.items()) if k != 'validated')}). "
            "Their `review_status` column says so; do not report results on them as on a reviewed benchmark."
        )
    agreements: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if r.review_agreement is not None:
            agreements[r.task].append(r.review_agreement)
    if agreements:
        every = [a for v in agreements.values() for a in v]
        parts.append(
            "\n\nReviewer agreement (the share of reviewers agreeing with the consensus answer, per item):\n\n"
            "| Task | items with agreement | mean | min |\n|---|---|---|---|\n"
            + "\n".join(f"| {t} | {len(v)} | {statistics.fmean(v):.3f} | {min(v):.3f} |" for t, v in sorted(agreements.items()))
            + f"\n| **all** | {len(every)} | {statistics.fmean(every):.3f} | {min(every):.3f} |"
        )
    else:
        parts.append("\n\nNo per-item agreement figures were recorded for these rows.")
    parts.append(_votes_text(rows))
    return "".join(parts)


REJECT = "REJECT"


def _vote_label(v) -> str | None:
    """A vote's nominal label: the answer it endorses, REJECT, or None (it endorses nothing)."""
    return REJECT if v.verdict == "reject" else v.answer


def _votes_text(rows: Sequence[ExportRow]) -> str:
    """The raw votes: where they are, and agreement per subtask computed from them (not from the consensus)."""
    ratings: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)  # task -> item -> reviewer -> label
    n_votes = sum(len(r.votes) for r in rows)
    adjudicated = sum(any(v.adjudication for v in r.votes) for r in rows)
    for r in rows:
        per = {v.reviewer: lab for v in r.votes if not v.adjudication and (lab := _vote_label(v)) is not None}
        if per:
            ratings[r.task][r.id] = per
    if not n_votes:
        return "\n\nNo raw reviewer votes were recorded for these rows (`votes.jsonl` is empty)."
    lines = [
        f"\n\n**Raw votes.** Consensus labels alone overstate model ability, so every vote is kept: {n_votes} votes on "
        f"{sum(bool(r.votes) for r in rows)} items are in `votes.jsonl` (one line per vote: item `id`, `Task`, `split`, "
        "the reviewer's pseudonymous id, `verdict`, the endorsed `answer`, `reasons`, `adjudication`) and, with "
        "`--with-provenance`, in the `votes` column. Reviewer ids are keyed hashes: stable within this dataset, "
        "they name no account. "
        f"{adjudicated} items were decided by an adjudicator who saw the reviewers' votes.",
        "\n\nAgreement per subtask, from the raw votes (label = the endorsed answer or REJECT; adjudicators' "
        "votes left out; Krippendorff's α, nominal; pairwise = share of reviewer pairs on an item that agree):\n\n"
        "| Task | items with ≥2 votes | votes | pairwise agreement | Krippendorff's α |\n|---|---|---|---|---|",
    ]
    all_ratings: dict[str, dict[str, str]] = {}
    for task in sorted(ratings):
        lines.append("\n" + _agreement_row(task, ratings[task]))
        all_ratings.update(ratings[task])
    lines.append("\n" + _agreement_row("**all**", all_ratings))
    return "".join(lines)


def _agreement_row(task: str, ratings: dict[str, dict[str, str]]) -> str:
    multi = {i: per for i, per in ratings.items() if len(per) >= 2}
    pairs = [a == b for per in multi.values() for a, b in combinations(list(per.values()), 2)]
    alpha = krippendorff_alpha(multi) if multi else None
    share = f"{sum(pairs) / len(pairs):.3f}" if pairs else "n/a"
    return (f"| {task} | {len(multi)} | {sum(len(p) for p in ratings.values())} | {share} | "
            f"{'n/a (one category)' if alpha is None else f'{alpha:.3f}'} |")


def _build_text(rows: Sequence[ExportRow], with_provenance: bool) -> str:
    origins = Counter(r.origin for r in rows)
    probes = sum(1 for r in rows if r.candidate.order_probe)
    text = (
        "Candidate items were generated by mmrakit's builders: images from the pool were grounded to ConceptNet "
        "concepts (from captions, object annotations and optionally CLIP), image pairs were chosen per MMRA subtask "
        "by the ConceptNet relations linking their entities (entity level) or by caption similarity within a band "
        "(image level), near-duplicate images were removed (perceptual hash and CLIP), and a question with "
        "options and an answer was written from per-subtask templates. Each item's evidence (the ConceptNet edges "
        "and the grounded entities) is kept"
        + (" in the `evidence` column." if with_provenance else "; export with `--with-provenance` to include it.")
    )
    text += "\n\nRows by origin: " + ", ".join(f"`{k}` {v}" for k, v in sorted(origins.items())) + "."
    if probes:
        text += (f" {probes} rows are **order probes**: the twin of another item with the two images swapped "
                 "(MMRA found weak image-order perception); they stay in the same split as their twin.")
    return text


def _license_text(rows: Sequence[ExportRow], dataset_license: str) -> str:
    lic = image_licences(rows)
    restricted = {name: restricted_terms(name) for name in lic if restricted_terms(name)}
    out = [f"Dataset licence (text and annotations): `{dataset_license}`.", "", CONCEPTNET_ATTRIBUTION, "",
           "Each image keeps the licence of its source. Images in this export, by licence:", "",
           "| image licence | images |", "|---|---|"]
    out += [f"| {name} | {n} |" for name, n in lic.items()]
    if restricted:
        n = sum(lic[k] for k in restricted)
        terms = sorted({t for v in restricted.values() for t in v})
        out += ["", f"> **Warning:** {n} images carry {' / '.join(terms)} terms "
                f"({', '.join(sorted(restricted))}). Such images may not be used commercially and/or adapted; "
                "check each image's licence before redistributing or training on this dataset."]
    if "unknown" in lic:
        out += ["", f"> **Note:** {lic['unknown']} images have no recorded licence."]
    return "\n".join(out)


def card_metadata(
    splits: Mapping[str, Sequence[ExportRow]], features: Any, *, dataset_license: str, pretty_name: str,
) -> dict[str, Any]:
    """The YAML header: licence, configs/splits (data/{split}-*), features, sizes, tags."""
    n = sum(len(v) for v in splits.values())
    try:
        feature_list = features._to_yaml_list()
    except AttributeError:  # older datasets
        feature_list = [{"name": k, "dtype": str(v)} for k, v in features.items()]
    return {
        "license": dataset_license,
        "pretty_name": pretty_name,
        "language": ["en"],
        "task_categories": ["visual-question-answering", "multiple-choice"],
        "size_categories": [size_category(n)],
        "annotations_creators": ["machine-generated", "expert-generated"],
        "tags": ["mmra", "multi-image", "conceptnet", "relation-reasoning", "mmrakit"],
        "configs": [{
            "config_name": "default",
            "data_files": [{"split": s, "path": f"data/{s}-*"} for s in splits],
            "default": True,
        }],
        "dataset_info": {
            "features": feature_list,
            "splits": [{"name": s, "num_examples": len(v)} for s, v in splits.items()],
        },
    }


def render_card(
    splits: Mapping[str, Sequence[ExportRow]],
    features: Any,
    *,
    dataset_license: str,
    pretty_name: str = "mmrakit MMRA-style benchmark",
    load_id: str = "path/to/this/export",
    include_unreviewed: bool = False,
    with_provenance: bool = False,
) -> str:
    rows = [r for v in splits.values() for r in v]
    meta = card_metadata(splits, features, dataset_license=dataset_license, pretty_name=pretty_name)
    unvalidated = sum(1 for r in rows if not r.validated)
    banner = ("> **PREVIEW — contains items that have NOT been validated by reviewers** "
              f"({unvalidated} of {len(rows)}); see the `review_status` column." if unvalidated else "")
    extra = ""
    if with_provenance or include_unreviewed:
        extra = ("\nExtra columns after MMRA's seven: `review_status`"
                 + (", and provenance: `id`, `granularity`, `evidence` (JSON: ConceptNet edges and grounded entities), "
                    "`image{1,2}_sha256/_source/_url/_license`, `review_agreement`, `votes` (JSON: each reviewer's "
                    "pseudonymous id, verdict and endorsed answer), `order_probe`, `twin_of`, `pair_id`, `panel_difficulty`"
                    if with_provenance else "") + ".\n")
    body = Template(resources.files(__package__).joinpath("data/card.md").read_text("utf-8")).substitute(
        pretty_name=pretty_name,
        status_banner=banner,
        load_id=load_id,
        extra_columns=extra,
        count_table=_count_table(splits),
        build_text=_build_text(rows, with_provenance),
        review_text=_review_text(rows, include_unreviewed),
        license_text=_license_text(rows, dataset_license),
    )
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n\n" + body


def parse_card(text: str, *, source: str = "README.md") -> tuple[dict[str, Any], str]:
    """(YAML metadata, Markdown body) of a card; a clear error when the header is missing or broken."""
    m = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.DOTALL)
    if not m:
        raise InputError(f"{source}: no YAML metadata block (--- ... ---) at the top", hint="re-run `mmrakit export`")
    try:
        meta = yaml.safe_load(m.group(1))
    except yaml.YAMLError as exc:
        raise InputError(f"{source}: YAML metadata does not parse: {exc}") from None
    if not isinstance(meta, dict):
        raise InputError(f"{source}: YAML metadata is not a mapping")
    return meta, m.group(2)


def card_split_counts(meta: Mapping[str, Any]) -> dict[str, int]:
    splits = (meta.get("dataset_info") or {}).get("splits") or []
    return {s["name"]: int(s["num_examples"]) for s in splits}
