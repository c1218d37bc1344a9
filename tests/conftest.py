"""Shared fixtures: a fresh workspace per test, and the ../shared/data folder when present."""

from __future__ import annotations

import os
from pathlib import Path

from dataclasses import dataclass

import pytest

from mmrakit.workspace import Workspace

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MMRAKIT_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
# `make` exports this; running pytest directly finds the server venv that `make setup` built.
if (REPO_ROOT / ".venv-ls" / "bin" / "label-studio").exists():
    os.environ.setdefault("MMRAKIT_LABEL_STUDIO_BIN", str(REPO_ROOT / ".venv-ls" / "bin" / "label-studio"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def skip_or_fail(reason: str) -> None:
    """Skip a test whose real component (Label Studio, a browser) is missing; under CI=true, FAIL it:
    CI must run the real thing, not report green without it."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and a real component is missing: {reason}", pytrace=False)
    pytest.skip(reason)


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


# --- a real Label Studio, one per test session (review tests and the pipeline e2e share it) -----

from mmrakit.errors import ConfigError  # noqa: E402
from mmrakit.review import LabelStudioClient, connection, create_reviewers, serve, stop  # noqa: E402
from mmrakit.review.server import Connection, label_studio_bin, media_root  # noqa: E402
from mmrakit.review.users import load_credentials  # noqa: E402
from mmrakit.settings import ReviewSettings  # noqa: E402

LS_PORT = int(os.environ.get("MMRAKIT_TEST_LS_PORT", "18089"))
REVIEWERS = ["reviewer1@mmrakit.local", "reviewer2@mmrakit.local", "reviewer3@mmrakit.local"]
SENIOR = "senior@mmrakit.local"


@dataclass
class LS:
    ws: Workspace   # the workspace whose data dir holds the server
    media: Path     # its review media folder: the local-files document root
    home: Path      # where the tests' own workspaces live (outside the media folder)
    conn: Connection

    def workspace(self, name: str, **review_settings) -> Workspace:
        ws = Workspace.init(self.home / name)
        ws.settings.review = ReviewSettings(**{**ws.settings.review.model_dump(), **review_settings})
        ws.save_settings()
        return ws

    def admin(self) -> LabelStudioClient:
        return LabelStudioClient(self.conn.url, self.conn.token, max_retries=2, backoff_s=0.2)


@pytest.fixture(scope="session")
def ls(tmp_path_factory) -> LS:
    try:
        label_studio_bin()
    except ConfigError as exc:
        skip_or_fail(f"needs the Label Studio server: {exc.message} (run `make setup`)")
    base = tmp_path_factory.mktemp("labelstudio")
    ws = Workspace.init(base / "server-ws")
    ws.settings.review.port = LS_PORT
    ws.settings.review.token_env = "MMRAKIT_TEST_NO_SUCH_TOKEN_VAR"  # use the generated secret, not the user's env
    ws.save_settings()
    serve(ws, port=LS_PORT)
    conn = connection(ws)
    assert conn.files_root == media_root(ws)
    yield LS(ws=ws, media=conn.files_root, home=base, conn=conn)
    stop(ws)


@pytest.fixture(scope="session")
def reviewers(ls) -> dict[str, int]:
    """Three reviewers through the invite route, the senior through the API + `label-studio user` route."""
    made = create_reviewers(ls.ws, ls.conn, REVIEWERS, method="invite")
    made += create_reviewers(ls.ws, ls.conn, [SENIOR], method="cli")
    creds = load_credentials(ls.ws)
    assert set(creds) == {*REVIEWERS, SENIOR} and all(c["token"] for c in creds.values())
    assert oct(os.stat(ls.ws.path("review", "labelstudio", "mmrakit-reviewers.json")).st_mode & 0o777) == "0o600"
    return {r.email: r.user_id for r in made}


