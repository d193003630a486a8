"""Geometric median of hospital updates by the smoothed Weiszfeld algorithm.

Pillutla, Kakade and Harchaoui, "Robust Aggregation for Federated Learning",
IEEE Transactions on Signal Processing, 2022. https://arxiv.org/abs/1912.13445

The geometric median minimises the sum of Euclidean distances to the updates
and tolerates fewer than half of them being arbitrary. Weiszfeld's algorithm
repeatedly re-averages the updates with weights inversely proportional to
their distance from the current estimate; the smoothing floors each distance
at ``eps`` so that an estimate landing on an update does not divide by zero.
"""

from __future__ import annotations

import logging

import numpy as np

from medfed_ray.aggregators.base import Aggregate, Decision, check_updates
from medfed_ray.aggregators.distances import distances_to_combination, squared_distances
from medfed_ray.aggregators.fedavg import weighted_mean
from medfed_ray.aggregators.params import (
    is_finite_real,
    is_int,
    raise_problems,
    unknown_params,
)

logger = logging.getLogger(__name__)

PARAMS = ("max_iterations", "tolerance", "eps")

DOWN_WEIGHTED_SHARE = 0.5
"""A row whose final weight is below this share of ``1 / n`` is recorded as down-weighted.

Weiszfeld's weights always differ somewhat between honest rows; only a row
that counts less than half as much as under the plain mean is worth reporting.
"""


def aggregate(
    updates: np.ndarray,
    num_examples: np.ndarray | None = None,
    *,
    max_iterations: int = 100,
    tolerance: float = 1e-6,
    eps: float = 1e-6,
) -> Aggregate:
    """Return the approximate geometric median of the ``(n, d)`` float32 updates.

    Parameters
    ----------
    updates : numpy.ndarray
        float32 of shape ``(n, d)``, one row per hospital; only read.
    num_examples : numpy.ndarray, optional
        Ignored: every hospital counts alike, as in the median, so that one
        hospital cannot buy influence by claiming many examples. (The paper
        weights hospitals by their examples.)
    max_iterations : int, default 100
        Most Weiszfeld steps, ``>= 1``.
    tolerance : float, default 1e-6
        Stop once a step lowers the sum of distances by less than this
        fraction of it; ``>= 0``.
    eps : float, default 1e-6
        Smoothing, ``> 0``, in the units of the updates: distances below it
        count as ``eps``.

    Returns
    -------
    Aggregate
        ``contribution`` holds each row's final Weiszfeld weight (they sum to
        one). A row below half of ``1 / n`` is down-weighted, others selected.

    Raises
    ------
    ValueError
        If a parameter is outside its range.

    Notes
    -----
    Every estimate is a weighted average of the rows, so its distance to each
    row follows from the pairwise distances (see
    :func:`~medfed_ray.aggregators.distances.distances_to_combination`). The
    iterations therefore cost ``O(n**2)`` each, and the matrix is read twice in
    all: once for the distances and once for the final average.
    """
    check_updates(updates)
    raise_problems(_problems(max_iterations, tolerance, eps))
    n = updates.shape[0]

    weights = weiszfeld_weights(
        squared_distances(updates), max_iterations, tolerance, eps
    )

    decisions = tuple(
        Decision.DOWN_WEIGHTED
        if weight < DOWN_WEIGHTED_SHARE / n
        else Decision.SELECTED
        for weight in weights
    )
    return Aggregate(weighted_mean(updates, weights), decisions, weights)


def weiszfeld_weights(
    distances: np.ndarray, max_iterations: int, tolerance: float, eps: float
) -> np.ndarray:
    """Return the weights of the rows in the smoothed Weiszfeld estimate.

    ``distances`` is the ``(n, n)`` squared-distance matrix. The estimate
    starts at the mean.
    """
    n = distances.shape[0]
    weights = np.full(n, 1.0 / n, dtype=np.float64)
    smoothed = np.maximum(distances_to_combination(distances, weights), eps)
    objective = smoothed.sum()

    for step in range(1, max_iterations + 1):
        inverse = 1.0 / smoothed
        weights = inverse / inverse.sum()
        smoothed = np.maximum(distances_to_combination(distances, weights), eps)
        previous, objective = objective, smoothed.sum()
        if abs(previous - objective) <= tolerance * objective:
            logger.debug(
                "Weiszfeld converged after %d of %d steps", step, max_iterations
            )
            return weights

    logger.debug(
        "Weiszfeld stopped at max_iterations=%d with relative change %.3g > tolerance=%g",
        max_iterations,
        abs(previous - objective) / objective,
        tolerance,
    )
    return weights


def check_params(
    num_hospitals: int, num_malicious: int, /, **params: object
) -> list[str]:
    """Return every problem with ``params``; the hospital counts do not matter here."""
    defaults = {"max_iterations": 100, "tolerance": 1e-6, "eps": 1e-6}
    given = {name: params[name] for name in PARAMS if name in params}
    return unknown_params("geometric_median", params, PARAMS) + _problems(
        **(defaults | given)
    )


def _problems(max_iterations: object, tolerance: object, eps: object) -> list[str]:
    problems = []
    if not is_int(max_iterations) or max_iterations < 1:
        problems.append(
            "geometric_median needs max_iterations to be an integer >= 1; "
            f"found max_iterations={max_iterations!r}"
        )
    if not is_finite_real(tolerance) or tolerance < 0:
        problems.append(
            f"geometric_median needs tolerance >= 0; found tolerance={tolerance!r}"
        )
    if not is_finite_real(eps) or eps <= 0:
        problems.append(f"geometric_median needs eps > 0; found eps={eps!r}")
    return problems
