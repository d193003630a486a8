"""Quantity skew: hospitals of very different sizes, with IID labels.

Li, Diao, Chen and He, "Federated Learning on Non-IID Data Silos: An
Experimental Study", ICDE 2022 (https://arxiv.org/abs/2102.02079), Sec. III-B,
name this skew; real federations mix teaching hospitals with small clinics.
Sizes here follow a log-normal or a power law (Pareto) distribution.
"""

from __future__ import annotations

import numpy as np


def quantity_sizes(
    num_samples: int,
    num_hospitals: int,
    min_samples: int,
    distribution: str,
    sigma: float,
    exponent: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Hospital sizes summing to ``num_samples``, each at least ``min_samples``.

    Weights are drawn from LogNormal(0, sigma) or Pareto(exponent) + 1 and
    the samples beyond the minima are shared in their proportions; rounding
    leftovers go to the largest fractional parts (ties to the lower id), so
    the sizes are exact and deterministic. The caller has checked that
    ``num_hospitals * min_samples <= num_samples``.
    """
    if distribution == "lognormal":
        weights = rng.lognormal(0.0, sigma, num_hospitals)
    else:
        weights = rng.pareto(exponent, num_hospitals) + 1.0
    spare = num_samples - num_hospitals * min_samples
    shares = weights / weights.sum() * spare
    sizes = np.floor(shares).astype(np.int64)
    leftover = spare - int(sizes.sum())
    by_fraction = np.lexsort((np.arange(num_hospitals), -(shares - sizes)))
    sizes[by_fraction[:leftover]] += 1
    return sizes + min_samples


def quantity_split(
    labels: np.ndarray, sizes: np.ndarray, rng: np.random.Generator
) -> list[np.ndarray]:
    """Cut a random permutation of the samples into pieces of ``sizes``."""
    order = rng.permutation(len(labels))
    return np.split(order, np.cumsum(sizes)[:-1])
