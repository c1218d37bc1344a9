"""The annotator stage (`mmrakit annotate`): structured attributes per pool image, before build.

Sources, in order of trust (``[annotate] sources``):

1. ``dataset``: the image's own captions and boxes (:mod:`.perception`, vocabularies as data);
2. ``clip``: zero-shot over prompt sets kept as data (``data/perception_prompts.toml``) through the
   core model layer (:mod:`mmrakit.modelhub.clip`);
3. ``vlm``: a vision-language model asked constrained questions answering in JSON, through an
   OpenAI-compatible endpoint (:class:`mmrakit.modelhub.openai.ChatClient`: bounded concurrency, retries,
   response cache). A VLM also supplies a caption and an object list, so sources without captions or
   boxes (Mantis/LLaVA-style) yield attributes too.

Resumable: results are stored per (image sha256, source, prompt version) in ``images_attributes``; an
image already annotated by a source at the current version is skipped, and each image's result is
committed as it arrives, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import json
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from mmrakit.models import Attribute, ImageAttributes
from mmrakit.workspace import Workspace

from . import perception

COMPONENT, VERSION = "images.attributes", 1
DDL = """
CREATE TABLE IF NOT EXISTS images_attributes (
    sha256  TEXT NOT NULL,
    source  TEXT NOT NULL,
    version TEXT NOT NULL,
    payload TEXT NOT NULL,
    at      REAL NOT NULL,
    PRIMARY KEY (sha256, source, version)
);
"""


@lru_cache(maxsize=1)
def prompts() -> dict:
    return tomllib.loads(resources.files(__package__).joinpath("data", "perception_prompts.toml").read_text("utf-8"))


class AttributeStore:
    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        ws.ensure_schema(COMPONENT, VERSION, DDL)

    def done(self, source: str, version: str) -> set[str]:
        return {r[0] for r in self.ws.db.execute(
            "SELECT sha256 FROM images_attributes WHERE source = ? AND version = ?", (source, version))}

    def put(self, sha: str, source: str, version: str, attrs: list[Attribute]) -> None:
        payload = json.dumps([a.model_dump(mode="json") for a in attrs], sort_keys=True)
        with self.ws.db:
            self.ws.db.execute("DELETE FROM images_attributes WHERE sha256 = ? AND source = ?", (sha, source))
            self.ws.db.execute("INSERT INTO images_attributes VALUES (?, ?, ?, ?, ?)",
                               (sha, source, version, payload, time.time()))

    def get(self, sha: str) -> ImageAttributes | None:
        rows = self.ws.db.execute("SELECT payload FROM images_attributes WHERE sha256 = ? ORDER BY source", (sha,)).fetchall()
        if not rows:
            return None
        attrs = [Attribute.model_validate(a) for r in rows for a in json.loads(r[0])]
        return ImageAttributes(sha256=sha, attributes=attrs)

    def all(self) -> dict[str, ImageAttributes]:
        out: dict[str, list[Attribute]] = {}
        for sha, payload in self.ws.db.execute("SELECT sha256, payload FROM images_attributes ORDER BY sha256, source"):
            out.setdefault(sha, []).extend(Attribute.model_validate(a) for a in json.loads(payload))
        return {s: ImageAttributes(sha256=s, attributes=a) for s, a in out.items()}


# --- sources ----------------------------------------------------------------------------------------

def dataset_source(rec, entities) -> list[Attribute]:
    objs = [perception.Obj(o.category, o.box) for o in rec.objects if o.box is not None and not o.crowd]
    crowds = [o.box for o in rec.objects if o.box is not None and o.crowd]  # the layout's alone (a crowd: no clear composition)
    return perception.attributes(list(rec.captions), objs, crowds)


def model_caption_source(attrs: list[Attribute]) -> list[Attribute]:
    """Source 1's rules over the captions and boxes a model gave an image that has none of its own; the
    result keeps the model as its source (with at most the model's confidence)."""
    from mmrakit.models import ImageAttributes

    caps, objs = annotated_captions_objects(ImageAttributes(sha256="0" * 64, attributes=attrs))
    if not caps:
        return []
    derived = perception.attributes(caps, [perception.Obj(n, b) for n, b in objs if b is not None])
    cap = max((a.confidence for a in attrs if a.name == "caption"), default=0.5)
    return [a.model_copy(update={"source": "vlm", "confidence": min(a.confidence, cap),
                                 "detail": "from the model's caption/boxes: " + a.detail}) for a in derived]


def clip_source(bundle_scores: Callable[[str, list[str]], list[float] | None], sha: str) -> list[Attribute]:
    """Zero-shot: for each prompt set, the best prompt's label when it beats the runner-up by the set's
    margin; confidence = softmax share (temperature from the data file)."""
    import numpy as np

    out = []
    for name, spec in prompts()["clip"].items():
        labels = list(spec["labels"])
        texts = [spec["template"].format(label.replace("_", " ")) for label in labels]
        scores = bundle_scores(sha, texts)
        if scores is None:
            continue
        s = np.asarray(scores, dtype=np.float64) * float(prompts()["clip_temperature"])
        p = np.exp(s - s.max())
        p /= p.sum()
        order = np.argsort(-p)
        best = int(order[0])
        if len(order) > 1 and p[best] - p[int(order[1])] < float(spec.get("margin", 0.1)):
            continue
        out.append(Attribute(name=spec.get("attribute", name), value=labels[best], source="clip",
                             confidence=round(float(p[best]), 3), detail=f"zero-shot over {len(labels)} prompts"))
    return out


def vlm_messages(image_data_url: str) -> list[dict]:
    q = prompts()["vlm"]
    return [{"role": "system", "content": q["system"]},
            {"role": "user", "content": [{"type": "image_url", "image_url": {"url": image_data_url}},
                                         {"type": "text", "text": q["question"]}]}]


def parse_vlm(text: str) -> list[Attribute]:
    """The model's JSON answer -> attributes; values outside the vocabulary are dropped, never guessed."""
    q = prompts()["vlm"]
    start, end = text.find("{"), text.rfind("}")
    if start < 0 or end <= start:
        return []
    try:
        data = json.loads(text[start:end + 1])
    except json.JSONDecodeError:
        return []
    out = []
    for name, allowed in q["allowed"].items():
        val = data.get(name)
        vals = val if isinstance(val, list) else [val]
        for v in vals:
            if isinstance(v, str) and (not allowed or v in allowed):
                out.append(Attribute(name=name, value=v, source="vlm", confidence=float(q["confidence"]),
                                     detail="VLM answer (constrained JSON)"))
    caps = data.get("caption")
    for v in (caps if isinstance(caps, list) else [caps] if caps else []):
        if isinstance(v, str) and v.strip():
            out.append(Attribute(name="caption", value=v.strip()[:300], source="vlm", confidence=float(q["confidence"]),
                                 detail="VLM answer"))
    for o in data.get("objects") or []:  # "dog" or {"name": "dog", "box": [x, y, w, h]} (share of the picture)
        name, box = (o, None) if isinstance(o, str) else (o.get("name"), o.get("box")) if isinstance(o, dict) else (None, None)
        if not isinstance(name, str) or not name.strip():
            continue
        ok = (isinstance(box, list) and len(box) == 4 and all(isinstance(x, (int, float)) and 0 <= x <= 1 for x in box))
        value = name.strip().lower() + "|" + (",".join(f"{float(x):.4f}" for x in box) if ok else "")
        out.append(Attribute(name="object", value=value, source="vlm", confidence=float(q["confidence"]),
                             detail="VLM answer" + ("" if ok or box is None else " (box dropped: not 4 numbers in [0, 1])")))
    return out


def annotated_captions_objects(attrs) -> tuple[list[str], list[tuple[str, object]]]:
    """Captions and (name, Box | None) objects an annotator model stated, for images without their own."""
    from mmrakit.models import Box

    captions = [a.value for a in attrs.attributes if a.name == "caption"]
    objects = []
    for a in attrs.attributes:
        if a.name != "object":
            continue
        name, _, nums = a.value.partition("|")
        box = None
        if nums:
            x, y, w, h = (float(v) for v in nums.split(","))
            box = Box(x=x, y=y, w=min(w, 1 - x), h=min(h, 1 - y))
        objects.append((name, box))
    return captions, objects


# --- the stage --------------------------------------------------------------------------------------

@dataclass
class AnnotateReport:
    sources: list[str] = field(default_factory=list)
    images: int = 0
    annotated: dict[str, int] = field(default_factory=dict)
    skipped_cached: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)
    up_to_date: bool = False

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def source_version(source: str, settings=None) -> str:
    """What a stored result depends on: the rules/vocabulary digest (dataset), the prompt version and,
    for a VLM, the model asked."""
    if source == "dataset":
        return perception.version()
    if source == "vlm" and settings is not None:
        where = settings.vlm_url if settings.vlm_backend == "openai" else "local"
        return f"vlm:{prompts()['version']}:{settings.vlm_backend}:{where}:{settings.vlm_model}"
    return f"{source}:{prompts()['version']}"


def run_annotate(ws: Workspace, *, sources: list[str] | None = None, force: bool = False,
                 client=None, clip_scores: Callable | None = None) -> AnnotateReport:
    """Annotate every pool image with each source; ``client`` (an OpenAI-compatible client from the
    model layer) and ``clip_scores`` are built from settings when not given."""
    from .store import ImagePool

    s = ws.settings.annotate
    sources = list(sources or s.sources)
    pool = ImagePool(ws)
    store = AttributeStore(ws)
    records = list(pool.records())
    report = AnnotateReport(sources=sources, images=len(records))
    import hashlib

    digest = hashlib.sha256("\n".join(sorted(r.sha256 for r in records)).encode()).hexdigest()
    versions = {src: source_version(src, s) for src in sources}
    settings = {**s.model_dump(mode="json"), "versions": versions}
    with ws.stage_run("images.annotate", inputs=[{"pool": digest}], settings=settings, code_version="images.annotate/1",
                      force=force) as run:
        if run.up_to_date:
            report.up_to_date = True
            return report
        _annotate(ws, pool, store, records, sources, force, client, clip_scores, report)
        run.counts.update({f"annotated_{k}": v for k, v in report.annotated.items()})
    return report


def _annotate(ws, pool, store, records, sources, force, client, clip_scores, report) -> None:
    s = ws.settings.annotate
    for source in sources:
        version = source_version(source, s)
        done = set() if force else store.done(source, version)
        todo = [r for r in records if r.sha256 not in done]
        report.skipped_cached[source] = len(records) - len(todo)
        report.annotated[source] = 0
        report.failed[source] = 0
        if source == "dataset":
            for r in todo:
                store.put(r.sha256, source, version, dataset_source(r, None))
                report.annotated[source] += 1
        elif source == "clip":
            scores = clip_scores or _clip_scores_from_workspace(ws)
            for r in todo:
                store.put(r.sha256, source, version, clip_source(scores, r.sha256))
                report.annotated[source] += 1
        elif source == "vlm":
            from mmrakit.modelhub.openai import data_url_for

            cli = client or _vlm_client(ws)
            jobs = [(r.sha256, vlm_messages(data_url_for(pool.image_path(r.sha256), s.max_image_side))) for r in todo]

            def on_result(sha: str, text: str | None) -> None:
                if text is None:
                    report.failed[source] += 1
                    return
                attrs = parse_vlm(text)
                rec = pool.get(sha)
                if rec is not None and not rec.captions:  # a source without captions: the model's caption stands in
                    attrs += model_caption_source(attrs)
                store.put(sha, source, version, attrs)
                report.annotated[source] += 1

            cli.map(jobs, on_result, concurrency=s.concurrency)
        else:
            raise ValueError(f"unknown annotator source {source!r} (dataset | clip | vlm)")


def _clip_scores_from_workspace(ws: Workspace) -> Callable:
    from mmrakit.images.vectors import EmbeddingStore

    store = EmbeddingStore(ws)

    def scores(sha: str, texts: list[str]):
        img = store.clip_image([sha])
        if img is None or not img.any():
            return None
        tv = store.clip_text(texts)
        if tv is None:
            return None
        return [float(x) for x in (tv @ img[0])]
    return scores


def _vlm_client(ws: Workspace):
    from mmrakit.errors import ConfigError
    from mmrakit.modelhub.openai import ChatClient

    s = ws.settings.annotate
    if s.vlm_backend == "hf":
        if not s.vlm_model:
            raise ConfigError("the vlm annotator source with vlm_backend = hf needs [annotate] vlm_model (a local model folder)",
                              hint="set vlm_model in mmrakit.toml, or drop 'vlm' from [annotate] sources")
        from mmrakit.modelhub.local_chat import LocalChatClient

        return LocalChatClient(s.vlm_model, cache_path=ws.path("annotate", "responses.sqlite"))
    if not s.vlm_url or not s.vlm_model:
        raise ConfigError("the vlm annotator source needs [annotate] vlm_url and vlm_model (vlm_backend = openai)",
                          hint="set them in mmrakit.toml, or drop 'vlm' from [annotate] sources")
    return ChatClient(s.vlm_url, s.vlm_model, api_key_env=s.vlm_api_key_env, max_retries=s.max_retries,
                      timeout_s=s.timeout_s, cache_path=ws.path("annotate", "responses.sqlite"))
