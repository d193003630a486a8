"""The benchmark's federation run by Flower's simulation engine, for comparison.

Flower's ``run_simulation`` drives one virtual SuperNode per hospital: its
ServerApp runs Flower's own FedAvg strategy, and its Ray backend runs the
ClientApp in a pool of actors of one CPU each. The ClientApp does what the
plain loop does per client update: load the global weights into a compiled
:class:`~medfed_ray.local_training.LocalTrainer`, reset the optimizer, train
one local epoch on the hospital's shard with the hospital's round generator,
and send the weights back.

Each actor process keeps its trainer in a module-level cache built on its
first client update, the fastest way to run Keras under Flower: nothing is
rebuilt per update. The training set is written once as ``.npy`` files that
every actor maps read-only, so the actors share its pages as the engine's
hospitals share the object store.

Actors stamp times that the driver compares with its own, so this module
uses :func:`time.monotonic`, one clock for every process of a Linux machine.
Importing it imports ``flwr``; only the ``flower`` side's child process and
its actors do.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    MetricRecord,
    RecordDict,
)
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg
from flwr.simulation import run_simulation

from medfed_ray.bench.simulation import bench_scenario_data

if TYPE_CHECKING:
    from medfed_ray.local_training import LocalTrainer
    from medfed_ray.simulation import Seeds


@dataclass
class ActorWork:
    """What one actor process keeps between client updates."""

    trainer: LocalTrainer
    x_train: np.ndarray
    y_train: np.ndarray
    shards: list[np.ndarray]
    seeds: Seeds
    ready_at: float
    """When the trainer and the data were ready (``time.monotonic``)."""


_ACTOR_WORK: ActorWork | None = None


def write_shared_data(folder: Path, x_train, y_train, shards) -> None:
    """Write the training set and the shards as ``.npy`` files the actors can map."""
    np.save(folder / "x_train.npy", x_train)
    np.save(folder / "y_train.npy", y_train)
    np.save(folder / "shard_index.npy", np.concatenate(shards))
    np.save(folder / "shard_ends.npy", np.cumsum([len(shard) for shard in shards]))


def map_shared_data(folder: Path) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """Map the files of :func:`write_shared_data` read-only; return x, y and the shards."""
    x_train = np.load(folder / "x_train.npy", mmap_mode="r")
    y_train = np.load(folder / "y_train.npy", mmap_mode="r")
    index = np.load(folder / "shard_index.npy")
    ends = np.load(folder / "shard_ends.npy")
    starts = np.concatenate([[0], ends[:-1]])
    return x_train, y_train, [index[a:b] for a, b in zip(starts, ends, strict=True)]


def actor_work(config: ConfigRecord) -> ActorWork:
    """This actor's trainer and data, built on its first client update and kept."""
    global _ACTOR_WORK
    if _ACTOR_WORK is None:
        from medfed_ray.local_training import LocalTrainer
        from medfed_ray.runtime import configure_tensorflow
        from medfed_ray.scenario.loading import validate_scenario
        from medfed_ray.simulation import Seeds

        scenario = validate_scenario(
            bench_scenario_data(int(config["num-hospitals"]), int(config["rounds"]), 1)
        )
        seeds = Seeds.from_scenario(scenario)
        x_train, y_train, shards = map_shared_data(Path(str(config["data-dir"])))
        # One intra-op thread, as each engine actor with one core gets.
        configure_tensorflow(1.0, seed=seeds.model)
        trainer = LocalTrainer(
            scenario.model,
            scenario.local,
            tuple(x_train.shape[1:]),
            scenario.dataset.synthetic_classes,
        )
        _ACTOR_WORK = ActorWork(
            trainer, x_train, y_train, shards, seeds, time.monotonic()
        )
    return _ACTOR_WORK


def train_hospital(message: Message, context: Context) -> Message:
    """One client update: global weights in, one local epoch, weights out."""
    from medfed_ray.hospital import round_generator

    config = message.content["config"]
    work = actor_work(config)
    hospital_id = int(context.node_config["partition-id"])
    round_number = int(config["server-round"])
    shard = work.shards[hospital_id]

    trainer = work.trainer
    trainer.weights.set(message.content["arrays"].to_numpy_ndarrays()[0])
    trainer.reset_optimizer()
    rng = round_generator(work.seeds.hospitals[hospital_id], round_number)
    loss = trainer.train(work.x_train[shard], work.y_train[shard], rng)

    metrics = MetricRecord(
        {
            "num-examples": len(shard),
            "loss": loss,
            "ready-at": work.ready_at,
            "pid": os.getpid(),
        }
    )
    reply = RecordDict(
        {"arrays": ArrayRecord([trainer.weights.get()]), "metrics": metrics}
    )
    return Message(reply, reply_to=message)


def build_client_app() -> ClientApp:
    """The ClientApp every virtual SuperNode runs."""
    app = ClientApp()
    app.train()(train_hospital)
    return app


class TimedFedAvg(FedAvg):
    """Flower's FedAvg over every hospital, timing each round and noting actor start-up.

    A round runs from the start of ``configure_train`` (sampling, messages)
    to the end of ``aggregate_train`` (the weighted average), as the engine's
    coordinator times a round from choosing participants to its step. Federated
    evaluation is off: the other sides evaluate only after their last round,
    which the steady throughput leaves out.
    """

    def __init__(self, num_hospitals: int):
        super().__init__(
            fraction_train=1.0,
            fraction_evaluate=0.0,
            min_train_nodes=num_hospitals,
            min_available_nodes=num_hospitals,
        )
        self.num_hospitals = num_hospitals
        self.round_started: dict[int, float] = {}
        self.round_ended: dict[int, float] = {}
        self.actors_ready: dict[int, dict[int, float]] = {}
        """Per round: the process id and ready time of every actor that replied."""

    def configure_train(self, server_round, arrays, config, grid):
        """Note the round's start, then sample and build messages as FedAvg does."""
        self.round_started[server_round] = time.monotonic()
        return super().configure_train(server_round, arrays, config, grid)

    def aggregate_train(self, server_round, replies):
        """Refuse a round with failures, note the actors, then average as FedAvg does."""
        replies = list(replies)
        failures = [reply.error.reason for reply in replies if reply.has_error()]
        if failures or len(replies) != self.num_hospitals:
            raise RuntimeError(
                f"round {server_round}: {len(replies)} replies of {self.num_hospitals}, "
                f"{len(failures)} failed; first failure: {failures[:1]}"
            )
        self.actors_ready[server_round] = {
            int(reply.content["metrics"]["pid"]): float(
                reply.content["metrics"]["ready-at"]
            )
            for reply in replies
        }
        result = super().aggregate_train(server_round, replies)
        self.round_ended[server_round] = time.monotonic()
        return result


def initial_weights(scenario, dataset, model_seed: int) -> np.ndarray:
    """The loop's initial global model: same seed, same construction.

    Built in the driver's main thread before Flower starts: built in the
    ServerApp's thread while Flower starts Ray, the model came out different.
    """
    from medfed_ray.local_training import LocalTrainer
    from medfed_ray.runtime import configure_tensorflow

    configure_tensorflow(1.0, seed=model_seed)
    trainer = LocalTrainer(
        scenario.model, scenario.local, dataset.input_shape, dataset.num_classes
    )
    return trainer.weights.get()


def build_server_app(
    strategy: TimedFedAvg, scenario, weights: np.ndarray, folder: Path
) -> tuple[ServerApp, dict]:
    """The ServerApp, and the dict where it leaves Flower's result when done."""
    server_app, outcome = ServerApp(), {}

    @server_app.main()
    def serve(grid: Grid, context: Context) -> None:
        config = {
            "data-dir": str(folder),
            "num-hospitals": scenario.num_hospitals,
            "rounds": scenario.rounds,
        }
        outcome["result"] = strategy.start(
            grid=grid,
            initial_arrays=ArrayRecord([weights]),
            num_rounds=scenario.rounds,
            timeout=scenario.round_timeout_s,
            train_config=ConfigRecord(config),
        )

    return server_app, outcome


def run_flower(num_hospitals: int, rounds: int, actors: int, started: float) -> dict:
    """Run the benchmark's federation under Flower with ``actors`` one-CPU actors.

    ``started`` is when the child process began this side, before importing
    ``flwr`` (``time.monotonic``). Start-up ends when the last actor that
    trained in round 1 has its trainer and data ready: Flower builds them
    lazily on an actor's first client update, where the engine builds them
    before its first round. Round 1 is counted from there.
    """
    from medfed_ray.data.hospital_data import prepare_hospital_data
    from medfed_ray.runtime import QUIET_ENV
    from medfed_ray.scenario.loading import validate_scenario
    from medfed_ray.simulation import Seeds

    scenario = validate_scenario(bench_scenario_data(num_hospitals, rounds, 1))
    seeds = Seeds.from_scenario(scenario)
    dataset, shards = prepare_hospital_data(scenario, seeds.data, seeds.partition)
    strategy = TimedFedAvg(num_hospitals)

    # Ray's workers inherit this environment when Flower starts Ray below.
    os.environ.update(QUIET_ENV)
    with tempfile.TemporaryDirectory(prefix="medfed-flower-") as name:
        folder = Path(name)
        write_shared_data(folder, dataset.x_train, dataset.y_train, shards)
        weights = initial_weights(scenario, dataset, seeds.model)
        server_app, outcome = build_server_app(strategy, scenario, weights, folder)
        run_simulation(
            server_app=server_app,
            client_app=build_client_app(),
            num_supernodes=num_hospitals,
            backend_config={
                "client_resources": {"num_cpus": 1.0, "num_gpus": 0.0},
                "init_args": {
                    # "local" starts a new Ray runtime; without it Ray would
                    # join any cluster already running on this machine.
                    "address": "local",
                    "num_cpus": actors,
                    "include_dashboard": False,
                    "logging_level": logging.WARNING,
                    "log_to_driver": False,
                },
            },
        )
    return flower_record(strategy, outcome["result"], rounds, started)


def flower_record(strategy: TimedFedAvg, result, rounds: int, started: float) -> dict:
    """Start-up, round times, final weights and actor count, as the other sides report."""
    ready = strategy.actors_ready[1]
    first_round_at = max(ready.values())
    round_seconds = [strategy.round_ended[1] - first_round_at] + [
        strategy.round_ended[r] - strategy.round_started[r]
        for r in range(2, rounds + 1)
    ]
    final = result.arrays.to_numpy_ndarrays()[0]
    every_actor = set().union(*strategy.actors_ready.values())
    return {
        "startup_seconds": first_round_at - started,
        "round_seconds": round_seconds,
        "final_weights_l2": float(np.linalg.norm(final.astype(np.float64))),
        "actors": len(every_actor),
    }
