"""Label skew: each class divided over hospitals in Dirichlet(alpha) proportions.

Hsu, Qi and Brown, "Measuring the Effects of Non-Identical Data Distribution
for Federated Visual Classification", 2019, https://arxiv.org/abs/1909.06335.
"""

from __future__ import annotations

import numpy as np


def dirichlet_split(
    labels: np.ndarray, num_hospitals: int, alpha: float, rng: np.random.Generator
) -> list[np.ndarray]:
    """Split each class over hospitals in proportions drawn from Dirichlet(alpha).

    Small ``alpha`` gives each hospital few classes; large ``alpha`` tends to
    IID. Hospitals may come out small or empty; the caller repairs them.
    """
    parts: list[list[np.ndarray]] = [[] for _ in range(num_hospitals)]
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        proportions = rng.dirichlet(np.full(num_hospitals, alpha))
        cuts = np.floor(np.cumsum(proportions)[:-1] * len(members)).astype(np.int64)
        for hospital, piece in enumerate(np.split(members, cuts)):
            parts[hospital].append(piece)
    return [np.concatenate(pieces) for pieces in parts]
