"""Coordinate-wise trimmed mean of hospital updates.

Yin, Chen, Ramchandran and Bartlett, "Byzantine-Robust Distributed Learning:
Towards Optimal Statistical Rates", ICML 2018. https://arxiv.org/abs/1803.01498

For every coordinate the rule drops the ``k = floor(trim_fraction * n)``
largest and ``k`` smallest values and averages the rest. It tolerates up to
``k`` arbitrary hospitals per coordinate.
"""

from __future__ import annotations

import math

import numpy as np

from medfed_ray.aggregators.base import Aggregate, Decision, check_updates
from medfed_ray.aggregators.order_statistics import trimmed_mean_columns
from medfed_ray.aggregators.params import is_finite_real, raise_problems, unknown_params

PARAMS = ("trim_fraction",)


def aggregate(
    updates: np.ndarray,
    num_examples: np.ndarray | None = None,
    *,
    trim_fraction: float = 0.1,
) -> Aggregate:
    """Return the coordinate-wise trimmed mean of the ``(n, d)`` float32 updates.

    Parameters
    ----------
    updates : numpy.ndarray
        float32 of shape ``(n, d)``, one row per hospital; only read.
    num_examples : numpy.ndarray, optional
        Ignored: weighting would let one hospital claim many examples and win.
    trim_fraction : float, default 0.1
        Share of the hospitals dropped at each end of every coordinate, in
        ``[0, 0.5)``; ``floor(trim_fraction * n)`` values go at each end.

    Returns
    -------
    Aggregate
        ``contribution[i]`` is row ``i``'s share of the aggregate: the share of
        coordinates where it was kept, divided by the ``n - 2k`` rows kept per
        coordinate, so that the shares sum to one. A row kept everywhere is
        selected, one dropped somewhere is trimmed, one dropped everywhere is
        rejected.

    Raises
    ------
    ValueError
        If ``trim_fraction`` is outside ``[0, 0.5)``.
    """
    check_updates(updates)
    raise_problems(_problems(trim_fraction))
    n, d = updates.shape
    k = math.floor(trim_fraction * n)

    result, credit = trimmed_mean_columns(updates, k)
    contribution = credit / (d * (n - 2 * k))

    decisions = tuple(
        Decision.SELECTED
        if kept == d
        else Decision.REJECTED
        if kept == 0
        else Decision.TRIMMED
        for kept in credit
    )
    return Aggregate(result, decisions, contribution)


def check_params(
    num_hospitals: int, num_malicious: int, /, **params: object
) -> list[str]:
    """Return every problem with ``params`` for ``num_hospitals`` hospitals.

    ``num_malicious`` is not checked against the trimming: dropping fewer
    values than there are attackers is a legitimate experiment.
    """
    problems = unknown_params("trimmed_mean", params, PARAMS)
    if "trim_fraction" in params:
        problems += _problems(params["trim_fraction"])
    return problems


def _problems(trim_fraction: object) -> list[str]:
    if not is_finite_real(trim_fraction) or not 0 <= trim_fraction < 0.5:
        return [
            "trimmed_mean needs trim_fraction in [0, 0.5); "
            f"found trim_fraction={trim_fraction!r}"
        ]
    return []
