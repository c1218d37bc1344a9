"""review against a real Label Studio, each figure next to Label Studio's own way of doing the same, in one run.

1. `review push` of N candidates vs the SDK's bulk `projects.import_tasks` of the same payload (target <= 1.5x).
2. A full `review pull` of N annotated tasks (3 verdicts each) vs the SDK's JSON export snapshot (target <= 1.5x).
3. An incremental pull after 10 new annotations (target < 1 s).

Run: `.venv/bin/python -m benchmarks.bench_review [N]` (default 2000). It starts its own server on
127.0.0.1:18091 in a temporary directory (about a minute for the first start), or uses
MMRAKIT_BENCH_LS_URL + MMRAKIT_BENCH_LS_TOKEN + MMRAKIT_BENCH_LS_ROOT (its review media folder, the
server's local-files document root).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

from mmrakit.review import pull, push, serve, stop
from tests.support import review_sample as sample
from mmrakit.review.client import LabelStudioClient
from mmrakit.review.config import label_config
from mmrakit.review.push import ImageUrls, task_payload
from mmrakit.review.server import Connection, connection
from mmrakit.review.store import ReviewStore
from mmrakit.workspace import Workspace

PORT = 18091


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main(n: int = 2000) -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-review-"))
    own_server = None
    if os.environ.get("MMRAKIT_BENCH_LS_URL"):
        root = Path(os.environ["MMRAKIT_BENCH_LS_ROOT"])
        conn = Connection(os.environ["MMRAKIT_BENCH_LS_URL"], os.environ["MMRAKIT_BENCH_LS_TOKEN"], "bench", root)
    else:
        own_server = Workspace.init(base / "server-ws")
        own_server.settings.review.token_env = "MMRAKIT_BENCH_NO_TOKEN_VAR"
        own_server.save_settings()
        t, _ = timed(lambda: serve(own_server, port=PORT))
        print(f"server start: {t:.1f} s")
        conn = connection(own_server)
        root = conn.files_root  # the server workspace's media folder: push puts the images there
    work = Path(tempfile.mkdtemp(prefix="bench-review-"))
    from label_studio_sdk import LabelStudio

    sdk = LabelStudio(base_url=conn.url, api_key=conn.token, timeout=600)
    admin = LabelStudioClient(conn.url, conn.token, timeout_s=600)
    rows = []
    try:
        # 1. push vs bulk import of the same payload
        ws = Workspace.init(work / "push" / "ws")
        cands = sample.seed(ws, work / "push" / "pool", n)
        urls = ImageUrls(ws, root)
        payload = [task_payload(c, urls) for c in cands]
        project = sdk.projects.create(title="bench baseline import", label_config=label_config(), maximum_annotations=3)
        t_sdk, resp = timed(lambda: sdk.projects.import_tasks(id=project.id, request=payload, return_task_ids=True))
        assert resp.task_count == n
        t_push, rep = timed(lambda: push(ws, conn))
        assert rep.created == n
        t_repush, rep2 = timed(lambda: push(ws, conn))
        assert rep2.unchanged == n
        rows.append(("push of %d candidates" % n, t_push, "SDK import_tasks, same payload", t_sdk))
        rows.append(("re-push, nothing changed", t_repush, "-", None))

        # 2. full pull of N tasks with 3 annotations each vs a JSON export snapshot
        ws2 = Workspace.init(work / "pull" / "ws")
        cands2 = sample.seed(ws2, work / "pull" / "pool", n)
        urls2 = ImageUrls(ws2, root)
        users = [admin.create_user(f"bench{i}-{os.getpid()}@mmrakit.local")["id"] for i in range(3)]
        project2 = admin.create_project(title="bench pull", label_config=label_config(), maximum_annotations=3)
        tasks = []
        for i, c in enumerate(cands2):
            t = task_payload(c, urls2)
            t["annotations"] = [{"result": sample.annotation_result("accept" if (i + k) % 4 else "reject"),
                                 "completed_by": uid} for k, uid in enumerate(users)]
            tasks.append(t)
        for i in range(0, n, 500):
            admin.import_tasks(project2["id"], tasks[i:i + 500])
        ReviewStore(ws2).set_project(conn.url, "main", project2["id"])
        t_export, exported = timed(lambda: sdk.projects.exports.as_json(project_id=project2["id"], timeout=600))
        assert len(exported) == n
        t_pull, reports = timed(lambda: pull(ws2, conn))
        verdicts = len(ReviewStore(ws2).verdicts())
        assert reports[0].tasks_fetched == n and verdicts == 3 * n, (reports, verdicts)
        rows.append((f"full pull of {n} tasks ({verdicts} verdicts)", t_pull, "SDK exports.as_json snapshot", t_export))

        # 3. incremental pull after 10 new annotations
        t_noop, _ = timed(lambda: pull(ws2, conn))
        rows.append(("pull with nothing new", t_noop, "-", None))
        ids = [t["id"] for t in admin.tasks_page(project2["id"], page_size=10, fields_all=False)["tasks"]]
        extra = admin.create_user(f"bench-extra-{os.getpid()}@mmrakit.local")["id"]
        for tid in ids:
            admin.create_annotation(tid, sample.annotation_result("reject", reasons=("ambiguous",)), completed_by=extra)
        t_inc, reports = timed(lambda: pull(ws2, conn))
        assert reports[0].tasks_fetched == 10 and reports[0].verdicts_written == 10, reports
        rows.append(("incremental pull after 10 new annotations", t_inc, "target", 1.0))
    finally:
        admin.close()
        if own_server is not None:
            stop(own_server)

    print(f"\n| measured (N = {n}) | mmrakit s | compared with | its s | ratio |")
    print("|---|---|---|---|---|")
    for what, ours, other, theirs in rows:
        ratio = f"{ours / theirs:.2f}x" if theirs else "-"
        print(f"| {what} | {ours:.2f} | {other} | {'' if theirs is None else f'{theirs:.2f}'} | {ratio} |")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 2000)
