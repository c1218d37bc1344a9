"""What independent reviewers cost: one project per reviewer on one server vs one small server per reviewer.

1. ``servers``: start K+1 real Label Studio servers one after another (each in its own workspace, fresh
   data dir): wall time to the first answered request, and the resident memory (RSS, the server's
   whole process tree) idle after start. The first server pays the same as every later one: each
   fresh data dir runs its own migrations, which is what one more server per reviewer costs.
2. ``push-pull``: N candidates pushed and pulled (K verdicts each) with ``[review] isolation =
   "shared"`` (one project, K annotations per task: reviewers can open each other's annotations) and
   ``"project"`` (one project per reviewer: K projects, one annotation per task each), on one server;
   and, for one server per reviewer, one project of N pushed to a second server (that is each server's
   share; K of them run side by side or one after another). Annotations are made with the reviewers'
   own tokens, so pull reads real ``completed_by`` users.

Run: ``.venv/bin/python -m benchmarks.bench_review_isolation [servers|push-pull|all] [N]`` (default all, N=300).
Ports 18120.. (set MMRAKIT_BENCH_PORT to move them). Results: benchmarks/results-review.md.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

from mmrakit.review import create_reviewers, pull, push, reviewer_client, serve, stop
from mmrakit.review.server import connection, server_state
from mmrakit.review.store import ReviewStore
from mmrakit.workspace import Workspace
from tests.support import review_sample as sample

PORT = int(os.environ.get("MMRAKIT_BENCH_PORT", "18120"))
K = 3


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def tree_rss_mib(pid: int) -> float:
    p = psutil.Process(pid)
    procs = [p, *p.children(recursive=True)]
    return sum(q.memory_info().rss for q in procs if q.is_running()) / 2**20


def server_ws(base: Path, name: str, port: int) -> Workspace:
    ws = Workspace.init(base / name)
    ws.settings.review.port = port
    ws.settings.review.token_env = "MMRAKIT_BENCH_NO_TOKEN_VAR"
    ws.save_settings()
    return ws


def bench_servers(base: Path, count: int = K + 1) -> list[tuple[float, float]]:
    out, started = [], []
    try:
        for i in range(count):
            ws = server_ws(base, f"srv{i}", PORT + 1 + i)
            t, _ = timed(lambda: serve(ws, port=PORT + 1 + i))
            started.append(ws)
            time.sleep(5)  # let start-up work settle before reading memory
            rss = tree_rss_mib(server_state(ws)["pid"])
            out.append((t, rss))
            print(f"server {i + 1}: start {t:.1f} s, RSS {rss:.0f} MiB (idle, whole process tree)", flush=True)
        total = sum(tree_rss_mib(server_state(ws)["pid"]) for ws in started)
        print(f"{count} servers side by side: {total:.0f} MiB in all", flush=True)
    finally:
        for ws in started:
            stop(ws)
    return out


def _annotate(ws: Workspace, srv: Workspace, conn, emails: list[str]) -> float:
    store = ReviewStore(ws)
    t0 = time.perf_counter()
    for email in emails:
        kind = ws.settings.review.isolation
        pid = store.project_id(conn.url, "main" if kind == "shared" else f"reviewer:{email}")
        with reviewer_client(srv, conn, email) as rc:
            for tid, _ in store.tasks(conn.url, pid).values():
                rc.create_annotation(tid, sample.annotation_result("accept"))
    return time.perf_counter() - t0


def bench_push_pull(base: Path, n: int) -> None:
    srv = server_ws(base, "pp-server", PORT)
    srv2 = server_ws(base, "pp-server2", PORT + 9)
    serve(srv, port=PORT)
    try:
        conn = connection(srv)
        emails = [f"bench{i}@mmrakit.local" for i in range(1, K + 1)]
        create_reviewers(srv, conn, emails, method="invite")
        pool = base / "pool"
        for mode in ("shared", "project"):
            ws = Workspace.init(base / f"ws-{mode}")
            ws.settings.review = ws.settings.review.model_copy(update={"isolation": mode, "reviewer_emails": emails})
            ws.save_settings()
            sample.seed(ws, pool, n)
            tp, rep = timed(lambda: push(ws, conn))
            tr, rep2 = timed(lambda: push(ws, conn))
            assert rep2.created == 0
            ta = _annotate(ws, srv, conn, emails)
            tl, reports = timed(lambda: pull(ws, conn))
            verdicts = sum(r.verdicts_written for r in reports)
            ti, _ = timed(lambda: pull(ws, conn))
            print(f"{mode:8s} N={n}: push {tp:.1f} s, re-push {tr:.1f} s, {K * n} annotations {ta:.1f} s, "
                  f"pull {tl:.1f} s ({verdicts} verdicts), no-op pull {ti:.2f} s", flush=True)
        # one server per reviewer: each server holds one project of N; its push/pull is that server's share
        serve(srv2, port=PORT + 9)
        try:
            conn2 = connection(srv2)
            create_reviewers(srv2, conn2, emails[:1], method="invite")
            ws = Workspace.init(base / "ws-server")
            ws.settings.review = ws.settings.review.model_copy(update={"isolation": "shared", "reviewers": 1,
                                                                       "min_accept": 1, "reviewer_emails": emails[:1]})
            ws.save_settings()
            sample.seed(ws, pool, n)
            tp, _ = timed(lambda: push(ws, conn2))
            ta = _annotate(ws, srv2, conn2, emails[:1])
            tl, reports = timed(lambda: pull(ws, conn2))
            print(f"server   N={n} (one reviewer's server): push {tp:.1f} s, {n} annotations {ta:.1f} s, "
                  f"pull {tl:.1f} s ({sum(r.verdicts_written for r in reports)} verdicts); "
                  f"x{K} servers", flush=True)
        finally:
            stop(srv2)
    finally:
        stop(srv)


def main(what: str = "all", n: int = 300) -> None:
    base = Path(tempfile.mkdtemp(prefix="bench-iso-"))
    print(f"load average at start: {os.getloadavg()}", flush=True)
    if what in ("servers", "all"):
        figures = bench_servers(base)
        print(f"median start {statistics.median(t for t, _ in figures):.1f} s, "
              f"median RSS {statistics.median(r for _, r in figures):.0f} MiB per server", flush=True)
    if what in ("push-pull", "all"):
        bench_push_pull(base, n)
    print(f"load average at end: {os.getloadavg()}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "all", int(sys.argv[2]) if len(sys.argv) > 2 else 300)
