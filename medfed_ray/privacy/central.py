"""Central noise at the coordinator: DP-FedAvg's noisy sum, or noise after a robust rule.

McMahan, Ramage, Talwar and Zhang, "Learning Differentially Private Recurrent
Language Models", ICLR 2018, Algorithm 1 (the fixed-denominator estimator
``f_f``, with every hospital weighted alike).
https://arxiv.org/abs/1710.06963

With ``fedavg`` or ``mean`` the coordinator returns
``(sum_i clip(u_i) + N(0, (z C)^2 I)) / D`` where ``D`` is the *expected*
number of participants (``N``, ``q N`` or ``m``), never the realised one, so
the noise on the averaged update has standard deviation ``z C / D`` per
coordinate. Example counts are not used: weighting by them would let one
hospital move the sum by more than ``C``. With a rule from
:data:`~medfed_ray.privacy.events.HULL_RULES` the rule runs on the clipped
updates and ``N(0, (z C)^2 I)`` is added to its output.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from medfed_ray.aggregators import Aggregate, Decision
from medfed_ray.privacy.clipping import clip_rows
from medfed_ray.privacy.events import HULL_RULES, SUM_RULES
from medfed_ray.privacy.noise import NoiseSource


def central_aggregate(
    updates: np.ndarray,
    num_examples: np.ndarray,
    rule_name: str,
    rule: Callable[..., Aggregate],
    params: dict,
    *,
    clip_norm: float,
    noise_multiplier: float,
    denominator: float,
    noise: NoiseSource,
    size: int,
) -> Aggregate:
    """Aggregate ``updates`` (``(n, d)``, ``n`` may be 0) with central Gaussian noise."""
    clipped = clip_rows(updates, clip_norm)
    std = noise_multiplier * clip_norm
    n = clipped.shape[0]

    if rule_name in SUM_RULES:
        total = clipped.sum(axis=0, dtype=np.float64)
        noisy = (total + noise.normal(std, size)) / denominator
        return Aggregate(
            noisy.astype(np.float32),
            tuple(Decision.SELECTED for _ in range(n)),
            np.full(n, 1.0 / denominator),
        )
    if rule_name in HULL_RULES:
        if n == 0:
            return Aggregate(noise.normal(std, size), (), np.zeros(0))
        outcome = rule(clipped, num_examples, **params)
        noisy = outcome.update.astype(np.float64) + noise.normal(std, size)
        return Aggregate(
            noisy.astype(np.float32), outcome.decisions, outcome.contribution
        )
    raise ValueError(central_rule_problem(rule_name))


def central_rule_problem(rule_name: str) -> str:
    """Why central noise cannot follow ``rule_name`` (empty if it can)."""
    if rule_name in SUM_RULES or rule_name in HULL_RULES:
        return ""
    return (
        f"mode 'central' cannot add noise after aggregator {rule_name!r}: its output "
        "can move by more than 2 x clip_norm when one hospital's update changes, so "
        "no sensitivity bound backs the noise. Use aggregator "
        f"{', '.join(repr(name) for name in (*SUM_RULES, *HULL_RULES))}, "
        "or privacy mode 'local'"
    )
