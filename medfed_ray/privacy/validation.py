"""Checks of a scenario's ``[privacy]`` table, alone and against the rest of the scenario.

Each check returns messages naming the field, the constraint and the value
found; the schema turns them into validation errors, so a bad privacy setting
is reported before any actor starts.
"""

from __future__ import annotations

from medfed_ray.privacy.central import central_rule_problem
from medfed_ray.privacy.sampling import fixed_sample_size

DEFAULT_CLIP_NORM = 1.0
DEFAULT_NOISE_MULTIPLIER = 1.0


def config_problems(config) -> list[str]:
    """Problems inside the ``[privacy]`` table itself."""
    problems = []
    if config.sampling == "all" and config.sampling_fraction != 1.0:
        problems.append(
            "'sampling_fraction' applies only to sampling 'poisson' or 'fixed', not 'all'"
        )
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
    if (
        config.accountant == "pld"
        and config.mode == "central"
        and config.sampling == "fixed"
    ):
        problems.append(
            "accountant 'pld' does not support sampling 'fixed' in mode 'central' "
            "(dp-accounting's PLD accountant has no event for sampling without "
            "replacement); use accountant 'rdp' or sampling 'poisson'"
        )
    return problems


def scenario_problems(
    config,
    *,
    training: str | None,
    aggregator: str | None,
    num_hospitals: int | None,
    min_hospitals: int | None,
) -> list[str]:
    """Problems of ``[privacy]`` with the scenario's other settings (``None``: unknown)."""
    problems = []
    if training == "local":
        if config.mode != "off":
            problems.append(
                f"mode {config.mode!r} needs training = 'federated'; for local-only "
                "training use dp_sgd (sample-level DP) instead"
            )
        if config.sampling != "all":
            problems.append(
                f"sampling {config.sampling!r} needs training = 'federated'"
            )
    if config.mode == "central" and aggregator is not None:
        problem = central_rule_problem(aggregator)
        if problem:
            problems.append(problem)
    if (
        config.sampling == "fixed"
        and num_hospitals is not None
        and min_hospitals is not None
    ):
        size = fixed_sample_size(num_hospitals, config.sampling_fraction)
        if min_hospitals > size:
            problems.append(
                f"min_hospitals = {min_hospitals} is more than the {size} hospitals "
                f"sampled per round (sampling 'fixed', sampling_fraction "
                f"{config.sampling_fraction:g} of {num_hospitals}); lower "
                "min_hospitals or raise sampling_fraction"
            )
    if (
        not problems
        and config.mode != "off"
        and config.max_epsilon is not None
        and aggregator is not None
        and num_hospitals is not None
    ):
        one_round = single_round_epsilon(config, aggregator, num_hospitals)
        if one_round > config.max_epsilon:
            problems.append(
                f"max_epsilon = {config.max_epsilon:g} is below the epsilon of a single "
                f"round ({one_round:.4g} at delta = {config.delta:g}); raise max_epsilon "
                "or noise_multiplier"
            )
    return problems


def single_round_epsilon(config, aggregator: str, num_hospitals: int) -> float:
    """Client-level epsilon after one round, from dp-accounting."""
    from medfed_ray.privacy.accountant import PrivacyLedger
    from medfed_ray.privacy.events import client_round_event, neighboring_relation

    ledger = PrivacyLedger(
        config.accountant,
        config.delta,
        neighboring_relation(config.mode, config.sampling),
    )
    ledger.record(
        client_round_event(
            config.mode,
            config.sampling,
            config.sampling_fraction,
            num_hospitals,
            config.noise_multiplier,
            aggregator,
        )
    )
    return ledger.epsilon()
