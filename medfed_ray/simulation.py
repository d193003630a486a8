"""The driver: partitions data, starts the actors, runs the rounds, writes the run."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import ray
from ray.exceptions import RayActorError, RayTaskError

from medfed_ray.checkpoint import CheckpointError, checkpoint_path, write_checkpoint
from medfed_ray.coordinator import CoordinatorActor
from medfed_ray.coordinator_state import CoordinatorState
from medfed_ray.data.datasets import Dataset
from medfed_ray.data.hospital_data import prepare_hospital_data
from medfed_ray.errors import QuorumError, RunStopped, SimulationError
from medfed_ray.placement import (
    check_resources,
    hospitals_per_node,
    start_hospitals,
    stop_actors,
    unique_actors,
)
from medfed_ray.resume_checks import (
    check_same_data,
    check_state_fits,
    data_digest,
    open_resumption,
    resumable_changes,
    scenario_record,
)
from medfed_ray.round_log import describe_left_out, log_round
from medfed_ray.round_result import RoundResult
from medfed_ray.run_directory import RunDirectory, check_new_run_directory
from medfed_ray.runtime import QUIET_ENV
from medfed_ray.scenario.schema import Scenario
from medfed_ray.update_checks import first_line, last_line

logger = logging.getLogger(__name__)


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
    dashboard: bool = False,
) -> None:
    """Start or join a Ray runtime, with the dashboard off, unless one is running.

    ``address`` joins an existing cluster (``"auto"`` or ``"HOST:PORT"``).
    Actors' own output (TensorFlow's start-up lines) stays in Ray's log files
    unless ``show_actor_output``.
    ``num_cpus`` caps a local runtime's CPUs (default: all of the machine's).
    ``dashboard`` turns Ray's dashboard on, on 127.0.0.1 only (it needs
    ``pip install "ray[default]"``).
    """
    if ray.is_initialized():
        return
    ray.init(
        # "local" always starts a new runtime; None would join one left
        # running on this machine by `ray start`.
        address=address or "local",
        num_cpus=num_cpus if address is None else None,
        include_dashboard=dashboard,
        dashboard_host="127.0.0.1",
        logging_level=logging.WARNING,
        log_to_driver=show_actor_output,
        runtime_env={"env_vars": dict(QUIET_ENV)},
    )


def prepare_data(scenario: Scenario, seeds: Seeds) -> tuple[Dataset, list[np.ndarray]]:
    """Load the dataset and split its training part over the hospitals."""
    return prepare_hospital_data(scenario, seeds.data, seeds.partition)


def run_simulation(
    scenario: Scenario,
    out: Path,
    on_round: Callable[[RoundResult], None] | None = None,
    address: str | None = None,
    resume: bool = False,
    stop_after_round: int | None = None,
) -> RunOutcome:
    """Run ``scenario`` and write its run directory at ``out``.

    With ``resume``, ``out`` is an earlier run directory: the run continues
    after its latest checkpoint and ends as an uninterrupted run would.
    ``stop_after_round`` ends the run early after that round, with a
    checkpoint, as Ctrl-C does (used to test resuming).
    """
    started = time.perf_counter()
    resumption = open_resumption(out, scenario) if resume else None
    state = None if resumption is None else resumption.state
    if resumption is None:
        check_new_run_directory(out)
    seeds = Seeds.from_scenario(scenario)
    dataset, shards = prepare_data(scenario, seeds)
    # What the run is made of, recorded with every checkpoint.
    provenance = {
        "scenario": scenario_record(scenario),
        "data_sha256": data_digest(dataset),
    }
    if resumption is not None:
        check_same_data(resumption.data_sha256, provenance["data_sha256"])

    connect(address)
    check_resources(scenario)
    seats = start_hospitals(scenario, dataset, shards, seeds)
    placement = hospitals_per_node(seats)
    initial_weights, layout = ray.get(seats[0].actor.initial_model.remote())
    if state is not None:
        try:
            check_state_fits(
                state, initial_weights.size, scenario.num_hospitals, scenario.training
            )
        except CheckpointError:
            stop_actors(unique_actors(seats))
            raise
    coordinator = CoordinatorActor.options(num_cpus=0).remote(
        scenario,
        seats,
        [ray.put(dataset.x_test), ray.put(dataset.y_test)],
        initial_weights,
        layout,
        state,
    )
    if state is not None:
        check = ray.get(coordinator.privacy_check.remote(state.completed_round + 1))
        if check is not None and not check.allowed:
            stop_actors([coordinator, *unique_actors(seats)])
            raise CheckpointError(
                f"nothing is left to run: {check.message()}. To train further, "
                "raise privacy.max_epsilon in scenario.toml"
            )
    startup_seconds = time.perf_counter() - started
    logger.info("%d hospitals ready after %.1f s", len(seats), startup_seconds)

    # The directory is made only once the hospitals are up, so a run refused
    # for resources leaves nothing behind that would block a rerun.
    if state is not None:
        run_dir = RunDirectory.reopen(out, scenario, state.completed_round)
        changed = resumable_changes(resumption.scenario, scenario)
        run_dir.record_resume(state.completed_round, changed)
        logger.info(
            "resuming %s after round %d%s",
            out,
            state.completed_round,
            "".join(
                f"; {path} {change['before']!r} -> {change['after']!r}"
                for path, change in changed.items()
            ),
        )
    else:
        run_dir = RunDirectory(out, scenario)

    first_round = 1 if state is None else state.completed_round + 1
    budget_stop = None
    last_state = state
    results: list[RoundResult] = []
    try:
        for round_number in range(first_round, scenario.rounds + 1):
            budget_stop = privacy_budget_stop(coordinator, round_number)
            if budget_stop is not None:
                break
            result = run_round_with_retries(
                coordinator, scenario, round_number, run_dir
            )
            results.append(result)
            log_round(result, scenario.rounds, scenario.training == "local")
            run_dir.add_round(result)
            # The state of every completed round is kept on the driver, so a
            # checkpoint can be written even if the actors are already gone.
            last_state = ray.get(coordinator.get_state.remote())
            if on_round is not None:
                on_round(result)
            if due_for_checkpoint(scenario, round_number):
                write_checkpoint(out, last_state, provenance)
            if stop_after_round is not None and round_number >= stop_after_round:
                raise RunInterrupted(out, round_number, last_state)

        # The last state is always checkpointed (the loop may have just done
        # so), so a finished run, or one stopped by its privacy budget, can
        # go on after rounds or privacy.max_epsilon is raised.
        if last_state is not None and last_state.completed_round > 0:
            if not checkpoint_path(out, last_state.completed_round).exists():
                write_checkpoint(out, last_state, provenance)

        privacy_summary = ray.get(coordinator.privacy_summary.remote())
        run_dir.write_model(
            ray.get(coordinator.model_file_bytes.remote()),
            ray.get(coordinator.layout.remote()),
            dataset.scaling,
        )
    except KeyboardInterrupt:
        raise interrupted(out, last_state, provenance) from None
    except RunInterrupted as stop:
        raise interrupted(out, stop.state, provenance) from None
    except QuorumError as error:
        raise stopped_below_quorum(out, last_state, provenance, error) from None
    except RayTaskError as error:
        cause = error.cause if error.cause is not None else error
        logger.debug("coordinator failure", exc_info=True)
        raise SimulationError(
            f"the coordinator failed: {type(cause).__name__}: {first_line(cause)}"
        ) from None
    except RayActorError as error:
        raise SimulationError(
            f"the coordinator actor died: {last_line(error)}. Possible causes: an "
            "error while it started (shown), the machine ran out of memory, or its "
            "process was killed"
        ) from None
    finally:
        run_dir.flush()
        stop_actors([coordinator, *unique_actors(seats)])

    summary = summarize(
        scenario,
        run_dir.all_rounds(),
        shards,
        time.perf_counter() - started,
        startup_seconds,
    )
    if privacy_summary is not None:
        summary["privacy"] = {**privacy_summary, "budget_stop": budget_stop}
    summary["hospitals_per_node"] = placement
    resumes = run_dir.resumes()
    if resumes:
        summary["resumes"] = resumes
    run_dir.write_summary(summary)
    return RunOutcome(out, results, summary)


def privacy_budget_stop(
    coordinator: ray.actor.ActorHandle, round_number: int
) -> str | None:
    """Why ``round_number`` must not run (it would exceed ``max_epsilon``), or None."""
    check = ray.get(coordinator.privacy_check.remote(round_number))
    if check is None or check.allowed:
        return None
    logger.warning("%s", check.message())
    return check.message()


def run_round_with_retries(
    coordinator: ray.actor.ActorHandle,
    scenario: Scenario,
    round_number: int,
    run_dir: RunDirectory,
) -> RoundResult:
    """Run a round; below quorum retry it or stop, as ``on_quorum_failure`` says.

    Every failed attempt's hospital rows are recorded with their attempt number.
    """
    retries = scenario.max_round_retries if scenario.on_quorum_failure == "retry" else 0
    for attempt in range(1, retries + 2):
        result = ray.get(coordinator.run_round.remote(round_number, attempt))
        if result.quorum_met:
            return result
        run_dir.add_failed_attempt(result)
        logger.warning(
            "round %d attempt %d: %d usable updates, below min_hospitals = %d%s",
            round_number,
            attempt,
            result.updates_received,
            scenario.min_hospitals,
            "; retrying" if attempt <= retries else "",
        )
    raise QuorumError(
        round_number,
        result.updates_received,
        scenario.min_hospitals,
        left_out=describe_left_out(result),
    )


def due_for_checkpoint(scenario: Scenario, round_number: int) -> bool:
    """Checkpoint every ``checkpoint_every`` rounds (0: never on schedule)."""
    every = scenario.checkpoint_every
    return every > 0 and round_number % every == 0


class RunInterrupted(Exception):
    """Internal signal: stop after this round as if interrupted."""

    def __init__(self, path: Path, round_number: int, state: CoordinatorState):
        super().__init__(round_number)
        self.path, self.round_number, self.state = path, round_number, state


def interrupted(
    out: Path, state: CoordinatorState | None, provenance: dict
) -> RunStopped:
    """Write a checkpoint of the last completed round and say how to resume.

    ``provenance`` (the run's scenario and data digest) is recorded with it.
    """
    if state is None or state.completed_round == 0:
        return RunStopped(
            f"interrupted before the first round finished; nothing to resume in {out}"
        )
    write_checkpoint(out, state, provenance)
    return RunStopped(
        f"interrupted after round {state.completed_round}; a checkpoint is in "
        f"{out / 'checkpoints'}. Resume with: medfed run --resume {out}"
    )


def stopped_below_quorum(
    out: Path, state: CoordinatorState | None, provenance: dict, error: QuorumError
) -> QuorumError:
    """Checkpoint the last completed round, so a run that lost its quorum can go on.

    A quorum failure is often transient (an overloaded machine, a deadline set
    too short); after editing the run directory's ``scenario.toml`` the user
    resumes without redoing the rounds that completed.
    """
    if state is None or state.completed_round == 0:
        return error
    write_checkpoint(out, state, provenance)
    return QuorumError(
        error.round_number, error.answered, error.min_hospitals, out, error.left_out
    )


def summarize(
    scenario: Scenario,
    rounds: list[dict],
    shards: list[np.ndarray],
    wall_seconds: float,
    startup_seconds: float,
) -> dict:
    """The facts of ``summary.json`` from the ``rounds.parquet`` rows of the whole run."""
    evaluated = [row for row in rounds if row["evaluated"]]
    final = evaluated[-1] if evaluated else None
    scores = ("accuracy", "balanced_accuracy", "auroc", "loss", "accuracy_std")
    return {
        "scenario": scenario.name,
        "training": scenario.training,
        "aggregator": scenario.aggregator.name
        if scenario.training == "federated"
        else None,
        "seed": scenario.seed,
        "rounds": len(rounds),
        "hospitals": scenario.num_hospitals,
        "examples_per_hospital": [len(shard) for shard in shards],
        "final": {key: final[key] for key in scores} if final else None,
        "wall_seconds": wall_seconds,
        "startup_seconds": startup_seconds,
    }
