"""Per-round sampling through the engine: the same hospitals however they are packed."""

from __future__ import annotations

import pandas as pd

from medfed_ray.sampling import HospitalSampling
from medfed_ray.scenario.loading import validate_scenario
from medfed_ray.simulation import run_simulation


def sampled_scenario(seed: int = 5, fraction: float = 0.5, **top):
    return validate_scenario(
        {
            "name": "sampled",
            "seed": seed,
            "rounds": 3,
            "checkpoint_every": 0,
            "min_hospitals": 1,
            "partition": {"name": "iid", "min_samples": 20},
            "model": {"hidden_units": [4]},
            "local": {"batch_size": 64, "learning_rate": 0.1},
            "sampling": {"mode": "poisson", "fraction": fraction},
            "hospitals": [{"count": 6, "num_cpus": 0.25}],
            **top,
        }
    )


def test_the_same_seed_samples_the_same_hospitals_however_they_are_packed(
    ray_runtime, tmp_path
):
    """Three actors of two hospitals or two of three: same samples, same numbers."""
    runs = [
        run_simulation(
            sampled_scenario(hospitals_per_actor=per_actor), tmp_path / str(per_actor)
        )
        for per_actor in (2, 3)
    ]

    tables = [
        pd.read_parquet(run.path / "hospitals.parquet")[
            ["round", "hospital", "status", "local_loss", "update_norm"]
        ]
        for run in runs
    ]
    pd.testing.assert_frame_equal(tables[0], tables[1], check_exact=True)
    sampling = HospitalSampling.resolve("poisson", 6, 0.5)
    rounds = pd.read_parquet(runs[0].path / "rounds.parquet")
    for round_number in (1, 2, 3):
        expected = sampling.participants(5, round_number).tolist()
        rows = tables[0][tables[0]["round"] == round_number]
        assert rows["hospital"].tolist() == expected
        sampled = rounds.loc[rounds["round"] == round_number, "hospitals_sampled"]
        assert sampled.item() == len(expected)
    assert [r.accuracy for r in runs[0].rounds] == [r.accuracy for r in runs[1].rounds]


def test_a_round_that_samples_nobody_completes_without_a_quorum_failure(
    ray_runtime, tmp_path
):
    """No hospital, no update, no row in hospitals.parquet; the run goes on."""
    sampling = HospitalSampling.resolve("poisson", 6, 0.05)
    # The first seed whose round 1 samples nobody and round 2 somebody.
    seed = next(
        seed
        for seed in range(1000)
        if len(sampling.participants(seed, 1)) == 0
        and len(sampling.participants(seed, 2)) > 0
    )
    scenario = sampled_scenario(
        seed, 0.05, rounds=2, min_hospitals=2, hospitals_per_actor=6
    )

    outcome = run_simulation(scenario, tmp_path / "run")

    rounds = pd.read_parquet(outcome.path / "rounds.parquet")
    hospitals = pd.read_parquet(outcome.path / "hospitals.parquet")
    assert rounds["hospitals_sampled"].tolist()[0] == 0
    assert rounds["updates_received"].tolist()[0] == 0
    assert 1 not in set(hospitals["round"])
    assert set(hospitals["round"]) == {2}
    assert len(outcome.rounds) == 2
