"""mmrakit.relations: the ConceptNet relation layer (ontology, ingest, queries).

Public API::

    from mmrakit.relations import RelationStore, normalize_concept, concept_text
    from mmrakit.relations.ontology import RELATIONS, relation, SUBTASK_RELATIONS
    from mmrakit.relations.ingest import ingest, ingest_file, remove_source, IngestReport
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .normalize import base_uri, candidate_uris, concept_text, normalize_concept
from .ontology import RELATIONS, SUBTASK_RELATIONS, RelationSpec, SubtaskRelations, relation
from .store import RelationStore


def bundled_subset() -> Path:
    """The bundled English subset of real ConceptNet edges (official CSV format; see data/ATTRIBUTION.md)."""
    return Path(str(resources.files(__package__).joinpath("data", "conceptnet-en-subset.csv")))


__all__ = [
    "RELATIONS", "SUBTASK_RELATIONS", "RelationSpec", "RelationStore", "SubtaskRelations", "base_uri",
    "bundled_subset", "candidate_uris", "concept_text", "normalize_concept", "relation",
]
