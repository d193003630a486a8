"""The coordinator scores and saves the global model in a hospital actor that answers."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pytest

from medfed_ray.coordinator import Coordinator


@pytest.fixture(scope="module")
def actor_classes(ray_runtime):
    """A hospital actor stand-in that answers, and one whose every call fails."""

    @ray_runtime.remote(num_cpus=0)
    class Answering:
        def evaluate(self, weights, x, y):
            return {"accuracy": float(weights.sum() + x.sum() + y.sum())}

    @ray_runtime.remote(num_cpus=0)
    class Failing:
        def evaluate(self, weights, x, y):
            raise RuntimeError("this actor cannot score")

    return ray_runtime, Answering, Failing


def coordinator_with(ray, actors, restarting=()):
    """The parts of a coordinator that global-model calls read, around ``actors``."""
    seats = [
        SimpleNamespace(spec=SimpleNamespace(hospital_id=index), actor=actor)
        for index, actor in enumerate(actors)
    ]
    return SimpleNamespace(
        seats=seats,
        restarting=set(restarting),
        scenario=SimpleNamespace(round_timeout_s=30.0),
        test_set=[ray.put(np.ones(2)), ray.put(np.ones(3))],
    )


def test_scoring_skips_failing_and_restarting_actors(actor_classes, caplog):
    """A failing actor passes the work on; a restarting one is not asked at all."""
    ray, answering, failing = actor_classes
    actors = [failing.remote(), failing.remote(), answering.remote()]
    # Hospital 1's actor is restarting: were it asked, its failure would be logged.
    coordinator = coordinator_with(ray, actors, restarting={1})

    with caplog.at_level(logging.WARNING, logger="medfed_ray.coordinator"):
        scores = Coordinator.call_a_hospital_actor(
            coordinator, "evaluate", np.full(4, 0.5, dtype=np.float32)
        )

    assert scores == {"accuracy": 2.0 + 2.0 + 3.0}
    failures = [r for r in caplog.records if "cannot score" in r.getMessage()]
    assert len(failures) == 1


def test_scoring_without_any_answering_actor_returns_none(actor_classes, caplog):
    """With no actor able to answer, the round keeps NaN scores and a warning says why."""
    ray, _, failing = actor_classes
    coordinator = coordinator_with(ray, [failing.remote()])

    with caplog.at_level(logging.WARNING, logger="medfed_ray.coordinator"):
        scores = Coordinator.call_a_hospital_actor(
            coordinator, "evaluate", np.zeros(4, dtype=np.float32)
        )

    assert scores is None
    assert "no hospital actor could evaluate" in caplog.text
