"""Start, find and stop a local Label Studio, and resolve which server + token review talks to.

The server runs from its own venv (``$MMRAKIT_LABEL_STUDIO_BIN``), bound to 127.0.0.1, with its
data dir inside the workspace (0700: its database holds every user's token) and local-files serving
rooted at the workspace's review media folder (:mod:`.media`), which holds exactly the pushed images.
Secrets (admin token and password) come from the environment, else are generated once and kept
in a 0600 file in the data dir; they are passed through the environment (not argv) and never printed.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from mmrakit import atomic
from mmrakit.errors import ConfigError, MmrakitError
from mmrakit.util import pid_alive
from mmrakit.workspace import Workspace
from .client import LabelStudioClient
from .media import MediaFolder

BIN_ENV = "MMRAKIT_LABEL_STUDIO_BIN"
STATE_FILE = "mmrakit-server.json"
MEDIA_DIR = "review/media"
SECRETS_FILE = "mmrakit-secrets.json"
# Bare names Label Studio's get_env() would also pick up from a user's shell.
STRAY_ENV = ("USERNAME", "PASSWORD", "PORT", "HOST", "USER_TOKEN", "HEARTEX_USERNAME", "HEARTEX_PASSWORD")


@dataclass(frozen=True)
class Connection:
    url: str
    token: str
    token_source: str
    files_root: Path | None  # the server's local-files document root: a review media folder (None: http URLs only)

    def client(self, ws: Workspace) -> LabelStudioClient:
        s = ws.settings.review
        return LabelStudioClient(self.url, self.token, token_source=self.token_source, timeout_s=s.timeout_s,
                                 max_retries=s.max_retries, backoff_s=s.backoff_s)


def data_dir(ws: Workspace) -> Path:
    return ws.resolve(ws.settings.review.data_dir)


def label_studio_bin() -> str:
    """``$MMRAKIT_LABEL_STUDIO_BIN``, else ``label-studio`` on PATH."""
    env = os.environ.get(BIN_ENV)
    if env:
        if not os.access(env, os.X_OK):
            raise ConfigError(f"${BIN_ENV} points to {env}, which is not an executable",
                              hint="run `make setup` (it installs Label Studio into .venv-ls) or fix the variable")
        return env
    found = shutil.which("label-studio")
    if found:
        return found
    raise ConfigError("Label Studio is not installed: no $MMRAKIT_LABEL_STUDIO_BIN and no `label-studio` on PATH",
                      hint="run `make setup` (installs it into .venv-ls), or `pip install label-studio` in its own venv, "
                           "or connect to an existing server with review.url in mmrakit.toml + $LABEL_STUDIO_API_KEY")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return {}


def local_secrets(ws: Workspace, *, create: bool = False) -> dict:
    """Admin token + password: env first, else the data dir's 0600 secrets file (generated when asked)."""
    s = ws.settings.review
    path = data_dir(ws) / SECRETS_FILE
    stored = _read_json(path)
    if create and not {"token", "password"} <= stored.keys():
        stored = {"token": stored.get("token") or secrets.token_hex(20),
                  "password": stored.get("password") or secrets.token_urlsafe(18)}
        _private_dir(path.parent)
        with atomic.atomic_path(path) as tmp:
            os.chmod(tmp, 0o600)
            tmp.write_text(json.dumps(stored), "utf-8")
    token = os.environ.get(s.token_env) or stored.get("token", "")
    source = f"${s.token_env}" if os.environ.get(s.token_env) else f"{path.name} in the data dir"
    return {"token": token, "token_source": source,
            "password": os.environ.get(s.password_env) or stored.get("password", "")}


def media_root(ws: Workspace) -> Path:
    """The workspace's review media folder: the document root of the server `review serve` starts."""
    return ws.path(*MEDIA_DIR.split("/"))


def _private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)


def _same(a: str | Path, b: Path) -> bool:
    return os.path.abspath(a) == os.path.abspath(b)


def server_state(ws: Workspace) -> dict:
    return _read_json(data_dir(ws) / STATE_FILE)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/api/version", timeout=3).status_code == 200
    except httpx.HTTPError:
        return False


def _check_root(ws: Workspace, root: Path, what: str) -> None:
    media = media_root(ws)
    if not _same(root, media):
        raise ConfigError(
            f"{what} is {root}, but the Label Studio that `review serve` runs serves only the workspace's review "
            f"media folder {media}: any other document root lets every reviewer read files that are not review images",
            hint="drop --files-root / [review] files_root for the local server (files_root is only for a server you "
                 "run yourself, with [review] url); if an older server is running, `mmrakit review stop` and serve again")


def serve(ws: Workspace, *, port: int | None = None, files_root: Path | None = None,
          wait_s: float = 240.0) -> dict:
    """Start the local server (or return the running one). Returns the state (no secrets).

    The local-files document root is always the workspace's media folder; ``files_root`` (or
    ``[review] files_root``) naming anything else is refused.
    """
    s = ws.settings.review
    root = media_root(ws)
    for given, what in ((files_root, "--files-root"), (s.files_root, "[review] files_root")):
        if given is not None:
            _check_root(ws, ws.resolve(given), what)
    ddir = data_dir(ws)
    state = server_state(ws)
    if state and pid_alive(state.get("pid")) and _answers(state["url"]):
        _check_root(ws, Path(state.get("files_root") or "/"), f"the running server's (pid {state['pid']}) document root")
        _private_dir(ddir)
        _private_db(ddir)
        state["already_running"] = True
        return state
    _private_dir(ddir)
    _private_db(ddir)
    port = port or s.port
    MediaFolder.open(root)
    sec = local_secrets(ws, create=True)
    url = f"http://{'127.0.0.1' if s.host in ('0.0.0.0', '::') else s.host}:{port}"
    if _answers(url):
        raise MmrakitError(f"something already answers on {url}",
                           hint="stop it, pick another port (`review serve --port N`), or connect with review.url (mmrakit.toml)")
    env = {k: v for k, v in os.environ.items() if k not in STRAY_ENV}
    env.update({
        "LABEL_STUDIO_USERNAME": s.admin_email,
        "LABEL_STUDIO_PASSWORD": sec["password"],
        "LABEL_STUDIO_USER_TOKEN": sec["token"],
        "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
        "LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED": "true",
        "LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT": str(root),
        "LABEL_STUDIO_BASE_DATA_DIR": str(ddir),
        "COLLECT_ANALYTICS": "false",
        "LATEST_VERSION_CHECK": "false",
        # no error reports to Label Studio's Sentry: they carry request paths and local file names
        "LABEL_STUDIO_SENTRY_DSN": "",
        "LABEL_STUDIO_FRONTEND_SENTRY_DSN": "",
    })
    cmd = [label_studio_bin(), "start", "--no-browser", "--internal-host", s.host, "--port", str(port),
           "--data-dir", str(ddir)]
    log = os.fdopen(os.open(ddir / "server.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600), "ab")
    # umask 077: the database (every user's token), uploads and exports are the owner's only
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, umask=0o077)
    log.close()
    state = {"pid": proc.pid, "url": url, "port": port, "files_root": str(root), "data_dir": str(ddir),
             "log": str(ddir / "server.log"), "started_at": time.time()}
    atomic.write_text(ddir / STATE_FILE, json.dumps(state, indent=2))
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise MmrakitError(f"Label Studio exited with code {proc.returncode} while starting",
                               hint=f"see {ddir / 'server.log'}")
        if _answers(url):
            break
        time.sleep(1.0)
    else:
        raise MmrakitError(f"Label Studio did not answer on {url} within {wait_s:.0f} s",
                           hint=f"see {ddir / 'server.log'}; the first start runs migrations (about a minute)")
    with Connection(url, sec["token"], sec["token_source"], root).client(ws) as c:
        c.whoami()  # a token mismatch (data dir created with another token) fails here, clearly
    _private_db(ddir)
    state["already_running"] = False
    return state


def _private_db(ddir: Path) -> None:
    """Owner-only modes for what a data dir made before umask 077 holds (the database above all)."""
    for p in ddir.iterdir():
        if p.is_file() and not p.is_symlink():
            os.chmod(p, 0o600)


def stop(ws: Workspace, *, timeout_s: float = 20.0) -> bool:
    """Stop the server ``serve`` started (by its recorded pid). False when none was running."""
    path = data_dir(ws) / STATE_FILE
    state = _read_json(path)
    pid = state.get("pid")
    stopped = False
    if pid_alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while pid_alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.2)
        if pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        _reap(pid)
        stopped = True
    path.unlink(missing_ok=True)
    return stopped


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def connection(ws: Workspace) -> Connection:
    """The server review talks to: [review] url + $token_env, else the one `review serve` started."""
    s = ws.settings.review
    if s.url:
        token = os.environ.get(s.token_env, "")
        if not token:
            raise ConfigError(f"review.url is {s.url} but ${s.token_env} is not set",
                              hint=f"export {s.token_env}=<your Label Studio API token (legacy token)>")
        return Connection(s.url.rstrip("/"), token, f"${s.token_env}", ws.resolve(s.files_root) if s.files_root else None)
    state = server_state(ws)
    if not state:
        raise MmrakitError("no Label Studio server: none started for this workspace and review.url (mmrakit.toml) is not set",
                           hint="run `mmrakit review serve`, or set review.url and $" + s.token_env)
    _check_root(ws, Path(state.get("files_root") or "/"), "the local server's document root")
    sec = local_secrets(ws)
    return Connection(state["url"], sec["token"], sec["token_source"], Path(state["files_root"]))
