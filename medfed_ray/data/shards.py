"""Pathological label skew: every hospital holds exactly k classes.

The split behind "a hospital only sees some patient types". McMahan et al.,
"Communication-Efficient Learning of Deep Networks from Decentralized Data",
AISTATS 2017 (https://arxiv.org/abs/1602.05629), Sec. 3, sort MNIST by label
and deal each client two shards; here classes are dealt to hospitals
directly, so each hospital holds exactly ``k`` distinct classes.
"""

from __future__ import annotations

import numpy as np

from medfed_ray.data.errors import PartitionError


def shard_split(
    labels: np.ndarray,
    num_hospitals: int,
    classes_per_hospital: int,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """Deal ``classes_per_hospital`` distinct classes to each hospital.

    The classes, in a random order, are dealt round-robin: hospital ``h`` gets
    classes ``order[(h*k + j) mod C]`` for ``j < k``, so every class is dealt
    when ``num_hospitals * k >= C`` and the deal is as even as it can be. Each
    class's samples are then cut into equal shards, one per hospital holding
    it. Raises :class:`PartitionError` when there are too few shards to cover the
    classes, or a class has fewer samples than the shards it must be cut into.
    """
    classes = np.unique(labels)
    k, num_classes = classes_per_hospital, len(classes)
    if k > num_classes:
        raise PartitionError(
            f"partition 'shards': classes_per_hospital = {k} but the training data "
            f"has only {num_classes} classes; lower partition.classes_per_hospital"
        )
    if num_hospitals * k < num_classes:
        raise PartitionError(
            f"partition 'shards': {num_hospitals} hospitals x classes_per_hospital = "
            f"{k} gives {num_hospitals * k} shards, too few for {num_classes} classes "
            "(every sample must go to a hospital); raise partition.classes_per_hospital "
            "or the number of hospitals"
        )

    order = rng.permutation(classes)
    holders: dict[int, list[int]] = {int(label): [] for label in classes}
    for hospital in range(num_hospitals):
        for slot in range(k):
            holders[int(order[(hospital * k + slot) % num_classes])].append(hospital)

    parts: list[list[np.ndarray]] = [[] for _ in range(num_hospitals)]
    for label in classes:
        members = rng.permutation(np.flatnonzero(labels == label))
        hospitals = holders[int(label)]
        if len(members) < len(hospitals):
            raise PartitionError(
                f"partition 'shards': class {label} has {len(members)} training "
                f"samples but {len(hospitals)} hospitals hold it, one shard each; "
                "lower partition.classes_per_hospital or the number of hospitals"
            )
        for hospital, piece in zip(
            hospitals, np.array_split(members, len(hospitals)), strict=True
        ):
            parts[hospital].append(piece)
    return [np.concatenate(pieces) for pieces in parts]
