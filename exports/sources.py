"""How an export names where an image or item came from, without the building machine's paths.

The workspace records local sources by absolute path (so re-imports and staleness checks work); a
published export must not carry them. An absolute path becomes its path relative to the declared root
(``[export] source_root``) when it lies under it, else relative to the workspace when it lies inside it,
else the source's own file or folder name. Anything that is not an absolute path (a Hub dataset id,
``synthetic-pool``) is kept. A ``kind:`` prefix (``import:/abs/path``) is kept and the rest named so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath

_PREFIX = re.compile(r"^([a-z][a-z0-9_-]*):(?=[/\\~]|[A-Za-z]:[/\\])")


def _is_absolute(text: str) -> bool:
    return text.startswith(("/", "~", "\\")) or PureWindowsPath(text).is_absolute()


def public_source(value: str | None, roots: Sequence[Path]) -> str | None:
    """``value`` with any absolute path in it named relative to the first of ``roots`` that holds it."""
    if not value:
        return value
    m = _PREFIX.match(value)
    prefix, rest = (m.group(0), value[m.end():]) if m else ("", value)
    if not _is_absolute(rest):
        return value
    path = Path(rest).expanduser()
    for root in roots:
        try:
            rel = path.relative_to(root)
        except ValueError:
            continue
        if rel.parts:
            return prefix + rel.as_posix()
    name = PurePosixPath(rest.replace("\\", "/").rstrip("/")).name
    return prefix + (name or "source")


def source_roots(declared: str | None, workspace_root: Path) -> list[Path]:
    """The declared root (relative ones resolve against the workspace), then the workspace itself."""
    roots = []
    if declared:
        root = Path(declared).expanduser()
        roots.append((root if root.is_absolute() else workspace_root / root).resolve())
    roots.append(workspace_root.resolve())
    return roots
