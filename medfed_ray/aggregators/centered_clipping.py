"""Centered clipping: average the updates after clipping them around a reference point.

Karimireddy, He and Jaggi, "Learning from History for Byzantine Robust
Optimization", ICML 2021. https://arxiv.org/abs/2012.10333

Starting from a reference point ``v`` (in the paper, the previous round's
aggregate momentum), each iteration moves ``v`` by the mean of the updates'
offsets from it, every offset clipped to length at most ``tau``:
``v <- v + (1/n) sum_i (x_i - v) min(1, tau / ||x_i - v||)``. An attacker can
move the aggregate by at most ``tau / n`` per iteration.
"""

from __future__ import annotations

import numpy as np

from medfed_ray.aggregators.base import (
    Aggregate,
    Decision,
    block_width,
    check_updates,
    map_blocks,
)
from medfed_ray.aggregators.distances import distances_to_combination, squared_distances
from medfed_ray.aggregators.fedavg import WEIGHTED_MEAN_BLOCK_BYTES
from medfed_ray.aggregators.params import (
    is_finite_real,
    is_int,
    raise_problems,
    unknown_params,
)

PARAMS = ("clip_radius", "iterations")


def aggregate(
    updates: np.ndarray,
    num_examples: np.ndarray | None = None,
    *,
    clip_radius: float,
    iterations: int = 1,
    center: np.ndarray | None = None,
) -> Aggregate:
    """Return the centered-clipping aggregate of the ``(n, d)`` float32 updates.

    Parameters
    ----------
    updates : numpy.ndarray
        float32 of shape ``(n, d)``, one row per hospital; only read.
    num_examples : numpy.ndarray, optional
        Ignored: every hospital counts alike.
    clip_radius : float
        ``tau > 0``, the longest offset from the reference point an update may
        have, in the units of the updates.
    iterations : int, default 1
        How many clipping steps, ``>= 1``.
    center : numpy.ndarray, optional
        The reference point, shape ``(d,)``: the caller passes the previous
        round's aggregate (the server momentum in the paper). By default the
        origin, i.e. a zero update, so that the first round clips every update
        to norm ``tau`` before averaging.

    Returns
    -------
    Aggregate
        The aggregate equals ``c_0 * center + sum_i contribution[i] * x_i``
        with ``c_0 = 1 - sum(contribution)``. A row whose offset was clipped
        in the last iteration is down-weighted, the others are selected.

    Raises
    ------
    ValueError
        If a parameter is outside its range or ``center`` has the wrong shape
        or non-finite values.
    """
    check_updates(updates)
    n, d = updates.shape
    raise_problems(_problems(clip_radius, iterations) + _center_problems(center, d))
    center = np.zeros(d) if center is None else np.asarray(center, dtype=np.float64)

    # The reference point is point n; each iterate is a convex combination of
    # all n + 1 points, so its distances follow from one distance matrix.
    distances = squared_distances(updates, center[None, :])
    coefficients = np.zeros(n + 1, dtype=np.float64)
    coefficients[n] = 1.0
    for _ in range(iterations):
        offsets = distances_to_combination(distances, coefficients)[:n]
        clipped = offsets > clip_radius
        scales = np.ones(n, dtype=np.float64)
        scales[clipped] = clip_radius / offsets[clipped]
        coefficients *= 1.0 - scales.mean()
        coefficients[:n] += scales / n

    decisions = tuple(
        Decision.DOWN_WEIGHTED if scale < 1.0 else Decision.SELECTED for scale in scales
    )
    update = _combine(updates, coefficients[:n], center, coefficients[n])
    return Aggregate(update, decisions, coefficients[:n].copy())


def _combine(
    updates: np.ndarray, weights: np.ndarray, center: np.ndarray, center_weight: float
) -> np.ndarray:
    """Return ``center_weight * center + weights @ updates`` as float32, in float64."""
    n, d = updates.shape
    result = np.empty(d, dtype=np.float32)

    def combine_block(start: int, stop: int) -> None:
        block = weights @ updates[:, start:stop].astype(np.float64)
        result[start:stop] = block + center_weight * center[start:stop]

    map_blocks(combine_block, d, block_width(n, WEIGHTED_MEAN_BLOCK_BYTES))
    return result


def check_params(
    num_hospitals: int, num_malicious: int, /, **params: object
) -> list[str]:
    """Return every problem with ``params``; the hospital counts do not matter here.

    ``center`` is not a scenario setting: the caller passes it each round.
    """
    problems = unknown_params("centered_clipping", params, PARAMS)
    if "clip_radius" not in params:
        problems.append(
            "centered_clipping needs clip_radius, the clipping radius tau > 0; none given"
        )
    return problems + _problems(
        params.get("clip_radius", 1.0), params.get("iterations", 1)
    )


def _problems(clip_radius: object, iterations: object) -> list[str]:
    problems = []
    if not is_finite_real(clip_radius) or clip_radius <= 0:
        problems.append(
            f"centered_clipping needs clip_radius > 0; found clip_radius={clip_radius!r}"
        )
    if not is_int(iterations) or iterations < 1:
        problems.append(
            "centered_clipping needs iterations to be an integer >= 1; "
            f"found iterations={iterations!r}"
        )
    return problems


def _center_problems(center: np.ndarray | None, d: int) -> list[str]:
    if center is None:
        return []
    shape = np.shape(center)
    if shape != (d,):
        return [f"centered_clipping needs center of shape ({d},); found shape {shape}"]
    if not np.isfinite(center).all():
        return ["centered_clipping needs a finite center; found non-finite values"]
    return []
