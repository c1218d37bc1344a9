"""Run one evaluation: dataset -> requests -> (cache | backend) -> extraction -> scores -> report.

Every response is committed to the SQLite cache the moment it arrives, so a killed run resumes
where it stopped, and a finished run re-scores without calling the model. Calls that fail for
good are reported per item and are not cached: re-running retries only those.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from mmrakit.circular import rotation_id, rotations
from mmrakit.errors import ConfigError, InputError
from mmrakit.settings import Settings

from .backends import AsyncBackend, Backend, BatchBackend, Request, make_backend, split_text_only
from .backends.baselines import PredictionsBackend
from mmrakit.modelhub.cache import ResponseCache, cache_key
from .datasets import EvalDataset, load_eval_dataset
from .items import EvalItem
from mmrakit.modelhub.prompts import (
    PROMPT_TEMPLATES, TRUE_FALSE_QA, extract_mmra_answer, extract_mmra_answer_demo, extract_remi_answer, mmra_prompt, remi_prompt_parts,
)
from .scoring import mmra_correct, remi_correct, summarise

Setting = Literal["IQ", "QO"]
Progress = Callable[[int, int], None]


class EvalOutcome(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    out_dir: Path
    summary: dict[str, Any]
    records: list[dict[str, Any]]
    calls: int
    cached: int
    errors: int
    seconds: float


# --- requests -------------------------------------------------------------------------------------

def build_request(item: EvalItem, *, setting: Setting, settings: Settings, label_pool: list[str] | None = None) -> Request:
    with_images = setting == "IQ"
    if item.format == "mmra":
        text = mmra_prompt(item.question, item.options, item.qa_type or "")
        images = [img for img in item.images if img is not None] if with_images else []
        parts = [*images, text] if PROMPT_TEMPLATES["mmra"].get("images_first", True) else [text, *images]
        choices = ["Yes", "No"] if item.qa_type == TRUE_FALSE_QA else list(item.options or {})
        return Request(item_id=item.id, format="mmra", parts=parts, max_new_tokens=settings.eval.mmra_max_new_tokens,
                       choices=choices, option_texts=item.options, question=item.question)
    present = {k: img for k, img in item.present_images()}
    parts: list[Any] = []
    for p in remi_prompt_parts(item.question, item.task, available=list(present)):
        if isinstance(p, int):
            if with_images:
                parts.append(present[p])
        elif parts and isinstance(parts[-1], str):
            parts[-1] += p
        else:
            parts.append(p)
    return Request(item_id=item.id, format="remi", parts=parts, max_new_tokens=settings.eval.max_new_tokens,
                   question=item.question, label_pool=label_pool or [])


def request_keys(backend: Backend, requests: list[Request], setting: str) -> list[str]:
    """One key per request: the cache key, and the identity under which equal requests share a call.

    For a model backend the key is the prompt (text, image hashes) plus the backend fingerprint and
    generation settings, so only truly identical prompts share a response. A backend whose answers
    belong to items (saved predictions, the seeded random baseline) adds the item id: an item is
    never scored with another item's response.
    """
    return [cache_key(backend.fingerprint, r.key_parts(),
                      {**backend.generation, "max_new_tokens": r.max_new_tokens, "setting": setting},
                      item_id=r.item_id if backend.answers_per_item else None) for r in requests]


def score_item(item: EvalItem, response: str | None) -> tuple[str | None, str, bool]:
    """(extracted, method, correct) for a raw response (None = the call failed)."""
    if response is None:
        return None, "error", False
    if item.format == "mmra":
        extracted, method = extract_mmra_answer(response, item.options, item.qa_type or "")
        return extracted, method, mmra_correct(item.answer, extracted)
    pred, method = extract_remi_answer(response)
    return pred, method, remi_correct(item.task, item.answer, pred)


def circular_items(items: list[EvalItem]) -> tuple[list[EvalItem], dict[str, list[EvalItem]]]:
    """The items to ask in circular mode: every item, plus rotations 1..n-1 of each Choice QA item
    (ids ``<id>@r<k>``). Returns (all items to ask, {item id: its rotations k >= 1})."""
    out: list[EvalItem] = []
    rotated: dict[str, list[EvalItem]] = {}
    for it in items:
        out.append(it)
        if it.format != "mmra" or not it.options or it.qa_type == TRUE_FALSE_QA:
            continue
        for k, options, answer in rotations(it.options, it.answer)[1:]:
            twin = it.model_copy(update={"id": rotation_id(it.id, k), "options": options, "answer": answer})
            rotated.setdefault(it.id, []).append(twin)
            out.append(twin)
    return out, rotated


# --- execution ------------------------------------------------------------------------------------

async def _run_async(backend: AsyncBackend, todo: list[tuple[str, Request]], cache: ResponseCache | None,
                     concurrency: int, results: dict[str, str], errors: dict[str, str], progress: Progress | None,
                     done0: int, total: int) -> None:
    sem = asyncio.Semaphore(concurrency)
    if hasattr(backend, "connections"):
        backend.connections = concurrency
    done = done0

    async def one(key: str, req: Request) -> None:
        nonlocal done
        async with sem:
            started = time.perf_counter()
            try:
                text = await backend.agenerate(req)
            except (ConfigError, InputError):
                raise
            except Exception as exc:  # one item's failure must not sink the run
                if getattr(exc, "fatal", False):
                    raise
                errors[key] = str(exc).splitlines()[0]
            else:
                results[key] = text
                if cache is not None:
                    cache.put(key, backend.fingerprint, text, time.perf_counter() - started)
            done += 1
            if progress:
                progress(done, total)

    tasks = [asyncio.create_task(one(k, r)) for k, r in todo]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
    finally:
        await backend.aclose()


def _run_batches(backend: BatchBackend, todo: list[tuple[str, Request]], cache: ResponseCache | None,
                 results: dict[str, str], progress: Progress | None, done0: int, total: int) -> None:
    done = done0
    step = max(1, backend.batch_size)
    for start in range(0, len(todo), step):
        chunk = todo[start:start + step]
        started = time.perf_counter()
        texts = backend.generate_batch([r for _, r in chunk])
        per = (time.perf_counter() - started) / len(chunk)
        for (key, _), text in zip(chunk, texts):
            results[key] = text
            if cache is not None:
                cache.put(key, backend.fingerprint, text, per)
        done += len(chunk)
        if progress:
            progress(done, total)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")[-60:] or "run"


def run_name(source: str, spec: str, setting: str) -> str:
    return f"{_slug(Path(source).name or source)}__{_slug(spec)}__{setting}"


def run_eval(
    dataset: str | EvalDataset,
    model: str | None = None,
    *,
    settings: Settings | None = None,
    ws: Any = None,
    setting: Setting = "IQ",
    limit: int | None = None,
    concurrency: int | None = None,
    out_dir: str | Path | None = None,
    predictions: str | Path | None = None,
    split: str | None = None,
    cache_path: str | Path | None = None,
    progress: Progress | None = None,
    circular: bool | None = None,
) -> EvalOutcome:
    """Evaluate ``model`` (a backend SPEC) or a ``predictions`` JSONL on ``dataset`` and write the report.

    ``circular``: also ask every Choice QA item with its options rotated (VLMEvalKit's CircularEval) and
    report the circular accuracy beside the plain one (which stays the accuracy on the original order)."""
    from .report import write_report

    t0 = time.perf_counter()
    settings = settings or (ws.settings if ws is not None else Settings())
    circular = settings.eval.circular if circular is None else circular
    if (model is None) == (predictions is None):
        raise ConfigError("give exactly one of --model SPEC and --predictions FILE")
    if setting not in ("IQ", "QO"):
        raise ConfigError(f"--setting must be IQ or QO, got {setting!r}")
    ds = dataset if isinstance(dataset, EvalDataset) else load_eval_dataset(dataset, ws=ws, split=split, limit=limit)
    if not ds.items:
        raise InputError(f"{ds.source}: no items to evaluate")

    asked, rotated = circular_items(ds.items) if circular else (ds.items, {})
    backend: Backend
    if predictions is not None:
        backend = PredictionsBackend(predictions)
        backend.check_ids([it.id for it in asked])
        spec = backend.spec
    else:
        spec, text_only = split_text_only(model or "")
        if text_only:
            setting = "QO"
        backend = make_backend(spec, settings.eval, settings.clip, text_only=setting == "QO")
        spec = model or spec

    name = run_name(ds.source, spec, setting) + ("__circular" if circular else "")
    if out_dir is None:
        out_dir = ws.path("eval", name) if ws is not None else Path("eval-results") / name
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stage = (ws.stage_run("eval", key=name, inputs=[ds.source, spec, setting, limit, circular], settings=settings.eval,
                          force=True) if ws is not None else contextlib.nullcontext())
    with stage as run:  # in a workspace, `mmrakit status` shows the run (done / failed / interrupted)
        use_cache = not isinstance(backend, PredictionsBackend)
        if cache_path is None:
            cache_path = ws.path("eval", "cache.sqlite") if ws is not None else out_dir / "cache.sqlite"
        cache = ResponseCache(cache_path) if use_cache else None

        pools: dict[str, list[str]] = {}
        for it in ds.items:
            pools.setdefault(it.task, []).append(it.answer)
        requests = [build_request(it, setting=setting, settings=settings, label_pool=pools[it.task]) for it in asked]
        keys = request_keys(backend, requests, setting)
        results: dict[str, str] = {k: v[0] for k, v in cache.get_many(keys).items()} if cache is not None else {}
        n_cached = len({k for k in keys if k in results})
        todo, seen = [], set()
        for key, req in zip(keys, requests):  # identical prompts (equal keys) share one call
            if key not in results and key not in seen:
                seen.add(key)
                todo.append((key, req))
        errors: dict[str, str] = {}  # by request key, so every item sharing a failed call reports it
        if progress:
            progress(len(keys) - len(todo), len(keys))
        try:
            if todo:
                if isinstance(backend, AsyncBackend):
                    conc = concurrency or settings.eval.concurrency
                    asyncio.run(_run_async(backend, todo, cache, conc, results, errors, progress,
                                           len(keys) - len(todo), len(keys)))
                else:
                    _run_batches(backend, todo, cache, results, progress, len(keys) - len(todo), len(keys))  # type: ignore[arg-type]
        finally:
            backend.close()
            if cache is not None:
                cache.close()

        records, asked_records = [], {}
        for item, req, key in zip(asked, requests, keys):
            response = results.get(key)
            extracted, method, correct = score_item(item, response)
            asked_records[item.id] = {
                "id": item.id, "task": item.task, "level": item.level, "qa_type": item.qa_type,
                "question": item.question, "prompt": req.prompt_repr(),
                "images": [img.sha256 for img in req.images],
                "response": response, "extracted": extracted, "method": method, "answer": item.answer,
                "correct": correct, "error": errors.get(key), "twin_of": item.twin_of, "order_probe": item.order_probe,
                "pair_id": item.pair_id,
            }
            if item.pair_id:  # the pair group's image units (NaturalBench image accuracy), in any setting
                asked_records[item.id]["item_images"] = [img.sha256 for img in item.images if img is not None]
        for item in ds.items:
            records.append(asked_records[item.id])
            if circular and item.id in rotated:
                turns = [asked_records[t.id] for t in rotated[item.id]]
                records[-1]["rotations"] = 1 + len(turns)
                records[-1]["circular_correct"] = bool(records[-1]["correct"]) and all(t["correct"] for t in turns)
                records[-1]["rotated"] = [{"id": t["id"], "answer": t["answer"], "response": t["response"],
                                           "extracted": t["extracted"], "correct": t["correct"], "error": t["error"]}
                                          for t in turns]
            elif circular:
                records[-1]["circular_correct"] = None
            if item.format == "mmra":  # MMRA's own extraction rule, for comparison with its published numbers
                response = records[-1]["response"]
                demo = extract_mmra_answer_demo(response, item.qa_type or "") if response is not None else None
                records[-1]["correct_demo_rule"] = mmra_correct(item.answer, demo)
        n_errors = sum(1 for r in asked_records.values() if r["error"])
        summary = summarise(ds.format, records, samples=settings.eval.bootstrap_samples, seed=settings.eval.seed)
        meta = {
            "dataset": ds.source, "split": ds.split, "format": ds.format, "items": len(records), "rows": ds.total_rows,
            "limit": limit, "model": spec, "backend_fingerprint": backend.fingerprint, "setting": setting,
            "generation": {**backend.generation, "max_new_tokens": sorted({r.max_new_tokens for r in requests})},
            "calls": len(todo), "cached": n_cached, "errors": n_errors, "circular": circular,
            "requests": len(requests),
        }
        seconds = time.perf_counter() - t0
        write_report(out_dir, meta=meta, summary=summary, records=records)
        if run is not None:
            run.counts = {"items": len(records), "calls": len(todo), "cached": n_cached, "errors": n_errors}
            run.outputs = {"dir": str(out_dir), "overall": summary["overall"]["accuracy"]}
    return EvalOutcome(out_dir=out_dir, summary={"meta": meta, **summary}, records=records, calls=len(todo),
                       cached=n_cached, errors=n_errors, seconds=seconds)
