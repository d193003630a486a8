"""Which hospitals take part in a round: all, a Poisson sample, or a fixed-size sample.

Poisson sampling (each hospital independently with probability ``q``) is the
sampling of DP-FedAvg (McMahan et al., ICLR 2018, Algorithm 1) and of the
sampled Gaussian mechanism that the accountant analyses (Mironov, Talwar and
Zhang, "Renyi Differential Privacy of the Sampled Gaussian Mechanism", 2019).
A fixed-size sample of ``m = round(q * N)`` hospitals without replacement is
analysed as sampling without replacement (Wang, Balle and Kasiviswanathan,
"Subsampled Renyi Differential Privacy and Analytical Moments Accountant",
AISTATS 2019).

The choice in round ``r`` depends only on the scenario's seed and ``r``, so a
retried or resumed round picks the same hospitals.
"""

from __future__ import annotations

import numpy as np

from medfed_ray.privacy.noise import SAMPLING, stream_seed


def fixed_sample_size(num_hospitals: int, fraction: float) -> int:
    """``m = round(fraction * num_hospitals)``, at least 1."""
    return max(1, int(round(fraction * num_hospitals)))


def expected_participants(sampling: str, fraction: float, num_hospitals: int) -> float:
    """The expected number of participants: ``N``, ``q * N`` or ``m``."""
    if sampling == "poisson":
        return fraction * num_hospitals
    if sampling == "fixed":
        return float(fixed_sample_size(num_hospitals, fraction))
    return float(num_hospitals)


def sample_hospitals(
    seed: int, round_number: int, num_hospitals: int, sampling: str, fraction: float
) -> np.ndarray:
    """The ids (sorted, int64) of the hospitals that take part in ``round_number``."""
    if sampling == "all":
        return np.arange(num_hospitals, dtype=np.int64)
    rng = np.random.default_rng(
        stream_seed(np.random.SeedSequence(seed), SAMPLING, round_number)
    )
    if sampling == "poisson":
        return np.flatnonzero(rng.random(num_hospitals) < fraction).astype(np.int64)
    if sampling == "fixed":
        size = fixed_sample_size(num_hospitals, fraction)
        return np.sort(rng.choice(num_hospitals, size=size, replace=False)).astype(
            np.int64
        )
    raise ValueError(
        f"sampling must be 'all', 'poisson' or 'fixed'; found {sampling!r}"
    )
