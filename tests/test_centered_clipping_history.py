"""Centered clipping in the server step clips around the previous round's direction."""

from __future__ import annotations

import numpy as np

from medfed_ray.aggregators import centered_clipping
from medfed_ray.coordinator_state import CoordinatorState
from medfed_ray.round_result import HospitalRound, HospitalStatus
from medfed_ray.scenario.loading import load_scenario
from medfed_ray.server_step import ServerStep


class Server:
    """A server step with its state, for a rule on vectors of ``size``."""

    def __init__(self, rule: str, params: dict, size: int):
        overrides = [f"aggregator.name={rule}"]
        overrides += [
            f"aggregator.params.{key}={value}" for key, value in params.items()
        ]
        scenario, _ = load_scenario("scenarios/quickstart.toml", overrides)
        # No hospital specs: every row is honest, so no attack rewrites a row.
        self.step = ServerStep(scenario, {})
        self.state = CoordinatorState(0, np.zeros(size, dtype=np.float32))


def step(server: Server, updates: np.ndarray, round_number: int) -> None:
    rows = [
        HospitalRound(
            round_number, hospital, 0, "honest", HospitalStatus.OK, examples=5
        )
        for hospital in range(len(updates))
    ]
    server.step.apply(server.state, rows, dict(enumerate(updates)), round_number)


def test_second_round_clips_around_the_first_rounds_aggregate():
    """Round 2's reference point is round 1's aggregate, not zero."""
    rng = np.random.default_rng(0)
    first = rng.normal(size=(4, 6)).astype(np.float32)
    second = (first + 5.0).astype(np.float32)
    params = {"clip_radius": 1.0, "iterations": 2}
    server = Server("centered_clipping", params, 6)

    step(server, first, 1)
    after_first = server.state.weights.copy()
    step(server, second, 2)

    expected_first = centered_clipping.aggregate(first, **params).update
    expected_second = centered_clipping.aggregate(
        second, center=expected_first, **params
    ).update
    np.testing.assert_allclose(after_first, expected_first, rtol=1e-6)
    np.testing.assert_allclose(
        server.state.weights, expected_first + expected_second, rtol=1e-6
    )
    around_zero = centered_clipping.aggregate(second, **params).update
    assert not np.allclose(expected_second, around_zero)


def test_other_rules_keep_no_direction_between_rounds():
    """Without momentum or centered clipping, the state holds no buffer to save."""
    server = Server("mean", {}, 3)

    step(server, np.ones((2, 3), dtype=np.float32), 1)

    assert server.state.momentum is None
