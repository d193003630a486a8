"""Private runs on a local Ray runtime: privacy.parquet, the summary, and the budget stop."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from medfed_ray.cli.app import app

PRIVACY_COLUMNS = [
    "round",
    "level",
    "mode",
    "epsilon",
    "delta",
    "noise_multiplier",
    "effective_noise_multiplier",
    "clip_norm",
    "sampling",
    "sampling_rate",
    "participants",
    "steps",
    "accountant",
]


def run(scenario: Path, out: Path, *overrides: str):
    arguments = ["run", str(scenario), "--out", str(out)]
    for override in overrides:
        arguments += ["--set", override]
    return CliRunner().invoke(app, arguments)


def test_central_run_records_epsilon_and_stops_at_the_budget(
    ray_runtime, tiny_scenario, tmp_path
):
    # Three hospitals, all sampled, z = 4: epsilon 1.0126 after one round and
    # 1.4781 after two (see test_privacy_accounting), so max_epsilon 1.2 ends
    # training after round 1 of 3.
    out = tmp_path / "run"

    result = run(
        tiny_scenario,
        out,
        "privacy.mode=central",
        "privacy.noise_multiplier=4.0",
        "privacy.max_epsilon=1.2",
    )

    assert result.exit_code == 0, result.output
    assert "ε 1.01 (δ 1e-05)" in result.output
    privacy = pd.read_parquet(out / "privacy.parquet")
    assert list(privacy.columns) == PRIVACY_COLUMNS
    assert privacy["round"].tolist() == [1]
    assert privacy["epsilon"].iloc[0] == pytest.approx(1.0125506277526433, rel=1e-9)
    assert len(pd.read_parquet(out / "rounds.parquet")) == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["rounds"] == 1
    assert summary["privacy"]["epsilon"]["hospital"] == pytest.approx(
        1.0125506277526433
    )
    assert summary["privacy"]["budget_stop"] == (
        "privacy budget: round 2 would raise hospital-level epsilon to 1.478, above "
        "max_epsilon = 1.2; training stops after round 1"
    )

    # The run ends with a checkpoint: with the same budget there is nothing to
    # resume; with a larger one, training goes on and the ledger continues.
    refused = CliRunner().invoke(app, ["run", "--resume", str(out)])
    assert refused.exit_code == 2, refused.output
    assert "raise privacy.max_epsilon" in " ".join(refused.output.split())
    assert len(pd.read_parquet(out / "rounds.parquet")) == 1
    toml = out / "scenario.toml"
    toml.write_text(toml.read_text().replace("max_epsilon = 1.2", "max_epsilon = 1.6"))

    resumed = CliRunner().invoke(app, ["run", "--resume", str(out)])

    assert resumed.exit_code == 0, resumed.output
    privacy = pd.read_parquet(out / "privacy.parquet")
    assert privacy["round"].tolist() == [1, 2]
    assert privacy["epsilon"].iloc[1] == pytest.approx(1.4781, abs=1e-4)


def test_local_mode_with_poisson_sampling_and_dp_sgd_runs_and_reports_both_levels(
    ray_runtime, tiny_scenario, tmp_path
):
    out = tmp_path / "run"

    result = run(
        tiny_scenario,
        out,
        "rounds=2",
        "min_hospitals=1",
        "privacy.mode=local",
        "sampling.mode=poisson",
        "sampling.fraction=0.67",
        "privacy.dp_sgd.enabled=true",
    )

    assert result.exit_code == 0, result.output
    privacy = pd.read_parquet(out / "privacy.parquet")
    assert sorted(set(privacy["level"])) == ["example", "hospital"]
    assert (privacy["epsilon"] > 0).all()
    hospitals = pd.read_parquet(out / "hospitals.parquet")
    # Only sampled hospitals train; each sent update was clipped (norm <= C)
    # before its local noise, so its norm is that of noise around it.
    assert set(hospitals["round"]) <= {1, 2}
    assert (hospitals.groupby("round").size() <= 3).all()
