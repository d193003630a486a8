"""Several hospitals packed into one actor give exactly the results of one actor each."""

from __future__ import annotations

import pandas as pd

from medfed_ray import placement
from medfed_ray.scenario.loading import validate_scenario
from medfed_ray.simulation import run_simulation


def scenario_with(**top):
    return validate_scenario(
        {
            "name": "packing",
            "seed": 11,
            "rounds": 2,
            "checkpoint_every": 0,
            "partition": {"name": "dirichlet", "alpha": 1.0, "min_samples": 20},
            "model": {"hidden_units": [4]},
            "local": {"batch_size": 32, "learning_rate": 0.1, "optimizer": "adam"},
            "hospitals": [
                {"count": 2, "num_cpus": 0.25},
                {"count": 2, "num_cpus": 0.25},
            ],
            **top,
        }
    )


def test_packing_groups_consecutive_hospitals_within_each_group():
    """Actors never mix groups, and every hospital is in exactly one actor."""
    scenario = validate_scenario(
        {"name": "t", "hospitals": [{"count": 5}, {"count": 2}, {"count": 1}]}
    )

    assert placement.pack(scenario, 2) == [[0, 1], [2, 3], [4], [5, 6], [7]]
    assert placement.pack(scenario, 1) == [[index] for index in range(8)]


def test_automatic_packing_fills_a_core_with_fractional_hospitals():
    """Hospitals at a quarter core share a process four at a time, unless told otherwise."""
    automatic = validate_scenario(
        {"name": "t", "hospitals": [{"count": 6, "num_cpus": 0.25}, {"count": 2}]}
    )
    chosen = validate_scenario(
        {
            "name": "t",
            "hospitals_per_actor": 1,
            "hospitals": [{"count": 6, "num_cpus": 0.25}],
        }
    )

    assert placement.pack(automatic, 1) == [[0, 1, 2, 3], [4, 5], [6], [7]]
    assert placement.pack(chosen, 1) == [[index] for index in range(6)]


def test_automatic_packing_starts_when_processes_no_longer_fit_memory(monkeypatch):
    """One hospital per actor while processes fit; beyond that, just enough per actor."""
    memory = 10 * placement.PROCESS_BYTES / placement.MEMORY_SHARE_FOR_ACTORS
    monkeypatch.setattr(placement.ray, "cluster_resources", lambda: {"memory": memory})

    small = validate_scenario({"name": "t", "hospitals": [{"count": 10}]})
    large = validate_scenario({"name": "t", "hospitals": [{"count": 1000}]})
    chosen = validate_scenario(
        {"name": "t", "hospitals_per_actor": 7, "hospitals": [{}]}
    )

    assert placement.hospitals_per_actor(small) == 1
    assert placement.hospitals_per_actor(large) == 100
    assert placement.hospitals_per_actor(chosen) == 7


def test_same_seed_same_result_however_hospitals_are_packed(ray_runtime, tmp_path):
    """Four hospitals packed two to an actor, or one each: identical numbers."""
    runs = [
        run_simulation(
            scenario_with(hospitals_per_actor=per_actor), tmp_path / str(per_actor)
        )
        for per_actor in (1, 2)
    ]

    tables = [
        pd.read_parquet(run.path / "hospitals.parquet")[
            ["round", "hospital", "local_loss", "update_norm", "contribution"]
        ]
        for run in runs
    ]
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)
    accuracies = [[result.accuracy for result in run.rounds] for run in runs]
    assert accuracies[0] == accuracies[1]
    assert len(runs[1].summary["hospitals_per_node"]) == 1


def test_local_only_training_is_the_same_however_hospitals_are_packed(
    ray_runtime, tmp_path
):
    """Own-weight rows go out and scores come back per call: packing changes nothing."""
    runs = [
        run_simulation(
            scenario_with(hospitals_per_actor=per_actor, training="local"),
            tmp_path / str(per_actor),
        )
        for per_actor in (1, 2)
    ]

    tables = [
        pd.read_parquet(run.path / "hospitals.parquet")[
            ["round", "hospital", "local_loss", "update_norm", "test_accuracy"]
        ]
        for run in runs
    ]
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)
    assert tables[0]["test_accuracy"].notna().all()
    # Each hospital trained its own model, so their losses differ.
    assert tables[0]["local_loss"].nunique() == len(tables[0])
    losses = [[result.loss for result in run.rounds] for run in runs]
    assert losses[0] == losses[1]
