"""Push kept candidates to Label Studio: one task per candidate, keyed by the candidate id in task data.

Pushing again imports only new candidates, updates the tasks whose content changed (data and
the prediction), and never duplicates: the map candidate -> task lives in the workspace, and is
rebuilt from the server's task data when it is missing (a new workspace, a lost catalogue).

With ``[review] isolation = "project"`` (the default) every reviewer gets a project of their own
(kind ``reviewer:<email>``, one annotation per task), so where a reviewer labels they see nobody
else's verdict; ``"shared"`` keeps one project with K annotations per task. Every project carries
the judging guide (``data/judging_guide.html``) as its instructions, shown before labelling.

Images go into the server's media folder (:mod:`.media`) as tasks need them. The tasks of candidates
that reviewers rejected or that are no longer kept are withdrawn (their images stripped, the task and
its annotations kept), and a media file goes once no task on the server shows it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

from pydantic import BaseModel

from mmrakit.errors import ConfigError, InputError
from mmrakit.models import Candidate
from mmrakit.records import CandidateStore, ImageCatalog
from mmrakit.stage import Progress
from mmrakit.workspace import Workspace
from .client import LabelStudioClient, LabelStudioError
from .config import answer_result, judging_guide, label_config, pair_note, validate_prediction
from .media import MediaFolder, name_from_url
from .server import Connection
from .store import ReviewStore
from .users import default_emails

MAIN, ADJUDICATION = "main", "adjudication"
REVIEWER = "reviewer:"  # + email: one reviewer's own project (isolation = "project")
WITHDRAWN = "withdrawn"  # content hash of a task whose candidate was rejected or dropped: no images any more
STORAGE_TITLE = "mmrakit images"


class PushReport(BaseModel):
    project_id: int
    url: str
    kind: str
    candidates: int
    created: int
    updated: int
    unchanged: int
    withdrawn: int = 0
    media_removed: int = 0
    projects: dict[str, int] = {}  # kind -> project id of every project this push wrote to


def reviewer_kind(email: str) -> str:
    return REVIEWER + email


def reviewer_kinds(ws: Workspace) -> list[str]:
    """The project kinds of a main review round: one per reviewer, or the one shared project."""
    s = ws.settings.review
    if s.isolation == "shared":
        return [MAIN]
    emails = default_emails(ws)
    if len(emails) != s.reviewers:
        raise ConfigError(f"[review] isolation = \"project\" needs one reviewer account per project: "
                          f"{len(emails)} reviewer_emails for reviewers = {s.reviewers}",
                          hint="list exactly `reviewers` accounts in [review] reviewer_emails (or leave it empty "
                               "for reviewer1..K@mmrakit.local)")
    return [reviewer_kind(e) for e in emails]


# --- images ---------------------------------------------------------------------------------------

class ImageUrls:
    """sha256 -> URL Label Studio can show: the image's file in the media folder, else the record's http URL.

    ``root`` is the server's local-files document root, a :class:`MediaFolder`; each local image is
    put in it (hard link or copy, checked against its sha256) as it is asked for.
    """

    def __init__(self, ws: Workspace, root: Path | None) -> None:
        self.catalog = ImageCatalog(ws)
        self.media = MediaFolder.open(root) if root is not None else None
        self._cache: dict[str, str] = {}

    def __call__(self, sha: str, candidate_id: str) -> str:
        if sha in self._cache:
            return self._cache[sha]
        rec = self.catalog.get(sha)
        if rec is None:
            raise InputError(f"candidate {candidate_id}: image {sha} is not in the image catalogue",
                             hint="re-run `mmrakit images import` or rebuild the candidates")
        url = None
        if rec.path and self.media is not None:
            path = self.catalog.file_path(rec)
            if path.is_file():
                url = self.media.url(self.media.add(rec, path))
            elif not rec.url:
                raise InputError(f"candidate {candidate_id}: image file {path} is missing")
        if url is None:
            if not rec.url or not rec.url.startswith(("http://", "https://")):
                raise InputError(f"candidate {candidate_id}: image {sha} has neither a servable file nor an http URL",
                                 hint="start the local server with `mmrakit review serve`, or give your server a "
                                      "review media folder ([review] files_root, see docs/review.md)")
            url = rec.url
        self._cache[sha] = url
        return url


# --- payload --------------------------------------------------------------------------------------

def options_text(c: Candidate) -> str:
    if not c.options:
        return "Answer Yes or No."
    return "   ".join(f"{k}. {v}" for k, v in c.options.items())


def task_payload(c: Candidate, image_url, votes: list[dict] | None = None) -> dict:
    """The Label Studio task of one candidate: data (with the candidate id) + the proposal as a prediction.

    ``votes`` (adjudication tasks): the reviewers' votes, shown to the adjudicator as ``votes_text``."""
    data = {
        "candidate_id": c.id,
        "subtask": c.task,
        "qa_type": c.qa_type,
        "granularity": c.granularity,
        "image1": image_url(c.image1, c.id),
        "image2": image_url(c.image2, c.id),
        "question": c.question,
        "options_text": options_text(c),
        "valid_answers": list(c.options) if c.options else ["Yes", "No"],
        "proposed_answer": c.answer,
        "builder_version": c.builder_version,
        "order_probe": c.order_probe,
        "pair_id": c.pair_id or "",
        "pair_note": pair_note() if c.pair_id else "",  # the form shows it; empty on unpaired tasks
    }
    if votes is not None:
        data["votes"] = votes
        data["votes_text"] = votes_text(votes)
    prediction = {"model_version": c.builder_version, "result": answer_result(c.answer)}
    data["content_hash"] = content_hash(data, prediction)
    return {"data": data, "predictions": [prediction]}


def partners_together(candidates: list[Candidate]) -> list[Candidate]:
    """The same candidates, each counterfactual partner moved right after the first of its pair: imported in
    this order they get consecutive task ids, so the labelling stream shows the partners one after the other."""
    by_pair: dict[str, list[Candidate]] = {}
    for c in candidates:
        if c.pair_id:
            by_pair.setdefault(c.pair_id, []).append(c)
    out, placed = [], set()
    for c in candidates:
        if c.id in placed:
            continue
        group = by_pair.get(c.pair_id, [c]) if c.pair_id else [c]
        out.extend(group)
        placed.update(x.id for x in group)
    return out


def votes_text(votes: list[dict]) -> str:
    """One line per vote: ``r-1a2b3c4d5e: correct -> No (question: "...")`` / ``...: reject (ambiguous)``."""
    lines = []
    for v in votes:
        line = f"{v['reviewer']}: {v['verdict']}"
        if v.get("answer"):
            line += f" -> {v['answer']}"
        if v.get("reasons"):
            line += f" ({', '.join(v['reasons'])})"
        if v.get("corrected_question"):
            line += f' (question: "{v["corrected_question"]}")'
        lines.append(line)
    return "\n".join(lines) or "(no votes)"


def content_hash(data: dict, prediction: dict) -> str:
    body = {k: v for k, v in data.items() if k != "content_hash"}
    return hashlib.sha256(json.dumps([body, prediction], sort_keys=True).encode()).hexdigest()[:16]


# --- projects -------------------------------------------------------------------------------------

def ensure_project(client: LabelStudioClient, store: ReviewStore, ws: Workspace, conn: Connection, kind: str,
                   media: MediaFolder | None = None) -> int:
    """Create (or update) the review project of this kind with the generated config and K overlap."""
    s = ws.settings.review
    config = label_config(adjudication=kind == ADJUDICATION)  # validated client-side before any call
    if kind == MAIN:
        title, overlap, what = s.project_title, s.reviewers, "shared review"
    elif kind == ADJUDICATION:
        title, overlap, what = f"{s.project_title} (adjudication)", 1, "adjudication"
    else:  # one reviewer's own project; the title names no account (every member sees the project list)
        kinds = reviewer_kinds(ws) if s.isolation == "project" else []
        n = kinds.index(kind) + 1 if kind in kinds else len(store.projects(conn.url)) + 1
        title, overlap, what = f"{s.project_title} (reviewer {n})", 1, f"review by reviewer {n} alone"
    fields = {"label_config": config, "maximum_annotations": overlap, "overlap_cohort_percentage": 100,
              "show_collab_predictions": True, "description": f"mmrakit {what}: one task per candidate",
              "expert_instruction": judging_guide(), "show_instruction": True}
    pid = store.project_id(conn.url, kind)
    if pid is not None:
        try:
            project = client.project(pid)
        except Exception as exc:  # noqa: BLE001 - only a 404 means "gone"
            if "HTTP 404" not in str(exc):
                raise
            store.forget_project(conn.url, pid)
            pid = None
        else:
            changed = {k: v for k, v in fields.items() if project.get(k) != v}
            if changed:
                client.update_project(pid, **changed)
    if pid is None:
        pid = client.create_project(title=title, **fields)["id"]
        store.set_project(conn.url, kind, pid)
    if media is not None:
        ensure_storage(client, pid, media)
    return pid


def ensure_storage(client: LabelStudioClient, pid: int, media: MediaFolder) -> None:
    """The project's one local storage is the media folder's images/: Label Studio serves a local file only to
    users of a project whose storage covers it. Storages an older mmrakit made over wider folders go."""
    want = str(media.images)
    have = False
    for st in client.local_storages(pid):
        if st.get("path") == want:
            have = True
        elif str(st.get("title", "")).startswith(STORAGE_TITLE):
            client.delete_local_storage(st["id"])
    if not have:
        try:
            client.create_local_storage(pid, want, title=f"{STORAGE_TITLE} (review media)")
        except LabelStudioError as exc:
            raise ConfigError(
                f"Label Studio at {client.url} refused a local storage over the review media folder {media.images}: "
                f"{exc.message}",
                hint=f"start that server with LABEL_STUDIO_LOCAL_FILES_SERVING_ENABLED=true and "
                     f"LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT={media.root}, and set [review] files_root = \"{media.root}\"") from None


def withdraw(ws: Workspace, conn: Connection, client: LabelStudioClient, store: ReviewStore) -> int:
    """Strip the images from the tasks (main and adjudication) of candidates that are rejected, no longer
    kept, or gone. The task and its annotations stay; a candidate that comes back is restored by the next push."""
    n = 0
    for pid in store.projects(conn.url).values():
        tasks = store.tasks(conn.url, pid)
        live = _live_candidates(ws, list(tasks))
        for cid, (tid, chash) in sorted(tasks.items()):
            if cid in live or chash == WITHDRAWN:
                continue
            data = dict(client.task(tid).get("data") or {})
            data.update({"image1": "", "image2": "", "content_hash": WITHDRAWN})
            client.update_task(tid, data)
            store.record_tasks(conn.url, pid, [(cid, tid, WITHDRAWN)])
            n += 1
    return n


def _live_candidates(ws: Workspace, ids: list[str]) -> set[str]:
    """The candidates among ``ids`` whose tasks still show images: kept and not rejected by review."""
    live: set[str] = set()
    for i in range(0, len(ids), 500):
        chunk = ids[i:i + 500]
        live |= {r[0] for r in ws.db.execute(
            f"SELECT id FROM candidates WHERE id IN ({', '.join('?' * len(chunk))}) "
            "AND status = 'kept' AND review_status != 'rejected'", chunk)}
    return live


def _unknown_media(ws: Workspace, conn: Connection, media: MediaFolder) -> bool:
    """Whether the folder holds a file that none of this workspace's live tasks shows (then the server decides)."""
    live: set[str] = set()
    for a, b in ws.db.execute(
            "SELECT c.image1, c.image2 FROM review_tasks t JOIN candidates c ON c.id = t.candidate_id "
            "WHERE t.url = ? AND t.content_hash != ?", (conn.url, WITHDRAWN)):
        live.update((a, b))
    return any(name.split(".", 1)[0] not in live for name in media.names())


def referenced_media(client: LabelStudioClient, media: MediaFolder, page_size: int) -> set[str]:
    """Media file names any task references, over every project served from this media folder (any workspace)."""
    names: set[str] = set()
    want = str(media.images)
    for project in client.projects():
        if not any(st.get("path") == want for st in client.local_storages(project["id"])):
            continue
        for t in client.iter_tasks(project["id"], page_size=max(page_size, 100)):
            for value in (t.get("data") or {}).values():
                name = name_from_url(value)
                if name:
                    names.add(name)
    return names


def _sync_task_map(client: LabelStudioClient, store: ReviewStore, url: str, pid: int, page_size: int) -> dict:
    """Rebuild candidate -> task from the server when ours is incomplete (never re-import what exists)."""
    known = store.tasks(url, pid)
    task_number = client.project(pid).get("task_number", 0)
    if task_number == len(known):
        return known
    rows = []
    for t in client.iter_tasks(pid, page_size=max(page_size, 100)):
        cid = (t.get("data") or {}).get("candidate_id")
        if cid and cid not in known:
            rows.append((cid, t["id"], (t.get("data") or {}).get("content_hash", "")))
    store.record_tasks(url, pid, rows)
    return store.tasks(url, pid)


def push_candidates(ws: Workspace, conn: Connection, candidates: Iterable[Candidate], *, kind: str = MAIN,
                    client: LabelStudioClient | None = None, votes: dict[str, list[dict]] | None = None,
                    progress: Progress | None = None) -> PushReport:
    """Push ``candidates`` to the project of ``kind``; withdraw the tasks of rejected or dropped candidates
    (both projects), and let the media folder keep exactly the images some task still shows.
    ``progress(task, done, total)`` hears about the tasks created or updated."""
    store = ReviewStore(ws)
    own = client is None
    client = client or conn.client(ws)
    urls = ImageUrls(ws, conn.files_root)
    try:
        with urls.media.locked() if urls.media else contextlib.nullcontext():
            report = _push_locked(ws, conn, list(candidates), kind, client, store, urls, votes, progress)
            if urls.media is not None:
                urls.media.prune_strays()
                if report.withdrawn or _unknown_media(ws, conn, urls.media):
                    keep = referenced_media(client, urls.media, ws.settings.review.batch_size)
                    report.media_removed = len(urls.media.collect(keep))
        return report
    finally:
        if own:
            client.close()


def _push_locked(ws: Workspace, conn: Connection, candidates: list[Candidate], kind: str, client: LabelStudioClient,
                 store: ReviewStore, urls: ImageUrls, votes: dict[str, list[dict]] | None = None,
                 progress: Progress | None = None) -> PushReport:
    payloads, checked = [], set()
    for c in partners_together(candidates):
        p = task_payload(c, urls, None if votes is None else votes.get(c.id, []))
        if (c.answer, c.builder_version) not in checked:  # the prediction depends on these two only
            validate_prediction(p["predictions"][0]["result"], p["predictions"][0]["model_version"])
            checked.add((c.answer, c.builder_version))
        payloads.append(p)
    pid = ensure_project(client, store, ws, conn, kind, urls.media)
    known = _sync_task_map(client, store, conn.url, pid, ws.settings.review.batch_size)
    new = [p for p in payloads if p["data"]["candidate_id"] not in known]
    changed = [p for p in payloads
               if p["data"]["candidate_id"] in known and known[p["data"]["candidate_id"]][1] != p["data"]["content_hash"]]
    bs = ws.settings.review.batch_size
    task, total = f"review: push ({kind})", len(new) + len(changed)

    def tick(done: int) -> None:
        if progress:
            progress(task, done, total)

    tick(0)
    for i in range(0, len(new), bs):
        batch = new[i:i + bs]
        ids = client.import_tasks(pid, batch)
        if len(ids) != len(batch):
            raise InputError(f"Label Studio imported {len(ids)} of {len(batch)} tasks",
                             hint="re-run `mmrakit review push`: existing tasks are matched by candidate id")
        store.record_tasks(conn.url, pid, [(p["data"]["candidate_id"], tid, p["data"]["content_hash"])
                                           for p, tid in zip(batch, ids)])
        tick(i + len(batch))
    for j, p in enumerate(changed, 1):
        tid = known[p["data"]["candidate_id"]][0]
        client.update_task(tid, p["data"])
        pred = p["predictions"][0]
        for old in client.predictions(tid):
            client.delete_prediction(old["id"])
        client.create_prediction(tid, pred["result"], pred["model_version"])
        store.record_tasks(conn.url, pid, [(p["data"]["candidate_id"], tid, p["data"]["content_hash"])])
        tick(len(new) + j)
    withdrawn = withdraw(ws, conn, client, store)
    return PushReport(project_id=pid, url=conn.url, kind=kind, candidates=len(payloads), created=len(new),
                      updated=len(changed), unchanged=len(payloads) - len(new) - len(changed), withdrawn=withdrawn,
                      projects={kind: pid})


def push(ws: Workspace, conn: Connection, *, subtasks: list[str] | None = None, reviewers: int | None = None,
         progress: Progress | None = None) -> PushReport:
    """`review push`: every kept candidate (of ``subtasks``) not rejected, recorded as stage review.push."""
    if reviewers is not None and reviewers != ws.settings.review.reviewers:
        ws.settings.review = ws.settings.review.model_copy(update={
            "reviewers": reviewers, "min_accept": min(ws.settings.review.min_accept, reviewers),
            "min_reject": None if ws.settings.review.min_reject is None else min(ws.settings.review.min_reject, reviewers)})
        ws.save_settings()  # pull's consensus must use the K the project was pushed with
    rows = [r for r in CandidateStore(ws).rows(task=subtasks, status="kept") if r["review_status"] != "rejected"]
    candidates = [r["candidate"] for r in rows]
    cstore = CandidateStore(ws)
    kinds = reviewer_kinds(ws)
    with ws.stage_run("review.push", key=",".join(sorted(subtasks or [])), inputs=[c.id for c in candidates],
                      settings=ws.settings.review, force=True) as run:
        with conn.client(ws) as client:
            reports = [push_candidates(ws, conn, candidates, kind=kind, client=client, progress=progress)
                       for kind in kinds]
        report = reports[0] if len(reports) == 1 else _combined(reports)
        for r in rows:
            if r["review_status"] == "unreviewed":
                cstore.set_review(r["id"], "pending")
        run.counts.update(report.model_dump(exclude={"url", "kind", "projects"}))
        run.outputs.update({"project_id": report.project_id, "url": report.url, "projects": report.projects})
    return report


def _combined(reports: list[PushReport]) -> PushReport:
    """One report for a push to every reviewer's project: task counts summed, each project named."""
    first = reports[0]
    summed = {k: sum(getattr(r, k) for r in reports) for k in ("created", "updated", "unchanged")}
    return first.model_copy(update={**summed, "kind": "reviewers", "withdrawn": sum(r.withdrawn for r in reports),
                                    "media_removed": sum(r.media_removed for r in reports),
                                    "projects": {k: v for r in reports for k, v in r.projects.items()}})

