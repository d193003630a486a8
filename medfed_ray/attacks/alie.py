"""ALIE, "A Little Is Enough": colluders send a small, coordinated shift of the mean.

Baruch, Baruch and Goldberg, "A Little Is Enough: Circumventing Defenses For
Distributed Learning", NeurIPS 2019, Algorithm 3. The colluders estimate the
coordinate-wise mean ``mu`` and standard deviation ``sigma`` of the honest
updates and all send ``mu - z * sigma``: close enough to the honest ones to
pass median-, trimming- and distance-based rules, and consistent enough to
move the aggregate every round.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np


def default_z(num_updates: int, num_colluders: int) -> float:
    """The paper's ``z_max`` for ``n`` updates of which ``m`` collude.

    ``s = floor(n / 2 + 1) - m`` honest updates must be "further from the
    mean" than the colluders for them to hold a majority;
    ``z_max = Phi^-1((n - s) / n)`` with ``Phi`` the standard normal CDF.
    The probability is kept inside ``(0, 1)`` so that ``z`` stays finite.
    """
    supporters = num_updates // 2 + 1 - num_colluders
    probability = (num_updates - supporters) / num_updates
    probability = min(max(probability, 1e-6), 1.0 - 1e-6)
    return NormalDist().inv_cdf(probability)


def alie_update(honest: np.ndarray, z: float) -> np.ndarray:
    """Return ``mu - z * sigma`` over the rows of ``honest`` (one ``(k, d)`` matrix).

    ``sigma`` is the sample standard deviation (``ddof = 1``) when there are
    two or more rows, and 0 for a single row. Computed in float64.
    """
    rows = honest.astype(np.float64)
    mean = rows.mean(axis=0)
    std = rows.std(axis=0, ddof=1) if len(rows) > 1 else np.zeros_like(mean)
    return (mean - z * std).astype(np.float32)
