"""Property tests of the build on synthetic graphs and pools (hypothesis draws the seeds)."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
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
def test_same_seed_same_candidates(graph_seed, pool_seed, seed):
    # 300 images: a synthetic world with one caption per image keeps few items (often only Layout's)
    made = world(graph_seed, pool_seed, n_images=300)
    _, first = run(graph_seed, pool_seed, seed, made=made)
    _, again = run(graph_seed, pool_seed, seed, made=world(graph_seed, pool_seed, n_images=300))
    assert ids(first) == ids(again)


def test_other_seeds_make_other_choices():
    # Not a hypothesis property: a world that keeps two items can build the same two under several seeds
    # (graph 0 / pool 181 under seeds 63 and 64; graph 0 / pool 1114 under 2, 3, 5 and 6), so drawn worlds made
    # it flaky. A fixed world whose build keeps six Layout items, under seeds 0-3: the seed decides choices.
    made = world(0, 3, n_images=300)
    builds = [ids(run(0, 3, s, made=made)[1]) for s in range(4)]
    assert all(sum(len(kept) for kept, _, _ in b.values()) >= 4 for b in builds)
    assert len({repr(b) for b in builds}) >= 3


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
