"""A synthetic graph and image pool with the shape builders need (benchmarks and property tests).

Concepts are named ``object 12``, ``use 3``, ``material 1``... so nothing pretends to be real; the
pool's images carry object boxes and caption groundings directly (no files), duplicate groups, and
perceptual hashes. Everything is generated from one seeded RNG.
"""

from __future__ import annotations

import random

from mmrakit.models import Box, Edge, EntityGrounding

from mmrakit.builders.graph import MemoryGraph
from mmrakit.builders.pool import PoolImage, PoolView


def c(text: str) -> str:
    return "/c/en/" + text.replace(" ", "_")


def _edge(start: str, rel: str, end: str, w: float = 1.0) -> Edge:
    return Edge(uri=f"/a/[/r/{rel}/,{start}/,{end}/]", relation=rel, start=start, end=end, weight=w,
                surface_text=None, dataset="/d/synthetic")


def synthetic_graph(n_objects: int = 60, seed: int = 0) -> tuple[MemoryGraph, dict[str, list[str]]]:
    """Graph over ``n_objects`` object concepts plus uses, materials, properties, places, emotions, events."""
    rng = random.Random(f"graph:{seed}")
    vocab = {
        "object": [c(f"object {i}") for i in range(n_objects)],
        "use": [c(f"use {i}") for i in range(max(6, n_objects // 4))],
        "material": [c(f"material {i}") for i in range(8)],
        "property": [c(f"color {i}") for i in range(8)],
        "place": [c(f"room {i}") for i in range(8)],
        "emotion": [c(f"feeling {i}") for i in range(6)],
        "cue": [c(f"cue {i}") for i in range(12)],
        "event": [c(f"activity {i}") for i in range(16)],
    }
    edges: list[Edge] = []
    for m in vocab["material"]:
        edges.append(_edge(m, "IsA", c("material")))
    for p in vocab["property"]:
        edges.append(_edge(p, "IsA", c("color")))
    for p in vocab["place"]:
        edges.append(_edge(p, "IsA", c("room")))
    for e in vocab["emotion"]:
        edges.append(_edge(e, "IsA", c("emotion")))
    for e in vocab["event"]:
        edges.append(_edge(e, "IsA", c("activity")))
    edges.append(_edge(c("person"), "IsA", c("person")))  # keeps `person` known
    for o in vocab["object"]:
        for u in rng.sample(vocab["use"], 2):
            edges.append(_edge(o, "UsedFor", u))
        edges.append(_edge(o, "UsedFor", rng.choice(vocab["event"])))
        for m in rng.sample(vocab["material"], 2):
            edges.append(_edge(o, "MadeOf", m))
        for p in rng.sample(vocab["property"], 2):
            edges.append(_edge(o, "HasProperty", p))
        for p in rng.sample(vocab["place"], 2):
            edges.append(_edge(o, "AtLocation", p))
        for n in rng.sample(vocab["object"], 3):
            if n != o:
                edges.append(_edge(o, "LocatedNear", n))
        edges.append(_edge(o, "LocatedNear", c("person")))
    for cue in vocab["cue"]:
        for e in rng.sample(vocab["emotion"], 2):
            edges.append(_edge(cue, "HasProperty", e))
    events = vocab["event"]
    for i in range(0, len(events) - 3, 4):  # event i has steps i+1, i+2 and prerequisite i+3
        edges += [_edge(events[i], "HasSubevent", events[i + 1]), _edge(events[i], "HasSubevent", events[i + 2]),
                  _edge(events[i], "HasPrerequisite", events[i + 3])]
    return MemoryGraph(edges), vocab


def _box(rng: random.Random) -> Box:
    hi = 0.95 if rng.random() < 0.2 else 0.5
    w, h = rng.uniform(0.08, hi), rng.uniform(0.08, hi)
    return Box(x=rng.uniform(0, 1 - w), y=rng.uniform(0, 1 - h), w=w, h=h)


def synthetic_pool(vocab: dict[str, list[str]], n_images: int = 1000, seed: int = 0, dup_rate: float = 0.05) -> PoolView:
    rng = random.Random(f"pool:{seed}")
    text = lambda u: u.rsplit("/", 1)[-1].replace("_", " ")  # noqa: E731
    images = []
    groups = 0
    for i in range(n_images):
        sha = f"{rng.getrandbits(256):064x}"
        objs = rng.sample(vocab["object"], rng.randint(3, 6))
        ents = []
        for o in objs:
            for _ in range(rng.choice((1, 1, 1, 2))):
                ents.append(EntityGrounding(concept=o, text=text(o), source="object", box=_box(rng)))
        if rng.random() < 0.6:
            ents.append(EntityGrounding(concept=c("person"), text="person", source="object", box=_box(rng)))
        caption_concepts = [rng.choice(vocab["place"]), rng.choice(vocab["cue"]), rng.choice(vocab["event"])]
        for cc in caption_concepts:
            ents.append(EntityGrounding(concept=cc, text=text(cc), source="caption"))
        captions = [f"a {text(objs[0])} and a {text(objs[1])} in {text(caption_concepts[0])} "
                    f"with {text(caption_concepts[1])} during {text(caption_concepts[2])}"]
        group = None
        if images and rng.random() < dup_rate:  # join the previous image's duplicate group
            prev = images[-1]
            if prev.group is None:
                groups += 1
                prev.group = f"g{groups}"
            group = prev.group
        images.append(PoolImage(sha=sha, captions=captions, entities=ents, group=group, phash=rng.getrandbits(64)))
    return PoolView(images)
