"""Property tests of the build on synthetic graphs and pools (hypothesis draws the seeds)."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from mmrakit.builders import BuildContext, build_candidates, resolve_subtasks
from mmrakit.builders.rules import rules
from support.synthetic import synthetic_graph, synthetic_pool
from mmrakit.relations import normalize_concept
from mmrakit.subtasks import mmra_subtasks

SUBTASKS = resolve_subtasks("all")
TARGET = 8
SETTINGS = settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def world(graph_seed: int, pool_seed: int, dup_rate: float = 0.1, n_images: int = 100):
    graph, vocab = synthetic_graph(24, seed=graph_seed)
    return graph, synthetic_pool(vocab, n_images, seed=pool_seed, dup_rate=dup_rate)


def run(graph_seed: int, pool_seed: int, seed: int, dup_rate: float = 0.1, reuse: int = 3, made=None):
    graph, pool = made or world(graph_seed, pool_seed, dup_rate)
    ctx = BuildContext(graph=graph, pool=pool, seed=seed, caption_band=(0.05, 0.8), max_image_reuse=reuse)
    return ctx, build_candidates(ctx, SUBTASKS, {t: TARGET for t in SUBTASKS})


def ids(results) -> dict[str, tuple]:
    return {t: (tuple(c.id for c in r.kept), tuple(c.id for c in r.probes), tuple((c.id, why) for c, why in r.filtered))
            for t, r in results.items()}


seeds = st.integers(min_value=0, max_value=10_000)


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(graph_seed=seeds, pool_seed=seeds, seed=seeds)
@example(graph_seed=0, pool_seed=181, seed=63)
def test_same_seed_same_candidates_other_seed_other_choices(graph_seed, pool_seed, seed):
    # 300 images: the synthetic world's one caption per image rarely supports a Layout composition, and
    # a build that keeps nothing cannot show that another seed makes other choices
    # (some drawn worlds still keep nothing, graph_seed=0, pool_seed=1060: hypothesis draws another; it reports
    # an unsatisfiable test when too few worlds keep anything)
    made = world(graph_seed, pool_seed, n_images=300)
    _, first = run(graph_seed, pool_seed, seed, made=made)
    assume(any(r.kept for r in first.values()))
    _, again = run(graph_seed, pool_seed, seed, made=world(graph_seed, pool_seed, n_images=300))
    assert ids(first) == ids(again)
    # another seed makes other choices: not every other seed for a build that keeps a couple of items (graph_seed=0,
    # pool_seed=181: two Layout items, the same under seeds 63 and 64, others under 65), but one of the next three
    assert any(ids(run(graph_seed, pool_seed, seed + k, made=made)[1]) != ids(first) for k in (1, 2, 3))


@SETTINGS
@given(graph_seed=seeds, pool_seed=seeds, seed=seeds, dup_rate=st.floats(0.0, 0.5), reuse=st.integers(1, 4))
def test_pairs_groups_reuse_and_balance(graph_seed, pool_seed, seed, dup_rate, reuse):
    ctx, results = run(graph_seed, pool_seed, seed, dup_rate, reuse)
    info = mmra_subtasks()
    for task, res in results.items():
        uses = Counter()
        for c in res.kept + res.probes:
            assert not ctx.pool.same_group(c.image1, c.image2), f"{task}: pair inside one duplicate group"
        for c in res.kept:
            uses[c.image1] += 1
            uses[c.image2] += 1
        assert max(uses.values(), default=0) <= reuse, task
        letters: dict[int, Counter] = {}
        for c in res.kept:
            if c.options:
                letters.setdefault(len(c.options), Counter())[c.answer] += 1
        for n, counts in letters.items():
            spread = [counts.get(letter, 0) for letter in "ABCD"[:n]]
            assert max(spread) - min(spread) <= 1, (task, n, counts)
        yn = Counter(c.answer for c in res.kept if c.qa_type == "True or false QA")
        assert abs(yn["Yes"] - yn["No"]) <= 1, (task, yn)
        assert len(res.kept) <= TARGET
        every = [c.id for c in res.kept + res.probes] + [c.id for c, _ in res.filtered]
        assert len(every) == len(set(every)), f"{task}: one item recorded twice"
        for p in res.probes:
            assert p.order_probe and info[task].order_dependent and p.twin_of in {c.id for c in res.kept}


# test_no_distractor_is_also_correct (graph reachability as the oracle) had only MentalitySimilarity left
# to check once UsageSimilarity, SimilarMaterial and AppearanceSimilarity moved to instance evidence;
# MentalitySimilarity now answers from perceived states (checked in tests/test_perception.py and
# tests/test_build_coco.py::test_perceived_answers_hold_and_no_distractor_is_also_correct).
