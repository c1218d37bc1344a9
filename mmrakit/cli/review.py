"""CLI commands of the review stage: a local Label Studio, push/pull, agreement, adjudication, reviewers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from .common import JsonOpt, WorkspaceOpt, console, emit, open_workspace, progress_bar, table

review_app = typer.Typer(name="review", help="Human verification in Label Studio (K reviewers per candidate).",
                         no_args_is_help=True)
users_app = typer.Typer(name="users", help="Reviewer accounts.", no_args_is_help=True)
review_app.add_typer(users_app)

SubtasksOpt = Annotated[list[str] | None, typer.Option("--subtasks", "-s", help="Only these subtasks (repeatable).")]


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


@review_app.command()
def serve(
    workspace: WorkspaceOpt = None,
    port: Annotated[int | None, typer.Option(help="Port (default: \\[review] port).")] = None,
    files_root: Annotated[Path | None, typer.Option(help="Must be the workspace's review media folder (the default and only "
                                                          "document root; anything else is refused).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Start a local Label Studio on 127.0.0.1 serving only the pushed images (admin token never printed)."""
    from ..review import serve as start

    ws = open_workspace(workspace)
    state = start(ws, port=port, files_root=files_root)
    emit({k: state[k] for k in ("url", "pid", "files_root", "data_dir", "log", "already_running")}, json_out,
         lambda d: console.print(f"Label Studio {'already running' if d['already_running'] else 'started'} at "
                                 f"[bold]{d['url']}[/] (pid {d['pid']}); admin {ws.settings.review.admin_email}, "
                                 f"password and token in {d['data_dir']}/mmrakit-secrets.json (mode 0600)"))


@review_app.command()
def stop(workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """Stop the local Label Studio started by `review serve`."""
    from ..review import stop as halt

    stopped = halt(open_workspace(workspace))
    emit({"stopped": stopped}, json_out, lambda d: console.print("stopped" if d["stopped"] else "no server was running"))


@review_app.command()
def push(
    workspace: WorkspaceOpt = None,
    subtasks: SubtasksOpt = None,
    reviewers: Annotated[int | None, typer.Option("--reviewers", "-k", help="Reviewers per task (saved to \\[review] reviewers).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create/update the review project and push kept candidates (idempotent, keyed by candidate id)."""
    from ..review import connection, push as do_push

    ws = open_workspace(workspace)
    with progress_bar(enabled=not json_out) as progress:
        report = do_push(ws, connection(ws), subtasks=subtasks, reviewers=reviewers, progress=progress)
    emit(report, json_out, lambda r: console.print(
        (f"projects {', '.join(map(str, r.projects.values()))} (one per reviewer)" if len(r.projects) > 1
         else f"project {r.project_id}") + f": {r.created} new, {r.updated} updated, {r.unchanged} unchanged ({r.candidates} candidates); "
        f"{r.withdrawn} withdrawn, {r.media_removed} images no longer served"))


@review_app.command()
def pull(workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """Fetch new or changed annotations, store verdicts, apply the consensus rule (incremental, resumable)."""
    from ..review import connection, pull as do_pull

    ws = open_workspace(workspace)
    with progress_bar(enabled=not json_out) as progress:
        reports = do_pull(ws, connection(ws), on_page=(lambda n: progress("review: pages pulled", n, 0)) if progress else None)
    emit(reports, json_out, lambda rs: table("review pull", ["project", "kind", "tasks", "verdicts +", "verdicts -",
                                                             "candidates updated"],
                                             [[r.project_id, r.kind, r.tasks_fetched, r.verdicts_written,
                                               r.verdicts_removed, r.candidates_updated] for r in rs]))


@review_app.command()
def adjudicate(workspace: WorkspaceOpt = None, subtasks: SubtasksOpt = None, json_out: JsonOpt = False) -> None:
    """Push candidates in conflict to the adjudication project; its single verdict is final on the next pull."""
    from ..review import adjudicate as do_adjudicate, connection

    ws = open_workspace(workspace)
    report = do_adjudicate(ws, connection(ws), subtasks=subtasks)
    emit(report, json_out, lambda r: console.print(
        f"adjudication project {r.project_id}: {r.created} new, {r.updated} updated, {r.unchanged} unchanged"))


@review_app.command()
def status(workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """Progress per subtask, agreement so far (Fleiss, Krippendorff, Cohen per pair, generator vs people)."""
    from ..review import review_status

    ws = open_workspace(workspace)
    st = review_status(ws)

    def render(s) -> None:
        table(f"review progress (K={s.reviewers_per_task}, consensus >= {s.min_accept})",
              ["subtask", "candidates", "reviewed", "verdicts", "pending", "validated", "rejected", "conflict"],
              [[p.subtask, p.candidates, p.reviewed, p.verdicts, p.pending + p.unreviewed, p.validated, p.rejected,
                p.conflict] for p in [*s.subtasks, s.totals]])
        groups = [*s.agreement.per_subtask.items(), ("all", s.agreement.overall)]
        table("agreement", ["subtask", "items", "Fleiss k (items)", "Krippendorff a", "generator accept", "generator k"],
              [[n, g.items, f"{_fmt(g.fleiss_kappa)} ({g.fleiss_items})", _fmt(g.krippendorff_alpha),
                _fmt(g.generator_accept_rate), _fmt(g.generator_kappa)] for n, g in groups])
        if s.agreement.pairs:
            table("Cohen's kappa per reviewer pair", ["reviewer", "reviewer", "items", "kappa"],
                  [[*p.reviewers, p.items, _fmt(p.cohen_kappa)] for p in s.agreement.pairs])

    emit(st, json_out, render)


@users_app.command("create")
def users_create(
    emails: Annotated[list[str] | None, typer.Argument(help="Reviewer emails (default: \\[review] reviewer_emails, "
                                                            "else reviewer1..K@mmrakit.local).")] = None,
    workspace: WorkspaceOpt = None,
    count: Annotated[int | None, typer.Option(help="Create reviewer1..N@mmrakit.local.")] = None,
    method: Annotated[str, typer.Option(help="invite (any server) or cli (local server: `label-studio user`).")] = "invite",
    json_out: JsonOpt = False,
) -> None:
    """Create reviewer accounts that see the review projects; their credentials go to a 0600 file, not the screen."""
    from ..errors import InputError
    from ..review import connection, create_reviewers
    from ..review.users import credentials_path, default_emails

    if method not in ("invite", "cli"):
        raise InputError(f"--method {method!r}: choose invite or cli")
    ws = open_workspace(workspace)
    chosen = list(emails) if emails else default_emails(ws, count)
    made = create_reviewers(ws, connection(ws), chosen, method=method)  # type: ignore[arg-type]
    emit({"reviewers": made, "credentials": str(credentials_path(ws))}, json_out,
         lambda d: (table("reviewers", ["email", "user id", "new"], [[r.email, r.user_id, r.created] for r in d["reviewers"]]),
                    console.print(f"passwords and tokens: {d['credentials']} (mode 0600)")))


def register(app: typer.Typer) -> None:
    """Attach this stage's commands to the main app."""
    app.add_typer(review_app)
