"""Centered clipping in the coordinator clips around the previous round's direction."""

from __future__ import annotations

import numpy as np
import pytest

from medfed_ray.aggregators import centered_clipping
from medfed_ray.coordinator import Coordinator
from medfed_ray.round_result import HospitalRound, HospitalStatus
from medfed_ray.scenario.loading import load_scenario

pytestmark = pytest.mark.usefixtures("ray_runtime")


def coordinator_for(rule: str, params: dict, size: int) -> Coordinator:
    """A coordinator object (not an actor) with no hospitals, for its aggregation step."""
    overrides = [f"aggregator.name={rule}"]
    overrides += [f"aggregator.params.{key}={value}" for key, value in params.items()]
    scenario, _ = load_scenario("scenarios/quickstart.toml", overrides)
    weights = np.zeros(size, dtype=np.float32)
    coordinator = Coordinator(scenario, [], [], weights, {})
    # No seats, so no colluding hospitals whose rows would be rewritten.
    coordinator.collude = lambda usable, matrix: matrix
    return coordinator


def step(coordinator: Coordinator, updates: np.ndarray, round_number: int) -> None:
    rows = [
        HospitalRound(
            round_number, hospital, 0, "honest", HospitalStatus.OK, examples=5
        )
        for hospital in range(len(updates))
    ]
    coordinator.step(rows, dict(enumerate(updates)), round_number)


def test_second_round_clips_around_the_first_rounds_aggregate():
    """Round 2's reference point is round 1's aggregate, not zero."""
    rng = np.random.default_rng(0)
    first = rng.normal(size=(4, 6)).astype(np.float32)
    second = (first + 5.0).astype(np.float32)
    params = {"clip_radius": 1.0, "iterations": 2}
    coordinator = coordinator_for("centered_clipping", params, 6)

    step(coordinator, first, 1)
    after_first = coordinator.state.weights.copy()
    step(coordinator, second, 2)

    expected_first = centered_clipping.aggregate(first, **params).update
    expected_second = centered_clipping.aggregate(
        second, center=expected_first, **params
    ).update
    np.testing.assert_allclose(after_first, expected_first, rtol=1e-6)
    np.testing.assert_allclose(
        coordinator.state.weights, expected_first + expected_second, rtol=1e-6
    )
    around_zero = centered_clipping.aggregate(second, **params).update
    assert not np.allclose(expected_second, around_zero)


def test_other_rules_keep_no_direction_between_rounds():
    """Without momentum or centered clipping, the state holds no buffer to save."""
    coordinator = coordinator_for("mean", {}, 3)

    step(coordinator, np.ones((2, 3), dtype=np.float32), 1)

    assert coordinator.state.momentum is None
