"""The coordinator actor: global weights, the round loop, its calls and evaluation."""

from __future__ import annotations

import logging
import time

import numpy as np
import ray
from ray.exceptions import (
    ActorUnavailableError,
    GetTimeoutError,
    RayActorError,
    RayTaskError,
)

from medfed_ray.coordinator_state import CoordinatorState, HospitalSeat
from medfed_ray.hospital import HospitalReport
from medfed_ray.local_evaluation import fill_local_scores, score_own_models
from medfed_ray.placement import ACTOR_START_TIMEOUT_S, await_actors, unique_actors
from medfed_ray.privacy.federation import BudgetCheck, FederationPrivacy
from medfed_ray.round_result import HospitalRound, HospitalStatus, RoundResult
from medfed_ray.sampling import HospitalSampling
from medfed_ray.scenario.schema import Scenario
from medfed_ray.server_step import ServerStep
from medfed_ray.training_calls import (
    HOSPITALS_PER_CALL,
    TrainingCall,
    chunk_by_actor,
    hospital_ids,
)
from medfed_ray.update_checks import check_update, first_line, last_line

logger = logging.getLogger(__name__)


class Coordinator:
    """Owns the global model and runs rounds over the hospital actors.

    Each federated round puts the global weights into the object store once,
    asks every participating hospital for an update by reference, waits for
    answers until the round deadline, aggregates the usable ones in
    hospital-id order and steps the global model. A round below quorum
    changes nothing, so the driver may retry it.
    """

    def __init__(
        self,
        scenario: Scenario,
        seats: list[HospitalSeat],
        test_set: list[ray.ObjectRef],
        initial_weights: np.ndarray,
        layout: dict[str, list],
        state: CoordinatorState | None = None,
    ):
        # No TensorFlow here: the initial weights and their layout come from a
        # hospital actor, which also scores and saves the global model. That
        # spares a TensorFlow process (about 600 MB) and its start-up.
        self.scenario = scenario
        self.seats = sorted(seats, key=lambda seat: seat.spec.hospital_id)
        # The test set stays in the object store, as two references held in
        # a list so that Ray passes them on without resolving them here.
        self.test_set = list(test_set)
        self.model_layout = layout
        self.restarting: set[int] = set()

        if state is None:
            weights = np.array(initial_weights, dtype=np.float32)
            local = None
            if scenario.training == "local":
                local = np.tile(weights, (len(self.seats), 1))
            state = CoordinatorState(0, weights, local)
        self.state = CoordinatorState(
            state.completed_round,
            np.array(state.weights, dtype=np.float32),
            None if state.local_weights is None else np.array(state.local_weights),
            None if state.momentum is None else np.array(state.momentum),
        )
        # Who trains in each round; the privacy ledgers count the same sampling.
        self.sampling = HospitalSampling.from_scenario(scenario)
        # Central noise and the privacy ledgers; the ledgers are rebuilt from
        # the completed rounds, so a resumed run needs no more state.
        self.privacy = FederationPrivacy(
            scenario,
            {seat.spec.hospital_id: seat.spec.examples for seat in self.seats},
            self.state.completed_round,
            self.sampling,
        )
        self.server = ServerStep(
            scenario,
            {seat.spec.hospital_id: seat.spec for seat in self.seats},
            self.privacy,
        )

    # -- the round -----------------------------------------------------------------

    def run_round(self, round_number: int, attempt: int = 1) -> RoundResult:
        """Run one round; below quorum return the result unapplied (``quorum_met`` False)."""
        started = time.perf_counter()
        seats = self.select_participants(round_number)
        self.wait_for_restarts(seats)
        calls = self.start_training(round_number, seats)
        rows, updates = self.collect(round_number, attempt, calls)

        usable = [row for row in rows if row.status == HospitalStatus.OK]
        result = RoundResult(
            round=round_number,
            updates_received=len(usable),
            updates_rejected=len(rows) - len(usable),
            aggregation_seconds=0.0,
            round_seconds=0.0,
            attempts=attempt,
            hospitals_sampled=len(seats),
            hospitals=rows,
        )
        # With hospital sampling the quorum counts among the sampled hospitals;
        # a round that sampled nobody needs no update and leaves the model as it
        # is (central privacy still releases its noise).
        if len(usable) < min(self.scenario.min_hospitals, len(seats)):
            result.quorum_met = False
            result.round_seconds = time.perf_counter() - started
            return result

        if self.scenario.training == "federated":
            result.aggregation_seconds = self.server.apply(
                self.state, usable, updates, round_number
            )
        else:
            for row in usable:
                self.state.local_weights[row.hospital] += updates[row.hospital]
        self.state.completed_round = round_number
        if self.privacy.enabled:
            self.privacy.record_round(round_number)
            result.privacy = self.privacy.rows(round_number, len(seats))
            result.epsilon = max(row["epsilon"] for row in result.privacy)

        if self.should_evaluate(round_number):
            self.evaluate(result)
        result.round_seconds = time.perf_counter() - started
        return result

    def select_participants(self, round_number: int) -> list[HospitalSeat]:
        """The hospitals asked to train in ``round_number``: all, or a seeded sample.

        Seats are sorted by hospital id and ids run from 0, so a seat is found
        by its id.
        """
        chosen = self.sampling.participants(self.scenario.seed, round_number)
        return [self.seats[hospital_id] for hospital_id in chosen.tolist()]

    def privacy_check(self, round_number: int) -> BudgetCheck | None:
        """Epsilon if ``round_number`` ran, against ``max_epsilon`` (None without privacy)."""
        return self.privacy.check_budget(round_number) if self.privacy.enabled else None

    def privacy_summary(self) -> dict | None:
        """The privacy facts for ``summary.json`` (None without privacy)."""
        return self.privacy.summary() if self.privacy.enabled else None

    def start_training(
        self, round_number: int, seats: list[HospitalSeat]
    ) -> list[TrainingCall]:
        """Ask the hospitals for updates, one actor call per chunk of an actor's hospitals.

        Weights go by object-store reference: in federated training every call
        gets the same reference, put once. In local-only training each
        hospital starts from its own weights, so each call gets the rows of
        its hospitals.
        """
        chunks = chunk_by_actor(seats, HOSPITALS_PER_CALL)
        if self.scenario.training == "federated":
            shared = ray.put(self.state.weights)
            starts = [shared] * len(chunks)
        else:
            starts = [
                ray.put(self.state.local_weights[hospital_ids(chunk)])
                for chunk in chunks
            ]
        calls = []
        for chunk, start in zip(chunks, starts, strict=True):
            updates, reports = (
                chunk[0]
                .actor.train.options(num_returns=2)
                .remote(hospital_ids(chunk), round_number, start)
            )
            calls.append(TrainingCall(chunk, updates, reports))
        return calls

    def collect(
        self, round_number: int, attempt: int, calls: list[TrainingCall]
    ) -> tuple[list[HospitalRound], dict[int, np.ndarray]]:
        """Wait for the answers until the deadline and sort out the usable ones.

        A call that has not answered by the deadline, or whose actor died,
        leaves every hospital of its chunk without an update.
        """
        deadline = time.monotonic() + self.scenario.round_timeout_s
        report_refs = [call.reports for call in calls]
        ready, _ = ray.wait(
            report_refs,
            num_returns=len(report_refs),
            timeout=self.scenario.round_timeout_s,
            fetch_local=True,
        )
        ready_set = set(ready)
        rows: list[HospitalRound] = []
        updates: dict[int, np.ndarray] = {}
        restarted: set[ray.actor.ActorHandle] = set()

        for call in calls:
            chunk_rows = [
                self.new_row(seat, round_number, attempt) for seat in call.seats
            ]
            rows += chunk_rows
            failure = None
            if call.reports not in ready_set:
                failure = (
                    HospitalStatus.TIMEOUT,
                    f"no answer within round_timeout_s = {self.scenario.round_timeout_s:g}",
                )
                if call.actor not in restarted:
                    self.restart(call.actor)
                    restarted.add(call.actor)
            else:
                try:
                    reports: list[HospitalReport] = ray.get(call.reports, timeout=0)
                    remaining = max(0.0, deadline - time.monotonic())
                    sent = ray.get(call.updates, timeout=remaining)
                except RayActorError as error:
                    failure = (HospitalStatus.CRASHED, first_line(error))
                    self.mark_restarting(call.actor)
                except RayTaskError as error:
                    failure = (HospitalStatus.ERROR, first_line(error))
                except GetTimeoutError:
                    failure = (HospitalStatus.TIMEOUT, "update arrived too late")
            if failure is not None:
                for row in chunk_rows:
                    row.status, row.error = failure
                continue

            for row, report, update in zip(chunk_rows, reports, sent, strict=True):
                if self.record_answer(row, report, update):
                    updates[row.hospital] = update
        return rows, updates

    def new_row(
        self, seat: HospitalSeat, round_number: int, attempt: int
    ) -> HospitalRound:
        """A ``hospitals.parquet`` row for ``seat`` in this round, before its answer."""
        spec = seat.spec
        return HospitalRound(
            round_number,
            spec.hospital_id,
            spec.group,
            spec.behaviour_in(round_number),
            "",
            attempt,
        )

    def record_answer(
        self, row: HospitalRound, report: HospitalReport, update: np.ndarray
    ) -> bool:
        """Fill ``row`` from a hospital's answer; return whether the update is usable."""
        if report.error is not None:
            row.status, row.error = HospitalStatus.ERROR, report.error
            return False
        row.examples = report.examples
        row.local_loss = report.local_loss
        row.update_norm = report.update_norm
        row.train_seconds = report.train_seconds
        row.validation_accuracy = report.validation_accuracy
        if report.dropped:
            row.status, row.error = HospitalStatus.DROPPED, None
            return False
        row.status, row.error = check_update(update, self.state.weights.size)
        return row.status == HospitalStatus.OK

    def restart(self, actor: ray.actor.ActorHandle) -> None:
        """Kill a hospital actor that missed the deadline; Ray restarts it from its shards.

        A hung actor would otherwise keep its queue blocked and miss every
        later round too.
        """
        ray.kill(actor, no_restart=False)
        self.mark_restarting(actor)

    def mark_restarting(self, actor: ray.actor.ActorHandle) -> None:
        """Have every hospital ``actor`` hosts wait for it to come back before training."""
        self.restarting.update(
            seat.spec.hospital_id for seat in self.seats if seat.actor == actor
        )

    def wait_for_restarts(self, seats: list[HospitalSeat]) -> None:
        """Let restarted actors finish starting before the round's deadline begins.

        Re-importing TensorFlow and rebuilding the model takes seconds; counting
        that against ``round_timeout_s`` could cut a restarted hospital off again
        and again.
        """
        waiting = [seat for seat in seats if seat.spec.hospital_id in self.restarting]
        if waiting:
            self.restarting -= await_actors(waiting, ACTOR_START_TIMEOUT_S)

    # -- evaluation ----------------------------------------------------------------

    def should_evaluate(self, round_number: int) -> bool:
        """Evaluate every ``evaluation.every`` rounds and always after the last."""
        every = self.scenario.evaluation.every
        return round_number % every == 0 or round_number == self.scenario.rounds

    def evaluate(self, result: RoundResult) -> None:
        """Score the global model, or in local-only training every hospital's own model."""
        result.evaluated = True
        if self.scenario.training == "federated":
            scores = self.call_a_hospital_actor("evaluate", self.state.weights)
            for key, value in (scores or {}).items():
                setattr(result, key, value)
            return

        # A hospital whose actor crashed this round still has its own model
        # here; scoring it after the restart keeps it in the mean.
        self.wait_for_restarts(self.seats)
        scores = score_own_models(
            self.seats,
            self.state.local_weights,
            self.test_set,
            self.scenario.round_timeout_s,
        )
        # An actor still scoring would make the next round's calls wait
        # behind it, so it is restarted as after a training timeout.
        for actor in scores.late_actors:
            self.restart(actor)
        fill_local_scores(result, scores.by_hospital)

    def call_a_hospital_actor(self, method: str, weights: np.ndarray):
        """Run ``method`` of the first hospital actor that answers, with ``weights``.

        Global-model work (scoring, saving) runs in a hospital actor, which
        holds the model. Actors that are restarting are asked last, once
        they are back; one that fails or times out passes the work on to the
        next. Returns None, with a warning, when no actor answers.
        """
        weights_ref = ray.put(weights)
        arguments = (
            (weights_ref, *self.test_set) if method == "evaluate" else (weights_ref,)
        )
        restarting = [
            seat for seat in self.seats if seat.spec.hospital_id in self.restarting
        ]
        available = [
            seat for seat in self.seats if seat.spec.hospital_id not in self.restarting
        ]
        answer = self.ask_in_turn(unique_actors(available), method, arguments)
        if answer is NO_ANSWER and restarting:
            # Every running actor failed; those that were restarting may be
            # back (after a scoring timeout in the last round, all may be).
            self.wait_for_restarts(restarting)
            back = [
                seat
                for seat in restarting
                if seat.spec.hospital_id not in self.restarting
            ]
            answer = self.ask_in_turn(unique_actors(back), method, arguments)
        if answer is NO_ANSWER:
            logger.warning("no hospital actor could %s the global model", method)
            return None
        return answer

    def ask_in_turn(self, actors: list, method: str, arguments: tuple):
        """The first answer of ``actors`` to ``method``, asked one after another.

        An actor still working at ``round_timeout_s`` is restarted, so its
        queue does not hold up the next round's training. Returns
        ``NO_ANSWER`` if none answers.
        """
        for actor in actors:
            try:
                return ray.get(
                    getattr(actor, method).remote(*arguments),
                    timeout=self.scenario.round_timeout_s,
                )
            except GetTimeoutError:
                logger.warning(
                    "a hospital actor did not %s within round_timeout_s = %g; "
                    "restarting it",
                    method,
                    self.scenario.round_timeout_s,
                )
                self.restart(actor)
            except (RayActorError, RayTaskError, ActorUnavailableError) as error:
                logger.warning(
                    "a hospital actor failed to %s: %s", method, last_line(error)
                )
        return NO_ANSWER

    # -- state ---------------------------------------------------------------------

    def get_state(self) -> CoordinatorState:
        """A copy of the state after the last completed round (for checkpoints)."""
        return CoordinatorState(
            self.state.completed_round,
            self.state.weights.copy(),
            None
            if self.state.local_weights is None
            else self.state.local_weights.copy(),
            None if self.state.momentum is None else self.state.momentum.copy(),
        )

    def layout(self) -> dict[str, list]:
        """The flat vectors' layout (variable names and shapes) as plain data."""
        return self.model_layout

    def model_file_bytes(self) -> bytes | None:
        """The global model as a ``.keras`` file, so the driver needs no shared disk.

        None if no hospital actor could save it.
        """
        return self.call_a_hospital_actor("model_file_bytes", self.state.weights)


NO_ANSWER = object()
"""No hospital actor answered a global-model call."""

CoordinatorActor = ray.remote(Coordinator)
"""``Coordinator`` as a Ray actor class."""
