"""``medfed run`` on a real local Ray runtime: files, columns, reproducibility, local-only."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from medfed_ray.cli.app import app

ROUND_COLUMNS = [
    "round",
    "updates_received",
    "updates_rejected",
    "aggregation_seconds",
    "round_seconds",
    "attempts",
    "hospitals_sampled",
    "evaluated",
    "accuracy",
    "balanced_accuracy",
    "auroc",
    "loss",
    "accuracy_std",
]
HOSPITAL_COLUMNS = [
    "round",
    "hospital",
    "group",
    "behaviour",
    "status",
    "attempt",
    "examples",
    "local_loss",
    "update_norm",
    "train_seconds",
    "validation_accuracy",
    "decision",
    "contribution",
    "test_accuracy",
    "test_balanced_accuracy",
    "test_auroc",
    "test_loss",
    "error",
]
TIMING_COLUMNS = ["aggregation_seconds", "round_seconds"]


def run_cli(scenario: Path, out: Path, *overrides: str) -> Path:
    """Run ``medfed run`` through typer's runner and return the run directory."""
    arguments = ["run", str(scenario), "--out", str(out)]
    for override in overrides:
        arguments += ["--set", override]

    result = CliRunner().invoke(app, arguments)

    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def federated_run(ray_runtime, tmp_path_factory) -> Path:
    """One federated tiny run shared by the tests that only read its files."""
    from conftest import TINY_SCENARIO

    folder = tmp_path_factory.mktemp("federated")
    scenario = folder / "tiny.toml"
    scenario.write_text(TINY_SCENARIO)
    return run_cli(scenario, folder / "run")


def test_run_directory_holds_every_documented_file(federated_run):
    """The run leaves scenario, both tables, summary, layout and a model Keras loads."""
    names = {path.name for path in federated_run.iterdir()}

    assert {
        "scenario.toml",
        "rounds.parquet",
        "hospitals.parquet",
        "summary.json",
        "model.keras",
        "layout.json",
        "feature_scaling.npz",
    } <= names
    assert not [name for name in names if name.endswith((".pkl", ".pickle"))]


def test_parquet_tables_have_the_documented_columns(federated_run):
    """Both tables load with pandas and carry the documented columns, one row per item."""
    rounds = pd.read_parquet(federated_run / "rounds.parquet")
    hospitals = pd.read_parquet(federated_run / "hospitals.parquet")

    assert list(rounds.columns) == ROUND_COLUMNS
    assert list(hospitals.columns) == HOSPITAL_COLUMNS
    assert rounds["round"].tolist() == [1, 2, 3]
    assert len(hospitals) == 3 * 3
    assert set(hospitals["status"]) == {"ok"}
    assert (rounds["updates_received"] == 3).all()
    assert hospitals.groupby("round")["contribution"].sum().round(6).eq(1.0).all()


def test_federated_training_learns(federated_run):
    """Three tiny rounds already beat the majority class (0.63) on the test split."""
    rounds = pd.read_parquet(federated_run / "rounds.parquet")
    summary = json.loads((federated_run / "summary.json").read_text())

    assert rounds["accuracy"].iloc[-1] > 0.8
    assert summary["final"]["accuracy"] == pytest.approx(rounds["accuracy"].iloc[-1])
    assert summary["rounds"] == 3
    assert summary["seed"] == 7
    assert summary["versions"]["ray"] != "not installed"


def test_saved_model_loads_in_keras_and_matches_reported_accuracy(federated_run):
    """``model.keras`` is the final global model: it reproduces the last accuracy."""
    import keras
    import numpy as np

    from medfed_ray.data.datasets import load_dataset
    from medfed_ray.scenario.loading import load_scenario
    from medfed_ray.simulation import Seeds

    scenario, _ = load_scenario(federated_run / "scenario.toml")
    dataset = load_dataset(scenario.dataset, Seeds.from_scenario(scenario).data)
    model = keras.saving.load_model(federated_run / "model.keras")
    scaling = np.load(federated_run / "feature_scaling.npz", allow_pickle=False)
    raw_test = dataset.x_test * dataset.scaling[1] + dataset.scaling[0]

    # New patients' raw features, scaled with the stored statistics.
    scaled = (raw_test - scaling["mean"]) / scaling["std"]
    predictions = model.predict(scaled, verbose=0).argmax(axis=1)

    rounds = pd.read_parquet(federated_run / "rounds.parquet")
    assert np.mean(predictions == dataset.y_test) == pytest.approx(
        rounds["accuracy"].iloc[-1]
    )


def test_rerun_with_same_seed_is_identical(federated_run, tmp_path):
    """The resolved scenario rerun gives the same numbers in every non-timing column."""
    rerun = run_cli(federated_run / "scenario.toml", tmp_path / "rerun")

    first = pd.read_parquet(federated_run / "rounds.parquet").drop(
        columns=TIMING_COLUMNS
    )
    second = pd.read_parquet(rerun / "rounds.parquet").drop(columns=TIMING_COLUMNS)
    pd.testing.assert_frame_equal(first, second, check_exact=True)

    columns = [
        "round",
        "hospital",
        "examples",
        "local_loss",
        "update_norm",
        "contribution",
    ]
    first_h = pd.read_parquet(federated_run / "hospitals.parquet")[columns]
    second_h = pd.read_parquet(rerun / "hospitals.parquet")[columns]
    pd.testing.assert_frame_equal(first_h, second_h, check_exact=True)


def test_local_only_training_scores_every_hospital(
    ray_runtime, tiny_scenario, tmp_path
):
    """``training = "local"`` scores each hospital's own model on the global test set."""
    run = run_cli(tiny_scenario, tmp_path / "local", "training=local", "rounds=2")

    rounds = pd.read_parquet(run / "rounds.parquet")
    hospitals = pd.read_parquet(run / "hospitals.parquet")
    last = hospitals[hospitals["round"] == 2]

    assert last["test_accuracy"].notna().all()
    assert rounds["accuracy"].iloc[-1] == pytest.approx(last["test_accuracy"].mean())
    assert rounds["accuracy_std"].iloc[-1] == pytest.approx(
        last["test_accuracy"].std(ddof=0)
    )
    assert last["decision"].isna().all()


def test_median_aggregator_runs_end_to_end(ray_runtime, tiny_scenario, tmp_path):
    """``--set aggregator.name=median`` switches the rule and records its decisions."""
    run = run_cli(
        tiny_scenario, tmp_path / "median", "aggregator.name=median", "rounds=2"
    )

    hospitals = pd.read_parquet(run / "hospitals.parquet")
    summary = json.loads((run / "summary.json").read_text())

    assert summary["aggregator"] == "median"
    assert set(hospitals["decision"]) <= {"trimmed", "rejected"}
    assert hospitals.groupby("round")["contribution"].sum().round(6).eq(1.0).all()


def test_report_prints_the_summary_again(federated_run):
    """``medfed report RUN_DIR`` shows the final scores from ``summary.json``."""
    result = CliRunner().invoke(app, ["report", str(federated_run)])

    assert result.exit_code == 0, result.output
    assert "accuracy" in result.output
    assert "tiny (federated)" in result.output


def test_report_on_a_folder_without_summary_is_a_usage_error(tmp_path):
    """A folder that is not a finished run gets exit code 2 and says what is missing."""
    result = CliRunner().invoke(app, ["report", str(tmp_path)])

    assert result.exit_code == 2
    assert "summary.json not found" in result.output


def test_out_directory_that_is_not_empty_is_refused(
    ray_runtime, tiny_scenario, tmp_path
):
    """An existing, non-empty --out is never overwritten: no earlier results are lost."""
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("earlier results")

    result = CliRunner().invoke(app, ["run", str(tiny_scenario), "--out", str(out)])

    assert result.exit_code != 0
    assert (out / "keep.txt").read_text() == "earlier results"
