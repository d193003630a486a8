"""Norm bounding: scale every update down to at most a fixed L2 norm before aggregating.

Sun, Kairouz, Suresh and McMahan, "Can You Really Backdoor Federated
Learning?", 2019. https://arxiv.org/abs/1911.07963

Bounding the norms limits how far any one hospital can pull the aggregate. It
is a pre-processing step rather than a rule: :func:`bound_norms` returns a new
matrix that any rule can aggregate, and :func:`aggregate_bounded` does both and
records the scaled rows in the decisions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from medfed_ray.aggregators.base import (
    Aggregate,
    Decision,
    block_width,
    check_updates,
    map_blocks,
)
from medfed_ray.aggregators.params import is_finite_real, raise_problems, unknown_params

PARAMS = ("max_norm",)

NORM_BLOCK_BYTES = 2 << 20
"""Bytes of one float64 block copy while summing squares; it stays in L2."""


@dataclass(frozen=True)
class BoundedUpdates:
    """An update matrix after norm bounding.

    Parameters
    ----------
    updates : numpy.ndarray
        A new float32 ``(n, d)`` matrix; rows within the bound are exact copies.
    down_weighted : numpy.ndarray
        bool of shape ``(n,)``: the rows that were scaled down.
    norms : numpy.ndarray
        float64 of shape ``(n,)``: every row's L2 norm before bounding.
    """

    updates: np.ndarray
    down_weighted: np.ndarray
    norms: np.ndarray = field(repr=False)


def row_norms(updates: np.ndarray) -> np.ndarray:
    """Return each row's L2 norm, summed in float64 so that 1e38-sized values fit."""
    n, d = updates.shape

    def squares(start: int, stop: int) -> np.ndarray:
        block = updates[:, start:stop].astype(np.float64)
        return np.einsum("ij,ij->i", block, block)

    total = np.zeros(n, dtype=np.float64)
    for partial in map_blocks(squares, d, block_width(n, NORM_BLOCK_BYTES)):
        total += partial
    return np.sqrt(total)


def bound_norms(updates: np.ndarray, max_norm: float) -> BoundedUpdates:
    """Return ``updates`` with every row scaled to an L2 norm of at most ``max_norm``.

    A row longer than ``max_norm`` is multiplied by ``max_norm / norm`` (in
    float64, then rounded to float32, so its new norm may exceed ``max_norm``
    by float32 rounding, a relative ``1e-7``). ``updates`` is only read.

    Raises
    ------
    ValueError
        If ``max_norm`` is not a finite number ``> 0``.
    """
    check_updates(updates)
    raise_problems(_problems(max_norm))
    norms = row_norms(updates)
    down_weighted = norms > max_norm

    bounded = updates.copy()
    for row in np.flatnonzero(down_weighted):
        scaled = updates[row].astype(np.float64) * (max_norm / norms[row])
        bounded[row] = scaled
    return BoundedUpdates(bounded, down_weighted, norms)


def aggregate_bounded(
    aggregate_fn: Callable[..., Aggregate],
    updates: np.ndarray,
    num_examples: np.ndarray | None,
    *,
    max_norm: float,
    **params: object,
) -> Aggregate:
    """Bound the norms of ``updates``, then aggregate them with ``aggregate_fn``.

    A row the rule selected but norm bounding scaled down is recorded as
    down-weighted; the rule's other decisions stand, since a trimmed or
    rejected row is already reported as such. Contributions are the rule's.
    """
    bounded = bound_norms(updates, max_norm)
    result = aggregate_fn(bounded.updates, num_examples, **params)
    decisions = tuple(
        Decision.DOWN_WEIGHTED if scaled and decision == Decision.SELECTED else decision
        for decision, scaled in zip(
            result.decisions, bounded.down_weighted, strict=True
        )
    )
    return Aggregate(result.update, decisions, result.contribution)


def check_params(
    num_hospitals: int, num_malicious: int, /, **params: object
) -> list[str]:
    """Return every problem with the norm-bounding ``params``."""
    problems = unknown_params("norm_bounding", params, PARAMS)
    if "max_norm" not in params:
        return problems + ["norm_bounding needs max_norm > 0; none given"]
    return problems + _problems(params["max_norm"])


def _problems(max_norm: object) -> list[str]:
    if not is_finite_real(max_norm) or max_norm <= 0:
        return [f"norm_bounding needs max_norm > 0; found max_norm={max_norm!r}"]
    return []
