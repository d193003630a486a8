"""A small sweep end to end: under sign-flipping the median keeps the model, the mean does not."""

from __future__ import annotations

import pyarrow.parquet as pq
from typer.testing import CliRunner

from medfed_ray.cli.app import app

SCENARIO = """
name = "headline_small"
seed = 3
rounds = 6
round_timeout_s = 120
min_hospitals = 3
checkpoint_every = 0
hospitals_per_actor = 3

[dataset]
name = "breast_cancer"

[partition]
name = "iid"

[model]
hidden_units = [8]

[local]
epochs = 1
batch_size = 16
learning_rate = 0.05

[[hospitals]]
count = 2
num_cpus = 0.25

[[hospitals]]
count = 1
behaviour = "sign_flip"
scale = 4.0
num_cpus = 0.25

[sweep]
"aggregator.name" = ["mean", "median"]
"""


def test_median_beats_mean_under_sign_flipping(ray_runtime, tmp_path):
    """One of three hospitals sends -4 times its update: the mean's step points
    uphill ((2 - 4) / 3 of the honest one), while the coordinate-wise median
    stays between the honest values. The run also shows the attacker caught."""
    path = tmp_path / "headline.toml"
    path.write_text(SCENARIO)
    out = tmp_path / "sweep"

    result = CliRunner().invoke(app, ["run", str(path), "--out", str(out)])

    assert result.exit_code == 0, result.output
    table = pq.read_table(out / "sweep.parquet").to_pylist()
    accuracy = {row["aggregator.name"]: row["accuracy"] for row in table}
    assert [row["status"] for row in table] == ["ok", "ok"]
    assert accuracy["median"] > 0.85
    assert accuracy["median"] > accuracy["mean"] + 0.1
    assert (out / "sweep_accuracy.png").read_bytes()[:4] == b"\x89PNG"

    rows = pq.read_table(out / "runs" / "001-median" / "hospitals.parquet").to_pylist()
    share = {"honest": [], "sign_flip": []}
    for row in rows:
        share[row["behaviour"]].append(row["contribution"])
    # The median almost never takes its value from an attacker's row.
    assert max(share["sign_flip"]) < min(share["honest"])
