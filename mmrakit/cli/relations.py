"""CLI commands of the relations stage: ingest, query, stats, sources, remove, ontology."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import JsonOpt, WorkspaceOpt, console, emit, open_workspace, progress_bar, table

relations_app = typer.Typer(help="ConceptNet relations: ingest dumps/packs, query concepts, manage sources.",
                            no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach this stage's commands to the main app."""
    app.add_typer(relations_app, name="relations")


@relations_app.command()
def ingest(
    source: Annotated[Optional[Path], typer.Argument(help="A ConceptNet 5.7 dump (.csv/.csv.gz), a KGTK/CSKG TSV, or a relation pack (TSV/CSV).", show_default=False)] = None,
    format: Annotated[Optional[str], typer.Option("--format", "-f", help="conceptnet-csv | kgtk | pack (default: detected).")] = None,
    languages: Annotated[Optional[str], typer.Option("--languages", help="Comma-separated languages to keep (both ends); '' keeps all. Default: [relations] languages.")] = None,
    name: Annotated[Optional[str], typer.Option("--name", help="Source name (default: the file name). Same name = same source.")] = None,
    bundled: Annotated[bool, typer.Option("--bundled", help="Ingest the bundled English subset of real ConceptNet edges.")] = False,
    download: Annotated[bool, typer.Option("--download", help="Download the official 5.7 dump ([relations] dump_url), resumable and checksum-verified, then ingest it.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Re-ingest even if unchanged; replace a same-named source from another path.")] = False,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Ingest one source into the workspace's relation store (re-running an unchanged source is a no-op)."""
    from ..errors import InputError
    from ..relations import bundled_subset
    from ..relations.ingest import ingest as run_ingest

    ws = open_workspace(workspace)
    chosen = sum([source is not None, bundled, download])
    if chosen != 1:
        raise InputError("give exactly one of: SOURCE, --bundled, --download",
                         hint="e.g. `mmrakit relations ingest conceptnet-assertions-5.7.0.csv.gz`")
    if bundled:
        source = bundled_subset()
    elif download:
        from ..relations.download import download_dump

        cfg = ws.settings.relations
        source = download_dump(cfg.dump_url, ws.path("relations", "downloads"), sha256=cfg.dump_sha256)
    langs = None if languages is None else [x.strip() for x in languages.split(",") if x.strip()]
    with progress_bar(enabled=not json_out) as progress:
        report = run_ingest(ws, source, format=format, name=name, languages=langs, force=force,  # type: ignore[arg-type]
                            progress=progress)

    def render(r) -> None:
        if r.up_to_date:
            console.print(f"[green]up to date[/]: source {r.name!r} unchanged ({r.edges} edges); use --force to re-ingest")
            return
        console.print(f"ingested [bold]{r.name}[/] ({r.format}): {r.edges} edges from {r.lines} lines in {r.duration_s} s"
                      + (f", replacing {r.replaced_edges} old edges" if r.replaced_edges else ""))
        if r.filtered:
            console.print("  filtered: " + ", ".join(f"{k} {v}" for k, v in r.filtered.items()))
        for reason, n in r.malformed.items():
            lines = ", ".join(map(str, r.malformed_samples.get(reason, [])))
            console.print(f"  [yellow]skipped {n} malformed ({reason})[/], e.g. lines {lines}")

    emit(report, json_out, render)


@relations_app.command()
def query(
    concept: Annotated[str, typer.Argument(help="Concept text ('dining tables') or URI (/c/en/dining_table).")],
    rel: Annotated[Optional[str], typer.Option("--rel", "-r", help="Only this relation (UsedFor, used_for or /r/UsedFor).")] = None,
    direction: Annotated[str, typer.Option("--direction", "-d", help="out | in | both")] = "out",
    limit: Annotated[Optional[int], typer.Option("--limit", "-n", help="At most this many edges (strongest first).")] = 50,
    hops: Annotated[int, typer.Option("--hops", help="Also list concepts reachable within this many hops (0 = off).")] = 0,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Neighbours of a concept by relation, with weights and surface text."""
    from ..errors import InputError
    from ..relations import RelationStore, normalize_concept

    if direction not in ("out", "in", "both"):
        raise InputError(f"--direction must be out, in or both, not {direction!r}")
    store = RelationStore.open(open_workspace(workspace))
    uri = store.resolve(concept)
    edges = store.neighbours(concept, rel=rel, direction=direction, limit=limit)  # type: ignore[arg-type]
    try:
        written = uri or normalize_concept(concept)
    except ValueError:
        written = None
    out: dict = {"query": concept, "concept": written,
                 "known": uri is not None, "relation": rel, "direction": direction, "edges": edges}
    if hops:
        out["reachable"] = store.reachable(concept, k=hops, rels=[rel] if rel else None)

    def render(d: dict) -> None:
        if not d["known"]:
            console.print(f"[yellow]unknown concept[/] {d['concept']} (not in the store)")
            return
        table(f"{d['concept']} ({direction})", ["relation", "start", "end", "weight", "surface text", "source"],
              [[e.relation, e.start, e.end, f"{e.weight:g}", e.surface_text, e.source] for e in d["edges"]])
        if "reachable" in d:
            console.print(f"{len(d['reachable'])} concepts within {hops} hops")

    emit(out, json_out, render)


@relations_app.command()
def stats(workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """Edges per relation, concepts per language, and the ingested sources."""
    from ..relations import RelationStore

    s = RelationStore.open(open_workspace(workspace)).stats()

    def render(d: dict) -> None:
        console.print(f"{d['edges']} edges, {d['base_concepts']} concepts ({d['concepts']} with senses) in {d['db_path']}")
        table("edges per relation", ["relation", "edges"], [[k, v] for k, v in d["relations"].items()])
        _render_sources(d["sources"])

    emit(s, json_out, render)


def _render_sources(rows: list[dict]) -> None:
    table("sources", ["name", "format", "dataset", "languages", "edges", "ingested", "path"],
          [[r["name"], r["format"], r["dataset"] or "(ConceptNet)", ",".join(r["languages"]) or "all", r["edges"],
            r["ingested_at"], r["path"]] for r in rows])


@relations_app.command()
def sources(workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """List the ingested sources (each can be re-ingested or removed on its own)."""
    from ..relations import RelationStore

    ws = open_workspace(workspace)
    path = ws.resolve(ws.settings.relations.db_file)
    rows = RelationStore(path).sources() if path.is_file() else []
    emit(rows, json_out, lambda r: _render_sources(r) if r else console.print("no sources ingested yet"))


@relations_app.command()
def remove(
    source: Annotated[str, typer.Argument(help="Source name (see `relations sources`) or its file path.")],
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Drop one source and its edges; other sources are untouched."""
    from ..relations.ingest import remove_source

    out = remove_source(open_workspace(workspace), source)
    emit(out, json_out, lambda d: console.print(f"removed source {d['source']!r} ({d['removed_edges']} edges)"))


@relations_app.command()
def ontology(
    subtasks: Annotated[bool, typer.Option("--subtasks", help="Show the MMRA subtask -> relations/evidence mapping instead.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """The ConceptNet 5.7 relations (symmetry, inverse, entailment, template), or the subtask mapping."""
    from ..relations.ontology import RELATIONS, SUBTASK_RELATIONS

    if subtasks:
        data = {k: v.model_dump() for k, v in SUBTASK_RELATIONS.items()}
        emit(data, json_out, lambda d: table("MMRA subtasks", ["subtask", "relations", "direction", "evidence"],
                                             [[k, ", ".join(v["relations"]), v["direction"], ", ".join(v["evidence"])] for k, v in d.items()]))
        return
    data = {k: v.model_dump() for k, v in RELATIONS.items()}
    emit(data, json_out, lambda d: table("relations", ["relation", "kind", "sym", "inverse", "opposite", "entails", "template"],
                                         [[k, v["kind"], "yes" if v["symmetric"] else "", v["inverse"], v["opposite"], v["entails"], v["template"]] for k, v in d.items()]))
