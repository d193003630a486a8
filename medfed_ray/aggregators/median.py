"""Coordinate-wise median of hospital updates.

Yin, Chen, Ramchandran and Bartlett, "Byzantine-Robust Distributed Learning:
Towards Optimal Statistical Rates", ICML 2018. https://arxiv.org/abs/1803.01498

Each coordinate of the aggregate is the median of that coordinate over the
hospitals; with an even count it is the midpoint of the two middle values. The
rule tolerates fewer than half of the hospitals being arbitrary.
"""

from __future__ import annotations

import numpy as np

from medfed_ray.aggregators.base import Aggregate, Decision, check_updates
from medfed_ray.aggregators.order_statistics import trimmed_mean_columns
from medfed_ray.aggregators.params import unknown_params


def aggregate(updates: np.ndarray, num_examples: np.ndarray | None = None) -> Aggregate:
    """Return the coordinate-wise median of the ``(n, d)`` float32 updates.

    The midpoint of the two middle values for even ``n`` is taken in float64,
    so two large float32 values never overflow to infinity. Sample counts are
    ignored: weighting would let one hospital claim many examples and win.

    ``contribution`` is how often each row supplied the median, averaged over
    coordinates; tied rows share the credit. A row that never did is rejected,
    one that sometimes did is trimmed (with one or two rows, all are selected).
    """
    check_updates(updates)
    n, d = updates.shape

    # The median is the trimmed mean that keeps one value (odd n) or two (even n).
    result, credit = trimmed_mean_columns(updates, (n - 1) // 2)
    contribution = credit / (d * (2 - n % 2))

    decisions = tuple(
        Decision.SELECTED
        if n <= 2
        else Decision.REJECTED
        if share == 0
        else Decision.TRIMMED
        for share in contribution
    )
    return Aggregate(result, decisions, contribution)


def check_params(
    num_hospitals: int, num_malicious: int, /, **params: object
) -> list[str]:
    """Return every problem with ``params``; the median takes none, so any name is one."""
    return unknown_params("median", params, ())
