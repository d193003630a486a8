"""Mean: every hospital's update counts equally, whatever its number of examples.

The unweighted average is the baseline that robust aggregation rules are
compared against (e.g. Yin et al., 2018, https://arxiv.org/abs/1803.01498).
"""

from __future__ import annotations

import numpy as np

from medfed_ray.aggregators.base import Aggregate, Decision, check_updates
from medfed_ray.aggregators.fedavg import weighted_mean
from medfed_ray.aggregators.params import unknown_params


def aggregate(updates: np.ndarray, num_examples: np.ndarray | None = None) -> Aggregate:
    """Average the ``(n, d)`` float32 updates with equal weights."""
    check_updates(updates)
    n = updates.shape[0]
    weights = np.full(n, 1.0 / n, dtype=np.float64)
    return Aggregate(weighted_mean(updates, weights), (Decision.SELECTED,) * n, weights)


def check_params(
    num_hospitals: int, num_malicious: int, /, **params: object
) -> list[str]:
    """Return every problem with ``params``; the mean takes none, so any name is one."""
    return unknown_params("mean", params, ())
