"""The straightforward numpy versions each aggregation rule is benchmarked against.

Each is what one would write first, without blocks, threads or a Gram matrix;
they also serve as the check that the fast rule computes the same thing.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

Reference = Callable[[np.ndarray, np.ndarray, dict], np.ndarray]


def mean(updates: np.ndarray, num_examples: np.ndarray, params: dict) -> np.ndarray:
    """``updates.mean(axis=0)``."""
    return updates.mean(axis=0, dtype=np.float64)


def fedavg(updates: np.ndarray, num_examples: np.ndarray, params: dict) -> np.ndarray:
    """``np.average`` weighted by the example counts."""
    return np.average(updates.astype(np.float64), axis=0, weights=num_examples)


def median(updates: np.ndarray, num_examples: np.ndarray, params: dict) -> np.ndarray:
    """``np.median(updates, axis=0)``."""
    return np.median(updates, axis=0)


def trimmed_mean(
    updates: np.ndarray, num_examples: np.ndarray, params: dict
) -> np.ndarray:
    """Sort every column, then average the middle rows."""
    n = updates.shape[0]
    k = math.floor(params["trim_fraction"] * n)
    return np.sort(updates, axis=0)[k : n - k].mean(axis=0, dtype=np.float64)


def pairwise_squared_distances(updates: np.ndarray) -> np.ndarray:
    """``np.linalg.norm(a - b)`` for every pair of rows, one pair at a time."""
    n = updates.shape[0]
    distances = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            distance = np.linalg.norm(updates[i] - updates[j]) ** 2
            distances[i, j] = distances[j, i] = distance
    return distances


def krum_scores(updates: np.ndarray, num_malicious: int) -> np.ndarray:
    """Krum scores from the pairwise loop."""
    n = updates.shape[0]
    distances = pairwise_squared_distances(updates)
    return np.array(
        [
            np.sort(np.delete(distances[i], i))[: n - num_malicious - 2].sum()
            for i in range(n)
        ]
    )


def krum(updates: np.ndarray, num_examples: np.ndarray, params: dict) -> np.ndarray:
    """The row with the lowest Krum score."""
    return updates[np.argmin(krum_scores(updates, params["num_malicious"]))]


def multi_krum(
    updates: np.ndarray, num_examples: np.ndarray, params: dict
) -> np.ndarray:
    """The mean of the rows with the lowest Krum scores."""
    scores = krum_scores(updates, params["num_malicious"])
    selected = params.get("num_selected") or updates.shape[0] - params["num_malicious"]
    chosen = np.argsort(scores, kind="stable")[:selected]
    return updates[chosen].mean(axis=0, dtype=np.float64)


def geometric_median(
    updates: np.ndarray, num_examples: np.ndarray, params: dict
) -> np.ndarray:
    """Smoothed Weiszfeld with a norm over every row in each iteration."""
    max_iterations = params.get("max_iterations", 100)
    tolerance = params.get("tolerance", 1e-6)
    eps = params.get("eps", 1e-6)

    def smoothed_distances(point: np.ndarray) -> np.ndarray:
        return np.maximum([np.linalg.norm(row - point) for row in updates], eps)

    estimate = updates.mean(axis=0, dtype=np.float64)
    distances = smoothed_distances(estimate)
    objective = distances.sum()
    for _ in range(max_iterations):
        weights = (1.0 / distances) / (1.0 / distances).sum()
        estimate = weights @ updates
        distances = smoothed_distances(estimate)
        previous, objective = objective, distances.sum()
        if abs(previous - objective) <= tolerance * objective:
            break
    return estimate


def centered_clipping(
    updates: np.ndarray, num_examples: np.ndarray, params: dict
) -> np.ndarray:
    """Clip every row's offset from the current point and step, in coordinates."""
    tau = params["clip_radius"]
    point = np.zeros(updates.shape[1])
    for _ in range(params.get("iterations", 1)):
        step = np.zeros_like(point)
        for row in updates:
            offset = row - point
            norm = np.linalg.norm(offset)
            step += offset * (1.0 if norm <= tau else tau / norm)
        point = point + step / len(updates)
    return point


REFERENCES: dict[str, tuple[str, Reference]] = {
    "fedavg": ("np.average", fedavg),
    "mean": ("ndarray.mean", mean),
    "median": ("np.median", median),
    "trimmed_mean": ("np.sort", trimmed_mean),
    "krum": ("pairwise norms", krum),
    "multi_krum": ("pairwise norms", multi_krum),
    "geometric_median": ("row-norm loop", geometric_median),
    "centered_clipping": ("row loop", centered_clipping),
}
"""Each rule's reference: a short name for the table, and the function."""
