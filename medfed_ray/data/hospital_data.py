"""The data side of a run: load, check against the model, partition over hospitals."""

from __future__ import annotations

import numpy as np

from medfed_ray.data.datasets import Dataset, load_dataset
from medfed_ray.data.errors import DataError
from medfed_ray.data.partition import partition
from medfed_ray.scenario.schema import Scenario


def prepare_hospital_data(
    scenario: Scenario,
    data_seed: np.random.SeedSequence,
    partition_seed: np.random.SeedSequence,
) -> tuple[Dataset, list[np.ndarray]]:
    """Load the dataset, check the model can take it, and partition its training part.

    Returns the dataset and, per hospital, the sorted indices of its shard
    (training and local validation together; see
    :func:`medfed_ray.data.partition.split_validation`). Raises
    :class:`DataError` before any actor starts when something does not fit.
    """
    from medfed_ray.model import check_model_input

    dataset = load_dataset(scenario.dataset, data_seed)
    try:
        check_model_input(scenario.model, dataset.input_shape)
    except ValueError as error:
        raise DataError(str(error)) from None
    shards = partition(
        dataset.y_train,
        scenario.num_hospitals,
        scenario.partition,
        partition_seed,
        groups=dataset.groups,
    )
    return dataset, shards
