"""Shared fixtures: a fresh workspace per test, and the ../shared/data folder when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mmrakit.workspace import Workspace

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MMRAKIT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    ws = Workspace.init(tmp_path / "ws")
    yield ws
    ws.close()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (CI has it; a user's fresh clone does not)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"needs {SHARED_DATA} (the project's shared data folder; absent in a fresh clone)")
    return SHARED_DATA
