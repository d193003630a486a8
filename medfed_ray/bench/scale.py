"""How a whole run's time and memory grow with the number of hospitals.

For each size, a fresh child process runs a small federated scenario on
synthetic data (a small MLP on 16 features, or the CNN of
``scenarios/pneumonia.toml`` on PneumoniaMNIST-shaped images) through the
real engine: automatic packing, the coordinator, the object store, the run
tables. The parent samples the summed
proportional set size (PSS) of the child and every process below it (Ray's
services, the hospital actors, the coordinator) and reads the child's
timings.

Memory per hospital is the slope of peak PSS between two sizes,
``(peak(N2) - peak(N1)) / (N2 - N1)``: what one more hospital costs once the
fixed cost of Ray and the TensorFlow processes is paid. Peak PSS divided by
the number of hospitals would mostly be that fixed cost spread thin.
"""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from medfed_ray.bench.memory import PeakMemory

logger = logging.getLogger(__name__)

MODELS = ("mlp", "cnn")
TRAININGS = ("federated", "local")
SAMPLES_PER_HOSPITAL = 20
"""Training examples of each hospital: a small site, where per-hospital costs show."""
RAY_CPU_PRECISION = 1e-4
"""Ray keeps resource amounts to four decimals; a share must be a multiple of it."""


@dataclass(frozen=True)
class ScaleRecord:
    """What one size cost; seconds are wall-clock, memory is peak summed PSS."""

    hospitals: int
    model: str
    rounds: int
    fraction: float | None
    training: str
    startup_seconds: float
    """From the child's start until round 1 began: imports, data, Ray, the
    hospital actors and the coordinator with their models."""
    round_seconds: list[float]
    seconds_per_round: float
    """Mean of the rounds after the first (the first also compiles the train step)."""
    updates_per_second: float
    """Usable client updates of those rounds divided by their seconds."""
    updates_per_round: float
    peak_pss_mib: float
    processes_at_peak: int
    hospital_actors: int
    load_average_start: float
    load_average_end: float
    memory_per_hospital_kib: float | None = None
    """Slope of peak PSS from the previous size; None for the first size."""

    def to_dict(self) -> dict:
        """The record as JSON-ready values."""
        return asdict(self)


def cpu_share(num_hospitals: int, cores: int) -> float:
    """Each hospital's CPU share: the cores split evenly, in Ray's precision.

    With shares below one core, automatic packing fills a process per core.
    """
    steps = math.floor(cores / num_hospitals / RAY_CPU_PRECISION)
    if steps < 1:
        raise ValueError(
            f"{num_hospitals} hospitals on {cores} cores would get less than Ray's "
            f"smallest CPU share ({RAY_CPU_PRECISION:g}); use at most "
            f"{int(cores / RAY_CPU_PRECISION)} hospitals"
        )
    return min(1.0, steps * RAY_CPU_PRECISION)


def scale_scenario_data(
    num_hospitals: int,
    model: str,
    rounds: int,
    fraction: float | None,
    cores: int,
    training: str = "federated",
) -> dict:
    """The scenario of one size: synthetic data, ``SAMPLES_PER_HOSPITAL`` each, FedAvg.

    With ``training = "local"`` every hospital trains only its own model, and
    the last round scores each of those models on the test set.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}; found {model!r}")
    if training not in TRAININGS:
        raise ValueError(
            f"training must be one of {', '.join(TRAININGS)}; found {training!r}"
        )
    shape, model_table = [16], {"name": "mlp", "hidden_units": [32, 16]}
    if model == "cnn":
        # PneumoniaMNIST's shape and the CNN of scenarios/pneumonia.toml.
        shape = [28, 28, 1]
        model_table = {"name": "cnn", "conv_filters": [8, 16], "hidden_units": [32]}
    data = {
        "name": f"scale-{model}-{num_hospitals}",
        "seed": 0,
        "rounds": rounds,
        "training": training,
        "checkpoint_every": 0,
        "round_timeout_s": 3600,
        "dataset": {
            "name": "synthetic",
            # The test split takes 20%; what remains gives each hospital its shard.
            "synthetic_samples": math.ceil(num_hospitals * SAMPLES_PER_HOSPITAL / 0.8)
            + 2,
            "synthetic_classes": 2,
            "synthetic_shape": shape,
        },
        "partition": {"name": "iid", "min_samples": 1},
        "model": model_table,
        "local": {"epochs": 1, "batch_size": 32, "learning_rate": 0.05},
        # Scored once, after the last round.
        "evaluation": {"every": rounds},
        "hospitals": [
            {"count": num_hospitals, "num_cpus": cpu_share(num_hospitals, cores)}
        ],
    }
    if fraction is not None:
        data["sampling"] = {"mode": "poisson", "fraction": fraction}
    return data


def run_size(
    num_hospitals: int,
    model: str,
    rounds: int,
    fraction: float | None,
    cores: int,
    training: str = "federated",
) -> dict:
    """Child side: run one size through the engine; return its timings."""
    started = time.perf_counter()
    import ray

    from medfed_ray.placement import hospitals_per_actor, pack
    from medfed_ray.scenario.loading import validate_scenario
    from medfed_ray.simulation import connect, run_simulation

    scenario = validate_scenario(
        scale_scenario_data(num_hospitals, model, rounds, fraction, cores, training)
    )
    connect(num_cpus=cores)
    first_round_done: list[float] = []

    def on_round(result) -> None:
        if not first_round_done:
            first_round_done.append(time.perf_counter())

    with tempfile.TemporaryDirectory() as folder:
        outcome = run_simulation(scenario, Path(folder) / "run", on_round=on_round)
    actors = len(pack(scenario, hospitals_per_actor(scenario)))
    ray.shutdown()
    # Until round 1 began: the coordinator may still be starting when the
    # hospitals are ready, so the driver's own start-up clock stops too early.
    first_round_began = first_round_done[0] - outcome.rounds[0].round_seconds
    return {
        "startup_seconds": first_round_began - started,
        "round_seconds": [result.round_seconds for result in outcome.rounds],
        "updates": [result.updates_received for result in outcome.rounds],
        "hospital_actors": actors,
    }


def measure_size(
    num_hospitals: int,
    model: str,
    rounds: int,
    fraction: float | None = None,
    cores: int | None = None,
    training: str = "federated",
) -> ScaleRecord:
    """Run one size in a child process and measure its process tree's peak PSS."""
    cores = cores or available_cores()
    command = [
        sys.executable,
        "-m",
        "medfed_ray.bench.scale",
        str(num_hospitals),
        model,
        str(rounds),
        "none" if fraction is None else repr(fraction),
        str(cores),
        training,
    ]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    load_start = os.getloadavg()[0]
    child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    with PeakMemory(root=child.pid) as memory:
        output, _ = child.communicate()
    if child.returncode != 0:
        raise RuntimeError(
            f"the scale benchmark at {num_hospitals} hospitals failed "
            f"(exit {child.returncode}); its error is printed above"
        )
    timings = json.loads(output.strip().splitlines()[-1])

    seconds = timings["round_seconds"]
    updates = timings["updates"]
    # The first round also compiles the train step in every actor.
    steady = slice(1, None) if len(seconds) > 1 else slice(None)
    steady_seconds = sum(seconds[steady])
    return ScaleRecord(
        hospitals=num_hospitals,
        model=model,
        rounds=rounds,
        fraction=fraction,
        training=training,
        startup_seconds=timings["startup_seconds"],
        round_seconds=seconds,
        seconds_per_round=steady_seconds / len(seconds[steady]),
        updates_per_second=sum(updates[steady]) / steady_seconds,
        updates_per_round=sum(updates[steady]) / len(updates[steady]),
        peak_pss_mib=memory.peak_bytes / 2**20,
        processes_at_peak=memory.peak_processes,
        hospital_actors=timings["hospital_actors"],
        load_average_start=load_start,
        load_average_end=os.getloadavg()[0],
    )


def measure_sizes(
    sizes: list[int],
    model: str,
    rounds: int,
    fraction: float | None = None,
    cores: int | None = None,
    training: str = "federated",
) -> list[ScaleRecord]:
    """One record per size, smallest first, each with its slope from the previous."""
    records: list[ScaleRecord] = []
    for size in sorted(sizes):
        logger.info("scale benchmark: %d hospitals", size)
        record = measure_size(size, model, rounds, fraction, cores, training)
        if records:
            record = ScaleRecord(
                **{
                    **record.to_dict(),
                    "memory_per_hospital_kib": memory_slope_kib(records[-1], record),
                }
            )
        records.append(record)
    return records


def memory_slope_kib(smaller: ScaleRecord, larger: ScaleRecord) -> float:
    """KiB of peak PSS that each hospital between two sizes added."""
    added = (larger.peak_pss_mib - smaller.peak_pss_mib) * 1024
    return added / (larger.hospitals - smaller.hospitals)


def available_cores() -> int:
    """CPU cores this process may run on (its affinity), as Ray would count them."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not every platform has CPU affinity
        return os.cpu_count() or 1


def main() -> None:
    """Child entry: ``python -m medfed_ray.bench.scale N MODEL ROUNDS FRACTION CORES
    TRAINING``."""
    num_hospitals, model, rounds, fraction, cores, training = sys.argv[1:7]
    record = run_size(
        int(num_hospitals),
        model,
        int(rounds),
        None if fraction == "none" else float(fraction),
        int(cores),
        training,
    )
    print(json.dumps(record))


if __name__ == "__main__":
    main()
