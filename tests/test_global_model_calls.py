"""The coordinator scores and saves the global model in a hospital actor that answers."""

from __future__ import annotations

import logging
import time
from functools import partial
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

    @ray_runtime.remote(num_cpus=0)
    class Slow:
        def evaluate(self, weights, x, y):
            time.sleep(30)
            return {"accuracy": -1.0}

    return ray_runtime, Answering, Failing, Slow


def coordinator_with(ray, actors, restarting=(), timeout_s=30.0):
    """The parts of a coordinator that global-model calls read, around ``actors``.

    ``restarted`` lists the actors it was asked to restart.
    """
    seats = [
        SimpleNamespace(spec=SimpleNamespace(hospital_id=index), actor=actor)
        for index, actor in enumerate(actors)
    ]
    coordinator = SimpleNamespace(
        seats=seats,
        restarting=set(restarting),
        scenario=SimpleNamespace(round_timeout_s=timeout_s),
        test_set=[ray.put(np.ones(2)), ray.put(np.ones(3))],
        restarted=[],
    )
    coordinator.restart = coordinator.restarted.append
    coordinator.ask_in_turn = partial(Coordinator.ask_in_turn, coordinator)
    # Restarting actors come straight back.
    coordinator.wait_for_restarts = lambda seats: coordinator.restarting.clear()
    return coordinator


def test_scoring_skips_failing_and_restarting_actors(actor_classes, caplog):
    """A failing actor passes the work on; a restarting one is not asked at all."""
    ray, answering, failing, _ = actor_classes
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
    ray, _, failing, _ = actor_classes
    coordinator = coordinator_with(ray, [failing.remote()])

    with caplog.at_level(logging.WARNING, logger="medfed_ray.coordinator"):
        scores = Coordinator.call_a_hospital_actor(
            coordinator, "evaluate", np.zeros(4, dtype=np.float32)
        )

    assert scores is None
    assert "no hospital actor could evaluate" in caplog.text


def test_an_actor_still_scoring_at_the_deadline_is_restarted(actor_classes):
    """Its queue would hold up the next round; the next actor answers instead."""
    ray, answering, _, slow = actor_classes
    late = slow.remote()
    coordinator = coordinator_with(ray, [late, answering.remote()], timeout_s=2.0)

    scores = Coordinator.call_a_hospital_actor(
        coordinator, "evaluate", np.zeros(4, dtype=np.float32)
    )

    assert scores == {"accuracy": 2.0 + 3.0}
    assert coordinator.restarted == [late]
    ray.kill(late)


def test_local_scoring_reports_actors_still_scoring_at_the_deadline(ray_runtime):
    """Hospitals of a late call have no scores; their actor is named for a restart."""
    from medfed_ray.local_evaluation import score_own_models

    @ray_runtime.remote(num_cpus=0)
    class Scoring:
        def __init__(self, seconds):
            self.seconds = seconds

        def evaluate_each(self, weights, x, y):
            time.sleep(self.seconds)
            return [{"accuracy": float(row.sum())} for row in weights]

    quick, late = Scoring.remote(0.0), Scoring.remote(30.0)
    seats = [
        SimpleNamespace(spec=SimpleNamespace(hospital_id=index), actor=actor)
        for index, actor in enumerate([quick, quick, late])
    ]
    weights = np.arange(6, dtype=np.float32).reshape(3, 2)
    test_set = [ray_runtime.put(np.ones(2)), ray_runtime.put(np.ones(2))]

    scores = score_own_models(seats, weights, test_set, timeout_s=3.0)

    assert scores.by_hospital == {0: {"accuracy": 1.0}, 1: {"accuracy": 5.0}}
    assert scores.late_actors == [late]
    ray_runtime.kill(late)


def test_actors_that_were_restarting_are_asked_when_no_other_answers(actor_classes):
    """After a scoring timeout in the last round every actor may be restarting:
    the model is still scored (and saved) once one is back."""
    ray, answering, failing, _ = actor_classes
    coordinator = coordinator_with(
        ray, [failing.remote(), answering.remote()], restarting={1}
    )

    scores = Coordinator.call_a_hospital_actor(
        coordinator, "evaluate", np.zeros(4, dtype=np.float32)
    )

    assert scores == {"accuracy": 2.0 + 3.0}
    assert coordinator.restarting == set()
