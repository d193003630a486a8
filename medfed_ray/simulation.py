"""The driver: partitions data, starts the actors, runs the rounds, writes the run."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import ray
from ray.exceptions import GetTimeoutError

from medfed_ray.coordinator import CoordinatorActor, HospitalSeat
from medfed_ray.data.datasets import Dataset, load_dataset
from medfed_ray.data.partition import partition
from medfed_ray.errors import ResourceError
from medfed_ray.hospital import HospitalSpec
from medfed_ray.hospital_actor import HospitalActor
from medfed_ray.round_result import RoundResult
from medfed_ray.run_directory import RunDirectory
from medfed_ray.runtime import QUIET_ENV
from medfed_ray.scenario.schema import Scenario

logger = logging.getLogger(__name__)

STARTUP_TIMEOUT_S = 600.0
"""How long hospital actors may take to start (importing TensorFlow, building models)."""


@dataclass(frozen=True)
class Seeds:
    """Independent seed streams spawned from the scenario's one seed.

    Spawning (rather than adding offsets to the seed) gives streams that are
    statistically independent and stable when another stream is added.
    """

    data: np.random.SeedSequence
    partition: np.random.SeedSequence
    model: int
    hospitals: list[np.random.SeedSequence]

    @classmethod
    def from_scenario(cls, scenario: Scenario) -> Seeds:
        """Spawn the streams for ``scenario``."""
        root = np.random.SeedSequence(scenario.seed)
        data, split, model, hospitals = root.spawn(4)
        return cls(
            data=data,
            partition=split,
            model=int(model.generate_state(1)[0]),
            hospitals=hospitals.spawn(scenario.num_hospitals),
        )


@dataclass
class RunOutcome:
    """What a finished run returns to its caller."""

    path: Path
    rounds: list[RoundResult]
    summary: dict


def connect(
    address: str | None = None,
    show_actor_output: bool = False,
    num_cpus: int | None = None,
) -> None:
    """Start or join a Ray runtime, with the dashboard off, unless one is running.

    ``address`` joins an existing cluster (``"auto"`` or ``"HOST:PORT"``).
    Actors' own output (TensorFlow's start-up lines) stays in Ray's log files
    unless ``show_actor_output``.
    ``num_cpus`` caps a local runtime's CPUs (default: all of the machine's).
    """
    if ray.is_initialized():
        return
    ray.init(
        address=address,
        num_cpus=num_cpus if address is None else None,
        include_dashboard=False,
        logging_level=logging.WARNING,
        log_to_driver=show_actor_output,
        runtime_env={"env_vars": dict(QUIET_ENV)},
    )


def prepare_data(scenario: Scenario, seeds: Seeds) -> tuple[Dataset, list[np.ndarray]]:
    """Load the dataset and split its training part over the hospitals."""
    dataset = load_dataset(scenario.dataset, seeds.data)
    shards = partition(
        dataset.y_train, scenario.num_hospitals, scenario.partition, seeds.partition
    )
    return dataset, shards


def check_resources(scenario: Scenario) -> None:
    """Fail before any actor starts if the cluster cannot host every hospital."""
    available = ray.cluster_resources()
    for resource, key in (("CPU", "num_cpus"), ("GPU", "num_gpus")):
        needed = sum(getattr(group, key) * group.count for group in scenario.hospitals)
        have = float(available.get(resource, 0.0))
        if needed > have + 1e-9:
            raise ResourceError(
                f"the hospitals ask for {needed:g} {resource}s in all (count x {key} "
                f"over hospital groups) but the Ray cluster has {have:g}. Lower {key} "
                "per hospital group, or run on a larger cluster with --address."
            )


def start_hospitals(
    scenario: Scenario, dataset: Dataset, shards: list[np.ndarray], seeds: Seeds
) -> list[HospitalSeat]:
    """Start one actor per hospital, each given its shard through the object store."""
    seats = []
    group_of = scenario.hospital_groups()
    for hospital_id, indices in enumerate(shards):
        group = scenario.hospitals[group_of[hospital_id]]
        spec = HospitalSpec(
            hospital_id=hospital_id,
            group=group_of[hospital_id],
            behaviour=group.behaviour,
            scale=group.scale,
            std=group.std,
            seed=seeds.hospitals[hospital_id],
        )
        shard_refs = (
            ray.put(dataset.x_train[indices]),
            ray.put(dataset.y_train[indices]),
        )
        actor = HospitalActor.options(
            num_cpus=group.num_cpus, num_gpus=group.num_gpus, name=None
        ).remote(
            [spec],
            [shard_refs],
            scenario.model,
            scenario.local,
            dataset.input_shape,
            dataset.num_classes,
            group.num_cpus,
        )
        seats.append(HospitalSeat(spec, actor))

    try:
        ray.get(
            [seat.actor.ready.remote() for seat in seats], timeout=STARTUP_TIMEOUT_S
        )
    except GetTimeoutError:
        raise ResourceError(
            f"hospital actors did not start within {STARTUP_TIMEOUT_S:.0f} s; the cluster "
            "may lack the CPUs/GPUs or memory they ask for"
        ) from None
    return seats


def run_simulation(
    scenario: Scenario,
    out: Path,
    on_round: Callable[[RoundResult], None] | None = None,
    address: str | None = None,
) -> RunOutcome:
    """Run ``scenario`` to the end and write its run directory at ``out``."""
    started = time.perf_counter()
    seeds = Seeds.from_scenario(scenario)
    dataset, shards = prepare_data(scenario, seeds)
    run_dir = RunDirectory(out, scenario)

    connect(address)
    check_resources(scenario)
    seats = start_hospitals(scenario, dataset, shards, seeds)
    coordinator = CoordinatorActor.options(num_cpus=0).remote(
        scenario,
        seats,
        ray.put(dataset.x_test),
        ray.put(dataset.y_test),
        dataset.input_shape,
        dataset.num_classes,
        seeds.model,
    )
    startup_seconds = time.perf_counter() - started
    logger.info("%d hospitals ready after %.1f s", len(seats), startup_seconds)

    results: list[RoundResult] = []
    try:
        for round_number in range(1, scenario.rounds + 1):
            result = ray.get(coordinator.run_round.remote(round_number))
            results.append(result)
            log_round(result, scenario.rounds)
            run_dir.add_round(result)
            if on_round is not None:
                on_round(result)

        run_dir.write_model(
            ray.get(coordinator.model_file_bytes.remote()),
            ray.get(coordinator.layout.remote()),
        )
    finally:
        for actor in [coordinator, *(seat.actor for seat in seats)]:
            ray.kill(actor)

    summary = summarize(
        scenario, results, shards, time.perf_counter() - started, startup_seconds
    )
    run_dir.write_summary(summary)
    return RunOutcome(out, results, summary)


def log_round(result: RoundResult, total_rounds: int) -> None:
    """Log the shape of a round: a header, one line per failure, the scores."""
    logger.info(
        "[ROUND %d/%d] %d updates aggregated, %d left out, %.2f s",
        result.round,
        total_rounds,
        result.updates_received,
        result.updates_rejected,
        result.round_seconds,
    )
    for row in result.hospitals:
        if row.status != "ok":
            logger.info("  hospital %d %s: %s", row.hospital, row.status, row.error)
    if result.evaluated:
        logger.info(
            "  accuracy %.4f, balanced accuracy %.4f, AUROC %.4f, loss %.4f",
            result.accuracy,
            result.balanced_accuracy,
            result.auroc,
            result.loss,
        )


def summarize(
    scenario: Scenario,
    results: list[RoundResult],
    shards: list[np.ndarray],
    wall_seconds: float,
    startup_seconds: float,
) -> dict:
    """The facts of ``summary.json``: final scores, rounds, time, seed."""
    evaluated = [result for result in results if result.evaluated]
    final = evaluated[-1] if evaluated else None
    scores = ("accuracy", "balanced_accuracy", "auroc", "loss", "accuracy_std")
    return {
        "scenario": scenario.name,
        "training": scenario.training,
        "aggregator": scenario.aggregator.name,
        "seed": scenario.seed,
        "rounds": len(results),
        "hospitals": scenario.num_hospitals,
        "examples_per_hospital": [len(shard) for shard in shards],
        "final": {key: getattr(final, key) for key in scores} if final else None,
        "wall_seconds": wall_seconds,
        "startup_seconds": startup_seconds,
    }
