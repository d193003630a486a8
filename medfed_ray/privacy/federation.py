"""The coordinator's side of privacy: who takes part, central noise, and the ledgers.

One :class:`FederationPrivacy` per run lives in the coordinator. It picks each
round's participants, adds central noise, records what every round spent and
answers, before a round, what epsilon would be after it, so the driver can
stop before ``max_epsilon`` would be exceeded. Its ledgers depend only on the
scenario, the shard sizes and the round number, so a resumed run rebuilds them
by replaying the completed rounds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from medfed_ray.aggregators import Aggregate
from medfed_ray.privacy.accountant import PrivacyLedger
from medfed_ray.privacy.central import central_aggregate
from medfed_ray.privacy.events import (
    client_round_event,
    dp_sgd_round_event,
    effective_noise_multiplier,
    neighboring_relation,
)
from medfed_ray.privacy.noise import CENTRAL_NOISE, noise_source
from medfed_ray.sampling import HospitalSampling

logger = logging.getLogger(__name__)

HOSPITAL_LEVEL = "hospital"
"""Client-level DP: neighbouring runs differ in one hospital's whole data."""
EXAMPLE_LEVEL = "example"
"""Sample-level DP (DP-SGD): neighbouring runs differ in one example of one hospital."""


@dataclass(frozen=True)
class BudgetCheck:
    """Epsilon after the next round, per level, against ``max_epsilon``."""

    round: int
    projected: dict[str, float]
    max_epsilon: float | None

    @property
    def allowed(self) -> bool:
        """Whether running the round keeps every level within ``max_epsilon``."""
        if self.max_epsilon is None:
            return True
        return all(value <= self.max_epsilon for value in self.projected.values())

    def message(self) -> str:
        """Why the run stops here."""
        worst = max(self.projected, key=self.projected.get)
        return (
            f"privacy budget: round {self.round} would raise {worst}-level epsilon to "
            f"{self.projected[worst]:.4g}, above max_epsilon = {self.max_epsilon:g}; "
            f"training stops after round {self.round - 1}"
        )


class FederationPrivacy:
    """Sampling, central noise and accounting for one run (see module docstring)."""

    def __init__(
        self,
        scenario,
        examples: dict[int, int],
        completed_round: int = 0,
        sampling: HospitalSampling | None = None,
    ):
        self.config = scenario.privacy
        self.seed = scenario.seed
        self.num_hospitals = scenario.num_hospitals
        self.aggregator = scenario.aggregator.name
        self.local = scenario.local
        self.examples = examples
        # The coordinator passes the sampling it trains with: one source for both.
        self.sampling = sampling or HospitalSampling.from_scenario(scenario)
        config = self.config
        self.client_level = config.mode != "off"
        self.example_level = config.dp_sgd.enabled
        self.denominator = self.sampling.expected_participants()
        self.client_event = (
            client_round_event(
                config.mode, self.sampling, config.noise_multiplier, self.aggregator
            )
            if self.client_level
            else None
        )
        relation = neighboring_relation(config.mode, self.sampling.mode)
        # Central mode has one ledger for the run; local mode and DP-SGD one per
        # hospital, and the run's epsilon is the worst hospital's. Without
        # privacy there are none: a run of many hospitals keeps no ledgers.
        self.central_ledger = PrivacyLedger(config.accountant, config.delta, relation)
        self.hospital_ledgers = {
            hospital: PrivacyLedger(config.accountant, config.delta)
            for hospital in range(self.num_hospitals if config.mode == "local" else 0)
        }
        self.example_ledgers = {
            hospital: PrivacyLedger(config.accountant, config.delta)
            for hospital in range(self.num_hospitals if self.example_level else 0)
        }
        for round_number in range(1, completed_round + 1):
            self.record_round(round_number)

    @property
    def enabled(self) -> bool:
        """Whether any guarantee is accounted."""
        return self.client_level or self.example_level

    # -- the mechanism ----------------------------------------------------------

    def participants(self, round_number: int) -> np.ndarray:
        """Ids of the hospitals sampled for ``round_number``."""
        return self.sampling.participants(self.seed, round_number)

    def aggregate_central(
        self,
        updates: np.ndarray,
        num_examples: np.ndarray,
        rule,
        params: dict,
        round_number: int,
        size: int,
    ) -> Aggregate:
        """Central mode's noisy aggregate of the round's usable updates."""
        noise = noise_source(
            np.random.SeedSequence(self.seed),
            CENTRAL_NOISE,
            round_number,
            self.config.secure_noise,
        )
        return central_aggregate(
            updates,
            num_examples,
            self.aggregator,
            rule,
            params,
            clip_norm=self.config.clip_norm,
            noise_multiplier=self.config.noise_multiplier,
            denominator=self.denominator,
            noise=noise,
            size=size,
        )

    # -- accounting -------------------------------------------------------------

    def round_events(self, round_number: int):
        """``(ledger, event)`` pairs that ``round_number`` adds."""
        sampled = self.participants(round_number)
        pairs = []
        if self.config.mode == "central":
            pairs.append((self.central_ledger, self.client_event))
        elif self.config.mode == "local":
            pairs += [(self.hospital_ledgers[h], self.client_event) for h in sampled]
        if self.example_level:
            dp_sgd = self.config.dp_sgd
            pairs += [
                (
                    self.example_ledgers[h],
                    dp_sgd_round_event(
                        self.examples[h],
                        self.local.batch_size,
                        self.local.epochs,
                        dp_sgd.noise_multiplier,
                    ),
                )
                for h in sampled
            ]
        return pairs

    def record_round(self, round_number: int) -> None:
        """Spend what ``round_number`` spends.

        Every sampled hospital counts, whether or not its update arrived: one
        that crashed after releasing its update may have spent its share.
        """
        for ledger, event in self.round_events(round_number):
            ledger.record(event)

    def epsilons(self) -> dict[str, float]:
        """Epsilon at ``delta`` so far, per level."""
        return self._epsilons(lambda ledger, events: ledger.epsilon())

    def check_budget(self, round_number: int) -> BudgetCheck:
        """Epsilon per level if ``round_number`` ran, against ``max_epsilon``."""
        pending: dict[int, list] = {}
        for ledger, event in self.round_events(round_number):
            pending.setdefault(id(ledger), []).append(event)

        def projected(ledger: PrivacyLedger, _) -> float:
            events = pending.get(id(ledger))
            return ledger.epsilon_if(events[0]) if events else ledger.epsilon()

        return BudgetCheck(
            round_number, self._epsilons(projected), self.config.max_epsilon
        )

    def _epsilons(self, of) -> dict[str, float]:
        result = {}
        if self.config.mode == "central":
            result[HOSPITAL_LEVEL] = of(self.central_ledger, None)
        elif self.config.mode == "local":
            result[HOSPITAL_LEVEL] = max(
                of(ledger, None) for ledger in self.hospital_ledgers.values()
            )
        if self.example_level:
            result[EXAMPLE_LEVEL] = max(
                of(ledger, None) for ledger in self.example_ledgers.values()
            )
        return result

    def rows(self, round_number: int, participants: int) -> list[dict]:
        """The ``privacy.parquet`` rows of ``round_number`` (after it was recorded)."""
        config = self.config
        epsilons = self.epsilons()
        rows = []
        if self.client_level:
            rows.append(
                {
                    "round": round_number,
                    "level": HOSPITAL_LEVEL,
                    "mode": config.mode,
                    "epsilon": epsilons[HOSPITAL_LEVEL],
                    "delta": config.delta,
                    "noise_multiplier": config.noise_multiplier,
                    "effective_noise_multiplier": effective_noise_multiplier(
                        config.mode,
                        self.sampling.mode,
                        self.aggregator,
                        config.noise_multiplier,
                    ),
                    "clip_norm": config.clip_norm,
                    "sampling": self.sampling.mode,
                    "sampling_rate": self.sampling.rate,
                    "participants": participants,
                    "steps": 1,
                    "accountant": config.accountant,
                }
            )
        if self.example_level:
            dp_sgd = config.dp_sgd
            rates = [
                min(1.0, self.local.batch_size / max(n, 1))
                for n in self.examples.values()
            ]
            steps = [
                dp_sgd_round_event(
                    n, self.local.batch_size, self.local.epochs, dp_sgd.noise_multiplier
                ).count
                for n in self.examples.values()
            ]
            rows.append(
                {
                    "round": round_number,
                    "level": EXAMPLE_LEVEL,
                    "mode": "dp_sgd",
                    "epsilon": epsilons[EXAMPLE_LEVEL],
                    "delta": config.delta,
                    "noise_multiplier": dp_sgd.noise_multiplier,
                    "effective_noise_multiplier": dp_sgd.noise_multiplier,
                    "clip_norm": dp_sgd.l2_norm_clip,
                    "sampling": "poisson",
                    "sampling_rate": max(rates),
                    "participants": participants,
                    "steps": max(steps),
                    "accountant": config.accountant,
                }
            )
        return rows

    def summary(self) -> dict:
        """The privacy facts of ``summary.json``."""
        config = self.config
        return {
            "mode": config.mode,
            "dp_sgd": config.dp_sgd.enabled,
            "delta": config.delta,
            "accountant": config.accountant,
            "max_epsilon": config.max_epsilon,
            "epsilon": self.epsilons(),
        }
