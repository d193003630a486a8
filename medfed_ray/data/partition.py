"""Spread training samples over hospitals: IID, or label-skewed with a Dirichlet prior.

Every sample goes to exactly one hospital, and the split depends only on the
labels, the parameters and the seed, never on global random state.
"""

from __future__ import annotations

import numpy as np

from medfed_ray.scenario.schema import PartitionConfig


def partition(
    labels: np.ndarray,
    num_hospitals: int,
    config: PartitionConfig,
    seed: np.random.SeedSequence,
) -> list[np.ndarray]:
    """Return, per hospital, the sorted indices of the samples it holds."""
    needed = num_hospitals * config.min_samples
    if needed > len(labels):
        raise ValueError(
            f"partition.min_samples = {config.min_samples} for {num_hospitals} hospitals "
            f"needs {needed} training samples, but the dataset has {len(labels)}; "
            "lower partition.min_samples or the number of hospitals"
        )

    rng = np.random.default_rng(seed)
    if config.name == "iid":
        shards = np.array_split(rng.permutation(len(labels)), num_hospitals)
    else:
        shards = dirichlet_split(labels, num_hospitals, config.alpha, rng)
    shards = repair_small_shards(shards, config.min_samples, rng)
    return [np.sort(shard) for shard in shards]


def dirichlet_split(
    labels: np.ndarray, num_hospitals: int, alpha: float, rng: np.random.Generator
) -> list[np.ndarray]:
    """Label skew: each class is divided over hospitals in Dirichlet(alpha) proportions.

    Hsu, Qi and Brown, "Measuring the Effects of Non-Identical Data Distribution
    for Federated Visual Classification", 2019, https://arxiv.org/abs/1909.06335.
    Small ``alpha`` gives each hospital few classes; large ``alpha`` tends to IID.
    """
    parts: list[list[np.ndarray]] = [[] for _ in range(num_hospitals)]
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        proportions = rng.dirichlet(np.full(num_hospitals, alpha))
        cuts = np.floor(np.cumsum(proportions)[:-1] * len(members)).astype(np.int64)
        for hospital, piece in enumerate(np.split(members, cuts)):
            parts[hospital].append(piece)
    return [np.concatenate(pieces) for pieces in parts]


def repair_small_shards(
    shards: list[np.ndarray], min_samples: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Move samples from the largest shards to those below ``min_samples``.

    Deterministic for a given generator state and bounded: each move fills one
    shortfall from the currently largest shard, so it ends after at most
    ``num_hospitals * min_samples`` moved samples. The caller has checked that
    enough samples exist in total.
    """
    shards = [rng.permutation(shard) for shard in shards]
    for hospital in range(len(shards)):
        while len(shards[hospital]) < min_samples:
            donor = max(
                range(len(shards)), key=lambda index: (len(shards[index]), -index)
            )
            spare = len(shards[donor]) - min_samples
            take = min(spare, min_samples - len(shards[hospital]))
            shards[hospital] = np.concatenate([shards[hospital], shards[donor][:take]])
            shards[donor] = shards[donor][take:]
    return shards
