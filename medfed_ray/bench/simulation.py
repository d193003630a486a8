"""Client updates per second of the engine beside a plain loop and Flower's simulation.

Every side does exactly the same work per client update: load the global
weights, train one local epoch with a compiled train step, read the weights
back, and average the updates with FedAvg. The loop does it in one process,
with no Ray and no actors; the engine does it through hospital actors, the
object store and the coordinator; Flower, when ``flwr`` is installed, through
its own simulation engine (see :mod:`medfed_ray.bench.flower_side`). Their
ratios are the simulator's own overhead (below 1) or its gain (above 1). Each
side runs in a fresh child process, so its start-up and its peak memory
(summed PSS of the child and everything it starts) are measured the same way.

Start-up runs from the first line of a side's child-process function, before
it imports its modules, until its first round can begin.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import tempfile
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
        "final_weights_l2": float(np.linalg.norm(weights.astype(np.float64))),
    }


def run_engine(num_hospitals: int, rounds: int, actors: int) -> dict:
    """The engine: the same scenario through ``actors`` hospital actors and the coordinator."""
    started = time.perf_counter()
    from medfed_ray.scenario.loading import validate_scenario
    from medfed_ray.simulation import run_simulation

    per_actor = math.ceil(num_hospitals / actors)
    scenario = validate_scenario(bench_scenario_data(num_hospitals, rounds, per_actor))
    # The run's own start-up clock starts when it is called; the imports and
    # the validation before it count too, as they do for the other sides.
    called = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        outcome = run_simulation(scenario, Path(folder) / "run")
    return {
        "startup_seconds": called - started + outcome.summary["startup_seconds"],
        "round_seconds": [result.round_seconds for result in outcome.rounds],
    }


def flower_available() -> bool:
    """Whether ``flwr`` is installed here, so the Flower side can run."""
    return importlib.util.find_spec("flwr") is not None


def measure(side: str, num_hospitals: int, rounds: int, actors: int = 1) -> dict:
    """Run one side in a child process; add its peak memory and steady throughput.

    ``actors`` is the number of processes that train, one core's worth each
    (the loop always trains in its one process). The child's log goes to a
    file, shown only if the child fails.
    """
    command = [
        sys.executable,
        "-m",
        "medfed_ray.bench.simulation",
        side,
        str(num_hospitals),
        str(rounds),
        str(actors),
    ]
    # Flower would otherwise try to send usage telemetry over the network.
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "FLWR_TELEMETRY_ENABLED": "0"}
    with tempfile.TemporaryFile("w+") as log:
        child = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, text=True, env=env
        )
        with PeakMemory(root=child.pid) as memory:
            output, _ = child.communicate()
        if child.returncode != 0:
            log.seek(0)
            tail = "".join(log.readlines()[-20:])
            raise RuntimeError(
                f"the {side} benchmark failed (exit {child.returncode}); "
                f"the end of its log:\n{tail}"
            )

    record = json.loads(last_json_line(output))
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


def last_json_line(output: str) -> str:
    """The child's record: its last output line that holds a JSON object."""
    for line in reversed(output.strip().splitlines()):
        if line.startswith("{"):
            return line
    raise RuntimeError(f"the benchmark child printed no record; it printed {output!r}")


def engine_ratios(engine: dict, loop: dict, flower: dict | None) -> dict:
    """Engine throughput, start-up and memory relative to the loop and to Flower.

    Ratios against Flower are ``None`` when Flower was not measured.
    """

    def ratio(key: str, other: dict | None) -> float | None:
        return None if other is None else engine[key] / other[key]

    return {
        "engine_over_loop_updates": ratio("updates_per_second", loop),
        "engine_over_loop_startup": ratio("startup_seconds", loop),
        "engine_over_loop_memory": ratio("peak_pss_mib", loop),
        "engine_over_flower_updates": ratio("updates_per_second", flower),
        "engine_over_flower_startup": ratio("startup_seconds", flower),
        "engine_over_flower_memory": ratio("peak_pss_mib", flower),
    }


def main() -> None:
    """Child-process entry: ``python -m medfed_ray.bench.simulation SIDE N ROUNDS ACTORS``."""
    side, num_hospitals, rounds, actors = sys.argv[1], *map(int, sys.argv[2:5])
    if side == "loop":
        record = run_loop(num_hospitals, rounds)
    elif side == "engine":
        record = run_engine(num_hospitals, rounds, actors)
    elif side == "flower":
        # Cross-process times on the Flower side use the monotonic clock.
        started = time.monotonic()
        from medfed_ray.bench.flower_side import run_flower

        record = run_flower(num_hospitals, rounds, actors, started)
    else:
        raise SystemExit(f"unknown side {side!r}; choose loop, engine or flower")
    print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
