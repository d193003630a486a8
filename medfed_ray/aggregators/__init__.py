"""Aggregation rules: pure numpy functions of an ``(n, d)`` float32 update matrix.

Every rule is a module with an ``aggregate(updates, num_examples, **params)``
function returning an :class:`~medfed_ray.aggregators.base.Aggregate`. No rule
imports Ray or TensorFlow, so each can be tested and benchmarked on its own.
"""

from __future__ import annotations

from collections.abc import Callable

from medfed_ray.aggregators import fedavg, mean, median
from medfed_ray.aggregators.base import Aggregate, Decision

AggregateFn = Callable[..., Aggregate]

AGGREGATORS: dict[str, AggregateFn] = {
    "fedavg": fedavg.aggregate,
    "mean": mean.aggregate,
    "median": median.aggregate,
}
"""Rules by the name a scenario uses for them."""


def get_aggregator(name: str) -> AggregateFn:
    """Return the rule registered as ``name``; raise ``KeyError`` naming the choices."""
    try:
        return AGGREGATORS[name]
    except KeyError:
        choices = ", ".join(sorted(AGGREGATORS))
        raise KeyError(
            f"unknown aggregator {name!r}; choose one of: {choices}"
        ) from None


__all__ = ["AGGREGATORS", "Aggregate", "AggregateFn", "Decision", "get_aggregator"]
