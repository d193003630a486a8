"""The coordinator actor: global weights, the round loop, aggregation and evaluation."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import ray
from ray.exceptions import GetTimeoutError, RayActorError, RayTaskError

from medfed_ray.aggregators import get_aggregator
from medfed_ray.errors import QuorumError
from medfed_ray.hospital import HospitalReport, HospitalSpec
from medfed_ray.round_result import HospitalRound, HospitalStatus, RoundResult
from medfed_ray.runtime import configure_tensorflow
from medfed_ray.scenario.schema import Scenario

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HospitalSeat:
    """Where a hospital lives: its spec and the actor that hosts it."""

    spec: HospitalSpec
    actor: ray.actor.ActorHandle


class Coordinator:
    """Owns the global model and runs rounds over the hospital actors.

    Each federated round puts the global weights into the object store once,
    asks every hospital for an update by reference, waits for answers until
    the round deadline, aggregates the usable ones and steps the global model.
    """

    def __init__(
        self,
        scenario: Scenario,
        seats: list[HospitalSeat],
        x_test: np.ndarray,
        y_test: np.ndarray,
        input_shape: tuple[int, ...],
        num_classes: int,
        model_seed: int,
    ):
        # The initial global model comes from Keras's seeded initialisers here,
        # so the driver never needs TensorFlow.
        configure_tensorflow(1.0, seed=model_seed)
        from medfed_ray.local_training import LocalTrainer

        self.scenario = scenario
        self.seats = sorted(seats, key=lambda seat: seat.spec.hospital_id)
        self.x_test, self.y_test = x_test, y_test
        self.trainer = LocalTrainer(
            scenario.model, scenario.local, input_shape, num_classes
        )
        self.weights = self.trainer.weights.get()
        self.aggregate = get_aggregator(scenario.aggregator.name)

    # -- the round -----------------------------------------------------------------

    def run_round(self, round_number: int) -> RoundResult:
        """Run one round and return what happened; raise ``QuorumError`` below quorum."""
        started = time.perf_counter()
        federated = self.scenario.training == "federated"
        weights_ref = ray.put(self.weights) if federated else None

        calls = [
            seat.actor.train.options(num_returns=2).remote(
                seat.spec.hospital_id, round_number, weights_ref
            )
            for seat in self.seats
        ]
        rows, updates = self.collect(round_number, calls)

        aggregation_seconds = 0.0
        usable = [row for row in rows if row.status == HospitalStatus.OK]
        if len(usable) < self.scenario.min_hospitals:
            raise QuorumError(round_number, len(usable), self.scenario.min_hospitals)
        if federated:
            aggregation_seconds = self.step(usable, updates)

        result = RoundResult(
            round=round_number,
            updates_received=len(usable),
            updates_rejected=len(rows) - len(usable),
            aggregation_seconds=aggregation_seconds,
            round_seconds=0.0,
            hospitals=rows,
        )
        if self.should_evaluate(round_number):
            self.evaluate(result)
        result.round_seconds = time.perf_counter() - started
        return result

    def collect(
        self, round_number: int, calls: list[tuple[ray.ObjectRef, ray.ObjectRef]]
    ) -> tuple[list[HospitalRound], dict[int, np.ndarray]]:
        """Wait for the hospitals' answers until the deadline and sort out the usable ones."""
        report_refs = [report for _, report in calls]
        ready, _ = ray.wait(
            report_refs,
            num_returns=len(report_refs),
            timeout=self.scenario.round_timeout_s,
            fetch_local=True,
        )
        ready_set = set(ready)
        expected_size = self.weights.size
        rows: list[HospitalRound] = []
        updates: dict[int, np.ndarray] = {}

        for seat, (update_ref, report_ref) in zip(self.seats, calls, strict=True):
            spec = seat.spec
            row = HospitalRound(
                round_number, spec.hospital_id, spec.group, spec.behaviour, ""
            )
            rows.append(row)
            if report_ref not in ready_set:
                row.status = HospitalStatus.TIMEOUT
                row.error = f"no answer within round_timeout_s = {self.scenario.round_timeout_s}"
                try:
                    ray.cancel(report_ref)
                except Exception:  # noqa: BLE001 - a running task may refuse; it is abandoned anyway
                    logger.debug(
                        "could not cancel hospital %d's round", spec.hospital_id
                    )
                continue
            try:
                report: HospitalReport = ray.get(report_ref, timeout=0)
                update = ray.get(update_ref, timeout=self.scenario.round_timeout_s)
            except RayActorError as error:
                row.status, row.error = HospitalStatus.CRASHED, first_line(error)
                continue
            except RayTaskError as error:
                row.status, row.error = HospitalStatus.ERROR, first_line(error)
                continue
            except GetTimeoutError as error:
                row.status, row.error = HospitalStatus.TIMEOUT, first_line(error)
                continue

            row.examples = report.examples
            row.local_loss = report.local_loss
            row.update_norm = report.update_norm
            row.train_seconds = report.train_seconds
            row.status, row.error = check_update(update, expected_size)
            if row.status == HospitalStatus.OK:
                updates[spec.hospital_id] = update

        return rows, updates

    def step(
        self, usable: list[HospitalRound], updates: dict[int, np.ndarray]
    ) -> float:
        """Aggregate the usable updates in hospital-id order and move the global model."""
        started = time.perf_counter()
        matrix = np.stack([updates[row.hospital] for row in usable])
        counts = np.array([row.examples for row in usable], dtype=np.int64)
        outcome = self.aggregate(matrix, counts, **self.scenario.aggregator.params)

        self.weights += (
            np.float32(self.scenario.aggregator.server_learning_rate) * outcome.update
        )
        for row, decision, share in zip(
            usable, outcome.decisions, outcome.contribution, strict=True
        ):
            row.decision = str(decision)
            row.contribution = float(share)
        return time.perf_counter() - started

    # -- evaluation ----------------------------------------------------------------

    def should_evaluate(self, round_number: int) -> bool:
        """Evaluate every ``evaluation.every`` rounds and always after the last."""
        every = self.scenario.evaluation.every
        return round_number % every == 0 or round_number == self.scenario.rounds

    def evaluate(self, result: RoundResult) -> None:
        """Score the global model, or in local-only training every hospital's own model."""
        from medfed_ray.metrics import score

        result.evaluated = True
        if self.scenario.training == "federated":
            self.trainer.weights.set(self.weights)
            scores = score(self.trainer.predict(self.x_test), self.y_test)
            for key, value in scores.items():
                setattr(result, key, value)
            return

        test_refs = (ray.put(self.x_test), ray.put(self.y_test))
        calls = {
            seat.spec.hospital_id: seat.actor.evaluate.remote(
                seat.spec.hospital_id, *test_refs
            )
            for seat in self.seats
        }
        by_hospital = {row.hospital: row for row in result.hospitals}
        accuracies = []
        for hospital_id, call in calls.items():
            try:
                scores = ray.get(call, timeout=self.scenario.round_timeout_s)
            except (RayActorError, RayTaskError, GetTimeoutError) as error:
                logger.info(
                    "hospital %d could not be evaluated: %s",
                    hospital_id,
                    first_line(error),
                )
                continue
            row = by_hospital[hospital_id]
            for key, value in scores.items():
                setattr(row, f"test_{key}", value)
            accuracies.append(scores)

        for key in ("accuracy", "balanced_accuracy", "auroc", "loss"):
            setattr(result, key, float(np.nanmean([item[key] for item in accuracies])))
        result.accuracy_std = float(np.std([item["accuracy"] for item in accuracies]))

    # -- state ---------------------------------------------------------------------

    def global_weights(self) -> np.ndarray:
        """A copy of the global weights."""
        return self.weights.copy()

    def layout(self) -> dict[str, list]:
        """The flat vectors' layout (variable names and shapes) as plain data."""
        return self.trainer.weights.layout.to_dict()

    def model_file_bytes(self) -> bytes:
        """The global model as a ``.keras`` file, so the driver needs no shared disk."""
        import tempfile
        from pathlib import Path

        self.trainer.weights.set(self.weights)
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "model.keras"
            self.trainer.model.save(path)
            return path.read_bytes()


def check_update(
    update: object, expected_size: int
) -> tuple[HospitalStatus, str | None]:
    """Classify an update as usable, of the wrong shape or dtype, or holding NaN/Inf."""
    if not isinstance(update, np.ndarray):
        return (
            HospitalStatus.BAD_SHAPE,
            f"update is a {type(update).__name__}, not an array",
        )
    if update.shape != (expected_size,) or update.dtype != np.float32:
        return (
            HospitalStatus.BAD_SHAPE,
            f"update has shape {update.shape} and dtype {update.dtype}; "
            f"expected ({expected_size},) float32",
        )
    if not np.isfinite(update).all():
        bad = int(np.count_nonzero(~np.isfinite(update)))
        return HospitalStatus.NONFINITE, f"update holds {bad} NaN/Inf value(s)"
    return HospitalStatus.OK, None


def first_line(error: BaseException) -> str:
    """The first line of an exception's message, for a compact record."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


CoordinatorActor = ray.remote(Coordinator)
"""``Coordinator`` as a Ray actor class."""
