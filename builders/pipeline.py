"""Run builders, balance and filter their facts, and write candidates to the workspace catalogue.

``build_candidates`` is pure (context in, candidates out) so tests and the benchmark can call it on
any pool and graph; ``build`` wires it to a workspace (relation store, image pool, CandidateStore,
stage-run record, build report).

Rebuild policy: the candidate id hashes subtask, ordered pair, question and options, so an unchanged
item keeps its id and its review fields (CandidateStore.upsert keeps them). Builder candidates of a
rebuilt subtask that are still *unreviewed* and were not produced again are stale and deleted;
anything a reviewer touched (pending/validated/rejected/conflict) is kept, and new items on the same
pair + answer are filtered as ``duplicate_item``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from mmrakit.errors import InputError, WorkspaceError
from mmrakit.models import Candidate
from mmrakit.subtasks import mmra_subtasks, normalise_task_name
from mmrakit.stage import Progress

from .allocation import PARTNER_ROLES, allocate, usage
from .base import BuildContext, Fact, registry
from .compose import LetterSchedule, compose, option_texts
from .filters import FilterState, check
from .rules import rules

BUILDER_VERSION = "1"


def code_digest() -> str:
    """A digest of what decides the candidates besides the workspace's inputs: the builders' code and data
    (rules, templates, vocabularies), the perception vocabulary the image-level families read at build time
    and the caption linguistics. A workspace built by another version of them is out of date (an upgrade
    rebuilds; an unchanged second run skips)."""
    import hashlib
    from importlib import resources

    only = {"mmrakit.builders": None, "mmrakit.images": {"perception.py", "perception.toml"},
            "mmrakit.relations": {"text.py", "caption_lexicon.toml"}}
    h = hashlib.sha256()
    for package, names in only.items():
        files = [f for f in _walk(resources.files(package)) if f.name.endswith((".py", ".toml"))
                 and (names is None or f.name in names)]
        for f in sorted(files, key=lambda f: str(f)):
            h.update(f.name.encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:12]


def _walk(node):
    for child in node.iterdir():
        if child.is_dir():
            if child.name != "__pycache__":
                yield from _walk(child)
        else:
            yield child


@dataclass
class SubtaskResult:
    task: str
    target: int
    kept: list[Candidate] = field(default_factory=list)
    probes: list[Candidate] = field(default_factory=list)
    filtered: list[tuple[Candidate, str]] = field(default_factory=list)
    mined: int = 0
    skipped: Counter = field(default_factory=Counter)
    missing: dict[str, int] = field(default_factory=dict)
    alone: int | None = None  # items it keeps when built alone (None: not measured, a one-subtask build)
    dropped_overall_cap: int = 0  # of those, dropped because other subtasks keep their images (max_image_reuse_total)

    @property
    def shortfall(self) -> int:
        return max(0, self.target - len(self.kept))

    def summary(self) -> dict:
        reasons = Counter(r for _, r in self.filtered)
        out = {
            "task": self.task, "target": self.target, "mined": self.mined, "kept": len(self.kept),
            "order_probes": len(self.probes), "filtered": dict(sorted(reasons.items())),
            "skipped": dict(sorted(self.skipped.items())), "shortfall": self.shortfall,
        }
        if self.alone is not None:
            out["alone"] = self.alone
            out["dropped_overall_cap"] = self.dropped_overall_cap
        if self.shortfall:
            top = sorted(self.missing.items(), key=lambda kv: -kv[1])[:6]
            out["missing_evidence"] = {k: v for k, v in top} or {"no facts mined": 1}
        return out


def targets_for(subtasks: list[str], per_subtask: int | None, mmra_distribution: bool, default: int) -> dict[str, int]:
    info = mmra_subtasks()
    if mmra_distribution:
        return {t: info[t].mmra_count for t in subtasks}
    return {t: per_subtask or default for t in subtasks}


def resolve_subtasks(spec: str | list[str] | None) -> list[str]:
    """'all' / None -> all 11; otherwise names or abbreviations, comma-separated or a list."""
    if spec is None or spec == "all" or spec == ["all"]:
        return list(mmra_subtasks())
    items = spec.split(",") if isinstance(spec, str) else [s for part in spec for s in part.split(",")]
    out = []
    for item in (i.strip() for i in items if i.strip()):
        name = normalise_task_name(item)
        if name is None:
            raise InputError(f"unknown subtask {item!r}", hint=f"use 'all' or some of: {', '.join(mmra_subtasks())}")
        if name not in out:
            out.append(name)
    return out


def _quotas(qa_types: tuple[str, ...], target: int) -> dict[str, int]:
    has_choice, has_tf = "Choice QA" in qa_types, "True or false QA" in qa_types
    choice = target if not has_tf else (math.ceil(target / 2) if has_choice else 0)
    tf = target - choice
    return {"choice": choice, "Yes": math.ceil(tf / 2), "No": tf // 2}


def _bucket(f: Fact) -> str:
    return "choice" if f.qa_type == "Choice QA" else f.answer


def build_candidates(
    ctx: BuildContext,
    subtasks: list[str],
    targets: dict[str, int],
    *,
    reviewed: dict[str, list[Candidate]] | None = None,
    order_probes: bool = True,
    mine_factor: int = 40,
    progress: Progress | None = None,
    allocation: str = "joint",
    time_limit: float = 20.0,
    report: dict | None = None,
) -> dict[str, SubtaskResult]:
    """Mine, compose, filter and balance candidates for each subtask (deterministic under ctx.seed).

    Each image appears in at most ``ctx.max_image_reuse`` items of a subtask and ``ctx.max_image_reuse_total``
    items of the whole build. ``allocation`` says how the build-wide budget is shared:

    - ``"greedy"``: subtasks build one after another in ``build_order`` (builders/data/rules.toml), each
      spending what the earlier ones left;
    - ``"joint"`` (default): every subtask first builds alone (its own caps only); when their items together
      overrun the build-wide cap, an exact selection (:mod:`.allocation`) keeps the subset that raises the
      lowest fill ratio first, then the total, each subtask's item rules and balances intact; a subtask left
      short is rebuilt around the images the others keep. The greedy result stands when it scores as well
      or the solve runs out of time.

    ``report`` (a dict) receives the allocation's figures (method, per subtask alone / kept / dropped)."""
    for t in subtasks:
        if t not in registry():
            raise InputError(f"no builder registered for {t}")
    ordered = sorted(subtasks, key=lambda t: (rules()[t].param("build_order", 9), subtasks.index(t)))

    def one(task: str, reserved: Counter | None = None) -> SubtaskResult:
        return _build_subtask(ctx, task, targets[task], reserved=reserved, reviewed=reviewed,
                              order_probes=order_probes, mine_factor=mine_factor)

    def greedy() -> dict[str, SubtaskResult]:
        spent: Counter = Counter()
        out = {}
        for done, task in enumerate(ordered):
            if progress:
                progress("build subtasks", done, len(subtasks))
            out[task] = one(task, spent)
            spent = spent + usage(out[task].kept)
        return out

    if allocation not in ("joint", "greedy"):
        raise InputError(f"unknown allocation {allocation!r}", hint="use 'joint' or 'greedy'")
    if allocation == "greedy" or len(subtasks) < 2:
        results = greedy()
        info_ = {"method": "greedy" if len(subtasks) > 1 else "alone"}
    else:
        results, info_ = allocate(ctx, ordered, targets, one, greedy, time_limit=time_limit, progress=progress)
    if progress:
        progress("build subtasks", len(subtasks), len(subtasks))
    if report is not None:
        report.update(info_)
    return {t: results[t] for t in subtasks}


def _build_subtask(ctx: BuildContext, task: str, target: int, *, reserved: Counter | None, reviewed,
                   order_probes: bool, mine_factor: int) -> SubtaskResult:
    """One subtask's build, with ``reserved`` (image -> items of other subtasks) counting against the
    build-wide cap."""
    info = mmra_subtasks()
    reuse_total: Counter = Counter(reserved or {})  # image -> items over all subtasks of this build
    ctx.reuse_total = reuse_total  # read-only for builders that avoid spending capped images (PerceivedBuilder)
    ctx.missing[task] = Counter()  # this build's reasons only (a subtask may be built more than once)
    builder = registry()[task](ctx)
    res = SubtaskResult(task=task, target=target)
    rule = rules()[task]
    quotas = _quotas(info[task].qa_types, res.target)
    kept_n: Counter = Counter()
    # one answer may be the answer of at most this share of the target (never under 2 items): a string that
    # answers a fifth of a subtask ("for putting things on") is a prior a text-only reader learns
    share = rule.param("max_answer_share")
    answer_cap = max(2, round(float(share) * res.target)) if share is not None else None
    answers: Counter = Counter()
    overflow: dict[str, list[tuple[Fact, Candidate]]] = defaultdict(list)
    reuse: Counter = Counter()
    # closed option sets (every combination of sides is some item's answer) need no ledger
    options = OptionLedger(ctx.max_option_repeats if rule.param("option_ledger", True) else 10**9)
    kept_ids: set[str] = set()
    filtered_ids: set[str] = set()
    probe_ids: set[str] = set()
    state = FilterState(info[task].order_dependent, (reviewed or {}).get(task, ()))
    letters = LetterSchedule(ctx.rng(task, "letters"))
    phrasing_rng = ctx.rng(task, "phrasing")
    pair_phrasing: dict[str, int] = {}
    spare_rng = ctx.rng(task, "spare-letters")
    max_mined = max(200, mine_factor * max(1, res.target))

    def keep(fact: Fact, draft: Candidate) -> None:
        letter = letters.next(len(draft.options)) if draft.options else None
        final = compose(task, builder.granularity, fact, phrasing=draft.evidence.notes["phrasing"], letter=letter,
                        texts=list(draft.options.values()) if draft.options else None,
                        builder_version=BUILDER_VERSION, seed=ctx.seed)
        final.evidence.notes["key"] = fact.key
        if final.id in probe_ids:  # identical to an order probe already kept: the same item
            res.skipped["repeated_fact"] += 1
            return
        res.kept.append(final)
        kept_ids.add(final.id)
        kept_n[_bucket(fact)] += 1
        if fact.qa_type == "Choice QA":
            answers[fact.answer] += 1
        reuse[fact.image1] += 1
        reuse[fact.image2] += 1
        reuse_total[fact.image1] += 1
        reuse_total[fact.image2] += 1
        if final.options:
            options.record(fact.answer, [t for t in final.options.values() if t != fact.answer])
        if fact.twin is not None and order_probes and info[task].order_dependent:
            twin = fact.twin
            probe = compose(task, builder.granularity, twin, phrasing=draft.evidence.notes["phrasing"],
                            letter=None, options=final.options, builder_version=BUILDER_VERSION, seed=ctx.seed,
                            order_probe=True, twin_of=final.id)
            probe.evidence.notes["key"] = twin.key
            if probe.id in kept_ids or probe.id in filtered_ids:  # a regular item already asks exactly this
                res.skipped["repeated_fact"] += 1
                return
            reason = check(probe, twin, ctx, rule, state)
            if reason:
                res.filtered.append((probe, reason))
                filtered_ids.add(probe.id)
            else:
                res.probes.append(probe)
                probe_ids.add(probe.id)

    def reuse_ok(f: Fact) -> bool:
        return all(reuse[i] < ctx.max_image_reuse and reuse_total[i] < ctx.max_image_reuse_total
                   for i in (f.image1, f.image2))

    def image_room(sha: str, reuse=reuse) -> int:
        """How many more items of this subtask may show ``sha`` (the pair miner keeps pairs whole)."""
        return min(ctx.max_image_reuse - reuse[sha], ctx.max_image_reuse_total - reuse_total[sha])

    ctx.image_room = image_room

    def answer_ok(f: Fact) -> bool:
        return answer_cap is None or f.qa_type != "Choice QA" or answers[f.answer] < answer_cap

    for fact in builder.mine():
        if res.mined >= max_mined or all(kept_n[b] >= n for b, n in quotas.items()):
            break
        bucket = _bucket(fact)
        if quotas.get(bucket, 0) == 0:
            continue
        if not reuse_ok(fact):
            res.skipped["image_reuse_cap"] += 1
            continue
        if not answer_ok(fact):
            res.skipped["answer_cap"] += 1
            builder.missing(f"answer already the answer of {answer_cap} items (max_answer_share)")
            continue
        texts = None
        if fact.qa_type == "Choice QA":
            texts = option_texts(fact, int(rule.param("choice_options", ctx.choice_options)), allowed=options.allowed, prefer=options.preference)
            if texts is None:
                res.skipped["too_few_distractors"] += 1
                builder.missing("too few verified distractors left (after the option-repetition rule)")
                continue
        res.mined += 1
        phrasing = phrasing_rng.randrange(1_000_000)
        pid = fact.evidence.notes.get("pair_id")
        if pid and fact.evidence.notes.get("pair_role") in PARTNER_ROLES:  # partners ask in the same words
            phrasing = pair_phrasing.setdefault(pid, phrasing)
        draft = compose(task, builder.granularity, fact, phrasing=phrasing,
                        letter=spare_rng.choice("ABCD"[:len(texts)]) if texts else None, texts=texts,
                        builder_version=BUILDER_VERSION, seed=ctx.seed)
        draft.evidence.notes["key"] = fact.key
        if draft.id in kept_ids or draft.id in filtered_ids or draft.id in probe_ids:
            res.skipped["repeated_fact"] += 1  # the very same item mined again: nothing new to record
            continue
        reason = check(draft, fact, ctx, rule, state)
        if reason:
            res.filtered.append((draft, reason))
            filtered_ids.add(draft.id)
            continue
        if kept_n[bucket] < quotas[bucket]:
            keep(fact, draft)
        else:
            overflow[bucket].append((fact, draft))
    # top up from facts that passed but overflowed their bucket: Choice first, then whichever of
    # Yes/No has fewer kept so far (so the Yes/No balance stays as even as the facts allow)
    while len(res.kept) < res.target:
        order = ["choice"] + sorted(("Yes", "No"), key=lambda b: kept_n[b])
        bucket = next((b for b in order if overflow[b]), None)
        if bucket is None:
            break
        fact, draft = overflow[bucket].pop(0)
        distractors = [t for t in (draft.options or {}).values() if t != fact.answer]
        if reuse_ok(fact) and answer_ok(fact) and all(options.allowed(t, fact.answer) for t in distractors):
            keep(fact, draft)
    _balance_yes_no(res, builder)
    ctx.image_room = None
    res.missing = dict(ctx.missing[task])
    ctx.reuse_total = Counter()
    return res


class OptionLedger:
    """Option strings of one subtask's kept items: a distractor may repeat ``max_repeats`` times; past
    that it must also have been the answer of some item (else the same odd distractor recurs)."""

    def __init__(self, max_repeats: int) -> None:
        self.max_repeats = max_repeats
        self.as_answer: Counter = Counter()
        self.as_distractor: Counter = Counter()

    def allowed(self, text: str, answer: str | None = None) -> bool:
        return self.as_answer[text] > 0 or text == answer or self.as_distractor[text] < self.max_repeats

    def preference(self, text: str) -> tuple[int, int]:
        """Distractors already seen as an answer first, then the least repeated."""
        return (0 if self.as_answer[text] else 1, self.as_distractor[text])

    def record(self, answer: str, distractors: list[str]) -> None:
        self.as_answer[answer] += 1
        for d in distractors:
            self.as_distractor[d] += 1


def _balance_yes_no(res: SubtaskResult, builder) -> None:
    """Yes/No items must be balanced: when one answer ran short, drop the newest items of the other
    (and their order probes) until the counts differ by at most one; say so in ``missing``."""
    yes = [c for c in res.kept if c.qa_type == "True or false QA" and c.answer == "Yes"]
    no = [c for c in res.kept if c.qa_type == "True or false QA" and c.answer == "No"]
    bigger, smaller = (yes, no) if len(yes) > len(no) else (no, yes)
    excess = len(bigger) - len(smaller) - 1
    if excess <= 0:
        return
    drop = {c.id for c in bigger[-excess:]}
    res.kept = [c for c in res.kept if c.id not in drop]
    res.probes = [p for p in res.probes if p.twin_of not in drop]
    res.skipped["yes_no_balance"] += excess
    short = "Yes" if bigger is no else "No"
    builder.missing(f"too few '{short}' items to balance Yes/No ({len(smaller)}); dropped {excess} of the other answer")


def apply_panels(ws, results: dict[str, SubtaskResult], progress: Progress | None = None) -> dict:
    """Run the model panels ([panels]) on every kept item of the build: each item keeps the panel's
    answers (``evidence.notes["panel"]``); items the panel can answer move to ``filtered`` with the
    panel's reason, their order probes with them. Returns the build report's ``panels`` section."""
    from mmrakit.records import ImageCatalog

    from .panels import run_panels

    catalog = ImageCatalog(ws)

    def load_image(sha: str) -> bytes:
        rec = catalog.get(sha)
        if rec is None:
            raise InputError(f"image {sha} is not in the workspace's image catalogue")
        return catalog.file_path(rec).read_bytes()

    items = [c for res in results.values() for c in res.kept]
    if progress:
        progress("model panels", 0, 1)
    outcome = run_panels(items, ws.settings.panels, load_image=load_image,
                         cache_path=ws.path("candidates", "panel-cache.sqlite"))
    for res in results.values():
        for c in res.kept + res.probes:
            record = outcome.records.get(c.twin_of if c.order_probe else c.id)
            if record is not None:
                c.evidence.notes["panel"] = record
        gone = {c.id: outcome.filtered[c.id] for c in res.kept if c.id in outcome.filtered}
        res.filtered += [(c, gone[c.id]) for c in res.kept if c.id in gone]
        res.filtered += [(p, gone[p.twin_of]) for p in res.probes if p.twin_of in gone]
        res.kept = [c for c in res.kept if c.id not in gone]
        res.probes = [p for p in res.probes if p.twin_of not in gone]
    if progress:
        progress("model panels", 1, 1)
    return outcome.report


def link_partners(results: dict[str, SubtaskResult]) -> dict:
    """Counterfactual partners: kept items the pair miner mined together (one ``pair_id`` in their evidence,
    a positive and its hard negative, different answers) get that id as ``Candidate.pair_id``, so the runner
    scores them as a NaturalBench group and the export keeps them in one split. A partner that a filter or a
    panel removed leaves the other unpaired. Returns the build report's ``pairs`` section."""
    by_task: dict[str, int] = {}
    for task, res in results.items():
        groups: dict[str, list[Candidate]] = defaultdict(list)
        for c in res.kept:
            notes = c.evidence.notes
            if notes.get("pair_id") and notes.get("pair_role") in PARTNER_ROLES:
                groups[notes["pair_id"]].append(c)
        n = 0
        for pid, members in groups.items():
            roles = {m.evidence.notes["pair_role"] for m in members}
            if roles == set(PARTNER_ROLES) and len({m.answer for m in members}) > 1:
                for m in members:
                    m.pair_id = pid
                n += 1
        if n:
            by_task[task] = n
    return {"groups": sum(by_task.values()), "by_subtask": by_task,
            "rule": "a kept positive and its kept hard negative from the pair miner (one image swapped, answer flipped)"}


# --- workspace wiring ------------------------------------------------------------------------------

def open_context(ws, seed: int | None = None) -> BuildContext:
    """Graph + pool of a workspace; clear errors when relations or images are missing."""
    from mmrakit.images import ImagePool
    from mmrakit.relations import RelationStore

    from .graph import StoreGraph
    from .pool import pool_from_workspace

    try:
        store = RelationStore.open(ws)
    except (WorkspaceError, InputError) as exc:
        raise WorkspaceError(f"cannot build: {exc.message}",
                             hint=exc.hint or "run `mmrakit relations ingest SOURCE` first") from None
    if len(ImagePool(ws)) == 0:
        raise WorkspaceError(f"cannot build: no images imported in {ws.root}",
                             hint="import a pool first: `mmrakit images import DIR --format coco|jsonl|folder`")
    from mmrakit.images.annotate import AttributeStore

    graph = StoreGraph(store)
    annotated = AttributeStore(ws).all()
    pool = pool_from_workspace(ws, graph, annotated=annotated)
    s = ws.settings.builders
    band = s.caption_band if pool.caption_method == "sbert" else s.caption_band_fallback
    a = ws.settings.annotate
    return BuildContext(graph=graph, pool=pool, seed=s.seed if seed is None else seed,
                        caption_band=tuple(band), choice_options=s.choice_options,
                        max_image_reuse=s.max_image_reuse, max_image_reuse_total=s.max_image_reuse_total,
                        max_option_repeats=s.max_option_repeats, attributes=annotated,
                        attribute_min_confidence=a.min_confidence, attribute_agree_for_yes=a.agree_for_yes)


def build(
    ws,
    *,
    subtasks: str | list[str] | None = "all",
    per_subtask: int | None = None,
    mmra_distribution: bool = False,
    seed: int | None = None,
    force: bool = False,
    progress: Progress | None = None,
) -> dict:
    """Build candidates into the workspace's CandidateStore; returns the build report."""
    from mmrakit import atomic
    from mmrakit.records import CandidateStore

    chosen = resolve_subtasks(subtasks)
    s = ws.settings.builders
    seed = s.seed if seed is None else seed
    targets = targets_for(chosen, per_subtask, mmra_distribution, s.per_subtask)
    ctx = open_context(ws, seed)
    store = CandidateStore(ws)
    pool_digest = hashlib.sha256("\n".join(ctx.pool.order).encode()).hexdigest()
    from mmrakit.images import ImagePool

    # what the build read: the relation store file, the pool (images, groundings, dedup), the embeddings
    inputs = [ws.resolve(ws.settings.relations.db_file),
              {"pool": pool_digest, "pool_stats": ImagePool(ws).stats(), "captions": ctx.pool.caption_method,
               "clip": ctx.pool.clip_note, "subtasks": chosen, "targets": targets, "seed": seed,
               "attributes": hashlib.sha256(json.dumps({k: v.model_dump(mode="json") for k, v in sorted(ctx.attributes.items())},
                                                       sort_keys=True).encode()).hexdigest(),
               "annotate": ws.settings.annotate.model_dump(mode="json")}]
    if ws.settings.panels.enabled:  # the panels decide membership: their settings are inputs of the build
        inputs.append({"panels": ws.settings.panels.model_dump(mode="json")})
    with ws.stage_run("build", inputs=inputs, settings=s, code_version=f"{BUILDER_VERSION}:{code_digest()}", force=force) as run:
        if run.up_to_date:
            prev = ws.path("candidates", "build-report.json")
            report = json.loads(prev.read_text()) if prev.exists() else {"subtasks": []}
            report["up_to_date"] = True
            return report
        reviewed = {t: [r["candidate"] for r in store.rows(task=t, status=None, origin="builder")
                        if r["review_status"] != "unreviewed"] for t in chosen}
        allocation: dict = {}
        results = build_candidates(ctx, chosen, targets, reviewed=reviewed, order_probes=s.order_probes,
                                   progress=progress, allocation=s.allocation, time_limit=s.allocation_time_limit,
                                   report=allocation)
        panels = apply_panels(ws, results, progress) if ws.settings.panels.enabled else None
        partners = link_partners(results)
        stale = 0
        for task, res in results.items():
            produced = {c.id for c in res.kept} | {c.id for c in res.probes} | {c.id for c, _ in res.filtered}
            old = [r["id"] for r in store.rows(task=task, status=None, origin="builder")
                   if r["review_status"] == "unreviewed" and r["id"] not in produced]
            stale += store.delete(old) if old else 0
            store.upsert(res.kept + res.probes, status="kept")
            by_reason: dict[str, list[Candidate]] = defaultdict(list)
            kept_here = {c.id for c in res.kept} | {c.id for c in res.probes}
            for c, reason in res.filtered:
                if c.id not in kept_here:  # never demote a kept item that a repeat of it failed
                    by_reason[reason].append(c)
            for reason, cands in by_reason.items():
                store.upsert(cands, status="filtered", filter_reason=reason)
        report = {
            "seed": seed, "builder_version": BUILDER_VERSION, "images": len(ctx.pool),
            "caption_similarity_method": ctx.pool.caption_method, "clip": ctx.pool.clip_note,
            "stale_deleted": stale, "subtasks": [r.summary() for r in results.values()],
        }
        report["pairs"] = partners
        report["allocation"] = allocation
        if panels is not None:
            report["panels"] = panels
        atomic.write_text(ws.path("candidates", "build-report.json"), json.dumps(report, indent=2))
        run.counts.update({r.task: len(r.kept) for r in results.values()})
        run.outputs["report"] = str(ws.path("candidates", "build-report.json"))
        return report
