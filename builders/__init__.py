"""Relation builders: mine MMRA-style candidates for the 11 subtasks from relations + image evidence.

Public API::

    from mmrakit.builders import build, build_candidates, registry, BUILDER_VERSION
    report = build(ws, subtasks="all", per_subtask=20, seed=0)

See docs/builders.md for the mining rule of each subtask (also in builders/data/rules.toml).
"""

from .base import BuildContext, Builder, Fact, register, registry
from .pipeline import BUILDER_VERSION, build, build_candidates, open_context, resolve_subtasks, targets_for

__all__ = ["BUILDER_VERSION", "BuildContext", "Builder", "Fact", "build", "build_candidates", "open_context",
           "register", "registry", "resolve_subtasks", "targets_for"]
