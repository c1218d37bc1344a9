"""The data model: what crosses a stage boundary, as typed pydantic models.

relations -> Edge; images -> ImageRecord (+ EntityGrounding); builders -> Candidate;
review -> ReviewVerdict; exports -> ExportedItem. ``mmrakit schema`` prints their JSON schemas.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

QAType = Literal["Choice QA", "True or false QA"]
Granularity = Literal["entity", "image"]
YES_NO = ("Yes", "No")
OPTION_LETTERS = ("A", "B", "C", "D")


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- relations ---------------------------------------------------------------------------------

class Edge(Model):
    """One ConceptNet-style assertion as the relation layer returns it."""

    uri: str = Field(description="Assertion URI, e.g. /a/[/r/UsedFor/,/c/en/knife/,/c/en/cut/]")
    relation: str = Field(description="CamelCase relation name without /r/, e.g. UsedFor")
    start: str = Field(description="Start concept URI, e.g. /c/en/knife")
    end: str = Field(description="End concept URI (or a URL for ExternalURL)")
    weight: float = 1.0
    surface_text: str | None = None
    dataset: str | None = Field(None, description="ConceptNet dataset id, or a relation pack's own id")
    license: str | None = None
    source: str | None = Field(None, description="The ingested source (file) this edge came from")


# --- images ------------------------------------------------------------------------------------

class Box(Model):
    """Axis-aligned box, normalised to [0, 1] by image width/height."""

    x: float = Field(ge=0.0, le=1.0)
    y: float = Field(ge=0.0, le=1.0)
    w: float = Field(ge=0.0, le=1.0)
    h: float = Field(ge=0.0, le=1.0)

    @property
    def center(self) -> tuple[float, float]:
        return (self.x + self.w / 2, self.y + self.h / 2)

    @property
    def area(self) -> float:
        return self.w * self.h


class ObjectAnnotation(Model):
    category: str
    box: Box | None = None
    crowd: bool = Field(False, description="The box covers a group of instances (COCO iscrowd)")


class ImageRecord(Model):
    """One pool image. ``sha256`` of the file bytes is its identity."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    width: int = Field(gt=0)
    height: int = Field(gt=0)
    format: str | None = None
    mode: str | None = None
    path: str | None = Field(None, description="Where the bytes are (absolute, or relative to the workspace when copied)")
    url: str | None = None
    license: str | None = None
    license_url: str | None = None
    captions: list[str] = Field(default_factory=list)
    objects: list[ObjectAnnotation] = Field(default_factory=list)
    source: str | None = Field(None, description="Import source (file or dataset id)")
    record_id: str | None = Field(None, description="Id of the record it came from inside the source")


class EntityGrounding(Model):
    """A concept found in an image, with where the evidence came from."""

    concept: str = Field(description="Concept URI, e.g. /c/en/dining_table")
    text: str = Field(description="The caption n-gram or object category that grounded it")
    source: Literal["caption", "object", "clip"]
    box: Box | None = None
    score: float | None = None


# --- annotator (images.annotate -> build) -------------------------------------------------------

AttributeSource = Literal["dataset", "clip", "vlm"]


class Attribute(Model):
    """One perceived fact about an image (scene, indoor, viewpoint, shot, people, animals, emotion,
    activity, layout), with where it came from and how sure that source is."""

    name: str = Field(description="scene | indoor | viewpoint | shot | people | animals | emotion | activity | layout | caption | objects")
    value: str = Field(description="The value in the annotator's vocabulary (e.g. kitchen, outdoor, close_up, calm, ride:horse)")
    source: AttributeSource
    confidence: float = Field(ge=0.0, le=1.0)
    detail: str = Field("", description="What the source saw: the caption phrases, boxes or model answer")


class ImageAttributes(Model):
    """Every attribute the annotator recorded for one image, all sources together."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    attributes: list[Attribute] = Field(default_factory=list)

    def values(self, name: str, min_confidence: float = 0.0) -> dict[str, list[Attribute]]:
        out: dict[str, list[Attribute]] = {}
        for a in self.attributes:
            if a.name == name and a.confidence >= min_confidence:
                out.setdefault(a.value, []).append(a)
        return out


# --- builders ----------------------------------------------------------------------------------

class EdgeEvidence(Model):
    uri: str
    relation: str
    start: str
    end: str
    weight: float = 1.0
    surface_text: str | None = None
    dataset: str | None = None


class Evidence(Model):
    edges: list[EdgeEvidence] = Field(default_factory=list)
    entities1: list[EntityGrounding] = Field(default_factory=list, description="Entities used from image 1")
    entities2: list[EntityGrounding] = Field(default_factory=list, description="Entities used from image 2")
    caption_similarity: float | None = None
    clip_similarity: float | None = None
    hash_distance: int | None = None
    notes: dict[str, Any] = Field(default_factory=dict)


def candidate_id(task: str, image1: str, image2: str, question: str, options: dict[str, str] | None) -> str:
    """Deterministic id: the same item (ordered pair, question, options) always hashes the same."""
    payload = json.dumps([task, image1, image2, question, options], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


class Candidate(Model):
    """An MMRA-style item proposed by a builder (or imported from a dataset)."""

    id: str = ""
    task: str = Field(description="MMRA subtask, e.g. UsageSimilarity")
    granularity: Granularity
    qa_type: QAType
    question: str = Field(min_length=1)
    options: dict[str, str] | None = None
    answer: str
    image1: str = Field(description="sha256 of the first image")
    image2: str = Field(description="sha256 of the second image")
    evidence: Evidence = Field(default_factory=Evidence)
    builder_version: str = "0"
    seed: int | None = None
    order_probe: bool = Field(False, description="A swapped-order twin that probes image-order perception")
    twin_of: str | None = Field(None, description="Id of the candidate this one is the swapped twin of")
    pair_id: str | None = Field(None, description="Counterfactual partners (same question, one image swapped, answer "
                                "flipped) share it; scored as a NaturalBench-style group")

    @model_validator(mode="after")
    def _coherent(self) -> "Candidate":
        if self.qa_type == "Choice QA":
            if not self.options:
                raise ValueError("Choice QA needs options")
            keys = tuple(self.options)
            if keys not in (OPTION_LETTERS[:3], OPTION_LETTERS[:4]):
                raise ValueError(f"options must be keyed A-C or A-D in order, got {list(keys)}")
            if self.answer not in self.options:
                raise ValueError(f"answer {self.answer!r} is not one of the option letters {list(keys)}")
        else:
            if self.options:
                raise ValueError("True or false QA takes no options")
            if self.answer not in YES_NO:
                raise ValueError(f"True or false QA answer must be Yes or No, got {self.answer!r}")
        if not self.id:
            self.id = candidate_id(self.task, self.image1, self.image2, self.question, self.options)
        return self


# --- review ------------------------------------------------------------------------------------

RejectReason = Literal[
    "wrong_answer", "ambiguous", "answerable_without_images", "answerable_from_one_image",
    "entity_not_visible", "unsafe", "duplicate",
]


class ReviewVerdict(Model):
    """One reviewer's decision on one candidate."""

    candidate_id: str
    reviewer: str = Field(description="Reviewer identity (Label Studio user email or id)")
    choice: Literal["accept", "reject", "correct"]
    answer: str | None = Field(None, description="The answer the reviewer stands behind (proposed or corrected)")
    reasons: list[RejectReason] = Field(default_factory=list)
    corrected_question: str | None = None
    lead_time_s: float | None = None
    adjudication: bool = Field(False, description="A senior reviewer's final verdict")
    annotation_id: int | None = None
    updated_at: datetime = Field(default_factory=lambda: datetime.now(timezone.utc))


# --- exports -----------------------------------------------------------------------------------

class ExportedItem(Model):
    """One row in MMRA's schema (m-a-p/MMRA), images given as file paths or bytes."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    Task: str
    QA_type: QAType
    question: str
    image1: str | bytes
    image2: str | bytes
    options: str | None = Field(None, description="Python dict literal, e.g. \"{'A': 'x', 'B': 'y'}\"; None for yes/no")
    answer: str


SCHEMAS: dict[str, type[BaseModel]] = {
    "edge": Edge,
    "image": ImageRecord,
    "entity": EntityGrounding,
    "candidate": Candidate,
    "review-verdict": ReviewVerdict,
    "exported-item": ExportedItem,
}
