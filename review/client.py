"""A small Label Studio REST client: only the calls review needs, with retries and safe errors.

Why not the SDK's client: we need control over retries (down server, 5xx, timeouts), error
messages that never echo the token, and raw JSON pages for fast pulls. The SDK is still used
client-side to validate the labelling config (see :mod:`mmrakit.review.config`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx

from mmrakit.errors import MmrakitError
from mmrakit.modelhub.retry import retrying

RETRY_STATUS = {429, 500, 502, 503, 504}
LS_DATETIME = "%Y-%m-%dT%H:%M:%S.%fZ"  # the only format the data-manager datetime filter accepts


class LabelStudioError(MmrakitError):
    """Label Studio answered with an error, or could not be reached after the retries."""


class LabelStudioAuthError(LabelStudioError):
    """The token was refused (the message never contains the token)."""


class _Transient(Exception):
    """A failure worth retrying (server down, timeout, 429/5xx); its text says which."""


class LabelStudioClient:
    """``Authorization: Token`` client for one server. ``token_source`` only names where the token came from."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        token_source: str = "the configured token",
        timeout_s: float = 60.0,
        max_retries: int = 5,
        backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not token:
            raise LabelStudioAuthError(f"no Label Studio API token ({token_source} is empty)",
                                       hint="set it, or start a local server with `mmrakit review serve`")
        self.url = url.rstrip("/")
        self.token_source = token_source
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self._sleep = sleep
        # Plain http (the local server) needs no TLS context; building one costs ~0.3 s here.
        self._http = httpx.Client(base_url=self.url, timeout=timeout_s, verify=not self.url.startswith("http://"),
                                  headers={"Authorization": f"Token {token}"}, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> "LabelStudioClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ------------------------------------------------------------------------------

    def request(self, method: str, path: str, *, ok: tuple[int, ...] = (200, 201, 204), **kw: Any) -> Any:
        """One call with retries (the model layer's policy) on connection errors, timeouts and 429/5xx."""
        def once() -> Any:
            try:
                resp = self._http.request(method, path, **kw)
            except httpx.TransportError as exc:  # connect refused, reset, timeouts
                raise _Transient(type(exc).__name__) from None
            if resp.status_code in (401, 403):
                raise LabelStudioAuthError(
                    f"Label Studio at {self.url} refused the API token from {self.token_source} "
                    f"(HTTP {resp.status_code} on {method} {path.split('?')[0]})",
                    hint="check the token (and that the server was started with legacy API tokens enabled)",
                )
            if resp.status_code in ok:
                return resp.json() if resp.content and "json" in resp.headers.get("content-type", "") else None
            if resp.status_code not in RETRY_STATUS:
                raise LabelStudioError(
                    f"Label Studio {method} {path.split('?')[0]} failed: HTTP {resp.status_code}: {_short(resp.text)}")
            raise _Transient(f"HTTP {resp.status_code}: {_short(resp.text)}")

        try:
            for attempt in retrying(_Transient, max_retries=self.max_retries, initial_s=self.backoff_s, max_s=10.0,
                                    jitter=False, sleep=self._sleep):
                with attempt:
                    return once()
        except _Transient as last:
            raise LabelStudioError(
                f"Label Studio at {self.url} did not answer {method} {path.split('?')[0]} after "
                f"{self.max_retries + 1} attempts ({last})",
                hint="is the server running? (`mmrakit review serve`); re-run the command to resume where it stopped",
            ) from None
        raise AssertionError("unreachable")

    # --- endpoints ------------------------------------------------------------------------------

    def version(self) -> dict:
        return self.request("GET", "/api/version")

    def whoami(self) -> dict:
        return self.request("GET", "/api/current-user/whoami")

    def projects(self) -> list[dict]:
        out, page = [], 1
        while True:
            body = self.request("GET", "/api/projects/", params={"page": page, "page_size": 100})
            results = body["results"] if isinstance(body, dict) else body
            out += results
            if not isinstance(body, dict) or not body.get("next"):
                return out
            page += 1

    def project(self, project_id: int) -> dict:
        return self.request("GET", f"/api/projects/{project_id}/")

    def create_project(self, **fields: Any) -> dict:
        return self.request("POST", "/api/projects/", json=fields)

    def update_project(self, project_id: int, **fields: Any) -> dict:
        return self.request("PATCH", f"/api/projects/{project_id}/", json=fields)

    def local_storages(self, project_id: int) -> list[dict]:
        return self.request("GET", "/api/storages/localfiles/", params={"project": project_id})

    def create_local_storage(self, project_id: int, path: str, title: str) -> dict:
        return self.request("POST", "/api/storages/localfiles/",
                            json={"project": project_id, "path": path, "title": title, "use_blob_urls": False})

    def delete_local_storage(self, storage_id: int) -> None:
        self.request("DELETE", f"/api/storages/localfiles/{storage_id}")

    def import_tasks(self, project_id: int, tasks: list[dict]) -> list[int]:
        body = self.request("POST", f"/api/projects/{project_id}/import", params={"return_task_ids": "true"},
                            json=tasks)
        return list(body.get("task_ids") or [])

    def update_task(self, task_id: int, data: dict) -> dict:
        return self.request("PATCH", f"/api/tasks/{task_id}/", json={"data": data})

    def predictions(self, task_id: int) -> list[dict]:
        return self.request("GET", "/api/predictions/", params={"task": task_id})

    def create_prediction(self, task_id: int, result: list[dict], model_version: str) -> dict:
        return self.request("POST", "/api/predictions/",
                            json={"task": task_id, "result": result, "model_version": model_version})

    def delete_prediction(self, prediction_id: int) -> None:
        self.request("DELETE", f"/api/predictions/{prediction_id}/")

    def task(self, task_id: int) -> dict:
        return self.request("GET", f"/api/tasks/{task_id}/")

    def create_annotation(self, task_id: int, result: list[dict], **extra: Any) -> dict:
        return self.request("POST", f"/api/tasks/{task_id}/annotations/", json={"result": result, **extra})

    def tasks_page(self, project_id: int, *, query: dict | None = None, page: int = 1, page_size: int = 500,
                   fields_all: bool = True) -> dict:
        params: dict[str, Any] = {"project": project_id, "page": page, "page_size": page_size}
        if fields_all:
            params["fields"] = "all"
        if query is not None:
            params["query"] = json.dumps(query)
        return self.request("GET", "/api/tasks/", params=params)

    def count_tasks(self, project_id: int, query: dict | None = None) -> int:
        return int(self.tasks_page(project_id, query=query, page_size=1, fields_all=False).get("total", 0))

    def export_json(self, project_id: int) -> list[dict]:
        """Every task with its annotations in one synchronous JSON export (far faster than data-manager pages)."""
        return self.request("GET", f"/api/projects/{project_id}/export",
                            params={"exportType": "JSON", "download_all_tasks": "true"})

    def iter_tasks(self, project_id: int, *, page_size: int = 500, fields_all: bool = False) -> Iterator[dict]:
        page = 1
        while True:
            try:
                body = self.tasks_page(project_id, page=page, page_size=page_size, fields_all=fields_all)
            except LabelStudioError as exc:  # LS answers 404 for a page past the end
                if "HTTP 404" in exc.message:
                    return
                raise
            tasks = body.get("tasks", [])
            yield from tasks
            if len(tasks) < page_size:
                return
            page += 1

    def users(self) -> list[dict]:
        body = self.request("GET", "/api/users/", params={"page_size": 1000})
        return body["results"] if isinstance(body, dict) and "results" in body else body

    def create_user(self, email: str, first_name: str = "") -> dict:
        username = email.split("@")[0]
        return self.request("POST", "/api/users/", json={"email": email, "username": username, "first_name": first_name})

    def update_user(self, user_id: int, **fields: Any) -> dict:
        return self.request("PATCH", f"/api/users/{user_id}/", json=fields)


def updated_filter(since: str, *, operator: str = "greater") -> dict:
    """Data-manager query: tasks whose ``updated_at`` is after ``since`` (LS_DATETIME), oldest first."""
    return {"filters": {"conjunction": "and", "items": [
        {"filter": "filter:tasks:updated_at", "operator": operator, "type": "Datetime", "value": since}]},
        "ordering": ["tasks:updated_at"]}


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
