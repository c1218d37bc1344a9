"""Small helpers shared by benchmarks and tools: (sha256, path) items for a list of files."""

from __future__ import annotations

from mmrakit.stages import sha256_file


def sha_items(paths: list[str]) -> list[tuple[str, str]]:
    return [(sha256_file(p), str(p)) for p in paths]
