"""What the annotator says about each pool image, as the image-level builders read it.

Attributes come from the workspace's annotator table (``mmrakit annotate``: dataset, CLIP and VLM
sources) when it holds the image; otherwise source 1 (the dataset's captions and boxes,
:mod:`mmrakit.images.perception`) is computed on the fly, so synthetic pools and fresh workspaces
behave the same. :meth:`PerceptionView.confident` applies the settings rule: a value is usable for an
answer when its confidence reaches ``min_confidence`` and at least ``agree_for_yes`` sources state it,
and no more trusted source states a different confident value of a single-valued attribute.
"""

from __future__ import annotations

from mmrakit.images.perception import Obj, attributes
from mmrakit.models import Attribute, ImageAttributes

SINGLE_VALUED = {"indoor"}
TRUST = ("dataset", "clip", "vlm")


class PerceptionView:
    def __init__(self, pool, stored: dict[str, ImageAttributes] | None = None, *, min_confidence: float = 0.5,
                 agree_for_yes: int = 1) -> None:
        self.pool = pool
        self.stored = stored or {}
        self.min_confidence = min_confidence
        self.agree_for_yes = agree_for_yes
        self._cache: dict[str, list[Attribute]] = {}

    def all(self, sha: str) -> list[Attribute]:
        if sha not in self._cache:
            if sha in self.stored:
                self._cache[sha] = list(self.stored[sha].attributes)
            else:
                im = self.pool[sha]
                objs = [Obj(e.text, e.box) for e in im.objects()]
                self._cache[sha] = attributes(im.captions, objs, getattr(im, "crowd_boxes", ()))
        return self._cache[sha]

    def stated(self, sha: str, name: str) -> dict[str, Attribute]:
        """Every value of ``name`` any source states for the image, however weakly (for vetoes)."""
        out: dict[str, Attribute] = {}
        for a in self.all(sha):
            if a.name == name and (a.value not in out or a.confidence > out[a.value].confidence):
                out[a.value] = a
        return out

    def confident(self, sha: str, name: str) -> dict[str, Attribute]:
        """Values usable for an answer (the settings rule), best first."""
        by_value: dict[str, list[Attribute]] = {}
        for a in self.all(sha):
            if a.name == name and a.confidence >= self.min_confidence:
                by_value.setdefault(a.value, []).append(a)
        ok = {v: max(xs, key=lambda a: a.confidence) for v, xs in by_value.items()
              if len({a.source for a in xs}) >= min(self.agree_for_yes, self._sources(sha))}
        if name in SINGLE_VALUED and len(ok) > 1:
            best = min(ok.values(), key=lambda a: (TRUST.index(a.source), -a.confidence))
            ok = {best.value: best}
        return dict(sorted(ok.items(), key=lambda kv: -kv[1].confidence))

    def _sources(self, sha: str) -> int:
        return len({a.source for a in self.all(sha)}) or 1

    def top(self, sha: str, name: str) -> Attribute | None:
        c = self.confident(sha, name)
        return next(iter(c.values()), None)


def perception_for(ctx) -> PerceptionView:
    """The view a build context carries (created on first use)."""
    view = getattr(ctx, "_perception", None)
    if view is None:
        stored = getattr(ctx, "attributes", None) or {}
        view = PerceptionView(ctx.pool, stored, min_confidence=getattr(ctx, "attribute_min_confidence", 0.5),
                              agree_for_yes=getattr(ctx, "attribute_agree_for_yes", 1))
        ctx._perception = view
    return view
