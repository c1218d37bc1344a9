"""CLI commands of the images stage: import, quarantine, embed, search, dedup, stats."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .common import JsonOpt, WorkspaceOpt, console, emit, open_workspace, progress_bar, table

images_app = typer.Typer(help="The image pool: import + validate, embed (CLIP, captions), search, deduplicate.",
                         no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Attach this stage's commands to the main app."""
    app.add_typer(images_app, name="images")
    app.command("annotate")(annotate)


@images_app.command("import")
def import_cmd(
    source: Annotated[str, typer.Argument(help="Folder, annotation file (coco/llava/mantis/jsonl), or dataset (hf: local dir or Hub id).")],
    format: Annotated[str, typer.Option("--format", "-f", help="folder | coco | llava | mantis | jsonl | hf")] = "folder",
    image_root: Annotated[Optional[Path], typer.Option("--image-root", help="Where relative image paths in SOURCE point (default: next to SOURCE).")] = None,
    copy: Annotated[Optional[bool], typer.Option("--copy/--no-copy", help="Store the files in the workspace (default: [images] copy_files).")] = None,
    split: Annotated[Optional[str], typer.Option("--split", help="hf: the dataset split (default: the first).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Re-read the source even if unchanged since the last import.")] = False,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Import images: validate each (bad ones go to quarantine with a reason), hash, ground entities."""
    from ..images.importer import import_images

    ws = open_workspace(workspace)
    with progress_bar(enabled=not json_out) as progress:
        report = import_images(ws, source, format, image_root=image_root, copy=copy, split=split, force=force,
                               progress=progress)

    def render(r) -> None:
        if r.up_to_date:
            console.print(f"[green]up to date[/]: {r.source} unchanged ({r.accepted} accepted); use --force to re-read")
            return
        q = sum(r.quarantined.values())
        console.print(f"imported [bold]{r.source}[/] ({r.format}): {r.seen} seen, {r.accepted} accepted "
                      f"({r.new_images} new, {r.exact_duplicates} exact duplicates), {q} quarantined, "
                      f"{r.entities} entities in {r.seconds} s")
        if q:
            console.print("  quarantine: " + ", ".join(f"{k} {v}" for k, v in r.quarantined.items())
                          + "  (see `mmrakit images quarantine`)")
        if r.changed_files:
            console.print(f"  [yellow]{r.changed_files} file(s) changed since they were imported[/]: old records are no longer served")
        if not r.concepts_checked:
            console.print("  [dim]no relation store: caption n-grams grounded unchecked (ingest relations, then re-import with --force)[/]")

    emit(report.model_dump(mode="json"), json_out, lambda d: render(report))


@images_app.command()
def quarantine(
    reason: Annotated[Optional[str], typer.Option("--reason", help="Only this reason (e.g. truncated).")] = None,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List quarantined files with their reason."""
    from ..images import ImagePool

    rows = ImagePool(open_workspace(workspace)).quarantine(reason)
    emit(rows, json_out, lambda rs: table(f"quarantine ({len(rs)})", ["reason", "location", "detail"],
                                          [[r["reason"], r["location"], r["detail"][:80]] for r in rs]))


@images_app.command()
def embed(
    clip: Annotated[Optional[str], typer.Option("--clip", help="'none' skips CLIP (captions and hashes keep working); default: [clip] settings.")] = None,
    captions: Annotated[bool, typer.Option("--captions/--no-captions", help="Embed captions with [captions] model.")] = True,
    executor: Annotated[Optional[str], typer.Option("--executor", help="local | ray (default: [execution] executor).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Re-check everything even if the pool is unchanged (cached vectors are reused).")] = False,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Embed pool images with CLIP (and concept names), captions with MiniLM; build FAISS indexes. Resumable."""
    from ..errors import InputError
    from ..images.embed import run_embed

    if clip not in (None, "none", "on"):
        raise InputError(f"--clip {clip!r}: expected 'none' (or omit it)", hint="the CLIP model itself is set in [clip] model")
    if executor not in (None, "local", "ray"):
        raise InputError(f"--executor {executor!r}: expected local or ray")
    ws = open_workspace(workspace)
    with progress_bar(enabled=not json_out) as progress:
        report = run_embed(ws, clip=None if clip is None else clip != "none", captions=captions, executor=executor,
                           progress=progress, force=force)

    def render(r) -> None:
        if r.up_to_date:
            console.print("[green]up to date[/]: pool unchanged since the last embed run")
            return
        console.print(f"CLIP ({r.clip}, {r.executor}): {r.clip_images} images ({r.clip_cached} cached)"
                      + (f", {r.clip_img_per_s} img/s" if r.clip_img_per_s else "") + f", {r.concepts} new concept texts")
        if r.clip_failed:
            console.print("  not embedded: " + ", ".join(f"{k} {v}" for k, v in r.clip_failed.items()))
        console.print(f"captions: {r.caption_images} images ({r.caption_cached} cached)")
        for kind, meta in r.indexes.items():
            console.print(f"index {kind}: {meta['type']} over {meta['n']} vectors (dim {meta['dim']})")

    emit(report.model_dump(mode="json"), json_out, lambda d: render(report))


@images_app.command()
def search(
    text: Annotated[Optional[str], typer.Argument(help="Text query (CLIP text -> images).")] = None,
    like: Annotated[Optional[str], typer.Option("--like", help="Image -> images: a pool sha256 (or prefix) or an image file.")] = None,
    caption_band: Annotated[Optional[str], typer.Option("--caption-band", help="LO,HI: image pairs whose caption similarity lies in the band.")] = None,
    k: Annotated[int, typer.Option("-k", help="Results (neighbours per image for --caption-band).")] = 10,
    limit: Annotated[int, typer.Option("--limit", help="--caption-band: at most this many pairs.")] = 100,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Query the pool: text -> images, --like image -> images, or --caption-band pairs."""
    from ..errors import InputError
    from ..images import search as s

    ws = open_workspace(workspace)
    if sum(x is not None for x in (text, like, caption_band)) != 1:
        raise InputError("give exactly one of: TEXT, --like, --caption-band", hint='e.g. `mmrakit images search "a red car"`')
    if caption_band is not None:
        try:
            lo, hi = (float(v) for v in caption_band.split(","))
        except ValueError:
            raise InputError(f"--caption-band {caption_band!r}: expected LO,HI such as 0.2,0.85") from None
        pairs = s.caption_pairs_in_band(ws, lo, hi, k=k)[:limit]
        data = [{"image1": a, "image2": b, "similarity": sim} for a, b, sim in pairs]
        emit(data, json_out, lambda d: table(f"caption pairs in [{lo}, {hi}] ({len(d)})", ["image1", "image2", "similarity"],
                                             [[r["image1"][:16], r["image2"][:16], f"{r['similarity']:.3f}"] for r in d]))
        return
    hits = s.search_text(ws, text, k) if text is not None else s.search_like(ws, like, k)
    data = [h.as_dict() for h in hits]
    emit(data, json_out, lambda d: table("results", ["score", "sha256", "path"],
                                         [[f"{r['score']:.4f}", r["sha256"][:16], r["path"]] for r in d]))


@images_app.command()
def dedup(
    exact: Annotated[bool, typer.Option("--exact", help="Exact tier (sha256).")] = False,
    near: Annotated[bool, typer.Option("--near", help="Near tier (perceptual hash).")] = False,
    semantic: Annotated[bool, typer.Option("--semantic", help="Semantic tier (CLIP, SemDeDup-style).")] = False,
    executor: Annotated[Optional[str], typer.Option("--executor", help="local | ray for the per-cluster step.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Recompute even if nothing changed.")] = False,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Find duplicate groups (all tiers unless some are named); non-kept images are excluded, never deleted."""
    from ..images.dedup import run_dedup

    ws = open_workspace(workspace)
    if not (exact or near or semantic):
        exact = near = semantic = True
    with progress_bar(enabled=not json_out) as progress:
        report = run_dedup(ws, exact=exact, near=near, semantic=semantic, executor=executor, force=force,
                           progress=progress)

    def render(r) -> None:
        if r.up_to_date:
            console.print(f"[green]up to date[/]: {r.groups} groups, {r.excluded} excluded")
            return
        console.print(f"{r.images} images: {r.groups} duplicate groups, {r.excluded} excluded from building")
        for tier in ("exact", "near", "semantic"):
            if tier in r.tiers:
                console.print(f"  {tier}: {getattr(r, tier)}")
        console.print(f"  report: {r.report_path}" + (f"; contact sheet: {r.contact_sheet}" if r.contact_sheet else ""))

    emit(report.model_dump(mode="json"), json_out, lambda d: render(report))


@images_app.command()
def stats(workspace: WorkspaceOpt = None, json_out: JsonOpt = False) -> None:
    """Pool size, quarantine by reason, entities, hashes, embeddings and duplicate groups."""
    from ..images import ImagePool
    from ..images.vectors import EmbeddingStore

    ws = open_workspace(workspace)
    data = ImagePool(ws).stats()
    emb = EmbeddingStore(ws)
    data["embeddings"] = {k: emb.info(k) for k in ("clip-image", "clip-text", "caption")}

    def render(d) -> None:
        rows = [[k, v] for k, v in d.items() if k != "embeddings"]
        rows += [[f"embeddings {k}", (v or {}).get("fingerprint", "-")] for k, v in d["embeddings"].items()]
        table(f"image pool {ws.root}", ["", "value"], rows)

    emit(data, json_out, render)


def annotate(
    sources: Annotated[Optional[str], typer.Option("--sources", help="Comma-separated: dataset,clip,vlm (default: [annotate] sources).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Annotate again even what is cached for the current prompt version.")] = False,
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Record structured attributes per pool image (scene, indoor, viewpoint, shot, people/animals, visible
    state, activity, layout) from the dataset's annotations and, when configured, CLIP and a VLM."""
    from ..images.annotate import run_annotate

    ws = open_workspace(workspace)
    chosen = [x.strip() for x in sources.split(",") if x.strip()] if sources else None
    report = run_annotate(ws, sources=chosen, force=force)

    def render(r: dict) -> None:
        if r["up_to_date"]:
            console.print(f"[green]up to date[/]: {r['images']} images, sources {', '.join(r['sources'])}")
            return
        table(f"annotated {r['images']} images", ["source", "annotated", "cached", "failed"],
              [[k, r["annotated"].get(k, 0), r["skipped_cached"].get(k, 0), r["failed"].get(k, 0)] for k in r["sources"]])

    emit(report.as_dict(), json_out, render)


@images_app.command("show")
def show(
    sha: Annotated[str, typer.Argument(help="An image's sha256 (a unique prefix is enough).")],
    workspace: WorkspaceOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """One pool image: its record, and every attribute the annotator recorded with its source and confidence."""
    from ..errors import InputError
    from ..images import ImagePool
    from ..images.annotate import AttributeStore

    ws = open_workspace(workspace)
    pool = ImagePool(ws)
    matches = [s for s in pool.shas(include_excluded=True) if s.startswith(sha.lower())]
    if len(matches) != 1:
        raise InputError(f"{'no' if not matches else len(matches)} pool images match {sha!r}",
                         hint="give more characters of the sha256 (`mmrakit images stats`, `candidates show`)")
    rec = pool.get(matches[0])
    attrs = AttributeStore(ws).get(rec.sha256)
    data = {"sha256": rec.sha256, "width": rec.width, "height": rec.height, "source": rec.source,
            "captions": rec.captions, "objects": sorted({o.category for o in rec.objects}),
            "attributes": [a.model_dump(mode="json") for a in (attrs.attributes if attrs else [])]}

    def render(d: dict) -> None:
        console.print(f"[bold]{d['sha256']}[/] {d['width']}x{d['height']} from {d['source']}")
        for c in d["captions"]:
            console.print(f"  caption: {c}")
        console.print(f"  objects: {', '.join(d['objects']) or '-'}")
        if not d["attributes"]:
            console.print("  no attributes recorded: run `mmrakit annotate`")
            return
        table("attributes", ["name", "value", "source", "confidence", "detail"],
              [[a["name"], a["value"], a["source"], a["confidence"], a["detail"]] for a in d["attributes"]])

    emit(data, json_out, render)
