"""Spread training samples over hospitals, and carve each hospital's validation split.

Every sample goes to exactly one hospital, and the split depends only on the
labels (or source files), the parameters and the seed, never on global random
state. The partitioners live one per module; this one picks and checks.
"""

from __future__ import annotations

import numpy as np

from medfed_ray.data.dirichlet import dirichlet_split
from medfed_ray.data.errors import PartitionError
from medfed_ray.data.quantity import quantity_sizes, quantity_split
from medfed_ray.data.shards import shard_split
from medfed_ray.scenario.schema import PartitionConfig


def partition(
    labels: np.ndarray,
    num_hospitals: int,
    config: PartitionConfig,
    seed: np.random.SeedSequence,
    groups: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Return, per hospital, the sorted indices of the samples it holds.

    ``groups`` gives the source file of each sample; ``by_file`` needs it.
    Raises :class:`PartitionError` (a ``ValueError``) when the partition is
    impossible: too few samples for the minimum, too few shards, files that
    do not match the hospitals.
    """
    needed = num_hospitals * config.min_samples
    if needed > len(labels):
        raise PartitionError(
            f"partition.min_samples = {config.min_samples} for {num_hospitals} hospitals "
            f"needs {needed} training samples, but the dataset has {len(labels)}; "
            "lower partition.min_samples or the number of hospitals"
        )

    rng = np.random.default_rng(seed)
    if config.name == "by_file":
        return file_split(groups, num_hospitals, config.min_samples)
    if config.name == "iid":
        shards = np.array_split(rng.permutation(len(labels)), num_hospitals)
    elif config.name == "shards":
        shards = shard_split(labels, num_hospitals, config.classes_per_hospital, rng)
        check_minimum(shards, config.min_samples, "shards")
        return [np.sort(shard) for shard in shards]
    elif config.name == "quantity":
        sizes = quantity_sizes(
            len(labels),
            num_hospitals,
            config.min_samples,
            config.distribution,
            config.sigma,
            config.exponent,
            rng,
        )
        shards = quantity_split(labels, sizes, rng)
    else:
        shards = dirichlet_split(labels, num_hospitals, config.alpha, rng)
    shards = repair_small_shards(shards, config.min_samples, rng)
    return [np.sort(shard) for shard in shards]


def file_split(
    groups: np.ndarray | None, num_hospitals: int, min_samples: int
) -> list[np.ndarray]:
    """``by_file``: hospital ``i`` holds the training samples of file ``i``."""
    if groups is None:
        raise PartitionError(
            "partition 'by_file' needs one file per hospital: set dataset.files"
        )
    num_files = int(groups.max()) + 1 if len(groups) else 0
    if num_files != num_hospitals:
        raise PartitionError(
            f"partition 'by_file' gives each hospital its own file, but dataset.files "
            f"lists {num_files} files for {num_hospitals} hospitals"
        )
    shards = [np.flatnonzero(groups == index) for index in range(num_hospitals)]
    check_minimum(shards, min_samples, "by_file")
    return shards


def check_minimum(shards: list[np.ndarray], min_samples: int, name: str) -> None:
    """Refuse a partition that cannot be repaired without breaking what it promises.

    ``shards`` promises exactly k classes and ``by_file`` one file per
    hospital; moving samples in would break either promise.
    """
    for hospital, shard in enumerate(shards):
        if len(shard) < min_samples:
            raise PartitionError(
                f"partition {name!r} gives hospital {hospital} {len(shard)} training "
                f"samples, fewer than partition.min_samples = {min_samples}; lower "
                "partition.min_samples"
                + (" or the number of hospitals" if name == "shards" else "")
            )


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


VALIDATION_STREAM = 0x56414C
"""Spawn-key tag of the validation-split stream, apart from the partition's own."""


def split_validation(
    shards: list[np.ndarray], fraction: float, seed: np.random.SeedSequence
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Carve ``floor(fraction * n)`` random samples of each shard as its local validation split.

    Every hospital keeps at least one training sample. Returns sorted
    ``(train, validation)`` index pairs; with ``fraction = 0`` validation
    splits are empty and the training splits are the shards unchanged.
    """
    stream = np.random.SeedSequence(
        entropy=seed.entropy, spawn_key=(*seed.spawn_key, VALIDATION_STREAM)
    )
    rng = np.random.default_rng(stream)
    pairs = []
    for shard in shards:
        count = min(int(fraction * len(shard)), max(len(shard) - 1, 0))
        order = rng.permutation(shard)
        pairs.append((np.sort(order[count:]), np.sort(order[:count])))
    return pairs
