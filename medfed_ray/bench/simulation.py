"""Client updates per second of the engine beside a plain single-process loop.

Both do exactly the same work per client update: load the global weights,
train one local epoch with a compiled train step, read the weights back, and
average the updates with FedAvg. The loop does it in one process, with no Ray
and no actors; the engine does it through hospital actors, the object store
and the coordinator. Their ratio is the simulator's own overhead (below 1) or
its parallel gain (above 1). Each side runs in a fresh child process, so its
start-up and its peak memory (summed PSS of the child and everything it
starts) are measured the same way.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

from medfed_ray.bench.memory import PeakMemory

SAMPLES_PER_HOSPITAL = 39
"""Shard size: a small hospital, where framework overhead shows most."""


def bench_scenario_data(num_hospitals: int, rounds: int, per_actor: int) -> dict:
    """The scenario both sides run: a small CNN on synthetic 28x28 grayscale images.

    The shapes are PneumoniaMNIST's, so the costs match a chest X-ray study,
    and synthetic data keeps the benchmark offline and the same everywhere.
    """
    return {
        "name": "bench",
        "seed": 0,
        "rounds": rounds,
        "checkpoint_every": 0,
        "round_timeout_s": 3600,
        "hospitals_per_actor": per_actor,
        "dataset": {
            "name": "synthetic",
            # The test split takes 20%; what remains gives each hospital its shard.
            "synthetic_samples": math.ceil(num_hospitals * SAMPLES_PER_HOSPITAL / 0.8)
            + 2,
            "synthetic_classes": 2,
            "synthetic_shape": [28, 28, 1],
            "standardize": False,
        },
        "partition": {"name": "iid", "min_samples": 1},
        "model": {"name": "cnn", "conv_filters": [8, 16]},
        "local": {"epochs": 1, "batch_size": 32, "learning_rate": 0.05},
        # The final round is always evaluated; no other evaluation is timed.
        "evaluation": {"every": rounds},
        "hospitals": [{"count": num_hospitals, "num_cpus": 2.0 / num_hospitals}],
    }


def run_loop(num_hospitals: int, rounds: int) -> dict:
    """The baseline: every client update in this one process, one after another."""
    started = time.perf_counter()
    import numpy as np

    from medfed_ray.aggregators import fedavg
    from medfed_ray.data.hospital_data import prepare_hospital_data
    from medfed_ray.hospital import round_generator
    from medfed_ray.local_training import LocalTrainer
    from medfed_ray.runtime import configure_tensorflow
    from medfed_ray.scenario.loading import validate_scenario
    from medfed_ray.simulation import Seeds

    scenario = validate_scenario(bench_scenario_data(num_hospitals, rounds, 1))
    seeds = Seeds.from_scenario(scenario)
    dataset, shards = prepare_hospital_data(scenario, seeds.data, seeds.partition)
    configure_tensorflow(1.0, seed=seeds.model)
    trainer = LocalTrainer(
        scenario.model, scenario.local, dataset.input_shape, dataset.num_classes
    )
    weights = trainer.weights.get()
    first_round_at = time.perf_counter()

    round_seconds = []
    for round_number in range(1, rounds + 1):
        round_started = time.perf_counter()
        updates, counts = [], []
        for hospital_id, shard in enumerate(shards):
            trainer.weights.set(weights)
            trainer.reset_optimizer()
            rng = round_generator(seeds.hospitals[hospital_id], round_number)
            trainer.train(dataset.x_train[shard], dataset.y_train[shard], rng)
            updates.append(trainer.weights.get() - weights)
            counts.append(len(shard))
        weights = weights + fedavg.aggregate(np.stack(updates), np.array(counts)).update
        round_seconds.append(time.perf_counter() - round_started)
    return {
        "startup_seconds": first_round_at - started,
        "round_seconds": round_seconds,
    }


def run_engine(num_hospitals: int, rounds: int, per_actor: int) -> dict:
    """The engine: the same scenario through hospital actors and the coordinator."""
    import tempfile

    from medfed_ray.scenario.loading import validate_scenario
    from medfed_ray.simulation import run_simulation

    scenario = validate_scenario(bench_scenario_data(num_hospitals, rounds, per_actor))
    with tempfile.TemporaryDirectory() as folder:
        outcome = run_simulation(scenario, Path(folder) / "run")
    return {
        "startup_seconds": outcome.summary["startup_seconds"],
        "round_seconds": [result.round_seconds for result in outcome.rounds],
    }


def measure(side: str, num_hospitals: int, rounds: int, per_actor: int) -> dict:
    """Run one side in a child process; add its peak memory and steady throughput."""
    command = [
        sys.executable,
        "-m",
        "medfed_ray.bench.simulation",
        side,
        str(num_hospitals),
        str(rounds),
        str(per_actor),
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    with PeakMemory(root=child.pid) as memory:
        output, _ = child.communicate()
    if child.returncode != 0:
        raise RuntimeError(f"the {side} benchmark failed (exit {child.returncode})")

    record = json.loads(output.strip().splitlines()[-1])
    # Round 1 includes compiling the train step and the last round the
    # engine's evaluation of the global model; steady rounds are those between.
    steady = record["round_seconds"][1:-1]
    record.update(
        side=side,
        hospitals=num_hospitals,
        updates_per_second=num_hospitals / (sum(steady) / len(steady)),
        peak_pss_mib=memory.peak_bytes / 2**20,
        processes_at_peak=memory.peak_processes,
    )
    return record


def main() -> None:
    """Child-process entry: ``python -m medfed_ray.bench.simulation SIDE N ROUNDS PER_ACTOR``."""
    side, num_hospitals, rounds, per_actor = sys.argv[1], *map(int, sys.argv[2:5])
    if side == "loop":
        record = run_loop(num_hospitals, rounds)
    else:
        record = run_engine(num_hospitals, rounds, per_actor)
    print(json.dumps(record))


if __name__ == "__main__":
    main()
