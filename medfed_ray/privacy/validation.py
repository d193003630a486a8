"""Checks of a scenario's ``[privacy]`` table, alone and against the rest of the scenario.

Each check returns messages naming the field, the constraint and the value
found; the schema turns them into validation errors, so a bad privacy setting
is reported before any actor starts.
"""

from __future__ import annotations

from medfed_ray.privacy.central import central_rule_problem
from medfed_ray.sampling import HospitalSampling

DEFAULT_CLIP_NORM = 1.0
DEFAULT_NOISE_MULTIPLIER = 1.0


def config_problems(config) -> list[str]:
    """Problems inside the ``[privacy]`` table itself."""
    problems = []
    if config.mode == "off":
        for field, default in (
            ("clip_norm", DEFAULT_CLIP_NORM),
            ("noise_multiplier", DEFAULT_NOISE_MULTIPLIER),
        ):
            if getattr(config, field) != default:
                problems.append(
                    f"'{field}' applies only to mode 'local' or 'central', not 'off'"
                )
        if not config.dp_sgd.enabled:
            for field in ("max_epsilon", "secure_noise"):
                if getattr(config, field) not in (None, False):
                    problems.append(
                        f"'{field}' needs a private mechanism: set mode to 'local' or "
                        "'central', or dp_sgd.enabled = true"
                    )
    return problems


def scenario_problems(
    config,
    *,
    sampling,
    training: str | None,
    aggregator: str | None,
    num_hospitals: int | None,
    min_hospitals: int | None,
) -> list[str]:
    """Problems of ``[privacy]`` with the scenario's other settings (``None``: unknown).

    ``sampling`` is the scenario's ``[sampling]`` table; its own checks
    (against the number of hospitals and the quorum) are made there.
    """
    problems = []
    if training == "local" and config.mode != "off":
        problems.append(
            f"mode {config.mode!r} needs training = 'federated'; for local-only "
            "training use dp_sgd (sample-level DP) instead"
        )
    if config.mode == "central" and aggregator is not None:
        problem = central_rule_problem(aggregator)
        if problem:
            problems.append(problem)
    sampling_mode = None if sampling is None else sampling.mode
    if (
        config.accountant == "pld"
        and config.mode == "central"
        and sampling_mode == "fixed"
    ):
        problems.append(
            "accountant 'pld' does not support sampling.mode 'fixed' in mode "
            "'central' (dp-accounting's PLD accountant has no event for sampling "
            "without replacement); use accountant 'rdp' or sampling.mode 'poisson'"
        )
    if (
        not problems
        and config.mode != "off"
        and config.max_epsilon is not None
        and aggregator is not None
        and num_hospitals is not None
        and sampling is not None
    ):
        resolved = HospitalSampling.resolve(
            sampling.mode, num_hospitals, sampling.fraction, sampling.clients_per_round
        )
        one_round = single_round_epsilon(config, aggregator, resolved)
        if one_round > config.max_epsilon:
            problems.append(
                f"max_epsilon = {config.max_epsilon:g} is below the epsilon of a single "
                f"round ({one_round:.4g} at delta = {config.delta:g}); raise max_epsilon "
                "or noise_multiplier"
            )
    return problems


def single_round_epsilon(config, aggregator: str, sampling: HospitalSampling) -> float:
    """Client-level epsilon after one round, from dp-accounting."""
    from medfed_ray.privacy.accountant import PrivacyLedger
    from medfed_ray.privacy.events import client_round_event, neighboring_relation

    ledger = PrivacyLedger(
        config.accountant,
        config.delta,
        neighboring_relation(config.mode, sampling.mode),
    )
    ledger.record(
        client_round_event(config.mode, sampling, config.noise_multiplier, aggregator)
    )
    return ledger.epsilon()
