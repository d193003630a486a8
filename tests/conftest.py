"""Shared fixtures: one Ray runtime for the whole session, and tiny scenario files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

TINY_SCENARIO = """
name = "tiny"
seed = 7
rounds = 3
round_timeout_s = 120
min_hospitals = 2
# One actor hosts all three hospitals: fewer TensorFlow processes to start.
hospitals_per_actor = 3

[dataset]
name = "breast_cancer"

[partition]
name = "dirichlet"
alpha = 1.0
min_samples = 20

[model]
hidden_units = [8]

[local]
epochs = 1
batch_size = 32
learning_rate = 0.1

[[hospitals]]
count = 3
num_cpus = 0.5
"""


@pytest.fixture(scope="session")
def ray_runtime():
    """A local Ray runtime shared by every test that needs one."""
    import ray

    from medfed_ray.simulation import connect

    connect(num_cpus=2)
    yield ray
    ray.shutdown()


@pytest.fixture
def tiny_scenario(tmp_path: Path) -> Path:
    """A three-hospital, three-round scenario that runs in seconds."""
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_SCENARIO)
    return path
