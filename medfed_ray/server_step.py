"""The server's step: a round's usable updates become the global model's next weights.

The coordinator collects the updates; this module stacks them in
hospital-id order, lets colluding attackers rewrite their rows (they see
the honest rows, as the attacks assume), applies the scenario's rule (with
norm bounding and central privacy noise when configured) and moves the
global weights by ``server_learning_rate`` times the result, or by its
server momentum.
"""

from __future__ import annotations

import time
from functools import partial

import numpy as np

from medfed_ray.aggregators import get_aggregator
from medfed_ray.aggregators.norm_bounding import aggregate_bounded
from medfed_ray.attacks import COLLUDING_BEHAVIOURS, apply_colluding_attacks
from medfed_ray.coordinator_state import CoordinatorState
from medfed_ray.hospital import HospitalSpec
from medfed_ray.privacy.federation import FederationPrivacy
from medfed_ray.round_result import HospitalRound
from medfed_ray.scenario.schema import Scenario


class ServerStep:
    """The scenario's aggregation rule and server update, applied to a coordinator's state."""

    def __init__(
        self,
        scenario: Scenario,
        specs: dict[int, HospitalSpec],
        privacy: FederationPrivacy | None = None,
    ):
        self.scenario = scenario
        self.specs = specs
        self.privacy = privacy
        self.aggregate = get_aggregator(scenario.aggregator.name)
        if scenario.aggregator.max_norm is not None:
            # Norm bounding is a pre-step, so it wraps whichever rule is chosen.
            self.aggregate = partial(
                aggregate_bounded,
                self.aggregate,
                max_norm=scenario.aggregator.max_norm,
            )

    def apply(
        self,
        state: CoordinatorState,
        usable: list[HospitalRound],
        updates: dict[int, np.ndarray],
        round_number: int = 0,
    ) -> float:
        """Aggregate the usable updates in hospital-id order and move ``state``'s weights.

        Each row gets the rule's decision and its share of the aggregate.
        Returns the seconds it took.
        """
        started = time.perf_counter()
        size = state.weights.size
        matrix = (
            np.stack([updates[row.hospital] for row in usable])
            if usable
            else np.zeros((0, size), dtype=np.float32)
        )
        counts = np.array([row.examples for row in usable], dtype=np.int64)
        matrix = self.collude(usable, matrix)
        params = dict(self.scenario.aggregator.params)
        if self.clips_around_history and state.momentum is not None:
            # Centered clipping clips around the previous round's direction
            # (Karimireddy et al., 2021); round 1 clips around zero.
            params["center"] = state.momentum
        if self.scenario.privacy.mode == "central":
            outcome = self.privacy.aggregate_central(
                matrix, counts, self.aggregate, params, round_number, size
            )
        elif not usable:
            # A sampled round in which nobody took part leaves the model as it is.
            return time.perf_counter() - started
        else:
            outcome = self.aggregate(matrix, counts, **params)

        learning_rate = np.float32(self.scenario.aggregator.server_learning_rate)
        state.weights += learning_rate * self.server_direction(state, outcome.update)
        for row, decision, share in zip(
            usable, outcome.decisions, outcome.contribution, strict=True
        ):
            row.decision = str(decision)
            row.contribution = float(share)
        return time.perf_counter() - started

    def collude(self, usable: list[HospitalRound], matrix: np.ndarray) -> np.ndarray:
        """Replace the rows of colluding hospitals (ALIE, IPM) from the others' rows."""
        behaviours = [row.behaviour for row in usable]
        parameters = [self.attack_parameter(row) for row in usable]
        attacked = apply_colluding_attacks(matrix, behaviours, parameters)
        for index, row in enumerate(usable):
            # The recorded norm is that of the row the rule sees.
            if row.behaviour in COLLUDING_BEHAVIOURS:
                vector = attacked[index].astype(np.float64)
                row.update_norm = float(np.linalg.norm(vector))
        return attacked

    def attack_parameter(self, row: HospitalRound) -> float | None:
        """``z`` of an ALIE hospital, ``epsilon`` of an IPM one; None for the rest."""
        if row.behaviour not in COLLUDING_BEHAVIOURS:
            return None
        settings = self.specs[row.hospital].group_settings
        return settings.z if row.behaviour == "alie" else settings.epsilon

    @property
    def clips_around_history(self) -> bool:
        """Whether the rule is centered clipping, whose reference point is the last direction."""
        return self.scenario.aggregator.name == "centered_clipping"

    def server_direction(
        self, state: CoordinatorState, update: np.ndarray
    ) -> np.ndarray:
        """The server step's direction: the aggregate, or its momentum (FedAvgM).

        Hsu, Qi and Brown, "Measuring the Effects of Non-Identical Data
        Distribution for Federated Visual Classification", 2019,
        https://arxiv.org/abs/1909.06335: ``v <- beta * v + update``. The
        buffer is also kept with ``beta = 0`` under centered clipping, where
        it holds the last aggregate: the next round's reference point, saved
        in checkpoints with the rest of the state.
        """
        beta = self.scenario.aggregator.server_momentum
        if beta == 0.0 and not self.clips_around_history:
            return update
        if state.momentum is None:
            state.momentum = np.zeros_like(state.weights)
        state.momentum *= np.float32(beta)
        state.momentum += update
        return state.momentum
