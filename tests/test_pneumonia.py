"""The pneumonia scenario: a small CNN on real paediatric chest X-rays (PneumoniaMNIST)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from medfed_ray.cli.app import app
from medfed_ray.data.datasets import load_dataset
from medfed_ray.scenario.loading import load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = ROOT / "scenarios" / "pneumonia.toml"
DATA = (ROOT / ".." / "shared" / "data" / "pneumoniamnist.npz").resolve()

needs_data = pytest.mark.skipif(
    not DATA.is_file(),
    reason=f"PneumoniaMNIST test file not found at {DATA} (../shared/data/ from the "
    "project root); it is not part of the repository",
)


@needs_data
def test_pneumonia_data_loads_as_uint8_images():
    """Train + val pool (3,882 + 524), the 624-image test split, two classes, uint8."""
    scenario, _ = load_scenario(SCENARIO, [f"dataset.path={json.dumps(str(DATA))}"])

    dataset = load_dataset(scenario.dataset, np.random.SeedSequence(0))

    assert (len(dataset.y_train), len(dataset.y_test)) == (4406, 624)
    assert dataset.x_train.dtype == np.uint8 and dataset.input_shape == (28, 28, 1)
    assert dataset.num_classes == 2
    assert np.bincount(dataset.y_test).tolist() == [234, 390]


@needs_data
def test_pneumonia_scenario_runs_end_to_end(ray_runtime, tmp_path):
    """Two hospitals, three rounds on 800 images: each trains on its shard minus its
    validation split, and the global CNN ranks pneumonia above normal (AUROC > 0.8)."""
    out = tmp_path / "run"
    overrides = [
        f"dataset.path={json.dumps(str(DATA))}",
        "dataset.max_train_samples=800",
        "rounds=3",
        "hospitals[0].count=2",
        "min_hospitals=2",
        "partition.min_samples=50",
    ]
    arguments = ["run", str(SCENARIO), "--out", str(out)]
    for override in overrides:
        arguments += ["--set", override]

    result = CliRunner().invoke(app, arguments)

    assert result.exit_code == 0, result.output
    summary = json.loads((out / "summary.json").read_text())
    shard_sizes = summary["examples_per_hospital"]
    assert sum(shard_sizes) == 800
    hospitals = pd.read_parquet(out / "hospitals.parquet")
    trained = hospitals[hospitals["round"] == 1].sort_values("hospital")["examples"]
    assert trained.tolist() == [size - int(0.1 * size) for size in shard_sizes]
    assert math.isfinite(summary["final"]["accuracy"])
    assert summary["final"]["auroc"] > 0.8
