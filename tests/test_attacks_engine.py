"""Attacks and server-side defences wired through a real run: dropout, ALIE, norm
bounding and server momentum, and a resume that continues the momentum exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from medfed_ray.checkpoint import read_checkpoint, write_checkpoint
from medfed_ray.coordinator import CoordinatorState
from medfed_ray.errors import RunStopped
from medfed_ray.scenario.loading import validate_scenario
from medfed_ray.simulation import run_simulation

TIMING_COLUMNS = ["aggregation_seconds", "round_seconds"]


def test_momentum_is_saved_in_checkpoints_without_pickle(tmp_path):
    weights = np.arange(5, dtype=np.float32)
    momentum = np.linspace(-1, 1, 5, dtype=np.float32)

    path = write_checkpoint(tmp_path, CoordinatorState(3, weights, None, momentum))
    state = read_checkpoint(path)

    np.testing.assert_array_equal(state.momentum, momentum, strict=True)
    assert (path / "momentum.npy").exists()
    assert (
        read_checkpoint(
            write_checkpoint(tmp_path, CoordinatorState(4, weights))
        ).momentum
        is None
    )


def test_attacks_and_defences_in_a_resumed_run(ray_runtime, tmp_path):
    """Dropout is recorded as such, ALIE rows reach the rule, and a run with
    norm bounding and server momentum resumes bit-identically."""
    scenario = validate_scenario(
        {
            "name": "engine",
            "seed": 5,
            "rounds": 4,
            "round_timeout_s": 60,
            "min_hospitals": 1,
            "checkpoint_every": 1,
            "hospitals_per_actor": 4,
            "partition": {"name": "iid", "min_samples": 20},
            "model": {"hidden_units": [4]},
            "local": {"batch_size": 64, "learning_rate": 0.1},
            "aggregator": {
                "name": "mean",
                "max_norm": 0.05,
                "server_momentum": 0.9,
            },
            "hospitals": [
                {"count": 2, "num_cpus": 0.25},
                {"count": 1, "num_cpus": 0.25, "behaviour": "alie", "z": 3.0},
                {
                    "count": 1,
                    "num_cpus": 0.25,
                    "behaviour": "dropout",
                    "probability": 0.5,
                },
            ],
        }
    )

    whole = run_simulation(scenario, tmp_path / "whole")
    with pytest.raises(RunStopped):
        run_simulation(scenario, tmp_path / "parted", stop_after_round=2)
    resumed = run_simulation(scenario, tmp_path / "parted", resume=True)

    for name in ("weights.npy", "momentum.npy"):
        np.testing.assert_array_equal(
            np.load(whole.path / "checkpoints/round-000004" / name),
            np.load(resumed.path / "checkpoints/round-000004" / name),
            strict=True,
        )
    first = pd.read_parquet(whole.path / "hospitals.parquet")
    second = pd.read_parquet(resumed.path / "hospitals.parquet")
    pd.testing.assert_frame_equal(
        first.drop(columns="train_seconds"), second.drop(columns="train_seconds")
    )

    dropout = first[first.behaviour == "dropout"]
    assert set(dropout.status) <= {"ok", "dropped"}
    assert "dropped" in set(dropout.status)
    assert dropout[dropout.status == "dropped"].decision.isna().all()
    # Every update is far longer than 0.05, so bounding scales every one down.
    answered = first[first.status == "ok"]
    assert (answered.decision == "down_weighted").all()
    alie = first[first.behaviour == "alie"]
    honest = first[first.behaviour == "honest"]
    # ALIE sends mean - 3 std of two honest rows; its recorded norm is that vector's.
    assert (alie.update_norm.to_numpy() != honest.update_norm.to_numpy()[::2]).all()
