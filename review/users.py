"""Reviewer accounts on Label Studio Community: create them, make them see the projects, get their tokens.

Two routes, both tested against 1.23.2:

* ``invite`` (default, works against any server): the admin's invite link (``GET /api/invite``)
  signs the reviewer up with a password; the user lands in the organisation, and a session login
  reads their legacy token from ``/api/current-user/token``.
* ``cli`` (local server only): ``POST /api/users/`` creates the user (the password is ignored
  there), ``PATCH active_organization`` makes projects visible, and
  ``label-studio user --username EMAIL --data-dir DIR`` prints the token (about 6 s per call).

Credentials are kept in a 0600 file in the data dir, never printed.
"""

from __future__ import annotations

import ast
import json
import os
import secrets
import subprocess
from pathlib import Path
from typing import Literal

import httpx
from pydantic import BaseModel

from mmrakit import atomic
from mmrakit.errors import MmrakitError
from mmrakit.workspace import Workspace
from .client import LabelStudioClient
from .server import Connection, data_dir, label_studio_bin

CREDENTIALS_FILE = "mmrakit-reviewers.json"


class Reviewer(BaseModel):
    email: str
    user_id: int
    created: bool


def default_emails(ws: Workspace, count: int | None = None) -> list[str]:
    s = ws.settings.review
    if s.reviewer_emails and count is None:
        return list(s.reviewer_emails)
    return [f"reviewer{i}@mmrakit.local" for i in range(1, (count or s.reviewers) + 1)]


def credentials_path(ws: Workspace) -> Path:
    return data_dir(ws) / CREDENTIALS_FILE


def load_credentials(ws: Workspace) -> dict[str, dict]:
    """email -> {"user_id", "token", "password"} of the reviewers this workspace created."""
    try:
        return json.loads(credentials_path(ws).read_text("utf-8"))
    except FileNotFoundError:
        return {}


def _save_credentials(ws: Workspace, creds: dict) -> None:
    path = credentials_path(ws)
    with atomic.atomic_path(path) as tmp:
        os.chmod(tmp, 0o600)
        tmp.write_text(json.dumps(creds, indent=1), "utf-8")


def _session(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, follow_redirects=True, timeout=30)


def _signup(url: str, invite_url: str, email: str, password: str) -> str:
    with _session(url) as s:
        s.get(invite_url)
        s.post(invite_url, data={"email": email, "password": password, "csrfmiddlewaretoken": s.cookies["csrftoken"],
                                 "allow_newsletters": "false"}, headers={"Referer": url + invite_url})
        return _token_from_session(s, email)


def _login_token(url: str, email: str, password: str) -> str:
    with _session(url) as s:
        s.get("/user/login/")
        s.post("/user/login/", data={"email": email, "password": password,
                                     "csrfmiddlewaretoken": s.cookies["csrftoken"]},
               headers={"Referer": url + "/user/login/"})
        return _token_from_session(s, email)


def _token_from_session(s: httpx.Client, email: str) -> str:
    who = s.get("/api/current-user/whoami")
    if who.status_code != 200 or who.json().get("email") != email:
        raise MmrakitError(f"could not sign in as reviewer {email} (HTTP {who.status_code})",
                           hint="use `review users create --method cli` on the local server")
    r = s.get("/api/current-user/token")
    r.raise_for_status()
    return r.json()["token"]


def cli_token(ws: Workspace, email: str) -> str:
    """The legacy token printed by ``label-studio user`` (reads the local data dir's database)."""
    out = subprocess.run([label_studio_bin(), "user", "--username", email, "--data-dir", str(data_dir(ws))],
                         capture_output=True, text=True, timeout=120,
                         env={**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir(ws))})
    for line in reversed(out.stdout.strip().splitlines()):
        if line.startswith("{"):
            info = ast.literal_eval(line)
            if info.get("status") == "ok":
                return info["token"]
    raise MmrakitError(f"`label-studio user --username {email}` gave no token (exit {out.returncode})",
                       hint="is this the data dir of the server review talks to?")


def create_reviewers(ws: Workspace, conn: Connection, emails: list[str], *,
                     method: Literal["invite", "cli"] = "invite") -> list[Reviewer]:
    """Create (or find) reviewer accounts that see the review projects; keep their tokens locally."""
    creds = load_credentials(ws)
    out: list[Reviewer] = []
    with conn.client(ws) as admin:
        org = admin.whoami().get("active_organization")
        existing = {u["email"]: u for u in admin.users()}
        for email in emails:
            entry = creds.get(email, {})
            created = email not in existing
            if created and method == "invite":
                password = secrets.token_urlsafe(14)
                invite = admin.request("GET", "/api/invite")["invite_url"]
                token = _signup(conn.url, invite, email, password)
                entry = {"password": password, "token": token}
            elif created:
                admin.create_user(email)
                entry = {}
            existing = existing if not created else {u["email"]: u for u in admin.users()}
            user = existing[email]
            if user.get("active_organization") != org:
                admin.update_user(user["id"], active_organization=org)  # else the user sees no project
            if not entry.get("token"):
                if entry.get("password"):
                    entry["token"] = _login_token(conn.url, email, entry["password"])
                else:
                    entry["token"] = cli_token(ws, email)
            entry["user_id"] = user["id"]
            creds[email] = entry
            _save_credentials(ws, creds)
            out.append(Reviewer(email=email, user_id=user["id"], created=created))
        if method == "invite" and any(r.created for r in out):
            # The invite link appears in the server's access log: retire it.
            admin.request("POST", "/api/invite/reset-token")
    return out


def reviewer_client(ws: Workspace, conn: Connection, email: str) -> LabelStudioClient:
    """A client acting as one reviewer (their own token: annotations get their user as completed_by)."""
    entry = load_credentials(ws).get(email)
    if not entry:
        raise MmrakitError(f"no stored credentials for reviewer {email}",
                           hint="create the account with `mmrakit review users create`")
    s = ws.settings.review
    return LabelStudioClient(conn.url, entry["token"], token_source=f"{CREDENTIALS_FILE} ({email})",
                             timeout_s=s.timeout_s, max_retries=s.max_retries, backoff_s=s.backoff_s)
