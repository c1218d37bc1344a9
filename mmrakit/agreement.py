"""Agreement statistics over nominal labels (pure maths; review status and exports both use them).

Fleiss' kappa (items with the same number of labels), Krippendorff's alpha (nominal, missing labels
allowed; the ``krippendorff`` package) and Cohen's kappa for two raters. Each returns None, not 1,
when only one category occurs: agreement is then undefined.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence

Ratings = Mapping[str, Mapping[str, str]]  # item -> rater -> category


def fleiss_kappa(items: Sequence[Sequence[str]]) -> float | None:
    """Fleiss' kappa for items that each carry the same number (>= 2) of categorical ratings."""
    items = [list(x) for x in items]
    if not items:
        return None
    n = len(items[0])
    if n < 2 or any(len(x) != n for x in items):
        raise ValueError("Fleiss' kappa needs the same number (>= 2) of ratings per item")
    totals: Counter[str] = Counter()
    p_bar = 0.0
    for ratings in items:
        counts = Counter(ratings)
        totals.update(counts)
        p_bar += (sum(c * c for c in counts.values()) - n) / (n * (n - 1))
    p_bar /= len(items)
    p_e = sum((c / (len(items) * n)) ** 2 for c in totals.values())
    if math.isclose(p_e, 1.0):
        return None  # one category everywhere: agreement is undefined, not perfect
    return (p_bar - p_e) / (1 - p_e)


def krippendorff_alpha(ratings: Ratings) -> float | None:
    """Nominal Krippendorff's alpha over items x raters with missing ratings allowed."""
    import numpy as np

    import krippendorff

    raters = sorted({r for per in ratings.values() for r in per})
    items = [i for i, per in ratings.items() if len(per) >= 2]
    cats = sorted({c for i in items for c in ratings[i].values()})
    if len(items) < 1 or len(cats) < 2:
        return None
    code = {c: k for k, c in enumerate(cats)}
    data = np.full((len(raters), len(items)), np.nan)
    for j, item in enumerate(items):
        for i, rater in enumerate(raters):
            if rater in ratings[item]:
                data[i, j] = code[ratings[item][rater]]
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float | None:
    """Cohen's kappa of two raters over the same items."""
    if len(a) != len(b):
        raise ValueError("Cohen's kappa needs paired ratings")
    n = len(a)
    if n == 0:
        return None
    p_o = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    p_e = sum(ca[k] * cb.get(k, 0) for k in ca) / (n * n)
    if math.isclose(p_e, 1.0):
        return None
    return (p_o - p_e) / (1 - p_e)
