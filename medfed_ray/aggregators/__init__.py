"""Aggregation rules: pure numpy functions of an ``(n, d)`` float32 update matrix.

Every rule is a module with an ``aggregate(updates, num_examples, **params)``
function returning an :class:`~medfed_ray.aggregators.base.Aggregate`, and a
``check_params(num_hospitals, num_malicious, **params)`` function returning
every problem with its parameters. No rule imports Ray or TensorFlow, so each
can be tested and benchmarked on its own. Norm bounding is a pre-processing
step that composes with any rule (:mod:`~medfed_ray.aggregators.norm_bounding`).
"""

from __future__ import annotations

from collections.abc import Callable

from medfed_ray.aggregators import (
    centered_clipping,
    fedavg,
    geometric_median,
    krum,
    mean,
    median,
    multi_krum,
    trimmed_mean,
)
from medfed_ray.aggregators.base import Aggregate, Decision

AggregateFn = Callable[..., Aggregate]
ParamChecker = Callable[..., list[str]]

_RULES = {
    "fedavg": fedavg,
    "mean": mean,
    "median": median,
    "trimmed_mean": trimmed_mean,
    "krum": krum,
    "multi_krum": multi_krum,
    "geometric_median": geometric_median,
    "centered_clipping": centered_clipping,
}

AGGREGATORS: dict[str, AggregateFn] = {
    name: module.aggregate for name, module in _RULES.items()
}
"""Rules by the name a scenario uses for them."""

PARAM_CHECKERS: dict[str, ParamChecker] = {
    name: module.check_params for name, module in _RULES.items()
}
"""Each rule's ``check_params``, by the same names as :data:`AGGREGATORS`."""


def _unknown(name: str) -> KeyError:
    choices = ", ".join(sorted(AGGREGATORS))
    return KeyError(f"unknown aggregator {name!r}; choose one of: {choices}")


def get_aggregator(name: str) -> AggregateFn:
    """Return the rule registered as ``name``; raise ``KeyError`` naming the choices."""
    try:
        return AGGREGATORS[name]
    except KeyError:
        raise _unknown(name) from None


def get_param_checker(name: str) -> ParamChecker:
    """Return the ``check_params`` of the rule registered as ``name``.

    Call it as ``checker(num_hospitals, num_malicious, **params)``; it returns
    every problem as a message, an empty list when the rule can run. Raises
    ``KeyError`` naming the choices for an unknown rule.
    """
    try:
        return PARAM_CHECKERS[name]
    except KeyError:
        raise _unknown(name) from None


__all__ = [
    "AGGREGATORS",
    "PARAM_CHECKERS",
    "Aggregate",
    "AggregateFn",
    "Decision",
    "ParamChecker",
    "get_aggregator",
    "get_param_checker",
]
