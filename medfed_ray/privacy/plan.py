"""Planning a private run: the noise multiplier that spends a target epsilon.

The search is ``dp_accounting.calibrate_dp_mechanism`` (Brent's method over
fresh accountants); the events are the ones a run records
(:mod:`medfed_ray.privacy.events`), so a planned multiplier gives the planned
epsilon when the run uses the same settings.
"""

from __future__ import annotations

from dataclasses import dataclass

import dp_accounting

from medfed_ray.privacy.accountant import PrivacyLedger, make_accountant
from medfed_ray.privacy.events import client_round_event, neighboring_relation
from medfed_ray.sampling import HospitalSampling

LOWEST_NOISE_MULTIPLIER = {"rdp": 1e-2, "pld": 0.25}
"""Where the search starts: PLD's discretised loss grows without bound as noise vanishes."""


@dataclass(frozen=True)
class Plan:
    """A noise multiplier and the epsilon it gives, with the settings behind them."""

    noise_multiplier: float
    epsilon: float
    target_epsilon: float
    delta: float
    rounds: int
    mode: str
    sampling: str
    sampling_fraction: float
    num_hospitals: int
    aggregator: str
    accountant: str


def plan_noise_multiplier(
    target_epsilon: float,
    delta: float,
    rounds: int,
    *,
    mode: str = "central",
    sampling: str = "poisson",
    sampling_fraction: float = 1.0,
    num_hospitals: int = 1,
    aggregator: str = "fedavg",
    accountant: str = "rdp",
) -> Plan:
    """The smallest noise multiplier ``z`` whose run of ``rounds`` rounds stays within
    ``(target_epsilon, delta)``.

    For ``local`` mode the rounds are those one hospital takes part in.
    Raises ``ValueError`` with the reason for impossible targets.
    """
    if target_epsilon <= 0:
        raise ValueError(f"target epsilon must be > 0; found {target_epsilon!r}")
    if not 0 < delta < 1:
        raise ValueError(f"delta must be in (0, 1); found {delta!r}")
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1; found {rounds!r}")
    relation = neighboring_relation(mode, sampling)
    sampled = HospitalSampling.resolve(sampling, num_hospitals, sampling_fraction)

    def event_for(z: float) -> dp_accounting.DpEvent:
        event = client_round_event(mode, sampled, z, aggregator)
        return dp_accounting.SelfComposedDpEvent(event, rounds)

    lowest = LOWEST_NOISE_MULTIPLIER[accountant]
    try:
        z = dp_accounting.calibrate_dp_mechanism(
            lambda: make_accountant(accountant, relation),
            event_for,
            target_epsilon,
            delta,
            dp_accounting.LowerEndpointAndGuess(lowest, 1.0),
            tol=1e-4,
        )
    except dp_accounting.mechanism_calibration.NoBracketIntervalFoundError:
        raise ValueError(
            f"no noise multiplier in [{lowest:g}, 2^60] reaches epsilon = "
            f"{target_epsilon:g} at delta = {delta:g}: the target is "
            "larger than a noise multiplier this small needs; plan with a smaller epsilon"
        ) from None
    # calibrate_dp_mechanism returns a value within tol of the boundary on the
    # private side; report the epsilon it actually gives.
    ledger = PrivacyLedger(accountant, delta, relation)
    ledger.record(client_round_event(mode, sampled, z, aggregator), rounds)
    return Plan(
        noise_multiplier=float(z),
        epsilon=ledger.epsilon(),
        target_epsilon=target_epsilon,
        delta=delta,
        rounds=rounds,
        mode=mode,
        sampling=sampling,
        sampling_fraction=sampling_fraction,
        num_hospitals=num_hospitals,
        aggregator=aggregator,
        accountant=accountant,
    )
