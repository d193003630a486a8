"""Run a tiny scenario on a two-node local Ray cluster, then on one node; print both.

Started by ``test_cluster.py`` in its own process, since it needs Ray runtimes
of its own. The data file is deleted as soon as the driver has loaded it, so
the run can only succeed if no actor reads it from the driver's disk.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import ray
from ray.cluster_utils import Cluster
from sklearn.datasets import load_breast_cancer

import medfed_ray.simulation as simulation
from medfed_ray.scenario.loading import validate_scenario


def scenario_for(data_file: Path):
    return validate_scenario(
        {
            "name": "cluster",
            "seed": 5,
            "rounds": 2,
            "checkpoint_every": 0,
            "dataset": {"name": "npz", "path": str(data_file)},
            "partition": {"name": "iid", "min_samples": 20},
            "model": {"hidden_units": [4]},
            "local": {"batch_size": 64, "learning_rate": 0.1},
            "hospitals": [{"count": 2, "num_cpus": 1.0}],
        }
    )


def run_once(folder: Path, name: str, address: str | None) -> dict:
    data_file = folder / f"{name}.npz"
    bunch = load_breast_cancer()
    np.savez(
        data_file, x=bunch.data.astype(np.float32), y=bunch.target.astype(np.int64)
    )

    load = simulation.prepare_data

    def load_then_delete(scenario, seeds):
        loaded = load(scenario, seeds)
        data_file.unlink()
        return loaded

    simulation.prepare_data = load_then_delete
    outcome = simulation.run_simulation(
        scenario_for(data_file), folder / name, address=address
    )
    simulation.prepare_data = load
    return {
        "accuracy": [result.accuracy for result in outcome.rounds],
        "loss": [result.loss for result in outcome.rounds],
        "norms": [
            [row.update_norm for row in result.hospitals] for result in outcome.rounds
        ],
        "nodes": outcome.summary["hospitals_per_node"],
        "data_file_exists": data_file.exists(),
    }


def main() -> None:
    folder = Path(tempfile.mkdtemp())
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    cluster.add_node(num_cpus=1)
    cluster.wait_for_nodes()
    simulation.connect(cluster.address)
    on_cluster = run_once(folder, "cluster", cluster.address)
    ray.shutdown()
    cluster.shutdown()

    simulation.connect(num_cpus=2)
    single = run_once(folder, "single", None)
    ray.shutdown()
    json.dump({"cluster": on_cluster, "single": single}, sys.stdout)


if __name__ == "__main__":
    main()
