"""Packaging and architecture rules: one import package, and imports that point one way."""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# folder -> the mmrakit subpackages it may import (the core is always allowed)
ALLOWED = {
    "mmrakit": set(),  # the core (cli/ is checked separately: it may import everything)
    "relations": set(),
    "images": {"relations"},
    "builders": {"relations", "images"},
    "review": set(),
    "evaluation": set(),
    "exports": set(),  # prompts live in the core model layer (mmrakit/modelhub/)
}
STAGES = {"relations", "images", "builders", "review", "exports", "evaluation"}


def _imported_stages(path: Path, package: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the file's package
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
                names = [mod] + [f"{mod}.{a.name}" for a in node.names]
            elif node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for n in names:
            parts = n.split(".")
            if len(parts) > 1 and parts[0] == "mmrakit" and parts[1] in STAGES:
                found.add(parts[1])
    return found


@pytest.mark.parametrize("folder", sorted(ALLOWED))
def test_dependencies_point_one_way(folder: str) -> None:
    root = REPO / folder
    violations = []
    for path in root.rglob("*.py"):
        rel = path.relative_to(root)
        if folder == "mmrakit" and rel.parts[0] == "cli":
            continue
        package = "mmrakit" if folder == "mmrakit" else f"mmrakit.{folder}"
        package = ".".join([package, *rel.parts[:-1]])
        bad = _imported_stages(path, package) - ALLOWED[folder] - {folder}
        if bad:
            violations.append(f"{path.relative_to(REPO)} imports {sorted(bad)}")
    assert not violations, "\n".join(violations)


def test_wheel_holds_one_top_level_package(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    wheel = next(tmp_path.glob("mmrakit-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"mmrakit"}
    for sub in STAGES | {"cli", "modelhub"}:
        assert f"mmrakit/{sub}/__init__.py" in names
    assert "mmrakit/data/mmra_subtasks.toml" in names and "mmrakit/data/prompts.toml" in names
    fixtures = [n for n in names if any(f in n for f in ("fake_openai", "review/sample", "synthetic", "stages_util"))]
    assert not fixtures, f"test fixtures ship in the product: {fixtures}"


def test_product_code_imports_no_test_fixture() -> None:
    offenders = []
    for folder in ALLOWED:
        for path in (REPO / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            if "tests.support" in text.replace("``python -m tests.support", "") or "from support" in text:
                offenders.append(str(path.relative_to(REPO)))
    assert not offenders


def test_stages_import_the_core_one_way() -> None:
    """Stage folders import the core absolutely (``from mmrakit.x import``), their own modules relatively."""
    offenders = []
    for folder in sorted(STAGES):
        for path in (REPO / folder).rglob("*.py"):
            rel = path.relative_to(REPO)
            up = "." * len(rel.parts)  # the relative prefix that reaches the `mmrakit` package itself
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.ImportFrom) and node.level == len(up):
                    offenders.append(f"{rel}:{node.lineno}")
    assert not offenders, "relative imports of the core: " + ", ".join(offenders)
