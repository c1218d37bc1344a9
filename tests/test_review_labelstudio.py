"""review against a REAL Label Studio (started once per session on 127.0.0.1:18089 from $MMRAKIT_LABEL_STUDIO_BIN).

Push, idempotent re-push, K reviewers annotating with their own tokens, incremental pull, agreement
against hand-computed values, adjudication, a server stopped mid-pull, wrong token, local files
served exactly (pushed images only, withdrawn with their last task), the CLI, and a headless-Chromium screenshot of the labelling page.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import posixpath
import shlex
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import httpx
import pytest

from mmrakit.errors import ConfigError
from mmrakit.models import Candidate, ImageRecord
from mmrakit.records import CandidateStore, ImageCatalog
from mmrakit.review import (LabelStudioAuthError, LabelStudioClient, LabelStudioError, adjudicate, connection,
                            create_reviewers, pull, push, review_status, reviewer_client, serve, stop)
from support import review_sample as sample
from mmrakit.review.push import ADJUDICATION, MAIN
from mmrakit.review.media import MediaFolder
from mmrakit.review.server import Connection, data_dir, label_studio_bin
from mmrakit.review.store import ReviewStore
from mmrakit.review.users import load_credentials
from mmrakit.settings import ReviewSettings
from mmrakit.workspace import Workspace

pytestmark = pytest.mark.labelstudio

from conftest import LS, LS_PORT, REVIEWERS, SENIOR, skip_or_fail  # noqa: E402,F401  (fixtures `ls`, `reviewers` live in conftest)

REPO = Path(__file__).resolve().parents[1]


def _task_ids(ws: Workspace, ls: LS, kind: str = MAIN) -> dict[str, int]:
    store = ReviewStore(ws)
    pid = store.project_id(ls.conn.url, kind)
    return {cid: tid for cid, (tid, _) in store.tasks(ls.conn.url, pid).items()}


def test_push_is_idempotent_and_updates_changed_candidates(ls):
    ws = ls.workspace("push", isolation="shared")
    cands = sample.seed(ws, ws.root / "pool", 6, builder_version="b1")
    ticks: list[tuple[str, int, int]] = []
    first = push(ws, ls.conn, progress=lambda task, d, t: ticks.append((task, d, t)))
    assert (first.created, first.updated, first.unchanged) == (6, 0, 0)
    assert ticks[0] == ("review: push (main)", 0, 6) and ticks[-1] == ("review: push (main)", 6, 6), ticks
    ticks.clear()
    again = push(ws, ls.conn, progress=lambda task, d, t: ticks.append((task, d, t)))
    assert ticks == [("review: push (main)", 0, 0)]  # nothing to send: a bar of nothing, not a missing one
    assert (again.created, again.updated, again.unchanged, again.project_id) == (0, 0, 6, first.project_id)
    with ls.admin() as admin:
        project = admin.project(first.project_id)
        assert project["task_number"] == 6 and project["maximum_annotations"] == 3
        # a changed proposal updates the task's data and replaces its prediction
        changed = cands[0].model_copy(update={"answer": "C", "builder_version": "b2"})
        CandidateStore(ws).upsert([changed])
        upd = push(ws, ls.conn)
        assert (upd.created, upd.updated, upd.unchanged) == (0, 1, 5)
        tid = _task_ids(ws, ls)[changed.id]
        assert admin.task(tid)["data"]["proposed_answer"] == "C"
        preds = admin.predictions(tid)
        assert [(p["model_version"], p["result"][0]["value"]["choices"]) for p in preds] == [("b2", ["C"])]
        # the local map is lost: the server's task data (candidate id) prevents duplicates
        with ws.db as c:
            c.execute("DELETE FROM review_tasks")
        rebuilt = push(ws, ls.conn)
        assert (rebuilt.created, rebuilt.unchanged) == (0, 6)
        assert admin.project(first.project_id)["task_number"] == 6
    assert ws.runs.latest("review.push")["status"] == "done"
    assert {r["review_status"] for r in CandidateStore(ws).rows()} == {"pending"}


# c0..c3 from sample.make_candidates: c0, c2 Choice QA (proposed B, UsageSimilarity), c1, c3 yes/no (proposed Yes, Environment)
PLAN = {  # candidate index -> [(verdict, answer, reasons, corrected question)] of reviewer1..3
    0: [("accept", None, (), None), ("accept", None, (), None), ("accept", None, (), None)],
    1: [("accept", None, (), None), ("reject", None, ("ambiguous",), None), ("correct", "No", (), None)],
    2: [("reject", None, ("wrong_answer",), None), ("reject", None, ("duplicate",), None), ("accept", None, (), None)],
    3: [("correct", "No", (), "Fixed?"), ("correct", "No", (), "Fixed?"), ("accept", None, (), None)],
}


def test_k_reviewers_agreement_consensus_and_adjudication(ls, reviewers):
    ws = ls.workspace("agree", isolation="shared")
    cands = sample.seed(ws, ws.root / "pool", 4)
    rep = push(ws, ls.conn, reviewers=3)
    tids = _task_ids(ws, ls)
    clients = {e: reviewer_client(ls.ws, ls.conn, e) for e in REVIEWERS}
    ann_ids: dict[tuple[int, str], int] = {}
    with ls.admin() as admin:
        for i, plan in PLAN.items():
            tid = tids[cands[i].id]
            for n, (email, (verdict, answer, reasons, q)) in enumerate(zip(REVIEWERS, plan), 1):
                ann = clients[email].create_annotation(tid, sample.annotation_result(verdict, answer, reasons, q))
                assert ann["completed_by"] == reviewers[email]  # each annotation is by a different person
                ann_ids[(i, email)] = ann["id"]
                assert admin.task(tid)["is_labeled"] == (n == 3)  # maximum_annotations = K is honoured
        assert admin.project(rep.project_id)["maximum_annotations"] == 3

    main = pull(ws, ls.conn)[0]
    assert (main.tasks_fetched, main.verdicts_written, main.candidates_updated) == (4, 12, 4)
    rows = {r["id"]: r for r in CandidateStore(ws).rows()}
    got = [(rows[c.id]["review_status"], rows[c.id]["review_answer"], rows[c.id]["review_question"]) for c in cands]
    assert got == [("validated", "B", None), ("conflict", None, None), ("rejected", None, None),
                   ("validated", "No", "Fixed?")]
    assert rows[cands[0].id]["review_agreement"] == pytest.approx(1.0)
    assert rows[cands[2].id]["review_agreement"] == pytest.approx(2 / 3)
    verdicts = ReviewStore(ws).verdicts()
    assert sorted(v.reasons[0] for v in verdicts if v.reasons) == ["ambiguous", "duplicate", "wrong_answer"]
    assert {v.reviewer for v in verdicts} == set(REVIEWERS)

    # Agreement, by hand. Labels per item: [B,B,B] [Yes,R,No] [R,R,B] [No,No,Yes]
    # Fleiss: P_i = 1, 0, 1/3, 1/3 -> P̄ = 5/12; totals B4 Yes2 R3 No3 -> P_e = 38/144; kappa = 11/53
    # Krippendorff (nominal): off-diagonal coincidences 7 of 12 -> D_o = 7/12; D_e = (144-38)/132; alpha = 29/106
    # Cohen: r1=[B,Yes,R,No] r2=[B,R,R,No] r3=[B,No,B,Yes] -> (r1,r2) 2/3, (r1,r3) 0, (r2,r3) 1/13
    # Generator (B,Yes,B,Yes) vs 12 verdicts: 6 agree -> 0.5; kappa = (1/2 - 1/4) / (3/4) = 1/3
    # UsageSimilarity alone ([B,B,B], [R,R,B]): P̄ = 2/3, P_e = 20/36 -> kappa = 1/4
    st = review_status(ws)
    agr = st.agreement
    assert agr.overall.fleiss_kappa == pytest.approx(11 / 53)
    assert agr.overall.krippendorff_alpha == pytest.approx(29 / 106)
    assert agr.overall.generator_accept_rate == pytest.approx(0.5)
    assert agr.overall.generator_kappa == pytest.approx(1 / 3)
    assert agr.per_subtask["UsageSimilarity"].fleiss_kappa == pytest.approx(1 / 4)
    pairs = {p.reviewers: p.cohen_kappa for p in agr.pairs}
    assert pairs[(REVIEWERS[0], REVIEWERS[1])] == pytest.approx(2 / 3)
    assert pairs[(REVIEWERS[0], REVIEWERS[2])] == pytest.approx(0.0)
    assert pairs[(REVIEWERS[1], REVIEWERS[2])] == pytest.approx(1 / 13)
    assert (st.totals.validated, st.totals.rejected, st.totals.conflict, st.totals.verdicts) == (2, 1, 1, 12)

    # Re-running changes nothing; an edited annotation is the only thing the next pull fetches.
    again = pull(ws, ls.conn)[0]
    assert (again.tasks_fetched, again.verdicts_written, again.candidates_updated) == (0, 0, 0)
    clients[REVIEWERS[2]].request("PATCH", f"/api/annotations/{ann_ids[(2, REVIEWERS[2])]}/",
                                  json={"result": sample.annotation_result("reject", reasons=("unsafe",))})
    inc = pull(ws, ls.conn)[0]
    assert (inc.tasks_fetched, inc.verdicts_written) == (1, 1)
    verdicts = ReviewStore(ws).verdicts()
    assert len(verdicts) == 12
    edited = [(v.choice, v.reasons) for v in verdicts if v.candidate_id == cands[2].id and v.reviewer == REVIEWERS[2]]
    assert edited == [("reject", ["unsafe"])]  # the edit replaced reviewer3's accept, reason kept
    row2 = next(r for r in CandidateStore(ws).rows() if r["id"] == cands[2].id)
    assert (row2["review_status"], row2["review_agreement"]) == ("rejected", pytest.approx(1.0))

    # Adjudication: the conflict goes to its own project; the senior's single verdict is final.
    adj = adjudicate(ws, ls.conn)
    assert (adj.created, adj.kind) == (1, ADJUDICATION) and adj.project_id != rep.project_id
    with ls.admin() as admin:
        assert admin.project(adj.project_id)["maximum_annotations"] == 1
    adj_tid = _task_ids(ws, ls, ADJUDICATION)[cands[1].id]
    with reviewer_client(ls.ws, ls.conn, SENIOR) as senior:
        senior.create_annotation(adj_tid, sample.annotation_result("correct", "No"))
    reports = {r.kind: r for r in pull(ws, ls.conn)}
    assert reports[ADJUDICATION].verdicts_written == 1
    row1 = next(r for r in CandidateStore(ws).rows() if r["id"] == cands[1].id)
    assert (row1["review_status"], row1["review_answer"]) == ("validated", "No")
    assert review_status(ws).totals.conflict == 0
    assert ws.runs.latest("review.pull")["status"] == "done"
    for c in clients.values():
        c.close()


def test_pull_interrupted_by_server_stop_resumes_without_double_counting(ls):
    ws = ls.workspace("fault", isolation="shared", reviewers=1, min_accept=1, batch_size=4, max_retries=1, backoff_s=0.2)
    cands = sample.seed(ws, ws.root / "pool", 12)
    push(ws, ls.conn)
    tids = _task_ids(ws, ls)
    with ls.admin() as admin:
        for c in cands:
            admin.create_annotation(tids[c.id], sample.annotation_result("accept"))

    def stop_after_first_page(page: int) -> None:
        if page == 1:
            stop(ls.ws)

    with pytest.raises(LabelStudioError, match="did not answer") as err:
        pull(ws, ls.conn, on_page=stop_after_first_page)
    assert ls.conn.token not in str(err.value)
    partial = ReviewStore(ws).verdicts()
    assert len(partial) == 4  # the first page was stored before the server went away
    assert ws.runs.latest("review.pull", status=None)["status"] == "failed"

    serve(ls.ws, port=LS_PORT)
    resumed = pull(ws, ls.conn)[0]
    verdicts = ReviewStore(ws).verdicts()
    assert len(verdicts) == 12 and len({v.annotation_id for v in verdicts}) == 12
    assert resumed.verdicts_written == 8  # nothing counted twice
    assert {r["review_status"] for r in CandidateStore(ws).rows()} == {"validated"}

    # The same project pulled through the JSON-export route (used when many tasks changed) agrees exactly.
    twin = ls.workspace("fault-export", isolation="shared", reviewers=1, min_accept=1, export_above=0)
    sample.seed(twin, ws.root / "pool", 12)
    ReviewStore(twin).set_project(ls.conn.url, MAIN, ReviewStore(ws).project_id(ls.conn.url, MAIN))
    full = pull(twin, ls.conn)[0]
    assert (full.tasks_fetched, full.verdicts_written) == (12, 12)
    key = lambda vs: sorted((v.annotation_id, v.candidate_id, v.reviewer, v.choice, v.answer) for v in vs)  # noqa: E731
    assert key(ReviewStore(twin).verdicts()) == key(verdicts)
    assert pull(twin, ls.conn)[0].tasks_fetched == 0  # its cursor is set: nothing new


def test_wrong_token_is_a_clear_error_without_the_token(ls):
    bad = "wrong-token-0123456789abcdef"
    with LabelStudioClient(ls.conn.url, bad, token_source="$LABEL_STUDIO_API_KEY") as client:
        with pytest.raises(LabelStudioAuthError) as err:
            client.whoami()
    assert "$LABEL_STUDIO_API_KEY" in str(err.value) and "HTTP 401" in str(err.value)
    assert bad not in str(err.value)


def _get(ls: LS, token: str, raw_query: str) -> httpx.Response:
    """GET /data/local-files/?d=... with the query sent exactly as written (no re-encoding)."""
    return httpx.get(ls.conn.url + "/data/local-files/?d=" + raw_query, headers={"Authorization": f"Token {token}"})


def _demo_records(n: int) -> list[ImageRecord]:
    from PIL import Image

    out = []
    for path in sorted((REPO / "demo" / "images").glob("*.jpg"))[:n]:
        with Image.open(path) as im:
            w, h = im.size
        out.append(ImageRecord(sha256=hashlib.sha256(path.read_bytes()).hexdigest(), width=w, height=h,
                               format="JPEG", path=str(path), source="demo"))
    return out


def test_reviewers_read_exactly_the_pushed_images(ls, reviewers, tmp_path):
    """Images from two distant folders (the repository's demo photos, an imported folder elsewhere) with a
    secret beside them: every pushed image is served, nothing else is, for a reviewer and for the admin."""
    ws = ls.workspace("bounds", isolation="shared")
    demo = _demo_records(3)
    ImageCatalog(ws).upsert(demo)
    imports = tmp_path / "elsewhere" / "imported"
    imported = sample.make_images(ws, imports, 3, tag="bounds")
    secret = imports / "secret.txt"
    secret.write_text("SECRET-do-not-serve")
    os.symlink(secret, imports / "looks-like.png")  # a symlink beside the images
    cands = sample.make_candidates([demo[0].sha256, imported[0], demo[1].sha256, imported[1]], 2)
    CandidateStore(ws).upsert(cands)
    rep = push(ws, ls.conn)
    assert rep.created == 2
    media = MediaFolder(ls.media)
    # a symlink planted in the served folder (it would be followed) is removed by the next push
    planted = media.images / ("f" * 64 + ".png")
    os.symlink(secret, planted)
    assert push(ws, ls.conn).unchanged == 2 and not os.path.lexists(planted)

    with ls.admin() as admin:
        urls = [admin.task(tid)["data"][k] for tid in _task_ids(ws, ls).values() for k in ("image1", "image2")]
    catalog = ImageCatalog(ws)
    pushed = {demo[0].sha256, imported[0], demo[1].sha256, imported[1]}
    assert {u.split("?d=images/")[1].split(".")[0] for u in urls} == pushed
    assert all(u.startswith("/data/local-files/?d=images/") and str(tmp_path) not in u and str(REPO) not in u
               for u in urls)  # no absolute path of the machine in task data

    def rel(p: Path, start: Path = ls.media) -> str:
        return os.path.relpath(p, start)

    unpushed = catalog.get(imported[2])
    readme = REPO / "README.md"
    db = data_dir(ls.ws) / "label_studio.sqlite3"
    forbidden = {
        "secret, absolute": str(secret),
        "secret, ..": rel(secret),
        "secret, images/..": "images/" + rel(secret, media.images),
        "secret, %2e%2e": rel(secret).replace("..", "%2e%2e").replace("/", "%2f"),
        "secret, %252e%252e": rel(secret).replace("..", "%252e%252e"),
        "secret, //": "//" + str(secret),
        "secret via symlink beside it, absolute": str(imports / "looks-like.png"),
        "secret via symlink beside it, ..": rel(imports / "looks-like.png"),
        "planted symlink": "images/" + planted.name,
        "README, absolute": str(readme),
        "README, ..": rel(readme),
        "README, %2e%2e": rel(readme).replace("..", "%2e%2e"),
        "pyproject, images/..": "images/" + rel(REPO / "pyproject.toml", media.images),
        "unpushed image, media name": f"images/{unpushed.sha256}.png",
        "unpushed image, absolute": unpushed.path,
        "unpushed image, ..": rel(Path(unpushed.path)),
        "unpushed demo photo, absolute": str(REPO / "demo" / "images" / Path(demo[2].path).name),
        "Label Studio database (tokens), ..": rel(db),
        "media marker": ".mmrakit-media",
        "media lock": ".lock",
        "media folder": "images/",
        "document root": ".",
        "/etc/passwd": "/etc/passwd",
    }
    served = {}
    for who, token in (("reviewer", load_credentials(ls.ws)[REVIEWERS[0]]["token"]), ("admin", ls.conn.token)):
        for u in urls:
            ok = _get(ls, token, u.split("?d=", 1)[1])
            sha = u.split("?d=images/")[1].split(".")[0]
            assert ok.status_code == 200, (who, u)
            assert ok.content == catalog.file_path(catalog.get(sha)).read_bytes()
        for name, query in forbidden.items():
            r = _get(ls, token, query)
            served[(who, name)] = r.status_code
            # Inside the root: 404 (no storage covers it, or no such file). Climbing out of it: Label Studio's
            # safe_join raises SuspiciousFileOperation, which this Label Studio answers with a 500 (logged).
            climbs = posixpath.normpath(unquote(query)).lstrip("/").startswith("..")
            assert r.status_code in ((400, 403, 404, 500) if climbs else (403, 404)), (who, name, query, r.status_code)
            assert b"SECRET" not in r.content and b"mmrakit" not in r.content, (who, name)
    # the same bounds for a reviewer's browser session (cookie login, as the labelling page loads images)
    email, password = REVIEWERS[0], load_credentials(ls.ws)[REVIEWERS[0]]["password"]
    with httpx.Client(base_url=ls.conn.url, follow_redirects=True) as browser:
        browser.get("/user/login/")
        browser.post("/user/login/", data={"email": email, "password": password,
                                           "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
                     headers={"Referer": ls.conn.url + "/user/login/"})
        assert "sessionid" in browser.cookies
        for u in urls:
            r = browser.get(u)
            assert r.status_code == 200 and r.headers["content-type"].startswith("image/"), u
        for name in ("secret, absolute", "README, absolute", "unpushed image, media name", "media marker"):
            r = browser.get("/data/local-files/?d=" + forbidden[name])
            assert r.status_code == 404 and b"SECRET" not in r.content, (name, r.status_code)
    print("refused:", sorted(set(served.values())))
    assert set(os.listdir(media.images)) >= {f"{x}.png" for x in imported[:2]} | {f"{d.sha256}.jpg" for d in demo[:2]}
    assert not any(n.startswith(imported[2]) or n.startswith(demo[2].sha256) for n in os.listdir(media.images))
    assert not any(os.path.islink(media.images / n) for n in os.listdir(media.images))


def test_shared_image_survives_the_rejection_of_one_candidate(ls, reviewers, tmp_path):
    ws = ls.workspace("shared", isolation="shared", reviewers=1, min_accept=1)
    s0, s1, s2 = sample.make_images(ws, tmp_path / "pool", 3, tag="shared")
    rejected, kept = sample.make_candidates([s0, s1, s0, s2], 2)  # s0 is in both
    CandidateStore(ws).upsert([rejected, kept])
    push(ws, ls.conn)
    tids = _task_ids(ws, ls)
    media = MediaFolder(ls.media)
    token = load_credentials(ls.ws)[REVIEWERS[0]]["token"]
    assert {n.split(".")[0] for n in os.listdir(media.images)} >= {s0, s1, s2}
    with reviewer_client(ls.ws, ls.conn, REVIEWERS[0]) as rc:
        rc.create_annotation(tids[rejected.id], sample.annotation_result("reject", reasons=("unsafe",)))
    pull(ws, ls.conn)
    assert CandidateStore(ws).rows(review_status="rejected")[0]["id"] == rejected.id

    rep = push(ws, ls.conn)  # withdraws the rejected task's images; s1 is in no task any more
    assert (rep.created, rep.updated, rep.unchanged, rep.withdrawn, rep.media_removed) == (0, 0, 1, 1, 1)
    with ls.admin() as admin:
        gone = admin.task(tids[rejected.id])
        assert (gone["data"]["image1"], gone["data"]["image2"]) == ("", "")
        assert gone["data"]["candidate_id"] == rejected.id and len(gone["annotations"]) == 1  # the record stays
        live = admin.task(tids[kept.id])["data"]
    assert _get(ls, token, f"images/{s1}.png").status_code == 404 and not (media.images / f"{s1}.png").exists()
    for u in (live["image1"], live["image2"]):  # s0 (shared) and s2 are still served for the other candidate
        assert _get(ls, token, u.split("?d=", 1)[1]).status_code == 200
    names = sorted(os.listdir(media.images))

    again = push(ws, ls.conn)  # re-push changes nothing
    assert (again.created, again.updated, again.unchanged, again.withdrawn, again.media_removed) == (0, 0, 1, 0, 0)
    assert sorted(os.listdir(media.images)) == names
    with ls.admin() as admin:
        assert admin.task(tids[rejected.id])["data"]["image1"] == ""
    assert pull(ws, ls.conn)[0].verdicts_written == 0  # the withdrawal changed no verdict
    assert CandidateStore(ws).rows(review_status="rejected")[0]["id"] == rejected.id
    # a file no task shows (e.g. left by a push that failed half-way) goes on the next push
    leftover = media.images / ("e" * 64 + ".png")
    leftover.write_bytes((media.images / f"{s0}.png").read_bytes())
    assert push(ws, ls.conn).media_removed == 1 and not leftover.exists()
    assert sorted(os.listdir(media.images)) == names


def test_push_upgrades_what_an_older_version_pushed(ls):
    """Tasks with URLs relative to an older, wider root and the storages made for it: one push fixes both."""
    ws = ls.workspace("legacy", isolation="shared")
    cand = sample.seed(ws, ws.root / "pool", 1)[0]
    rep = push(ws, ls.conn)
    tid = _task_ids(ws, ls)[cand.id]
    legacy = ls.media / "pool"  # as an older mmrakit made them: one storage per first-level folder
    legacy.mkdir()
    try:
        with ls.admin() as admin:
            admin.create_local_storage(rep.project_id, str(legacy), title="mmrakit images: pool")
            data = admin.task(tid)["data"]
            admin.update_task(tid, {**data, "image1": "/data/local-files/?d=pool/img00000.png", "content_hash": "old"})
            ReviewStore(ws).record_tasks(ls.conn.url, rep.project_id, [(cand.id, tid, "old")])
            again = push(ws, ls.conn)
            assert (again.created, again.updated) == (0, 1)
            assert admin.task(tid)["data"]["image1"] == f"/data/local-files/?d=images/{cand.image1}.png"
            assert [st["path"] for st in admin.local_storages(rep.project_id)] == [str(ls.media / "images")]
    finally:
        legacy.rmdir()


def test_serve_refuses_other_roots_and_push_refuses_a_wide_storage(ls, tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="serves only the workspace's review media folder") as err:
        serve(ls.ws, port=LS_PORT, files_root=tmp_path)
    assert "--files-root" in err.value.message
    other = ls.workspace("other-root", files_root=str(tmp_path))
    with pytest.raises(ConfigError, match=r"\[review\] files_root is"):
        serve(other, port=LS_PORT + 1)
    assert not data_dir(other).exists()  # refused before anything started
    # the data dir holds every user's token: owner only
    assert oct(os.stat(data_dir(ls.ws)).st_mode & 0o777) == "0o700"
    assert oct(os.stat(data_dir(ls.ws) / "label_studio.sqlite3").st_mode & 0o777) == "0o600"
    assert not [p.name for p in data_dir(ls.ws).iterdir() if p.is_file() and p.stat().st_mode & 0o077]

    # a server the user runs: a files_root that holds more than review images is refused before any call
    dataset = tmp_path / "dataset"
    ws = ls.workspace("wide", url=ls.conn.url, token_env="MMRAKIT_TEST_LS_TOKEN", files_root=str(dataset))
    sample.seed(ws, dataset / "pool", 1)
    (dataset / "annotations.json").write_text("{}")
    monkeypatch.setenv("MMRAKIT_TEST_LS_TOKEN", ls.conn.token)
    with pytest.raises(ConfigError, match="not an mmrakit review media folder") as err:
        push(ws, connection(ws))
    assert "LOCAL_FILES_DOCUMENT_ROOT" in err.value.hint
    assert ReviewStore(ws).project_id(ls.conn.url, MAIN) is None and sorted(os.listdir(dataset)) == ["annotations.json", "pool"]
    # an empty files_root that is not the server's document root: Label Studio refuses the storage, we say what to set
    elsewhere = tmp_path / "not-the-servers-root"
    ws.settings.review.files_root = str(elsewhere)
    ws.save_settings()
    with pytest.raises(ConfigError, match="refused a local storage over the review media folder") as err:
        push(ws, connection(ws))
    assert f"LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT={elsewhere}" in err.value.hint


def test_cli_push_and_status_json(ls, monkeypatch):
    from typer.testing import CliRunner

    from mmrakit.cli.main import app

    ws = ls.workspace("cli", url=ls.conn.url, token_env="MMRAKIT_TEST_LS_TOKEN", files_root=str(ls.media))
    sample.seed(ws, ws.root / "pool", 3)
    monkeypatch.setenv("MMRAKIT_TEST_LS_TOKEN", ls.conn.token)
    runner = CliRunner()
    out = runner.invoke(app, ["review", "push", "-w", str(ws.root), "--json"])
    assert out.exit_code == 0, out.output
    pushed = json.loads(out.output)  # the default isolation: one project per reviewer, 3 tasks in each
    assert (pushed["created"], len(pushed["projects"])) == (9, 3) and ls.conn.token not in out.output
    out = runner.invoke(app, ["review", "status", "-w", str(ws.root), "--json"])
    assert out.exit_code == 0, out.output
    status = json.loads(out.output)
    assert (status["totals"]["candidates"], status["totals"]["pending"]) == (3, 3)
    monkeypatch.setenv("MMRAKIT_TEST_LS_TOKEN", "not-the-token-123456")
    out = runner.invoke(app, ["review", "pull", "-w", str(ws.root), "--json"])
    assert out.exit_code != 0 and "not-the-token-123456" not in out.output


# --- real browser ------------------------------------------------------------------------------------

class Chromium:
    """Headless Chromium driven over --remote-debugging-pipe (CDP as NUL-separated JSON on fds 3/4)."""

    def __init__(self, exe: str, profile: str) -> None:
        r_cmd, w_cmd = os.pipe()
        r_evt, w_evt = os.pipe()
        args = [exe, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1440,1000", "about:blank"]
        self.proc = subprocess.Popen(["bash", "-c", f"exec {shlex.join(args)} 3<&{r_cmd} 4>&{w_evt}"],
                                     pass_fds=(r_cmd, w_evt), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        os.close(r_cmd)
        os.close(w_evt)
        self.w, self.r, self.n, self.buf = w_cmd, r_evt, 0, b""

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.n += 1
        msg = {"id": self.n, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        while True:
            while b"\0" not in self.buf:
                chunk = os.read(self.r, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed the debugging pipe")
                self.buf += chunk
            raw, self.buf = self.buf.split(b"\0", 1)
            reply = json.loads(raw)
            if reply.get("id") == self.n:
                if "error" in reply:
                    raise RuntimeError(reply["error"])
                return reply.get("result", {})

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)
        os.close(self.w)
        os.close(self.r)


def test_browser_shows_both_images(ls, reviewers, tmp_path):
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        skip_or_fail("needs Debian's chromium for the real-browser check (apt-get install -y chromium)")
    ws = ls.workspace("browser", isolation="shared")
    cands = sample.seed(ws, ws.root / "pool", 2)
    rep = push(ws, ls.conn)
    tid = _task_ids(ws, ls)[cands[0].id]
    email, password = REVIEWERS[0], load_credentials(ls.ws)[REVIEWERS[0]]["password"]
    with httpx.Client(base_url=ls.conn.url, follow_redirects=True) as s:  # a reviewer's browser session
        s.get("/user/login/")
        s.post("/user/login/", data={"email": email, "password": password, "csrfmiddlewaretoken": s.cookies["csrftoken"]},
               headers={"Referer": ls.conn.url + "/user/login/"})
        cookies = dict(s.cookies)
    assert "sessionid" in cookies
    browser = Chromium(exe, tempfile.mkdtemp(dir=tmp_path))
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        sid = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for name, value in cookies.items():
            browser.call("Network.setCookie", {"name": name, "value": value, "domain": "127.0.0.1", "path": "/"}, sid)
        browser.call("Page.navigate", {"url": f"{ls.conn.url}/projects/{rep.project_id}/data?task={tid}"}, sid)
        probe = ("JSON.stringify({imgs: Array.from(document.querySelectorAll('img'))"
                 ".filter(i => i.src.includes('local-files')).map(i => [i.src, i.complete && i.naturalWidth]),"
                 " text: document.body.innerText})")
        state: dict = {}
        for _ in range(90):
            time.sleep(1)
            state = json.loads(browser.call("Runtime.evaluate", {"expression": probe, "returnByValue": True}, sid)
                               ["result"].get("value") or "{}")
            text = state.get("text", "")
            if "Image 1" in text and "Image 2" in text and len({s for s, w in state["imgs"] if w}) >= 2:
                break
        time.sleep(1)
        shot = base64.b64decode(browser.call("Page.captureScreenshot", {"format": "png"}, sid)["data"])
    finally:
        browser.close()
    loaded = {src.split("?d=")[-1] for src, width in state.get("imgs", []) if width == 96}
    assert {f"images/{cands[0].image1}.png", f"images/{cands[0].image2}.png"} <= loaded, state.get("imgs")
    assert cands[0].question in state["text"] and "Verdict" in state["text"]
    (tmp_path / "review-screen.png").write_bytes(shot)
    assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 20_000
    if os.environ.get("MMRAKIT_SAVE_SCREENSHOT"):
        (REPO / "docs" / "img").mkdir(parents=True, exist_ok=True)
        (REPO / "docs" / "img" / "review-screen.png").write_bytes(shot)


# --- independent reviewers, visible votes -------------------------------------------------------------

def test_reviewers_work_apart_adjudicator_sees_votes_and_export_keeps_them(ls, reviewers, tmp_path):
    """isolation = "project" (the default): three reviewers, each in a project of their own, never see each
    other's annotations where they label; the adjudicator sees the votes; the export keeps them, pseudonymous."""
    from mmrakit.exports.export import VOTES_FILE, run_export
    from mmrakit.review.config import judging_guide
    from mmrakit.review.push import reviewer_kind

    ws = ls.workspace("apart")
    assert ws.settings.review.isolation == "project"
    cands = sample.seed(ws, ws.root / "pool", 4)
    rep = push(ws, ls.conn)
    store = ReviewStore(ws)
    pids = {e: store.project_id(ls.conn.url, reviewer_kind(e)) for e in REVIEWERS}
    assert rep.projects == {reviewer_kind(e): pids[e] for e in REVIEWERS} and len(set(pids.values())) == 3
    assert (rep.created, rep.unchanged) == (12, 0)
    assert (push(ws, ls.conn).created, push(ws, ls.conn).unchanged) == (0, 12)  # idempotent
    tids = {e: {cid: tid for cid, (tid, _) in store.tasks(ls.conn.url, pids[e]).items()} for e in REVIEWERS}
    clients = {e: reviewer_client(ls.ws, ls.conn, e) for e in REVIEWERS}
    with ls.admin() as admin:
        for e in REVIEWERS:
            p = admin.project(pids[e])
            # one annotation per task; the judging guide is the project's instructions, shown before labelling
            assert (p["task_number"], p["maximum_annotations"], p["show_instruction"]) == (4, 1, True)
            assert p["expert_instruction"] == judging_guide() and "answerable" in p["expert_instruction"].lower()
            assert e not in p["title"] and e.split("@")[0] not in p["title"]  # every member sees the titles

    # reviewer1 labels everything first; then reviewer2's stream (their next task) carries none of it
    for i, plan in PLAN.items():
        clients[REVIEWERS[0]].create_annotation(tids[REVIEWERS[0]][cands[i].id], sample.annotation_result(*plan[0]))
    nxt = clients[REVIEWERS[1]].request("GET", f"/api/projects/{pids[REVIEWERS[1]]}/next")
    assert nxt["id"] in tids[REVIEWERS[1]].values() and not nxt.get("annotations")
    for e, n in ((REVIEWERS[1], 1), (REVIEWERS[2], 2)):
        for i, plan in PLAN.items():
            clients[e].create_annotation(tids[e][cands[i].id], sample.annotation_result(*plan[n]))

    for e in REVIEWERS:
        me = reviewers[e]
        # where a reviewer works: their project's tasks, the data manager, the task pages and the export
        page = clients[e].tasks_page(pids[e], page_size=100)
        assert len(page["tasks"]) == 4
        seen = {a["completed_by"] if not isinstance(a["completed_by"], dict) else a["completed_by"]["id"]
                for t in page["tasks"] for a in t.get("annotations") or []}
        assert seen == {me}
        for tid in tids[e].values():
            anns = clients[e].request("GET", f"/api/tasks/{tid}/annotations/")
            assert [a["completed_by"] for a in anns] == [me]
        assert {a["completed_by"] for t in clients[e].export_json(pids[e]) for a in t["annotations"]} == {me}
    # ...and what Label Studio Community still exposes to any member through the API (documented):
    other = pids[REVIEWERS[0]]
    assert other in {p["id"] for p in clients[REVIEWERS[1]].projects()}
    peek = clients[REVIEWERS[1]].request("GET", f"/api/tasks/{tids[REVIEWERS[0]][cands[0].id]}/annotations/")
    assert [a["completed_by"] for a in peek] == [reviewers[REVIEWERS[0]]]
    assert REVIEWERS[0] in {u["email"] for u in clients[REVIEWERS[1]].users()}  # members' emails are listed

    # pull: three projects, one verdict table; the same consensus as one shared project
    reports = pull(ws, ls.conn)
    assert sum(r.verdicts_written for r in reports) == 12
    assert sorted(r.kind for r in reports if r.tasks_fetched) == sorted(reviewer_kind(e) for e in REVIEWERS)
    rows = {r["id"]: r for r in CandidateStore(ws).rows()}
    assert [rows[c.id]["review_status"] for c in cands] == ["validated", "conflict", "rejected", "validated"]
    assert sum(r.tasks_fetched for r in pull(ws, ls.conn)) == 0  # incremental: nothing new, nothing fetched
    assert review_status(ws).agreement.overall.fleiss_kappa == pytest.approx(11 / 53)

    # adjudication: the task carries the votes and reasons, and the config shows them
    adj = adjudicate(ws, ls.conn)
    assert adj.created == 1
    adj_tid = _task_ids(ws, ls, ADJUDICATION)[cands[1].id]
    with ls.admin() as admin:
        assert "$votes_text" in admin.project(adj.project_id)["label_config"]
        assert admin.project(adj.project_id)["expert_instruction"] == judging_guide()
        data = admin.task(adj_tid)["data"]
    got = sorted((v["verdict"], v["answer"], tuple(v["reasons"])) for v in data["votes"])
    assert got == [("accept", "Yes", ()), ("correct", "No", ()), ("reject", None, ("ambiguous",))]
    ids = {v["reviewer"] for v in data["votes"]}
    assert len(ids) == 3 and all(i.startswith("r-") for i in ids)
    assert "reject (ambiguous)" in data["votes_text"] and "correct -> No" in data["votes_text"]
    assert "@" not in json.dumps(data["votes"]) + data["votes_text"]
    with reviewer_client(ls.ws, ls.conn, SENIOR) as senior:
        senior.create_annotation(adj_tid, sample.annotation_result("correct", "No"))
    pull(ws, ls.conn)
    assert next(r for r in CandidateStore(ws).rows() if r["id"] == cands[1].id)["review_status"] == "validated"

    # the export keeps the raw votes: a votes file and the provenance column, pseudonymous, read through the core
    out = tmp_path / "export"
    run_export(ws, out, formats="parquet", with_provenance=True)
    lines = [json.loads(x) for x in (out / VOTES_FILE).read_text("utf-8").splitlines()]
    exported = {cands[0].id, cands[1].id, cands[3].id}  # c2 was rejected
    assert {x["id"] for x in lines} == exported and len(lines) == 3 * 3 + 1
    by_item = {}
    for x in lines:
        by_item.setdefault(x["id"], {})[(x["reviewer"], x["adjudication"])] = (x["verdict"], x["answer"])
    reviewer_ids = {r for r, adj_ in by_item[cands[0].id]}
    assert len(reviewer_ids) == 3 and ids == reviewer_ids  # the adjudicator saw the ids the export uses
    assert all({r for r, a in v if not a} == reviewer_ids for v in by_item.values())
    assert sorted(by_item[cands[3].id].values()) == [("accept", "Yes"), ("correct", "No"), ("correct", "No")]
    assert [v for (r, a), v in by_item[cands[1].id].items() if a] == [("correct", "No")]
    text = (out / VOTES_FILE).read_text("utf-8")
    for e in [*REVIEWERS, SENIOR]:
        assert e not in text and e.split("@")[0] not in text
    import pyarrow.parquet as pq

    table = pq.read_table(sorted((out / "data").glob("*.parquet"))).to_pylist()
    col = {r["id"]: json.loads(r["votes"]) for r in table}
    assert {cid: len(v) for cid, v in col.items()} == {cands[0].id: 3, cands[1].id: 4, cands[3].id: 3}
    assert "@" not in json.dumps(col)
    card = (out / "README.md").read_text("utf-8")
    assert "votes.jsonl" in card and "Krippendorff" in card
    # by hand: UsageSimilarity exports c0 only ([B,B,B]: one category, alpha undefined); Environment c1 [Yes,R,No]
    # and c3 [No,No,Yes]: pairs agree 0/3 + 1/3 -> 1/6; alpha = 1 - (5/6)/(22/30) = -3/22; all: 4/9, 1 - (5/9)/(58/72) = 9/29
    assert "| UsageSimilarity | 1 | 3 | 1.000 | n/a (one category) |" in card
    assert f"| Environment | 2 | 6 | 0.167 | {-3 / 22:.3f} |" in card
    assert f"| **all** | 3 | 9 | 0.444 | {9 / 29:.3f} |" in card
    for c in clients.values():
        c.close()


# --- annotations produced by the real labelling form --------------------------------------------

FORM_CAPTURE = Path(__file__).parent / "data" / "labelstudio-form-annotations.json"


def _browser_session(ls: LS, email: str, exe: str, profile: str) -> tuple[Chromium, str]:
    password = load_credentials(ls.ws)[email]["password"]
    with httpx.Client(base_url=ls.conn.url, follow_redirects=True) as s:  # a reviewer's browser session
        s.get("/user/login/")
        s.post("/user/login/", data={"email": email, "password": password, "csrfmiddlewaretoken": s.cookies["csrftoken"]},
               headers={"Referer": ls.conn.url + "/user/login/"})
        cookies = dict(s.cookies)
    browser = Chromium(exe, profile)
    target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
    sid = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    for name, value in cookies.items():
        browser.call("Network.setCookie", {"name": name, "value": value, "domain": "127.0.0.1", "path": "/"}, sid)
    return browser, sid


def _js(browser: Chromium, sid: str, expression: str):
    return browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True}, sid)["result"].get("value")


def _click_text(browser: Chromium, sid: str, text: str, selector: str = "label", tries: int = 60) -> None:
    """Click, as a user's mouse does, the element whose visible text is ``text`` (a choice shows its hotkey,
    "reject[8]", "Ambiguous[q]"), waiting for it to appear."""
    expr = (f"(() => {{ const el = Array.from(document.querySelectorAll({json.dumps(selector)}))"
            f".find(e => e.innerText && e.innerText.trim().replace(/\\[[^\\]]+\\]$/, '') === {json.dumps(text)}"
            " && e.offsetParent !== null); if (!el) return null; el.scrollIntoView({block: 'center'});"
            " const r = el.getBoundingClientRect(); return [r.left + Math.min(12, r.width / 2), r.top + r.height / 2]; })()")
    checked = (f"Array.from(document.querySelectorAll({json.dumps(selector)})).some(e => e.innerText && "
               f"e.innerText.trim().replace(/\\[[^\\]]+\\]$/, '') === {json.dumps(text)} && e.querySelector('input:checked'))")
    for _ in range(tries):
        at = _js(browser, sid, expr)
        if at:
            for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
                browser.call("Input.dispatchMouseEvent", {"type": kind, "x": at[0], "y": at[1], "button": "left",
                                                          "clickCount": 1}, sid)
            time.sleep(1.0)
            if selector != "label" or _js(browser, sid, checked):  # a choice: clicked until it shows selected
                return
        time.sleep(0.5)
    near = _js(browser, sid, "document.body.innerText.slice(document.body.innerText.indexOf('Verdict'), 2000)")
    raise AssertionError(f"no visible {selector} {text!r} in the labelling form; the page says: {near}")


def test_real_labelling_form_annotations_parse(ls, reviewers, tmp_path):
    """Reviewers click the real form in Chromium (reject with a reason; accept the pre-selected answer);
    pull parses what the form actually submits. MMRAKIT_CAPTURE_FORM=1 refreshes the committed capture."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        skip_or_fail("needs Debian's chromium for the real-browser check (apt-get install -y chromium)")
    from mmrakit.review.push import reviewer_kind

    ws = ls.workspace("form")  # the default isolation: the reviewer clicks in their own project
    cands = sample.seed(ws, ws.root / "pool", 2)
    rep = push(ws, ls.conn)
    pid = rep.projects[reviewer_kind(REVIEWERS[0])]
    tids = {cid: tid for cid, (tid, _) in ReviewStore(ws).tasks(ls.conn.url, pid).items()}
    browser, sid = _browser_session(ls, REVIEWERS[0], exe, tempfile.mkdtemp(dir=tmp_path))
    plan = [(cands[0], [("label", "reject"), ("label", "Ambiguous")]), (cands[1], [("label", "accept")])]
    try:
        for cand, clicks in plan:
            browser.call("Page.navigate", {"url": f"{ls.conn.url}/projects/{pid}/data?task={tids[cand.id]}"}, sid)
            time.sleep(2)
            for selector, text in clicks:
                _click_text(browser, sid, text, selector)
            _click_text(browser, sid, "Submit", "button")
            for _ in range(60):  # wait until the server has the annotation
                with ls.admin() as admin:
                    if admin.request("GET", f"/api/tasks/{tids[cand.id]}/annotations/"):
                        break
                time.sleep(0.5)
    finally:
        browser.close()
    with ls.admin() as admin:
        captured = {c.id: admin.request("GET", f"/api/tasks/{tids[c.id]}/annotations/")[0]["result"] for c, _ in plan}
    if os.environ.get("MMRAKIT_CAPTURE_FORM"):
        FORM_CAPTURE.write_text(json.dumps({"reject_ambiguous": captured[cands[0].id],
                                            "accept_preselected": captured[cands[1].id]}, indent=1) + "\n")
    pull(ws, ls.conn)
    got = {v.candidate_id: (v.choice, v.answer, v.reasons) for v in ReviewStore(ws).verdicts()}
    assert got == {cands[0].id: ("reject", None, ["ambiguous"]),
                   cands[1].id: ("accept", cands[1].answer, [])}


# --- counterfactual partners: reviewed together, published only whole --------------------------------------------

def test_partners_are_pushed_adjacent_and_a_lone_half_is_not_exported_as_a_pair(ls, reviewers, tmp_path):
    """Partners (one pair_id) land as consecutive tasks in every reviewer's project with the pair_id and the
    form's pair line in their data; re-pushing changes nothing; when one partner is rejected the other is
    exported as an ordinary item (no pair_id), while a pair validated on both sides keeps it."""
    import pyarrow.parquet as pq

    from mmrakit.exports.export import run_export
    from mmrakit.review.config import pair_note
    from mmrakit.review.push import reviewer_kind

    ws = ls.workspace("pairs")
    base = sample.seed(ws, ws.root / "pool", 6)
    shas = [c.image2 for c in base]
    # partners of c1 and c3 (yes/no): same question and first image, another second image, answer flipped
    partners = {}
    for i, other in ((1, shas[4]), (3, shas[5])):
        pid = f"pair-{i}"
        base[i] = base[i].model_copy(update={"pair_id": pid})
        partners[i] = Candidate(task=base[i].task, granularity="image", qa_type=base[i].qa_type,
                                question=base[i].question, answer="No", image1=base[i].image1, image2=other,
                                builder_version=base[i].builder_version, pair_id=pid)
    CandidateStore(ws).upsert([base[1], base[3]])
    CandidateStore(ws).upsert(list(partners.values()))
    cands = [*base, *partners.values()]
    stored = [r["id"] for r in CandidateStore(ws).rows(status="kept")]
    apart = [i for i, p in partners.items() if abs(stored.index(base[i].id) - stored.index(p.id)) > 1]
    assert apart  # at least one pair is not adjacent in the store's order: the push must bring it together

    rep = push(ws, ls.conn)
    assert (rep.created, rep.unchanged) == (3 * 8, 0)
    store = ReviewStore(ws)
    pids = {e: store.project_id(ls.conn.url, reviewer_kind(e)) for e in REVIEWERS}
    before = {}
    with ls.admin() as admin:
        for e in REVIEWERS:
            tasks = sorted(admin.iter_tasks(pids[e], page_size=100), key=lambda t: t["id"])
            order = [t["data"]["candidate_id"] for t in tasks]
            for i, partner in partners.items():
                a, b = order.index(base[i].id), order.index(partner.id)
                assert abs(a - b) == 1 and abs(tasks[a]["id"] - tasks[b]["id"]) == 1  # consecutive in the stream
                assert tasks[a]["data"]["pair_id"] == tasks[b]["data"]["pair_id"] == f"pair-{i}"
                assert tasks[a]["data"]["pair_note"] == pair_note() != ""
            unpaired = [t for t in tasks if t["data"]["candidate_id"] in {base[k].id for k in (0, 2, 4, 5)}]
            assert len(unpaired) == 4 and all(t["data"]["pair_id"] == t["data"]["pair_note"] == "" for t in unpaired)
            assert "$pair_note" in admin.project(pids[e])["label_config"]
            before[e] = [(t["id"], t["data"]["content_hash"]) for t in tasks]
        again = push(ws, ls.conn)
        assert (again.created, again.updated, again.unchanged, again.withdrawn) == (0, 0, 3 * 8, 0)
        for e in REVIEWERS:  # the re-push touched no task
            tasks = sorted(admin.iter_tasks(pids[e], page_size=100), key=lambda t: t["id"])
            assert [(t["id"], t["data"]["content_hash"]) for t in tasks] == before[e]

    # every reviewer accepts everything but the partner of c1, which all three reject
    for e in REVIEWERS:
        tids = {cid: tid for cid, (tid, _) in store.tasks(ls.conn.url, pids[e]).items()}
        with reviewer_client(ls.ws, ls.conn, e) as client:
            for c in cands:
                verdict = ("reject", None, ("wrong_answer",)) if c.id == partners[1].id else ("accept",)
                client.create_annotation(tids[c.id], sample.annotation_result(*verdict))
    pull(ws, ls.conn)
    status = {r["id"]: r["review_status"] for r in CandidateStore(ws).rows()}
    assert (status[base[1].id], status[partners[1].id]) == ("validated", "rejected")
    assert status[base[3].id] == status[partners[3].id] == "validated"

    out = tmp_path / "export"
    run_export(ws, out, formats="parquet", with_provenance=True)
    table = pq.read_table(sorted((out / "data").glob("*.parquet"))).to_pylist()
    got = {r["id"]: r["pair_id"] for r in table}
    assert partners[1].id not in got  # rejected
    assert got[base[1].id] is None  # its validated partner is published alone, not as half a pair
    assert got[base[3].id] == got[partners[3].id] == "pair-3"  # the whole pair keeps its pair_id
    assert sum(1 for v in got.values() if v) == 2
