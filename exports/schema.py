"""The exported columns: MMRA's seven, in MMRA's order, plus the optional provenance columns.

``MMRA_COLUMNS`` is exactly m-a-p/MMRA's schema, so code written for that dataset runs unchanged.
The extra columns are appended only when asked for (``--with-provenance``) or when unreviewed
items are included (then ``review_status`` says which rows are not validated).
"""

from __future__ import annotations

from typing import Any

MMRA_COLUMNS: tuple[str, ...] = ("Task", "QA_type", "question", "image1", "image2", "options", "answer")
IMAGE_COLUMNS: tuple[str, ...] = ("image1", "image2")
REVIEW_COLUMN = "review_status"
PROVENANCE_COLUMNS: dict[str, str] = {
    # column -> datasets dtype
    "id": "string",
    "granularity": "string",
    "evidence": "string",
    "image1_sha256": "string",
    "image1_source": "string",
    "image1_url": "string",
    "image1_license": "string",
    "image2_sha256": "string",
    "image2_source": "string",
    "image2_url": "string",
    "image2_license": "string",
    "review_agreement": "float64",
    "votes": "string",  # JSON list: each reviewer's pseudonymous id, verdict, endorsed answer, reasons
    "order_probe": "bool",
    "twin_of": "string",
    "pair_id": "string",
    "panel_difficulty": "float64",
}


def column_names(*, with_provenance: bool, include_unreviewed: bool) -> list[str]:
    cols = list(MMRA_COLUMNS)
    if with_provenance or include_unreviewed:
        cols.append(REVIEW_COLUMN)
    if with_provenance:
        cols += list(PROVENANCE_COLUMNS)
    return cols


def features(*, with_provenance: bool, include_unreviewed: bool) -> Any:
    """The ``datasets.Features`` of an export (datasets imported lazily: the CLI stays fast)."""
    from datasets import Features, Image, Value

    spec: dict[str, Any] = {}
    for col in column_names(with_provenance=with_provenance, include_unreviewed=include_unreviewed):
        if col in IMAGE_COLUMNS:
            spec[col] = Image()
        else:
            spec[col] = Value(PROVENANCE_COLUMNS.get(col, "string"))
    return Features(spec)
