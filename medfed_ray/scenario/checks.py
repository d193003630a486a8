"""Checks that need the data: can the partition give every hospital enough samples?"""

from __future__ import annotations

import numpy as np

from medfed_ray.errors import Problem, ScenarioError
from medfed_ray.scenario.schema import Scenario


def check_feasible(scenario: Scenario, source: str) -> None:
    """Raise ``ScenarioError`` if the dataset cannot be split as the scenario asks.

    Loads the dataset (cheap for the built-in ones) but starts nothing.
    """
    from medfed_ray.data.datasets import load_dataset

    dataset = load_dataset(scenario.dataset, np.random.SeedSequence(scenario.seed))
    available = len(dataset.y_train)
    needed = scenario.num_hospitals * scenario.partition.min_samples
    if needed > available:
        raise ScenarioError(
            source,
            [
                Problem(
                    "partition.min_samples",
                    f"{scenario.num_hospitals} hospitals x min_samples needs {needed} "
                    f"training samples but dataset {scenario.dataset.name!r} has "
                    f"{available} after the test split",
                    scenario.partition.min_samples,
                )
            ],
        )
