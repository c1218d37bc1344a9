"""Which candidates become exported rows, and what each row says.

Review consensus decides membership (validated only, unless previews ask for unreviewed items too);
reviewer corrections override the builder's answer/question. Everything the writers need is gathered
here once, so the HF, parquet and task-pack writers all see the same rows.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from mmrakit.errors import InputError
from mmrakit.models import Candidate, ImageRecord
from mmrakit.records import CandidateStore, ImageCatalog
from mmrakit.verdicts import Vote, votes as stored_votes
from mmrakit.workspace import Workspace
from .sources import public_source, source_roots

#: Review statuses that may appear in an export; 'validated' is the only one presented as reviewed.
VALIDATED = "validated"
PREVIEW_STATUSES = ("validated", "unreviewed", "pending")


class ExportRow(BaseModel):
    """One exported item: the candidate as reviewed, plus its two images' records and files."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    candidate: Candidate
    question: str
    answer: str
    review_status: str
    review_agreement: float | None = None
    votes: list[Vote] = []  # the raw votes (pseudonymous reviewers), read through the core
    origin: str = "builder"
    image1: ImageRecord
    image2: ImageRecord
    image1_file: Path
    image2_file: Path

    @property
    def id(self) -> str:
        return self.candidate.id

    @property
    def task(self) -> str:
        return self.candidate.task

    @property
    def validated(self) -> bool:
        return self.review_status == VALIDATED


def rotated_rows(row: ExportRow) -> list[tuple[int, ExportRow]]:
    """Rotations 1..n-1 of a Choice QA row (circular scoring, :mod:`mmrakit.circular`); [] for yes/no."""
    from mmrakit.circular import rotations

    c = row.candidate
    if not c.options:
        return []
    return [(k, row.model_copy(update={"candidate": c.model_copy(update={"options": opts}), "answer": ans}))
            for k, opts, ans in rotations(c.options, row.answer)[1:]]


def options_literal(options: dict[str, str] | None) -> str | None:
    """MMRA's `options` cell: a Python dict literal string (``ast.literal_eval`` gives the dict back)."""
    if not options:
        return None
    text = repr(dict(options))
    assert ast.literal_eval(text) == dict(options)
    return text


def collect_rows(ws: Workspace, *, include_unreviewed: bool = False) -> list[ExportRow]:
    """Kept candidates with review consensus 'validated' (plus not-yet-reviewed ones for previews)."""
    store, catalog = CandidateStore(ws), ImageCatalog(ws)
    roots = source_roots(ws.settings.export.source_root, ws.root)
    statuses = PREVIEW_STATUSES if include_unreviewed else (VALIDATED,)
    rows: list[ExportRow] = []
    for raw in store.rows(status="kept", review_status=statuses):
        cand: Candidate = raw["candidate"]
        images = []
        for slot in ("image1", "image2"):
            sha = getattr(cand, slot)
            record = catalog.get(sha)
            if record is None:
                raise InputError(
                    f"candidate {cand.id} ({cand.task}): {slot} {sha} is not in the image catalogue",
                    hint="re-run `mmrakit images import` for its source, or remove the candidate",
                )
            try:
                path = catalog.file_path(record)
            except FileNotFoundError as exc:
                raise InputError(f"candidate {cand.id}: {exc}", hint="export needs local image files") from None
            if not path.is_file():
                raise InputError(
                    f"candidate {cand.id}: {slot} file {path} is missing",
                    hint="restore the file or re-import the image source",
                )
            # the export names the source without this machine's folders (the workspace keeps them)
            images.append((record.model_copy(update={"source": public_source(record.source, roots)}), path))
        answer = raw.get("review_answer") or cand.answer
        _check_answer(cand, answer)
        rows.append(ExportRow(
            candidate=cand,
            question=raw.get("review_question") or cand.question,
            answer=answer,
            review_status=raw["review_status"],
            review_agreement=raw.get("review_agreement"),
            origin=public_source(raw.get("origin"), roots) or "builder",
            image1=images[0][0], image2=images[1][0],
            image1_file=images[0][1], image2_file=images[1][1],
        ))
    rows = lone_partners_unpaired(rows)
    by_candidate = stored_votes(ws, [r.id for r in rows])
    for r in rows:
        r.votes = by_candidate.get(r.id, [])
    return rows


def lone_partners_unpaired(rows: list[ExportRow]) -> list[ExportRow]:
    """A pair is published only whole: a row whose counterfactual partner is not exported (rejected, dropped or
    still pending review) loses its ``pair_id`` and is published as an ordinary item, judged on its own images."""
    members: dict[str, int] = {}
    for r in rows:
        if r.candidate.pair_id:
            members[r.candidate.pair_id] = members.get(r.candidate.pair_id, 0) + 1
    return [r.model_copy(update={"candidate": r.candidate.model_copy(update={"pair_id": None})})
            if r.candidate.pair_id and members[r.candidate.pair_id] < 2 else r for r in rows]


def votes_json(row: ExportRow) -> str:
    """The ``votes`` provenance cell: the item's raw votes as a JSON list."""
    return json.dumps([v.model_dump(mode="json") for v in row.votes], sort_keys=True, ensure_ascii=False)


def _check_answer(cand: Candidate, answer: str) -> None:
    valid = list(cand.options) if cand.options else ["Yes", "No"]
    if answer not in valid:
        raise InputError(
            f"candidate {cand.id}: reviewed answer {answer!r} is not one of {valid}",
            hint="fix the review consensus (mmrakit review pull) before exporting",
        )


def evidence_json(cand: Candidate) -> str:
    return json.dumps(cand.evidence.model_dump(mode="json", exclude_defaults=True), sort_keys=True, ensure_ascii=False)
