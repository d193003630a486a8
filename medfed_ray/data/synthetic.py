"""Seeded synthetic data of any size, class count and input shape, for scale runs."""

from __future__ import annotations

import numpy as np

from medfed_ray.data.raw import RawSplits

CLASS_SEPARATION = 1.0
"""Distance scale of the class means; 1.0 keeps the task learnable but not trivial."""


def make_synthetic(
    num_samples: int,
    num_classes: int,
    shape: tuple[int, ...],
    seed: np.random.SeedSequence,
) -> RawSplits:
    """Gaussian classes: ``x = mean[y] + noise``, float32, balanced labels.

    Each class has a random mean drawn from ``N(0, CLASS_SEPARATION^2)`` per
    coordinate and unit noise. Generated in float32 directly, so a large run
    costs ``4 * num_samples * prod(shape)`` bytes and nothing more.
    """
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(num_samples, dtype=np.int64) % num_classes)
    means = rng.normal(0.0, CLASS_SEPARATION, (num_classes, *shape)).astype(np.float32)
    x = rng.standard_normal((num_samples, *shape), dtype=np.float32)
    x += means[labels]
    return RawSplits(x, labels)
